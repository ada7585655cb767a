/**
 * The pure parts of the benchmark: medians, parsers for the outputs of iperf3, ping and
 * `/proc`, and the Markdown tables. Nothing here touches the OS, so it is unit-tested.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK` on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The median of the finite values, or `undefined` when there is none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((x, y) => x - y);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Throughput of one iperf3 TCP test. */
export interface TcpResult {
  /** Goodput seen by the receiver, in Gbit/s. */
  readonly gbps: number;
  /** Retransmitted segments counted by the sender (missing when the kernel does not say). */
  readonly retransmits: number | undefined;
}

/** Packets of one iperf3 UDP test. */
export interface UdpResult {
  /** Datagrams received per second. */
  readonly pps: number;
  /** Datagrams received. */
  readonly packetsReceived: number;
  /** Datagrams sent. */
  readonly packetsSent: number;
  /** Share of the sent datagrams that were lost, in percent. */
  readonly lossPercent: number;
  /**
   * Datagrams the receiving host delivered to iperf3's socket but dropped because the socket
   * buffer was full (`Udp6RcvbufErrors`): part of the loss that happened after the tunnel.
   */
  readonly receiverSocketDrops?: number;
}

type Json = Record<string, unknown>;

function object(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError(`Cannot read iperf3 JSON: ${what} is missing`);
  }
  return value as Json;
}

function finite(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new SyntaxError(`Cannot read iperf3 JSON: ${what} is not a number`);
  }
  return value;
}

function iperfEnd(json: unknown): Json {
  const root = object(json, "the document");
  if (typeof root.error === "string") {
    throw new SyntaxError(`iperf3 failed: ${root.error}`);
  }
  return object(root.end, '"end"');
}

/**
 * Extracts the throughput and retransmits from the output of `iperf3 -c … -J` (TCP).
 *
 * @param json the parsed JSON document
 * @throws {SyntaxError} when iperf3 reported an error or the document lacks the summary
 */
export function parseIperfTcp(json: unknown): TcpResult {
  const end = iperfEnd(json);
  const received = object(end.sum_received, '"end.sum_received"');
  const sent = object(end.sum_sent, '"end.sum_sent"');
  const bps = finite(received.bits_per_second, '"end.sum_received.bits_per_second"');
  const retransmits = typeof sent.retransmits === "number" ? sent.retransmits : undefined;
  return { gbps: bps / 1e9, retransmits };
}

/**
 * Extracts received packets per second and loss from the output of `iperf3 -u -c … -J`.
 * iperf3 ≥ 3.11 puts the receiver's view in `end.sum_received`; older ones only in `end.sum`.
 *
 * @param json the parsed JSON document
 * @throws {SyntaxError} when iperf3 reported an error or the document lacks the summary
 */
export function parseIperfUdp(json: unknown): UdpResult {
  const end = iperfEnd(json);
  const sum = object(end.sum_received ?? end.sum, '"end.sum_received"');
  const packets = finite(sum.packets, '"end.sum_received.packets"');
  const lost = finite(sum.lost_packets, '"end.sum_received.lost_packets"');
  const seconds = finite(sum.seconds, '"end.sum_received.seconds"');
  const sentSum = end.sum_sent === undefined ? sum : object(end.sum_sent, '"end.sum_sent"');
  const packetsSent = finite(sentSum.packets, '"end.sum_sent.packets"');
  const packetsReceived = Math.max(0, packets - lost);
  // iperf3's own figure counts loss against the packets sent; computed the same way otherwise.
  const lossPercent = typeof sum.lost_percent === "number"
    ? sum.lost_percent
    : (packetsSent > 0 ? (lost / packetsSent) * 100 : 100);
  return {
    pps: seconds > 0 ? packetsReceived / seconds : 0,
    packetsReceived,
    packetsSent,
    lossPercent,
  };
}

/**
 * One counter of `/proc/net/snmp6` (lines of `Name value`).
 *
 * @param text the file's contents
 * @param name the counter, e.g. `Udp6RcvbufErrors`
 * @throws {SyntaxError} when the counter is not there
 */
export function parseSnmp6(text: string, name: string): number {
  const match = new RegExp(`^${name}\\s+(\\d+)\\s*$`, "m").exec(text);
  if (match === null) throw new SyntaxError(`Cannot read ${name} from /proc/net/snmp6`);
  return Number(match[1]);
}

