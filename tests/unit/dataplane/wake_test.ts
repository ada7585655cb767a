import assert from "node:assert/strict";
import { WakeFd } from "../../../lib/dataplane/wake.ts";
import { openLibc } from "../../../ffi/mod.ts";

/** What a Worker does with its doorbell: read the counter (and reset it), or -errno. */
function take(fd: number): number {
  const buf = new Uint8Array(8);
  const n = openLibc().symbols.read(fd, buf, 8n);
  return n === 8 ? Number(new DataView(buf.buffer).getBigUint64(0, true)) : n;
}

Deno.test("WakeFd counts the messages rung since the Worker last read it, and reads reset it", () => {
  using wake = WakeFd.open();
  assert.ok(wake.fd >= 0);
  assert.equal(take(wake.fd), -1, "nothing rung: a non-blocking read fails (EAGAIN)");
  wake.ring();
  wake.ring();
  wake.ring();
  assert.equal(take(wake.fd), 3);
  assert.equal(take(wake.fd), -1, "the read reset the counter");
  wake.ring();
  assert.equal(take(wake.fd), 1);
});

Deno.test("WakeFd is readable to poll() exactly while a ring is unread", () => {
  using wake = WakeFd.open();
  const { poll } = openLibc().symbols;
  const pfd = new Uint8Array(8);
  const view = new DataView(pfd.buffer);
  view.setInt32(0, wake.fd, true);
  view.setInt16(4, 1, true); // POLLIN
  assert.equal(poll(pfd, 1n, 0), 0);
  wake.ring();
  assert.equal(poll(pfd, 1n, 0), 1);
  assert.equal(view.getInt16(6, true) & 1, 1);
  take(wake.fd);
  assert.equal(poll(pfd, 1n, 0), 0);
});

Deno.test("WakeFd: a ring after close never reaches the file that reuses the fd number", () => {
  const wake = WakeFd.open();
  const number = wake.fd;
  wake.close();
  // The kernel hands out the lowest free number: the next eventfd gets the closed one back.
  using reuser = WakeFd.open();
  assert.equal(reuser.fd, number, "precondition: the fd number was reused");
  wake.ring();
  wake.close();
  assert.equal(take(reuser.fd), -1, "nothing was written to the new eventfd");
  reuser.ring();
  assert.equal(take(reuser.fd), 1);
});
