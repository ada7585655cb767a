/**
 * The measurements: iperf3 (server in B, client in A), ping from A, and CPU time and memory of
 * the forwarder processes read from `/proc`.
 *
 * @module
 */
import {
  type CpuSample,
  parseIperfTcp,
  parseIperfUdp,
  parsePing,
  parseProcStat,
  parseSchedstat,
  parseSnmp6,
  parseStatusKb,
  type PingResult,
  runtimeSince,
  type TcpResult,
  type UdpResult,
} from "./_stats.ts";
import { ipv6Hex, matchHops, parsePcap } from "./_pcap.ts";
import type { Netns } from "../tests/lab/_lab.ts";
import {
  A_TUNNEL_IPV6,
  B_TUNNEL_IPV6,
  type BenchLab,
  NsProcess,
  type RunningForwarder,
} from "./_topology.ts";

const IPERF_PORT = 5201;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs one iperf3 client in A against a one-off server in B and returns its JSON. */
async function iperf(lab: BenchLab, args: readonly string[], durationSeconds: number) {
  // A fresh one-off server per test: a client killed mid-test cannot leave it busy.
  const server = NsProcess.spawn(lab.b, ["iperf3", "-s", "-1", "-p", `${IPERF_PORT}`], "iperf3@B");
  try {
    const deadline = Date.now() + 3000;
    for (;;) {
      const ss = await lab.b.run`ss -Hltn sport = :${IPERF_PORT}`.noThrow().quiet().stdout("piped");
      if (ss.stdout.trim() !== "") break;
      if (server.exit !== undefined || Date.now() > deadline) {
        throw new Error(`iperf3 server did not start: ${server.logTail()}`);
      }
      await sleep(20);
    }
    const result = await lab.a.run`iperf3 -J -p ${IPERF_PORT} --connect-timeout 3000 ${args}`
      .noThrow().quiet().stdout("piped").stderr("piped")
      .timeout((durationSeconds + 20) * 1000);
    if (result.code === 124) throw new Error("iperf3 client timed out");
    let json: unknown;
    try {
      json = JSON.parse(result.stdout);
    } catch {
      throw new Error(`iperf3 client exited ${result.code}: ${result.stderr.trim()}`);
    }
    return json;
  } finally {
    await server.stop(1000);
  }
}

/**
 * iperf3 TCP from A to `target`.
 *
 * @param lab the sites
 * @param target B's address
 * @param options streams and seconds
 */
export async function measureTcp(
  lab: BenchLab,
  target: string,
  options: { readonly streams: number; readonly durationSeconds: number },
): Promise<TcpResult> {
  const args = ["-c", target, "-t", `${options.durationSeconds}`, "-P", `${options.streams}`];
  return parseIperfTcp(await iperf(lab, args, options.durationSeconds));
}

/**
 * iperf3 UDP from A to `target` with small datagrams at a given offered rate.
 *
 * @param lab the sites
 * @param target B's address
 * @param options payload bytes, offered bitrate (iperf3's `-b`; `0` is as fast as it can) and
 *   seconds
 */
export async function measureUdp(
  lab: BenchLab,
  target: string,
  options: {
    readonly payloadBytes: number;
    readonly bitrate: string;
    readonly durationSeconds: number;
    /** iperf3's `-w` (socket buffers of both ends), or `0` for the system's default. */
    readonly socketBuffer?: string;
  },
): Promise<UdpResult> {
  const args = [
    "-c",
    target,
    "-u",
    "-l",
    `${options.payloadBytes}`,
    "-b",
    options.bitrate,
    "-t",
    `${options.durationSeconds}`,
  ];
  const buffer = options.socketBuffer ?? "0";
  if (buffer !== "0") args.push("-w", buffer);
  // Datagrams B's kernel delivered to the iperf3 server but dropped because its socket was
  // full: loss at the sink, not in the tunnel (B holds nothing else that receives UDP).
  const before = await udp6RcvbufErrors(lab);
  const result = parseIperfUdp(await iperf(lab, args, options.durationSeconds));
  return { ...result, receiverSocketDrops: (await udp6RcvbufErrors(lab)) - before };
}

/** B's `Udp6RcvbufErrors`, from `/proc/net/snmp6` of B's namespace. */
async function udp6RcvbufErrors(lab: BenchLab): Promise<number> {
  const text = await lab.b.run`cat /proc/net/snmp6`.quiet().text();
  return parseSnmp6(text, "Udp6RcvbufErrors");
}

/**
 * `ping -c <count> -i 0.03` from A to `target`, each reply's time kept (no `-q`) for the
 * median and the 90th percentile.
 *
 * @param lab the sites
 * @param target B's address
 * @param count echo requests to send
 */
export async function measurePing(
  lab: BenchLab,
  target: string,
  count: number,
): Promise<PingResult> {
  const r = await lab.a.run`ping -c ${count} -i 0.03 -W 1 ${target}`.noThrow().quiet()
    .stdout("piped").stderr("piped").timeout(30_000);
  return parsePing(r.stdout + r.stderr);
}

