/**
 * The CPU a lone packet costs, thread by thread, as the gap between packets grows: the tool
 * behind the README's "a lone packet finds everything cold". For each forwarder it builds the
 * benchmark's lab, warms the pair with 2000 pings 1 ms apart, then sends `--pings` pings at each
 * interval of `--intervals` and reads every thread's runtime (`/proc/<pid>/task/<tid>/schedstat`)
 * before and after: µs of CPU per ping (a request A → B and its reply), per thread and in all.
 *
 *   deno run -A bench/lone.ts [--only cfwd,denofwd,stf] [--intervals 100,30,10,2,1] [--pings 150]
 *     [--rounds N [--settle M]]
 *
 * A row `stf@/path/to/main.ts` runs another checkout's stf (a before/after pair), a row
 * `stf~--batch~1` stf with flags (`~` between the words of `stf run`'s command line), a row
 * `stf^--v8-flag` stf with V8 flags added to its own (`^` before each). With `--rounds N` the
 * rows run side by side and their bursts are interleaved, N rounds over (`interleaved`): the way to
 * compare two builds, as the machine drifts by 10–30 % from minute to minute. The intervals
 * run from the longest down, after a 2 s pause: the first interval measured straight after the
 * warm-up read high for every forwarder (cfwd 435 µs per ping at 2 ms first, 146 after 100 ms).
 * `--settle M` runs M rounds more first and leaves them out: stf's first rounds hold the
 * Workers' TurboFan compilations (a burst of 700–1200 µs per ping, against 300–400 after).
 *
 * It is a measurement, not a test; it needs root, `ip netns`, ping and gcc (for cfwd).
 *
 * @module
 */
import {
  B_TUNNEL_IPV6,
  BenchLab,
  type ForwarderSpec,
  type RunningForwarder,
  startForwarder,
} from "./_topology.ts";
import { median } from "./_stats.ts";
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

