import assert from "node:assert/strict";
import { FdEpoller } from "../../../lib/dataplane/linux.ts";
import { WakeFd } from "../../../lib/dataplane/wake.ts";
import { openFastPath } from "../../../ffi/fastpath.ts";
import { openLibc } from "../../../ffi/mod.ts";

/** Readiness of `fds` as plain poll(2) sees it (the oracle): POLLIN per fd. */
function pollReadable(fds: readonly number[]): boolean[] {
  const pfd = new Uint8Array(8 * fds.length);
  const view = new DataView(pfd.buffer);
  fds.forEach((fd, i) => {
    view.setInt32(8 * i, fd, true);
    view.setInt16(8 * i + 4, 1, true);
  });
  openLibc().symbols.poll(pfd, BigInt(fds.length), 0);
  return fds.map((_, i) => (view.getInt16(8 * i + 6, true) & 1) !== 0);
}

function readable(poller: FdEpoller): boolean[] {
  return Array.from({ length: poller.size }, (_, i) => poller.readable(i));
}

Deno.test("FdEpoller reports the entries poll() finds readable, level-triggered, the doorbell last", () => {
  const lib = openFastPath();
  using data0 = WakeFd.open();
  using data1 = WakeFd.open();
  using doorbell = WakeFd.open();
  const fds = [data0.fd, data1.fd, doorbell.fd];
  const poller = new FdEpoller(lib, [data0.fd, data1.fd], doorbell.fd);
  try {
    assert.equal(poller.size, 3);
    assert.equal(poller.wait(0), 0);
    assert.deepEqual(readable(poller), [false, false, false]);

    data1.ring();
    assert.equal(poller.wait(0), 1);
    assert.deepEqual(readable(poller), pollReadable(fds));
    assert.deepEqual(readable(poller), [false, true, false]);
    // Not read: still readable at the next wait (level-triggered, as poll).
    assert.equal(poller.wait(0), 1);
    assert.deepEqual(readable(poller), [false, true, false]);
    assert.equal(poller.takeRings(), 0, "the doorbell was not readable");

    doorbell.ring();
    doorbell.ring();
    data0.ring();
    assert.equal(poller.wait(1000), 3);
    assert.deepEqual(readable(poller), pollReadable(fds));
    assert.equal(poller.takeRings(), 2);
    assert.equal(poller.wait(0), 2, "the rings were taken; the data entries stay readable");
    assert.deepEqual(readable(poller), [true, true, false]);
    for (let i = 0; i < poller.size; i++) assert.equal(poller.failed(i), 0);
  } finally {
    poller.close();
    lib.close();
  }
});

Deno.test("FdEpoller times out after the given wait with nothing readable", () => {
  const lib = openFastPath();
  using doorbell = WakeFd.open();
  const poller = new FdEpoller(lib, [], doorbell.fd);
  try {
    const started = performance.now();
    assert.equal(poller.wait(30), 0);
    // A functional bound, not a timing assertion: it waited rather than returning at once.
    assert.ok(performance.now() - started >= 20);
    assert.deepEqual(readable(poller), [false]);
  } finally {
    poller.close();
    lib.close();
  }
});

Deno.test("FdEpoller refuses an fd that is not open", () => {
  const lib = openFastPath();
  using doorbell = WakeFd.open();
  try {
    assert.throws(() => new FdEpoller(lib, [1_000_000], doorbell.fd), /Cannot watch fd 1000000/);
  } finally {
    lib.close();
  }
});
