/**
 * A short-lived AF_INET6 datagram socket for interface ioctls (MTU, flags, addresses,
 * routes), closed when the callback returns.
 *
 * @module
 */
import { AF_INET6, check, openLibc, SOCK_CLOEXEC, SOCK_DGRAM } from "../../ffi/mod.ts";

/**
 * Runs `fn` with a control socket and closes it afterwards.
 *
 * @param what what the socket is for, for the error message
 * @param fn the callback, given the socket's fd
 * @throws {SyscallError} when the socket cannot be opened
 */
export function withControlSocket<T>(what: string, fn: (fd: number) => T): T {
  const { socket, close } = openLibc().symbols;
  const fd = check(
    socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0),
    "socket(AF_INET6)",
    `open a control socket to ${what}`,
    { hints: { EAFNOSUPPORT: "IPv6 is disabled in this kernel" } },
  );
  try {
    return fn(fd);
  } finally {
    close(fd);
  }
}
