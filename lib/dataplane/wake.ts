/**
 * A data-plane Worker's doorbell: an eventfd in the Worker's `poll` set that the parent rings
 * after each message it posts. The Worker then turns its event loop (where the message is
 * delivered) only when a message is waiting, instead of every poll timeout: each turn costs
 * ~2 ms here (Deno's timers round `setTimeout(0)` up to its 1 ms clock, and the loop sleeps in
 * `epoll_wait` for 2 ms), during which the Worker polls nothing, so a packet arriving then
 * waited up to 2 ms. The counter also tells the Worker how many messages to wait for.
 *
 * @module
 */
import { check, EFD_CLOEXEC, EFD_NONBLOCK, FdHandle, openLibc } from "../../ffi/mod.ts";

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** The parent's end of a Worker's doorbell. */
export class WakeFd extends FdHandle {
  /**
   * Opens an eventfd (non-blocking, close-on-exec).
   *
   * @throws {SyscallError} when the kernel refuses (out of file descriptors)
   */
  static open(): WakeFd {
    const fd = check(
      openLibc().symbols.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
      "eventfd",
      "open a data-plane Worker's wake-up eventfd",
    );
    return new WakeFd(fd);
  }

  /** Adds one to the counter: one more message posted. */
  ring(): void {
    if (!this.closed) openLibc().symbols.write(this.fd, ONE, 8n);
  }
}
