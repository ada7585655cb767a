/**
 * The desired state of an stf interface, computed from what the user asked for and what the
 * host has, with the configuration-time checks of docs/filtering.md; and the difference between
 * a desired and an actual state as a list of changes. Pure: nothing here touches the OS, so
 * `stf up`, `stf run` and the tests share it.
 *
 * @module
 */
import {
  classifyIpv4,
  formatIpv4,
  formatIpv6,
  formatIpv6Prefix,
  type Ipv4Address,
  type Ipv6Address,
  ipv6Equal,
  type Ipv6Prefix,
  isMartianIpv4,
  isNonGlobalSixToFourIpv4,
  maskIpv6,
  parseIpv4,
  parseIpv6,
  parseIpv6Prefix,
  SIX_TO_FOUR_DOMAIN,
  type SixRdDomain,
  sixRdPrefix,
  subnetPrefix,
  tryParseIpv4,
  withInterfaceId,
} from "../addr/mod.ts";
import { OperationError, PolicyError } from "../errors.ts";
import { MAX_TUNNEL_MTU, MIN_TUNNEL_MTU } from "../packet/path_mtu.ts";
import type { HostIpv4Address } from "./host.ts";

/** The metric of the routes stf adds (the kernel's default for user routes). */
export const ROUTE_METRIC = 1024;

/** What the user asked for, as plain typed values (from flags or a config file). */
export interface InterfaceRequest {
  /** An IPv4 address, an interface name (its address), or `auto` (the host's global one). */
  readonly ipv4: string;
  /** The interface name. */
  readonly name: string;
  /** The MTU (1280..1480). */
  readonly mtu: number;
  /** The subnet ID after the delegated prefix. */
  readonly subnet: number;
  /** The interface ID: an IPv6 address whose low 64 bits are used, e.g. `::1`. */
  readonly interfaceId: string;
  /** The relay's IPv4 address, when one is used. */
  readonly relay?: string;
  /** Route `::/0` through the interface (needs a relay). */
  readonly defaultRoute: boolean;
  /** More prefixes routed through the interface. */
  readonly routes: readonly string[];
  /** The user (name or uid) allowed to attach to the TUN without privileges. */
  readonly owner?: string;
  /** Accept an own IPv4 in C4 or 100.64.0.0/10. */
  readonly allowNonGlobal: boolean;
  /**
   * Behind a 1:1 NAT: the local address that the NAT maps `ipv4` (then a public address that
   * is not on this host) to. It must be an address of this host instead (`own-ipv4-not-local`).
   */
  readonly bindIpv4?: string;
  /** The 6rd domain; 6to4 (`2002::/16`) when absent. */
  readonly domain?: SixRdDomain;
}

/** What the plan needs to know about the host. */
export interface HostFacts {
  /** The host's IPv4 addresses. */
  readonly ipv4Addresses: readonly HostIpv4Address[];
  /** Resolves a user name or number to a uid (`undefined` when unknown). */
  readonly userIdOf?: (user: string) => number | undefined;
}

/** The desired state of the interface. */
export interface InterfacePlan {
  /** The interface name. */
  readonly name: string;
  /** Our IPv4 address. */
  readonly ipv4: Ipv4Address;
  /** The relay, when configured. */
  readonly relay?: Ipv4Address;
  /** The interface's address `2002:V4:SUBNET::IID` (or its 6rd equivalent). */
  readonly address: Ipv6Address;
  /** The address's prefix length: the 6to4 (or 6rd) prefix's, so the domain is on-link. */
  readonly prefixLength: number;
  /** The MTU. */
  readonly mtu: number;
  /** Routes besides the address's own prefix (`::/0`, `--route`), in order. */
  readonly routes: readonly Ipv6Prefix[];
  /** The uid owning the TUN, when asked for. */
  readonly owner?: number;
  /** The alias marking the interface as stf's. */
  readonly alias: string;
}

/**
 * Checks an interface name as the kernel does (`dev_valid_name`): 1..15 bytes, not `.` or
 * `..`, no `/`, `:` or whitespace.
 *
 * @param name the name
 * @throws {RangeError} when the kernel would refuse it
 */