/** Round-trip times of one `ping` run, in milliseconds. */
export interface PingResult {
  /** Replies received. */
  readonly received: number;
  /** Echo requests sent. */
  readonly transmitted: number;
  /** Average round-trip time (missing when no reply came back). */
  readonly avgMs: number | undefined;
  /** Median of the replies' round-trip times (missing without per-reply lines). */
  readonly medianMs: number | undefined;
  /** 90th percentile of the replies' round-trip times (nearest rank). */
  readonly p90Ms: number | undefined;
}

/**
 * Reads the output of iputils `ping` without `-q`: a `time=0.307 ms` per reply, and the
 * summary (`20 packets transmitted, 20 received, …` and
 * `rtt min/avg/max/mdev = 0.031/0.045/0.061/0.008 ms`). The median and the 90th percentile come
 * from the replies; a few slow replies move the average a lot when there are few.
 *
 * @param text ping's standard output
 * @throws {SyntaxError} when the packet counts are missing
 */
export function parsePing(text: string): PingResult {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  if (counts === null) throw new SyntaxError("Cannot read ping output: no packet counts");
  const rtt = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(text);
  const times = [...text.matchAll(/ time[=<]([\d.]+) ms/g)].map((m) => Number(m[1]))
    .sort((x, y) => x - y);
  return {
    transmitted: Number(counts[1]),
    received: Number(counts[2]),
    avgMs: rtt === null ? undefined : Number(rtt[1]),
    medianMs: median(times),
    p90Ms: times.length === 0 ? undefined : times[Math.ceil(0.9 * times.length) - 1],
  };
}

/** The fields of `/proc/<pid>/stat` the benchmark uses. */
export interface ProcStat {
  /** The parent's process id. */
  readonly ppid: number;
  /** CPU time in user mode, in clock ticks (all threads). */
  readonly utime: number;
  /** CPU time in kernel mode, in clock ticks (all threads). */
  readonly stime: number;
}

/**
 * Parses `/proc/<pid>/stat` (proc(5)); the command name in parentheses may hold spaces and
 * parentheses, so fields are counted from the last `)`.
 *
 * @param text the file's content
 * @throws {SyntaxError} when the line is not a stat line
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  if (close < 0) throw new SyntaxError("Cannot read /proc/<pid>/stat: no command name");
  // After ")": field 3 (state) is index 0, so field N is index N - 3.
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const ppid = Number(fields[4 - 3]);
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (![ppid, utime, stime].every(Number.isInteger)) {
    throw new SyntaxError("Cannot read /proc/<pid>/stat: fields 4, 14 and 15 are not integers");
  }
  return { ppid, utime, stime };
}

/**
 * Reads one `kB` field (`VmHWM`, `VmRSS`, …) of `/proc/<pid>/status`, in kB, or `undefined`
 * when absent (kernel threads, zombies).
 *
 * @param text the file's content
 * @param field the field name, without the colon
 */