function readStat(pid: number) {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants alive now (from the parent ids in `/proc/<pid>/stat`). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readStat(Number(entry.name));
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry.name));
    children.set(stat.ppid, list);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/**
 * CPU time (user + system, all threads) of the processes and their descendants, in clock
 * ticks, or `undefined` when one of `pids` is gone.
 *
 * @param pids the forwarder processes
 */
export function cpuTicks(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const root of pids) {
    if (readStat(root) === undefined) return undefined;
    for (const pid of processTree(root)) {
      const stat = readStat(pid);
      if (stat !== undefined) total += stat.utime + stat.stime;
    }
  }
  return total;
}

/**
 * The largest value of a `/proc/<pid>/status` kB field (`VmHWM`, `VmRSS`) among the
 * processes, or `undefined` when none has it.
 *
 * @param pids the processes
 * @param field the field's name
 */
export function maxStatusKb(pids: readonly number[], field: string): number | undefined {
  let max: number | undefined;
  for (const pid of pids) {
    try {
      const kb = parseStatusKb(Deno.readTextFileSync(`/proc/${pid}/status`), field);
      if (kb !== undefined) max = Math.max(max ?? 0, kb);
    } catch { /* gone */ }
  }
  return max;
}

/** One thread's runtime (`/proc/<pid>/task/<tid>/schedstat`). */
export interface ThreadRuntime {
  readonly pid: number;
  readonly tid: number;
  /** Nanoseconds on a CPU so far. */
  readonly ns: number;
}

/**
 * The runtime of every thread of `root` and its descendants alive now.
 *
 * @param root a process
 */