export function validateInterfaceName(name: string): void {
  const length = new TextEncoder().encode(name).length;
  if (length === 0) throw new RangeError(`Cannot use an empty interface name`);
  if (length > 15) {
    throw new RangeError(
      `Cannot use interface name "${name}": it is ${length} bytes long, the maximum is 15`,
    );
  }
  if (name === "." || name === ".." || /[/:\s\0]/.test(name)) {
    throw new RangeError(
      `Cannot use interface name "${name}": it may not be "." or ".." nor contain "/", ":" ` +
        `or whitespace`,
    );
  }
}

/**
 * Checks the tunnel MTU (reason `mtu-out-of-range`, RFC 4213 §3.2).
 *
 * @param name the interface name
 * @param mtu the MTU
 * @throws {PolicyError} when outside 1280..1480
 */
export function checkMtu(name: string, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU || mtu > MAX_TUNNEL_MTU) {
    const bound = mtu < MIN_TUNNEL_MTU
      ? `minimum is ${MIN_TUNNEL_MTU}`
      : `maximum is ${MAX_TUNNEL_MTU}`;
    throw new PolicyError(
      "mtu-out-of-range",
      `Cannot set MTU of "${name}" to ${mtu}: ${bound} (RFC 4213 §3.2)`,
    );
  }
}

function listAddresses(addresses: readonly HostIpv4Address[]): string {
  return addresses.map((a) => `${formatIpv4(a.address)} on ${a.interface}`).join(", ");
}

function nonGlobalError(ipv4: Ipv4Address): PolicyError {
  const block = classifyIpv4(ipv4) ?? { name: "shared-address-space", rfc: "RFC 6598" };
  return new PolicyError(
    "own-ipv4-not-global",
    `Cannot use "${formatIpv4(ipv4)}" for 6to4: it is a ${block.name} address ` +
      `(${block.rfc}), not reachable from the IPv4 Internet (RFC 3056 §2); ` +
      `use --allow-non-global for a lab`,
  );
}

/**
 * Returns the IPv4 addresses of one interface of the host.
 *
 * @param name the interface name
 * @param host the host's IPv4 addresses
 * @throws {OperationError} when it has none, naming the interfaces that have some
 */
export function addressesOfInterface(
  name: string,
  host: readonly HostIpv4Address[],
): HostIpv4Address[] {
  const mine = host.filter((a) => a.interface === name);
  if (mine.length === 0) {
    const names = [...new Set(host.map((a) => a.interface))].join(", ");
    throw new OperationError(
      `Cannot find an IPv4 address on interface "${name}"` +
        (names ? `: interfaces with IPv4 are ${names}` : ""),
    );
  }
  return mine;
}

/**
 * Resolves `--ipv4` (an address, an interface name or `auto`) to this host's IPv4 address and
 * applies `own-ipv4-not-global` and `own-ipv4-not-local`.
 *
 * @param target what the user wrote
 * @param host the host's addresses
 * @param options whether non-global addresses are allowed, and the 6rd domain (the
 *   `own-ipv4-not-global` check applies to 6to4 only)
 * @throws {PolicyError} `own-ipv4-not-global`, `own-ipv4-not-local` (exit 2)
 * @throws {RangeError} when `auto` or an interface gives several candidates
 * @throws {OperationError} when `auto` or an interface gives none
 */
