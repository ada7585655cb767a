/**
 * The measurements: iperf3 (server in B, client in A), ping from A, and CPU time and memory of
 * the forwarder processes read from `/proc`.
 *
 * @module
 */
import {
  parseIperfTcp,
  parseIperfUdp,
  parsePing,
  parseProcStat,
  parseSnmp6,
  parseStatusKb,
  type PingResult,
  type TcpResult,
  type UdpResult,
} from "./_stats.ts";
import { type BenchLab, NsProcess } from "./_topology.ts";

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
