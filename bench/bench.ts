/**
 * `deno task bench`: measures stf against native IPv6, a socat pair and the naive C forwarder
 * (`bench/cfwd.c`) in one lab, under identical conditions, and prints the medians
 * and the ratios as Markdown tables: throughput, and the ordinary loads (one-way hop latency
 * idle and at 1 kpps, CPU per packet at fixed rates, idle CPU).
 *
 * ```sh
 * deno run -A bench/bench.ts [--runs 3] [--duration 5] [--only native,socat,cfwd,stf]
 *   [--tests tcp,udp,cpu,hop,ping,idle] [--cpu-kpps 1,10,50] [--udp-bitrate 0]
 *   [--out bench-results.json]
 * ```
 *
 * Needs root, `ip netns`, iperf3, ping, ss and ethtool; socat and gcc for their rows. Extra
 * stf rows (each optimisation switched off) come from `STF_VARIANTS` below and from the
 * environment variable `STF_BENCH_VARIANTS`, a JSON array of `{ "name": "…", "flags": ["…"] }`.
 * `STF_BENCH_MAIN` points at another stf entry point (another checkout's `main.ts`). The
 * `*-uplink-gro` rows run with B's veth merging like a NIC with GRO (`UPLINK_GRO_SPECS`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import $ from "dax";
import { labUnavailableReason } from "../tests/lab/_lab.ts";
import { benchFailover, failoverLine, type FailoverResult } from "./_failover.ts";
import {
  CLOCK_TICKS_PER_SECOND,
  cpuMsPerSecondIntervals,
  cpuPerPacketIntervals,
  formatOrdinaryRatioTable,
  formatOrdinaryTable,
  formatRatioTable,
  formatResultTable,
  median,
  type OrdinaryRow,
  type PingResult,
  quantiles,
  type RatioPair,
  type SummaryRow,
  type TcpResult,
  type UdpResult,
} from "./_stats.ts";
import {
  CpuSampler,
  cpuTicks,
  type HopResult,
  maxStatusKb,
  measureHop,
  measurePing,
  measureTcp,
  measureUdp,
  processTree,
} from "./_measure.ts";
import {
  A_IPV4,
  B_IPV4,
  BenchLab,
  type ForwarderSpec,
  type RunningForwarder,
  StartError,
  startForwarder,
} from "./_topology.ts";

/**
 * stf with one optimisation switched off per row, so that each one's worth shows
 * (`name` is the row, `flags` are added to `stf run`).
 */
export const STF_VARIANTS: readonly { readonly name: string; readonly flags: readonly string[] }[] =
  [
    // One syscall per packet (read/sendmsg, recv/writev): what recvmmsg/sendmmsg bring.
    { name: "stf-batch1", flags: ["--batch", "1"] },
    // No TUN offloads (no TSO segmentation, no GRO): what IFF_VNET_HDR/TUNSETOFFLOAD bring.
    { name: "stf-no-offload", flags: ["--no-offload"] },
    // Two TUN queues, a Worker pair each: what IFF_MULTI_QUEUE brings (or costs) here.
    { name: "stf-queues2", flags: ["--queues", "2"] },
  ];

const BASE_SPECS: readonly ForwarderSpec[] = [
  { name: "native", kind: "native" },
  { name: "socat", kind: "socat" },
  { name: "cfwd", kind: "cfwd" },
  // cfwd's design in Deno (bench/denofwd.ts): what the runtime costs before stf's own code.
  { name: "denofwd", kind: "denofwd" },
  { name: "stf", kind: "stf" },
];

/**
 * Rows in another environment: B's veth merges received packets as a NIC with GRO does
 * (`BenchLab.setUplinkGro`), so the receiving raw socket gets TCP super-packets with a partial
 * checksum. Not in the ratio table: the other rows run on a plain veth.
 */
const UPLINK_GRO_SPECS: readonly ForwarderSpec[] = [
  { name: "cfwd-uplink-gro", kind: "cfwd", uplinkGro: true },
  { name: "stf-uplink-gro", kind: "stf", uplinkGro: true },
];

const UDP_PAYLOAD_BYTES = 64;
const PING_COUNT = 100;
const PAUSE_BETWEEN_TESTS_MS = 300;
/** The hop latency "at 1 kpps": UDP-64 at this rate. */
const HOP_LOADED_PPS = 1000;

/**
 * The groups of tests `--tests` selects: `tcp` (TCP×1, TCP×4), `udp` (UDP-64 flat out), `cpu`
 * (UDP-64 at the fixed rates, CPU per packet), `hop` (one-way hop latency idle and at 1 kpps),
 * `ping` (RTT), `idle` (CPU with no traffic).
 */
export const TEST_GROUPS = ["tcp", "udp", "cpu", "hop", "ping", "idle"] as const;
/** One group of tests. */
export type TestGroup = (typeof TEST_GROUPS)[number];
/** The ordinary-load groups, run for the base rows only unless `--tests` names them. */
const ORDINARY_GROUPS: readonly TestGroup[] = ["cpu", "hop", "idle"];

