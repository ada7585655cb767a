/**
 * `deno task soak`: two 6to4 sites in network namespaces, each running `stf run`, with a
 * fixed-rate UDP load (iperf3) from A to B through the tunnel for `--duration` seconds. Every
 * `--sample` seconds it samples the resident memory (`VmRSS`) and the open file descriptors
 * (`/proc/<pid>/fd`) of both stf processes and their counters (SIGUSR2). At the end it checks:
 * memory flat (the median of the last quarter within `--rss-tolerance` of the first quarter's,
 * the first `--warmup` seconds left out: JIT and buffers settle there), descriptors constant,
 * counters consistent (every packet A's egress sent is accounted for at B's ingress, nothing
 * dropped by a rule, no I/O error), and both processes exit 0 on SIGTERM. Prints a table and
 * writes JSON results (default `bench-results-soak.json`, git-ignored).
 *
 * ```sh
 * deno task soak [--duration 600] [--rate 10000] [--sample 5] [--warmup 20]
 *   [--rss-tolerance 0.10] [--out bench-results-soak.json]
 * ```
 *
 * Needs root, `ip netns` and iperf3. The defaults move 6 million packets (10 000/s for 600 s).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { labUnavailableReason } from "../tests/lab/_lab.ts";
import type { CounterSnapshot, DirectionCounters } from "../lib/dataplane/mod.ts";
import { LabProcess } from "../tests/lab/_seed.ts";
import { B_STF, buildTwoSites, sleep, startBoth } from "../tests/lab/_two_sites.ts";
import { rawSocketDrops } from "../tests/lab/_hostile.ts";

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Seconds of load. */
  readonly durationSeconds: number;
  /** UDP packets per second from A to B. */
  readonly rate: number;
  /** Seconds between samples. */
  readonly sampleSeconds: number;
  /** Seconds left out of the memory comparison at the start. */
  readonly warmupSeconds: number;
  /** The largest relative difference of the RSS medians (last vs first quarter). */
  readonly rssTolerance: number;
  /** Print progress lines. */
  readonly verbose?: boolean;
}

/** One sample of both processes. */
export interface SoakSample {
  /** Seconds since the load started. */
  readonly t: number;
  /** VmRSS of A and B, kB. */
  readonly rssKb: readonly [number, number];
  /** Open fds of A and B. */
  readonly fds: readonly [number, number];
  /** Packets A's egress forwarded so far, and B's ingress. */
  readonly packets: readonly [number, number];
}

/** What a soak measured and concluded. */
export interface SoakResult {
  readonly options: SoakOptions;
  readonly samples: readonly SoakSample[];
  /** Final counters of A and B. */
  readonly final: readonly [CounterSnapshot, CounterSnapshot];
  /** Packets A sent into the tunnel (egress forwarded). */
  readonly packetsThroughTunnel: number;
  /** Packets B's kernel dropped at stf's protocol-41 socket (receive buffer full). */
  readonly socketDrops: number;
  /** Median RSS, kB, of the first and last quarter, per process. */
  readonly rssMedianKb: { readonly first: [number, number]; readonly last: [number, number] };
  /** Relative RSS growth per process (last / first − 1). */
  readonly rssGrowth: [number, number];
  /** The distinct fd counts seen after the warm-up, per process. */
  readonly fdCounts: [number[], number[]];
  /** Each check, with whether it passed. */
  readonly checks: readonly {
    readonly name: string;
    readonly ok: boolean;
    readonly detail: string;
  }[];
  /** Whether every check passed. */
  readonly ok: boolean;
}

function statusKb(pid: number, field: string): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const line = text.split("\n").find((l) => l.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1] ?? NaN);
}

