/**
 * The policy: settings (a plain object, posted to Workers) compiled into a {@link Policy} whose
 * `egress` and `ingress` apply the rules of docs/filtering.md in the order of its OUT and IN
 * tables and return a reason code. Compiling validates the configuration-time rules.
 *
 * The policy only decides: a verdict never changes a byte of the packet and the policy holds
 * no state. Encapsulation and the RFC 6040 ECN rewrite are the paths' work
 * (`lib/dataplane/egress.ts`, `ingress.ts`), with `lib/packet/`.
 *
 * Path MTU: `too-big` needs the inner MTU towards the outer destination, which is only known
 * inside `egress`. So the caller passes what it knows of path MTUs ({@link PathMtuLookup}, a
 * `PathMtuTable`) with each call and sets `EgressResult.now`; `egress` reports the MTU that
 * applied in `EgressResult.mtu`, ready for an ICMPv6 Packet Too Big.
 *
 * @module
 */

import {
  ipv4Mask,
  isMartianIpv4,
  isNonGlobalSixToFourIpv4,
  parseIpv4,
  parseIpv4Prefix,
  parseIpv6Prefix,
  type SixRdDomain,
  sixRdPrefix as sixRdPrefixOf,
  sixToFourPrefix,
  validateSixRdDomain,
} from "../addr/mod.ts";
import { PolicyError } from "../errors.ts";
import {
  ipv4Destination,
  ipv4Ecn,
  ipv4FragmentOffset,
  ipv4HeaderLength,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Source,
  ipv4TotalLength,
  ipv4Version,
  IPV6_DESTINATION_OFFSET,
  IPV6_HEADER_LENGTH,
  IPV6_SOURCE_OFFSET,
  ipv6PayloadLength,
  MAX_TUNNEL_MTU,
  MIN_TUNNEL_MTU,
  PROTOCOL_IPV6,
} from "../packet/mod.ts";
import { Reason } from "./reasons.ts";
import {
  embeddedAddress,
  isDecapsulationDisabled,
  isDestinationInvalid,
  isDestinationOwnIpv4,
  isEcnCeNotEct,
  isInnerDestinationInvalid,
  isInnerDestinationMismatch,
  isInnerDestinationNotOurs,
  isInnerSourceInvalid,
  isInnerSourceOwnPrefix,
  isInnerSourceSpoofed,
  isMalformedIpv6,
  isNativeToNative,
  isOuterDestinationInvalid,
  isOuterDestinationNotOwn,
  isOuterSourceInvalid,
  isPeerNotAllowed,
  isRelayLoop,
  isRelayNotAllowed,
  isSiteTrafficForRelay,
  isSourceInvalid,
  isSourceNotOwn,
  isTooBig,
  isWithoutRelay,
  Mode,
  type ModeNumber,
  NOT_EMBEDDED,
  type RuleContext,
} from "./rules.ts";

/** The modes of docs/filtering.md and docs/architecture.md. */
export type PolicyMode = "router" | "return-path" | "relay";

/**
 * The policy's settings: a plain, structured-clone-able object (strings, numbers, booleans,
 * arrays), so it can be posted to a Worker and compiled there.
 */
export interface PolicySettings {
  /** `router` (a 6to4 site), `return-path` (encapsulate replies only) or `relay`. */
  readonly mode: PolicyMode;
  /** own4: the public IPv4 address of the tunnel. */
  readonly ipv4: string;
  /**
   * Behind a 1:1 NAT: the local address the NAT maps own4 to (outer source sent, outer
   * destination received); absent when own4 itself is local (RFC 3056 §3).
   */
  readonly bindIpv4?: string;
  /** Every IPv4 address of this host (own4 is added), for `dst-own-ipv4`. */
  readonly localIpv4: readonly string[];
  /** The broadcast address of every local IPv4 subnet (part of C4). */
  readonly localBroadcasts: readonly string[];
  /** The relay's IPv4 address; none when absent (never a default, RFC 7526 §5). */
  readonly relay?: string;
  /** Native IPv6 prefixes that are ours (CIDR), part of the site. */
  readonly sitePrefixes: readonly string[];
  /** Peer allow list (IPv4 CIDR or bare addresses); absent = no list. */
  readonly allowPeers?: readonly string[];
  /** Relay allow list (IPv4 CIDR or bare addresses); absent = off. */
  readonly allowRelays?: readonly string[];
  /** Add the RFC 6890 non-global blocks to C4. */
  readonly strictBogons: boolean;
  /** A 6rd domain (RFC 5969). */
  readonly sixRd?: {
    /** The 6rd prefix, CIDR. */
    readonly prefix: string;
    /** How many high IPv4 bits are common to the domain (0..32). */
    readonly ipv4MaskLength: number;
    /** The common IPv4 prefix (an address; only its top `ipv4MaskLength` bits count). */
    readonly ipv4CommonPrefix: string;
  };
  /** The tunnel MTU, 1280..1480 (RFC 4213 §3.2). */
  readonly mtu: number;
  /** The outer TTL, 1..255. */
  readonly ttl: number;
  /** Copy the inner DSCP to the outer header, or write zero (RFC 2983). */
  readonly dscp: "copy" | "zero";
  /** Accept an own4 that is not global (`own-ipv4-not-global`), for labs behind NAT. */
  readonly allowNonGlobal?: boolean;
  /**
   * own4 (or the bind address) has left this host, or what replaced it cannot be used: egress
   * drops everything as `own-ipv4-unavailable` until stf follows the address (README, "A
   * changing public IPv4").
   */
  readonly ownIpv4Unavailable?: boolean;
}

