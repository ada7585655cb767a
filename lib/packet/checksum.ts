/**
 * The Internet checksum (RFC 1071): IPv4 header checksum and ICMPv6 checksum with the IPv6
 * pseudo-header (RFC 8200 §8.1). Allocation-free.
 *
 * @module
 */

import { IPV6_DESTINATION_OFFSET, IPV6_SOURCE_OFFSET, PROTOCOL_ICMPV6 } from "./headers.ts";

/**
 * Adds bytes to a running one's-complement sum (not folded). Start with 0, fold with
 * {@link finishChecksum}. An odd length is padded with a zero byte (RFC 1071 §4.1).
 *
 * @param sum the running sum
 * @param buf the bytes
 * @param offset where they start
 * @param length how many
 */
export function addToChecksum(
  sum: number,
  buf: Uint8Array,
  offset: number,
  length: number,
): number {
  const end = offset + length - 1;
  let i = offset;
  for (; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i === end) sum += buf[i] << 8;
  // Fold now and then so the sum stays a small integer.
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * Folds a running sum and returns its one's complement: the checksum to store.
 *
 * @param sum the running sum from {@link addToChecksum}
 */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Computes the Internet checksum of a byte range (RFC 1071).
 *
 * @param buf the bytes
 * @param offset where they start
 * @param length how many
 */
export function internetChecksum(buf: Uint8Array, offset: number, length: number): number {
  return finishChecksum(addToChecksum(0, buf, offset, length));
}

/**
 * Computes the header checksum of an IPv4 header, treating the checksum field as zero
 * (RFC 791 §3.1).
 *
 * @param buf the packet
 * @param offset where the IPv4 header starts
 * @param headerLength the header length in bytes (default 20)
 */
export function ipv4HeaderChecksum(buf: Uint8Array, offset: number, headerLength = 20): number {
  let sum = addToChecksum(0, buf, offset, 10);
  sum = addToChecksum(sum, buf, offset + 12, headerLength - 12);
  return finishChecksum(sum);
}

/**
 * Computes the ICMPv6 checksum (RFC 4443 §2.3) of a message, with the pseudo-header of RFC 8200
 * §8.1, treating the checksum field as zero. The addresses are read from the IPv6 header.
 *
 * @param buf the packet
 * @param ipv6Offset where the IPv6 header starts
 * @param icmpOffset where the ICMPv6 message starts
 * @param icmpLength its length in bytes
 */
export function icmpv6Checksum(
  buf: Uint8Array,
  ipv6Offset: number,
  icmpOffset: number,
  icmpLength: number,
): number {
  let sum = addToChecksum(0, buf, ipv6Offset + IPV6_SOURCE_OFFSET, 16);
  sum = addToChecksum(sum, buf, ipv6Offset + IPV6_DESTINATION_OFFSET, 16);
  sum += (icmpLength >>> 16) + (icmpLength & 0xffff) + PROTOCOL_ICMPV6;
  sum = addToChecksum(sum, buf, icmpOffset, 2);
  sum = addToChecksum(sum, buf, icmpOffset + 4, icmpLength - 4);
  return finishChecksum(sum);
}
