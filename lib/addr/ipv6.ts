/**
 * IPv6 addresses as 16-byte arrays: strict parsing (RFC 4291 §2.2), canonical formatting
 * (RFC 5952) and prefix math.
 *
 * @module
 */

import { formatIpv4, type ParsePrefixOptions, readIpv4, tryParseIpv4 } from "./ipv4.ts";

/** An IPv6 address: 16 bytes in network order. */
export type Ipv6Address = Uint8Array;

/** An IPv6 prefix: a network address with no host bits set, and its length 0..128. */
export interface Ipv6Prefix {
  /** The network address (16 bytes). */
  readonly address: Ipv6Address;
  /** The prefix length, 0..128. */
  readonly length: number;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseGroups(text: string, out: number[]): boolean {
  if (text === "") return true;
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (HEXTET.test(part)) {
      out.push(parseInt(part, 16));
    } else if (i === parts.length - 1 && part.includes(".")) {
      const v4 = tryParseIpv4(part);
      if (v4 === undefined) return false;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else {
      return false;
    }
  }
  return true;
}

/**
 * Parses an IPv6 address in any RFC 4291 §2.2 text form, or returns `undefined`. No zone
 * index, no brackets, no whitespace, no prefix length.
 *
 * @param text the text to parse
 */
export function tryParseIpv6(text: string): Ipv6Address | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  if (!parseGroups(halves[0], head)) return undefined;
  if (halves.length === 2) {
    if (!parseGroups(halves[1], tail)) return undefined;
    // An embedded IPv4 address may only end the address.
    if (halves[0].includes(".")) return undefined;
    if (head.length + tail.length > 7) return undefined;
  } else if (head.length !== 8) {
    return undefined;
  }
  const bytes = new Uint8Array(16);
  head.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 255;
  });
  const start = 8 - tail.length;
  tail.forEach((g, i) => {
    bytes[2 * (start + i)] = g >> 8;
    bytes[2 * (start + i) + 1] = g & 255;
  });
  return bytes;
}

/**
 * Parses an IPv6 address.
 *
 * @example
 * ```ts
 * formatIpv6(parseIpv6("2002:C000:0201:0:0:0:0:1")); // "2002:c000:201::1"
 * ```
 * @param text the text to parse
 * @throws {SyntaxError} when the text is not an IPv6 address
 */
export function parseIpv6(text: string): Ipv6Address {
  const value = tryParseIpv6(text);
  if (value === undefined) {
    throw new SyntaxError(`Cannot parse "${text}" as an IPv6 address`);
  }
  return value;
}

/**
 * Formats an IPv6 address in the canonical text form of RFC 5952 §4: lower case, no leading
 * zeros, the longest run (first on a tie) of two or more zero groups as `::`; IPv4-mapped
 * addresses in mixed notation (§5).
 *
 * @param address the 16 bytes
 */
export function formatIpv6(address: Ipv6Address, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    groups.push((address[offset + 2 * i] << 8) | address[offset + 2 * i + 1]);
  }
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 &&
    groups[4] === 0 && groups[5] === 0xffff
  ) {
    return `::ffff:${formatIpv4(readIpv4(address, offset + 12))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/**
 * Returns a copy of an address with every bit after `length` cleared.
 *
 * @param address the address
 * @param length the prefix length, 0..128
 */
export function maskIpv6(address: Ipv6Address, length: number): Ipv6Address {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    out[i] = address[i] & (0xff00 >> bits);
  }
  return out;
}

/**
 * Tells whether an address (16 bytes at `offset`) lies in a prefix. Allocates nothing, so it
 * may be called per packet.
 *
 * @param prefix the prefix
 * @param bytes the bytes holding the address
 * @param offset where the address starts
 */
export function ipv6PrefixContains(prefix: Ipv6Prefix, bytes: Uint8Array, offset = 0): boolean {
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) {
    if (bytes[offset + i] !== prefix.address[i]) return false;
  }
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (bytes[offset + full] & mask) === prefix.address[full];
}

/**
 * Parses `ADDRESS/LEN`. Host bits are refused (`2001:db8::1/32` is an error).
 *
 * @param text the text to parse
 * @param options parsing options
 * @throws {SyntaxError} when the text is not a prefix, or has host bits set
 */
export function parseIpv6Prefix(text: string, options: ParsePrefixOptions = {}): Ipv6Prefix {
  const slash = text.indexOf("/");
  if (slash < 0) {
    if (options.allowBare) return { address: parseIpv6(text), length: 128 };
    throw new SyntaxError(`Cannot parse "${text}" as an IPv6 prefix: expected ADDRESS/LEN`);
  }
  const address = tryParseIpv6(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined || !/^(12[0-8]|1[01][0-9]|[1-9]?[0-9])$/.test(lengthText)) {
    throw new SyntaxError(`Cannot parse "${text}" as an IPv6 prefix: expected ADDRESS/LEN`);
  }
  const length = Number(lengthText);
  const network = maskIpv6(address, length);
  if (!ipv6Equal(network, address)) {
    throw new SyntaxError(
      `Cannot parse "${text}" as an IPv6 prefix: host bits are set (did you mean "${
        formatIpv6(network)
      }/${length}"?)`,
    );
  }
  return { address, length };
}

/**
 * Formats an IPv6 prefix as `ADDRESS/LEN` in canonical form.
 *
 * @param prefix the prefix
 */
export function formatIpv6Prefix(prefix: Ipv6Prefix): string {
  return `${formatIpv6(prefix.address)}/${prefix.length}`;
}

/**
 * Tells whether two 16-byte addresses are equal.
 *
 * @param a the first address
 * @param b the second address
 */
export function ipv6Equal(a: Ipv6Address, b: Ipv6Address): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Reads bits `[start, start + count)` of an address as an unsigned number (count ≤ 32).
 *
 * @param bytes the bytes holding the address
 * @param start the first bit, 0 being the most significant bit of the first byte
 * @param count how many bits, at most 32
 * @param offset where the address starts in `bytes`
 */
export function readBits(bytes: Uint8Array, start: number, count: number, offset = 0): number {
  let value = 0;
  for (let i = 0; i < count; i++) {
    const bit = start + i;
    value = value * 2 + ((bytes[offset + (bit >> 3)] >> (7 - (bit & 7))) & 1);
  }
  return value;
}

/**
 * Writes the low `count` bits of `value` into bits `[start, start + count)` of an address.
 *
 * @param bytes the address bytes (modified)
 * @param start the first bit
 * @param count how many bits, at most 32
 * @param value the value
 */
export function writeBits(bytes: Uint8Array, start: number, count: number, value: number): void {
  for (let i = 0; i < count; i++) {
    const bit = start + i;
    const on = Math.floor(value / 2 ** (count - 1 - i)) & 1;
    const mask = 1 << (7 - (bit & 7));
    if (on) bytes[bit >> 3] |= mask;
    else bytes[bit >> 3] &= ~mask;
  }
}
