/**
 * Header views: functions that read and write IPv4 (RFC 791) and IPv6 (RFC 8200 §3) header
 * fields in a `Uint8Array` at an offset. They return numbers and allocate nothing, so they may
 * be called per packet. No bounds checks: the caller checks lengths first.
 *
 * @module
 */

/** The length of an IPv4 header without options. */
export const IPV4_HEADER_LENGTH = 20;
/** The length of the IPv6 fixed header. */
export const IPV6_HEADER_LENGTH = 40;
/** Where the source address starts in an IPv6 header. */
export const IPV6_SOURCE_OFFSET = 8;
/** Where the destination address starts in an IPv6 header. */
export const IPV6_DESTINATION_OFFSET = 24;
/** Where the source address starts in an IPv4 header. */
export const IPV4_SOURCE_OFFSET = 12;
/** Where the destination address starts in an IPv4 header. */
export const IPV4_DESTINATION_OFFSET = 16;
/** The IP protocol number of IPv6-in-IPv4 encapsulation (RFC 4213 §3.5). */
export const PROTOCOL_IPV6 = 41;
/** The IP protocol number of ICMPv4. */
export const PROTOCOL_ICMP = 1;
/** The next-header number of ICMPv6. */
export const PROTOCOL_ICMPV6 = 58;
/** TCP's protocol / next-header number. */
export const PROTOCOL_TCP = 6;
/** UDP's protocol / next-header number. */
export const PROTOCOL_UDP = 17;

// ---- IPv4 -------------------------------------------------------------------------------

/** Reads the IPv4 version field (4 for IPv4). */
export function ipv4Version(buf: Uint8Array, offset: number): number {
  return buf[offset] >> 4;
}

/** Reads the IPv4 IHL field (in 32-bit words). */
export function ipv4Ihl(buf: Uint8Array, offset: number): number {
  return buf[offset] & 0x0f;
}

/** Reads the IPv4 header length in bytes (IHL × 4). */
export function ipv4HeaderLength(buf: Uint8Array, offset: number): number {
  return (buf[offset] & 0x0f) << 2;
}

/** Reads the IPv4 type-of-service byte (DSCP and ECN). */
export function ipv4Tos(buf: Uint8Array, offset: number): number {
  return buf[offset + 1];
}

/** Reads the IPv4 DSCP (the upper six bits of the TOS byte, RFC 2474). */
export function ipv4Dscp(buf: Uint8Array, offset: number): number {
  return buf[offset + 1] >> 2;
}

/** Reads the IPv4 ECN field (the lower two bits of the TOS byte, RFC 3168). */
export function ipv4Ecn(buf: Uint8Array, offset: number): number {
  return buf[offset + 1] & 3;
}

/** Reads the IPv4 total length. */
export function ipv4TotalLength(buf: Uint8Array, offset: number): number {
  return (buf[offset + 2] << 8) | buf[offset + 3];
}

/** Reads the IPv4 identification field. */
export function ipv4Id(buf: Uint8Array, offset: number): number {
  return (buf[offset + 4] << 8) | buf[offset + 5];
}

/** Reads the IPv4 flags (3 bits: reserved, DF, MF). */
export function ipv4Flags(buf: Uint8Array, offset: number): number {
  return buf[offset + 6] >> 5;
}

/** Tells whether the IPv4 Don't Fragment flag is set. */
export function ipv4DontFragment(buf: Uint8Array, offset: number): boolean {
  return (buf[offset + 6] & 0x40) !== 0;
}

/** Tells whether the IPv4 More Fragments flag is set. */
export function ipv4MoreFragments(buf: Uint8Array, offset: number): boolean {
  return (buf[offset + 6] & 0x20) !== 0;
}

/** Reads the IPv4 fragment offset (in 8-byte units). */
export function ipv4FragmentOffset(buf: Uint8Array, offset: number): number {
  return ((buf[offset + 6] & 0x1f) << 8) | buf[offset + 7];
}

/** Reads the IPv4 time to live. */
export function ipv4Ttl(buf: Uint8Array, offset: number): number {
  return buf[offset + 8];
}

/** Reads the IPv4 protocol. */
export function ipv4Protocol(buf: Uint8Array, offset: number): number {
  return buf[offset + 9];
}

/** Reads the IPv4 header checksum as stored. */
export function ipv4Checksum(buf: Uint8Array, offset: number): number {
  return (buf[offset + 10] << 8) | buf[offset + 11];
}

/** Reads the IPv4 source address as an unsigned 32-bit number. */
export function ipv4Source(buf: Uint8Array, offset: number): number {
  return ((buf[offset + 12] << 24) | (buf[offset + 13] << 16) | (buf[offset + 14] << 8) |
    buf[offset + 15]) >>> 0;
}

/** Reads the IPv4 destination address as an unsigned 32-bit number. */
export function ipv4Destination(buf: Uint8Array, offset: number): number {
  return ((buf[offset + 16] << 24) | (buf[offset + 17] << 16) | (buf[offset + 18] << 8) |
    buf[offset + 19]) >>> 0;
}

// ---- IPv6 -------------------------------------------------------------------------------

/** Reads the IPv6 version field (6 for IPv6). */
export function ipv6Version(buf: Uint8Array, offset: number): number {
  return buf[offset] >> 4;
}

/** Reads the IPv6 traffic class (DSCP and ECN). */
export function ipv6TrafficClass(buf: Uint8Array, offset: number): number {
  return ((buf[offset] & 0x0f) << 4) | (buf[offset + 1] >> 4);
}

/** Reads the IPv6 DSCP (upper six bits of the traffic class). */
export function ipv6Dscp(buf: Uint8Array, offset: number): number {
  return ipv6TrafficClass(buf, offset) >> 2;
}

/** Reads the IPv6 ECN field (lower two bits of the traffic class, RFC 3168). */
export function ipv6Ecn(buf: Uint8Array, offset: number): number {
  return (buf[offset + 1] >> 4) & 3;
}

/**
 * Writes the IPv6 ECN field, leaving the rest of the header as it is.
 *
 * @param buf the packet
 * @param offset where the IPv6 header starts
 * @param ecn the new ECN codepoint, 0..3
 */
export function setIpv6Ecn(buf: Uint8Array, offset: number, ecn: number): void {
  buf[offset + 1] = (buf[offset + 1] & 0xcf) | ((ecn & 3) << 4);
}

/** Reads the IPv6 flow label (20 bits). */
export function ipv6FlowLabel(buf: Uint8Array, offset: number): number {
  return ((buf[offset + 1] & 0x0f) << 16) | (buf[offset + 2] << 8) | buf[offset + 3];
}

/** Reads the IPv6 payload length. */
export function ipv6PayloadLength(buf: Uint8Array, offset: number): number {
  return (buf[offset + 4] << 8) | buf[offset + 5];
}

/** Reads the IPv6 next header. */
export function ipv6NextHeader(buf: Uint8Array, offset: number): number {
  return buf[offset + 6];
}

/** Reads the IPv6 hop limit. */
export function ipv6HopLimit(buf: Uint8Array, offset: number): number {
  return buf[offset + 7];
}
