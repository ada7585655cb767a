/**
 * The CPU a lone packet costs, thread by thread, as the gap between packets grows: the tool
 * behind the README's "a lone packet finds everything cold". For each forwarder it builds the
 * benchmark's lab, warms the pair with 2000 pings 1 ms apart, then sends `--pings` pings at each
 * interval of `--intervals` and reads every thread's runtime (`/proc/<pid>/task/<tid>/schedstat`)
 * before and after: µs of CPU per ping (a request A → B and its reply), per thread and in all.
 *
 *   deno run -A bench/lone.ts [--only cfwd,denofwd,stf] [--intervals 100,30,10,2,1] [--pings 150]
 *
 * A row `stf@/path/to/main.ts` runs another checkout's stf (a before/after pair), a row
 * `stf~--batch~1` stf with flags (`~` between the words of `stf run`'s command line), a row
 * `stf^--v8-flag` stf with V8 flags added to its own (`^` before each). The intervals
 * run from the longest down, after a 2 s pause: the first interval measured straight after the
 * warm-up read high for every forwarder (cfwd 435 µs per ping at 2 ms first, 146 after 100 ms).
 *
 * It is a measurement, not a test; it needs root, `ip netns`, ping and gcc (for cfwd).
 *
 * @module
 */
import { B_TUNNEL_IPV6, BenchLab, type ForwarderSpec, startForwarder } from "./_topology.ts";
import { threadRuntimes } from "./_measure.ts";
import { buildCfwd } from "./bench.ts";

/** One thread's runtime, with its name for the report. */
interface ThreadSample {
  readonly key: string;
  readonly name: string;
  /** Runtime, ns. */
  readonly runNs: number;
}

/** Every thread of `pid` and its children. */
function threads(pid: number): ThreadSample[] {
  return threadRuntimes(pid).map((t) => {
    let name = "?";
    try {
      name = Deno.readTextFileSync(`/proc/${t.pid}/task/${t.tid}/comm`).trim();
    } catch { /* the thread ended */ }
    return { key: `${t.pid}/${t.tid}`, name, runNs: t.ns };
  });
}

/** µs per ping of each thread that used at least 0.5 µs per ping, by site; and the total. */
function perPing(
  before: ThreadSample[][],
  after: ThreadSample[][],
  pings: number,
): { threads: string[]; total: number } {
  const lines: string[] = [];
  let total = 0;
  for (const [i, site] of ["A", "B"].entries()) {
    for (const t of after[i]) {
      const b = before[i].find((x) => x.key === t.key);
      if (b === undefined) continue;
      const us = (t.runNs - b.runNs) / 1000 / pings;
      total += us;
      if (us >= 0.5) lines.push(`${site} ${t.name} ${us.toFixed(1)}`);
    }
  }
  return { threads: lines, total };
}

function parseList(text: string | undefined, fallback: string): string[] {
  return (text ?? fallback).split(",").map((s) => s.trim()).filter((s) => s !== "");
}

if (import.meta.main) {
  const args = Deno.args;
  if (args.includes("-h") || args.includes("--help")) {
    console.log(
      "Usage: deno run -A bench/lone.ts [--only cfwd,denofwd,stf,stf@MAIN] [--intervals 100,30,10,2,1] [--pings 150]",
    );
    Deno.exit(0);
  }
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const only = parseList(option("--only"), "cfwd,denofwd,stf");
  const intervals = parseList(option("--intervals"), "100,30,10,2,1").map(Number);
  const pings = Number(option("--pings") ?? 150);
  const stfMain = new URL("../main.ts", import.meta.url).pathname;
  const tmp = await Deno.makeTempDir({ prefix: "stf-lone-" });
  const cfwd = only.includes("cfwd") ? await buildCfwd(tmp) : undefined;
  if (cfwd !== undefined && cfwd.binary === undefined) console.error(`cfwd ${cfwd.note}`);
  console.log(`| forwarder | ${intervals.map((i) => `${i} ms`).join(" | ")} |`);
  console.log(`| --- | ${intervals.map(() => "---:").join(" | ")} |`);
  const details: string[] = [];
  for (const name of only) {
    const [command, ...v8Flags] = name.split("^");
    const [head, ...flags] = command.split("~");
    const [kind, main] = head.split("@");
    const spec: ForwarderSpec = {
      name,
      kind: kind as ForwarderSpec["kind"],
      flags,
      ...(v8Flags.length === 0 ? {} : { v8Flags }),
      ...(main === undefined ? {} : { main }),
    };
    await using lab = await BenchLab.create();
    const fwd = await startForwarder(lab, spec, { cfwdBinary: cfwd?.binary, stfMain });
    const cells: string[] = [];
    try {
      await lab.a.run`ping -q -c 2000 -i 0.001 ${B_TUNNEL_IPV6}`.quiet().noThrow();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      for (const interval of intervals) {
        const pids = fwd.processes.map((p) => p.pid);
        const before = pids.map(threads);
        await lab.a.run`ping -q -c ${pings} -i ${interval / 1000} ${B_TUNNEL_IPV6}`.quiet();
        const after = pids.map(threads);
        const r = perPing(before, after, pings);
        cells.push(r.total.toFixed(1));
        details.push(`${name} @${interval} ms: ${r.threads.join(", ")}`);
      }
    } finally {
      await fwd.stop();
    }
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  await Deno.remove(tmp, { recursive: true });
  console.log(
    "\nµs of CPU per ping (request and reply), every thread of both ends. Per thread:",
  );
  for (const d of details) console.log(`  ${d}`);
}