/** The benchmark's settings, from the command line. */
export interface BenchOptions {
  /** Runs of every forwarder (medians are taken over them). */
  readonly runs: number;
  /** Seconds of each iperf3 test. */
  readonly durationSeconds: number;
  /**
   * Seconds of TCP and of UDP-64 through a freshly started forwarder before its tests, not
   * measured: stf's first second runs while V8 is still optimising its hot path.
   */
  readonly warmUpSeconds: number;
  /** Names of the rows to measure, or `undefined` for all. */
  readonly only: readonly string[] | undefined;
  /** Where the raw results go, as JSON. */
  readonly out: string;
  /** iperf3's `-b` for the UDP test (`0`: as fast as the client can send). */
  readonly udpBitrate: string;
  /** iperf3's `-w` for the UDP tests: both ends' socket buffers (`0`: the system's default). */
  readonly udpBuffer: string;
  /** Packets per second of the fixed-rate UDP test that measures CPU per packet (0: skip). */
  readonly udpFixedPps: number;
  /** The groups of tests to run. */
  readonly tests: readonly TestGroup[];
  /**
   * Whether `--tests` was given. Without it the ordinary-load groups (`cpu`, `hop`, `idle`:
   * about a minute per row and run) run for the base rows only (native, socat, cfwd, denofwd, stf),
   * not for every variant.
   */
  readonly testsGiven?: boolean;
  /** Rates of the CPU-per-packet tests, kpps, ascending (the `cpu` group). */
  readonly cpuKpps: readonly number[];
  /** Pings of the idle hop-latency test (30 ms apart). */
  readonly hopPings: number;
  /** Seconds of the idle-CPU test. */
  readonly idleSeconds: number;
}

const USAGE = `Usage: deno run -A bench/bench.ts [options]

Options:
  --runs N          runs of every forwarder, medians over them (default 3)
  --duration S      seconds of each iperf3 test (default 5)
  --warm-up S       seconds of TCP and of UDP-64 through each freshly started forwarder
                    before its tests, not measured (V8 optimises stf's hot path in its first
                    second); 0 skips it (default 1)
  --only LIST       comma-separated rows: native, socat, cfwd, denofwd, stf, variant names,
                    cfwd-uplink-gro, stf-uplink-gro, and failover (the relay failover
                    time, in a two-relay lab of its own) (default all)
  --udp-bitrate B   iperf3 -b of the 64-byte UDP test, 0 for unlimited (default 0)
  --udp-buffer W    iperf3 -w of the UDP tests: socket buffers of both ends, so that the
                    receiving iperf3 does not drop what the tunnel delivered; 0 keeps the
                    system's default (default 2M; capped by net.core.rmem_max)
  --udp-fixed-kpps K  rate of the UDP-64 test whose CPU µs per packet (clock ticks over the
                    test) fills the main table's column; 0 skips it (default 10)
  --tests LIST      comma-separated groups of tests: tcp, udp, cpu, hop, ping, idle (default
                    all, with cpu, hop and idle for the base rows only);
                    e.g. --tests hop,cpu,idle for the ordinary loads alone, on every row
  --cpu-kpps LIST   rates of the UDP-64 tests that measure CPU µs per packet per 1 s interval
                    (both ends, /proc/<pid>/task/*/schedstat); the group cpu (default 1,10,50)
  --hop-pings N     pings, 30 ms apart, through which the idle hop latency is measured
                    (tcpdump on both tunnel interfaces); the group hop (default 200)
  --idle-seconds S  seconds of the idle-CPU test, no traffic; the group idle (default 20)
  --out FILE        raw results as JSON (default bench-results.json)
  -h, --help        this text

Environment:
  STF_BENCH_VARIANTS  extra stf rows, e.g. '[{"name":"stf-no-batch","flags":["--no-batch"]}]';
                      a "main" runs another checkout's main.ts in that row (a before/after
                      pair of builds in one invocation, interleaved); "v8Flags" adds V8
                      flags to stf's own (e.g. ["--single-threaded-gc"])
  STF_BENCH_MAIN      the stf entry point to run (default: this checkout's main.ts)`;

/** A whole number of at least `min` (1: "positive"; 0: zero allowed, to switch a step off). */
function integer(value: string, flag: string, min: 0 | 1): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    const expected = min === 1 ? "a positive integer" : "an integer ≥ 0";
    throw new RangeError(`Cannot use "${value}" for ${flag}: expected ${expected}`);
  }
  return n;
}

function nonNegativeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) {
    throw new RangeError(`Cannot use "${value}" for ${flag}: expected a number ≥ 0`);
  }
  return n;
}

/**
 * Reads the command line.
 *
 * @param args the arguments after the script
 * @throws {RangeError} on a bad value, {TypeError} on an unknown option
 */
