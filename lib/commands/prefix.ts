/**
 * `stf prefix`: the 6to4 (RFC 3056 §2) or 6rd (RFC 5969 §7.1.1) prefix of IPv4 addresses,
 * given directly, as an interface's addresses, or as every global address of the host.
 *
 * @module
 */
import {
  classifyIpv4,
  formatIpv4,
  formatIpv6,
  formatIpv6Prefix,
  type Ipv4Address,
  isNonGlobalSixToFourIpv4,
  parseIpv4,
  parseIpv6,
  parseIpv6Prefix,
  SIX_TO_FOUR_DOMAIN,
  type SixRdDomain,
  sixRdPrefix,
  subnetPrefix,
  tryParseIpv4,
  validateSixRdDomain,
  withInterfaceId,
} from "../addr/mod.ts";
import { OperationError, PolicyError } from "../errors.ts";
import { addressesOfInterface, ipv4AddressesOfHost } from "../netif/mod.ts";

/** Options of `stf prefix`, as parsed from the command line. */
export interface PrefixOptions {
  /** An IPv4 address, an interface name, or `auto`. */
  readonly target: string;
  /** A subnet ID: the result is then a /64. */
  readonly subnet?: number;
  /** An interface ID (an IPv6 address whose low 64 bits are used): adds the address. */
  readonly interfaceId?: string;
  /** The 6rd prefix `P/LEN`; 6to4 when absent. */
  readonly sixRdPrefix?: string;
  /** The 6rd IPv4 mask length (common high-order bits not embedded). */
  readonly sixRdIpv4MaskLength?: number;
  /** Accept an IPv4 in C4 or 100.64.0.0/10 for 6to4. */
  readonly allowNonGlobal: boolean;
  /** Print JSON. */
  readonly json: boolean;
}

/** One computed prefix, as printed by `--json`. */
export interface PrefixResult {
  /** The IPv4 address. */
  readonly ipv4: string;
  /** The delegated prefix, or the /64 when a subnet was asked for. */
  readonly prefix: string;
  /** The length of `prefix`. */
  readonly prefixLength: number;
  /** `6to4` or `6rd`. */
  readonly kind: "6to4" | "6rd";
  /** The subnet ID, when asked for. */
  readonly subnet?: number;
  /** The address with the interface ID, when asked for. */
  readonly address?: string;
}

/**
 * Builds the 6rd domain from its command-line or configuration parts, or 6to4 when no prefix
 * is given.
 *
 * @param prefix the 6rd prefix `P/LEN`, or undefined for 6to4
 * @param options mask length and common IPv4 prefix
 * @throws {SyntaxError} on a malformed prefix or address
 * @throws {PolicyError} `6rd-prefix-too-long` when the delegated prefix would exceed /64
 */
export function sixRdDomainOf(
  prefix: string | undefined,
  options: { ipv4MaskLength?: number; ipv4CommonPrefix?: string } = {},
): SixRdDomain {
  if (prefix === undefined) {
    if (options.ipv4MaskLength !== undefined || options.ipv4CommonPrefix !== undefined) {
      throw new RangeError("Cannot use --6rd-ipv4-mask-len without --6rd-prefix");
    }
    return SIX_TO_FOUR_DOMAIN;
  }
  const domain: SixRdDomain = {
    prefix: parseIpv6Prefix(prefix),
    ipv4MaskLength: options.ipv4MaskLength ?? 0,
    ipv4CommonPrefix: options.ipv4CommonPrefix === undefined
      ? 0
      : parseIpv4(options.ipv4CommonPrefix),
  };
  try {
    validateSixRdDomain(domain);
  } catch (e) {
    if (e instanceof RangeError && /longer than \/64/.test(e.message)) {
      throw new PolicyError("6rd-prefix-too-long", e.message);
    }
    throw e;
  }
  return domain;
}

/**
 * Resolves `IPV4 | INTERFACE | auto` to IPv4 addresses: the address itself, the interface's
 * IPv4 addresses, or every global IPv4 address of the host.
 *
 * @param target what the user wrote
 * @throws {OperationError} when an interface or the host has none
 */
export function resolveIpv4Target(target: string): Ipv4Address[] {
  const direct = tryParseIpv4(target);
  if (direct !== undefined) return [direct];
  const host = ipv4AddressesOfHost();
  if (target === "auto") {
    const global = host.filter((a) => !isNonGlobalSixToFourIpv4(a.address));
    if (global.length === 0) {
      throw new OperationError(
        `Cannot find a global IPv4 address on this host: give one, or an interface`,
      );
    }
    return unique(global.map((a) => a.address));
  }
  if (/[./:]/.test(target) || /^\d/.test(target) || /\s/.test(target) || target === "") {
    // Looks like an address attempt, not an interface name.
    throw new SyntaxError(`Cannot parse "${target}" as an IPv4 address`);
  }
  return unique(addressesOfInterface(target, host).map((a) => a.address));
}

function unique(values: number[]): number[] {
  return [...new Set(values)];
}

/**
 * Computes the prefixes of `stf prefix`.
 *
 * @param options the command's options
 * @throws {PolicyError} for a non-global IPv4 with 6to4 (`own-ipv4-not-global`): a usage
 *   error, exit 2, as for `up` and `run`
 */
export function computePrefixes(options: PrefixOptions): PrefixResult[] {
  const domain = sixRdDomainOf(options.sixRdPrefix, {
    ipv4MaskLength: options.sixRdIpv4MaskLength,
  });
  const kind = options.sixRdPrefix === undefined ? "6to4" : "6rd";
  const interfaceId = options.interfaceId === undefined
    ? undefined
    : parseIpv6(options.interfaceId);
  return resolveIpv4Target(options.target).map((ipv4) => {
    if (kind === "6to4" && !options.allowNonGlobal && isNonGlobalSixToFourIpv4(ipv4)) {
      const block = classifyIpv4(ipv4) ?? { name: "shared-address-space", rfc: "RFC 6598" };
      throw new PolicyError(
        "own-ipv4-not-global",
        `Cannot use "${formatIpv4(ipv4)}" for 6to4: it is a ${block.name} address ` +
          `(${block.rfc}), not reachable from the IPv4 Internet (RFC 3056 §2); ` +
          `use --allow-non-global for a lab`,
      );
    }
    const delegated = sixRdPrefix(ipv4, domain);
    const wantSubnet = options.subnet !== undefined || interfaceId !== undefined;
    const prefix = wantSubnet ? subnetPrefix(delegated, options.subnet ?? 0) : delegated;
    return {
      ipv4: formatIpv4(ipv4),
      prefix: formatIpv6Prefix(prefix),
      prefixLength: prefix.length,
      kind,
      ...(wantSubnet ? { subnet: options.subnet ?? 0 } : {}),
      ...(interfaceId ? { address: formatIpv6(withInterfaceId(prefix, interfaceId)) } : {}),
    } satisfies PrefixResult;
  });
}

/**
 * Runs `stf prefix`: prints one result per line (the prefix, then the address when an
 * interface ID was given), or JSON.
 *
 * @param options the command's options
 * @returns the exit code
 */
export function runPrefix(options: PrefixOptions): number {
  const results = computePrefixes(options);
  if (options.json) {
    console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
    return 0;
  }
  for (const r of results) {
    console.log(r.address === undefined ? r.prefix : `${r.prefix} ${r.address}`);
  }
  return 0;
}
