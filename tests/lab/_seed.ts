/**
 * The seed's topology in network namespaces, for the lab tests and the demo: an IPv4 "internet"
 * router, a 6to4 site (router mode) with a LAN host behind it, a 6to4 relay, and a server with
 * native IPv6 behind the relay that runs stf in return-path mode (the seed's point: its replies
 * to 6to4 go straight back over IPv4, never through a relay). Optionally a second 6to4 site and
 * an attacker on the IPv4 side. Documentation addresses only.
 *
 * ```
 *  lan ── site ──┐                 ┌── server (203.0.113.80, 2001:db8:ffff::80) ──┐
 *  (LAN IPv6)    │198.51.100.0/24  │203.0.113.0/24 (bridge: siteB .20, attacker .66) │ native
 *               inet ── 192.0.2.0/24 ── relay (192.0.2.99, 2001:db8:ffff::1) ─────┘ IPv6
 * ```
 *
 * Also the processes the labs drive: stf (`StfProcess`), tcpdump (`Capture`), anything else
 * (`LabProcess`), each stopped within a bounded time.
 *
 * @module
 */
import $ from "dax";
import type { CounterSnapshot } from "../../lib/dataplane/mod.ts";
import { labRunFlags, Netns, ROOT, stfArgv, vethPair } from "./_lab.ts";

/** The addresses of the seed's lab (documentation ranges only). */
export const SEED = {
  /** The site's public IPv4 (its 6to4 prefix is 2002:c633:6401::/48). */
  siteIpv4: "198.51.100.1",
  /** The site's stf0 address. */
  siteStf: "2002:c633:6401::1",
  /** The site router's address on the LAN. */
  siteLan: "2002:c633:6401:1::1",
  /** The LAN host. */
  lanHost: "2002:c633:6401:1::10",
  /** A native prefix the site names as its own (`--site-prefix`). */
  siteNativePrefix: "2001:db8:5173::/48",
  /** The relay's IPv4. */
  relayIpv4: "192.0.2.99",
  /** The relay's native IPv6 on the link to the server. */
  relayNative: "2001:db8:ffff::1",
  /** The server's IPv4. */
  serverIpv4: "203.0.113.80",
  /** The server's native IPv6. */
  serverNative: "2001:db8:ffff::80",
  /** The second 6to4 site's IPv4 (its 6to4 prefix is 2002:cb00:7114::/48). */
  siteBIpv4: "203.0.113.20",
  /** The second site's stf0 address. */
  siteBStf: "2002:cb00:7114::1",
  /** The attacker's IPv4. */
  attackerIpv4: "203.0.113.66",
  /** The TCP port of the server's line service. */
  serverPort: 8080,
} as const;

/** Default bound of every wait, in milliseconds. */
const WAIT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of `LabProcess.spawn`. */
export interface LabProcessOptions {
  /** A short name for messages (default: the program's name). */
  readonly label?: string;
}

/** Options of a bounded wait. */
export interface WaitOptions {
  /** Which output to search (default stderr). */
  readonly stream?: "stdout" | "stderr";
  /** Give up after this many milliseconds (default 10 s). */
  readonly timeoutMs?: number;
  /** Search only output after this many characters (default 0). */
  readonly from?: number;
}

/** A process running in a namespace, its stdout and stderr collected as text. */
export class LabProcess implements AsyncDisposable {
  /** The name used in messages. */
  readonly label: string;
  /** The child process. */
  readonly child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #status: Deno.CommandStatus | undefined;
  readonly #done: Promise<Deno.CommandStatus>;

