/**
 * IPv6 routes through an interface: added and deleted by ioctl (`SIOCADDRT`/`SIOCDELRT` with
 * `struct in6_rtmsg` on an AF_INET6 socket), read from `/proc/net/ipv6_route` (the network
 * namespace of the reading process, all tables).
 *
 * @module
 */
import { formatIpv6Prefix, type Ipv6Address, type Ipv6Prefix } from "../addr/mod.ts";
import {
  check,
  encodeIn6Rtmsg,
  IP6_RT_PRIO_USER,
  openLibc,
  RTF_UP,
  SIOCADDRT,
  SIOCDELRT,
} from "../../ffi/mod.ts";
import { withControlSocket } from "./_control.ts";

/** A route of `/proc/net/ipv6_route`. */
export interface Ipv6Route {
  /** The destination prefix. */
  readonly destination: Ipv6Prefix;
  /** The next hop (all zeros when on-link). */
  readonly nextHop: Ipv6Address;
  /** The metric. */
  readonly metric: number;
  /** `RTF_*` flags. */
  readonly flags: number;
  /** The output interface's name. */
  readonly device: string;
}

function hexAddress(text: string): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Parses the text of `/proc/net/ipv6_route`.
 *
 * @param text the file's content
 */
export function parseIpv6RouteTable(text: string): Ipv6Route[] {
  const out: Ipv6Route[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[0].length !== 32) continue;
    out.push({
      destination: { address: hexAddress(f[0]), length: parseInt(f[1], 16) },
      nextHop: hexAddress(f[4]),
      metric: parseInt(f[5], 16),
      flags: parseInt(f[8], 16) >>> 0,
      device: f[9],
    });
  }
  return out;
}

/**
 * Lists the IPv6 routes of this network namespace, or those through one interface.
 *
 * @param device only routes through this interface, when given
 */
export function readIpv6Routes(device?: string): Ipv6Route[] {
  let text = "";
  try {
    text = Deno.readTextFileSync("/proc/net/ipv6_route");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const all = parseIpv6RouteTable(text);
  return device === undefined ? all : all.filter((r) => r.device === device);
}

/** Options of {@link addIpv6Route} and {@link deleteIpv6Route}. */
export interface Ipv6RouteOptions {
  /** The output interface's index. */
  readonly ifindex: number;
  /** The metric (default 1024, the kernel's for user routes). */
  readonly metric?: number;
}

/**
 * Adds an on-link route through an interface (a point-to-point TUN: no next hop).
 *
 * @param name the interface name (for messages)
 * @param destination the prefix
 * @param options interface index and metric
 * @throws {SyscallError} when the kernel refuses
 */
export function addIpv6Route(name: string, destination: Ipv6Prefix, options: Ipv6RouteOptions) {
  const what = `add route ${formatIpv6Prefix(destination)} through "${name}"`;
  routeIoctl(SIOCADDRT, "ioctl(SIOCADDRT)", what, destination, options);
}

/**
 * Deletes a route through an interface.
 *
 * @param name the interface name (for messages)
 * @param destination the prefix
 * @param options interface index and metric
 * @throws {SyscallError} when the kernel refuses
 */
export function deleteIpv6Route(
  name: string,
  destination: Ipv6Prefix,
  options: Ipv6RouteOptions,
): void {
  const what = `delete route ${formatIpv6Prefix(destination)} through "${name}"`;
  routeIoctl(SIOCDELRT, "ioctl(SIOCDELRT)", what, destination, options);
}

function routeIoctl(
  request: number,
  call: string,
  what: string,
  destination: Ipv6Prefix,
  options: Ipv6RouteOptions,
): void {
  const message = encodeIn6Rtmsg({
    destination: destination.address,
    destinationLength: destination.length,
    metric: options.metric ?? IP6_RT_PRIO_USER,
    flags: RTF_UP,
    ifindex: options.ifindex,
  });
  withControlSocket(what, (fd) => {
    check(openLibc().symbols.ioctl(fd, BigInt(request), message), call, what, {
      hints: {
        EEXIST: "the route is already there",
        ESRCH: "no such route",
        ENETDOWN: "the interface is down",
      },
    });
  });
}