export function parseBenchArgs(args: readonly string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: [...args],
    options: {
      runs: { type: "string", default: "3" },
      duration: { type: "string", default: "5" },
      "warm-up": { type: "string", default: "1" },
      only: { type: "string" },
      out: { type: "string", default: "bench-results.json" },
      "udp-bitrate": { type: "string", default: "0" },
      "udp-buffer": { type: "string", default: "2M" },
      "udp-fixed-kpps": { type: "string", default: "10" },
      tests: { type: "string" },
      "cpu-kpps": { type: "string", default: "1,10,50" },
      "hop-pings": { type: "string", default: "200" },
      "idle-seconds": { type: "string", default: "20" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return "help";
  const bitrate = values["udp-bitrate"];
  if (!/^\d+(\.\d+)?[KMG]?$/.test(bitrate)) {
    throw new RangeError(`Cannot use "${bitrate}" for --udp-bitrate: expected e.g. 0, 500M, 1G`);
  }
  const buffer = values["udp-buffer"];
  if (!/^\d+[KMG]?$/.test(buffer)) {
    throw new RangeError(`Cannot use "${buffer}" for --udp-buffer: expected e.g. 0, 512K, 2M`);
  }
  const tests = values.tests === undefined
    ? [...TEST_GROUPS]
    : values.tests.split(",").map((t) => t.trim()).filter((t) => t !== "");
  const unknown = tests.filter((t) => !(TEST_GROUPS as readonly string[]).includes(t));
  if (unknown.length > 0 || tests.length === 0) {
    throw new RangeError(
      `Cannot use "${values.tests}" for --tests: expected some of ${TEST_GROUPS.join(", ")}`,
    );
  }
  const cpuKpps = values["cpu-kpps"].split(",").map((k) =>
    nonNegativeNumber(k.trim(), "--cpu-kpps")
  );
  if (cpuKpps.some((k) => k === 0)) {
    throw new RangeError(`Cannot use "${values["cpu-kpps"]}" for --cpu-kpps: rates must be > 0`);
  }
  return {
    runs: integer(values.runs, "--runs", 1),
    durationSeconds: integer(values.duration, "--duration", 1),
    warmUpSeconds: integer(values["warm-up"], "--warm-up", 0),
    only: values.only?.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    out: values.out,
    udpBitrate: bitrate,
    udpBuffer: buffer,
    udpFixedPps: nonNegativeNumber(values["udp-fixed-kpps"], "--udp-fixed-kpps") * 1000,
    tests: TEST_GROUPS.filter((g) => tests.includes(g)),
    testsGiven: values.tests !== undefined,
    cpuKpps: [...new Set(cpuKpps)].sort((x, y) => x - y),
    hopPings: integer(values["hop-pings"], "--hop-pings", 1),
    idleSeconds: integer(values["idle-seconds"], "--idle-seconds", 1),
  };
}

/** A variant as `STF_BENCH_VARIANTS` gives it. */
interface VariantSpec {
  readonly name: string;
  readonly flags: readonly string[];
  readonly main?: string;
  readonly v8Flags?: readonly string[];
}

/**
 * The stf variants of `STF_VARIANTS` and of the environment variable `STF_BENCH_VARIANTS`.
 *
 * @param env the variable's value, if set
 * @throws {SyntaxError} when the variable is not a JSON array of `{ name, flags }`
 */
export function variantSpecs(env: string | undefined): ForwarderSpec[] {
  const list: VariantSpec[] = [...STF_VARIANTS];
  if (env !== undefined && env.trim() !== "") {
    const parsed: unknown = JSON.parse(env);
    const ok = Array.isArray(parsed) &&
      parsed.every((v) =>
        typeof v === "object" && v !== null && typeof v.name === "string" &&
        Array.isArray(v.flags) && v.flags.every((f: unknown) => typeof f === "string") &&
        (v.main === undefined || typeof v.main === "string") &&
        (v.v8Flags === undefined ||
          (Array.isArray(v.v8Flags) && v.v8Flags.every((f: unknown) => typeof f === "string")))
      );
    if (!ok) {
      throw new SyntaxError(
        'Cannot read STF_BENCH_VARIANTS: expected a JSON array of {"name": "…", "flags": ["…"]} (and an optional "main": "…/main.ts" and "v8Flags": ["…"])',
      );
    }
    list.push(
      ...(parsed as VariantSpec[]),
    );
  }
  return list.map((v) => ({
    name: v.name,
    kind: "stf",
    flags: v.flags,
    ...(v.main === undefined ? {} : { main: v.main }),
    ...(v.v8Flags === undefined ? {} : { v8Flags: v.v8Flags }),
  }));
}

/** A test's outcome: the measurement with the forwarders' CPU time, or why it failed. */
export type TestRecord<T> = (T & { readonly cpuSeconds?: number }) | { readonly error: string };

/** A UDP-64 test at a fixed rate, with the forwarders' CPU per packet per 1 s interval. */
export type FixedRateResult = UdpResult & {
  /** The sender's rate, kpps. */
  readonly kpps: number;
  /** CPU µs per packet (both ends, schedstat) of each full 1 s interval of the test. */
  readonly usPerPacketIntervals: readonly number[];
  /** The 1-minute load average at the test's start. */
  readonly loadAverage?: number;
};

/** A hop-latency test, with the load average at its start. */
export type HopRecord = HopResult & { readonly loadAverage?: number };

/** The forwarders' CPU with no traffic. */
export interface IdleResult {
  /** Seconds measured. */
  readonly seconds: number;
  /** CPU ms of both ends over those seconds (schedstat). */
  readonly cpuMs: number;
  /** CPU ms per second of each 1 s interval. */
  readonly msPerSecondIntervals: readonly number[];
  /** The 1-minute load average at the test's start. */
  readonly loadAverage?: number;
}

/** Everything measured in one run of one forwarder. */
export interface RunRecord {
  /** The row's name. */
  readonly forwarder: string;
  /** 1-based run number. */
  readonly run: number;
  /** ISO time of the start. */
  readonly startedAt: string;
  /** The 1-minute load average at the start (other work competing for the CPUs shows here). */
  readonly loadAverage?: number;
  /** Why the forwarder did not come up (then nothing else is set). */
  startError?: string;
  /** The forwarder's last output when it did not come up. */
  startOutput?: string;
  /** TCP, one stream. */
  tcp1?: TestRecord<TcpResult>;
  /** TCP, four streams. */
  tcp4?: TestRecord<TcpResult>;
  /** UDP, 64-byte payloads, at the offered rate of `--udp-bitrate`. */
  udp?: TestRecord<UdpResult>;
  /** UDP, 64-byte payloads, at the fixed rate of `--udp-fixed-kpps` (forwarders only). */
  udpFixed?: TestRecord<UdpResult>;
  /** Ping round trips. */
  ping?: TestRecord<PingResult>;
  /** UDP-64 at each rate of `--cpu-kpps` (and `--udp-fixed-kpps`), forwarders only. */
  cpuAt?: TestRecord<FixedRateResult>[];
  /** One-way hop latency of lone packets (pings 30 ms apart), forwarders only. */
  hopIdle?: TestRecord<HopRecord>;
  /** One-way hop latency at 1 kpps, forwarders only. */
  hop1k?: TestRecord<HopRecord>;
  /** CPU with no traffic, forwarders only. */
  idleCpu?: TestRecord<IdleResult>;
  /** Largest VmHWM of one forwarder process at the end of the run, kB. */
  peakRssKb?: number;
  /** Largest VmRSS of one forwarder process after each test, kB (to see it stay flat). */
  rssKbAfterTests: (number | undefined)[];
}

function progress(message: string): void {
  console.error(`${new Date().toISOString().slice(11, 19)} ${message}`);
}

function ok<T extends object>(
  r: TestRecord<T> | undefined,
): (T & { cpuSeconds?: number }) | undefined {
  return r === undefined || "error" in r ? undefined : r;
}

/** What the receiving socket dropped, as a share of what reached it. */
function sinkDropPercent(r: UdpResult): number | undefined {
  const drops = r.receiverSocketDrops;
  if (drops === undefined) return undefined;
  const reached = r.packetsReceived + drops;
  return reached === 0 ? 0 : (drops / reached) * 100;
}

/** A UDP test's progress line: received rate, loss (with `digits` decimals), the sink's part. */
function udpLine(r: UdpResult, digits: number): string {
  const share = sinkDropPercent(r);
  const sink = share === undefined
    ? "receiving socket not read"
    : `${r.receiverSocketDrops} dropped by the receiving socket, ${share.toFixed(1)} %`;
  return `${(r.pps / 1000).toFixed(1)} kpps received, ${
    r.lossPercent.toFixed(digits)
  } % lost (${sink})`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * TCP and UDP-64 through a freshly started forwarder, not measured. (iperf3's own `-O` would
 * do for TCP, but iperf3 3.12 counts a UDP test's omitted datagrams as lost: over 100 % loss.)
 */
async function warmUp(
  lab: BenchLab,
  fwd: RunningForwarder,
  seconds: number,
  label: string,
): Promise<void> {
  try {
    await measureTcp(lab, fwd.target, { streams: 1, durationSeconds: seconds });
    await measureUdp(lab, fwd.target, {
      payloadBytes: UDP_PAYLOAD_BYTES,
      bitrate: "0",
      durationSeconds: seconds,
    });
  } catch (e) {
    // The measured tests will fail the same way and say so; this only notes it.
    progress(`${label}: warm-up failed: ${errorMessage(e)}`);
  }
}

function hopLine(r: HopRecord): string {
  const q = quantiles(r.delaysUs);
  const back = quantiles(r.reverseDelaysUs);
  const reverse = back.n === 0
    ? ""
    : `; B → A p50 ${back.p50?.toFixed(1)} µs, p90 ${back.p90?.toFixed(1)} µs`;
  return `A → B p50 ${q.p50?.toFixed(1) ?? "–"} µs, p90 ${
    q.p90?.toFixed(1) ?? "–"
  } µs over ${q.n} packets (${r.unmatched} unmatched, ${r.captureDrops} dropped by the captures)${reverse}`;
}

async function measureRun(
  lab: BenchLab,
  fwd: RunningForwarder,
  record: RunRecord,
  options: BenchOptions,
  tmp: string,
): Promise<void> {
  const roots = fwd.processes.map((p) => p.pid);
  const label = `[run ${record.run}/${options.runs}] ${record.forwarder}`;
  async function test<T extends object>(
    name: string,
    fn: () => Promise<T>,
    show: (r: T) => string,
  ): Promise<TestRecord<T>> {
    await new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_TESTS_MS));
    const before = roots.length === 0 ? undefined : cpuTicks(roots);
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      progress(`${label}: ${name} failed: ${errorMessage(e)}`);
      return { error: errorMessage(e) };
    }
    const after = roots.length === 0 ? undefined : cpuTicks(roots);
    const cpuSeconds = before === undefined || after === undefined
      ? undefined
      : (after - before) / CLOCK_TICKS_PER_SECOND;
    if (roots.length > 0) {
      record.rssKbAfterTests.push(maxStatusKb(roots.flatMap(processTree), "VmRSS"));
    }
    const cpu = cpuSeconds === undefined ? "" : `, forwarders ${cpuSeconds.toFixed(2)} CPU s`;
    progress(`${label}: ${name} ${show(result)}${cpu}`);
    return { ...result, cpuSeconds };
  }
  const d = options.durationSeconds;
  const run = (g: TestGroup) =>
    options.tests.includes(g) &&
    (options.testsGiven === true || !ORDINARY_GROUPS.includes(g) ||
      BASE_SPECS.some((s) => s.name === record.forwarder));
  if (options.warmUpSeconds > 0) await warmUp(lab, fwd, options.warmUpSeconds, label);
  if (run("tcp")) await measureTcpTests();
  if (run("udp")) await measureUdpTest();
  if (run("cpu") && roots.length > 0) await measureFixedRates();
  if (run("hop") && fwd.ifname !== undefined) await measureHops();
  if (run("ping")) await measurePingTest();
  if (run("idle") && roots.length > 0) await measureIdle();
  if (roots.length > 0) record.peakRssKb = maxStatusKb(roots.flatMap(processTree), "VmHWM");
  const dead = fwd.processes.find((p) => p.exit !== undefined);
  if (dead !== undefined) {
    progress(`${label}: ${dead.label} died during the run: ${dead.logTail(3)}`);
  }

  async function measureTcpTests() {
    record.tcp1 = await test(
      "TCP×1",
      () => measureTcp(lab, fwd.target, { streams: 1, durationSeconds: d }),
      (r) => `${r.gbps.toFixed(3)} Gbit/s, ${r.retransmits ?? "?"} retransmits`,
    );
    record.tcp4 = await test(
      "TCP×4",
      () => measureTcp(lab, fwd.target, { streams: 4, durationSeconds: d }),
      (r) => `${r.gbps.toFixed(3)} Gbit/s, ${r.retransmits ?? "?"} retransmits`,
    );
  }

  async function measureUdpTest() {
    record.udp = await test(
      "UDP-64",
      () =>
        measureUdp(lab, fwd.target, {
          payloadBytes: UDP_PAYLOAD_BYTES,
          bitrate: options.udpBitrate,
          durationSeconds: d,
          socketBuffer: options.udpBuffer,
        }),
      (r) => udpLine(r, 1),
    );
  }

  async function measureFixedRates() {
    // The fixed rate of the main table's column is one of these tests (the same one, when it is
    // in --cpu-kpps).
    const fixedKpps = options.udpFixedPps / 1000;
    const rates = [...new Set([...options.cpuKpps, ...(fixedKpps > 0 ? [fixedKpps] : [])])]
      .sort((x, y) => x - y);
    record.cpuAt = [];
    for (const kpps of rates) {
      const pps = kpps * 1000;
      const loadAverageAtStart = loadAverage();
      let samples: ReturnType<CpuSampler["stop"]> = [];
      const r = await test(
        `UDP-64 @${kpps} kpps`,
        async () => {
          const sampler = new CpuSampler(fwd);
          try {
            return await measureUdp(lab, fwd.target, {
              payloadBytes: UDP_PAYLOAD_BYTES,
              // iperf3 counts the payload only.
              bitrate: `${pps * UDP_PAYLOAD_BYTES * 8}`,
              durationSeconds: d,
              socketBuffer: options.udpBuffer,
            });
          } finally {
            samples = sampler.stop();
          }
        },
        (r) => udpLine(r, 2),
      );
      if ("error" in r) {
        record.cpuAt.push(r);
        continue;
      }
      const intervals = cpuPerPacketIntervals(samples, pps).map((v) => Math.round(v * 100) / 100);
      const q = quantiles(intervals);
      const ticks = r.cpuSeconds !== undefined && r.packetsReceived > 0
        ? `; over the test ${((r.cpuSeconds * 1e6) / r.packetsReceived).toFixed(2)} (ticks)`
        : "";
      progress(
        `${label}: CPU µs/packet @${kpps} kpps per 1 s: p50 ${q.p50?.toFixed(2) ?? "–"}, p90 ${
          q.p90?.toFixed(2) ?? "–"
        } (${q.n} intervals)${ticks}`,
      );
      const result: TestRecord<FixedRateResult> = {
        ...r,
        kpps,
        usPerPacketIntervals: intervals,
        loadAverage: loadAverageAtStart,
      };
      record.cpuAt.push(result);
      if (kpps === fixedKpps) record.udpFixed = r;
    }
  }

  async function measureHops() {
    const hop = async (
      name: string,
      traffic: Parameters<typeof measureHop>[3],
    ): Promise<TestRecord<HopRecord>> => {
      const loadAverageAtStart = loadAverage();
      const r = await test(name, () => measureHop(lab, fwd, tmp, traffic), hopLine);
      return "error" in r ? r : { ...r, loadAverage: loadAverageAtStart };
    };
    record.hop1k = await hop(`hop @${HOP_LOADED_PPS / 1000} kpps`, {
      kind: "udp",
      pps: HOP_LOADED_PPS,
      seconds: d,
    });
    record.hopIdle = await hop("hop idle", { kind: "ping", count: options.hopPings });
  }

  async function measureIdle() {
    const loadAverageAtStart = loadAverage();
    // Let what the last test left (a GC, the Workers' once-a-second turn) settle first.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    record.idleCpu = await test(
      `idle ${options.idleSeconds} s`,
      async () => {
        const sampler = new CpuSampler(fwd);
        await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
        const samples = sampler.stop();
        const cpuMs = (samples.at(-1)!.cpuNs - samples[0].cpuNs) / 1e6;
        const intervals = cpuMsPerSecondIntervals(samples).map((v) => Math.round(v * 1000) / 1000);
        return {
          seconds: (samples.at(-1)!.atMs - samples[0].atMs) / 1000,
          cpuMs,
          msPerSecondIntervals: intervals,
          loadAverage: loadAverageAtStart,
        };
      },
      (r) => `${r.cpuMs.toFixed(1)} CPU ms in ${r.seconds.toFixed(1)} s (both ends)`,
    );
  }

  async function measurePingTest() {
    record.ping = await test(
      "ping",
      () => measurePing(lab, fwd.target, PING_COUNT),
      (r) =>
        `${r.received}/${r.transmitted}, median ${r.medianMs?.toFixed(3) ?? "–"} ms, p90 ${
          r.p90Ms?.toFixed(3) ?? "–"
        } ms, avg ${r.avgMs?.toFixed(3) ?? "–"} ms`,
    );
  }
}

