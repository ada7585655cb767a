/**
 * The benchmark's lab: two namespaces `A` and `B` over one veth pair, and the forwarder pairs
 * measured across it (native IPv6, socat, cfwd, stf). Only documentation addresses are used,
 * inside namespaces this module creates.
 *
 * ```
 *  ns A                                   ns B
 *  veth 198.51.100.1/24, 2001:db8::1/64 ── veth 198.51.100.2/24, 2001:db8::2/64
 *  tunnel 2002:c633:6401::1/16            tunnel 2002:c633:6402::1/16 (6to4 of the IPv4s)
 * ```
 *
 * @module
 */
import { mergeLikeNic, Netns, vethPair } from "../tests/lab/_lab.ts";
import { STF_V8_FLAGS } from "../lib/v8_flags.ts";

/** IPv4 address of site A on the veth. */
export const A_IPV4 = "198.51.100.1";
/** IPv4 address of site B on the veth. */
export const B_IPV4 = "198.51.100.2";
/** Native IPv6 address of site A on the veth. */
export const A_NATIVE_IPV6 = "2001:db8::1";
/** Native IPv6 address of site B on the veth. */
export const B_NATIVE_IPV6 = "2001:db8::2";
/** 6to4 address of site A (2002:WWXX:YYZZ:: with 198.51.100.1), with the 6to4 prefix length. */
export const A_TUNNEL_IPV6 = "2002:c633:6401::1";
/** 6to4 address of site B (198.51.100.2). */
export const B_TUNNEL_IPV6 = "2002:c633:6402::1";
/** MTU of every tunnel interface (1500 of the veth minus the 20-byte outer IPv4 header). */
export const TUNNEL_MTU = 1480;

const VETH = "veth0";
const KEEP_LOG_CHARS = 8192;

/** A long-running process inside a namespace, its output kept (the tail) for error messages. */
export class NsProcess {
  /** A short label for messages (`socat@A`). */
  readonly label: string;
  /** The process id (`ip netns exec` execs the program, so this is the program's own). */
  readonly pid: number;
  /** Resolves when the process ends. */
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #log = "";
  #exit: Deno.CommandStatus | undefined;

  private constructor(label: string, child: Deno.ChildProcess) {
    this.label = label;
    this.#child = child;
    this.pid = child.pid;
    this.status = child.status.then((s) => (this.#exit = s));
    this.#drain(child.stdout);
    this.#drain(child.stderr);
  }

  /**
   * Starts `argv` inside a namespace.
   *
   * @param ns the namespace
   * @param argv the program and its arguments
   * @param label a short name for messages
   */
  static spawn(ns: Netns, argv: readonly string[], label: string): NsProcess {
    const [program, ...args] = ns.exec(...argv);
    const child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new NsProcess(label, child);
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#log = (this.#log + decoder.decode(chunk, { stream: true })).slice(-KEEP_LOG_CHARS);
      }
    } catch { /* the process went away */ }
  }

  /** The exit status, or `undefined` while it runs. */
  get exit(): Deno.CommandStatus | undefined {
    return this.#exit;
  }

  /** The last lines the process printed (stdout and stderr mixed). */
  logTail(lines = 5): string {
    return this.#log.trimEnd().split("\n").slice(-lines).join("\n");
  }

  /** Sends SIGTERM, then SIGKILL after `graceMs`, and waits for the end. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#exit !== undefined) return;
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    const outcome = await Promise.race([this.status, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
      await this.status;
    }
  }
}

/** The two sites, their veth addresses configured. */
export class BenchLab implements AsyncDisposable {
  /** Site A: the iperf3 client side. */
  readonly a: Netns;
  /** Site B: the iperf3 server side. */
  readonly b: Netns;
  #uplinkGro = false;

  private constructor(a: Netns, b: Netns) {
    this.a = a;
    this.b = b;
  }

  /** Creates both namespaces and the veth between them; removes what it made on failure. */
  static async create(): Promise<BenchLab> {
    const made: Netns[] = [];
    try {
      made.push(await Netns.create("stfbA"));
      made.push(await Netns.create("stfbB"));
      const [a, b] = made;
      await vethPair(a, VETH, b, VETH);
      await a.run`ip addr add ${A_IPV4}/24 dev ${VETH}`;
      await b.run`ip addr add ${B_IPV4}/24 dev ${VETH}`;
      await a.run`ip addr add ${A_NATIVE_IPV6}/64 dev ${VETH} nodad`;
      await b.run`ip addr add ${B_NATIVE_IPV6}/64 dev ${VETH} nodad`;
      return new BenchLab(a, b);
    } catch (e) {
      for (const ns of made) await ns[Symbol.asyncDispose]();
      throw e;
    }
  }

