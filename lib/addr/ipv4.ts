/**
 * IPv4 addresses as unsigned 32-bit numbers: parsing (strict dotted quad), formatting and
 * prefix math.
 *
 * @module
 */

/** An IPv4 address as an unsigned 32-bit integer (`192.0.2.1` is `0xc0000201`). */
export type Ipv4Address = number;

/** An IPv4 prefix: a network address with no host bits set, and its length 0..32. */
export interface Ipv4Prefix {
  /** The network address. */
  readonly address: Ipv4Address;
  /** The prefix length, 0..32. */
  readonly length: number;
}

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/**
 * Parses a dotted-quad IPv4 address, or returns `undefined`. Strict: exactly four decimal
 * octets without leading zeros, no whitespace, no hexadecimal or octal forms, no prefix length.
 *
 * @param text the text to parse
 */
export function tryParseIpv4(text: string): Ipv4Address | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/**
 * Parses a dotted-quad IPv4 address.
 *
 * @example
 * ```ts
 * parseIpv4("192.0.2.1"); // 0xc0000201
 * ```
 * @param text the text to parse
 * @throws {SyntaxError} when the text is not a strict dotted quad
 */
export function parseIpv4(text: string): Ipv4Address {
  const value = tryParseIpv4(text);
  if (value === undefined) {
    throw new SyntaxError(`Cannot parse "${text}" as an IPv4 address`);
  }
  return value;
}

/**
 * Formats an IPv4 address as a dotted quad.
 *
 * @param address the address
 */
export function formatIpv4(address: Ipv4Address): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/**
 * Returns the netmask of a prefix length as an unsigned 32-bit number.
 *
 * @param length the prefix length, 0..32
 */
export function ipv4Mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/**
 * Tells whether an address lies in a prefix.
 *
 * @param prefix the prefix
 * @param address the address
 */
export function ipv4PrefixContains(prefix: Ipv4Prefix, address: Ipv4Address): boolean {
  return ((address & ipv4Mask(prefix.length)) >>> 0) === prefix.address;
}

/**
 * Parses `A.B.C.D/LEN`. A bare address is accepted as a /32 when `allowBare` is set.
 * Host bits are refused: `192.0.2.1/24` is an error, since a filter written that way almost
 * always means something other than what it matches.
 *
 * @param text the text to parse
 * @param options parsing options
 * @throws {SyntaxError} when the text is not a prefix, or has host bits set
 */
export function parseIpv4Prefix(text: string, options: ParsePrefixOptions = {}): Ipv4Prefix {
  const slash = text.indexOf("/");
  if (slash < 0) {
    if (options.allowBare) return { address: parseIpv4(text), length: 32 };
    throw new SyntaxError(`Cannot parse "${text}" as an IPv4 prefix: expected A.B.C.D/LEN`);
  }
  const address = tryParseIpv4(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined || !/^(3[0-2]|[12]?[0-9])$/.test(lengthText)) {
    throw new SyntaxError(`Cannot parse "${text}" as an IPv4 prefix: expected A.B.C.D/LEN`);
  }
  const length = Number(lengthText);
  if (((address & ipv4Mask(length)) >>> 0) !== address) {
    const network = formatIpv4((address & ipv4Mask(length)) >>> 0);
    throw new SyntaxError(
      `Cannot parse "${text}" as an IPv4 prefix: host bits are set (did you mean "${network}/${length}"?)`,
    );
  }
  return { address, length };
}

/** Options of {@link parseIpv4Prefix} and {@link parseIpv6Prefix}. */
export interface ParsePrefixOptions {
  /** Accept a bare address as a host prefix (/32 or /128). */
  readonly allowBare?: boolean;
}

/**
 * Formats an IPv4 prefix as `A.B.C.D/LEN`.
 *
 * @param prefix the prefix
 */
export function formatIpv4Prefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4(prefix.address)}/${prefix.length}`;
}

/**
 * Writes an IPv4 address into 4 bytes in network order.
 *
 * @param address the address
 * @param target where to write
 * @param offset the first byte
 */
export function writeIpv4(address: Ipv4Address, target: Uint8Array, offset = 0): void {
  target[offset] = address >>> 24;
  target[offset + 1] = address >>> 16;
  target[offset + 2] = address >>> 8;
  target[offset + 3] = address;
}

/**
 * Reads an IPv4 address from 4 bytes in network order.
 *
 * @param source the bytes
 * @param offset the first byte
 */
export function readIpv4(source: Uint8Array, offset = 0): Ipv4Address {
  return ((source[offset] << 24) | (source[offset + 1] << 16) | (source[offset + 2] << 8) |
    source[offset + 3]) >>> 0;
}
