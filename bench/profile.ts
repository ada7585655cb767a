/**
 * Where a lone ping's CPU goes, by kind of code and by function: the tool behind the README's
 * "where the time goes" probes. For each forwarder it builds the benchmark's lab, warms the pair
 * as `bench/lone.ts` does (2000 pings 1 ms apart), sends `--pre` pings at the interval so that
 * stf's Workers have made their TurboFan requests, then records both ends' threads with
 * `perf record -e cpu-clock` over `--pings` pings `--interval` ms apart, and prints:
 *
 * - µs of samples per ping by kind: kernel, JIT code, V8's builtins, the rest of the `deno`
 *   binary (V8's runtime, Deno's FFI glue), libc, the forwarder's own binary;
 * - the same by thread name;
 * - the largest JIT functions (every tier and code object of one function summed), V8
 *   builtins and kernel functions;
 * - with two rows or more, the kernel functions where each row spends more than the first.
 *
 *   deno run -A bench/profile.ts [--only cfwd,stf] [--interval 30] [--pings 300] [--pre 400]
 *     [--frequency 10000] [--top 15]
 *
 * Rows are `bench/lone.ts`'s (`stf@/path/main.ts`, `stf~--flag`, `stf^--v8-flag`). stf rows run
 * with `--perf-basic-prof`, so that perf names JIT code with its tier (`~` interpreter, `^`
 * Sparkplug, `+` Maglev, `*` TurboFan). The `deno` binary is stripped: V8's builtins are named
 * through the perf map, which lists them at their addresses in the process, once the embedded
 * blob is found in the binary by its first bytes (read from `/proc/PID/mem`).
 *
 * The sampling itself costs CPU (at 20 kHz perf's totals were 1.7× the runtime `bench/lone.ts`
 * reads), so read the shares and the differences, not the absolute figures. It is a measurement,
 * not a test; it needs root, `ip netns`, ping, perf and gcc (for cfwd).
 *
 * @module
 */
import $ from "dax";
import { B_TUNNEL_IPV6, BenchLab, type RunningForwarder, startForwarder } from "./_topology.ts";
import { buildCfwd } from "./bench.ts";
import { parseList, rowSpec, toolOptions, warmUp } from "./lone.ts";
import {
  builtinEntries,
  builtinNamer,
  CODE_KINDS,
  type CodeKind,
  codeKind,
  findBytes,
  functionName,
  parsePerfReport,
  type PerfRow,
  sumBy,
  top,
} from "./_perf.ts";

/** What one row's recording gave. */
interface Profile {
  readonly name: string;
  readonly rows: PerfRow[];
  readonly builtin: (symbol: string) => string | undefined;
  /** The forwarder's own binary, as perf names its dso (cfwd). */
  readonly program?: string;
  /** A note on what could not be named. */
  readonly note?: string;
}

/** Bytes of the first builtin compared to find the embedded blob in the binary. */
const PROBE_BYTES = 256;

/**
 * Names the V8 builtins of a running stf process: its perf map, the blob's first bytes from its
 * memory, their place in the `deno` binary.
 */
async function namer(
  pid: number,
): Promise<{ builtin: (symbol: string) => string | undefined; note?: string }> {
  const none = (note: string) => ({ builtin: () => undefined, note });
  let map: string;
  try {
    map = await Deno.readTextFile(`/tmp/perf-${pid}.map`);
  } catch {
    return none("no perf map: V8's builtins are counted with the rest of the binary");
  }
  const { base } = builtinEntries(map);
  if (base === undefined) return none("the perf map lists no builtins");
  const head = new Uint8Array(PROBE_BYTES);
  using mem = await Deno.open(`/proc/${pid}/mem`, { read: true });
  await mem.seek(BigInt(base), Deno.SeekMode.Start);
  if ((await mem.read(head)) !== PROBE_BYTES) return none("could not read the builtins' code");
  const binary = await Deno.readFile(await Deno.realPath(`/proc/${pid}/exe`));
  const offset = findBytes(binary, head);
  if (offset < 0) return none("the builtins' code is not in the binary (not embedded?)");
  return { builtin: builtinNamer(map, offset) };
}

/** Records `fwd`'s processes over `pings` pings; returns `perf report`'s rows. */
async function record(
  lab: BenchLab,
  fwd: RunningForwarder,
  options: { interval: number; pings: number; frequency: number; file: string },
): Promise<PerfRow[]> {
  const pids = fwd.processes.map((p) => p.pid).join(",");
  const seconds = (options.interval * options.pings) / 1000 + 0.5;
  const perf =
    $`perf record -q -e cpu-clock -F ${options.frequency} -o ${options.file} -p ${pids} -- sleep ${seconds}`
      .quiet()
      .spawn();
  await new Promise((resolve) => setTimeout(resolve, 300)); // perf attached
  await lab.a.run`ping -q -c ${options.pings} -i ${options.interval / 1000} ${B_TUNNEL_IPV6}`
    .quiet();
  await perf;
  const report =
    await $`perf report -i ${options.file} --stdio --no-children -n --sort comm,dso,sym -t ${"|"}`
      .quiet("stderr")
      .text();
  return parsePerfReport(report);
}

/** µs of samples per ping. */
function perPing(samples: number, frequency: number, pings: number): string {
  return ((samples / frequency / pings) * 1e6).toFixed(1);
}

