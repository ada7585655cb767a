import assert from "node:assert/strict";
import { installRoot, PROGRAM_FILES } from "../../../scripts/install.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

Deno.test("installRoot() is DENO_INSTALL_ROOT, else $HOME/.deno, as deno install's own", () => {
  const env = (vars: Record<string, string>) => ({ get: (name: string) => vars[name] });
  assert.equal(installRoot(env({ DENO_INSTALL_ROOT: "/opt/deno/", HOME: "/root" })), "/opt/deno");
  assert.equal(installRoot(env({ HOME: "/home/op" })), "/home/op/.deno");
  assert.throws(() => installRoot(env({})), /set HOME or DENO_INSTALL_ROOT/);
});

Deno.test({
  name: "the launcher deno task install writes keeps working after the checkout is removed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "stf-install-test-" });
    try {
      const checkout = `${work}/checkout`;
      await Deno.mkdir(checkout);
      for (const file of [...PROGRAM_FILES, "scripts"]) {
        const cp = await new Deno.Command("cp", { args: ["-r", `${ROOT}${file}`, `${checkout}/`] })
          .output();
        assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
      }
      const install = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--config", `${checkout}/deno.json`, "install"],
        env: { DENO_INSTALL_ROOT: `${work}/root`, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(install.success, new TextDecoder().decode(install.stderr));
      await Deno.remove(checkout, { recursive: true });
      const run = await new Deno.Command(`${work}/root/bin/stf`, {
        args: ["prefix", "192.0.2.1"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.equal(new TextDecoder().decode(run.stdout), "2002:c000:201::/48\n");
      const launcher = await Deno.readTextFile(`${work}/root/bin/stf`);
      assert.ok(!launcher.includes(ROOT), `the launcher names the checkout:\n${launcher}`);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
