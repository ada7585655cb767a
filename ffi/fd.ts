/**
 * An open file descriptor that is closed once: the base of the TUN, socket and eventfd
 * handles, so that a `using` declaration, an error path and a normal stop can all close it.
 *
 * It sits in `ffi/` although `ffi/` otherwise holds bindings, constants, struct layouts and
 * typed errors: like `SyscallError` it is the typed result of a libc call (`open`, `socket`,
 * `eventfd` return an fd that `close` must end once), it imports nothing of `lib/`, and both
 * `lib/netif` (TUN, sockets) and `lib/dataplane` (the Workers' doorbells) own such fds, so
 * neither of them is its home.
 *
 * @module
 */
import { openLibc } from "./libc.ts";

/** A file descriptor owned by this process, closed at most once. */
export class FdHandle implements Disposable {
  /** The file descriptor (usable through FFI in any thread). */
  readonly fd: number;
  #closed = false;

  /** Wraps an open fd; the handle owns it from now on. */
  constructor(fd: number) {
    this.fd = fd;
  }

  /** Whether {@link close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the fd (once). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    openLibc().symbols.close(this.fd);
  }

  /** Closes the fd. */
  [Symbol.dispose](): void {
    this.close();
  }
}
