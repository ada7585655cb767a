/**
 * Facts about the host that configuration-time checks need: its IPv4 addresses, users, and
 * whether the kernel's own 6in4 modules are loaded.
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
export function ipv4AddressesOfHost(): HostIpv4Address[] {
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

/** The kernel modules that claim IPv4 protocol 41 when loaded. */
export const KERNEL_TUNNEL_MODULES: readonly string[] = Object.freeze(["sit", "tunnel4"]);

/**
 * Returns which of `sit` and `tunnel4` are loaded (from `/proc/modules`, and `/sys/module` for
 * built-in ones); empty when neither can be read.
 */
export function loadedKernelTunnelModules(): string[] {
  const loaded = new Set<string>();
  try {
    for (const line of Deno.readTextFileSync("/proc/modules").split("\n")) {
      const name = line.split(" ")[0];
      if (KERNEL_TUNNEL_MODULES.includes(name)) loaded.add(name);
    }
  } catch { /* no /proc/modules: a kernel without modules, or a container */ }
  for (const name of KERNEL_TUNNEL_MODULES) {
    try {
      Deno.statSync(`/sys/module/${name}`);
      loaded.add(name);
    } catch { /* not loaded, or not visible */ }
  }
  return KERNEL_TUNNEL_MODULES.filter((m) => loaded.has(m));
}

/**
 * Returns the uid of a user given by name or number, from `/etc/passwd`; `undefined` when
 * unknown.
 *
 * @param user a user name or a numeric uid
 */
export function userIdOf(user: string): number | undefined {
  if (/^\d+$/.test(user)) return Number(user);
  let text = "";
  try {
    text = Deno.readTextFileSync("/etc/passwd");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f.length > 2 && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}
