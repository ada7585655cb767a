/**
 * Test helpers for the policy: settings with defaults (the known-answer set-up of
 * docs/filtering.md), and one-line egress/ingress runs that return reason names.
 *
 * @module
 */
import { formatIpv4 } from "../../../lib/addr/mod.ts";
import {
  compilePolicy,
  EgressResult,
  IngressResult,
  type PathMtuLookup,
  type Policy,
  type PolicySettings,
  REASON_NAMES,
} from "../../../lib/filter/mod.ts";
import { outerHeaderOf } from "../../../lib/dataplane/egress.ts";
import { encapsulateInPlace, EncapsulationState } from "../../../lib/packet/mod.ts";
import {
  ipv4Wrap,
  type Ipv4WrapOptions,
  ipv6Packet,
  type Ipv6PacketOptions,
} from "../packet/_build.ts";

/** The known-answer set-up: own4 9.0.0.2, relay 192.88.99.1, router mode. */
export const BASE: PolicySettings = Object.freeze({
  mode: "router",
  ipv4: "9.0.0.2",
  localIpv4: [],
  localBroadcasts: [],
  relay: "192.88.99.1",
  sitePrefixes: [],
  strictBogons: false,
  mtu: 1480,
  ttl: 64,
  dscp: "copy",
});

/** Compiles {@link BASE} with some settings replaced (`relay: undefined` removes the relay). */
export function policyWith(overrides: Partial<PolicySettings> = {}): Policy {
  return compilePolicy({ ...BASE, ...overrides } as PolicySettings);
}

const ids = new EncapsulationState();

/**
 * Writes the outer header in front of a packet `egress` forwarded, as the egress path does
 * (`outerHeaderOf` and `lib/packet/`); returns the outer length.
 */
export function encapsulate(
  policy: Policy,
  buf: Uint8Array,
  offset: number,
  result: EgressResult,
): number {
  const outer = outerHeaderOf(policy, ids);
  outer.destination = result.outerDst;
  return encapsulateInPlace(buf, offset, result.innerLength, outer);
}

/** What an egress run gives: the reason name and, when forwarded, the outer destination. */
export interface EgressOutcome {
  reason: string;
  to?: string;
  mtu?: number;
}

/** Runs egress on a packet built from text addresses. */
export function egress(
  policy: Policy,
  src6: string,
  dst6: string,
  options: Ipv6PacketOptions & { now?: number; pathMtu?: PathMtuLookup } = {},
): EgressOutcome {
  const buf = ipv6Packet(src6, dst6, { ...options, headroom: 20 });
  const result = new EgressResult();
  result.now = options.now ?? 0;
  const code = policy.egress(buf, 20, buf.length - 20, result, options.pathMtu);
  const reason = REASON_NAMES[code];
  if (reason === "forwarded") return { reason, to: formatIpv4(result.outerDst) };
  if (reason === "too-big") return { reason, mtu: result.mtu };
  return { reason };
}

/** Runs ingress on a protocol-41 packet built from text addresses; returns the reason name. */
export function ingress(
  policy: Policy,
  outer: [string, string],
  inner: [string, string],
  options: { inner?: Ipv6PacketOptions; outer?: Ipv4WrapOptions } = {},
): string {
  const packet = ipv4Wrap(
    outer[0],
    outer[1],
    ipv6Packet(inner[0], inner[1], options.inner),
    options.outer,
  );
  return REASON_NAMES[policy.ingress(packet, 0, packet.length, new IngressResult())];
}
