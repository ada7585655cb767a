/**
 * stf: a userspace 6to4 tunnel (RFC 3056) and 6rd (RFC 5969) for Linux — the library API.
 *
 * - Address math: IPv4/IPv6 parsing and RFC 5952 formatting, prefixes, 6to4 and 6rd mapping,
 *   the address classes of RFC 3964 (`lib/addr`).
 * - The packet codec: header views, in-place encapsulation, RFC 6040 ECN, ICMPv6 errors,
 *   path MTU (`lib/packet`).
 * - The filtering policy: every rule of RFC 3964 with its reason name (`lib/filter`).
 * - The configuration: YAML with line/column errors, the zod schema (`lib/config`).
 * - The forwarder: the data plane over a {@link TunDevice} and a {@link Link}, with in-memory
 *   fakes (`lib/dataplane`).
 * - Relay health: the probe packet, the prober and the up/down state machine (`lib/relay`).
 *
 * @example
 * ```ts
 * import { formatIpv6Prefix, parseIpv4, sixToFourPrefix } from "./mod.ts";
 * formatIpv6Prefix(sixToFourPrefix(parseIpv4("192.0.2.1"))); // "2002:c000:201::/48"
 * ```
 * @example
 * ```ts
 * import { compilePolicy, EgressResult, Reason } from "./mod.ts";
 * const policy = compilePolicy({
 *   mode: "router", ipv4: "192.0.2.1", localIpv4: ["192.0.2.1"], localBroadcasts: [],
 *   sitePrefixes: [], strictBogons: false, mtu: 1480, ttl: 64, dscp: "copy",
 * });
 * const result = new EgressResult();
 * // policy.egress(packet, 20, length, result) === Reason.Forwarded → result.outerDst
 * ```
 * @module
 */
export * from "./lib/addr/mod.ts";
export * from "./lib/packet/mod.ts";
export * from "./lib/filter/mod.ts";
export * from "./lib/dataplane/mod.ts";
export * from "./lib/relay/mod.ts";
export {
  type ConfigOverrides,
  DEFAULT_CONFIG,
  loadConfig,
  mergeConfig,
  parseConfig,
  type StfConfig,
} from "./lib/config/mod.ts";
export { ConfigError, OperationError, PolicyError } from "./lib/errors.ts";
export { VERSION } from "./lib/version.ts";