/**
 * What `egress` asks about path MTUs learnt from ICMPv4 and EMSGSIZE (RFC 4213 §3.4): the
 * inner MTU towards an outer destination, `linkMtu` when nothing is known. `PathMtuTable`
 * (`lib/packet/path_mtu.ts`) is one.
 */
export interface PathMtuLookup {
  /** The inner MTU towards `destination` at time `now`, at most `linkMtu`. */
  innerMtu(destination: number, now: number, linkMtu: number): number;
}

/**
 * The outcome of {@link Policy.egress}; allocate once per Worker and reuse.
 * `now` is an input; the other fields are outputs.
 */
export class EgressResult {
  /** Input: the current time, in the unit of the path MTU table (milliseconds). */
  now = 0;
  /** The outer IPv4 destination (embedded IPv4 or the relay), 0 when not decided. */
  outerDst = 0;
  /** The IPv6 packet's length from its header (40 + payload length): what to encapsulate. */
  innerLength = 0;
  /** The inner MTU that applied, for an ICMPv6 Packet Too Big (0 when not reached). */
  mtu = 0;
}

/** The outcome of {@link Policy.ingress}; allocate once per Worker and reuse. */
export class IngressResult {
  /** The outer source, set whenever the packet has 20 bytes, for logs (0 otherwise). */
  src4 = 0;
  /** The outer destination, set like `src4`. */
  dst4 = 0;
  /** Where the inner IPv6 packet starts in the buffer. */
  innerOffset = 0;
  /** The inner IPv6 packet's length (40 + payload length). */
  innerLength = 0;
}

const MODES: Record<string, ModeNumber> = {
  "router": Mode.Router,
  "return-path": Mode.ReturnPath,
  "relay": Mode.Relay,
};

/**
 * A compiled policy: pure verdicts. `egress` and `ingress` allocate nothing, never throw on
 * any bytes and change none.
 */
export class Policy {
  /** The settings it was compiled from. */
  readonly settings: PolicySettings;
  /** The compiled rule data. */
  readonly rules: RuleContext;

  /**
   * Use {@link compilePolicy}.
   *
   * @param settings the validated settings
   * @param rules the compiled rules
   */
  constructor(settings: PolicySettings, rules: RuleContext) {
    this.settings = settings;
    this.rules = rules;
  }

