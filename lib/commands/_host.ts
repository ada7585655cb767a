/**
 * The host's IPv4 addresses, read through Deno's own interface list (no FFI needed).
 *
 * @module
 */
import { type Ipv4Address, ipv4Mask, tryParseIpv4 } from "../addr/mod.ts";

/** An IPv4 address configured on an interface of this host. */
export interface HostIpv4Address {
  /** The interface's name. */
  readonly interface: string;
  /** The address. */
  readonly address: Ipv4Address;
  /** The prefix length of its subnet. */
  readonly prefixLength: number;
  /** The subnet's broadcast address. */
  readonly broadcast: Ipv4Address;
}

/** Lists the IPv4 addresses of this host (of the current network namespace). */
export function hostIpv4Addresses(): HostIpv4Address[] {
  const out: HostIpv4Address[] = [];
  for (const ni of Deno.networkInterfaces()) {
    if (ni.family !== "IPv4") continue;
    const address = tryParseIpv4(ni.address);
    if (address === undefined) continue;
    const prefixLength = Number(ni.cidr?.split("/")[1] ?? 32);
    const broadcast = (address | ~ipv4Mask(prefixLength)) >>> 0;
    out.push({ interface: ni.name, address, prefixLength, broadcast });
  }
  return out;
}
