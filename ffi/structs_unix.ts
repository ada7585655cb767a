/**
 * `struct sockaddr_un` (`<sys/un.h>`) for Unix domain sockets, which Deno's own API cannot
 * use with datagrams (systemd's `NOTIFY_SOCKET`). Same layout on x86_64 and aarch64 Linux:
 * a 2-byte family and a 108-byte path.
 *
 * A name starting with `@` is in the abstract namespace (unix(7)): its first path byte is NUL,
 * the rest is the name without a terminating NUL, and the address length counts exactly the
 * bytes used. A filesystem path is NUL-terminated and the length counts that NUL, as systemd's
 * `sd_notify` does.
 *
 * @module
 */
import { view } from "./structs.ts";

/** `AF_UNIX` (`AF_LOCAL`). */
export const AF_UNIX = 1;
/** `MSG_NOSIGNAL`: no SIGPIPE when the peer is gone. */
export const MSG_NOSIGNAL = 0x4000;

/** `struct sockaddr_un`. */
export const SOCKADDR_UN = Object.freeze({
  SIZE: 110,
  /** `sun_family` (`sa_family_t`, host order). */
  FAMILY: 0,
  /** `sun_path`, 108 bytes. */
  PATH: 2,
  /** The size of `sun_path`. */
  PATH_SIZE: 108,
});

/** An encoded `struct sockaddr_un` and the address length to pass with it. */
export interface SockaddrUn {
  /** The struct, {@link SOCKADDR_UN}.SIZE bytes. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The `socklen_t` to pass to `sendto`/`bind`/`connect`. */
  readonly length: number;
}

/**
 * Encodes a Unix socket address: a filesystem path, or `@name` for the abstract namespace.
 *
 * @param address the path or `@name`
 * @throws {RangeError} when it is empty, too long, or a path contains NUL
 */
export function encodeSockaddrUn(address: string): SockaddrUn {
  const abstract = address.startsWith("@");
  const name = new TextEncoder().encode(abstract ? address.slice(1) : address);
  // A path needs room for its NUL; an abstract name for the leading NUL.
  if (name.length === 0 || name.length > SOCKADDR_UN.PATH_SIZE - 1) {
    throw new RangeError(
      `Cannot use "${address}" as a Unix socket address: expected 1..${
        SOCKADDR_UN.PATH_SIZE - 1
      } bytes`,
    );
  }
  if (!abstract && name.includes(0)) {
    throw new RangeError(`Cannot use "${address}" as a Unix socket address: it contains NUL`);
  }
  const bytes = new Uint8Array(SOCKADDR_UN.SIZE);
  view(bytes).setUint16(SOCKADDR_UN.FAMILY, AF_UNIX, true);
  bytes.set(name, SOCKADDR_UN.PATH + (abstract ? 1 : 0));
  return { bytes, length: SOCKADDR_UN.PATH + 1 + name.length };
}
