/**
 * ICMPv4 "fragmentation needed" (RFC 792, RFC 1191 §4) about our own protocol-41 packets:
 * the input of the path MTU table (RFC 4213 §3.4). Allocation-free.
 *
 * @module
 */

import {
  ipv4Destination,
  ipv4HeaderLength,
  ipv4Protocol,
  ipv4Source,
  ipv4TotalLength,
  ipv4Version,
  PROTOCOL_ICMP,
  PROTOCOL_IPV6,
} from "./headers.ts";

/** ICMPv4 type Destination Unreachable. */
export const ICMPV4_DESTINATION_UNREACHABLE = 3;
/** ICMPv4 Destination Unreachable code "fragmentation needed and DF set". */
export const ICMPV4_FRAGMENTATION_NEEDED = 4;

/** ICMPv4 type Time Exceeded. */
export const ICMPV4_TIME_EXCEEDED = 11;
/** ICMPv4 type Parameter Problem. */
export const ICMPV4_PARAMETER_PROBLEM = 12;

/** What {@link parseTunnelError} finds; allocate once and reuse. */
export class TunnelError {
  /** The ICMPv4 type (3, 11 or 12). */
  type = 0;
  /** The ICMPv4 code. */
  code = 0;
  /** The destination of our quoted packet: the tunnel peer. */
  peer = 0;
  /** For "fragmentation needed": the next-hop MTU (or a plateau estimate); else 0. */
  mtu = 0;
  /** Where the quoted inner IPv6 header starts in the buffer, or -1 when less than 40 bytes of it are quoted. */
  innerOffset = -1;
  /** How many bytes of the inner IPv6 packet are quoted (0 when `innerOffset` is -1). */
  innerLength = 0;
}

/**
 * Tells whether an IPv4 packet is an ICMPv4 error (Destination Unreachable, Time Exceeded,
 * Parameter Problem) about one of our protocol-41 packets (quoted protocol 41, quoted source
 * `own4`, RFC 792); if so, fills `result`: type, code, the peer, the next-hop MTU for
 * "fragmentation needed" (RFC 1191 §4; a plateau estimate when the router sent 0), and where
 * the quoted IPv6 packet is when its whole header is quoted (RFC 1812 §4.3.2.3 routers quote
 * more than 8 bytes), so an ICMPv6 error can be sent to its source (RFC 4213 §3.4). The ICMP
 * checksum is not checked: anyone on path could forge one anyway.
 *
 * @param buf the received packet, starting with its IPv4 header (as a raw socket gives it)
 * @param offset where the IPv4 header starts
 * @param length the packet's length
 * @param own4 our IPv4 address
 * @param result filled on success
 */
export function parseTunnelError(
  buf: Uint8Array,
  offset: number,
  length: number,
  own4: number,
  result: TunnelError,
): boolean {
  if (length < 20 || offset < 0 || offset + length > buf.length) return false;
  if (ipv4Version(buf, offset) !== 4) return false;
  const ihl = ipv4HeaderLength(buf, offset);
  if (ihl < 20 || ipv4Protocol(buf, offset) !== PROTOCOL_ICMP) return false;
  const total = Math.min(length, ipv4TotalLength(buf, offset));
  const icmp = offset + ihl;
  const quoted = icmp + 8;
  // ICMP header, then at least the quoted IPv4 header (RFC 792: header + 64 bits).
  if (total < ihl + 8 + 20) return false;
  const type = buf[icmp];
  if (
    type !== ICMPV4_DESTINATION_UNREACHABLE && type !== ICMPV4_TIME_EXCEEDED &&
    type !== ICMPV4_PARAMETER_PROBLEM
  ) return false;
  if (ipv4Version(buf, quoted) !== 4 || ipv4Protocol(buf, quoted) !== PROTOCOL_IPV6) return false;
  const quotedIhl = ipv4HeaderLength(buf, quoted);
  if (quotedIhl < 20 || ipv4Source(buf, quoted) !== own4 >>> 0) return false;
  const code = buf[icmp + 1];
  let mtu = 0;
  if (type === ICMPV4_DESTINATION_UNREACHABLE && code === ICMPV4_FRAGMENTATION_NEEDED) {
    mtu = (buf[icmp + 6] << 8) | buf[icmp + 7];
    if (mtu === 0) mtu = mtuPlateauBelow(ipv4TotalLength(buf, quoted));
    if (mtu < 68) return false; // RFC 791: every IPv4 link carries 68 bytes
  }
  result.type = type;
  result.code = code;
  result.peer = ipv4Destination(buf, quoted);
  result.mtu = mtu;
  const inner = quoted + quotedIhl;
  const innerLength = offset + total - inner;
  if (innerLength >= 40 && buf[inner] >> 4 === 6) {
    result.innerOffset = inner;
    result.innerLength = innerLength;
  } else {
    result.innerOffset = -1;
    result.innerLength = 0;
  }
  return true;
}

/** What {@link parseFragmentationNeeded} finds; allocate once and reuse. */
export class FragmentationNeeded {
  /** The destination of our quoted packet: the tunnel peer whose path is smaller. */
  peer = 0;
  /** The next-hop MTU (RFC 1191 §4), or a plateau estimate when the router sent 0. */
  mtu = 0;
}

// RFC 1191 §7 plateau table, for routers that do not report the next-hop MTU.
const PLATEAUS = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/**
 * Returns the RFC 1191 §5 plateau just below a datagram length: the MTU to assume when a
 * router sends "fragmentation needed" with a next-hop MTU of 0.
 *
 * @param length the length of the datagram that did not pass
 */
export function mtuPlateauBelow(length: number): number {
  for (const p of PLATEAUS) if (p < length) return p;
  return 68;
}

/**
 * Tells whether an IPv4 packet is an ICMPv4 "fragmentation needed" (type 3 code 4) that quotes
 * one of our protocol-41 packets (quoted protocol 41, quoted source `own4`); if so, fills
 * `result` with the quoted destination and the next-hop MTU. The ICMP checksum is not checked:
 * anyone on path could forge one anyway, and the table only ever lowers the MTU to ≥ 1280.
 *
 * @param buf the received packet, starting with its IPv4 header (as a raw socket gives it)
 * @param offset where the IPv4 header starts
 * @param length the packet's length
 * @param own4 our IPv4 address
 * @param result filled on success
 */
export function parseFragmentationNeeded(
  buf: Uint8Array,
  offset: number,
  length: number,
  own4: number,
  result: FragmentationNeeded,
): boolean {
  const error = SCRATCH;
  if (!parseTunnelError(buf, offset, length, own4, error)) return false;
  if (error.type !== ICMPV4_DESTINATION_UNREACHABLE) return false;
  if (error.code !== ICMPV4_FRAGMENTATION_NEEDED) return false;
  result.peer = error.peer;
  result.mtu = error.mtu;
  return true;
}

// One scratch result for parseFragmentationNeeded (pure code is single-threaded per Worker).
const SCRATCH = new TunnelError();
