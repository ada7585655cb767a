/**
 * Reads the actual state of an interface from the kernel (ioctl, `/proc/net`, sysfs).
 *
 * @module
 */
import { maskIpv6 } from "../addr/mod.ts";
import { IFF_UP, RTF_ADDRCONF, RTF_CACHE, RTF_LOCAL } from "../../ffi/mod.ts";
import { readIpv6Addresses, SCOPE_LINK } from "./address.ts";
import { interfaceIndex, readLinkFlags, readMtu } from "./link.ts";
import {
  checkSysfsNamespace,
  isStfAlias,
  readAlias,
  readTunFlags,
  readTunOwner,
} from "./marker.ts";
import { type InterfaceState, prefixEqual, ROUTE_METRIC } from "./plan.ts";
import { readIpv6Routes } from "./route.ts";

/**
 * Reads the state of an interface, or returns `undefined` when there is none of that name.
 *
 * @param name the interface name
 * @throws {OperationError} when sysfs shows another network namespace
 */
export function readInterfaceState(name: string): InterfaceState | undefined {
  const ifindex = interfaceIndex(name);
  if (ifindex === undefined) return undefined;
  checkSysfsNamespace(name, ifindex);
  const tunFlags = readTunFlags(name);
  const alias = readAlias(name);
  const owner = readTunOwner(name);
  const addresses = readIpv6Addresses(name)
    .filter((a) => a.scope !== SCOPE_LINK)
    .map((a) => ({ address: a.address, prefixLength: a.prefixLength }));
  const onLink = addresses.map((a) => ({
    address: maskIpv6(a.address, a.prefixLength),
    length: a.prefixLength,
  }));
  const routes = readIpv6Routes(name)
    .filter((r) =>
      r.metric === ROUTE_METRIC && (r.flags & (RTF_LOCAL | RTF_CACHE | RTF_ADDRCONF)) === 0 &&
      !onLink.some((p) => prefixEqual(p, r.destination))
    )
    .map((r) => r.destination);
  return {
    name,
    ifindex,
    ...(tunFlags === undefined ? {} : { tunFlags }),
    alias,
    madeByStf: tunFlags !== undefined && isStfAlias(alias),
    up: (readLinkFlags(name) & IFF_UP) !== 0,
    mtu: readMtu(name),
    ...(owner === undefined ? {} : { owner }),
    addresses,
    routes,
  };
}
