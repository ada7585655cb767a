/**
 * Address classes: the special-purpose IPv4 blocks (RFC 6890) and the sets C4, C6 and C6src
 * of the filtering rules (RFC 3964 §5.3, RFC 4213 §3.6). Per-packet checks take numbers or
 * byte offsets and allocate nothing.
 *
 * @module
 */

import { type Ipv4Address, type Ipv4Prefix, ipv4PrefixContains, parseIpv4Prefix } from "./ipv4.ts";
import { embeddedIpv4, isSixToFour } from "./sixtofour.ts";

/** A special-purpose IPv4 block. */
export interface Ipv4Block {
  /** A short name, used in messages and `--json` output (`private`, `loopback`, …). */
  readonly name: string;
  /** The block. */
  readonly prefix: Ipv4Prefix;
  /** The RFC that reserves it. */
  readonly rfc: string;
  /** Whether the block is in C4 (RFC 3964 §5.3.1), the set always filtered. */
  readonly martian: boolean;
}

function block(name: string, cidr: string, rfc: string, martian: boolean): Ipv4Block {
  return Object.freeze({ name, prefix: parseIpv4Prefix(cidr), rfc, martian });
}

/**
 * The special-purpose IPv4 blocks, most specific first. Those marked `martian` form C4
 * (RFC 3964 §5.3.1, RFC 3056 §9); the others are the strict additions from RFC 6890.
 */
export const IPV4_BLOCKS: readonly Ipv4Block[] = Object.freeze([
  block("limited-broadcast", "255.255.255.255/32", "RFC 919", true),
  block("this-network", "0.0.0.0/8", "RFC 1122", true),
  block("private", "10.0.0.0/8", "RFC 1918", true),
  block("loopback", "127.0.0.0/8", "RFC 1122", true),
  block("link-local", "169.254.0.0/16", "RFC 3927", true),
  block("private", "172.16.0.0/12", "RFC 1918", true),
  block("private", "192.168.0.0/16", "RFC 1918", true),
  block("multicast", "224.0.0.0/4", "RFC 5771", true),
  block("reserved", "240.0.0.0/4", "RFC 1112", true),
  block("shared-address-space", "100.64.0.0/10", "RFC 6598", false),
  block("ietf-protocol-assignments", "192.0.0.0/24", "RFC 6890", false),
  block("documentation", "192.0.2.0/24", "RFC 5737", false),
  block("6to4-relay-anycast", "192.88.99.0/24", "RFC 7526", false),
  block("benchmarking", "198.18.0.0/15", "RFC 2544", false),
  block("documentation", "198.51.100.0/24", "RFC 5737", false),
  block("documentation", "203.0.113.0/24", "RFC 5737", false),
]);

/**
 * Returns the special-purpose block of an IPv4 address, or `undefined` for a global one.
 *
 * @param address the address
 */
export function classifyIpv4(address: Ipv4Address): Ipv4Block | undefined {
  for (const b of IPV4_BLOCKS) {
    if (ipv4PrefixContains(b.prefix, address)) return b;
  }
  return undefined;
}

/**
 * Tells whether an IPv4 address is in C4 (RFC 3964 §5.3.1, RFC 3056 §9): `0/8`, `10/8`,
 * `127/8`, `169.254/16`, `172.16/12`, `192.168/16`, `224/4`, `240/4`. Local subnet
 * broadcasts are added by the policy, which knows them. With `strict`, every RFC 6890
 * non-global block counts (documentation, shared address space, benchmarking, …), but not
 * the 6to4 relay anycast block: relays live there. Allocates nothing.
 *
 * @param a the address
 * @param strict include the RFC 6890 non-global blocks
 */
export function isMartianIpv4(a: Ipv4Address, strict = false): boolean {
  const top = a >>> 24;
  if (top === 0 || top === 10 || top === 127 || top >= 224) return true;
  const top16 = a >>> 16;
  if (top16 === 0xa9fe || top16 === 0xc0a8) return true; // 169.254/16, 192.168/16
  if ((a >>> 20) === 0xac1) return true; // 172.16/12
  if (!strict) return false;
  if ((a >>> 22) === 0x191) return true; // 100.64/10
  const top24 = a >>> 8;
  return top24 === 0xc00000 || // 192.0.0/24
    top24 === 0xc00002 || // 192.0.2/24
    (a >>> 17) === (0xc612 >>> 1) || // 198.18/15
    top24 === 0xc63364 || // 198.51.100/24
    top24 === 0xcb0071; // 203.0.113/24
}

/**
 * Tells whether an IPv4 address is not usable as a 6to4 site address: in C4, or in the shared
 * address space `100.64.0.0/10` (RFC 3056 §2, RFC 6343 §4.1, RFC 6598).
 *
 * @param a the address
 */
export function isNonGlobalSixToFourIpv4(a: Ipv4Address): boolean {
  return isMartianIpv4(a) || (a >>> 22) === 0x191;
}

/**
 * Tells whether an IPv6 address is in C6 (RFC 3964 §5.3.2): `::/16`, `fe80::/10`,
 * `fec0::/10`, `ff00::/8`, or `2002:V::/48` with V in C4. Allocates nothing.
 *
 * @param bytes the bytes holding the address
 * @param offset where it starts
 * @param strict use the strict IPv4 set for embedded addresses
 */
export function isMartianIpv6(bytes: Uint8Array, offset = 0, strict = false): boolean {
  const b0 = bytes[offset];
  const b1 = bytes[offset + 1];
  if (b0 === 0 && b1 === 0) return true; // ::/16
  if (b0 === 0xff) return true; // ff00::/8
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return true; // fe80::/10
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return true; // fec0::/10
  if (isSixToFour(bytes, offset)) return isMartianIpv4(embeddedIpv4(bytes, offset), strict);
  return false;
}

/**
 * Tells whether an IPv6 address may not be the source of a decapsulated packet
 * (C6src, RFC 4213 §3.6): `ff00::/8`, `::1`, `::/96` except `::`, `::ffff:0:0/96`.
 *
 * @param bytes the bytes holding the address
 * @param offset where it starts
 */
export function isInvalidDecapsulatedSource(bytes: Uint8Array, offset = 0): boolean {
  if (bytes[offset] === 0xff) return true;
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) return false;
  const b10 = bytes[offset + 10];
  const b11 = bytes[offset + 11];
  if (b10 === 0xff && b11 === 0xff) return true; // ::ffff:0:0/96
  if (b10 !== 0 || b11 !== 0) return false;
  // ::/96 except :: (the unspecified address, used by DAD).
  for (let i = 12; i < 16; i++) if (bytes[offset + i] !== 0) return true;
  return false;
}
