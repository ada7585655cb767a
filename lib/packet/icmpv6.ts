/**
 * ICMPv6 error messages written into a caller-provided buffer (RFC 4443): Destination
 * Unreachable (§3.1) and Packet Too Big (§3.2), and the rules on when not to send one
 * (§2.4 e). Allocation-free.
 *
 * @module
 */

import { icmpv6Checksum } from "./checksum.ts";
import {
  IPV6_DESTINATION_OFFSET,
  IPV6_HEADER_LENGTH,
  IPV6_SOURCE_OFFSET,
  ipv6NextHeader,
  PROTOCOL_ICMPV6,
} from "./headers.ts";

/** ICMPv6 type Destination Unreachable (RFC 4443 §3.1). */
export const ICMPV6_DESTINATION_UNREACHABLE = 1;
/** ICMPv6 type Packet Too Big (RFC 4443 §3.2). */
export const ICMPV6_PACKET_TOO_BIG = 2;
/** ICMPv6 type Time Exceeded (RFC 4443 §3.3). */
export const ICMPV6_TIME_EXCEEDED = 3;
/** ICMPv6 type Parameter Problem (RFC 4443 §3.4). */
export const ICMPV6_PARAMETER_PROBLEM = 4;
/** ICMPv6 type Redirect (RFC 4861 §4.5). */
export const ICMPV6_REDIRECT = 137;
/** Destination Unreachable code: no route to destination. */
export const UNREACHABLE_NO_ROUTE = 0;
/** Destination Unreachable code: communication administratively prohibited. */
export const UNREACHABLE_ADMINISTRATIVELY_PROHIBITED = 1;
/** Destination Unreachable code: address unreachable. */
export const UNREACHABLE_ADDRESS = 3;
/** The IPv6 minimum MTU (RFC 8200 §5); an ICMPv6 error never exceeds it (RFC 4443 §2.4 c). */
export const IPV6_MINIMUM_MTU = 1280;
/** The longest ICMPv6 error: 1280 bytes, header included. */
export const ICMPV6_ERROR_MAX_LENGTH = IPV6_MINIMUM_MTU;

/** Options of {@link writeIcmpv6Error}. */
export interface Icmpv6ErrorOptions {
  /** The ICMPv6 type (1 Destination Unreachable, 2 Packet Too Big, …). */
  readonly type: number;
  /** The code (default 0). */
  readonly code?: number;
  /** The 32-bit field after the checksum: the MTU for Packet Too Big, else 0 (default 0). */
  readonly parameter?: number;
  /** The bytes holding the source address of the error (one of ours). */
  readonly source: Uint8Array;
  /** Where that address starts in `source` (default 0). */
  readonly sourceOffset?: number;
  /** The hop limit of the error (default 64). */
  readonly hopLimit?: number;
}

// Extension headers that may precede the upper-layer header (RFC 8200 §4.1).
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const DESTINATION_OPTIONS = 60;

/**
 * Tells whether an ICMPv6 error may be sent about a packet (RFC 4443 §2.4 e): not when its
 * source is unspecified or multicast (e.6), not when it is itself an ICMPv6 error or a
 * Redirect (e.1, e.2), not when its destination is multicast unless the error is Packet Too
 * Big (e.3). Extension headers are walked to find an ICMPv6 header; a truncated chain counts
 * as "may not". Allocation-free.
 *
 * @param packet the offending IPv6 packet
 * @param offset where it starts
 * @param length its length
 * @param type the type of the error we would send
 */
export function mayIcmpv6ErrorBeSent(
  packet: Uint8Array,
  offset: number,
  length: number,
  type: number,
): boolean {
  if (length < IPV6_HEADER_LENGTH) return false;
  const src = offset + IPV6_SOURCE_OFFSET;
  if (packet[src] === 0xff) return false; // multicast source
  let unspecified = true;
  for (let i = 0; i < 16; i++) {
    if (packet[src + i] !== 0) {
      unspecified = false;
      break;
    }
  }
  if (unspecified) return false;
  if (packet[offset + IPV6_DESTINATION_OFFSET] === 0xff && type !== ICMPV6_PACKET_TOO_BIG) {
    return false;
  }
  let next = ipv6NextHeader(packet, offset);
  let at = offset + IPV6_HEADER_LENGTH;
  const end = offset + length;
  for (let hops = 0; hops < 8; hops++) {
    if (next === PROTOCOL_ICMPV6) {
      if (at >= end) return false;
      const icmpType = packet[at];
      return icmpType >= 128 && icmpType !== ICMPV6_REDIRECT;
    }
    if (next === HOP_BY_HOP || next === ROUTING || next === DESTINATION_OPTIONS) {
      if (at + 2 > end) return false;
      next = packet[at];
      at += (packet[at + 1] + 1) << 3;
    } else if (next === FRAGMENT) {
      if (at + 8 > end) return false;
      // A non-first fragment has no upper-layer header to look at.
      if ((((packet[at + 2] << 8) | packet[at + 3]) & 0xfff8) !== 0) return true;
      next = packet[at];
      at += 8;
    } else {
      return true;
    }
  }
  return false;
}

/** Options of {@link writePacketTooBig}; mutable so one object can be reused per packet. */
export interface PacketTooBigOptions {
  /** The MTU to report (RFC 4443 §3.2). */
  mtu: number;
  /** The bytes holding our source address for the error. */
  source: Uint8Array;
  /** Where that address starts in `source` (default 0). */
  sourceOffset?: number;
  /** The hop limit of the error (default 64). */
  hopLimit?: number;
}