function printProfile(p: Profile, frequency: number, pings: number, n: number): void {
  const total = p.rows.reduce((a, r) => a + r.samples, 0);
  const us = (s: number) => perPing(s, frequency, pings);
  const kind = (r: PerfRow) => codeKind(r, p.builtin, p.program);
  console.log(`\n## ${p.name}: ${total} samples, ${us(total)} µs per ping`);
  if (p.note !== undefined) console.log(`(${p.note})`);
  const kinds = sumBy(p.rows, kind);
  console.log("\n| kind | µs per ping | share |\n| --- | ---: | ---: |");
  for (const k of CODE_KINDS) {
    const s = kinds.get(k) ?? 0;
    if (s > 0) console.log(`| ${k} | ${us(s)} | ${((100 * s) / total).toFixed(1)} % |`);
  }
  console.log("\nBy thread:");
  for (const [comm, s] of top(sumBy(p.rows, (r) => r.comm), n)) {
    console.log(`  ${us(s).padStart(7)} µs  ${comm}`);
  }
  const list = (title: string, k: CodeKind, name: (r: PerfRow) => string) => {
    const rows = p.rows.filter((r) => kind(r) === k);
    if (rows.length === 0) return;
    console.log(`\n${title}:`);
    for (const [sym, s] of top(sumBy(rows, name), n)) {
      console.log(`  ${us(s).padStart(7)} µs  ${sym}`);
    }
  };
  list("JIT functions (all tiers and code objects summed)", "jit", (r) => functionName(r.symbol));
  list("V8 builtins", "v8-builtin", (r) => p.builtin(r.symbol)!);
  list("Kernel functions", "kernel", (r) => r.symbol);
  list("libc", "libc", (r) => r.symbol);
}

/** The kernel functions where `p` spends more per ping than `base`. */
function printKernelDifference(
  p: Profile,
  base: Profile,
  frequency: number,
  pings: number,
  n: number,
) {
  const kernel = (q: Profile) =>
    sumBy(q.rows.filter((r) => codeKind(r) === "kernel"), (r) => r.symbol);
  const a = kernel(p);
  const b = kernel(base);
  const diff = new Map<string, number>();
  for (const sym of new Set([...a.keys(), ...b.keys()])) {
    diff.set(sym, (a.get(sym) ?? 0) - (b.get(sym) ?? 0));
  }
  const more = [...a.values()].reduce((x, y) => x + y, 0) -
    [...b.values()].reduce((x, y) => x + y, 0);
  console.log(
    `\n## Kernel, ${p.name} against ${base.name}: ${
      perPing(more, frequency, pings)
    } µs per ping more in all`,
  );
  for (const [sym, s] of top(diff, n)) {
    if (s <= 0) break;
    console.log(
      `  ${perPing(s, frequency, pings).padStart(7)} µs  ${sym} (${
        perPing(a.get(sym) ?? 0, frequency, pings)
      } against ${perPing(b.get(sym) ?? 0, frequency, pings)})`,
    );
  }
}

if (import.meta.main) {
  const option = toolOptions(
    Deno.args,
    "Usage: deno run -A bench/profile.ts [--only cfwd,stf] [--interval 30] [--pings 300] [--pre 400] [--frequency 10000] [--top 15]",
  );
  const only = parseList(option("--only"), "cfwd,stf");
  const interval = Number(option("--interval") ?? 30);
  const pings = Number(option("--pings") ?? 300);
  const pre = Number(option("--pre") ?? 400);
  const frequency = Number(option("--frequency") ?? 10_000);
  const n = Number(option("--top") ?? 15);
  const stfMain = new URL("../main.ts", import.meta.url).pathname;
  const tmp = await Deno.makeTempDir({ prefix: "stf-profile-" });
  const cfwd = only.some((row) => row.startsWith("cfwd")) ? await buildCfwd(tmp) : undefined;
  if (cfwd !== undefined && cfwd.binary === undefined) console.error(`cfwd ${cfwd.note}`);
  const profiles: Profile[] = [];
  try {
    for (const [i, name] of only.entries()) {
      const spec = rowSpec(name);
      const stf = spec.kind === "stf";
      await using lab = await BenchLab.create();
      const fwd = await startForwarder(
        lab,
        stf ? { ...spec, v8Flags: [...(spec.v8Flags ?? []), "--perf-basic-prof"] } : spec,
        { cfwdBinary: cfwd?.binary, stfMain },
      );
      const pids = fwd.processes.map((p) => p.pid);
      try {
        await warmUp(lab);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        if (pre > 0) {
          await lab.a.run`ping -q -c ${pre} -i ${interval / 1000} ${B_TUNNEL_IPV6}`.quiet()
            .noThrow();
        }
        const rows = await record(lab, fwd, {
          interval,
          pings,
          frequency,
          file: `${tmp}/${i}.data`,
        });
        const named = stf ? await namer(pids[0]) : { builtin: () => undefined };
        profiles.push({ name, rows, ...named, program: spec.kind === "cfwd" ? "cfwd" : undefined });
      } finally {
        await fwd.stop();
        for (const pid of pids) await Deno.remove(`/tmp/perf-${pid}.map`).catch(() => {});
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  console.log(
    `# ${pings} pings ${interval} ms apart (after ${pre} more and the warm-up), cpu-clock at ${frequency} Hz, every thread of both ends`,
  );
  for (const p of profiles) printProfile(p, frequency, pings, n);
  for (const p of profiles.slice(1)) printKernelDifference(p, profiles[0], frequency, pings, n);
}