/**
 * Medians over the runs of one forwarder (the peak RSS is the largest of the runs).
 *
 * @param name the row's name
 * @param runs the forwarder's runs
 * @param note why the row is empty or partial
 */
export function summarize(name: string, runs: readonly RunRecord[], note?: string): SummaryRow {
  const measured = runs.filter((r) => r.startError === undefined);
  if (measured.length === 0) return { name, note: note ?? "not measured" };
  const pick = (f: (r: RunRecord) => number | undefined) => median(measured.map(f));
  const totalCpu = (r: RunRecord) => {
    const tests = [ok(r.tcp1), ok(r.tcp4), ok(r.udp), ok(r.ping)];
    if (r.udpFixed !== undefined) tests.push(ok(r.udpFixed));
    if (tests.some((t) => t?.cpuSeconds === undefined)) return undefined;
    return tests.reduce((sum, t) => sum + (t?.cpuSeconds ?? 0), 0);
  };
  const rss = measured.map((r) => r.peakRssKb).filter((v): v is number => v !== undefined);
  const failedTests = measured.flatMap((r) => [r.tcp1, r.tcp4, r.udp, r.udpFixed, r.ping])
    .filter((t) => t !== undefined && "error" in t).length;
  const fixedLoss = pick((r) => ok(r.udpFixed)?.lossPercent);
  const sinkDrops = pick((r) => {
    const u = ok(r.udp);
    return u === undefined ? undefined : sinkDropPercent(u);
  });
  const notes = [
    note,
    measured.length < runs.length ? `${measured.length}/${runs.length} runs` : undefined,
    failedTests > 0 ? `${failedTests} failed tests` : undefined,
    (fixedLoss ?? 0) > 1 ? `${fixedLoss?.toFixed(1)} % lost at the fixed UDP rate` : undefined,
    // The UDP figure then measures the receiving iperf3 as much as the tunnel.
    (sinkDrops ?? 0) > 1
      ? `UDP-64: ${sinkDrops?.toFixed(1)} % dropped by the receiving socket`
      : undefined,
  ].filter((n) => n !== undefined);
  return {
    name,
    tcp1Gbps: pick((r) => ok(r.tcp1)?.gbps),
    tcp4Gbps: pick((r) => ok(r.tcp4)?.gbps),
    tcp1Retransmits: pick((r) => ok(r.tcp1)?.retransmits),
    tcp4Retransmits: pick((r) => ok(r.tcp4)?.retransmits),
    udpKpps: pick((r) => {
      const pps = ok(r.udp)?.pps;
      return pps === undefined ? undefined : pps / 1000;
    }),
    udpLossPercent: pick((r) => ok(r.udp)?.lossPercent),
    udpSinkDropPercent: sinkDrops,
    rttMs: pick((r) => ok(r.ping)?.medianMs),
    rttP90Ms: pick((r) => ok(r.ping)?.p90Ms),
    cpuSeconds: pick(totalCpu),
    cpuUsPerPacket: pick((r) => {
      const u = ok(r.udpFixed);
      if (u?.cpuSeconds === undefined || u.packetsReceived === 0) return undefined;
      return (u.cpuSeconds * 1e6) / u.packetsReceived;
    }),
    peakRssMb: rss.length === 0 ? undefined : Math.max(...rss) / 1024,
    note: notes.length === 0 ? undefined : notes.join("; "),
  };
}