export function threadRuntimes(root: number): ThreadRuntime[] {
  const out: ThreadRuntime[] = [];
  for (const pid of processTree(root)) {
    let tasks: Deno.DirEntry[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const ns = parseSchedstat(
          Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`),
        );
        out.push({ pid, tid: Number(task.name), ns });
      } catch { /* the thread ended */ }
    }
  }
  return out;
}

/**
 * The runtime of the processes and their descendants, in nanoseconds, as a running sum of what
 * each thread ran between two readings (`/proc/<pid>/task/<tid>/schedstat`, {@link runtimeSince}):
 * a thread that ends takes away nothing it had counted. Only differences between readings mean
 * anything.
 */
export class RuntimeClock {
  readonly #last = new Map<string, number>();
  #total = 0;

  /**
   * Reads the threads again: the running sum, or `undefined` when one of `pids` is gone.
   *
   * @param pids the forwarder processes
   */
  read(pids: readonly number[]): number | undefined {
    const threads: { key: string; ns: number }[] = [];
    for (const root of pids) {
      if (readStat(root) === undefined) return undefined;
      for (const t of threadRuntimes(root)) threads.push({ key: `${t.pid}/${t.tid}`, ns: t.ns });
    }
    this.#total += runtimeSince(this.#last, threads);
    return this.#total;
  }
}

/**
 * UDP datagrams delivered in the namespace of process `pid` (`Udp6InDatagrams` of
 * `/proc/<pid>/net/snmp6`: read without spawning anything in the namespace), or 0 when unknown.
 * Not the TUN's received packets: stf writes UDP segments of one flow into its TUN merged (one
 * GSO packet for many datagrams), which the kernel splits before delivery.
 */
function deliveredDatagrams(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return parseSnmp6(Deno.readTextFileSync(`/proc/${pid}/net/snmp6`), "Udp6InDatagrams");
  } catch {
    return 0;
  }
}

/**
 * Reads the forwarders' CPU time and the UDP datagrams delivered in B once per interval while a
 * test runs, from the bench's own process (so the readings cost the forwarders nothing).
 */
export class CpuSampler {
  readonly #pids: number[];
  readonly #bPid: number | undefined;
  readonly #samples: CpuSample[] = [];
  readonly #clock = new RuntimeClock();
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Starts sampling at once and every `intervalMs`.
   *
   * @param fwd the forwarder pair (A's process first, then B's)
   * @param intervalMs the interval
   */
  constructor(fwd: RunningForwarder, intervalMs = 1000) {
    this.#pids = fwd.processes.map((p) => p.pid);
    this.#bPid = fwd.processes[1]?.pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const atMs = performance.now();
    const cpu = this.#clock.read(this.#pids);
    if (cpu === undefined) return;
    this.#samples.push({ atMs, cpuNs: cpu, packets: deliveredDatagrams(this.#bPid) });
  }

  /** Takes a last sample, stops and returns the samples. */
  stop(): CpuSample[] {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sample();
    return this.#samples;
  }
}

/**
 * Starts `tcpdump` on `ifname` in `ns`, writing `file` with nanosecond timestamps, and waits
 * until it listens.
 */
async function startCapture(ns: Netns, ifname: string, file: string): Promise<NsProcess> {
  const p = NsProcess.spawn(ns, [
    "tcpdump",
    "-i",
    ifname,
    "-n",
    // Whole packets: a merged UDP packet (GSO) carries the later datagrams' sequence numbers.
    "-s",
    "8192",
    "-B",
    "8192",
    "-U",
    // Without it the last second's packets can stay in a ring block tcpdump never reads.
    "--immediate-mode",
    // Root keeps root: the bench's temporary directory is not writable by tcpdump's user.
    "-Z",
    "root",
    "--time-stamp-precision=nano",
    "-w",
    file,
    "ip6",
  ], `tcpdump@${ns.name}`);
  const deadline = Date.now() + 5000;
  while (!p.logTail(20).includes("listening on")) {
    if (p.exit !== undefined || Date.now() > deadline) {
      await p.stop(500);
      throw new Error(`tcpdump did not start in ${ns.name}: ${p.logTail()}`);
    }
    await sleep(20);
  }
  return p;
}

/** UDP payload of the hop test at a fixed rate (and the segment size of merged packets). */
const HOP_UDP_PAYLOAD_BYTES = 64;

/** One-way hop latencies of one test, A → B, with the capture's bookkeeping. */
export interface HopResult {
  /** Delay of each packet matched in both captures, µs (rounded to 0.1 µs). */
  readonly delaysUs: number[];
  /** B → A delays of the same test (ping replies), µs. */
  readonly reverseDelaysUs: number[];
  /** A → B packets that B's capture did not show. */
  readonly unmatched: number;
  /** Packets the two tcpdumps said the kernel dropped (`… dropped by kernel`). */
  readonly captureDrops: number;
  /** The ping round trips, when the traffic was ping. */
  readonly ping?: PingResult;
  /** The iperf3 result, when the traffic was UDP. */
  readonly udp?: UdpResult;
}

function droppedByKernel(p: NsProcess): number {
  const m = /(\d+) packets? dropped by kernel/.exec(p.logTail(10));
  return m === null ? 0 : Number(m[1]);
}

/**
 * The one-way hop latency A → B of the forwarder pair: `tcpdump` with nanosecond timestamps on
 * the tunnel interface of both sites while `traffic` runs, packets paired by their content
 * (`bench/_pcap.ts`). Both namespaces share the host's clock.
 *
 * @param lab the sites
 * @param fwd the forwarder pair
 * @param dir where the capture files go (removed after)
 * @param traffic what to send: `ping` (pings 30 ms apart: lone packets through an idle pair),
 *   or UDP-64 at `pps` for `seconds`
 */
export async function measureHop(
  lab: BenchLab,
  fwd: RunningForwarder,
  dir: string,
  traffic:
    | { readonly kind: "ping"; readonly count: number }
    | { readonly kind: "udp"; readonly pps: number; readonly seconds: number },
): Promise<HopResult> {
  const ifname = fwd.ifname;
  if (ifname === undefined) throw new Error("no tunnel interface to capture on");
  const fileA = `${dir}/hop-a.pcap`;
  const fileB = `${dir}/hop-b.pcap`;
  const captures: NsProcess[] = [];
  let ping: PingResult | undefined;
  let udp: UdpResult | undefined;
  try {
    captures.push(await startCapture(lab.a, ifname, fileA));
    captures.push(await startCapture(lab.b, ifname, fileB));
    if (traffic.kind === "ping") {
      ping = await measurePing(lab, fwd.target, traffic.count);
    } else {
      udp = await measureUdp(lab, fwd.target, {
        payloadBytes: HOP_UDP_PAYLOAD_BYTES,
        bitrate: `${traffic.pps * HOP_UDP_PAYLOAD_BYTES * 8}`,
        durationSeconds: traffic.seconds,
      });
    }
    // What is in flight lands in the captures.
    await sleep(500);
  } finally {
    for (const c of captures) await c.stop(3000);
  }
  try {
    const a = parsePcap(await Deno.readFile(fileA));
    const b = parsePcap(await Deno.readFile(fileB));
    const aHex = ipv6Hex(A_TUNNEL_IPV6);
    const bHex = ipv6Hex(B_TUNNEL_IPV6);
    const forward = matchHops(a, b, (k) => k.includes(aHex + bHex), HOP_UDP_PAYLOAD_BYTES);
    const reverse = matchHops(b, a, (k) => k.includes(bHex + aHex));
    const round = (v: number) => Math.round(v * 10) / 10;
    return {
      delaysUs: forward.delaysUs.map(round),
      reverseDelaysUs: reverse.delaysUs.map(round),
      unmatched: forward.unmatched,
      captureDrops: captures.reduce((sum, c) => sum + droppedByKernel(c), 0),
      ping,
      udp,
    };
  } finally {
    await Deno.remove(fileA).catch(() => {});
    await Deno.remove(fileB).catch(() => {});
  }
}