  /**
   * Makes B's veth merge what it receives as a NIC with GRO does (the default of real
   * uplinks), or undoes it ({@link mergeLikeNic}).
   *
   * @param on merge (true) or not (false, the lab's default)
   */
  async setUplinkGro(on: boolean): Promise<void> {
    if (on === this.#uplinkGro) return;
    this.#uplinkGro = on;
    await mergeLikeNic({ ns: this.a, dev: VETH }, { ns: this.b, dev: VETH }, on);
  }

  /** The namespaces' names (for messages and for checking the cleanup). */
  get names(): readonly string[] {
    return [this.a.name, this.b.name];
  }

  /** Kills what still runs in the namespaces and deletes them. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.a[Symbol.asyncDispose]();
    await this.b[Symbol.asyncDispose]();
  }
}

/** What the benchmark measures across: a native path or a tunnel between the sites. */
export interface ForwarderSpec {
  /** The row's name (`native`, `socat`, `cfwd`, `stf`, `stf-no-batch`, …). */
  readonly name: string;
  /** Which forwarder runs. */
  readonly kind: "native" | "socat" | "cfwd" | "denofwd" | "stf";
  /** Extra command-line flags for `stf run` (variants). */
  readonly flags?: readonly string[];
  /** Another stf entry point for this row (a variant built from another checkout). */
  readonly main?: string;
  /** V8 flags added to stf's own ({@link STF_V8_FLAGS}) in this row. */
  readonly v8Flags?: readonly string[];
  /**
   * B's veth merges received packets like a NIC with GRO and interrupt moderation
   * ({@link BenchLab.setUplinkGro}); default: plain veth, nothing merged.
   */
  readonly uplinkGro?: boolean;
}

/** Where to find the programs the forwarders need. */
export interface StartOptions {
  /** The compiled cfwd binary (for `kind: "cfwd"`). */
  readonly cfwdBinary?: string;
  /** stf's `main.ts` (for `kind: "stf"`). */
  readonly stfMain?: string;
  /** How long stf may take to bring its interface up, in ms. */
  readonly stfStartTimeoutMs?: number;
}

/** A forwarder pair that runs, ready for measurements. */
export interface RunningForwarder {
  /** The address in B that A's traffic goes to. */
  readonly target: string;
  /** The forwarder processes of both ends, A's then B's (none for native). */
  readonly processes: readonly NsProcess[];
  /** The tunnel interface's name in both sites (none for native). */
  readonly ifname?: string;
  /** Stops both ends and waits for their interfaces to go. */
  stop(): Promise<void>;
}

/** A forwarder that could not be brought up; the message says why. */
export class StartError extends Error {
  /** The forwarder's last output, if any. */
  readonly output: string;

  /**
   * @param message why, in one line
   * @param output the forwarder's last output
   */
  constructor(message: string, output = "") {
    super(message);
    this.name = "StartError";
    this.output = output;
  }

  /** The message and the last line of output: the error a forwarder printed, usually. */
  get brief(): string {
    const last = this.output.trimEnd().split("\n").at(-1)?.trim() ?? "";
    return last === "" ? this.message : `${this.message}: ${last}`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface IpLink {
  readonly ifname: string;
  readonly flags?: readonly string[];
  readonly addr_info?: readonly { readonly local?: string }[];
}

async function link(ns: Netns, name: string): Promise<IpLink | undefined> {
  const out = await ns.run`ip -j addr show dev ${name}`.noThrow().quiet().stdout("piped");
  if (out.code !== 0) return undefined;
  const links = JSON.parse(out.stdout) as IpLink[];
  return links[0];
}

function linkReady(l: IpLink | undefined, address: string): boolean {
  return l !== undefined && (l.flags ?? []).includes("UP") &&
    (l.addr_info ?? []).some((a) => a.local === address);
}

/** Waits until `check` holds, a process of `procs` ends (StartError), or the time is up. */
async function waitFor(
  what: string,
  timeoutMs: number,
  procs: readonly NsProcess[],
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exit !== undefined);
    if (dead !== undefined) {
      const how = dead.exit?.signal ?? `code ${dead.exit?.code}`;
      throw new StartError(`${dead.label} exited (${how})`, dead.logTail(10));
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      const tails = procs.map((p) => p.logTail(5)).filter((t) => t !== "").join("\n");
      throw new StartError(`${what} not ready within ${timeoutMs / 1000} s`, tails);
    }
    await sleep(100);
  }
}

async function configureTunnel(ns: Netns, name: string, address: string): Promise<void> {
  await ns.run`ip addr add ${address}/16 dev ${name} nodad`;
  await ns.run`ip link set ${name} mtu ${TUNNEL_MTU} up`;
}

async function waitReachable(lab: BenchLab, target: string, procs: readonly NsProcess[]) {
  await waitFor(`${target} from A`, 5000, procs, async () => {
    const r = await lab.a.run`ping -c 1 -W 1 ${target}`.noThrow().quiet();
    return r.code === 0;
  });
}

async function stopAll(lab: BenchLab, procs: readonly NsProcess[], ifname: string) {
  await Promise.all(procs.map((p) => p.stop()));
  // A non-persistent TUN goes with its last fd; delete it ourselves if it lingers.
  for (const ns of [lab.a, lab.b]) {
    const deadline = Date.now() + 3000;
    while ((await link(ns, ifname)) !== undefined) {
      if (Date.now() > deadline) {
        await ns.run`ip link del ${ifname}`.noThrow().quiet();
        break;
      }
      await sleep(50);
    }
  }
}

async function startPair(
  lab: BenchLab,
  ifname: string,
  argvFor: (site: "A" | "B", peer: string) => string[],
  label: string,
  configure: boolean,
  timeoutMs: number,
): Promise<RunningForwarder> {
  const procs = [
    NsProcess.spawn(lab.a, argvFor("A", B_IPV4), `${label}@A`),
    NsProcess.spawn(lab.b, argvFor("B", A_IPV4), `${label}@B`),
  ];
  try {
    if (configure) {
      for (const [ns, address] of [[lab.a, A_TUNNEL_IPV6], [lab.b, B_TUNNEL_IPV6]] as const) {
        await waitFor(`${ifname} in ${ns.name}`, timeoutMs, procs, async () => {
          return (await link(ns, ifname)) !== undefined;
        });
        await configureTunnel(ns, ifname, address);
      }
    } else {
      for (const [ns, address] of [[lab.a, A_TUNNEL_IPV6], [lab.b, B_TUNNEL_IPV6]] as const) {
        await waitFor(`${ifname} (up, ${address}) in ${ns.name}`, timeoutMs, procs, async () => {
          return linkReady(await link(ns, ifname), address);
        });
      }
    }
    await waitReachable(lab, B_TUNNEL_IPV6, procs);
  } catch (e) {
    await stopAll(lab, procs, ifname);
    throw e;
  }
  return {
    target: B_TUNNEL_IPV6,
    processes: procs,
    ifname,
    stop: () => stopAll(lab, procs, ifname),
  };
}

/**
 * Starts a forwarder pair between the sites and waits until B's tunnel address answers A's
 * ping.
 *
 * @param lab the sites
 * @param spec which forwarder
 * @param options where its programs are
 * @throws {StartError} when it does not come up; nothing of it is left running
 */
export async function startForwarder(
  lab: BenchLab,
  spec: ForwarderSpec,
  options: StartOptions = {},
): Promise<RunningForwarder> {
  switch (spec.kind) {
    case "native":
      return { target: B_NATIVE_IPV6, processes: [], stop: () => Promise.resolve() };
    case "socat":
      // IP4-SENDTO both sends to and receives from the peer; socat strips the outer IPv4
      // header of what a raw IPv4 socket receives.
      return await startPair(
        lab,
        "socat0",
        (_, peer) => [
          "socat",
          "-b",
          "65536",
          "TUN,tun-type=tun,iff-no-pi,iff-up,tun-name=socat0",
          `IP4-SENDTO:${peer}:41`,
        ],
        "socat",
        true,
        3000,
      );
    case "cfwd": {
      const binary = options.cfwdBinary;
      if (binary === undefined) throw new StartError("cfwd was not built");
      return await startPair(
        lab,
        "cfwd0",
        (_, peer) => [binary, "cfwd0", peer],
        "cfwd",
        true,
        3000,
      );
    }
    case "denofwd": {
      const program = new URL("./denofwd.ts", import.meta.url).pathname;
      const argv = [Deno.execPath(), "run", "--allow-ffi", "--allow-read", program, "denofwd0"];
      return await startPair(
        lab,
        "denofwd0",
        (_, peer) => [...argv, peer],
        "denofwd",
        true,
        10_000,
      );
    }
    case "stf": {
      const main = spec.main ?? options.stfMain;
      if (main === undefined) throw new StartError("stf's main.ts was not found");
      const flags = spec.flags ?? [];
      return await startPair(
        lab,
        "stf0",
        (site) => [
          Deno.execPath(),
          "run",
          "-A",
          // As deno.json's stf task and deno compile run it, with the row's own flags added.
          `--v8-flags=${[...STF_V8_FLAGS, ...(spec.v8Flags ?? [])].join(",")}`,
          main,
          "run",
          "--ipv4",
          site === "A" ? A_IPV4 : B_IPV4,
          "--name",
          "stf0",
          ...flags,
        ],
        spec.name,
        false,
        options.stfStartTimeoutMs ?? 10_000,
      );
    }
  }
}