/**
 * The ordinary-loads row of one forwarder: every run's samples pooled (hop delays, 1 s
 * intervals of CPU per packet and of idle CPU), then their median and 90th percentile; the idle
 * CPU over the whole test is the median of the runs.
 *
 * @param name the row's name
 * @param runs the forwarder's runs
 */
export function summarizeOrdinary(name: string, runs: readonly RunRecord[]): OrdinaryRow {
  const measured = runs.filter((r) => r.startError === undefined);
  const hopIdle = measured.map((r) => ok(r.hopIdle)).filter((h) => h !== undefined);
  const hop1k = measured.map((r) => ok(r.hop1k)).filter((h) => h !== undefined);
  const fixed = measured.flatMap((r) => r.cpuAt ?? []).map(ok).filter((c) => c !== undefined);
  const idle = measured.map((r) => ok(r.idleCpu)).filter((i) => i !== undefined);
  const rates = [...new Set(fixed.map((c) => c.kpps))].sort((x, y) => x - y);
  const loads = [
    ...hopIdle,
    ...hop1k,
    ...fixed,
    ...idle,
  ].map((t) => t.loadAverage).filter((l): l is number => l !== undefined);
  const pings = hopIdle.flatMap((h) => {
    const p = h.ping;
    return p === undefined ? [] : [p];
  });
  return {
    name,
    hopIdleUs: hopIdle.length === 0 ? undefined : quantiles(hopIdle.flatMap((h) => h.delaysUs)),
    hop1kUs: hop1k.length === 0 ? undefined : quantiles(hop1k.flatMap((h) => h.delaysUs)),
    // The pings' own median and p90, medians over the runs (their replies are not kept).
    hopPingMs: pings.length === 0 ? undefined : {
      n: pings.reduce((sum, p) => sum + p.received, 0),
      p50: median(pings.map((p) => p.medianMs)),
      p90: median(pings.map((p) => p.p90Ms)),
    },
    cpuUsPerPacket: rates.map((kpps) => {
      const at = fixed.filter((c) => c.kpps === kpps);
      return {
        kpps,
        us: quantiles(at.flatMap((c) => c.usPerPacketIntervals)),
        lossPercent: median(at.map((c) => c.lossPercent)),
      };
    }),
    idleCpuMsPerSecond: idle.length === 0
      ? undefined
      : quantiles(idle.flatMap((i) => i.msPerSecondIntervals)),
    idleCpuMs: median(idle.map((i) => i.cpuMs)),
    idleSeconds: median(idle.map((i) => i.seconds)),
    loadAverage: loads.length === 0
      ? undefined
      : { min: Math.min(...loads), max: Math.max(...loads) },
  };
}

