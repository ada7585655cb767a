/**
 * The sd_notify protocol (sd_notify(3)) without libsystemd: newline-separated `VAR=value`
 * assignments in one datagram to the Unix socket named by `NOTIFY_SOCKET` — a path, or `@name`
 * in the abstract namespace. Without `NOTIFY_SOCKET` (not started by systemd, or not
 * `Type=notify`) every call is a no-op.
 *
 * Deno has no Unix datagram client, so the socket is libc's, through FFI: `socket(AF_UNIX,
 * SOCK_DGRAM)`, `sendto` with a `struct sockaddr_un`, `close` — a socket per message, as
 * sd_notify does; messages are rare.
 *
 * `stf run` sends `READY=1` once forwarding, `STATUS=…` with a summary, `STOPPING=1` when told
 * to stop, and `WATCHDOG=1` at half of `WATCHDOG_USEC` while the forwarder is healthy.
 *
 * @module
 */
import { SOCK_CLOEXEC, SOCK_DGRAM } from "../../ffi/constants.ts";
import { syscallError } from "../../ffi/errors.ts";
import { openLibc } from "../../ffi/libc.ts";
import { AF_UNIX, encodeSockaddrUn, MSG_NOSIGNAL } from "../../ffi/structs_unix.ts";

/** Options of {@link notify}. */
export interface NotifyOptions {
  /** The socket address; default `NOTIFY_SOCKET` from the environment. */
  readonly socket?: string;
}

/** Options of {@link startWatchdog}. */
export interface WatchdogOptions extends NotifyOptions {
  /** The watchdog interval in microseconds; default `WATCHDOG_USEC` from the environment. */
  readonly intervalUsec?: number;
  /** Pings are sent only while this returns true (default: always). */
  readonly healthy?: () => boolean;
  /** Called when a ping cannot be sent (default: ignored, the next one is tried). */
  readonly onError?: (error: Error) => void;
}

/** A running watchdog timer. */
export interface Watchdog {
  /** Milliseconds between pings (half the watchdog interval). */
  readonly periodMs: number;
  /** Stops pinging. */
  stop(): void;
}

const HINTS = Object.freeze({
  ENOENT: "the socket does not exist",
  ECONNREFUSED: "nothing listens on the socket",
  EACCES: "permission denied",
  EPERM: "permission denied",
});

function socketOf(options: NotifyOptions): string | undefined {
  const socket = options.socket ?? Deno.env.get("NOTIFY_SOCKET");
  return socket === undefined || socket === "" ? undefined : socket;
}

/**
 * Sends a notification to the service manager: one or more `VAR=value` lines, e.g.
 * `READY=1`, `STATUS=Forwarding on stf0`, `STOPPING=1`, `WATCHDOG=1`.
 *
 * @param state the assignments, separated by line feeds
 * @param options the socket, when not `NOTIFY_SOCKET`
 * @returns `true` when sent, `false` when there is no socket to send to
 * @throws {RangeError} when the socket is neither an absolute path nor `@name`
 * @throws {SyscallError} when the datagram cannot be sent
 */
export function notify(state: string, options: NotifyOptions = {}): boolean {
  const socket = socketOf(options);
  if (socket === undefined) return false;
  if (!socket.startsWith("/") && !socket.startsWith("@")) {
    throw new RangeError(
      `Cannot use NOTIFY_SOCKET "${socket}": expected an absolute path or @name`,
    );
  }
  const address = encodeSockaddrUn(socket);
  const message = new TextEncoder().encode(state);
  const libc = openLibc().symbols;
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw syscallError("socket(AF_UNIX)", "open a notification socket");
  try {
    const sent = libc.sendto(
      fd,
      message,
      BigInt(message.length),
      MSG_NOSIGNAL,
      address.bytes,
      address.length,
    );
    if (sent < 0) {
      throw syscallError("sendto", `notify systemd through "${socket}"`, { hints: HINTS });
    }
  } finally {
    libc.close(fd);
  }
  return true;
}

/**
 * Reads the watchdog interval systemd asks for (`WATCHDOG_USEC`), in microseconds, or
 * `undefined` when there is none or it is meant for another process (`WATCHDOG_PID`).
 */
export function watchdogIntervalUsec(): number | undefined {
  const usec = Number(Deno.env.get("WATCHDOG_USEC") ?? "");
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  const pid = Deno.env.get("WATCHDOG_PID");
  if (pid !== undefined && pid !== "" && Number(pid) !== Deno.pid) return undefined;
  return usec;
}

/**
 * Starts sending `WATCHDOG=1` at half the watchdog interval, as sd_watchdog_enabled(3)
 * advises. The timer does not keep the process alive.
 *
 * @param options the interval, the socket, a health check and an error listener
 * @returns the watchdog, or `undefined` when no watchdog is asked for or there is no socket
 */
export function startWatchdog(options: WatchdogOptions = {}): Watchdog | undefined {
  const usec = options.intervalUsec ?? watchdogIntervalUsec();
  const socket = socketOf(options);
  if (usec === undefined || usec <= 0 || socket === undefined) return undefined;
  const periodMs = Math.max(1, Math.floor(usec / 2000));
  const ping = () => {
    if (options.healthy !== undefined && !options.healthy()) return;
    try {
      notify("WATCHDOG=1", { socket });
    } catch (error) {
      options.onError?.(error as Error);
    }
  };
  const timer = setInterval(ping, periodMs);
  Deno.unrefTimer(timer);
  return { periodMs, stop: () => clearInterval(timer) };
}