/** Options of {@link writeDestinationUnreachable}; mutable so one object can be reused. */
export interface DestinationUnreachableOptions {
  /** The code (RFC 4443 §3.1: 0 no route, 1 prohibited, 3 address unreachable, …). */
  code: number;
  /** The bytes holding our source address for the error. */
  source: Uint8Array;
  /** Where that address starts in `source` (default 0). */
  sourceOffset?: number;
  /** The hop limit of the error (default 64). */
  hopLimit?: number;
}

/**
 * Writes an ICMPv6 error about `packet` into `out` at `outOffset`: IPv6 header (source from
 * the options, destination = the offending packet's source, hop limit 64), ICMPv6 header
 * (type, code, checksum, parameter) and as much of the offending packet as fits in 1280 bytes
 * (RFC 4443 §2.4 c). Returns the length written, or 0 when no error may be sent
 * ({@link mayIcmpv6ErrorBeSent}) or `out` is too small for the headers.
 *
 * @param out the buffer to write into (1280 bytes from `outOffset` are enough)
 * @param outOffset where to write
 * @param packet the offending IPv6 packet (must not overlap the range written in `out`)
 * @param packetOffset where it starts
 * @param packetLength its length
 * @param options type, code, parameter and our source address
 */
export function writeIcmpv6Error(
  out: Uint8Array,
  outOffset: number,
  packet: Uint8Array,
  packetOffset: number,
  packetLength: number,
  options: Icmpv6ErrorOptions,
): number {
  return writeError(
    out,
    outOffset,
    packet,
    packetOffset,
    packetLength,
    options.type,
    options.code ?? 0,
    options.parameter ?? 0,
    options.source,
    options.sourceOffset ?? 0,
    options.hopLimit ?? 64,
  );
}

/**
 * Writes an ICMPv6 Packet Too Big (RFC 4443 §3.2) about `packet` (see
 * {@link writeIcmpv6Error}). Returns the length written, or 0 when none may be sent.
 *
 * @param out the buffer to write into
 * @param outOffset where to write
 * @param packet the offending IPv6 packet
 * @param packetOffset where it starts
 * @param packetLength its length
 * @param options the MTU and our source address
 */
export function writePacketTooBig(
  out: Uint8Array,
  outOffset: number,
  packet: Uint8Array,
  packetOffset: number,
  packetLength: number,
  options: PacketTooBigOptions,
): number {
  return writeError(
    out,
    outOffset,
    packet,
    packetOffset,
    packetLength,
    ICMPV6_PACKET_TOO_BIG,
    0,
    options.mtu,
    options.source,
    options.sourceOffset ?? 0,
    options.hopLimit ?? 64,
  );
}

/**
 * Writes an ICMPv6 Destination Unreachable (RFC 4443 §3.1) about `packet` (see
 * {@link writeIcmpv6Error}). Returns the length written, or 0 when none may be sent.
 *
 * @param out the buffer to write into
 * @param outOffset where to write
 * @param packet the offending IPv6 packet
 * @param packetOffset where it starts
 * @param packetLength its length
 * @param options the code and our source address
 */
export function writeDestinationUnreachable(
  out: Uint8Array,
  outOffset: number,
  packet: Uint8Array,
  packetOffset: number,
  packetLength: number,
  options: DestinationUnreachableOptions,
): number {
  return writeError(
    out,
    outOffset,
    packet,
    packetOffset,
    packetLength,
    ICMPV6_DESTINATION_UNREACHABLE,
    options.code,
    0,
    options.source,
    options.sourceOffset ?? 0,
    options.hopLimit ?? 64,
  );
}

function writeError(
  out: Uint8Array,
  outOffset: number,
  packet: Uint8Array,
  packetOffset: number,
  packetLength: number,
  type: number,
  code: number,
  parameter: number,
  source: Uint8Array,
  sourceOffset: number,
  hopLimit: number,
): number {
  if (!mayIcmpv6ErrorBeSent(packet, packetOffset, packetLength, type)) return 0;
  const room = Math.min(ICMPV6_ERROR_MAX_LENGTH, out.length - outOffset);
  if (room < IPV6_HEADER_LENGTH + 8) return 0;
  const quoted = Math.min(packetLength, room - IPV6_HEADER_LENGTH - 8);
  const icmpLength = 8 + quoted;
  const o = outOffset;
  out[o] = 0x60;
  out[o + 1] = 0;
  out[o + 2] = 0;
  out[o + 3] = 0;
  out[o + 4] = icmpLength >> 8;
  out[o + 5] = icmpLength & 0xff;
  out[o + 6] = PROTOCOL_ICMPV6;
  out[o + 7] = hopLimit;
  for (let i = 0; i < 16; i++) {
    out[o + IPV6_SOURCE_OFFSET + i] = source[sourceOffset + i];
    out[o + IPV6_DESTINATION_OFFSET + i] = packet[packetOffset + IPV6_SOURCE_OFFSET + i];
  }
  const icmp = o + IPV6_HEADER_LENGTH;
  out[icmp] = type;
  out[icmp + 1] = code;
  out[icmp + 2] = 0;
  out[icmp + 3] = 0;
  out[icmp + 4] = parameter >>> 24;
  out[icmp + 5] = parameter >>> 16;
  out[icmp + 6] = parameter >>> 8;
  out[icmp + 7] = parameter;
  for (let i = 0; i < quoted; i++) out[icmp + 8 + i] = packet[packetOffset + i];
  const sum = icmpv6Checksum(out, o, icmp, icmpLength);
  out[icmp + 2] = sum >> 8;
  out[icmp + 3] = sum & 0xff;
  return IPV6_HEADER_LENGTH + icmpLength;
}