export function parseStatusKb(text: string, field: string): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${field}:`)) continue;
    const m = /^\S+:\s+(\d+)\s+kB/.exec(line);
    return m === null ? undefined : Number(m[1]);
  }
  return undefined;
}

/** One row of the result table: medians over the runs of one forwarder. */
export interface SummaryRow {
  /** The forwarder's name (`native`, `socat`, `cfwd`, `stf`, or a variant's name). */
  readonly name: string;
  /** TCP, one stream, Gbit/s. */
  readonly tcp1Gbps?: number;
  /** TCP, four streams, Gbit/s. */
  readonly tcp4Gbps?: number;
  /** Retransmits of the one-stream test. */
  readonly tcp1Retransmits?: number;
  /** Retransmits of the four-stream test. */
  readonly tcp4Retransmits?: number;
  /** UDP with 64-byte payloads, thousands of packets per second received. */
  readonly udpKpps?: number;
  /** UDP loss, percent. */
  readonly udpLossPercent?: number;
  /** Share of the datagrams that reached the receiving socket which it dropped, percent. */
  readonly udpSinkDropPercent?: number;
  /** Ping round-trip time, ms: the median over the replies of a run (median of runs). */
  readonly rttMs?: number;
  /** 90th percentile of the ping round-trip times of a run, ms (median of runs). */
  readonly rttP90Ms?: number;
  /** CPU seconds of the forwarder processes (both ends) over one run's tests. */
  readonly cpuSeconds?: number;
  /** CPU microseconds of the forwarders (both ends) per packet, UDP-64 at a fixed low rate. */
  readonly cpuUsPerPacket?: number;
  /** Largest peak RSS (VmHWM) of one forwarder process, MB. */
  readonly peakRssMb?: number;
  /** Why the row is empty or partial (skipped, failed to start, …). */
  readonly note?: string;
}

/**
 * Formats a number with the given decimals, or an en dash when missing.
 *
 * @param value the number
 * @param digits decimals to keep
 */
export function formatNumber(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(digits);
}

function retransmits(row: SummaryRow): string {
  if (row.tcp1Retransmits === undefined && row.tcp4Retransmits === undefined) return "–";
  return `${formatNumber(row.tcp1Retransmits, 0)} / ${formatNumber(row.tcp4Retransmits, 0)}`;
}

function roundTrip(row: SummaryRow): string {
  if (row.rttMs === undefined && row.rttP90Ms === undefined) return "–";
  return `${formatNumber(row.rttMs, 3)} / ${formatNumber(row.rttP90Ms, 3)}`;
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const rule = `|${header.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/**
 * The Markdown table of medians, one row per forwarder; a row's note, when any, follows its
 * name.
 *
 * @param rows the summary rows, in display order
 */
export function formatResultTable(rows: readonly SummaryRow[]): string {
  const header = [
    "forwarder",
    "TCP×1 Gbit/s",
    "TCP×4 Gbit/s",
    "retransmits ×1 / ×4",
    "UDP-64 kpps",
    "UDP loss %",
    "RTT ms p50 / p90",
    "CPU s",
    "CPU µs/pkt",
    "peak RSS MB",
  ];
  return markdownTable(
    header,
    rows.map((r) => [
      r.note === undefined ? r.name : `${r.name} (${r.note})`,
      formatNumber(r.tcp1Gbps, 2),
      formatNumber(r.tcp4Gbps, 2),
      retransmits(r),
      formatNumber(r.udpKpps, 1),
      formatNumber(r.udpLossPercent, 1),
      roundTrip(r),
      formatNumber(r.cpuSeconds, 2),
      formatNumber(r.cpuUsPerPacket, 2),
      formatNumber(r.peakRssMb, 1),
    ]),
  );
}

/** A ratio to show: `numerator / denominator`, both names of summary rows. */
export interface RatioPair {
  /** The row on top (`stf`). */
  readonly numerator: string;
  /** The row below (`socat`, `cfwd`, `native`). */
  readonly denominator: string;
}

/** The ratio of two measurements, or `undefined` when either is missing or the base is 0. */
export function ratio(top: number | undefined, bottom: number | undefined): number | undefined {
  if (top === undefined || bottom === undefined || !Number.isFinite(top)) return undefined;
  if (!Number.isFinite(bottom) || bottom === 0) return undefined;
  return top / bottom;
}

const RATIO_COLUMNS: readonly [string, (r: SummaryRow) => number | undefined][] = [
  ["TCP×1", (r) => r.tcp1Gbps],
  ["TCP×4", (r) => r.tcp4Gbps],
  ["UDP-64 pps", (r) => r.udpKpps],
  ["RTT", (r) => r.rttMs],
  ["CPU s", (r) => r.cpuSeconds],
  ["CPU/pkt", (r) => r.cpuUsPerPacket],
];

/**
 * The Markdown table of ratios, one row per pair (`stf / socat`), one column per metric;
 * pairs naming a missing row are left out, missing values shown as an en dash.
 *
 * @param rows the summary rows
 * @param pairs the ratios to show, in order
 */
export function formatRatioTable(rows: readonly SummaryRow[], pairs: readonly RatioPair[]): string {
  return ratioTable(rows, pairs, RATIO_COLUMNS);
}

/**
 * A Markdown table of ratios: one row per pair whose two rows exist, one column per metric,
 * a missing value as an en dash.
 */
function ratioTable<R extends { readonly name: string }>(
  rows: readonly R[],
  pairs: readonly RatioPair[],
  columns: readonly (readonly [string, (row: R) => number | undefined])[],
): string {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const lines: string[][] = [];
  for (const { numerator, denominator } of pairs) {
    const top = byName.get(numerator);
    const bottom = byName.get(denominator);
    if (top === undefined || bottom === undefined) continue;
    lines.push([
      `${numerator} / ${denominator}`,
      ...columns.map(([, get]) => {
        const value = ratio(get(top), get(bottom));
        return value === undefined ? "–" : `${value.toFixed(2)}×`;
      }),
    ]);
  }
  return markdownTable(["ratio", ...columns.map(([name]) => name)], lines);
}

/**
 * The `p`-th percentile of the finite values by nearest rank (p 50 of 1..4 is 2, p 90 of
 * 1..10 is 9), or `undefined` when there is none. Unlike {@link median} it always returns one
 * of the values.
 *
 * @param values the samples
 * @param p the percentile, 0 < p ≤ 100
 */
export function percentile(
  values: readonly (number | undefined)[],
  p: number,
): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((x, y) => x - y);
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The time a thread has run on a CPU, in nanoseconds: the first field of
 * `/proc/<pid>/task/<tid>/schedstat`. It is the same runtime that `utime + stime` of
 * `/proc/<pid>/stat` report (the kernel scales their split to it), at nanosecond resolution
 * instead of 10 ms clock ticks — which matters at 1 kpps, where a 5 s test is a few ticks.
 *
 * @param text the file's content (`runtime_ns wait_ns timeslices`)
 * @throws {SyntaxError} when the first field is not a whole number
 */
export function parseSchedstat(text: string): number {
  const first = text.trim().split(/\s+/)[0];
  if (!/^\d+$/.test(first ?? "")) throw new SyntaxError("Cannot read schedstat: no runtime");
  return Number(first);
}

/**
 * The runtime threads ran since the previous reading, `last` (thread key → ns), which it updates:
 * a thread seen before counts its increase, a new one its whole runtime, and one that has ended
 * counts nothing more. Summing each reading's whole runtime instead made a total that went
 * backwards when a thread ended between two readings (the runtime's blocking pool ends a thread
 * idle for 10 s), by all the CPU that thread had ever used: an idle test read negative.
 *
 * @param last each thread's runtime at the previous reading (updated in place)
 * @param threads this reading: each thread's key (pid/tid) and runtime, ns
 */
export function runtimeSince(
  last: Map<string, number>,
  threads: readonly { readonly key: string; readonly ns: number }[],
): number {
  let added = 0;
  const seen = new Set<string>();
  for (const { key, ns } of threads) {
    added += ns - (last.get(key) ?? 0);
    last.set(key, ns);
    seen.add(key);
  }
  for (const key of [...last.keys()]) if (!seen.has(key)) last.delete(key);
  return added;
}

/** One reading of the forwarders' CPU time and of the packets they delivered. */
export interface CpuSample {
  /** Milliseconds since some fixed origin (`performance.now()`). */
  readonly atMs: number;
  /** Runtime of all the forwarders' threads, ns. */
  readonly cpuNs: number;
  /** Packets delivered so far (UDP datagrams in the receiving site), or 0 when not counted. */
  readonly packets: number;
}

/**
 * CPU microseconds per packet of each interval between consecutive samples. Intervals that
 * carried less than `minShare` of the packets expected at `pps` are left out: they are the
 * test's start and end, when the sender had not begun or had stopped and the forwarders'
 * idle cost would be charged to a few packets.
 *
 * @param samples the readings, in time order
 * @param pps the sender's fixed rate
 * @param minShare the least share of the expected packets an interval must carry (default ½)
 */
export function cpuPerPacketIntervals(
  samples: readonly CpuSample[],
  pps: number,
  minShare = 0.5,
): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const packets = b.packets - a.packets;
    const expected = (pps * (b.atMs - a.atMs)) / 1000;
    if (packets <= 0 || packets < minShare * expected) continue;
    out.push((b.cpuNs - a.cpuNs) / 1000 / packets);
  }
  return out;
}

