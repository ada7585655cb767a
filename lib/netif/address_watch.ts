/**
 * Follows the host's IPv4 addresses: an rtnetlink socket (`NETLINK_ROUTE`) bound to the
 * `RTMGRP_IPV4_IFADDR` group, through libc. The kernel sends it a message whenever an IPv4
 * address is added, removed or changed on any interface of this network namespace.
 *
 * How it waits, without a polling loop: `poll` on the socket and an eventfd, declared
 * `nonblocking` in `ffi/libc.ts`, so Deno runs it on its blocking thread pool and the main
 * thread gets a Promise. The main thread's event loop stays free (signals, the control socket,
 * metrics), no timer fires while nothing happens, and stopping is a write to the eventfd, which
 * ends the pending `poll` at once (closing the socket under a blocked `poll` would not; the fd
 * number could also be reused meanwhile). Deno has no way to hand a raw fd to its own async I/O
 * (there is no `Deno.fromFd`), which is what this replaces.
 *
 * On each burst of events it waits a short settle time (`settleMs`: `ip addr del` then `add`,
 * or a DHCP client's flush then add, arrive as one change instead of "gone" then "new"), then
 * re-reads the host's IPv4 addresses and hands them over: the events are only a trigger, the
 * addresses read afterwards are the truth (a lost message, `ENOBUFS`, changes nothing to that).
 *
 * @module
 */
import {
  AF_NETLINK,
  check,
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  encodeSockaddrNl,
  ENOBUFS,
  errno,
  FdHandle,
  MSG_DONTWAIT,
  NETLINK_ROUTE,
  openLibc,
  POLLERR,
  POLLFD,
  POLLIN,
  POLLNVAL,
  RTMGRP_IPV4_IFADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOCKADDR_NL,
  strerror,
} from "../../ffi/mod.ts";
import { type AddressEvent, parseAddressMessages } from "./address_events.ts";
import { type HostIpv4Address, ipv4AddressesOfHost } from "./host.ts";

/** What the watcher hands over after a burst of events. */
export interface AddressChange {
  /** The IPv4 address events of the burst, in order (may be empty after a lost message). */
  readonly events: readonly AddressEvent[];
  /** Whether the kernel lost messages meanwhile (`ENOBUFS`, `NLMSG_OVERRUN`). */
  readonly lost: boolean;
  /** The host's IPv4 addresses, read after the burst. */
  readonly host: readonly HostIpv4Address[];
}

/** Options of {@link watchIpv4Addresses}. */
export interface AddressWatchOptions {
  /** Called after each burst of events, with the addresses read afterwards. */
  readonly onChange: (change: AddressChange) => void;
  /**
   * Called at once with the events of each read, before the settle time: for what cannot wait
   * (the address in force removed: stop sending from it now).
   */
  readonly onEvents?: (events: readonly AddressEvent[]) => void;
  /** Called once when the watcher stops by itself on an error (it no longer follows). */
  readonly onError?: (error: Error) => void;
  /** How long to wait after an event for more of the same burst, ms (default 100). */
  readonly settleMs?: number;
  /** Reads the host's addresses (default {@link ipv4AddressesOfHost}; a seam for tests). */
  readonly readHost?: () => readonly HostIpv4Address[];
}

/** A running address watcher. */
export interface AddressWatcher extends AsyncDisposable {
  /** Stops following, waits for the pending `poll` to return and closes the fds. */
  close(): Promise<void>;
}

/** The default settle time after an address event, ms. */
export const ADDRESS_SETTLE_MS = 100;

const RECV_SIZE = 16384;
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);
/** Consecutive failed polls (-1, no event) after which the watcher gives up. */
const MAX_POLL_FAILURES = 100;

/**
 * Opens an rtnetlink socket bound to `RTMGRP_IPV4_IFADDR` (non-blocking, close-on-exec).
 * Needs no privilege.
 *
 * @throws {SyscallError} when the kernel refuses (no netlink in this sandbox, no fds)
 */
export function openAddressSocket(): FdHandle {
  const libc = openLibc().symbols;
  const what = "open an rtnetlink socket for IPv4 address events";
  const fd = check(
    libc.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE),
    "socket(AF_NETLINK)",
    what,
  );
  const handle = new FdHandle(fd);
  try {
    check(
      libc.bind(fd, encodeSockaddrNl(RTMGRP_IPV4_IFADDR), SOCKADDR_NL.SIZE),
      "bind(RTMGRP_IPV4_IFADDR)",
      what,
    );
  } catch (e) {
    handle.close();
    throw e;
  }
  return handle;
}