export function resolveOwnIpv4(
  target: string,
  host: HostFacts,
  options: {
    readonly allowNonGlobal: boolean;
    readonly domain?: SixRdDomain;
    /** Skip `own-ipv4-not-local` for an address (behind a NAT the bind address is checked). */
    readonly behindNat?: boolean;
  },
): Ipv4Address {
  const sixToFour = (options.domain ?? SIX_TO_FOUR_DOMAIN) === SIX_TO_FOUR_DOMAIN;
  const acceptable = (a: Ipv4Address) =>
    !(sixToFour && !options.allowNonGlobal && isNonGlobalSixToFourIpv4(a)) &&
    !(a >>> 24 === 127);
  const direct = tryParseIpv4(target);
  if (direct !== undefined) {
    if (sixToFour && !options.allowNonGlobal && isNonGlobalSixToFourIpv4(direct)) {
      throw nonGlobalError(direct);
    }
    if (!options.behindNat && !host.ipv4Addresses.some((a) => a.address === direct)) {
      const have = host.ipv4Addresses.filter((a) => a.address >>> 24 !== 127);
      throw new PolicyError(
        "own-ipv4-not-local",
        `Cannot use "${target}" as this host's IPv4 address: it is not an address of this host ` +
          `(RFC 3056 §3)` + (have.length > 0 ? `; this host has ${listAddresses(have)}` : ""),
      );
    }
    return direct;
  }
  if (target === "auto") {
    const global = host.ipv4Addresses.filter((a) => acceptable(a.address));
    const unique = [...new Map(global.map((a) => [a.address, a])).values()];
    if (unique.length === 0) {
      throw new OperationError(
        `Cannot find a global IPv4 address on this host: give one with --ipv4` +
          (sixToFour && !options.allowNonGlobal ? " (or --allow-non-global for a lab)" : ""),
      );
    }
    if (unique.length > 1) {
      throw new RangeError(
        `Cannot choose an IPv4 address: this host has ${unique.length} ` +
          `(${listAddresses(unique)}); give one with --ipv4`,
      );
    }
    return unique[0].address;
  }
  if (/^[\d.]+$/.test(target) || target.includes("/")) {
    throw new SyntaxError(`Cannot parse "${target}" as an IPv4 address`);
  }
  const mine = addressesOfInterface(target, host.ipv4Addresses);
  const usable = mine.filter((a) => acceptable(a.address));
  if (usable.length === 0) throw nonGlobalError(mine[0].address);
  if (usable.length > 1) {
    throw new RangeError(
      `Cannot choose an IPv4 address of "${target}": it has ${usable.length} ` +
        `(${listAddresses(usable)}); give one with --ipv4`,
    );
  }
  return usable[0].address;
}

function parseInterfaceId(text: string): Ipv6Address {
  const iid = parseIpv6(text.includes(":") ? text : `::${text}`);
  if (iid.subarray(0, 8).some((b) => b !== 0)) {
    throw new RangeError(
      `Cannot use interface ID "${text}": only the low 64 bits may be set (e.g. ::1)`,
    );
  }
  return iid;
}

/**
 * Computes the desired state of the interface and runs the configuration-time checks
 * (`own-ipv4-not-global`, `own-ipv4-not-local`, `mtu-out-of-range`).
 *
 * @param request what the user asked for
 * @param host the host's addresses and users
 * @throws {PolicyError} a configuration-time filter check failed (exit 2)
 * @throws {SyntaxError} a malformed address or prefix (exit 2)
 * @throws {RangeError} a value out of range (exit 2)
 * @throws {OperationError} `auto` found no address (exit 1)
 */
export function planInterface(request: InterfaceRequest, host: HostFacts): InterfacePlan {
  validateInterfaceName(request.name);
  checkMtu(request.name, request.mtu);
  const domain = request.domain ?? SIX_TO_FOUR_DOMAIN;
  const ipv4 = resolveOwnIpv4(request.ipv4, host, {
    allowNonGlobal: request.allowNonGlobal,
    domain,
    behindNat: request.bindIpv4 !== undefined,
  });
  if (request.bindIpv4 !== undefined) {
    const bind = parseIpv4(request.bindIpv4);
    if (!host.ipv4Addresses.some((a) => a.address === bind)) {
      throw new PolicyError(
        "own-ipv4-not-local",
        `Cannot bind to "${request.bindIpv4}": it is not an address of this host (RFC 3056 §3)`,
      );
    }
  }
  const relay = request.relay === undefined ? undefined : parseIpv4(request.relay);
  if (relay !== undefined && isMartianIpv4(relay)) {
    const block = classifyIpv4(relay);
    throw new PolicyError(
      "dst-ipv4-invalid",
      `Cannot use relay "${request.relay}": it is a ${block?.name} address (${block?.rfc}); ` +
        `every packet to it would be dropped (RFC 3056 §9)`,
    );
  }
  if (request.defaultRoute && relay === undefined) {
    throw new RangeError(
      `Cannot route ::/0 through "${request.name}" without a relay: add --relay IPV4 ` +
        `(RFC 7526 §5: there is no default relay)`,
    );
  }
  const delegated = sixRdPrefix(ipv4, domain);
  const subnet = subnetPrefix(delegated, request.subnet);
  const address = withInterfaceId(subnet, parseInterfaceId(request.interfaceId));
  const prefixLength = domain.prefix.length;
  const onLink = { address: maskIpv6(address, prefixLength), length: prefixLength };
  const routes: Ipv6Prefix[] = [];
  const add = (prefix: Ipv6Prefix) => {
    if (prefixEqual(prefix, onLink)) return; // on-link already through the address
    if (!routes.some((r) => prefixEqual(r, prefix))) routes.push(prefix);
  };
  if (request.defaultRoute) add({ address: new Uint8Array(16), length: 0 });
  for (const text of request.routes) add(parseIpv6Prefix(text));
  let owner: number | undefined;
  if (request.owner !== undefined) {
    owner = host.userIdOf?.(request.owner) ??
      (/^\d+$/.test(request.owner) ? Number(request.owner) : undefined);
    if (owner === undefined) {
      throw new RangeError(`Cannot make "${request.owner}" the owner: no such user`);
    }
  }
  const alias = `stf ${domain === SIX_TO_FOUR_DOMAIN ? "6to4" : "6rd"} ${formatIpv4(ipv4)}` +
    (relay === undefined ? "" : ` relay ${formatIpv4(relay)}`);
  return {
    name: request.name,
    ipv4,
    ...(relay === undefined ? {} : { relay }),
    address,
    prefixLength,
    mtu: request.mtu,
    routes,
    ...(owner === undefined ? {} : { owner }),
    alias,
  };
}

