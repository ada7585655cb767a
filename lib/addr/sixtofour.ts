/**
 * 6to4 (RFC 3056) and 6rd (RFC 5969) address mapping. 6to4 is the 6rd domain with prefix
 * `2002::/16` and an IPv4 mask length of 0, so one set of functions serves both.
 *
 * @module
 */

import { PolicyError } from "../errors.ts";
import { formatIpv4, type Ipv4Address, ipv4Mask, readIpv4 } from "./ipv4.ts";
import {
  formatIpv6,
  type Ipv6Address,
  type Ipv6Prefix,
  ipv6PrefixContains,
  maskIpv6,
  parseIpv6,
  readBits,
  writeBits,
} from "./ipv6.ts";

/** A 6rd domain (RFC 5969 §4): the provider's prefix and how much of the IPv4 is embedded. */
export interface SixRdDomain {
  /** The 6rd prefix (`2002::/16` for 6to4). */
  readonly prefix: Ipv6Prefix;
  /** How many high-order IPv4 bits are common to the domain and so not embedded (0..32). */
  readonly ipv4MaskLength: number;
  /** Those common high-order bits, needed to decode; 0 when `ipv4MaskLength` is 0. */
  readonly ipv4CommonPrefix: Ipv4Address;
}

/** The 6to4 prefix `2002::/16` (RFC 3056 §2). */
export const SIX_TO_FOUR_PREFIX: Ipv6Prefix = Object.freeze({
  address: parseIpv6("2002::"),
  length: 16,
});

/** 6to4 seen as a 6rd domain: all 32 IPv4 bits after `2002::/16`. */
export const SIX_TO_FOUR_DOMAIN: SixRdDomain = Object.freeze({
  prefix: SIX_TO_FOUR_PREFIX,
  ipv4MaskLength: 0,
  ipv4CommonPrefix: 0,
});

/**
 * Returns the length of the prefix delegated to a site of a 6rd domain
 * (RFC 5969 §4: 6rd prefix length + 32 − IPv4 mask length).
 *
 * @param domain the 6rd domain
 */
export function delegatedPrefixLength(domain: SixRdDomain): number {
  return domain.prefix.length + 32 - domain.ipv4MaskLength;
}

/**
 * Checks a 6rd domain: mask length 0..32, and a delegated prefix of at most /64
 * (RFC 5969 §4; reason `6rd-prefix-too-long`).
 *
 * @param domain the domain
 * @throws {RangeError} when the mask length is not 0..32
 * @throws {PolicyError} `6rd-prefix-too-long` when the delegated prefix is longer than /64
 */
export function validateSixRdDomain(domain: SixRdDomain): void {
  const { ipv4MaskLength } = domain;
  if (!Number.isInteger(ipv4MaskLength) || ipv4MaskLength < 0 || ipv4MaskLength > 32) {
    throw new RangeError(`Cannot use 6rd IPv4 mask length ${ipv4MaskLength}: expected 0..32`);
  }
  const delegated = delegatedPrefixLength(domain);
  if (delegated > 64) {
    throw new PolicyError(
      "6rd-prefix-too-long",
      `Cannot use 6rd prefix ${formatIpv6(domain.prefix.address)}/${domain.prefix.length} with ` +
        `IPv4 mask length ${ipv4MaskLength}: the delegated prefix would be /${delegated}, ` +
        `longer than /64 (RFC 5969 §4)`,
    );
  }
}

/**
 * Returns the site prefix that a 6rd domain delegates to an IPv4 address (RFC 5969 §7.1.1);
 * for 6to4, `2002:V4::/48` (RFC 3056 §2).
 *
 * @example
 * ```ts
 * formatIpv6Prefix(sixRdPrefix(parseIpv4("192.0.2.1"))); // "2002:c000:201::/48"
 * ```
 * @param ipv4 the IPv4 address
 * @param domain the domain, 6to4 when omitted
 * @throws {RangeError} when the domain is not usable
 */
export function sixRdPrefix(
  ipv4: Ipv4Address,
  domain: SixRdDomain = SIX_TO_FOUR_DOMAIN,
): Ipv6Prefix {
  validateSixRdDomain(domain);
  const address = maskIpv6(domain.prefix.address, domain.prefix.length);
  const bits = 32 - domain.ipv4MaskLength;
  const low = bits === 32 ? ipv4 >>> 0 : (ipv4 & (2 ** bits - 1)) >>> 0;
  writeBits(address, domain.prefix.length, bits, low);
  return { address, length: delegatedPrefixLength(domain) };
}

/**
 * Returns the 6to4 prefix `2002:V4::/48` of an IPv4 address (RFC 3056 §2).
 *
 * @param ipv4 the IPv4 address
 */
export function sixToFourPrefix(ipv4: Ipv4Address): Ipv6Prefix {
  return sixRdPrefix(ipv4, SIX_TO_FOUR_DOMAIN);
}

/** Options of {@link sixRdAddress}. */
export interface SixRdAddressOptions {
  /** The subnet ID placed after the delegated prefix, up to /64 (default 0). */
  readonly subnet?: number;
  /** The interface identifier: the low 64 bits of this address (default none: the prefix). */
  readonly interfaceId?: Ipv6Address;
}