/** A comma-separated option as a list, `fallback` when it is absent. */
export function parseList(text: string | undefined, fallback: string): string[] {
  return (text ?? fallback).split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * A row of `--only` as a forwarder: `stf@/path/main.ts` another checkout, `stf~--flag~value`
 * flags for `stf run`, `stf^--v8-flag` V8 flags added to stf's own.
 */
export function rowSpec(name: string): ForwarderSpec {
  const [command, ...v8Flags] = name.split("^");
  const [head, ...flags] = command.split("~");
  const [kind, main] = head.split("@");
  return {
    name,
    kind: kind as ForwarderSpec["kind"],
    flags,
    ...(v8Flags.length === 0 ? {} : { v8Flags }),
    ...(main === undefined ? {} : { main }),
  };
}

/** 2000 pings 1 ms apart through a fresh forwarder (V8 optimises stf's path there). */
export async function warmUp(lab: BenchLab): Promise<void> {
  await lab.a.run`ping -q -c 2000 -i 0.001 ${B_TUNNEL_IPV6}`.quiet().noThrow();
}

/** µs of CPU per ping of every thread of `fwd`'s processes over `pings` pings `interval` ms apart. */
async function burst(
  lab: BenchLab,
  fwd: RunningForwarder,
  interval: number,
  pings: number,
): Promise<{ threads: string[]; total: number }> {
  const pids = fwd.processes.map((p) => p.pid);
  const before = pids.map(threads);
  await lab.a.run`ping -q -c ${pings} -i ${interval / 1000} ${B_TUNNEL_IPV6}`.quiet();
  return perPing(before, pids.map(threads), pings);
}

/** A row of `--rounds`: its lab, and its forwarder once started. */
interface LabRow {
  readonly name: string;
  readonly lab: BenchLab;
  fwd?: RunningForwarder;
}

/**
 * `--rounds N`: every row's lab and forwarder run side by side, and bursts of `pings` pings go
 * through each row in turn, interval by interval, N rounds over. A slow drift of the machine
 * (another VM on the host, say) then falls on every row alike, where one row after the other
 * would put it on one of them. Prints the mean and the median per ping of each row and the
 * ratio of its median to the first row's.
 */
async function interleaved(
  rows: readonly string[],
  intervals: readonly number[],
  pings: number,
  rounds: number,
  options: { readonly cfwdBinary?: string; readonly stfMain: string; readonly settle?: number },
): Promise<void> {
  const settle = options.settle ?? 0;
  const labs: LabRow[] = [];
  try {
    for (const name of rows) {
      const entry: LabRow = { name, lab: await BenchLab.create() };
      labs.push(entry);
      entry.fwd = await startForwarder(entry.lab, rowSpec(name), options);
      await warmUp(entry.lab);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const samples = labs.map(() => intervals.map(() => [] as number[]));
    for (let round = 0; round < settle + rounds; round++) {
      for (const [i, interval] of intervals.entries()) {
        for (const [r, { lab, fwd }] of labs.entries()) {
          const total = (await burst(lab, fwd!, interval, pings)).total;
          if (round >= settle) samples[r][i].push(total);
        }
      }
    }
    console.log(`| forwarder | ${intervals.map((i) => `${i} ms`).join(" | ")} |`);
    console.log(`| --- | ${intervals.map(() => "---:").join(" | ")} |`);
    for (const [r, { name }] of labs.entries()) {
      const cells = samples[r].map((values, i) => {
        const mid = median(values)!;
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        return `${mean.toFixed(0)} (${mid.toFixed(0)}) ${
          (mid / median(samples[0][i])!).toFixed(2)
        }×`;
      });
      console.log(`| ${name} | ${cells.join(" | ")} |`);
    }
    console.log(
      `\nµs of CPU per ping (request and reply), every thread of both ends: mean (median) of ${rounds} bursts of ${pings} pings${
        settle > 0 ? ` (after ${settle} round${settle === 1 ? "" : "s"} left out)` : ""
      }, and the median's ratio to the first row's. Each burst, in order:`,
    );
    // The bursts themselves: a mean far above its median is one burst or two (a recompilation,
    // another VM's work), which the order shows.
    for (const [r, { name }] of labs.entries()) {
      for (const [i, interval] of intervals.entries()) {
        console.log(
          `  ${name} @${interval} ms: ${samples[r][i].map((v) => v.toFixed(0)).join(" ")}`,
        );
      }
    }
  } finally {
    for (const { lab, fwd } of labs) {
      await fwd?.stop();
      await lab[Symbol.asyncDispose]();
    }
  }
}

/**
 * A measuring tool's command line: prints `usage` and exits on `-h`/`--help`; else returns the
 * reader of `--name value` options (`undefined` when absent).
 */
export function toolOptions(
  args: readonly string[],
  usage: string,
): (name: string) => string | undefined {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(usage);
    Deno.exit(0);
  }
  return (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
}

if (import.meta.main) {
  const option = toolOptions(
    Deno.args,
    "Usage: deno run -A bench/lone.ts [--only cfwd,denofwd,stf,stf@MAIN,stf^--v8-flag] [--intervals 100,30,10,2,1] [--pings 150] [--rounds N [--settle M]]",
  );
  const only = parseList(option("--only"), "cfwd,denofwd,stf");
  const intervals = parseList(option("--intervals"), "100,30,10,2,1").map(Number);
  const pings = Number(option("--pings") ?? 150);
  const rounds = option("--rounds");
  const stfMain = new URL("../main.ts", import.meta.url).pathname;
  const tmp = await Deno.makeTempDir({ prefix: "stf-lone-" });
  const cfwd = only.some((row) => row.startsWith("cfwd")) ? await buildCfwd(tmp) : undefined;
  if (cfwd !== undefined && cfwd.binary === undefined) console.error(`cfwd ${cfwd.note}`);
  if (rounds !== undefined) {
    await interleaved(only, intervals, pings, Number(rounds), {
      cfwdBinary: cfwd?.binary,
      stfMain,
      settle: Number(option("--settle") ?? 0),
    });
    await Deno.remove(tmp, { recursive: true });
    Deno.exit(0);
  }
  console.log(`| forwarder | ${intervals.map((i) => `${i} ms`).join(" | ")} |`);
  console.log(`| --- | ${intervals.map(() => "---:").join(" | ")} |`);
  const details: string[] = [];
  for (const name of only) {
    await using lab = await BenchLab.create();
    const fwd = await startForwarder(lab, rowSpec(name), { cfwdBinary: cfwd?.binary, stfMain });
    const cells: string[] = [];
    try {
      await warmUp(lab);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      for (const interval of intervals) {
        const r = await burst(lab, fwd, interval, pings);
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
