/**
 * Following a changing own IPv4 address (a DHCP or PPPoE uplink): from where stf stands and
 * the host's addresses read after an rtnetlink event, the one step to take. Pure: the same
 * `planInterface` and `diffInterface` as `stf up` compute the new interface and what changes,
 * so the checks at start (`own-ipv4-not-global`, `own-ipv4-not-local`, one candidate only)
 * apply to a new address alike, and a step depends only on the state and the latest reading:
 * however many changes come in a burst, stf ends in the state of the last one.
 *
 * - An interface or `auto` (`--ipv4 eth0`): the address in force is kept while it is still
 *   there; when it is gone, the one acceptable address that replaced it is taken (`change`).
 *   None, several, or only a non-global one (without `allow-non-global`): egress `pause`s.
 * - A literal address: it never changes by itself; it leaving the host pauses egress, it
 *   coming back resumes.
 * - Behind a 1:1 NAT (`bind-ipv4`): the public address is not on this host, so nothing tells
 *   stf it changed (SIGHUP with a new configuration does); the bind address leaving the host
 *   pauses egress, its return resumes.
 *
 * @module
 */
import {
  formatIpv4,
  formatIpv6Prefix,
  type Ipv4Address,
  SIX_TO_FOUR_DOMAIN,
  sixRdPrefix,
  tryParseIpv4,
} from "../addr/mod.ts";
import {
  type Change,
  diffInterface,
  type HostFacts,
  type InterfacePlan,
  type InterfaceRequest,
  type InterfaceState,
  planInterface,
} from "./plan.ts";

/** Where stf stands with its own IPv4 address. */
export interface OwnIpv4State {
  /** The interface plan in force (after a pause: the last one applied, kept on the interface). */
  readonly plan: InterfacePlan;
  /** Why egress is paused (`own-ipv4-unavailable`); absent while forwarding. */
  readonly paused?: string;
}

/** The step to take after reading the host's addresses. */
export type OwnIpv4Step =
  /** Nothing changed that matters. */
  | { readonly kind: "none"; readonly state: OwnIpv4State }
  /** Pause egress: no usable own IPv4 address (the interface keeps its address). */
  | { readonly kind: "pause"; readonly state: OwnIpv4State; readonly why: string }
  /** The same address is back: resume egress. */
  | { readonly kind: "resume"; readonly state: OwnIpv4State }
  /** A new address: re-address the interface, swap the policy, run the hook. */
  | {
    readonly kind: "change";
    readonly state: OwnIpv4State;
    /** The plan before. */
    readonly old: InterfacePlan;
    /** The plan after. */
    readonly next: InterfacePlan;
    /** What changes on the interface, in order (address, alias; routes that differ). */
    readonly changes: readonly Change[];
    /** The site prefix before, as `stf prefix` prints it (`2002:c633:640a::/48`). */
    readonly oldPrefix: string;
    /** The site prefix after. */
    readonly newPrefix: string;
  };

/**
 * The site prefix of an address as `stf prefix` prints it: the 6to4 `/48` or the delegated 6rd
 * prefix.
 *
 * @param ipv4 the address
 * @param request the request (its 6rd domain)
 */
export function sitePrefixOf(ipv4: Ipv4Address, request: InterfaceRequest): string {
  return formatIpv6Prefix(sixRdPrefix(ipv4, request.domain ?? SIX_TO_FOUR_DOMAIN));
}

/**
 * The state an interface made from a plan has, as `diffInterface` compares it: what a
 * change of plan must undo.
 *
 * @param plan the plan applied
 */
export function stateOfPlan(plan: InterfacePlan): InterfaceState {
  return {
    name: plan.name,
    ifindex: 0,
    alias: plan.alias,
    madeByStf: true,
    up: true,
    mtu: plan.mtu,
    ...(plan.owner === undefined ? {} : { owner: plan.owner }),
    addresses: [{ address: plan.address, prefixLength: plan.prefixLength }],
    routes: plan.routes,
  };
}

/**
 * Whether the address in force is still where the request looks for it, so that a second
 * address appearing beside it (a renumbering that adds before it removes) changes nothing.
 */
function stillThere(ipv4: Ipv4Address, request: InterfaceRequest, host: HostFacts): boolean {
  if (tryParseIpv4(request.ipv4) !== undefined) return false; // a literal decides by itself
  return host.ipv4Addresses.some((a) =>
    a.address === ipv4 && (request.ipv4 === "auto" || a.interface === request.ipv4)
  );
}

/**
 * Computes the step from the state in force and the host's addresses now.
 *
 * @param state where stf stands
 * @param request what the user asked for (`--ipv4` and the rest, as at start)
 * @param host the host's addresses, read after the event
 */
export function planOwnIpv4(
  state: OwnIpv4State,
  request: InterfaceRequest,
  host: HostFacts,
): OwnIpv4Step {
  const current = state.plan.ipv4;
  const target = stillThere(current, request, host) ? formatIpv4(current) : request.ipv4;
  let next: InterfacePlan;
  try {
    next = planInterface({ ...request, ipv4: target }, host);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (state.paused === why) return { kind: "none", state };
    return { kind: "pause", state: { plan: state.plan, paused: why }, why };
  }
  if (next.ipv4 === current) {
    // The same address: the plan is the one just made, so that a reload's other keys (MTU,
    // routes, relay) come with it; without a reload it equals the plan in force.
    if (state.paused === undefined) return { kind: "none", state: { plan: next } };
    return { kind: "resume", state: { plan: next } };
  }
  return {
    kind: "change",
    state: { plan: next },
    old: state.plan,
    next,
    changes: diffInterface(next, stateOfPlan(state.plan)),
    oldPrefix: sitePrefixOf(current, request),
    newPrefix: sitePrefixOf(next.ipv4, request),
  };
}
