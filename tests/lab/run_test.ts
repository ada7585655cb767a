/**
 * `stf run`'s lifecycle in a namespace: a TUN created for the run and removed after it, or the
 * one `stf up` made attached and left as it was; SIGTERM within a second; SIGHUP reloads a
 * good configuration and keeps the old one when the new one is broken.
 */
import assert from "node:assert/strict";
import { labRunFlags, labTest, Netns, stfArgv } from "./_lab.ts";

interface Running {
  child: Deno.ChildProcess;
  stdout: Promise<string>;
  stderr: Promise<string>;
  /** The stderr seen so far. */
  log: () => string;
}

function start(ns: Netns, ...args: string[]): Running {
  const argv = ns.exec(...stfArgv("run", ...args, ...labRunFlags()));
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const stderr = (async () => {
    for await (const chunk of child.stderr) log += decoder.decode(chunk, { stream: true });
    return log;
  })();
  return { child, stdout: new Response(child.stdout).text(), stderr, log: () => log };
}

async function waitFor(what: string, probe: () => Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function hasStf0(ns: Netns, address?: string): Promise<boolean> {
  const out = await ns.run`ip -j addr show dev stf0`.noThrow().quiet().stdout("piped");
  if (out.code !== 0) return false;
  const links = JSON.parse(out.stdout) as { addr_info: { local: string }[] }[];
  if (address === undefined) return links.length > 0;
  return links.some((l) => l.addr_info.some((a) => a.local === address));
}

async function stopAndWait(r: Running, signal: Deno.Signal = "SIGTERM") {
  const t0 = performance.now();
  try {
    r.child.kill(signal);
  } catch { /* already exited: its status and output say why */ }
  const status = await r.child.status;
  return { status, ms: performance.now() - t0, stdout: await r.stdout, stderr: await r.stderr };
}

async function site(): Promise<Netns> {
  const ns = await Netns.create("stfrun");
  try {
    await ns.run`ip link add wan0 type veth peer name wan1`;
    await ns.run`ip link set wan1 up`;
    await ns.run`ip link set wan0 up`;
    await ns.run`ip addr add 198.51.100.10/24 dev wan0`;
    return ns;
  } catch (e) {
    await ns[Symbol.asyncDispose](); // removed even when the set-up fails
    throw e;
  }
}

labTest("stf run --mtu on the interface stf up made says what it left changed", async () => {
  await using ns = await site();
  const up = await ns.run`${stfArgv("up", "--ipv4", "198.51.100.10")}`.noThrow().quiet();
  assert.equal(up.code, 0, up.stderr);
  const r = start(ns, "--ipv4", "198.51.100.10", "--mtu", "1400", "--log-format", "json");
  let stderr = "";
  try {
    await waitFor("MTU 1400", async () => {
      const link = await ns.json<{ mtu: number }[]>`ip -j link show stf0`;
      return link[0].mtu === 1400;
    });
  } finally {
    const stopped = await stopAndWait(r);
    stderr = stopped.stderr;
    assert.equal(stopped.status.code, 0, stderr);
  }
  const last = stderr.trim().split("\n").map((l) => JSON.parse(l)).findLast((e) =>
    typeof e.message === "string" && e.message.startsWith("Stopped;")
  );
  assert.ok(last, stderr);
  assert.match(last.message, /left with what this run changed: set MTU of .*stf0.* to 1400/);
  assert.doesNotMatch(last.message, /left as stf up made it/);
  // What it says is what is there.
  assert.equal((await ns.json<{ mtu: number }[]>`ip -j link show stf0`)[0].mtu, 1400);
  const down = await ns.run`${stfArgv("down")}`.noThrow().quiet();
  assert.equal(down.code, 0, down.stderr);
});

labTest(
  "stf run creates stf0 for the run, stops on SIGTERM within a second, removes it",
  async () => {
    await using ns = await site();
    const before = await ns.run`ip -j link`.text();
    const r = start(ns, "--ipv4", "198.51.100.10", "--log-format", "json");
    try {
      await waitFor("stf0", () => hasStf0(ns, "2002:c633:640a::1"));
      const link = await ns.json<{ mtu: number; flags: string[] }[]>`ip -j link show stf0`;
      assert.equal(link[0].mtu, 1480);
      assert.ok(link[0].flags.includes("UP"));
      const routes = await ns.json<
        { dst: string; dev: string }[]
      >`ip -j -6 route get 2002:cb00:7150::1`;
      assert.equal(routes[0].dev, "stf0");
    } finally {
      const { status, ms, stdout } = await stopAndWait(r);
      assert.equal(status.code, 0);
      assert.ok(ms < 1000, `stopped in ${ms.toFixed(0)} ms`);
      const final = stdout.trim().split("\n").map((l) => JSON.parse(l)).find((e) =>
        e.event === "counters.final"
      );
      assert.ok(final, "final counters printed");
      assert.equal(typeof final.egress.dropped["src-not-own"], "number");
    }
    assert.equal(await hasStf0(ns), false, "stf0 removed");
    const after = await ns.run`ip -j link`.text();
    assert.deepEqual(
      JSON.parse(after).map((l: { ifname: string }) => l.ifname),
      JSON.parse(before).map((l: { ifname: string }) => l.ifname),
    );
  },
);

labTest("stf run attaches to the interface stf up made and leaves it as it was", async () => {
  await using ns = await site();
  const up = await ns.run`${stfArgv("up", "--ipv4", "198.51.100.10", "--subnet", "7")}`.noThrow()
    .quiet();
  assert.equal(up.code, 0, up.stderr);
  const state = await ns.run`ip -j addr show dev stf0`.text();
  const r = start(ns, "--ipv4", "198.51.100.10", "--subnet", "7");
  let stderr = "";
  try {
    await waitFor(
      "the forwarder",
      async () => (await ns.run`ip netns pids ${ns.name}`.text()) !== "",
    );
    await new Promise((res) => setTimeout(res, 1500));
  } finally {
    const stopped = await stopAndWait(r);
    stderr = stopped.stderr;
    assert.equal(stopped.status.code, 0, stderr);
  }
  assert.match(stderr, /attached \(made by stf up\)/);
  assert.equal(await ns.run`ip -j addr show dev stf0`.text(), state, "left as stf up made it");
  const down = await ns.run`${stfArgv("down")}`.noThrow().quiet();
  assert.equal(down.code, 0, down.stderr);
  assert.equal(await hasStf0(ns), false);
});

labTest(
  "SIGHUP reloads a good configuration and keeps the old one when the new one is broken",
  async () => {
    await using ns = await site();
    const file = await Deno.makeTempFile({ suffix: ".yaml" });
    try {
      await Deno.writeTextFile(file, "ipv4: 198.51.100.10\nmode: router\n");
      const r = start(ns, "--config", file);
      let out;
      try {
        await waitFor("stf0", () => hasStf0(ns, "2002:c633:640a::1"));
        // Signals of one kind are not queued (POSIX): one sent while another is pending merges
        // with it. So send until the effect shows, as an operator would.
        const reloadUntil = async (pattern: RegExp) => {
          await waitFor(`a log line ${pattern}`, () => {
            if (!pattern.test(r.log())) r.child.kill("SIGHUP");
            return new Promise((res) => setTimeout(() => res(pattern.test(r.log())), 400));
          });
        };
        await Deno.writeTextFile(
          file,
          "ipv4: 198.51.100.10\nmode: return-path\ninterface:\n  mtu: 1400\n",
        );
        await reloadUntil(/Configuration reloaded: mode return-path/);
        const link = await ns.json<{ mtu: number }[]>`ip -j link show stf0`;
        assert.equal(link[0].mtu, 1400, "the interface follows the file's MTU");
        // Since issue 16 a reload may change the interface's address, by the same steps as a
        // new own IPv4 address: the interface is re-addressed, never torn down.
        await Deno.writeTextFile(file, "ipv4: 198.51.100.10\ninterface:\n  subnet: 9\n");
        await waitFor("stf0 with the subnet-9 address", async () => {
          if (await hasStf0(ns, "2002:c633:640a:9::1")) return true;
          r.child.kill("SIGHUP");
          await new Promise((res) => setTimeout(res, 400));
          return false;
        });
        assert.equal(await hasStf0(ns, "2002:c633:640a::1"), false, "the old address removed");
        await Deno.writeTextFile(file, "ipv4: 198.51.100.10\nmode: sideways\n");
        await reloadUntil(/Configuration not reloaded.*sideways/);
        assert.ok(await hasStf0(ns), "the interface is never torn down by a reload");
      } finally {
        out = await stopAndWait(r);
      }
      assert.equal(out.status.code, 0, out.stderr);
      assert.match(out.stderr, /Configuration reloaded: mode return-path/);
      assert.match(
        out.stderr,
        /Configuration not reloaded, the previous one stays in force: .*2:7/,
      );
    } finally {
      await Deno.remove(file);
    }
  },
);
