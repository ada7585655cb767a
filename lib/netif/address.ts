/**
 * IPv6 addresses of an interface: added and deleted by ioctl (`SIOCSIFADDR`/`SIOCDIFADDR` with
 * `struct in6_ifreq` on an AF_INET6 socket), read from `/proc/net/if_inet6` (which shows the
 * network namespace of the reading process).
 *
 * @module
 */
import { formatIpv6, type Ipv6Address } from "../addr/mod.ts";
import { check, encodeIn6Ifreq, openLibc, SIOCDIFADDR, SIOCSIFADDR } from "../../ffi/mod.ts";
import { withControlSocket } from "./_control.ts";

/** An IPv6 address configured on an interface. */
export interface InterfaceIpv6Address {
  /** The address. */
  readonly address: Ipv6Address;
  /** Its prefix length. */
  readonly prefixLength: number;
  /** The interface index. */
  readonly ifindex: number;
  /** The interface name. */
  readonly name: string;
  /** The scope as the kernel reports it (0 global, 0x20 link, 0x10 host). */
  readonly scope: number;
  /** `IFA_F_*` flags. */
  readonly flags: number;
}

/** Scope value of link-local addresses in `/proc/net/if_inet6`. */
export const SCOPE_LINK = 0x20;

/**
 * Parses the text of `/proc/net/if_inet6`.
 *
 * @param text the file's content
 */
export function parseIfInet6(text: string): InterfaceIpv6Address[] {
  const out: InterfaceIpv6Address[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[0].length !== 32) continue;
    const address = new Uint8Array(16);
    for (let i = 0; i < 16; i++) address[i] = parseInt(f[0].slice(2 * i, 2 * i + 2), 16);
    out.push({
      address,
      ifindex: parseInt(f[1], 16),
      prefixLength: parseInt(f[2], 16),
      scope: parseInt(f[3], 16),
      flags: parseInt(f[4], 16),
      name: f[5],
    });
  }
  return out;
}

/**
 * Lists the IPv6 addresses of this network namespace, or of one interface.
 *
 * @param name only this interface's, when given
 */
export function readIpv6Addresses(name?: string): InterfaceIpv6Address[] {
  let text = "";
  try {
    text = Deno.readTextFileSync("/proc/net/if_inet6");
  } catch (e) {
    // No IPv6 at all (disabled): no addresses.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const all = parseIfInet6(text);
  return name === undefined ? all : all.filter((a) => a.name === name);
}

/**
 * Adds an IPv6 address to an interface.
 *
 * @param name the interface name (for messages)
 * @param options the interface index, the address and its prefix length
 * @throws {SyscallError} when the kernel refuses
 */
export function addIpv6Address(
  name: string,
  options: {
    readonly ifindex: number;
    readonly address: Ipv6Address;
    readonly prefixLength: number;
  },
): void {
  const what = `add address ${formatIpv6(options.address)}/${options.prefixLength} to "${name}"`;
  const request = encodeIn6Ifreq(options.address, options);
  withControlSocket(what, (fd) => {
    check(openLibc().symbols.ioctl(fd, BigInt(SIOCSIFADDR), request), "ioctl(SIOCSIFADDR)", what, {
      hints: { EEXIST: "the address is already there" },
    });
  });
}

/**
 * Deletes an IPv6 address from an interface.
 *
 * @param name the interface name (for messages)
 * @param options the interface index, the address and its prefix length
 * @throws {SyscallError} when the kernel refuses
 */
export function deleteIpv6Address(
  name: string,
  options: {
    readonly ifindex: number;
    readonly address: Ipv6Address;
    readonly prefixLength: number;
  },
): void {
  const what = `delete address ${
    formatIpv6(options.address)
  }/${options.prefixLength} from "${name}"`;
  const request = encodeIn6Ifreq(options.address, options);
  withControlSocket(what, (fd) => {
    check(
      openLibc().symbols.ioctl(fd, BigInt(SIOCDIFADDR), request),
      "ioctl(SIOCDIFADDR)",
      what,
    );
  });
}
