/**
 * Helpers for lab tests: network namespaces with unique names, removed even when a test fails.
 * Lab tests need root and `ip netns`; elsewhere they are skipped with the reason, unless
 * `STF_REQUIRE_LAB=1`, where a missing prerequisite fails the test instead.
 *
 * @module
 */
import $ from "dax";
import { STF_V8_FLAGS_ARGUMENT } from "../../lib/v8_flags.ts";

/** Why lab tests cannot run here, or `undefined` when they can. */
export function labUnavailableReason(): string | undefined {
  if (Deno.build.os !== "linux") return "lab tests need Linux";
  if (Deno.uid() !== 0) return "lab tests need root (network namespaces, /dev/net/tun)";
  try {
    Deno.statSync("/dev/net/tun");
  } catch {
    return "lab tests need /dev/net/tun";
  }
  const ip = new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" });
  try {
    if (!ip.outputSync().success) return "lab tests need `ip netns` (iproute2) to work";
  } catch {
    return "lab tests need the `ip` command (Debian package iproute2)";
  }
  return undefined;
}

const unavailable = labUnavailableReason();
const required = Deno.env.get("STF_REQUIRE_LAB") === "1";
if (unavailable !== undefined && !required) {
  console.error(`%cSkipping lab tests: ${unavailable}`, "color: yellow");
}

/**
 * Registers a lab test: skipped (with the reason printed once) where the lab cannot run, and
 * failing where `STF_REQUIRE_LAB=1` demands it.
 *
 * @param name the test's name, a sentence
 * @param fn the test body
 */
export function labTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({
    name,
    ignore: unavailable !== undefined && !required,
    // Lab tests spawn processes and open devices that outlive a single await.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      if (unavailable !== undefined) throw new Error(`Cannot run lab test: ${unavailable}`);
      await fn(t);
    },
  });
}

let counter = 0;

/** A unique, short name for a namespace or an interface (at most 15 bytes). */
export function uniqueName(prefix: string): string {
  counter++;
  const tag = `${Deno.pid.toString(36)}${counter.toString(36)}`;
  return `${prefix}${tag}`.slice(0, 15);
}

/** A network namespace made for one test. */
export class Netns implements AsyncDisposable {
  /** The namespace's name. */
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates a namespace with a unique name, loopback up. */
  static async create(prefix = "stft"): Promise<Netns> {
    const name = uniqueName(prefix);
    await $`ip netns add ${name}`;
    const ns = new Netns(name);
    try {
      await ns.run`ip link set lo up`;
      // Deterministic IPv6: no DAD delays, no router solicitations from our test links.
      await ns.run`sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0`;
    } catch (e) {
      await ns[Symbol.asyncDispose]();
      throw e;
    }
    return ns;
  }

  /** Runs a command inside the namespace (a dax template: values are escaped). */
  run(strings: TemplateStringsArray, ...values: unknown[]) {
    const parts = ["ip netns exec ", ` ${strings[0]}`, ...strings.slice(1)];
    const template = Object.assign(parts, { raw: parts }) as unknown as TemplateStringsArray;
    return $(template, this.name, ...(values as Parameters<typeof $>[1][]));
  }

  /** The argv prefix that runs a program inside this namespace. */
  exec(...argv: string[]): string[] {
    return ["ip", "netns", "exec", this.name, ...argv];
  }

  /** Runs a command in the namespace and parses its JSON output (for `ip -j …`). */
  async json<T = unknown>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T> {
    return JSON.parse(await this.run(strings, ...values).text()) as T;
  }

  /** Deletes the namespace (and every interface in it); kills processes still inside. */
  async [Symbol.asyncDispose](): Promise<void> {
    const pids = await $`ip netns pids ${this.name}`.noThrow().quiet().text();
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* already gone */ }
    }
    await $`ip netns del ${this.name}`.noThrow().quiet();
  }
}

/**
 * Creates a veth pair between two namespaces (`a` side named `nameA`, `b` side `nameB`), both
 * up.
 */
export async function vethPair(
  a: Netns,
  nameA: string,
  b: Netns,
  nameB: string,
): Promise<void> {
  const tmpA = uniqueName("va");
  const tmpB = uniqueName("vb");
  await $`ip link add ${tmpA} type veth peer name ${tmpB}`;
  await $`ip link set ${tmpA} netns ${a.name}`;
  await $`ip link set ${tmpB} netns ${b.name}`;
  await a.run`ip link set ${tmpA} name ${nameA}`;
  await b.run`ip link set ${tmpB} name ${nameB}`;
  await a.run`ip link set ${nameA} up`;
  await b.run`ip link set ${nameB} up`;
}

/**
 * Makes a veth link merge what `receiver` gets as a NIC with GRO and interrupt moderation
 * does (every real uplink's default), or undoes it. A plain veth never merges the 6in4 packets
 * of a raw socket: veth takes its NAPI path, where GRO runs, only for packets the sender's veth
 * cannot segment (so: no TSO/GSO there), GRO must be on at the receiver, and
 * `gro_flush_timeout` with `napi_defer_hard_irqs` hold packets across polls so they merge.
 *
 * @param sender the sending end's namespace and interface
 * @param receiver the receiving end's namespace and interface
 * @param on merge (true) or the veth defaults (false)
 */
export async function mergeLikeNic(
  sender: { readonly ns: Netns; readonly dev: string },
  receiver: { readonly ns: Netns; readonly dev: string },
  on: boolean,
): Promise<void> {
  const offloads = on ? "off" : "on";
  await sender.ns.run`ethtool -K ${sender.dev} tso ${offloads} gso ${offloads}`.quiet();
  await receiver.ns.run`ethtool -K ${receiver.dev} gro ${on ? "on" : "off"}`.quiet();
  const sysfs = `/sys/class/net/${receiver.dev}`;
  await receiver.ns.run`sh -c ${
    `echo ${on ? 200000 : 0} > ${sysfs}/gro_flush_timeout && ` +
    `echo ${on ? 2 : 0} > ${sysfs}/napi_defer_hard_irqs`
  }`;
}

/** The repository root, for running `main.ts`. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Extra `stf run` flags for every stf the lab starts, from `STF_LAB_RUN_FLAGS` (words split on
 * spaces): how `tuning_test.ts` runs the `stf run` lab tests with each optimisation
 * switched off (`--batch 1`, `--no-offload`) or changed (`--queues 2`).
 */
export function labRunFlags(): string[] {
  return (Deno.env.get("STF_LAB_RUN_FLAGS") ?? "").split(" ").filter((w) => w !== "");
}

/** The argv that runs stf from source, with the V8 flags stf always runs with. */
export function stfArgv(...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", STF_V8_FLAGS_ARGUMENT, `${ROOT}main.ts`, ...args];
}
