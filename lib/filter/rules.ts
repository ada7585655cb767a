/**
 * The filter rules of docs/filtering.md, one named pure predicate each, over a compiled
 * {@link RuleContext}. Each takes byte offsets or numbers and allocates nothing. The order in
 * which they are applied is in `policy.ts`.
 *
 * @module
 */

import {
  embeddedIpv4,
  isInvalidDecapsulatedSource,
  isMartianIpv4,
  isMartianIpv6,
  isSixToFour,
  readBits,
} from "../addr/mod.ts";
import {
  IPV6_DESTINATION_OFFSET,
  IPV6_HEADER_LENGTH,
  IPV6_SOURCE_OFFSET,
  ipv6PayloadLength,
  ipv6Version,
} from "../packet/mod.ts";
import { decapsulateEcn } from "../packet/ecn.ts";

/** Mode numbers in a {@link RuleContext}. */
export const Mode = Object.freeze(
  {
    /** A 6to4 site (home or edge router), the default. */
    Router: 0,
    /** The seed's server: encapsulates replies to 2002::/16, decapsulates nothing. */
    ReturnPath: 1,
    /** A 6to4 relay (RFC 3056 §5): 6to4 ↔ native IPv6. */
    Relay: 2,
  } as const,
);

/** A mode number (a value of {@link Mode}). */
export type ModeNumber = typeof Mode[keyof typeof Mode];

/**
 * Everything the rules need, precompiled into numbers and typed arrays by `compilePolicy`.
 * Read-only once built.
 */
export interface RuleContext {
  /** The mode. */
  readonly mode: ModeNumber;
  /** own4. */
  readonly own4: number;
  /**
   * The local address behind a 1:1 NAT (the `bind-ipv4` option): the outer source we send
   * and the outer destination we receive, which the NAT maps to and from own4. own4 when
   * there is no NAT.
   */
  readonly bind4: number;
  /** Every IPv4 address of this host, own4 included. */
  readonly localIpv4: Uint32Array;
  /** The broadcast address of every local IPv4 subnet (part of C4). */
  readonly localBroadcasts: Uint32Array;
  /** Whether a relay is used (never in return-path mode). */
  readonly hasRelay: boolean;
  /** The relay's IPv4 address (0 when none). */
  readonly relay: number;
  /** The site's prefixes: 16 bytes each (own6to4, own 6rd prefix, configured native ones). */
  readonly siteAddresses: Uint8Array;
  /** The length of each site prefix. */
  readonly siteLengths: Uint8Array;
  /** Whether a peer allow list is configured. */
  readonly hasAllowPeers: boolean;
  /** Peer allow list: network addresses. */
  readonly allowPeerAddresses: Uint32Array;
  /** Peer allow list: masks. */
  readonly allowPeerMasks: Uint32Array;
  /** Whether a relay allow list is configured. */
  readonly hasAllowRelays: boolean;
  /** Relay allow list: network addresses. */
  readonly allowRelayAddresses: Uint32Array;
  /** Relay allow list: masks. */
  readonly allowRelayMasks: Uint32Array;
  /** Use the strict (RFC 6890) set of non-global IPv4 blocks in C4. */
  readonly strictBogons: boolean;
  /** Whether a 6rd domain is configured. */
  readonly hasSixRd: boolean;
  /** The 6rd prefix (16 bytes). */
  readonly sixRdPrefix: Uint8Array;
  /** The 6rd prefix length. */
  readonly sixRdPrefixLength: number;
  /** How many high IPv4 bits are common to the 6rd domain. */
  readonly sixRdMaskLength: number;
  /** Those common bits, as an IPv4 address with the low bits zero. */
  readonly sixRdCommonPrefix: number;
  /** own4 is not on this host now: egress drops everything (`own-ipv4-unavailable`). */
  readonly ownIpv4Unavailable: boolean;
}

/** What {@link embeddedAddress} returns for an address that is neither 6to4 nor 6rd. */
export const NOT_EMBEDDED = -1;

// ---- address sets ------------------------------------------------------------------------