async function commandVersion(argv: readonly string[]): Promise<string | undefined> {
  const r = await $`${argv}`.noThrow().quiet().stdout("piped").stderr("piped");
  if (r.code !== 0 && r.stdout === "") return undefined;
  return (r.stdout || r.stderr).split("\n")[0].trim();
}

async function machine() {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1],
    cpus: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    // Caps iperf3's -w (the kernel gives at most twice this to a socket).
    rmemMax: await Deno.readTextFile("/proc/sys/net/core/rmem_max").then(
      (t) => Number(t.trim()),
      () => undefined,
    ),
    deno: Deno.version.deno,
    iperf3: await commandVersion(["iperf3", "--version"]),
    socat: (await commandVersion(["socat", "-V"])) === undefined
      ? undefined
      : (await $`socat -V`.noThrow().quiet().stdout("piped")).stdout
        .match(/socat version \S+/)?.[0],
  };
}

function loadAverage(): number | undefined {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return undefined;
  }
}

async function which(program: string): Promise<boolean> {
  return (await $.which(program)) !== undefined;
}

/** Builds `bench/cfwd.c` into `tmp` with gcc; `note` says why not when it cannot. */
export async function buildCfwd(tmp: string): Promise<{ binary?: string; note?: string }> {
  const source = new URL("./cfwd.c", import.meta.url).pathname;
  try {
    await Deno.stat(source);
  } catch {
    return { note: `skipped: ${source} not found` };
  }
  if (!(await which("gcc"))) return { note: "skipped: gcc not found" };
  const binary = `${tmp}/cfwd`;
  const r = await $`gcc -O2 -pthread -o ${binary} ${source}`.noThrow().quiet().stderr("piped");
  if (r.code !== 0) return { note: `skipped: gcc failed: ${r.stderr.trim().split("\n")[0]}` };
  return { binary };
}