/**
 * Starts following the host's IPv4 addresses; see the module comment for how it waits.
 *
 * @param options the change handler, an error handler, the settle time
 * @throws {SyscallError} when the socket or the eventfd cannot be opened
 */
export function watchIpv4Addresses(options: AddressWatchOptions): AddressWatcher {
  const libc = openLibc().symbols;
  const socket = openAddressSocket();
  let wake: FdHandle;
  try {
    wake = new FdHandle(
      check(
        libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
        "eventfd",
        "open the address watcher's wake-up eventfd",
      ),
    );
  } catch (e) {
    socket.close();
    throw e;
  }
  const settleMs = options.settleMs ?? ADDRESS_SETTLE_MS;
  const readHost = options.readHost ?? ipv4AddressesOfHost;
  const pollfds = new Uint8Array(2 * POLLFD.SIZE);
  const pv = new DataView(pollfds.buffer);
  pv.setInt32(POLLFD.FD, socket.fd, true);
  pv.setInt16(POLLFD.EVENTS, POLLIN, true);
  pv.setInt32(POLLFD.SIZE + POLLFD.FD, wake.fd, true);
  pv.setInt16(POLLFD.SIZE + POLLFD.EVENTS, POLLIN, true);
  const buffer = new Uint8Array(RECV_SIZE);
  const bufferLength = BigInt(RECV_SIZE);

  let closing = false;
  let pending: AddressEvent[] = [];
  let pendingLost = false;
  let settle: ReturnType<typeof setTimeout> | undefined;

  const flush = () => {
    settle = undefined;
    if (closing) return;
    const change: AddressChange = { events: pending, lost: pendingLost, host: readHost() };
    pending = [];
    pendingLost = false;
    options.onChange(change);
  };

  /** Reads every datagram waiting; returns an error message when the socket failed. */
  const drain = (): string | undefined => {
    for (;;) {
      const n = libc.recv(socket.fd, buffer, bufferLength, MSG_DONTWAIT);
      if (n < 0) {
        const code = errno();
        if (code === EAGAIN) return undefined;
        if (code === EINTR) continue;
        // The receive queue overflowed: messages were lost; the re-read below makes up.
        if (code === ENOBUFS) {
          pendingLost = true;
          continue;
        }
        return `recv on the rtnetlink socket failed: ${strerror(code)}`;
      }
      const parsed = parseAddressMessages(buffer, n);
      if (parsed.events.length > 0) options.onEvents?.(parsed.events);
      pending.push(...parsed.events);
      if (parsed.lost || parsed.truncated) pendingLost = true;
    }
  };

  const loop = (async () => {
    let failures = 0;
    while (!closing) {
      pv.setInt16(POLLFD.REVENTS, 0, true);
      pv.setInt16(POLLFD.SIZE + POLLFD.REVENTS, 0, true);
      const ready = await libc.pollAsync(pollfds, 2n, -1);
      if (closing) break;
      if (ready < 0) {
        // EINTR on the pool's thread (its errno is not ours to read): poll again, but not
        // for ever when something is broken for good.
        if (++failures >= MAX_POLL_FAILURES) {
          throw new Error(`poll on the rtnetlink socket failed ${failures} times in a row`);
        }
        continue;
      }
      failures = 0;
      const revents = pv.getInt16(POLLFD.REVENTS, true);
      if ((revents & (POLLERR | POLLNVAL)) !== 0 && (revents & POLLIN) === 0) {
        throw new Error(`the rtnetlink socket reported an error (revents ${revents})`);
      }
      if ((revents & POLLIN) !== 0) {
        const failure = drain();
        if (failure !== undefined) throw new Error(failure);
        if (settle === undefined && (pending.length > 0 || pendingLost)) {
          settle = setTimeout(flush, settleMs);
        }
      }
    }
  })().catch((e) => {
    if (!closing) options.onError?.(e instanceof Error ? e : new Error(String(e)));
  });

  const close = async () => {
    if (closing) return;
    closing = true;
    if (settle !== undefined) clearTimeout(settle);
    libc.write(wake.fd, ONE, 8n);
    await loop;
    socket.close();
    wake.close();
  };
  return { close, [Symbol.asyncDispose]: close };
}
