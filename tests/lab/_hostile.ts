/**
 * The lab of the hostile-traffic tests: a site namespace running `stf run` (own IPv4
 * 198.51.100.1 on eth0, another local address 203.0.113.200 on lo) and a WAN namespace
 * (198.51.100.2) that sends what `_hostile.py` builds. Also the oracles: a second raw socket of
 * protocol 41 in the site (what the kernel delivered to stf's socket), tcpdump with a direction,
 * and `/proc/net/raw` drop counts.
 *
 * @module
 */
import type { CounterSnapshot, DirectionCounters } from "../../lib/dataplane/mod.ts";
import { Netns, ROOT, vethPair } from "./_lab.ts";
import { LabProcess } from "./_seed.ts";
import { readPcapPackets, readRecords } from "./_reference.ts";

/** The hostile traffic generator (scapy). */
export const HOSTILE_PY = `${ROOT}tests/lab/_hostile.py`;

/** The addresses of the hostile lab. */
export const HOSTILE = {
  own4: "198.51.100.1",
  wan4: "198.51.100.2",
  otherLocal4: "203.0.113.200",
  sitePrefix: "2001:db8:1::/48",
  /** The site's IPv4 addresses and broadcasts as stf sees them (`ipv4AddressesOfHost`). */
  local: ["127.0.0.1", "198.51.100.1", "203.0.113.200"],
  broadcasts: ["127.255.255.255", "198.51.100.255"],
} as const;

/** Two namespaces: the site (stf) and the WAN (the attacker). */
export interface HostileLab extends AsyncDisposable {
  readonly site: Netns;
  readonly wan: Netns;
  /** The MAC address of the site's eth0. */
  readonly siteMac: string;
  /** A temporary directory for captures, removed with the lab. */
  readonly dir: string;
}

/** Builds the two namespaces. */
export async function buildHostileLab(): Promise<HostileLab> {
  const site = await Netns.create("stfhs");
  const wan = await Netns.create("stfhw");
  const dir = await Deno.makeTempDir({ prefix: "stf_hostile_" });
  const lab: HostileLab = {
    site,
    wan,
    siteMac: "",
    dir,
    async [Symbol.asyncDispose]() {
      await site[Symbol.asyncDispose]();
      await wan[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    await vethPair(site, "eth0", wan, "eth0");
    await site.run`ip addr add ${HOSTILE.own4}/24 dev eth0`;
    await site.run`ip addr add ${HOSTILE.otherLocal4}/32 dev lo`;
    await site.run`ip route add default via ${HOSTILE.wan4}`;
    // Accept spoofed sources (the point of the test) and forward nothing at the IPv6 level.
    const keys = ["all", "default", "eth0"].map((i) => `net.ipv4.conf.${i}.rp_filter=0`);
    await site.run`sysctl -qw ${keys} net.ipv6.conf.all.forwarding=0`;
    await wan.run`ip addr add ${HOSTILE.wan4}/24 dev eth0`;
    const links = await site.json<{ address: string }[]>`ip -j link show eth0`;
    return { ...lab, siteMac: links[0].address };
  } catch (e) {
    await lab[Symbol.asyncDispose]();
    throw e;
  }
}

/** tcpdump in one direction of an interface, writing a pcap. */
export async function startTcpdump(
  ns: Netns,
  iface: string,
  options: { path: string; direction: "in" | "out"; filter?: string },
): Promise<LabProcess> {
  const process = new LabProcess(ns, [
    "tcpdump",
    "-i",
    iface,
    "-Q",
    options.direction,
    "-n",
    "-U",
    "--immediate-mode",
    "-B",
    "8192",
    "-Z",
    "root",
    "-w",
    options.path,
    ...(options.filter === undefined ? [] : [options.filter]),
  ], { label: `tcpdump on ${ns.name}/${iface}` });
  await process.waitFor(/listening on/);
  return process;
}

/** Starts the raw-socket oracle in `ns`, recording into `path`. */
export async function startListener(ns: Netns, path: string, proto = 41): Promise<LabProcess> {
  const process = new LabProcess(ns, ["/usr/bin/python3", HOSTILE_PY, "listen", path, `${proto}`], {
    label: "raw socket oracle",
  });
  await process.waitFor(/listening/);
  return process;
}

/** The drops of every raw socket of `proto` in `ns` (`/proc/net/raw`, last column). */
export async function rawSocketDrops(ns: Netns, proto = 41): Promise<number[]> {
  const text = await ns.run`cat /proc/net/raw`.text();
  const hex = proto.toString(16).toUpperCase().padStart(4, "0");
  return text.split("\n").slice(1).filter((l) => l.includes(`:${hex} `)).map((l) => {
    const fields = l.trim().split(/\s+/);
    return Number(fields[fields.length - 1]);
  });
}

/** Every packet a direction saw: forwarded, dropped for any reason, refused by the kernel. */
export function handled(c: DirectionCounters): number {
  let n = c.packets + c.ioErrors;
  for (const v of Object.values(c.dropped)) n += v;
  return n;
}

/**
 * Waits until `read` gives the same total twice, 600 ms apart, after at least `atLeast`;
 * bounded by `timeoutMs`. Returns the last counters.
 */
export async function settle(
  read: () => Promise<CounterSnapshot>,
  direction: "egress" | "ingress",
  timeoutMs = 20_000,
): Promise<CounterSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 600));
    const next = await read();
    if (handled(next[direction]) === handled(last[direction])) return next;
    last = next;
  }
  return last;
}

