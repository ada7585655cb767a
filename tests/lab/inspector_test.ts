/**
 * SIGUSR1 opens no debugger. Deno (since 2.9.2) starts an unauthenticated V8 inspector on
 * 127.0.0.1:9229 when a process receives SIGUSR1; in a root stf that would let any local user
 * run code as root. stf ignores SIGUSR1 (lib/inspector_guard.ts) and prints its counters on
 * SIGUSR2. Checked for each way stf is started: `deno run` with stf's flags (as the lab and the
 * benchmark do), `deno task stf`, the launcher `deno task install` writes, and the single
 * executable when `DENORT_BIN` allows building it. Every process in the namespace gets the
 * signal (the `deno task` runner too), twice, and then nothing may listen in the namespace.
 */
import assert from "node:assert/strict";
import $ from "dax";
import { labTest, Netns, ROOT, stfArgv, uniqueName } from "./_lab.ts";
import { LabProcess } from "./_seed.ts";

const OWN_IPV4 = "198.51.100.10";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The TCP sockets listening in the namespace (`ss -ltnp`, header removed). */
async function listeners(ns: Netns): Promise<string[]> {
  const text = await ns.run`ss -Hltnp`.text();
  return text.split("\n").filter((line) => line.trim() !== "");
}

/** Sends `signal` to every process in the namespace. */
async function signalAll(ns: Netns, signal: Deno.Signal): Promise<number> {
  const pids = (await $`ip netns pids ${ns.name}`.text()).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      Deno.kill(Number(pid), signal);
    } catch { /* ended meanwhile */ }
  }
  return pids.length;
}

/**
 * Starts `argv` (an `stf` invocation up to and including `run`'s arguments) in a fresh
 * namespace, sends SIGUSR1 to everything there twice, and checks that nothing listens, no
 * debugger banner was printed, stf still forwards and prints its counters on SIGUSR2.
 */
async function checkSigusr1(label: string, argv: (name: string) => string[]): Promise<void> {
  await using ns = await Netns.create("stfi");
  await ns.run`ip addr add ${OWN_IPV4}/32 dev lo`;
  const name = uniqueName("si");
  await using stf = new LabProcess(ns, argv(name), { label });
  await stf.waitFor(/"message":"Forwarding on /, { timeoutMs: 30_000 });
  assert.deepEqual(await listeners(ns), [], "nothing listens before the signal");
  // Deno arms its SIGUSR1 handler 500 ms after start: signal once soon after forwarding
  // begins and once well after.
  assert.ok(await signalAll(ns, "SIGUSR1") >= 1);
  await sleep(1_500);
  assert.ok(await signalAll(ns, "SIGUSR1") >= 1);
  await sleep(1_000);
  assert.deepEqual(await listeners(ns), [], `nothing listens after SIGUSR1:\n${stf.output()}`);
  assert.doesNotMatch(stf.stderr, /Debugger listening/);
  assert.equal(stf.status, undefined, `stf is still running:\n${stf.output()}`);
  const from = stf.stdout.length;
  stf.signal("SIGUSR2");
  await stf.waitFor(/"event":"counters\.stats"/, { stream: "stdout", from });
  const { status, killed } = await stf.stop("SIGTERM", 5_000);
  assert.equal(killed, false);
  assert.equal(status.code, 0, stf.output());
}

function runArgs(name: string): string[] {
  return ["run", "--name", name, "--ipv4", OWN_IPV4, "--log-format", "json"];
}

labTest("SIGUSR1 opens no inspector in stf started with deno run and stf's flags", async () => {
  await checkSigusr1("deno run", (name) => stfArgv(...runArgs(name)));
});

labTest("SIGUSR1 opens no inspector in stf started by deno task stf", async () => {
  await checkSigusr1(
    "deno task stf",
    (name) => [Deno.execPath(), "task", "--config", `${ROOT}deno.json`, "stf", ...runArgs(name)],
  );
});

labTest("SIGUSR1 opens no inspector in stf started by the installed launcher", async () => {
  const root = await Deno.makeTempDir({ prefix: "stf-install-" });
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--config", `${ROOT}deno.json`, "install"],
      env: { DENO_INSTALL_ROOT: root },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(install.success, new TextDecoder().decode(install.stderr));
    await checkSigusr1("installed stf", (name) => [`${root}/bin/stf`, ...runArgs(name)]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "SIGUSR1 opens no inspector in the single executable (needs DENORT_BIN)",
  ignore: Deno.env.get("DENORT_BIN") === undefined || Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "stf-compile-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--config", `${ROOT}deno.json`, "compile", "--output", `${dir}/stf`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      await checkSigusr1("compiled stf", (name) => [`${dir}/stf`, ...runArgs(name)]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

labTest("a privileged stf refuses to start with the inspector open (--inspect)", async () => {
  await using ns = await Netns.create("stfi");
  // Port 0: the kernel picks a free port in the test's own namespace.
  const argv = [Deno.execPath(), "run", "-A", "--inspect=127.0.0.1:0", `${ROOT}main.ts`];
  const out = await ns.run`${argv} prefix 192.0.2.1`.noThrow().stdout("piped").stderr("piped");
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, /^Error: Refusing to run with privileges while the V8 inspector/m);
  assert.equal(out.stdout, "");
});