  /**
   * Applies the OUT rules (docs/filtering.md, in table order) to an IPv6 packet read from the
   * TUN at `buf[offset .. offset + length)`. Returns {@link Reason.Forwarded} (0) or the drop
   * reason; sets `result.outerDst`, `result.innerLength` and `result.mtu`.
   *
   * @param buf the buffer
   * @param offset where the IPv6 packet starts
   * @param length its length
   * @param result reused outcome; `result.now` is read
   * @param pathMtu the path MTUs known (RFC 4213 §3.4); none: the tunnel MTU applies
   */
  egress(
    buf: Uint8Array,
    offset: number,
    length: number,
    result: EgressResult,
    pathMtu?: PathMtuLookup,
  ): number {
    const ctx = this.rules;
    result.outerDst = 0;
    result.innerLength = 0;
    result.mtu = 0;
    // RFC 3056 §2, §3: the outer source is own4, an address of this host; while it is not, no
    // packet may leave with it.
    if (ctx.ownIpv4Unavailable) return Reason.OwnIpv4Unavailable;
    if (offset < 0 || length < 0 || offset + length > buf.length) return Reason.Malformed;
    if (isMalformedIpv6(buf, offset, length)) return Reason.Malformed;
    const innerLength = IPV6_HEADER_LENGTH + ipv6PayloadLength(buf, offset);
    result.innerLength = innerLength;
    if (isSourceInvalid(ctx, buf, offset)) return Reason.SrcInvalid;
    if (isDestinationInvalid(ctx, buf, offset)) return Reason.DstInvalid;
    const srcEmbedded = embeddedAddress(ctx, buf, offset + IPV6_SOURCE_OFFSET);
    const dstEmbedded = embeddedAddress(ctx, buf, offset + IPV6_DESTINATION_OFFSET);
    if (isSourceNotOwn(ctx, srcEmbedded)) return Reason.SrcNotOwn;
    if (isDestinationOwnIpv4(ctx, dstEmbedded)) return Reason.DstOwnIpv4;
    let outer: number;
    if (dstEmbedded !== NOT_EMBEDDED) {
      // RFC 3056 §5.3: a 6to4 destination is always reached directly, never via a relay.
      if (isOuterDestinationInvalid(ctx, dstEmbedded)) return Reason.DstIpv4Invalid;
      outer = dstEmbedded;
    } else {
      if (isNativeToNative(srcEmbedded, dstEmbedded) && !isSiteTrafficForRelay(ctx, buf, offset)) {
        return Reason.NativeToNative;
      }
      if (isWithoutRelay(ctx, dstEmbedded)) return Reason.NoRelay;
      // The relay was checked against C4 when compiling; checked again for safety.
      if (isOuterDestinationInvalid(ctx, ctx.relay)) return Reason.DstIpv4Invalid;
      outer = ctx.relay;
    }
    result.outerDst = outer;
    const mtu = pathMtu === undefined
      ? this.settings.mtu
      : pathMtu.innerMtu(outer, result.now, this.settings.mtu);
    result.mtu = mtu;
    if (isTooBig(innerLength, mtu)) return Reason.TooBig;
    return Reason.Forwarded;
  }

  /**
   * Applies the IN rules (docs/filtering.md, in table order) to a whole IPv4 packet received
   * on the protocol-41 raw socket, outer header included. Returns {@link Reason.Forwarded} (0)
   * or the drop reason. On success sets `result.innerOffset` and `result.innerLength`; the
   * RFC 6040 §4.2 ECN rewrite of the inner header is the ingress path's.
   *
   * @param buf the buffer
   * @param offset where the IPv4 header starts
   * @param length the bytes received
   * @param result reused outcome
   */
  ingress(buf: Uint8Array, offset: number, length: number, result: IngressResult): number {
    const ctx = this.rules;
    result.src4 = 0;
    result.dst4 = 0;
    result.innerOffset = 0;
    result.innerLength = 0;
    if (offset < 0 || length < 0 || offset + length > buf.length) return Reason.Malformed;
    if (length >= 20) {
      // For the caller's logs, whatever the verdict.
      result.src4 = ipv4Source(buf, offset);
      result.dst4 = ipv4Destination(buf, offset);
    }
    if (ctx.mode === Mode.ReturnPath) {
      if (!ctx.hasAllowPeers && !ctx.hasAllowRelays) return Reason.DecapDisabled;
      if (length < 20) return Reason.Malformed;
      if (isDecapsulationDisabled(ctx, ipv4Source(buf, offset))) return Reason.DecapDisabled;
    }
    // Outer header (RFC 791, RFC 4213 §3.6). The kernel checked the header checksum and
    // reassembled fragments; anything else is malformed here.
    if (length < 20 || ipv4Version(buf, offset) !== 4) return Reason.Malformed;
    const ihl = ipv4HeaderLength(buf, offset);
    const total = ipv4TotalLength(buf, offset);
    if (ihl < 20 || total < ihl || total > length) return Reason.Malformed;
    if (ipv4Protocol(buf, offset) !== PROTOCOL_IPV6) return Reason.Malformed;
    if (ipv4MoreFragments(buf, offset) || ipv4FragmentOffset(buf, offset) !== 0) {
      return Reason.Malformed;
    }
    const inner = offset + ihl;
    // The IPv4 payload must hold the whole IPv6 packet its header announces.
    if (isMalformedIpv6(buf, inner, total - ihl)) return Reason.Malformed;
    const src4 = result.src4;
    // Behind a 1:1 NAT, a packet for own4 arrives addressed to the bind address: compare the
    // inner destination with own4 then (RFC 3964 §5.2 is about the address the peer used).
    const dst4 = result.dst4 === ctx.bind4 ? ctx.own4 : result.dst4;
    if (isOuterSourceInvalid(ctx, src4)) return Reason.OuterSrcInvalid;
    if (isOuterDestinationNotOwn(ctx, dst4)) return Reason.OuterDstNotOwn;
    if (isInnerSourceInvalid(ctx, buf, inner)) return Reason.InnerSrcInvalid;
    if (isInnerDestinationInvalid(ctx, buf, inner)) return Reason.InnerDstInvalid;
    const srcEmbedded = embeddedAddress(ctx, buf, inner + IPV6_SOURCE_OFFSET);
    const dstEmbedded = embeddedAddress(ctx, buf, inner + IPV6_DESTINATION_OFFSET);
    if (isInnerDestinationMismatch(dstEmbedded, dst4)) return Reason.InnerDstMismatch;
    if (isInnerSourceSpoofed(srcEmbedded, src4)) return Reason.InnerSrcSpoofed;
    if (isNativeToNative(srcEmbedded, dstEmbedded)) return Reason.NativeToNative;
    if (isInnerDestinationNotOurs(ctx, buf, inner)) return Reason.InnerDstNotOurs;
    if (isInnerSourceOwnPrefix(ctx, buf, inner)) return Reason.InnerSrcOwnPrefix;
    if (isRelayLoop(ctx, buf, inner, srcEmbedded, dstEmbedded)) return Reason.RelayLoop;
    if (isPeerNotAllowed(ctx, src4)) return Reason.PeerNotAllowed;
    if (isRelayNotAllowed(ctx, srcEmbedded, src4)) return Reason.RelayNotAllowed;
    if (isEcnCeNotEct(ipv4Ecn(buf, offset), (buf[inner + 1] >> 4) & 3)) return Reason.EcnCeNotEct;
    result.innerOffset = inner;
    result.innerLength = IPV6_HEADER_LENGTH + ipv6PayloadLength(buf, inner);
    return Reason.Forwarded;
  }
}