/** Runs the generator in `ns` and returns its JSON summary. */
export async function runGenerator(
  ns: Netns,
  args: readonly string[],
): Promise<{ packets: number; frames: number; refused?: number; kinds: Record<string, number> }> {
  const text = await ns.run`/usr/bin/python3 ${HOSTILE_PY} ${args}`.text();
  return JSON.parse(text.trim().split("\n").pop()!);
}

/** Counts strings into a map. */
export function tally(items: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

/** The non-zero entries of a reason map, sorted, for comparisons. */
export function nonZero(record: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v > 0).sort());
}

/** A sorted plain object of a map. */
export function sortedObject(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].sort());
}

/**
 * Waits (bounded) until the pcap at `path` holds at least `count` packets: tcpdump may still
 * be draining its ring buffer when the traffic has stopped, and SIGINT would lose the rest.
 */
export async function waitForPcap(path: string, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (readPcapPackets(await Deno.readFile(path)).length >= count) return;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits (bounded) until the oracle's record file holds at least `count` packets. */
export async function waitForRecords(
  path: string,
  count: number,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (readRecords(await Deno.readFile(path)).length >= count) return;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Asserts from tcpdump's exit summary that the kernel dropped nothing from the capture. (Its
 * "received by filter" is no measure here: with `-Q`, libpcap discards the other direction in
 * user space after counting it.)
 */
export function assertCaptureComplete(capture: LabProcess): void {
  const dropped = /^(\d+) packets? dropped by kernel/m.exec(capture.stderr);
  if (dropped === null) throw new Error(`tcpdump printed no summary:\n${capture.output()}`);
  if (dropped[1] !== "0") throw new CaptureLostError(capture.output());
}

/**
 * tcpdump itself lost packets (a loaded machine): the capture cannot judge stf, so the phase is
 * run again rather than failed or, worse, judged on a partial capture.
 */
export class CaptureLostError extends Error {
  /** Creates the error with tcpdump's output. */
  constructor(output: string) {
    super(`The capture lost packets:\n${output}`);
    this.name = "CaptureLostError";
  }
}

/**
 * Runs a phase of a hostile test, again (at most `attempts` times in all) when its capture
 * lost packets; any other failure fails at once.
 *
 * @param name the phase, for the log
 * @param attempts how many runs at most
 * @param fn the phase
 */
export async function withCaptureRetries<T>(
  name: string,
  attempts: number,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof CaptureLostError) || attempt >= attempts) throw e;
      console.log(`hostile (${name}): tcpdump lost packets (load); phase run again`);
    }
  }
}
