/**
 * The threaded engine (`startThreadedForwarder`: Workers, doorbells, the shared stop flag)
 * without root: its "TUN" and "link" are ends of `AF_UNIX` `SOCK_SEQPACKET` socket pairs,
 * which keep packet boundaries like the real devices, and report POLLHUP when their other end
 * closes, as a deleted TUN does.
 */
import assert from "node:assert/strict";
import { PolicyError } from "../../../lib/errors.ts";
import { type Forwarder, startThreadedForwarder } from "../../../lib/dataplane/mod.ts";
import { openLibc, SOCK_CLOEXEC, SOCK_NONBLOCK } from "../../../ffi/mod.ts";
import { ipv6Packet } from "../packet/_build.ts";
import { BASE } from "../filter/_policy.ts";

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;

const libc = Deno.dlopen("libc.so.6", {
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
});

/** A connected pair of non-blocking packet sockets: [ours for stf, the far end]. */
function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  const type = SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC;
  assert.equal(libc.symbols.socketpair(AF_UNIX, type, 0, new Uint8Array(fds.buffer)), 0);
  return [fds[0], fds[1]];
}

function close(...fds: number[]) {
  for (const fd of fds) openLibc().symbols.close(fd);
}

/** The filter tests' set-up (own4 9.0.0.2) without a relay: a native destination is `no-relay`. */
const { relay: _, ...SETTINGS } = BASE;

/** Starts the engine on two socket pairs; the test closes what it returns. */
async function start(onFatal?: (message: string) => void) {
  const [tunFd, tunPeer] = socketPair();
  const [linkFd, linkPeer] = socketPair();
  let forwarder: Forwarder;
  try {
    forwarder = await startThreadedForwarder(
      { tunName: "stf9", tunFd, linkFd, icmpFd: -1 },
      { settings: SETTINGS, icmpSource: "2002:900:2::1", onFatal, tuning: { batch: 1 } },
    );
  } catch (e) {
    close(tunFd, tunPeer, linkFd, linkPeer);
    throw e;
  }
  return { forwarder, tunFd, tunPeer, linkFd, linkPeer };
}

/** Waits (polling every 10 ms, 10 s at most) until `done` holds. */
async function until(done: () => boolean, what: string) {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), what);
}

Deno.test("the threaded engine filters what its Workers read, reloads between packets, and stops", async () => {
  const t = await start();
  try {
    const packet = ipv6Packet("2002:900:2::1", "2001:db8::1");
    const write = () => openLibc().symbols.write(t.tunPeer, packet, BigInt(packet.length));
    write();
    const dropped = () => t.forwarder.counters().egress.dropped["no-relay"];
    await until(() => dropped() === 1, "the egress Worker read the packet and found no relay");
    assert.throws(() => t.forwarder.reload({ ...SETTINGS, mtu: 9000 }), PolicyError);
    t.forwarder.reload({ ...SETTINGS, relay: "192.88.99.1" });
    assert.equal(t.forwarder.settings.relay, "192.88.99.1");
    // The reload reaches the Worker through its doorbell: a packet then goes to the relay (the
    // connected "link" ignores the address; its other end receives the IPv4 packet).
    await until(() => {
      write();
      return t.forwarder.counters().egress.packets > 0;
    }, "the egress Worker took the reload");
    const sent = new Uint8Array(2048);
    const n = openLibc().symbols.read(t.linkPeer, sent, 2048n);
    assert.equal(n, 20 + packet.length);
    assert.deepEqual([...sent.subarray(16, 20)], [192, 88, 99, 1], "outer destination: the relay");
    const before = dropped();
    await t.forwarder.stop();
    write();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(dropped(), before, "nothing is read after stop");
  } finally {
    close(t.tunFd, t.tunPeer, t.linkFd, t.linkPeer);
  }
});

Deno.test("the threaded engine reports a TUN whose other end went away through onFatal", async () => {
  const fatal: string[] = [];
  const t = await start((message) => fatal.push(message));
  try {
    close(t.tunPeer);
    await until(() => fatal.length > 0, "onFatal was called");
    assert.deepEqual(fatal, ['The TUN device "stf9" is gone']);
    await t.forwarder.stop();
  } finally {
    close(t.tunFd, t.linkFd, t.linkPeer);
  }
});
