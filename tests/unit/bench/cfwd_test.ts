/**
 * bench/cfwd.c, the benchmark's naive C forwarder: it builds warning-free with the flags the
 * benchmark uses, and keeps the command line the benchmark calls it with
 * (`cfwd IFNAME PEER_V4`). Forwarding itself needs root and a TUN: `deno task bench` runs it.
 */
import assert from "node:assert/strict";

const SOURCE = new URL("../../../bench/cfwd.c", import.meta.url).pathname;
const hasGcc = new Deno.Command("sh", { args: ["-c", "command -v gcc"] }).outputSync().success;

/** Builds cfwd in a temporary folder, runs `fn` with the binary, removes the folder. */
function withCfwd(fn: (binary: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "stf-cfwd-test-" });
  try {
    const out = new Deno.Command("gcc", {
      args: ["-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", `${dir}/cfwd`, SOURCE],
    }).outputSync();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    fn(`${dir}/cfwd`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function run(binary: string, ...args: string[]): { code: number; stderr: string } {
  const out = new Deno.Command(binary, { args, stdout: "null", stderr: "piped" }).outputSync();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "bench/cfwd.c builds with gcc -O2 -pthread -Wall -Wextra -Werror",
  ignore: !hasGcc,
  fn: () => withCfwd((binary) => assert.ok(Deno.statSync(binary).isFile)),
});

Deno.test({
  name: "cfwd without its two arguments prints its usage and exits 2",
  ignore: !hasGcc,
  fn: () =>
    withCfwd((binary) => {
      for (const args of [[], ["cfwd0"]]) {
        const r = run(binary, ...args);
        assert.equal(r.code, 2);
        assert.equal(r.stderr, "usage: cfwd IFNAME PEER_V4\n");
      }
    }),
});

Deno.test({
  name: "cfwd refuses a peer that is not an IPv4 address, before opening anything",
  ignore: !hasGcc,
  fn: () =>
    withCfwd((binary) => {
      const r = run(binary, "cfwd0", "2001:db8::1");
      assert.equal(r.code, 2);
      assert.match(r.stderr, /"2001:db8::1" is not an IPv4 address/);
    }),
});
