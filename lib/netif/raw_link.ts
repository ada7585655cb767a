/**
 * The protocol-41 raw socket: `socket(AF_INET, SOCK_RAW, 41)` with `IP_HDRINCL`, so that stf
 * writes the whole outer IPv4 header itself (DF, TTL, ECN, DSCP per packet).
 *
 * @module
 */
import {
  AF_INET,
  check,
  FdHandle,
  IP_HDRINCL,
  IP_RECVERR,
  IPPROTO_IP,
  IPPROTO_IPV6,
  openLibc,
  SO_RCVBUFFORCE,
  SO_SNDBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
} from "../../ffi/mod.ts";

/** Options of {@link openRawLink} and {@link openSendLink}. */
export interface RawLinkOptions {
  /**
   * The socket's send and receive buffers in bytes (`SO_SNDBUFFORCE`, `SO_RCVBUFFORCE`, which
   * need CAP_NET_ADMIN), as far as the kernel allows: the defaults stay when it refuses. The
   * kernel's defaults when absent.
   */
  readonly bufferBytes?: number;
  /** Open it non-blocking. */
  readonly nonBlocking?: boolean;
}

/**
 * The protocol-41 sockets' buffers under batches or offloads (`stf run` asks for them then): a
 * TSO super-packet leaves as a burst of ~45 segments, and the peer's receive buffer must hold a
 * few such bursts while its ingress Worker catches up (the kernel default, ~200 KiB, holds
 * about 90 packets).
 */
export const LINK_BUFFER_BYTES = 4 * 1024 * 1024;

/** An open socket (the protocol-41 or the ICMPv4 raw socket), closed once. */
export class SocketHandle extends FdHandle {}

function setIntOption(fd: number, level: number, option: number, value: number, what: string) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, value, true);
  check(openLibc().symbols.setsockopt(fd, level, option, bytes, 4), "setsockopt", what);
}

/** Sets both buffers of a socket; returns false when the kernel refused (the defaults stay). */
function setBuffers(fd: number, bytes: number): boolean {
  const value = new Uint8Array(4);
  new DataView(value.buffer).setInt32(0, bytes, true);
  const { setsockopt } = openLibc().symbols;
  const send = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, value, 4);
  const receive = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, value, 4);
  return send === 0 && receive === 0;
}

/** `IPPROTO_RAW`: a raw socket that only sends, any protocol, header included. */
const IPPROTO_RAW = 255;

/** Opens a raw IPv4 socket, sets one option and the buffer sizes; closes it on failure. */
function openRawSocket(
  protocol: number,
  option: { readonly name: number; readonly what: string },
  options: RawLinkOptions,
  what: string,
): SocketHandle {
  const { socket, close } = openLibc().symbols;
  const type = SOCK_RAW | SOCK_CLOEXEC | (options.nonBlocking ? SOCK_NONBLOCK : 0);
  const fd = check(
    socket(AF_INET, type, protocol),
    `socket(AF_INET, SOCK_RAW, ${protocol})`,
    `open the ${what}`,
    { hints: { EPERM: "needs root or CAP_NET_RAW", EACCES: "needs root or CAP_NET_RAW" } },
  );
  try {
    setIntOption(fd, IPPROTO_IP, option.name, 1, `set ${option.what} on the ${what}`);
    if (options.bufferBytes !== undefined) setBuffers(fd, options.bufferBytes);
    return new SocketHandle(fd);
  } catch (e) {
    close(fd);
    throw e;
  }
}

/**
 * Opens the protocol-41 raw socket with `IP_HDRINCL` set.
 *
 * @param options buffer sizes (best effort) and blocking mode
 * @throws {SyscallError} EPERM without root or CAP_NET_RAW
 */
export function openRawLink(options: RawLinkOptions = {}): SocketHandle {
  return openRawSocket(
    IPPROTO_IPV6,
    { name: IP_HDRINCL, what: "IP_HDRINCL" },
    options,
    "protocol-41 raw socket",
  );
}

/**
 * Opens the send-only raw socket of the egress path: `IPPROTO_RAW` (header included, and it
 * receives nothing, so it costs no copy of incoming protocol 41) with `IP_RECVERR`, without
 * which Linux hides ENOBUFS from a full transmit queue on raw sends and the packet would count
 * as forwarded; with it, a packet larger than the route's MTU (EMSGSIZE) leaves that MTU on
 * the socket's error queue (`FdLink.nextSendError`).
 *
 * @param options buffer sizes (best effort) and blocking mode
 * @throws {SyscallError} EPERM without root or CAP_NET_RAW
 */
export function openSendLink(options: RawLinkOptions = {}): SocketHandle {
  return openRawSocket(
    IPPROTO_RAW,
    { name: IP_RECVERR, what: "IP_RECVERR" },
    options,
    "sending raw socket",
  );
}
