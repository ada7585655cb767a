/**
 * `stf decode`: the IPv4 address embedded in a 6to4 (RFC 3056 §2) or 6rd (RFC 5969 §7.1.1)
 * address or prefix, with its subnet ID and interface ID.
 *
 * @module
 */
import {
  classifyIpv4,
  describeSixRdAddress,
  formatIpv4,
  formatIpv6,
  formatIpv6Prefix,
  isNonGlobalSixToFourIpv4,
  parseIpv6,
  parseIpv6Prefix,
} from "../addr/mod.ts";
import { OperationError } from "../errors.ts";
import { sixRdDomainOf } from "./prefix.ts";

/** Options of `stf decode`, as parsed from the command line. */
export interface DecodeOptions {
  /** An IPv6 address or prefix (`ADDRESS[/LEN]`). */
  readonly address: string;
  /** The 6rd prefix `P/LEN`; 6to4 when absent. */
  readonly sixRdPrefix?: string;
  /** The 6rd IPv4 mask length. */
  readonly sixRdIpv4MaskLength?: number;
  /** The IPv4 bits common to the 6rd domain (`A.B.C.D`). */
  readonly sixRdIpv4CommonPrefix?: string;
  /** Print JSON. */
  readonly json: boolean;
}

/** What `stf decode --json` prints. */
export interface DecodeResult {
  /** The address as given, canonical. */
  readonly input: string;
  /** `6to4` or `6rd`. */
  readonly kind: "6to4" | "6rd";
  /** The embedded IPv4 address. */
  readonly ipv4: string;
  /** The IPv4's special-purpose class (`global` when none). */
  readonly ipv4Class: string;
  /** The RFC of that class, when special. */
  readonly ipv4ClassRfc?: string;
  /** Whether the IPv4 is global: traffic to or from a non-global one is dropped by filters. */
  readonly ipv4Global: boolean;
  /** The delegated prefix of the site. */
  readonly prefix: string;
  /** The subnet ID. */
  readonly subnet: number;
  /** The interface ID as an address (`::1`). */
  readonly interfaceId: string;
}

/**
 * Decodes an address of `stf decode`.
 *
 * @param options the command's options
 * @throws {SyntaxError} when the input is not an IPv6 address or prefix
 * @throws {OperationError} when it is not in the 6to4 (or the given 6rd) prefix
 */
export function decodeAddress(options: DecodeOptions): DecodeResult {
  const kind = options.sixRdPrefix === undefined ? "6to4" : "6rd";
  const domain = sixRdDomainOf(options.sixRdPrefix, {
    ipv4MaskLength: options.sixRdIpv4MaskLength,
    ipv4CommonPrefix: options.sixRdIpv4CommonPrefix,
  });
  const text = options.address;
  const slash = text.indexOf("/");
  let address: Uint8Array;
  let input: string;
  if (slash >= 0) {
    const prefix = parseIpv6Prefix(text);
    address = prefix.address;
    input = formatIpv6Prefix(prefix);
  } else {
    address = parseIpv6(text);
    input = formatIpv6(address);
  }
  const parts = describeSixRdAddress(address, domain);
  if (parts === undefined) {
    throw new OperationError(
      `Cannot decode "${text}": not a ${kind === "6to4" ? "6to4" : "6rd"} address` +
        (kind === "6to4"
          ? " (it is outside 2002::/16)"
          : ` (it is outside ${options.sixRdPrefix})`),
    );
  }
  const block = classifyIpv4(parts.ipv4);
  return {
    input,
    kind,
    ipv4: formatIpv4(parts.ipv4),
    ipv4Class: block?.name ?? "global",
    ...(block ? { ipv4ClassRfc: block.rfc } : {}),
    ipv4Global: !isNonGlobalSixToFourIpv4(parts.ipv4),
    prefix: formatIpv6Prefix(parts.prefix),
    subnet: parts.subnet,
    interfaceId: formatIpv6(parts.interfaceId),
  };
}

/**
 * Runs `stf decode`: prints the embedded IPv4 address (or JSON), and warns on stderr when it
 * is not global.
 *
 * @param options the command's options
 * @returns the exit code
 */
export function runDecode(options: DecodeOptions): number {
  const result = decodeAddress(options);
  if (!result.ipv4Global && result.kind === "6to4") {
    console.error(
      `Warning: ${result.ipv4} is a ${result.ipv4Class} address (${result.ipv4ClassRfc}): ` +
        `6to4 traffic to or from it is dropped by the filters (RFC 3964 §5.3.1)`,
    );
  }
  console.log(options.json ? JSON.stringify(result, null, 2) : result.ipv4);
  return 0;
}