  /** Starts `argv` inside `ns` (pipes for stdout and stderr, nothing on stdin). */
  constructor(ns: Netns, argv: readonly string[], options: LabProcessOptions = {}) {
    this.label = options.label ?? argv[0];
    const [program, ...args] = ns.exec(...argv);
    this.child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        if (into === "stdout") this.#stdout += text;
        else this.#stderr += text;
      }
    };
    const pumps = Promise.all([
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ]);
    this.#done = this.child.status.then(async (status) => {
      await pumps.catch(() => {});
      this.#status = status;
      return status;
    });
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The exit status once the process has ended, else `undefined`. */
  get status(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /**
   * Waits until the output matches `pattern`; returns the match.
   *
   * @throws {Error} on timeout or when the process ends first, with its output
   */
  async waitFor(pattern: RegExp, options: WaitOptions = {}): Promise<RegExpMatchArray> {
    const stream = options.stream ?? "stderr";
    const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
    while (true) {
      const text = (stream === "stdout" ? this.#stdout : this.#stderr).slice(options.from ?? 0);
      const match = text.match(pattern);
      if (match !== null) return match;
      if (this.#status !== undefined) {
        throw new Error(
          `${this.label} ended (code ${this.#status.code}) before printing ${pattern} on ` +
            `${stream}:\n${this.output()}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.label} did not print ${pattern} on ${stream}:\n${this.output()}`);
      }
      await sleep(50);
    }
  }

  /** Sends a signal, unless the process has already ended. */
  signal(signal: Deno.Signal): void {
    if (this.#status !== undefined) return;
    try {
      this.child.kill(signal);
    } catch { /* ended meanwhile */ }
  }

  /**
   * Stops the process: `signal`, then SIGKILL when it is still running after `timeoutMs`.
   *
   * @returns its exit status and whether it had to be killed
   */
  async stop(
    signal: Deno.Signal = "SIGTERM",
    timeoutMs = 5_000,
  ): Promise<{ status: Deno.CommandStatus; killed: boolean }> {
    this.signal(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const first = await Promise.race([this.#done, timeout]);
    clearTimeout(timer);
    if (first !== "timeout") return { status: first, killed: false };
    this.signal("SIGKILL");
    return { status: await this.#done, killed: true };
  }

  /** The output so far, for failure messages. */
  output(): string {
    return `--- ${this.label} stdout ---\n${this.#stdout}--- ${this.label} stderr ---\n` +
      this.#stderr;
  }

  /** Stops the process (SIGTERM, then SIGKILL). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGTERM", 3_000);
  }
}

/** A running `stf run` with JSON logs and counters. */
export class StfProcess extends LabProcess {
  /** The namespace it runs in. */
  readonly ns: Netns;

  private constructor(ns: Netns, args: readonly string[], label: string) {
    super(ns, stfArgv("run", ...args, ...labRunFlags(), "--log-format", "json"), { label });
    this.ns = ns;
  }

  /**
   * Starts `stf run ARGS --log-format json` in `ns` and waits (bounded) until it forwards and
   * stf0 holds a global address.
   *
   * @param ns the namespace
   * @param args the arguments after `run`
   * @param label a name for messages (default "stf in NS")
   * @throws {Error} when it does not become ready within 10 s (it is stopped then)
   */
  static async start(ns: Netns, args: readonly string[], label?: string): Promise<StfProcess> {
    const stf = new StfProcess(ns, args, label ?? `stf in ${ns.name}`);
    try {
      await stf.waitFor(/"message":"Forwarding on /, { timeoutMs: 20_000 });
      const deadline = Date.now() + WAIT_MS;
      while (!(await hasGlobalAddress(ns, "stf0"))) {
        if (Date.now() > deadline) throw new Error(`stf0 got no address:\n${stf.output()}`);
        await sleep(100);
      }
    } catch (e) {
      await stf.stop("SIGKILL", 2_000);
      throw e;
    }
    return stf;
  }

  /** The JSON log records it has written to stderr so far (it runs with `--log-format json`). */
  logRecords(): Record<string, unknown>[] {
    return this.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  }

  /** Asks for the counters (SIGUSR2) and returns the `counters.stats` it prints. */
  async counters(): Promise<CounterSnapshot> {
    const from = this.stdout.length;
    this.signal("SIGUSR2");
    const match = await this.waitFor(/^\{"event":"counters\.stats".*$/m, {
      stream: "stdout",
      from,
    });
    return JSON.parse(match[0]) as CounterSnapshot;
  }

  /**
   * Stops stf with SIGTERM and returns its `counters.final`.
   *
   * @throws {Error} when it had to be killed, exited non-zero, or printed no final counters
   */
  async finish(): Promise<CounterSnapshot> {
    const { status, killed } = await this.stop("SIGTERM", 5_000);
    if (killed) throw new Error(`${this.label} did not stop within 5 s of SIGTERM`);
    if (status.code !== 0) {
      throw new Error(`${this.label} exited with code ${status.code}:\n${this.output()}`);
    }
    const match = this.stdout.match(/^\{"event":"counters\.final".*$/m);
    if (match === null) throw new Error(`${this.label} printed no final counters`);
    return JSON.parse(match[0]) as CounterSnapshot;
  }
}

async function hasGlobalAddress(ns: Netns, name: string): Promise<boolean> {
  const text = await ns.run`ip -j addr show dev ${name}`.noThrow().quiet("both").text();
  if (text.trim() === "") return false;
  const links = JSON.parse(text) as { addr_info?: { family: string; scope: string }[] }[];
  return links.some((l) =>
    (l.addr_info ?? []).some((a) => a.family === "inet6" && a.scope === "global")
  );
}

/** One packet read back from a capture by `tcpdump -nr`. */
export type CapturedLine = string;

/** tcpdump writing a pcap in a namespace; `stop()` reads it back. */
export class Capture {
  /** The pcap file. */
  readonly path: string;
  readonly #process: LabProcess;

  private constructor(path: string, process: LabProcess) {
    this.path = path;
    this.#process = process;
  }

  /**
   * Starts `tcpdump -i IFACE -w FILE FILTER` in `ns` and waits until it listens.
   *
   * @param ns the namespace
   * @param iface the interface
   * @param options the pcap path and the capture filter
   */
  static async start(
    ns: Netns,
    iface: string,
    options: { readonly path: string; readonly filter?: string },
  ): Promise<Capture> {
    const filter = options.filter === undefined ? [] : [options.filter];
    // -Z root: Debian's tcpdump drops to its own user, which could not write our temp dir.
    // --immediate-mode: with -w alone, some kernels never hand over libpcap's TPACKET_V3
    // blocks before SIGINT and the pcap stays empty (seen here on 6.18).
    // -B 32768 (KiB): the hostile tests send thousands of packets in a burst; with the default
    // 2 MiB ring tcpdump once dropped 8 of 5 110 on a loaded machine, and a lossy capture
    // cannot judge anything.
    const process = new LabProcess(
      ns,
      [
        "tcpdump",
        "-i",
        iface,
        "-n",
        "-U",
        "--immediate-mode",
        "-B",
        "32768",
        "-Z",
        "root",
        "-w",
        options.path,
        ...filter,
      ],
      { label: `tcpdump on ${ns.name}/${iface}` },
    );
    try {
      await process.waitFor(/listening on/);
    } catch (e) {
      await process.stop("SIGKILL", 2_000);
      throw e;
    }
    return new Capture(options.path, process);
  }

  /**
   * Stops tcpdump (SIGINT, bounded) and returns the captured packets, one `tcpdump -nr` line
   * each (no timestamps).
   *
   * @param options a read filter, verbose headers
   */
  async stop(options: ReadPcapOptions = {}): Promise<CapturedLine[]> {
    // Let the last packets reach the capture before stopping it.
    await sleep(200);
    await this.#process.stop("SIGINT", 5_000);
    return await readPcap(this.path, options);
  }

  /** Stops tcpdump without reading (for `finally`). */
  async dispose(): Promise<void> {
    await this.#process.stop("SIGINT", 3_000);
  }
}

/** Options of `readPcap`. */
export interface ReadPcapOptions {
  /** A read filter (default none). */
  readonly filter?: string;
  /** Decode the headers (`tcpdump -v`: TTL, ID, flags, lengths); default false. */
  readonly verbose?: boolean;
}

/**
 * Reads a pcap with `tcpdump -nr` (no timestamps); one line per packet (with `verbose`, the
 * continuation lines are joined to their packet's line).
 *
 * @param path the pcap file
 * @param options a read filter, verbose headers
 */
export async function readPcap(
  path: string,
  options: ReadPcapOptions = {},
): Promise<CapturedLine[]> {
  const args = [
    "-n",
    "-t",
    ...(options.verbose === true ? ["-v"] : []),
    "-r",
    path,
    ...(options.filter === undefined ? [] : [options.filter]),
  ];
  const text = await $`tcpdump ${args}`.quiet("stderr").text();
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (/^\s/.test(line) && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
    else lines.push(line);
  }
  return lines;
}

/** Options of `buildSeedLab`. */
export interface SeedLabOptions {
  /** Also start the three stf processes (default true). */
  readonly startStf?: boolean;
  /** Add a second 6to4 site at 203.0.113.20 (default false). */
  readonly siteB?: boolean;
  /** Add an attacker at 203.0.113.66 whose spoofed outer sources are forwarded (default false). */
  readonly attacker?: boolean;
  /** Extra arguments of the site's `stf run` (e.g. `--site-prefix`). */
  readonly siteArgs?: readonly string[];
  /** Called with each step's description, for the demo's narration. */
  readonly onStep?: (message: string) => void;
}

/** The seed's lab, removed by `await using` (stf stopped, namespaces deleted, files removed). */
export interface SeedLab extends AsyncDisposable {
  /** The IPv4 router: `a0` 198.51.100.254, `r0` 192.0.2.254, `br0` 203.0.113.254. */
  readonly inet: Netns;
  /** The 6to4 site router: `wan` 198.51.100.1, `lan` 2002:c633:6401:1::1/64. */
  readonly site: Netns;
  /** The LAN host: `eth0` 2002:c633:6401:1::10/64. */
  readonly lan: Netns;
  /** The relay: `wan` 192.0.2.99, `v6` 2001:db8:ffff::1/64. */
  readonly relay: Netns;
  /** The server: `wan` 203.0.113.80, `v6` 2001:db8:ffff::80/64. */
  readonly server: Netns;
  /** The second 6to4 site (`wan` 203.0.113.20), when asked for. */
  readonly siteB: Netns | undefined;
  /** The attacker (`wan` 203.0.113.66), when asked for. */
  readonly attacker: Netns | undefined;
  /** A temporary directory for captures, removed with the lab. */
  readonly dir: string;
  /** stf of the site, relay, server, second site (when started). */
  readonly stf: {
    site?: StfProcess;
    relay?: StfProcess;
    server?: StfProcess;
    siteB?: StfProcess;
  };
  /** Starts the stf processes not running yet (the same arguments as `buildSeedLab`). */
  startStf(): Promise<void>;
  /** Starts a capture in a namespace of the lab; stopped when the lab is removed. */
  capture(ns: Netns, iface: string, filter?: string): Promise<Capture>;
  /** Starts a process in a namespace of the lab; stopped when the lab is removed. */
  spawn(ns: Netns, argv: readonly string[], label?: string): LabProcess;
}

/** The sysctls of an IPv4 router that forwards even spoofed and martian sources. */
async function permissiveIpv4(ns: Netns, ifaces: readonly string[]): Promise<void> {
  const keys = ["all", "default", ...ifaces].flatMap((i) => [
    `net.ipv4.conf.${i}.rp_filter=0`,
    `net.ipv4.conf.${i}.route_localnet=1`,
  ]);
  await ns.run`sysctl -qw ${keys}`;
}

/**
 * Builds the seed's lab (and starts stf in it unless `startStf: false`). Everything made so far
 * is removed when a step fails.
 *
 * @param options which optional hosts, extra site arguments, narration
 */
export async function buildSeedLab(options: SeedLabOptions = {}): Promise<SeedLab> {
  const step = options.onStep ?? (() => {});
  const namespaces: Netns[] = [];
  const processes: (LabProcess | Capture)[] = [];
  const dir = await Deno.makeTempDir({ prefix: "stf-seed-" });
  const stf: SeedLab["stf"] = {};
  const dispose = async () => {
    // stf first, so it removes its interface and prints its counters; then everything else.
    for (const p of [stf.site, stf.relay, stf.server, stf.siteB]) await p?.stop("SIGTERM", 3_000);
    for (const p of processes.reverse()) {
      if (p instanceof Capture) await p.dispose();
      else await p.stop("SIGTERM", 2_000);
    }
    for (const ns of namespaces.reverse()) await ns[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const create = async (prefix: string) => {
    const ns = await Netns.create(prefix);
    namespaces.push(ns);
    return ns;
  };
  try {
    step("Creating namespaces: inet (IPv4 router), site (6to4 router), lan, relay, server");
    const inet = await create("sdI");
    const site = await create("sdS");
    const lan = await create("sdL");
    const relay = await create("sdR");
    const server = await create("sdV");
    const siteB = options.siteB === true ? await create("sdB") : undefined;
    const attacker = options.attacker === true ? await create("sdX") : undefined;

    step("Wiring the IPv4 internet: 198.51.100.0/24, 192.0.2.0/24, 203.0.113.0/24 via inet");
    await inet.run`ip link add br0 type bridge`;
    await inet.run`ip link set br0 up`;
    await inet.run`ip addr add 203.0.113.254/24 dev br0`;
    await vethPair(inet, "a0", site, "wan");
    await vethPair(inet, "r0", relay, "wan");
    const onBridge: [Netns, string][] = [[server, SEED.serverIpv4]];
    if (siteB !== undefined) onBridge.push([siteB, SEED.siteBIpv4]);
    if (attacker !== undefined) onBridge.push([attacker, SEED.attackerIpv4]);
    for (const [i, [ns]] of onBridge.entries()) {
      await vethPair(inet, `b${i}`, ns, "wan");
      await inet.run`ip link set ${`b${i}`} master br0`;
    }
    await inet.run`ip addr add 198.51.100.254/24 dev a0`;
    await inet.run`ip addr add 192.0.2.254/24 dev r0`;
    await inet.run`sysctl -qw net.ipv4.ip_forward=1`;
    await permissiveIpv4(inet, ["a0", "r0", "br0", ...onBridge.map((_, i) => `b${i}`)]);

    const ipv4Host = async (ns: Netns, address: string, gateway: string) => {
      await ns.run`ip addr add ${address}/24 dev wan`;
      await ns.run`ip route add default via ${gateway}`;
    };
    await ipv4Host(site, SEED.siteIpv4, "198.51.100.254");
    await ipv4Host(relay, SEED.relayIpv4, "192.0.2.254");
    for (const [ns, address] of onBridge) await ipv4Host(ns, address, "203.0.113.254");
    // The site also receives spoofed martian sources (for the hostile-input test).
    await permissiveIpv4(site, ["wan"]);

    step(`LAN: ${SEED.lanHost}/64 behind the site router ${SEED.siteLan}`);
    await vethPair(site, "lan", lan, "eth0");
    await site.run`ip -6 addr add ${SEED.siteLan}/64 dev lan`;
    await site.run`sysctl -qw net.ipv6.conf.all.forwarding=1`;
    await lan.run`ip -6 addr add ${SEED.lanHost}/64 dev eth0`;
    await lan.run`ip -6 route add default via ${SEED.siteLan}`;

    step(`Native IPv6: relay ${SEED.relayNative} ↔ server ${SEED.serverNative}`);
    await vethPair(relay, "v6", server, "v6");
    await relay.run`ip -6 addr add ${SEED.relayNative}/64 dev v6`;
    await relay.run`sysctl -qw net.ipv6.conf.all.forwarding=1`;
    await server.run`ip -6 addr add ${SEED.serverNative}/64 dev v6`;
    await server.run`ip -6 route add default via ${SEED.relayNative}`;

    const lab: SeedLab = {
      inet,
      site,
      lan,
      relay,
      server,
      siteB,
      attacker,
      dir,
      stf,
      async startStf() {
        if (stf.relay === undefined) {
          step(`Relay: stf run --mode relay --ipv4 ${SEED.relayIpv4}`);
          stf.relay = await StfProcess.start(relay, ["--mode", "relay", "--ipv4", SEED.relayIpv4]);
        }
        if (stf.server === undefined) {
          step(`Server: stf run --ipv4 ${SEED.serverIpv4} --mode return-path`);
          stf.server = await StfProcess.start(server, [
            "--ipv4",
            SEED.serverIpv4,
            "--mode",
            "return-path",
          ]);
        }
        if (stf.site === undefined) {
          const args = [
            "--ipv4",
            SEED.siteIpv4,
            "--relay",
            SEED.relayIpv4,
            "--default-route",
            // No relay probe within a test: the tests count what the relay sees.
            "--relay-probe-interval",
            "3600",
            ...(options.siteArgs ?? []),
          ];
          step(`Site: stf run ${args.join(" ")}`);
          stf.site = await StfProcess.start(site, args);
        }
        if (siteB !== undefined && stf.siteB === undefined) {
          step(`Second site: stf run --ipv4 ${SEED.siteBIpv4} --relay ${SEED.relayIpv4}`);
          stf.siteB = await StfProcess.start(siteB, [
            "--ipv4",
            SEED.siteBIpv4,
            "--relay",
            SEED.relayIpv4,
            "--default-route",
            "--relay-probe-interval",
            "3600",
          ]);
        }
      },
      async capture(ns, iface, filter) {
        const path = `${dir}/${ns.name}-${iface}-${processes.length}.pcap`;
        const capture = await Capture.start(ns, iface, { path, filter });
        processes.push(capture);
        return capture;
      },
      spawn(ns, argv, label) {
        const process = new LabProcess(ns, argv, { label });
        processes.push(process);
        return process;
      },
      [Symbol.asyncDispose]: dispose,
    };
    if (options.startStf ?? true) await lab.startStf();
    return lab;
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** The scapy helper that sends crafted packets (run with `/usr/bin/python3`). */
export const SCAPY_SEND = `${ROOT}tests/lab/_scapy_send.py`;

/** One batch of protocol-41 packets for `_scapy_send.py`. */
export interface CraftedPackets {
  /** Outer IPv4 source (may be spoofed or martian). */
  readonly src4: string;
  /** Outer IPv4 destination. */
  readonly dst4: string;
  /** Inner IPv6 source. */
  readonly src6: string;
  /** Inner IPv6 destination. */
  readonly dst6: string;
  /** How many (each an ICMPv6 echo request with a distinct sequence number). */
  readonly count: number;
  /**
   * Send ICMPv4 "fragmentation needed" with this next-hop MTU instead, from `src4` to `dst4`,
   * quoting a 1500-byte protocol-41 packet from `dst4` to `quotedDst4` (inner `src6` → `dst6`).
   */
  readonly fragNeededMtu?: number;
  /** The quoted packet's destination, with `fragNeededMtu`. */
  readonly quotedDst4?: string;
}

/**
 * Sends crafted protocol-41 packets from `ns` with scapy (an independent encoder).
 *
 * @param ns the sending namespace
 * @param batches the packets
 */
export async function sendCrafted(ns: Netns, batches: readonly CraftedPackets[]): Promise<void> {
  const json = JSON.stringify(batches.map((b) => ({
    src4: b.src4,
    dst4: b.dst4,
    src6: b.src6,
    dst6: b.dst6,
    count: b.count,
    ...(b.fragNeededMtu === undefined ? {} : {
      frag_needed_mtu: b.fragNeededMtu,
      quoted_dst4: b.quotedDst4 ?? b.dst4,
    }),
  })));
  await ns.run`/usr/bin/python3 ${SCAPY_SEND} ${json}`.quiet("stderr");
}

/** Waits (bounded) until `check` returns true; throws `message` on timeout. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  message: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await sleep(100);
  }
}
