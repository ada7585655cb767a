/**
 * `stf status`: the interface as the kernel has it (does it exist, did stf make it, up, MTU,
 * addresses, routes) and the running forwarder's mode and counters, asked through its control
 * socket — or a clear line that no forwarder is running.
 *
 * `--json` prints one object whose field names are stable (docs/json-output.md):
 *
 * - `name` (string): the interface name asked about.
 * - `exists` (boolean): whether an interface of that name exists.
 * - `madeByStf` (boolean): whether it is a TUN device marked by `stf up` or `stf run`.
 * - `up` (boolean): administratively up (`false` when it does not exist).
 * - `mtu` (number | null): its MTU, `null` when it does not exist.
 * - `address` (string | null): its first non-link-local IPv6 address with length.
 * - `addresses` (string[]): all its non-link-local IPv6 addresses with length.
 * - `routes` (string[]): the prefixes routed through it (on-link and stf's routes).
 * - `controlSocket` (string): the control socket path asked.
 * - `forwarder` (object | null): `null` when no forwarder answers; else `pid`, `version`,
 *   `mode`, `ipv4`, `address`, `startedAt` (ISO 8601), `queues`, `counters` (per direction
 *   `packets`, `bytes`, `dropped` {reason: n}, `ioErrors`, `icmpSent`, `pathMtuUpdates`),
 *   `relay` (the active one, or `null`) and `relays` (`[{address, state, active, rttMs,
 *   lostInARow}]`, in order of preference).
 *
 * @module
 */
import { defaultControlSocketPaths, type ForwarderStatus, queryControl } from "../control/mod.ts";
import { formatCounters } from "../dataplane/counters.ts";
import {
  type InterfaceState,
  readInterfaceState,
  stateToJson,
  validateInterfaceName,
} from "../netif/mod.ts";

/** Options of `stf status`, as parsed from the command line. */
export interface StatusOptions {
  /** The interface name (default `stf0`). */
  readonly name: string;
  /** Print JSON instead of text. */
  readonly json?: boolean;
  /**
   * The control socket (default `/run/stf/<name>.sock`, `/run/stf/netns-<inode>/<name>.sock`
   * outside the host's network namespace: `defaultControlSocketPaths`).
   */
  readonly controlSocket?: string;
}

/** The `--json` document of `stf status` (see the module documentation). */
export interface StatusDocument {
  /** The interface name. */
  readonly name: string;
  /** Whether the interface exists. */
  readonly exists: boolean;
  /** Whether stf made it. */
  readonly madeByStf: boolean;
  /** Administratively up. */
  readonly up: boolean;
  /** The MTU, or `null`. */
  readonly mtu: number | null;
  /** The first address with length, or `null`. */
  readonly address: string | null;
  /** Every non-link-local address with length. */
  readonly addresses: readonly string[];
  /** The prefixes routed through it. */
  readonly routes: readonly string[];
  /** The control socket asked. */
  readonly controlSocket: string;
  /** The running forwarder, or `null`. */
  readonly forwarder: Omit<ForwarderStatus, "name"> | null;
}

/**
 * Builds the status document: reads the interface and asks the forwarder.
 *
 * @param options the interface name and the control socket
 * @throws {RangeError} when the name is not a valid interface name
 * @throws {OperationError} when the control socket exists but cannot be used
 */
export async function readStatus(options: StatusOptions): Promise<StatusDocument> {
  validateInterfaceName(options.name);
  const state: InterfaceState | undefined = readInterfaceState(options.name);
  // The same rule as `stf run`; asks each candidate until one answers (the first is reported
  // when none does).
  const candidates = options.controlSocket === undefined
    ? defaultControlSocketPaths(options.name)
    : [options.controlSocket];
  let controlSocket = candidates[0];
  let forwarder: ForwarderStatus | undefined;
  for (const path of candidates) {
    forwarder = await queryControl(path);
    if (forwarder !== undefined) {
      controlSocket = path;
      break;
    }
  }
  const kernel = state === undefined ? undefined : stateToJson(state, []);
  return {
    name: options.name,
    exists: state !== undefined,
    madeByStf: state?.madeByStf ?? false,
    up: state?.up ?? false,
    mtu: state?.mtu ?? null,
    address: (kernel?.address as string | null | undefined) ?? null,
    addresses: (kernel?.addresses as string[] | undefined) ?? [],
    routes: (kernel?.routes as string[] | undefined) ?? [],
    controlSocket,
    forwarder: forwarder === undefined ? null : withoutName(forwarder),
  };
}

function withoutName(status: ForwarderStatus): Omit<ForwarderStatus, "name"> {
  const { name: _, ...rest } = status;
  return rest;
}

/**
 * Formats the status document as text lines.
 *
 * @param doc the document
 */
export function formatStatus(doc: StatusDocument): string {
  const lines: string[] = [];
  if (!doc.exists) {
    lines.push(`Interface ${doc.name}: does not exist (stf up creates it)`);
  } else {
    const made = doc.madeByStf ? "made by stf" : "not made by stf";
    lines.push(`Interface ${doc.name}: ${doc.up ? "up" : "down"}, MTU ${doc.mtu}, ${made}`);
    if (doc.addresses.length === 0) lines.push("  no IPv6 address");
    for (const a of doc.addresses) lines.push(`  address ${a}`);
    for (const r of doc.routes) lines.push(`  route ${r}`);
  }
  const f = doc.forwarder;
  if (f === null) {
    lines.push(`No forwarder running (nothing answers on ${doc.controlSocket})`);
  } else {
    lines.push(
      `Forwarder: running, pid ${f.pid}, stf ${f.version}, since ${f.startedAt}`,
      `  mode ${f.mode}, own IPv4 ${f.ipv4}, address ${f.address}`,
      ...(f.ownIpv4Unavailable == null
        ? []
        : [`  egress paused (own-ipv4-unavailable): ${f.ownIpv4Unavailable}`]),
      ...((f.addressChanges ?? 0) === 0 && (f.prefixHookFailures ?? 0) === 0 ? [] : [
        `  own IPv4 changes followed: ${f.addressChanges ?? 0}, prefix hook failures: ` +
        `${f.prefixHookFailures ?? 0}`,
      ]),
      ...formatCounters(f.counters).split("\n").map((line) => `  ${line}`),
    );
    for (const r of f.relays ?? []) {
      const rtt = r.rttMs === null ? "no answer yet" : `RTT ${r.rttMs.toFixed(1)} ms`;
      const lost = r.lostInARow > 0 ? `, ${r.lostInARow} lost in a row` : "";
      lines.push(`  relay ${r.address}: ${r.state}${r.active ? ", active" : ""}, ${rtt}${lost}`);
    }
    if ((f.queues ?? []).length > 1) {
      const each = f.queues.map((q, i) => `${i}: ${q.egress}/${q.ingress}`).join(", ");
      lines.push(`  ${f.queues.length} queues, packets forwarded egress/ingress: ${each}`);
    }
  }
  return lines.join("\n");
}

/**
 * Runs `stf status`.
 *
 * @param options the command's options
 * @returns 0 when the interface exists, 1 when it does not
 * @throws {RangeError} when the name is not a valid interface name (exit 2)
 * @throws {OperationError} when the control socket exists but cannot be used (exit 1)
 */
export async function runStatus(options: StatusOptions): Promise<number> {
  const doc = await readStatus(options);
  console.log(options.json ? JSON.stringify(doc, null, 2) : formatStatus(doc));
  return doc.exists ? 0 : 1;
}
