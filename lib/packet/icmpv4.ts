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
  if (length < 20 || ipv4Version(buf, offset) !== 4) return false;
  const ihl = ipv4HeaderLength(buf, offset);
  if (ihl < 20 || ipv4Protocol(buf, offset) !== PROTOCOL_ICMP) return false;
  const total = Math.min(length, ipv4TotalLength(buf, offset));
  const icmp = offset + ihl;
  const quoted = icmp + 8;
  // ICMP header, then at least the quoted IPv4 header (RFC 792: header + 64 bits).
  if (total < ihl + 8 + 20) return false;
  if (buf[icmp] !== ICMPV4_DESTINATION_UNREACHABLE) return false;
  if (buf[icmp + 1] !== ICMPV4_FRAGMENTATION_NEEDED) return false;
  if (ipv4Version(buf, quoted) !== 4 || ipv4Protocol(buf, quoted) !== PROTOCOL_IPV6) return false;
  if (ipv4Source(buf, quoted) !== own4 >>> 0) return false;
  let mtu = (buf[icmp + 6] << 8) | buf[icmp + 7];
  if (mtu === 0) mtu = mtuPlateauBelow(ipv4TotalLength(buf, quoted));
  if (mtu < 68) return false; // RFC 791: every IPv4 link carries 68 bytes
  result.peer = ipv4Destination(buf, quoted);
  result.mtu = mtu;
  return true;
}
