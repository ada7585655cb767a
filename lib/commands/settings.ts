/**
 * From the effective configuration (file merged with flags) to what the OS-facing code needs:
 * the interface request of `up`/`run`, and the policy settings of the data plane.
 *
 * @module
 */
import {
  formatIpv4,
  formatIpv6,
  parseIpv4,
  parseIpv6Prefix,
  type SixRdDomain,
} from "../addr/mod.ts";
import {
  type ConfigOverrides,
  DEFAULT_CONFIG,
  loadConfig,
  mergeConfig,
  type StfConfig,
} from "../config/mod.ts";
import type { PolicySettings } from "../filter/mod.ts";
import type { HostIpv4Address, InterfacePlan, InterfaceRequest } from "../netif/mod.ts";

/**
 * Loads the configuration file (when given) and applies the flags over it.
 *
 * @param file the configuration file, or undefined for the defaults
 * @param overrides the flags given
 * @throws {ConfigError} a broken file or flag (exit 2)
 */
export async function effectiveConfig(
  file: string | undefined,
  overrides: ConfigOverrides,
): Promise<StfConfig> {
  const base = file === undefined ? DEFAULT_CONFIG : await loadConfig(file);
  return mergeConfig(base, overrides);
}

/**
 * The 6rd domain of a configuration, or undefined for 6to4.
 *
 * @param config the configuration
 */
export function sixRdDomainOfConfig(config: StfConfig): SixRdDomain | undefined {
  if (config.sixRd === null) return undefined;
  return {
    prefix: parseIpv6Prefix(config.sixRd.prefix),
    ipv4MaskLength: config.sixRd.ipv4MaskLen,
    ipv4CommonPrefix: parseIpv4(config.sixRd.ipv4CommonPrefix),
  };
}

/**
 * The interface request (for `planInterface`) of a configuration.
 *
 * @param config the configuration
 */
export function interfaceRequestOf(config: StfConfig): InterfaceRequest {
  const ipv4 = typeof config.ipv4 === "string" ? config.ipv4 : config.ipv4.interface;
  const domain = sixRdDomainOfConfig(config);
  return {
    ipv4,
    name: config.interface.name,
    mtu: config.interface.mtu,
    subnet: config.interface.subnet,
    interfaceId: config.interface.interfaceId,
    ...(config.relays.length === 0 ? {} : { relay: config.relays[0] }),
    defaultRoute: config.defaultRoute,
    routes: config.routes,
    ...(config.interface.owner === null ? {} : { owner: String(config.interface.owner) }),
    allowNonGlobal: config.allowNonGlobal,
    ...(config.bindIpv4 === null ? {} : { bindIpv4: config.bindIpv4 }),
    ...(domain === undefined ? {} : { domain }),
  };
}

/**
 * The policy settings of the data plane, from the configuration, the interface plan (own
 * IPv4) and the host's addresses (for `dst-own-ipv4` and the local broadcasts of C4).
 *
 * @param config the configuration
 * @param plan the interface plan
 * @param host the host's IPv4 addresses
 */
export function policySettingsOf(
  config: StfConfig,
  plan: InterfacePlan,
  host: readonly HostIpv4Address[],
): PolicySettings {
  const broadcasts = host
    .filter((a) => a.prefixLength < 31)
    .map((a) => formatIpv4(a.broadcast));
  return {
    mode: config.mode,
    ipv4: formatIpv4(plan.ipv4),
    ...(config.bindIpv4 === null ? {} : { bindIpv4: config.bindIpv4 }),
    localIpv4: [...new Set(host.map((a) => formatIpv4(a.address)))],
    localBroadcasts: [...new Set(broadcasts)],
    ...(config.relays.length === 0 ? {} : { relay: config.relays[0] }),
    sitePrefixes: config.sitePrefixes,
    ...(config.allowPeers === null ? {} : { allowPeers: config.allowPeers }),
    ...(config.allowRelays === null ? {} : { allowRelays: config.allowRelays }),
    strictBogons: config.strictBogons,
    ...(config.sixRd === null ? {} : {
      sixRd: {
        prefix: config.sixRd.prefix,
        ipv4MaskLength: config.sixRd.ipv4MaskLen,
        ipv4CommonPrefix: config.sixRd.ipv4CommonPrefix,
      },
    }),
    mtu: config.interface.mtu,
    ttl: config.ttl,
    dscp: config.dscp,
    allowNonGlobal: config.allowNonGlobal,
  };
}

/**
 * The interface's own address as text, the source of our ICMPv6 errors.
 *
 * @param plan the interface plan
 */
export function interfaceAddressOf(plan: InterfacePlan): string {
  return formatIpv6(plan.address);
}
