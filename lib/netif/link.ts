/**
 * Links by ioctl: index, flags (up/down), MTU.
 *
 * @module
 */
import { OperationError } from "../errors.ts";
import {
  check,
  cString,
  encodeIfreq,
  IFF_UP,
  IFREQ,
  openLibc,
  SIOCGIFFLAGS,
  SIOCGIFMTU,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  view,
} from "../../ffi/mod.ts";
import { withControlSocket } from "./_control.ts";

/**
 * Returns the index of an interface, or `undefined` when there is none of that name.
 *
 * @param name the interface name
 */
export function interfaceIndex(name: string): number | undefined {
  if (new TextEncoder().encode(name).length > 15) return undefined;
  const index = openLibc().symbols.if_nametoindex(cString(name));
  return index === 0 ? undefined : index;
}

/**
 * Returns the `IFF_*` flags of an interface.
 *
 * @param name the interface name
 * @throws {SyscallError} when it does not exist
 */
export function readLinkFlags(name: string): number {
  const ifreq = encodeIfreq(name);
  withControlSocket(`read the flags of "${name}"`, (fd) => {
    check(
      openLibc().symbols.ioctl(fd, BigInt(SIOCGIFFLAGS), ifreq),
      "ioctl(SIOCGIFFLAGS)",
      `read the flags of "${name}"`,
    );
  });
  return view(ifreq).getUint16(IFREQ.FLAGS, true);
}

/**
 * Sets an interface administratively up or down.
 *
 * @param name the interface name
 * @param up up when true
 * @throws {SyscallError} when the kernel refuses
 */
export function setLinkUp(name: string, up: boolean): void {
  const what = `set "${name}" ${up ? "up" : "down"}`;
  const ifreq = encodeIfreq(name);
  withControlSocket(what, (fd) => {
    const { ioctl } = openLibc().symbols;
    check(ioctl(fd, BigInt(SIOCGIFFLAGS), ifreq), "ioctl(SIOCGIFFLAGS)", what);
    const v = view(ifreq);
    const flags = v.getUint16(IFREQ.FLAGS, true);
    v.setUint16(IFREQ.FLAGS, up ? flags | IFF_UP : flags & ~IFF_UP, true);
    check(ioctl(fd, BigInt(SIOCSIFFLAGS), ifreq), "ioctl(SIOCSIFFLAGS)", what);
  });
}

/**
 * Returns the MTU of an interface.
 *
 * @param name the interface name
 * @throws {SyscallError} when it does not exist
 */
export function readMtu(name: string): number {
  const ifreq = encodeIfreq(name);
  withControlSocket(`read the MTU of "${name}"`, (fd) => {
    check(
      openLibc().symbols.ioctl(fd, BigInt(SIOCGIFMTU), ifreq),
      "ioctl(SIOCGIFMTU)",
      `read the MTU of "${name}"`,
    );
  });
  return view(ifreq).getInt32(IFREQ.MTU, true);
}

/**
 * Sets the MTU of an interface.
 *
 * @param name the interface name
 * @param mtu the MTU
 * @throws {SyscallError} when the kernel refuses
 */
export function setMtu(name: string, mtu: number): void {
  const what = `set MTU of "${name}" to ${mtu}`;
  const ifreq = encodeIfreq(name);
  view(ifreq).setInt32(IFREQ.MTU, mtu, true);
  withControlSocket(what, (fd) => {
    check(openLibc().symbols.ioctl(fd, BigInt(SIOCSIFMTU), ifreq), "ioctl(SIOCSIFMTU)", what);
  });
}

/**
 * Stops the kernel from giving the interface an IPv6 link-local address (`addr_gen_mode` 1):
 * like FreeBSD's stf(4), the 6to4 interface has only its 2002::/16 address, and no router
 * solicitation leaves through it. Idempotent; must run before the link goes up.
 *
 * @param name the interface name
 * @throws {OperationError} when the setting cannot be written
 */
export function disableIpv6LinkLocal(name: string): void {
  const path = `/proc/sys/net/ipv6/conf/${name}/addr_gen_mode`;
  try {
    if (Deno.readTextFileSync(path).trim() === "1") return;
    Deno.writeTextFileSync(path, "1\n");
  } catch (e) {
    throw new OperationError(
      `Cannot turn off IPv6 link-local addresses on "${name}": ${(e as Error).message}`,
    );
  }
}