/**
 * CPU milliseconds per second of each interval between consecutive samples (for the idle
 * rows: what the forwarders burn with no traffic).
 *
 * @param samples the readings, in time order
 */
export function cpuMsPerSecondIntervals(samples: readonly CpuSample[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const seconds = (samples[i].atMs - samples[i - 1].atMs) / 1000;
    if (seconds <= 0) continue;
    out.push((samples[i].cpuNs - samples[i - 1].cpuNs) / 1e6 / seconds);
  }
  return out;
}

/** A distribution's median and 90th percentile (nearest rank), and how many samples. */
export interface Quantiles {
  /** Samples. */
  readonly n: number;
  /** The median. */
  readonly p50?: number;
  /** The 90th percentile. */
  readonly p90?: number;
}

/**
 * The median and the 90th percentile of samples.
 *
 * @param values the samples
 */
export function quantiles(values: readonly number[]): Quantiles {
  return { n: values.length, p50: percentile(values, 50), p90: percentile(values, 90) };
}

/** One row of the ordinary-loads table: one forwarder, every run's samples pooled. */
export interface OrdinaryRow {
  /** The forwarder's name. */
  readonly name: string;
  /** One-way hop latency A → B of lone packets (pings 30 ms apart), µs. */
  readonly hopIdleUs?: Quantiles;
  /** One-way hop latency A → B at 1 kpps (UDP-64), µs. */
  readonly hop1kUs?: Quantiles;
  /** The ping round trips of the idle hop test, ms. */
  readonly hopPingMs?: Quantiles;
  /** CPU µs per packet (both ends) per 1 s interval, by rate in kpps. */
  readonly cpuUsPerPacket: readonly {
    readonly kpps: number;
    readonly us: Quantiles;
    /** Median loss of the runs at this rate, %. */
    readonly lossPercent?: number;
  }[];
  /** CPU ms per second of the pair with no traffic, per 1 s interval. */
  readonly idleCpuMsPerSecond?: Quantiles;
  /** CPU ms of the pair over the whole idle test (median of runs). */
  readonly idleCpuMs?: number;
  /** Seconds of the idle test. */
  readonly idleSeconds?: number;
  /** The 1-minute load averages seen at the starts of these tests. */
  readonly loadAverage?: { readonly min: number; readonly max: number };
}