/** The load averages seen at the runs' starts, with a warning when other work competed. */
function loadLine(runs: readonly RunRecord[], cpus: number): string {
  const loads = runs.map((r) => r.loadAverage).filter((l): l is number => l !== undefined);
  if (loads.length === 0) return "Load average: unknown";
  const max = Math.max(...loads);
  // The benchmark itself keeps about two CPUs busy; much more means another job competed.
  const warning = max > cpus + 2
    ? " — other work competed for the CPUs: rerun on an idle host"
    : "";
  return `Load average (1 min) at the runs' starts: ${Math.min(...loads).toFixed(1)}–${
    max.toFixed(1)
  } on ${cpus} CPUs${warning}`;
}

async function main(args: readonly string[]): Promise<number> {
  let options: BenchOptions;
  let variants: ForwarderSpec[];
  try {
    const parsed = parseBenchArgs(args);
    if (parsed === "help") {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
    variants = variantSpecs(Deno.env.get("STF_BENCH_VARIANTS"));
  } catch (e) {
    console.error(`error: ${errorMessage(e)}\n\n${USAGE}`);
    return 2;
  }
  const all = [...BASE_SPECS, ...variants, ...UPLINK_GRO_SPECS];
  const unknown = (options.only ?? []).filter((n) =>
    n !== "failover" && !all.some((s) => s.name === n)
  );
  if (unknown.length > 0) {
    console.error(
      `error: Cannot measure "${unknown.join('", "')}": rows are ${
        all.map((s) => s.name).join(", ")
      }`,
    );
    return 2;
  }
  const specs = all.filter((s) => options.only === undefined || options.only.includes(s.name));
  const withFailover = options.only === undefined || options.only.includes("failover");

  const unavailable = labUnavailableReason();
  if (unavailable !== undefined) {
    console.error(`error: Cannot run the benchmark: ${unavailable}`);
    return 1;
  }
  for (const tool of ["iperf3", "ping", "ss", "ethtool"]) {
    if (!(await which(tool))) {
      console.error(`error: Cannot run the benchmark: ${tool} not found (install it)`);
      return 1;
    }
  }

  const startedAt = new Date().toISOString();
  const notes = new Map<string, string>();
  const tmp = await Deno.makeTempDir({ prefix: "stf-bench-" });
  let lab: BenchLab | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    cleaned ??= (async () => {
      if (lab !== undefined) {
        await lab[Symbol.asyncDispose]();
        progress(`removed namespaces ${lab.names.join(", ")}`);
      }
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    })();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    progress("interrupted: cleaning up");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const runs: RunRecord[] = [];
  try {
    const startOptions: { cfwdBinary?: string; stfMain?: string } = {};
    if (specs.some((s) => s.kind === "cfwd")) {
      const built = await buildCfwd(tmp);
      if (built.note !== undefined) {
        notes.set("cfwd", built.note);
        progress(`cfwd ${built.note}`);
      }
      startOptions.cfwdBinary = built.binary;
    }
    if (specs.some((s) => s.kind === "socat") && !(await which("socat"))) {
      notes.set("socat", "skipped: socat not found");
      progress("socat skipped: socat not found");
    }
    const stfMain = Deno.env.get("STF_BENCH_MAIN") ??
      new URL("../main.ts", import.meta.url).pathname;
    if (specs.some((s) => s.kind === "stf")) {
      try {
        await Deno.stat(stfMain);
        startOptions.stfMain = stfMain;
      } catch {
        for (const s of specs.filter((s) => s.kind === "stf")) {
          notes.set(s.name, `skipped: ${stfMain} not found`);
        }
        progress(`stf skipped: ${stfMain} not found`);
      }
    }

    lab = await BenchLab.create();
    progress(
      `lab: ${lab.a.name} (${A_IPV4}) ↔ ${lab.b.name} (${B_IPV4}); ${options.runs} runs of ${
        specs.map((s) => s.name).join(", ")
      }, ${options.durationSeconds} s per iperf3 test, ${options.warmUpSeconds} s of warm-up`,
    );
    for (let run = 1; run <= options.runs; run++) {
      // Rotate the order each run so no forwarder always comes first (or after the same one).
      const active = specs.filter((s) => !notes.has(s.name));
      const shift = active.length === 0 ? 0 : (run - 1) % active.length;
      for (const spec of [...active.slice(shift), ...active.slice(0, shift)]) {
        if (interrupted) break;
        const record: RunRecord = {
          forwarder: spec.name,
          run,
          startedAt: new Date().toISOString(),
          loadAverage: loadAverage(),
          rssKbAfterTests: [],
        };
        runs.push(record);
        progress(`[run ${run}/${options.runs}] ${spec.name}: starting`);
        let fwd: RunningForwarder;
        try {
          await lab.setUplinkGro(spec.uplinkGro ?? false);
          fwd = await startForwarder(lab, spec, startOptions);
        } catch (e) {
          if (!(e instanceof StartError)) throw e;
          record.startError = e.message;
          record.startOutput = e.output;
          // A forwarder that does not start is not retried in later runs.
          notes.set(spec.name, `failed to start: ${e.brief}`);
          progress(`[run ${run}/${options.runs}] ${spec.name}: failed to start: ${e.message}`);
          if (e.output !== "") console.error(e.output.replace(/^/gm, "    "));
          continue;
        }
        try {
          await measureRun(lab, fwd, record, options, tmp);
        } finally {
          await fwd.stop();
        }
      }
    }
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  let failover: FailoverResult | undefined;
  if (withFailover && !interrupted) {
    try {
      failover = await benchFailover(options.runs, progress);
    } catch (e) {
      notes.set("failover", `failed: ${errorMessage(e)}`);
      progress(`failover not measured: ${errorMessage(e)}`);
    }
  }

  const summary = specs.map((s) =>
    summarize(s.name, runs.filter((r) => r.forwarder === s.name), notes.get(s.name))
  );
  const pairs: RatioPair[] = [
    { numerator: "stf", denominator: "socat" },
    { numerator: "stf", denominator: "cfwd" },
    { numerator: "stf", denominator: "denofwd" },
    { numerator: "denofwd", denominator: "cfwd" },
    { numerator: "stf", denominator: "native" },
    ...variants.map((v) => ({ numerator: v.name, denominator: "stf" })),
  ];
  const ordinaryGroups = options.tests.filter((g) => g === "cpu" || g === "hop" || g === "idle");
  const ordinary = ordinaryGroups.length === 0
    ? []
    : specs.filter((s) => s.kind !== "native").map((s) =>
      summarizeOrdinary(s.name, runs.filter((r) => r.forwarder === s.name))
    );
  const ordinaryKpps = [...new Set(ordinary.flatMap((r) => r.cpuUsPerPacket.map((c) => c.kpps)))]
    .sort((x, y) => x - y);
  const ordinaryText = ordinary.length === 0 ? [] : [
    "",
    `Ordinary loads (p50 / p90 of every run's samples pooled): one-way hop latency A → B from tcpdump timestamps (ns) on both tunnel interfaces, lone packets (${options.hopPings} pings 30 ms apart) and UDP-64 at ${
      HOP_LOADED_PPS / 1000
    } kpps; the idle test's ping RTT; CPU µs per packet of both ends per 1 s interval (schedstat runtime / UDP datagrams delivered in B) at fixed UDP-64 rates; CPU ms per second of both ends with no traffic over ${options.idleSeconds} s.`,
    "",
    formatOrdinaryTable(ordinary, ordinaryKpps),
    "",
    formatOrdinaryRatioTable(
      ordinary,
      pairs.filter((p) => p.denominator !== "native"),
      ordinaryKpps,
    ),
  ];
  const host = await machine();
  const command = `deno run -A bench/bench.ts ${args.join(" ")}`.trim();
  console.log(
    [
      `Command: \`${command}\``,
      `Machine: ${host.cpus} × ${
        host.cpuModel ?? "unknown CPU"
      }, Linux ${host.kernel}, Deno ${host.deno}, ${host.iperf3 ?? "iperf3"}; ${
        startedAt.slice(0, 16).replace("T", " ")
      } UTC`,
      loadLine(runs, host.cpus),
      `Medians of ${options.runs} runs, ${options.durationSeconds} s per iperf3 test, after ${options.warmUpSeconds} s each of TCP and UDP-64 not measured (warm-up); UDP: ${UDP_PAYLOAD_BYTES}-byte payloads at -b ${options.udpBitrate}, socket buffers -w ${options.udpBuffer} (net.core.rmem_max ${
        host.rmemMax ?? "?"
      }); CPU s: forwarders of both ends over one run's tests; CPU µs/pkt: both ends, UDP-64 at ${
        options.udpFixedPps / 1000
      } kpps.`,
      "",
      formatResultTable(summary),
      "",
      formatRatioTable(summary, pairs),
      "",
      "Ratios above 1 are better for throughput and packets per second, below 1 for RTT and CPU.",
      ...(failover === undefined ? [] : ["", failoverLine(failover)]),
      ...ordinaryText,
    ].join("\n"),
  );
  await Deno.writeTextFile(
    options.out,
    JSON.stringify(
      {
        command,
        startedAt,
        finishedAt: new Date().toISOString(),
        machine: host,
        options,
        notes: Object.fromEntries(notes),
        summary,
        ordinary,
        runs,
        ...(failover === undefined ? {} : { failover }),
      },
      null,
      2,
    ) + "\n",
  );
  progress(`raw results written to ${options.out}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
