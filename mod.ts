/**
 * stf: a userspace 6to4 tunnel (RFC 3056) and 6rd (RFC 5969) for Linux.
 *
 * The library API: address math, and (as they land) the packet codec, the filtering policy
 * and the forwarder.
 *
 * @example
 * ```ts
 * import { formatIpv6Prefix, parseIpv4, sixToFourPrefix } from "./mod.ts";
 * formatIpv6Prefix(sixToFourPrefix(parseIpv4("192.0.2.1"))); // "2002:c000:201::/48"
 * ```
 * @module
 */
export * from "./lib/addr/mod.ts";
export { ConfigError, OperationError, PolicyError } from "./lib/errors.ts";