/**
 * Tells whether two prefixes are the same.
 *
 * @param a a prefix
 * @param b another
 */
export function prefixEqual(a: Ipv6Prefix, b: Ipv6Prefix): boolean {
  return a.length === b.length &&
    ipv6Equal(maskIpv6(a.address, a.length), maskIpv6(b.address, b.length));
}

/** An address with its prefix length. */
export interface AddressWithLength {
  /** The address. */
  readonly address: Ipv6Address;
  /** The prefix length. */
  readonly prefixLength: number;
}

/** The actual state of an interface, as read from the kernel. */
export interface InterfaceState {
  /** The name. */
  readonly name: string;
  /** The index. */
  readonly ifindex: number;
  /** The TUN flags, or `undefined` when it is not a TUN device. */
  readonly tunFlags?: number;
  /** Its alias. */
  readonly alias: string;
  /** Whether the alias marks it as made by stf. */
  readonly madeByStf: boolean;
  /** Administratively up. */
  readonly up: boolean;
  /** The MTU. */
  readonly mtu: number;
  /** The TUN owner's uid, when set. */
  readonly owner?: number;
  /** Its IPv6 addresses other than link-local ones. */
  readonly addresses: readonly AddressWithLength[];
  /** The routes stf manages through it (metric 1024; not the kernel's prefix routes). */
  readonly routes: readonly Ipv6Prefix[];
}

/** The kind of one change. */
export type ChangeKind =
  | "create"
  | "owner"
  | "alias"
  | "mtu"
  | "up"
  | "address-delete"
  | "address-add"
  | "route-delete"
  | "route-add"
  | "delete";

/** One step from the actual to the desired state. */
export interface Change {
  /** What it does. */
  readonly kind: ChangeKind;
  /** What was done, for people (`added address 2002:c633:640a::1/16 to "stf0"`). */
  readonly description: string;
  /** The equivalent iproute2 command, for `--dry-run`. */
  readonly command: string;
  /** The address, for address changes. */
  readonly address?: AddressWithLength;
  /** The prefix, for route changes. */
  readonly route?: Ipv6Prefix;
}