function parseIpv4List(list: readonly string[] | undefined, what: string): Uint32Array {
  const out = new Uint32Array(list?.length ?? 0);
  list?.forEach((text, i) => {
    if (typeof text !== "string") {
      throw new TypeError(`Cannot use ${String(text)} as ${what}: expected a string`);
    }
    out[i] = parseIpv4(text);
  });
  return out;
}

function parseAllowList(
  list: readonly string[] | undefined,
): { addresses: Uint32Array; masks: Uint32Array } {
  const n = list?.length ?? 0;
  const addresses = new Uint32Array(n);
  const masks = new Uint32Array(n);
  list?.forEach((text, i) => {
    const prefix = parseIpv4Prefix(text, { allowBare: true });
    addresses[i] = prefix.address;
    masks[i] = ipv4Mask(prefix.length);
  });
  return { addresses, masks };
}

/**
 * Validates settings and compiles them into a {@link Policy}.
 *
 * @param settings the settings (a plain object)
 * @throws {PolicyError} `own-ipv4-not-global` (own4 in C4 or 100.64.0.0/10, unless
 *   `allowNonGlobal`), `mtu-out-of-range` (outside 1280..1480), `6rd-prefix-too-long`
 *   (delegated prefix longer than /64)
 * @throws {SyntaxError} when an address or prefix does not parse
 * @throws {RangeError} when a value is out of range (mode, TTL, DSCP, a relay in C4 or of ours)
 */
