/**
 * The ICMPv4 raw socket the egress path reads "fragmentation needed" from (RFC 4213 §3.4),
 * and a helper to make any fd non-blocking (the data plane waits in `poll`, never in `read`).
 *
 * @module
 */
import {
  AF_INET,
  check,
  F_GETFL,
  F_SETFL,
  O_NONBLOCK,
  openLibc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
} from "../../ffi/mod.ts";
import { SocketHandle } from "./raw_link.ts";

const IPPROTO_ICMP = 1;

/**
 * Opens a non-blocking ICMPv4 raw socket (it receives every ICMPv4 message to this host).
 *
 * @throws {SyscallError} EPERM without root or CAP_NET_RAW
 */
export function openIcmpSocket(): SocketHandle {
  const fd = check(
    openLibc().symbols.socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP),
    "socket(AF_INET, SOCK_RAW, 1)",
    "open the ICMPv4 raw socket",
    { hints: { EPERM: "needs root or CAP_NET_RAW", EACCES: "needs root or CAP_NET_RAW" } },
  );
  return new SocketHandle(fd);
}

/**
 * Sets `O_NONBLOCK` on a file descriptor.
 *
 * @param fd the descriptor
 * @param what what it is, for the error message
 * @throws {SyscallError} when fcntl fails
 */
export function setNonBlocking(fd: number, what: string): void {
  const { fcntl } = openLibc().symbols;
  const flags = check(fcntl(fd, F_GETFL, 0n), "fcntl(F_GETFL)", `read the flags of ${what}`);
  check(
    fcntl(fd, F_SETFL, BigInt(flags | O_NONBLOCK)),
    "fcntl(F_SETFL)",
    `make ${what} non-blocking`,
  );
}