function fdCount(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function dropped(c: DirectionCounters): number {
  return Object.values(c.dropped).reduce((a, b) => a + b, 0);
}

/**
 * Runs a soak and returns the measurements and the checks (does not throw on a failed check).
 *
 * @param options duration, rate, sampling and tolerance
 * @throws {Error} when the lab cannot be built or a process fails to start
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = (line: string) => options.verbose && console.error(line);
  await using sites = await buildTwoSites();
  const [a, b] = await startBoth(sites);
  const pids: [number, number] = [a.child.pid, b.child.pid];
  const samples: SoakSample[] = [];
  let final: [CounterSnapshot, CounterSnapshot];
  let socketDrops = 0;
  let server: LabProcess | undefined;
  let client: LabProcess | undefined;
  try {
    server = new LabProcess(sites.b, ["iperf3", "-s", "-1", "--forceflush", "-B", B_STF], {
      label: "iperf3 -s",
    });
    await server.waitFor(/Server listening/, { stream: "stdout" });
    // 64-byte UDP payloads: rate × 512 bit/s. The control connection (TCP) uses the tunnel too.
    client = new LabProcess(sites.a, [
      "iperf3",
      "-6",
      "-c",
      B_STF,
      "-u",
      "-l",
      "64",
      "-b",
      `${options.rate * 64 * 8}`,
      "-t",
      `${options.durationSeconds}`,
      "--pacing-timer",
      "1000",
      "-J",
    ], { label: "iperf3 -c" });
    const start = performance.now();
    const end = start + options.durationSeconds * 1000;
    while (performance.now() < end && client.status === undefined) {
      await sleep(Math.min(options.sampleSeconds * 1000, Math.max(0, end - performance.now())));
      const [ca, cb] = await Promise.all([a.counters(), b.counters()]);
      const sample: SoakSample = {
        t: (performance.now() - start) / 1000,
        rssKb: [statusKb(pids[0], "VmRSS"), statusKb(pids[1], "VmRSS")],
        fds: [fdCount(pids[0]), fdCount(pids[1])],
        packets: [ca.egress.packets, cb.ingress.packets],
      };
      samples.push(sample);
      log(
        `t=${sample.t.toFixed(0)}s rss=${sample.rssKb.join("/")} kB fds=${sample.fds.join("/")} ` +
          `packets=${sample.packets.join("/")}`,
      );
    }
    await client.stop("SIGCONT", 30_000); // wait for iperf3 to finish by itself
    await sleep(1_000);
    // Packets the kernel dropped at B's protocol-41 socket (receive buffer full in a burst).
    socketDrops = (await rawSocketDrops(sites.b)).reduce((x, y) => x + y, 0);
    final = [await a.finish(), await b.finish()];
  } finally {
    await client?.stop("SIGKILL", 2_000);
    await server?.stop("SIGKILL", 2_000);
    await a.stop("SIGKILL", 2_000);
    await b.stop("SIGKILL", 2_000);
  }
  return evaluate(options, samples, final, socketDrops);
}

function evaluate(
  options: SoakOptions,
  samples: readonly SoakSample[],
  final: [CounterSnapshot, CounterSnapshot],
  socketDrops: number,
): SoakResult {
  const steady = samples.filter((s) => s.t >= options.warmupSeconds);
  const quarter = Math.max(1, Math.floor(steady.length / 4));
  const firstQ = steady.slice(0, quarter);
  const lastQ = steady.slice(-quarter);
  const med = (set: readonly SoakSample[], i: 0 | 1) => median(set.map((s) => s.rssKb[i]));
  const first: [number, number] = [med(firstQ, 0), med(firstQ, 1)];
  const last: [number, number] = [med(lastQ, 0), med(lastQ, 1)];
  const growth: [number, number] = [last[0] / first[0] - 1, last[1] / first[1] - 1];
  const fdCounts: [number[], number[]] = [
    [...new Set(steady.map((s) => s.fds[0]))],
    [...new Set(steady.map((s) => s.fds[1]))],
  ];
  const [fa, fb] = final;
  const sent = fa.egress.packets;
  const arrived = fb.ingress.packets + dropped(fb.ingress) + fb.ingress.ioErrors;
  const checks = [
    {
      name: "enough samples",
      ok: steady.length >= 4,
      detail: `${steady.length} samples after the warm-up`,
    },
    {
      name: "RSS flat (A)",
      ok: Math.abs(growth[0]) <= options.rssTolerance,
      detail: `${first[0]} → ${last[0]} kB (${(growth[0] * 100).toFixed(1)}%)`,
    },
    {
      name: "RSS flat (B)",
      ok: Math.abs(growth[1]) <= options.rssTolerance,
      detail: `${first[1]} → ${last[1]} kB (${(growth[1] * 100).toFixed(1)}%)`,
    },
    {
      name: "fds constant",
      ok: fdCounts[0].length === 1 && fdCounts[1].length === 1,
      detail: `A ${fdCounts[0].join(",")}; B ${fdCounts[1].join(",")}`,
    },
    {
      name: "A egress = B ingress",
      // The kernel may drop a few at B's socket in bursts (counted in /proc/net/raw); none may
      // appear from nowhere.
      ok: arrived + socketDrops === sent || (arrived <= sent && arrived >= sent * 0.999),
      detail: `${sent} sent by A, ${arrived} handled by B (${fb.ingress.packets} forwarded), ` +
        `${socketDrops} dropped by B's kernel at the socket`,
    },
    {
      name: "B egress = A ingress",
      ok: fa.ingress.packets + dropped(fa.ingress) <= fb.egress.packets &&
        fa.ingress.packets >= fb.egress.packets * 0.999,
      detail: `${fb.egress.packets} sent by B, ${fa.ingress.packets} forwarded by A`,
    },
    {
      name: "no rule drop, no I/O error",
      ok: dropped(fb.ingress) === 0 && fa.egress.ioErrors === 0 && fb.ingress.ioErrors === 0,
      detail: `B ingress drops ${dropped(fb.ingress)}, A egress drops ${dropped(fa.egress)}, ` +
        `I/O errors ${fa.egress.ioErrors}/${fb.ingress.ioErrors}`,
    },
    {
      name: "packets moved",
      ok: sent >= options.rate * options.durationSeconds * 0.9,
      detail: `${sent} of ${options.rate * options.durationSeconds} offered`,
    },
  ];
  return {
    options,
    samples,
    final,
    packetsThroughTunnel: sent,
    socketDrops,
    rssMedianKb: { first, last },
    rssGrowth: growth,
    fdCounts,
    checks,
    ok: checks.every((c) => c.ok),
  };
}

/** Formats the checks as a Markdown table. */
export function formatSoak(result: SoakResult): string {
  const lines = [
    `soak: ${result.options.durationSeconds} s at ${result.options.rate} packets/s, ` +
    `${result.packetsThroughTunnel} packets through the tunnel, ${result.samples.length} samples`,
    "",
    "| check | result | detail |",
    "| --- | --- | --- |",
    ...result.checks.map((c) => `| ${c.name} | ${c.ok ? "ok" : "FAILED"} | ${c.detail} |`),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      duration: { type: "string", default: "600" },
      rate: { type: "string", default: "10000" },
      sample: { type: "string", default: "5" },
      warmup: { type: "string", default: "20" },
      "rss-tolerance": { type: "string", default: "0.10" },
      out: { type: "string", default: "bench-results-soak.json" },
    },
  });
  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) {
    console.error(`Cannot run the soak: ${unavailable}`);
    Deno.exit(2);
  }
  const result = await runSoak({
    durationSeconds: Number(values.duration),
    rate: Number(values.rate),
    sampleSeconds: Number(values.sample),
    warmupSeconds: Number(values.warmup),
    rssTolerance: Number(values["rss-tolerance"]),
    verbose: true,
  });
  console.log(formatSoak(result));
  await Deno.writeTextFile(values.out!, JSON.stringify(result, null, 2) + "\n");
  console.log(`\nresults: ${values.out}`);
  Deno.exit(result.ok ? 0 : 1);
}