export function compilePolicy(settings: PolicySettings): Policy {
  const mode = MODES[settings.mode];
  if (mode === undefined || !Object.hasOwn(MODES, settings.mode)) {
    throw new RangeError(
      `Cannot use mode "${settings.mode}": expected "router", "return-path" or "relay"`,
    );
  }
  const own4 = parseIpv4(settings.ipv4);
  if (isNonGlobalSixToFourIpv4(own4) && settings.allowNonGlobal !== true) {
    throw new PolicyError(
      "own-ipv4-not-global",
      `Cannot use "${settings.ipv4}" as the tunnel's IPv4 address: it is not global ` +
        `(RFC 3056 §2, RFC 6343 §4.1); use a public address or allow non-global addresses`,
    );
  }
  const mtu = settings.mtu;
  if (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU || mtu > MAX_TUNNEL_MTU) {
    throw new PolicyError(
      "mtu-out-of-range",
      `Cannot set the tunnel MTU to ${mtu}: expected ${MIN_TUNNEL_MTU}..${MAX_TUNNEL_MTU} ` +
        `(RFC 4213 §3.2)`,
    );
  }
  if (!Number.isInteger(settings.ttl) || settings.ttl < 1 || settings.ttl > 255) {
    throw new RangeError(`Cannot set the outer TTL to ${settings.ttl}: expected 1..255`);
  }
  if (settings.dscp !== "copy" && settings.dscp !== "zero") {
    throw new RangeError(`Cannot use DSCP handling "${settings.dscp}": expected "copy" or "zero"`);
  }
  const strictBogons = settings.strictBogons === true;
  const localBroadcasts = parseIpv4List(settings.localBroadcasts ?? [], "a local broadcast");
  const locals = parseIpv4List(settings.localIpv4 ?? [], "a local IPv4 address");
  const bind4 = settings.bindIpv4 === undefined ? own4 : parseIpv4(settings.bindIpv4);
  const localIpv4 = new Uint32Array(locals.length + 2);
  localIpv4[0] = own4;
  localIpv4[1] = bind4;
  localIpv4.set(locals, 2);

  // Site prefixes: own6to4, our 6rd delegated prefix, the configured native ones.
  const site: { address: Uint8Array; length: number }[] = [sixToFourPrefix(own4)];
  let sixRdPrefix: Uint8Array = new Uint8Array(16);
  let sixRdPrefixLength = 0;
  let sixRdMaskLength = 0;
  let sixRdCommonPrefix = 0;
  const hasSixRd = settings.sixRd !== undefined;
  if (settings.sixRd !== undefined) {
    const { prefix: prefixText, ipv4MaskLength, ipv4CommonPrefix } = settings.sixRd;
    const prefix = parseIpv6Prefix(prefixText);
    // Mask length 0..32 (RangeError), delegated prefix at most /64 (`6rd-prefix-too-long`).
    validateSixRdDomain({ prefix, ipv4MaskLength, ipv4CommonPrefix: 0 });
    const mask = ipv4Mask(ipv4MaskLength);
    const domain: SixRdDomain = {
      prefix,
      ipv4MaskLength,
      ipv4CommonPrefix: (parseIpv4(ipv4CommonPrefix) & mask) >>> 0,
    };
    sixRdPrefix = prefix.address;
    sixRdPrefixLength = prefix.length;
    sixRdMaskLength = ipv4MaskLength;
    sixRdCommonPrefix = domain.ipv4CommonPrefix;
    if (((own4 & mask) >>> 0) !== sixRdCommonPrefix) {
      throw new RangeError(
        `Cannot use "${settings.ipv4}" in the 6rd domain "${prefixText}": its top ` +
          `${ipv4MaskLength} bits differ from "${ipv4CommonPrefix}"`,
      );
    }
    // Our delegated prefix (RFC 5969 §7.1.1): the 6rd prefix, then own4's low bits.
    site.push(sixRdPrefixOf(own4, domain));
  }
  for (const text of settings.sitePrefixes ?? []) site.push(parseIpv6Prefix(text));
  const siteAddresses = new Uint8Array(site.length * 16);
  const siteLengths = new Uint8Array(site.length);
  site.forEach((p, i) => {
    siteAddresses.set(p.address, i * 16);
    siteLengths[i] = p.length;
  });

  const peers = parseAllowList(settings.allowPeers);
  const relays = parseAllowList(settings.allowRelays);

  let relay = 0;
  // RFC 6343 §4.5: a return-path server never sends through a relay.
  const hasRelay = settings.relay !== undefined && mode !== Mode.ReturnPath;
  if (settings.relay !== undefined) {
    relay = parseIpv4(settings.relay);
    const reserved = isMartianIpv4(relay, strictBogons) || localBroadcasts.includes(relay);
    if (reserved) {
      throw new RangeError(
        `Cannot use "${settings.relay}" as the relay: it is not a global unicast address ` +
          `(dst-ipv4-invalid, RFC 3056 §9)`,
      );
    }
    if (localIpv4.includes(relay)) {
      throw new RangeError(
        `Cannot use "${settings.relay}" as the relay: it is an address of this host, ` +
          `packets would loop`,
      );
    }
  }

  const rules: RuleContext = Object.freeze({
    mode,
    own4,
    bind4,
    localIpv4,
    localBroadcasts,
    hasRelay,
    relay: hasRelay ? relay : 0,
    siteAddresses,
    siteLengths,
    hasAllowPeers: settings.allowPeers !== undefined,
    allowPeerAddresses: peers.addresses,
    allowPeerMasks: peers.masks,
    hasAllowRelays: settings.allowRelays !== undefined,
    allowRelayAddresses: relays.addresses,
    allowRelayMasks: relays.masks,
    strictBogons,
    hasSixRd,
    sixRdPrefix,
    sixRdPrefixLength,
    sixRdMaskLength,
    sixRdCommonPrefix,
    ownIpv4Unavailable: settings.ownIpv4Unavailable === true,
  });
  return new Policy(settings, rules);
}