/**
 * Returns the /64 subnet of a delegated prefix: `subnet` written in the bits between the
 * delegated prefix length and 64.
 *
 * @param delegated the delegated prefix (at most /64)
 * @param subnet the subnet ID
 * @throws {RangeError} when the subnet ID does not fit
 */
export function subnetPrefix(delegated: Ipv6Prefix, subnet: number): Ipv6Prefix {
  const bits = 64 - delegated.length;
  const max = 2 ** bits - 1;
  if (!Number.isInteger(subnet) || subnet < 0 || subnet > max) {
    throw new RangeError(
      `Cannot use subnet ID ${subnet}: expected 0..${max} after a /${delegated.length}`,
    );
  }
  const address = new Uint8Array(delegated.address);
  if (bits > 32) {
    writeBits(address, delegated.length, bits - 32, Math.floor(subnet / 2 ** 32));
    writeBits(address, 32, 32, subnet >>> 0);
  } else {
    writeBits(address, delegated.length, bits, subnet);
  }
  return { address, length: 64 };
}

/**
 * Returns an address in a /64: its upper 64 bits from the prefix, the lower 64 from `iid`.
 *
 * @param subnet the /64
 * @param interfaceId an address whose low 64 bits are the interface identifier
 */
export function withInterfaceId(subnet: Ipv6Prefix, interfaceId: Ipv6Address): Ipv6Address {
  const address = new Uint8Array(subnet.address);
  address.set(interfaceId.subarray(8, 16), 8);
  return address;
}

/**
 * Tells whether an address is a 6to4 address (in `2002::/16`). Allocates nothing.
 *
 * @param bytes the bytes holding the address
 * @param offset where the address starts
 */
export function isSixToFour(bytes: Uint8Array, offset = 0): boolean {
  return bytes[offset] === 0x20 && bytes[offset + 1] === 0x02;
}

/**
 * Returns the IPv4 address embedded in a 6to4 address (bits 16..47, RFC 3056 §2), without
 * checking that it is one. Allocates nothing.
 *
 * @param bytes the bytes holding the address
 * @param offset where the address starts
 */
export function embeddedIpv4(bytes: Uint8Array, offset = 0): Ipv4Address {
  return readIpv4(bytes, offset + 2);
}

/**
 * Returns the IPv4 address embedded in an address of a 6rd domain, or `undefined` when the
 * address is outside the domain (RFC 5969 §7.1.1, read backwards).
 *
 * @param address the IPv6 address
 * @param domain the domain, 6to4 when omitted
 */
export function decodeSixRd(
  address: Ipv6Address,
  domain: SixRdDomain = SIX_TO_FOUR_DOMAIN,
): Ipv4Address | undefined {
  if (!ipv6PrefixContains(domain.prefix, address)) return undefined;
  const bits = 32 - domain.ipv4MaskLength;
  const low = readBits(address, domain.prefix.length, bits);
  const high = (domain.ipv4CommonPrefix & ipv4Mask(domain.ipv4MaskLength)) >>> 0;
  return (high | low) >>> 0;
}

/** What {@link describeSixRdAddress} finds in an address. */
export interface SixRdAddressParts {
  /** The embedded IPv4 address. */
  readonly ipv4: Ipv4Address;
  /** The delegated prefix that contains the address. */
  readonly prefix: Ipv6Prefix;
  /** The subnet ID (bits between the delegated prefix and /64). */
  readonly subnet: number;
  /** The interface identifier: the low 64 bits, as an address `::x:y:z:w`. */
  readonly interfaceId: Ipv6Address;
}

/**
 * Splits an address of a 6rd domain (6to4 by default) into embedded IPv4, delegated prefix,
 * subnet ID and interface ID, or returns `undefined` when it is outside the domain.
 *
 * @param address the IPv6 address
 * @param domain the domain
 */
export function describeSixRdAddress(
  address: Ipv6Address,
  domain: SixRdDomain = SIX_TO_FOUR_DOMAIN,
): SixRdAddressParts | undefined {
  validateSixRdDomain(domain);
  const ipv4 = decodeSixRd(address, domain);
  if (ipv4 === undefined) return undefined;
  const length = delegatedPrefixLength(domain);
  const interfaceId = new Uint8Array(16);
  interfaceId.set(address.subarray(8, 16), 8);
  return {
    ipv4,
    prefix: { address: maskIpv6(address, length), length },
    subnet: readBits(address, length, 64 - length),
    interfaceId,
  };
}

/**
 * Formats a 6rd domain for messages: `2001:db8::/32 (IPv4 mask length 8)`.
 *
 * @param domain the domain
 */
export function formatSixRdDomain(domain: SixRdDomain): string {
  const base = `${formatIpv6(domain.prefix.address)}/${domain.prefix.length}`;
  if (domain.ipv4MaskLength === 0) return base;
  return `${base} (common IPv4 prefix ${
    formatIpv4(domain.ipv4CommonPrefix)
  }/${domain.ipv4MaskLength})`;
}
