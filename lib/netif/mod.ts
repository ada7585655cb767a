/**
 * Network interfaces through libc (no `ip` binary): TUN devices, link MTU and flags, IPv6
 * addresses and routes by ioctl, the protocol-41 raw socket, and the plan/diff/apply logic
 * shared by `stf up`, `stf down` and `stf run`.
 *
 * @module
 */
export {
  applyInterfacePlan,
  type ApplyOptions,
  type ApplyResult,
  assertMadeByStf,
  removeInterface,
} from "./apply.ts";
export {
  addIpv6Address,
  deleteIpv6Address,
  type InterfaceIpv6Address,
  parseIfInet6,
  readIpv6Addresses,
} from "./address.ts";
export {
  type HostIpv4Address,
  ipv4AddressesOfHost,
  KERNEL_TUNNEL_MODULES,
  loadedKernelTunnelModules,
  userIdOf,
} from "./host.ts";
export { interfaceIndex, readLinkFlags, readMtu, setLinkUp, setMtu } from "./link.ts";
export {
  isStfAlias,
  readAlias,
  readTunFlags,
  readTunOwner,
  STF_ALIAS_WORD,
  writeAlias,
} from "./marker.ts";
export {
  addressesOfInterface,
  type AddressWithLength,
  type Change,
  type ChangeKind,
  checkMtu,
  diffInterface,
  diffRemoval,
  type HostFacts,
  type InterfacePlan,
  type InterfaceRequest,
  type InterfaceState,
  planInterface,
  prefixEqual,
  resolveOwnIpv4,
  ROUTE_METRIC,
  stateToJson,
  validateInterfaceName,
} from "./plan.ts";
export {
  LINK_BUFFER_BYTES,
  openRawLink,
  openSendLink,
  type RawLinkOptions,
  SocketHandle,
} from "./raw_link.ts";
export {
  addIpv6Route,
  deleteIpv6Route,
  type Ipv6Route,
  type Ipv6RouteOptions,
  parseIpv6RouteTable,
  readIpv6Routes,
} from "./route.ts";
export { readInterfaceState } from "./state.ts";
export {
  attachFlags,
  createOrAttachTun,
  setTunPersist,
  TUN_CLONE_PATH,
  TunHandle,
  type TunOptions,
} from "./tun.ts";