function contains(list: Uint32Array, a: number): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === a) return true;
  return false;
}

function inPrefixList(addresses: Uint32Array, masks: Uint32Array, a: number): boolean {
  for (let i = 0; i < addresses.length; i++) {
    if (((a & masks[i]) >>> 0) === addresses[i]) return true;
  }
  return false;
}

function prefixMatches(
  prefix: Uint8Array,
  prefixOffset: number,
  length: number,
  buf: Uint8Array,
  offset: number,
): boolean {
  const full = length >> 3;
  for (let i = 0; i < full; i++) if (buf[offset + i] !== prefix[prefixOffset + i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (buf[offset + full] & mask) === prefix[prefixOffset + full];
}

/**
 * Tells whether an IPv4 address is in C4 (RFC 3964 §5.3.1, RFC 3056 §9): the martian blocks
 * (strict set when configured) and the broadcast address of every local subnet.
 *
 * @param ctx the compiled rules
 * @param a the address
 */
export function isC4(ctx: RuleContext, a: number): boolean {
  return isMartianIpv4(a, ctx.strictBogons) || contains(ctx.localBroadcasts, a);
}

/**
 * Tells whether an IPv6 address is in C6 (RFC 3964 §5.3.2): `::/16`, `fe80::/10`, `fec0::/10`,
 * `ff00::/8`, and `2002:V::/48` for every V in C4 (local broadcasts included).
 *
 * @param ctx the compiled rules
 * @param buf the bytes holding the address
 * @param offset where it starts
 */
export function isC6(ctx: RuleContext, buf: Uint8Array, offset: number): boolean {
  if (isMartianIpv6(buf, offset, ctx.strictBogons)) return true;
  return isSixToFour(buf, offset) && contains(ctx.localBroadcasts, embeddedIpv4(buf, offset));
}

/**
 * Returns the IPv4 address embedded in a 6to4 address (RFC 3056 §2) or in an address of the
 * configured 6rd domain (RFC 5969 §7.1.1), or {@link NOT_EMBEDDED} for a native address.
 *
 * @param ctx the compiled rules
 * @param buf the bytes holding the address
 * @param offset where it starts
 */
export function embeddedAddress(ctx: RuleContext, buf: Uint8Array, offset: number): number {
  if (isSixToFour(buf, offset)) return embeddedIpv4(buf, offset);
  if (
    ctx.hasSixRd && prefixMatches(ctx.sixRdPrefix, 0, ctx.sixRdPrefixLength, buf, offset)
  ) {
    const bits = 32 - ctx.sixRdMaskLength;
    const low = readBits(buf, ctx.sixRdPrefixLength, bits, offset);
    return (ctx.sixRdCommonPrefix | low) >>> 0;
  }
  return NOT_EMBEDDED;
}

/**
 * Tells whether an IPv6 address is in the site: own6to4, our 6rd prefix or a configured
 * native prefix.
 *
 * @param ctx the compiled rules
 * @param buf the bytes holding the address
 * @param offset where it starts
 */
export function isInSite(ctx: RuleContext, buf: Uint8Array, offset: number): boolean {
  const lengths = ctx.siteLengths;
  for (let i = 0; i < lengths.length; i++) {
    if (prefixMatches(ctx.siteAddresses, i * 16, lengths[i], buf, offset)) return true;
  }
  return false;
}

/**
 * Tells whether an IPv4 address is one of this host's.
 *
 * @param ctx the compiled rules
 * @param a the address
 */
export function isLocalIpv4(ctx: RuleContext, a: number): boolean {
  return contains(ctx.localIpv4, a);
}

// ---- both directions ----------------------------------------------------------------------

/**
 * `malformed` for an IPv6 packet: shorter than its fixed header, not version 6, or its payload
 * length runs past the data (RFC 8200 §3, RFC 4213 §3.6). Trailing bytes are allowed (and cut
 * off by the caller).
 *
 * @param buf the packet
 * @param offset where the IPv6 header starts
 * @param length the bytes available from there
 */
export function isMalformedIpv6(buf: Uint8Array, offset: number, length: number): boolean {
  if (length < IPV6_HEADER_LENGTH) return true;
  if (ipv6Version(buf, offset) !== 6) return true;
  return IPV6_HEADER_LENGTH + ipv6PayloadLength(buf, offset) > length;
}

// ---- OUT ----------------------------------------------------------------------------------

/**
 * `src-invalid`: src6 in C6 (RFC 3964 §5.1, §5.3.2).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 */
export function isSourceInvalid(ctx: RuleContext, buf: Uint8Array, ipv6: number): boolean {
  return isC6(ctx, buf, ipv6 + IPV6_SOURCE_OFFSET);
}

/**
 * `dst-invalid`: dst6 in C6 (RFC 3964 §5.1, §5.3.2).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 */
export function isDestinationInvalid(ctx: RuleContext, buf: Uint8Array, ipv6: number): boolean {
  return isC6(ctx, buf, ipv6 + IPV6_DESTINATION_OFFSET);
}

/**
 * `src-not-own`: src6 in 2002::/16 (or our 6rd prefix) and its embedded IPv4 is not own4
 * (RFC 3964 §5.1: a 6to4 router only sends what its own prefix sources).
 *
 * @param ctx the compiled rules
 * @param srcEmbedded the embedded IPv4 of src6, or {@link NOT_EMBEDDED}
 */
export function isSourceNotOwn(ctx: RuleContext, srcEmbedded: number): boolean {
  return srcEmbedded !== NOT_EMBEDDED && srcEmbedded !== ctx.own4;
}

/**
 * `dst-own-ipv4`: dst6 in 2002::/16 (or our 6rd prefix) embeds an address of this host: it
 * would loop back to us (RFC 3964 §5.1).
 *
 * @param ctx the compiled rules
 * @param dstEmbedded the embedded IPv4 of dst6, or {@link NOT_EMBEDDED}
 */
export function isDestinationOwnIpv4(ctx: RuleContext, dstEmbedded: number): boolean {
  return dstEmbedded !== NOT_EMBEDDED && isLocalIpv4(ctx, dstEmbedded);
}

/**
 * `dst-ipv4-invalid`: the outer destination is in C4 (RFC 3056 §9, RFC 3964 §4.1.4).
 *
 * @param ctx the compiled rules
 * @param outerDestination the IPv4 destination we would send to
 */
export function isOuterDestinationInvalid(ctx: RuleContext, outerDestination: number): boolean {
  return isC4(ctx, outerDestination);
}

/**
 * `native-to-native`: neither address is 6to4 (nor in our 6rd prefix) (RFC 3964 §5.1, §5.2).
 *
 * @param srcEmbedded the embedded IPv4 of src6, or {@link NOT_EMBEDDED}
 * @param dstEmbedded the embedded IPv4 of dst6, or {@link NOT_EMBEDDED}
 */
export function isNativeToNative(srcEmbedded: number, dstEmbedded: number): boolean {
  return srcEmbedded === NOT_EMBEDDED && dstEmbedded === NOT_EMBEDDED;
}

/**
 * The exception to `native-to-native` on egress: in `router` mode with a relay configured, a
 * native packet from the site goes to the relay (RFC 3056 §5.3: the site's native prefixes
 * reach the IPv6 internet through the relay).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 */
export function isSiteTrafficForRelay(ctx: RuleContext, buf: Uint8Array, ipv6: number): boolean {
  return ctx.mode === Mode.Router && ctx.hasRelay &&
    isInSite(ctx, buf, ipv6 + IPV6_SOURCE_OFFSET);
}

/**
 * `no-relay`: the destination is native and no relay is configured (RFC 7526: no default
 * relay, the anycast one is deprecated). In return-path mode no relay is ever used.
 *
 * @param ctx the compiled rules
 * @param dstEmbedded the embedded IPv4 of dst6, or {@link NOT_EMBEDDED}
 */
export function isWithoutRelay(ctx: RuleContext, dstEmbedded: number): boolean {
  return dstEmbedded === NOT_EMBEDDED && !ctx.hasRelay;
}

/**
 * `too-big`: the packet is longer than the tunnel MTU (RFC 4213 §3.2) or the inner MTU learnt
 * for the peer (RFC 4213 §3.4: from ICMPv4 "fragmentation needed", or from the route's MTU
 * when a send failed with EMSGSIZE).
 *
 * @param length the IPv6 packet length
 * @param mtu the inner MTU that applies
 */
export function isTooBig(length: number, mtu: number): boolean {
  return length > mtu;
}

// ---- IN -----------------------------------------------------------------------------------

/**
 * `decap-disabled`: `return-path` mode decapsulates nothing, unless an allow list (peers or
 * relays) names the sender (FreeBSD stf `link0`; RFC 6343 §4.5).
 *
 * @param ctx the compiled rules
 * @param src4 the outer source
 */
export function isDecapsulationDisabled(ctx: RuleContext, src4: number): boolean {
  if (ctx.mode !== Mode.ReturnPath) return false;
  if (ctx.hasAllowPeers && inPrefixList(ctx.allowPeerAddresses, ctx.allowPeerMasks, src4)) {
    return false;
  }
  if (ctx.hasAllowRelays && inPrefixList(ctx.allowRelayAddresses, ctx.allowRelayMasks, src4)) {
    return false;
  }
  return true;
}

/**
 * `outer-src-invalid`: src4 in C4 (RFC 3964 §5.2, §5.3.1).
 *
 * @param ctx the compiled rules
 * @param src4 the outer source
 */
export function isOuterSourceInvalid(ctx: RuleContext, src4: number): boolean {
  return isC4(ctx, src4);
}

/**
 * `outer-dst-not-own`: dst4 is not own4 — broadcast, multicast or another address of ours
 * (RFC 3964 §5.2, §5.3.4).
 *
 * @param ctx the compiled rules
 * @param dst4 the outer destination
 */
export function isOuterDestinationNotOwn(ctx: RuleContext, dst4: number): boolean {
  // Behind a 1:1 NAT the packet arrives addressed to the local (bind) address.
  return dst4 !== ctx.own4 && dst4 !== ctx.bind4;
}

/**
 * `inner-src-invalid`: src6 in C6 (RFC 3964 §5.3.2) or in C6src (RFC 4213 §3.6).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the inner IPv6 header starts
 */
export function isInnerSourceInvalid(ctx: RuleContext, buf: Uint8Array, ipv6: number): boolean {
  const src = ipv6 + IPV6_SOURCE_OFFSET;
  return isC6(ctx, buf, src) || isInvalidDecapsulatedSource(buf, src);
}

/**
 * `inner-dst-invalid`: dst6 in C6 (RFC 3964 §5.3.2).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the inner IPv6 header starts
 */
export function isInnerDestinationInvalid(
  ctx: RuleContext,
  buf: Uint8Array,
  ipv6: number,
): boolean {
  return isC6(ctx, buf, ipv6 + IPV6_DESTINATION_OFFSET);
}

/**
 * `inner-dst-mismatch`: dst6 is 6to4 (or 6rd) and does not embed dst4 (RFC 3964 §5.2).
 *
 * @param dstEmbedded the embedded IPv4 of dst6, or {@link NOT_EMBEDDED}
 * @param dst4 the outer destination
 */
export function isInnerDestinationMismatch(dstEmbedded: number, dst4: number): boolean {
  return dstEmbedded !== NOT_EMBEDDED && dstEmbedded !== dst4;
}

/**
 * `inner-src-spoofed`: src6 is 6to4 (or 6rd) and does not embed src4 (RFC 3964 §5.2,
 * RFC 5969 §9.2).
 *
 * @param srcEmbedded the embedded IPv4 of src6, or {@link NOT_EMBEDDED}
 * @param src4 the outer source
 */
export function isInnerSourceSpoofed(srcEmbedded: number, src4: number): boolean {
  return srcEmbedded !== NOT_EMBEDDED && srcEmbedded !== src4;
}

/**
 * `inner-dst-not-ours`: in `router` mode, dst6 is not in the site (RFC 3964 §3.1,
 * RFC 5969 §9.2).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the inner IPv6 header starts
 */
export function isInnerDestinationNotOurs(
  ctx: RuleContext,
  buf: Uint8Array,
  ipv6: number,
): boolean {
  return ctx.mode === Mode.Router && !isInSite(ctx, buf, ipv6 + IPV6_DESTINATION_OFFSET);
}

/**
 * `inner-src-own-prefix`: src6 is in the site — no unwrapped packet may claim an address of the
 * home network (RFC 4213 §3.6, RFC 3964 §5.3.3).
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the inner IPv6 header starts
 */
export function isInnerSourceOwnPrefix(ctx: RuleContext, buf: Uint8Array, ipv6: number): boolean {
  return isInSite(ctx, buf, ipv6 + IPV6_SOURCE_OFFSET);
}

/**
 * `relay-loop`: in `relay` mode, dst6 is 6to4 and src6 is 6to4 too, or dst6 is outside our
 * site so the packet would go back into the tunnel (RFC 3964 §3.2, RFC 6324). Except dst6 =
 * the relay's own address `2002:V4::` (RFC 3068 §2.5): delivered to the relay itself, never
 * relayed — the address sites probe to know the relay is alive.
 *
 * @param ctx the compiled rules
 * @param buf the packet
 * @param ipv6 where the inner IPv6 header starts
 * @param srcEmbedded the embedded IPv4 of src6, or {@link NOT_EMBEDDED}
 * @param dstEmbedded the embedded IPv4 of dst6, or {@link NOT_EMBEDDED}
 */
export function isRelayLoop(
  ctx: RuleContext,
  buf: Uint8Array,
  ipv6: number,
  srcEmbedded: number,
  dstEmbedded: number,
): boolean {
  if (ctx.mode !== Mode.Relay || dstEmbedded === NOT_EMBEDDED) return false;
  if (isRelayOwnAddress(buf, ipv6 + IPV6_DESTINATION_OFFSET)) return false;
  return srcEmbedded !== NOT_EMBEDDED || !isInSite(ctx, buf, ipv6 + IPV6_DESTINATION_OFFSET);
}

/** Whether a 6to4 address is a relay's own `2002:V4::` (bits 48..127 zero, RFC 3068 §2.5). */
function isRelayOwnAddress(buf: Uint8Array, at: number): boolean {
  for (let i = 6; i < 16; i++) if (buf[at + i] !== 0) return false;
  return true;
}

/**
 * `peer-not-allowed`: a peer allow list is configured and src4 is not in it (RFC 3056 §5.2).
 *
 * @param ctx the compiled rules
 * @param src4 the outer source
 */
export function isPeerNotAllowed(ctx: RuleContext, src4: number): boolean {
  return ctx.hasAllowPeers && !inPrefixList(ctx.allowPeerAddresses, ctx.allowPeerMasks, src4);
}

/**
 * `relay-not-allowed`: a relay allow list is configured, src6 is native and src4 is not in it
 * (RFC 3056 §9, RFC 7526 §6).
 *
 * @param ctx the compiled rules
 * @param srcEmbedded the embedded IPv4 of src6, or {@link NOT_EMBEDDED}
 * @param src4 the outer source
 */
export function isRelayNotAllowed(ctx: RuleContext, srcEmbedded: number, src4: number): boolean {
  return ctx.hasAllowRelays && srcEmbedded === NOT_EMBEDDED &&
    !inPrefixList(ctx.allowRelayAddresses, ctx.allowRelayMasks, src4);
}

/**
 * `ecn-ce-not-ect`: the outer header says CE and the inner one Not-ECT; the congestion mark
 * cannot be passed on, so the packet is dropped (RFC 6040 §4.2).
 *
 * @param outerEcn the outer ECN codepoint
 * @param innerEcn the inner ECN codepoint
 */
export function isEcnCeNotEct(outerEcn: number, innerEcn: number): boolean {
  return decapsulateEcn(outerEcn, innerEcn) < 0;
}