function pair(q: Quantiles | undefined, digits: number): string {
  if (q === undefined || q.n === 0) return "–";
  return `${formatNumber(q.p50, digits)} / ${formatNumber(q.p90, digits)}`;
}

/**
 * The Markdown table of the ordinary loads: hop latency idle and at 1 kpps, ping RTT, CPU per
 * packet at each fixed rate, idle CPU; each cell is `p50 / p90`.
 *
 * @param rows one per forwarder
 * @param kpps the fixed rates, in the order of the columns
 */
export function formatOrdinaryTable(rows: readonly OrdinaryRow[], kpps: readonly number[]): string {
  const header = [
    "forwarder",
    "hop idle µs p50 / p90",
    "hop @1 kpps µs p50 / p90",
    "ping ms p50 / p90",
    ...kpps.map((k) => `CPU µs/pkt @${k} kpps p50 / p90`),
    "idle CPU ms/s p50 / p90",
    "load avg",
  ];
  return markdownTable(
    header,
    rows.map((r) => [
      r.name,
      pair(r.hopIdleUs, 1),
      pair(r.hop1kUs, 1),
      pair(r.hopPingMs, 3),
      ...kpps.map((k) => {
        const c = r.cpuUsPerPacket.find((x) => x.kpps === k);
        if (c === undefined) return "–";
        const loss = (c.lossPercent ?? 0) > 0.1
          ? ` (${formatNumber(c.lossPercent, 1)} % lost)`
          : "";
        return `${pair(c.us, 2)}${loss}`;
      }),
      pair(r.idleCpuMsPerSecond, 2),
      r.loadAverage === undefined
        ? "–"
        : `${r.loadAverage.min.toFixed(1)}–${r.loadAverage.max.toFixed(1)}`,
    ]),
  );
}

/**
 * The Markdown table of `numerator / denominator` for the ordinary-loads figures (below 1 is
 * better for all of them); pairs naming a missing row are left out.
 *
 * @param rows one per forwarder
 * @param pairs the ratios to show
 * @param kpps the fixed rates
 */
export function formatOrdinaryRatioTable(
  rows: readonly OrdinaryRow[],
  pairs: readonly RatioPair[],
  kpps: readonly number[],
): string {
  const columns: [string, (r: OrdinaryRow) => number | undefined][] = [
    ["hop idle p50", (r) => r.hopIdleUs?.p50],
    ["hop idle p90", (r) => r.hopIdleUs?.p90],
    ["hop @1k p50", (r) => r.hop1kUs?.p50],
    ["hop @1k p90", (r) => r.hop1kUs?.p90],
    ...kpps.map((k): [string, (r: OrdinaryRow) => number | undefined] => [
      `CPU/pkt @${k}k p50`,
      (r) => r.cpuUsPerPacket.find((x) => x.kpps === k)?.us.p50,
    ]),
    ["idle CPU", (r) => r.idleCpuMs],
  ];
  return ratioTable(rows, pairs, columns);
}