function quote(text: string): string {
  return /^[\w.:/@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

function formatAddress(a: AddressWithLength): string {
  return `${formatIpv6(a.address)}/${a.prefixLength}`;
}

function addressEqual(a: AddressWithLength, b: AddressWithLength): boolean {
  return a.prefixLength === b.prefixLength && ipv6Equal(a.address, b.address);
}

/**
 * Lists the changes that turn the actual state (or no interface) into the plan, in the
 * order they must be applied: create, owner, alias, MTU, up, addresses, routes (IPv6 routes
 * need the link up).
 *
 * @param plan the desired state
 * @param state the actual state, `undefined` when the interface does not exist
 */
export function diffInterface(plan: InterfacePlan, state: InterfaceState | undefined): Change[] {
  const name = plan.name;
  const dev = quote(name);
  const changes: Change[] = [];
  if (state === undefined) {
    const owner = plan.owner === undefined ? "" : ` user ${plan.owner}`;
    changes.push({
      kind: "create",
      description: `created persistent TUN device "${name}"` +
        (plan.owner === undefined ? "" : ` owned by uid ${plan.owner}`),
      command: `ip tuntap add dev ${dev} mode tun${owner}`,
    });
  } else if (plan.owner !== undefined && state.owner !== plan.owner) {
    changes.push({
      kind: "owner",
      description: `set the owner of "${name}" to uid ${plan.owner}`,
      command: `ip tuntap add dev ${dev} mode tun user ${plan.owner}`,
    });
  }
  if (state?.alias !== plan.alias) {
    changes.push({
      kind: "alias",
      description: `set the alias of "${name}" to "${plan.alias}"`,
      command: `ip link set dev ${dev} alias ${quote(plan.alias)}`,
    });
  }
  if (state?.mtu !== plan.mtu) {
    changes.push({
      kind: "mtu",
      description: `set MTU of "${name}" to ${plan.mtu}` +
        (state === undefined ? "" : ` (was ${state.mtu})`),
      command: `ip link set dev ${dev} mtu ${plan.mtu}`,
    });
  }
  if (state?.up !== true) {
    changes.push({
      kind: "up",
      description: `set "${name}" up`,
      command: `ip link set dev ${dev} up`,
    });
  }
  const want: AddressWithLength = { address: plan.address, prefixLength: plan.prefixLength };
  for (const a of state?.addresses ?? []) {
    if (addressEqual(a, want)) continue;
    changes.push({
      kind: "address-delete",
      description: `deleted address ${formatAddress(a)} from "${name}"`,
      command: `ip -6 addr del ${formatAddress(a)} dev ${dev}`,
      address: a,
    });
  }
  if (!(state?.addresses ?? []).some((a) => addressEqual(a, want))) {
    changes.push({
      kind: "address-add",
      description: `added address ${formatAddress(want)} to "${name}"`,
      command: `ip -6 addr add ${formatAddress(want)} dev ${dev}`,
      address: want,
    });
  }
  for (const r of state?.routes ?? []) {
    if (plan.routes.some((p) => prefixEqual(p, r))) continue;
    changes.push(routeChange("route-delete", name, r));
  }
  for (const r of plan.routes) {
    if ((state?.routes ?? []).some((p) => prefixEqual(p, r))) continue;
    changes.push(routeChange("route-add", name, r));
  }
  return changes;
}

function routeChange(kind: "route-add" | "route-delete", name: string, route: Ipv6Prefix): Change {
  const text = formatIpv6Prefix(route);
  const add = kind === "route-add";
  return {
    kind,
    description: `${add ? "added" : "deleted"} route ${text} ${add ? "through" : "from"} "${name}"`,
    command: `ip -6 route ${add ? "add" : "del"} ${text} dev ${quote(name)} metric ${ROUTE_METRIC}`,
    route,
  };
}

/**
 * Lists the changes that remove an stf interface: its routes, its addresses, then the device.
 *
 * @param state the actual state
 */
export function diffRemoval(state: InterfaceState): Change[] {
  const name = state.name;
  const changes: Change[] = state.routes.map((r) => routeChange("route-delete", name, r));
  for (const a of state.addresses) {
    changes.push({
      kind: "address-delete",
      description: `deleted address ${formatAddress(a)} from "${name}"`,
      command: `ip -6 addr del ${formatAddress(a)} dev ${quote(name)}`,
      address: a,
    });
  }
  changes.push({
    kind: "delete",
    description: `deleted TUN device "${name}"`,
    command: `ip tuntap del dev ${quote(name)} mode tun`,
  });
  return changes;
}

/**
 * The state as `--json` prints it.
 *
 * @param state the state (after the changes)
 * @param changes what was changed
 */
export function stateToJson(
  state: InterfaceState,
  changes: readonly Change[],
): Record<string, unknown> {
  const onLink = state.addresses.map((a) =>
    formatIpv6Prefix({ address: maskIpv6(a.address, a.prefixLength), length: a.prefixLength })
  );
  return {
    name: state.name,
    ifindex: state.ifindex,
    address: state.addresses.length === 0 ? null : formatAddress(state.addresses[0]),
    addresses: state.addresses.map(formatAddress),
    mtu: state.mtu,
    up: state.up,
    ...(state.owner === undefined ? {} : { owner: state.owner }),
    routes: [...new Set([...onLink, ...state.routes.map(formatIpv6Prefix)])],
    changed: changes.map((c) => c.description),
  };
}
