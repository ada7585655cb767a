/**
 * The threaded engine's loop without root or threads: a {@link DirectionLoop} over the
 * in-memory devices and a scripted {@link FakePoller}, with messages delivered at the loop's
 * event-loop turns as a Worker's are.
 */
import assert from "node:assert/strict";
import {
  Counters,
  DEFAULT_TUNING,
  type Direction,
  DirectionLoop,
  type DirectionLoopOptions,
  EgressPath,
  FakePoller,
  MemoryLink,
  MemoryTun,
  TIER_UP_EVERY,
  TIER_UP_FIRST,
  tierUpAt,
  type WakeUpFunction,
  type WorkerEvent,
  type WorkerReload,
  type WorkerStart,
  type WorkerStop,
} from "../../../lib/dataplane/mod.ts";
import { EPERM } from "../../../ffi/constants.ts";
import { ipv4Wrap, ipv6Packet } from "../packet/_build.ts";
import { BASE } from "../filter/_policy.ts";

/** The filter tests' set-up (own4 9.0.0.2) without a relay: a native destination is `no-relay`. */
const { relay: _, ...SETTINGS } = BASE;

/** A native destination: `no-relay` without a relay, forwarded to it with one. */
const TO_NATIVE = () => ipv6Packet("2002:900:2::1", "2001:db8::1");

function setUp(
  direction: Direction,
  size: number,
  sampleDrops = false,
  yieldInterval?: number,
  options: Pick<DirectionLoopOptions, "optimize" | "wakeUpFunctions"> = {},
) {
  const tun = new MemoryTun();
  const link = new MemoryLink();
  // The first wait sees the start message's ring.
  const poller = new FakePoller(size, [{ readable: [size - 1], rings: 1 }]);
  const counters = new Counters();
  const stopFlag = new SharedArrayBuffer(8);
  const start: WorkerStart = {
    kind: "start",
    direction,
    queue: 0,
    tunFd: -1,
    tunName: "stf9",
    linkFd: -1,
    icmpFd: -1,
    wakeFd: -1,
    settings: SETTINGS,
    icmpSource: "2002:900:2::1",
    counters: counters.buffer,
    stopFlag,
    sampleDrops,
    tuning: DEFAULT_TUNING,
    tunFeatures: { vnetHeader: false, offloads: 0 },
  };
  const events: WorkerEvent[] = [];
  /** Messages the parent posted, delivered at the loop's next turn. */
  const inbox: (WorkerReload | WorkerStop)[] = [];
  let turns = 0;
  let held = 0;
  const loop = new DirectionLoop(start, { tun, link, poller }, (e) => events.push(e), {
    ...options,
    yieldInterval,
    turn: () => {
      turns++;
      if (held > 0) held--;
      else for (const m of inbox.splice(0)) loop.receive(m);
      return Promise.resolve();
    },
  });
  return {
    tun,
    link,
    poller,
    counters,
    stopFlag,
    events,
    loop,
    inbox,
    turns: () => turns,
    /** The next `n` turns deliver nothing (the messages are still in flight). */
    hold(n: number) {
      held = n;
    },
    /** Posts a message: into the inbox, with a ring the next wait reports. */
    post(m: WorkerReload | WorkerStop, step: { then?: () => void } = {}) {
      poller.script.push({ readable: [size - 1], rings: 1, then: () => inbox.push(m) });
      if (step.then) poller.script.push({ then: step.then });
    },
  };
}

Deno.test("a direction's loop pumps what the poller reports readable, and ends on the shared stop flag", async () => {
  const t = setUp("egress", 2);
  t.tun.toStf.push(TO_NATIVE());
  t.poller.script.push({ readable: [0] });
  // As the parent stops a Worker: the flag raised, then `stop` posted with its ring.
  t.poller.script.push({
    readable: [1],
    rings: 1,
    then: () => {
      Atomics.store(new Int32Array(t.stopFlag), 0, 1);
      t.inbox.push({ kind: "stop" });
    },
  });
  await t.loop.run();
  assert.deepEqual(t.events, [{ kind: "ready", direction: "egress" }]);
  assert.equal(t.counters.snapshot().egress.dropped["no-relay"], 1);
  assert.equal(t.poller.timeouts.length, 3, "no wait after the ring of the flag");
  assert.equal(t.turns(), 0, "the flag ended the loop at its ring, before a turn took `stop`");
});

Deno.test("a direction's loop leaves a packet the poller did not report readable in its device", async () => {
  const t = setUp("ingress", 2);
  t.link.toStf.push(ipv4Wrap("8.0.0.1", "9.0.0.2", ipv6Packet("2002:800:1::1", "2002:900:2::1")));
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.equal(t.link.toStf.length, 1);
  assert.equal(t.counters.snapshot().ingress.packets, 0);
});

Deno.test("a stop message rung on the doorbell is taken at the next turn and ends the loop", async () => {
  const t = setUp("ingress", 2);
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.equal(t.turns(), 1, "the ring made the loop turn at once, not after a second");
  // No timeout at first (nothing to do yet), then 1 s: the loop has woken since its last turn.
  assert.deepEqual(t.poller.timeouts, [-1, 1000]);
});

Deno.test("after its work a loop turns once, then waits without a timeout until woken", async () => {
  const t = setUp("egress", 2, false, 0); // a turn at any timeout after a wake-up
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(TO_NATIVE()) });
  t.poller.script.push({}); // a timeout: the turn
  t.post({ kind: "stop" }); // only this wakes the idle loop
  await t.loop.run();
  assert.equal(t.counters.snapshot().egress.dropped["no-relay"], 1, "the packet was handled");
  assert.deepEqual(t.poller.timeouts, [-1, 0, 0, -1]);
  assert.equal(t.turns(), 2, "one turn after the packet, one for the stop");
});

Deno.test("a ring not yet delivered makes the next wait only look (timeout 0)", async () => {
  const t = setUp("ingress", 2);
  t.hold(1);
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.deepEqual(t.poller.timeouts, [-1, 1000, 0]);
  assert.equal(t.turns(), 2);
});

Deno.test("a reload rung on the doorbell changes the policy between two packets", async () => {
  const t = setUp("egress", 2);
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(TO_NATIVE()) });
  t.post({
    kind: "reload",
    settings: { ...SETTINGS, relay: "192.88.99.1" },
    icmpSource: "2002:900:2::1",
    sampleDrops: false,
  });
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(TO_NATIVE()) });
  t.post({ kind: "stop" });
  await t.loop.run();
  const c = t.counters.snapshot().egress;
  assert.equal(c.dropped["no-relay"], 1, "before the reload");
  assert.equal(c.packets, 1, "after it");
  assert.equal(t.link.sent[0].destination, 0xc0586301, "to the new relay");
});

Deno.test("a reload that does not compile throws and leaves the old policy in force", async () => {
  const t = setUp("egress", 2);
  assert.throws(
    () =>
      t.loop.receive({
        kind: "reload",
        settings: { ...SETTINGS, mtu: 9000 },
        icmpSource: "2002:900:2::1",
        sampleDrops: false,
      }),
    /mtu/i,
  );
  t.poller.script.push({ readable: [1], rings: 1 }); // the ring of that reload
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(TO_NATIVE()) });
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.equal(t.counters.snapshot().egress.dropped["no-relay"], 1);
});

Deno.test("a reload can turn drop sampling on: drops are then posted as events", async () => {
  const t = setUp("egress", 2);
  t.post({ kind: "reload", settings: SETTINGS, icmpSource: "2002:900:2::1", sampleDrops: true });
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(TO_NATIVE()) });
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.deepEqual(
    t.events.filter((e) => e.kind === "drop").map((e) => e.kind === "drop" && e.reason),
    ["no-relay"],
  );
});

Deno.test("packets the kernel refused are told to the parent at the next turn, each once", async () => {
  const t = setUp("egress", 2);
  t.link.failWith = -EPERM; // a firewall rule refusing every send
  const toSite = () => ipv6Packet("2002:900:2::1", "2002:800:1::1"); // to 8.0.0.1
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(toSite()) });
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(toSite()) });
  t.post({ kind: "reload", settings: SETTINGS, icmpSource: "2002:900:2::1", sampleDrops: false });
  t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(toSite()) });
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.equal(t.counters.snapshot().egress.ioErrors, 3);
  assert.deepEqual(t.events.filter((e) => e.kind === "io-errors"), [
    { kind: "io-errors", direction: "egress", count: 2 },
    { kind: "io-errors", direction: "egress", count: 1 },
  ]);
});

Deno.test("POLLERR on the TUN of the egress loop reports the device gone and ends the loop", async () => {
  const t = setUp("egress", 3);
  t.poller.script.push({ failed: { 0: 0x8 } });
  await t.loop.run();
  assert.deepEqual(t.events, [
    { kind: "ready", direction: "egress" },
    { kind: "error", message: 'The TUN device "stf9" is gone' },
  ]);
  assert.equal(t.poller.timeouts.length, 2);
});

Deno.test("POLLHUP on the ingress socket reports the socket with its events and ends the loop", async () => {
  const t = setUp("ingress", 2);
  t.poller.script.push({ failed: { 0: 0x10 } });
  await t.loop.run();
  assert.deepEqual(t.events.slice(1), [
    { kind: "error", message: "A socket of the ingress path failed (poll events 0x10)" },
  ]);
});

Deno.test("a failing wait reports its errno and ends the loop", async () => {
  const t = setUp("ingress", 2);
  t.poller.script.push({ error: -9 });
  await t.loop.run();
  assert.deepEqual(t.events.slice(1), [{ kind: "error", message: "poll failed: errno 9" }]);
});

/** A loop whose requests for TurboFan are recorded: the turn each came after, and its list. */
function tierUpSetUp() {
  const requests: { turnsBefore: number; functions: readonly WakeUpFunction[] }[] = [];
  const device = () => 0; // stands for a device method (`linuxWakeUpFunctions`)
  const t = setUp("egress", 2, false, 0, {
    wakeUpFunctions: [device],
    optimize: (functions) => {
      requests.push({ turnsBefore: t.turns(), functions });
      return functions.length;
    },
  });
  /** A wake-up with a packet, then a wait that times out: an event-loop turn with work behind it. */
  const busySecond = () => {
    t.poller.script.push({ readable: [0], then: () => t.tun.toStf.push(TO_NATIVE()) });
    t.poller.script.push({});
  };
  return { t, requests, device, busySecond };
}

Deno.test("tierUpAt() asks at busy turns 2, 4, 8 … 64, then every 64th", () => {
  const at = Array.from({ length: 300 }, (_, i) => i).filter(tierUpAt);
  assert.deepEqual(at, [2, 4, 8, 16, 32, 64, 128, 192, 256]);
  assert.equal(TIER_UP_FIRST, 2);
  assert.equal(TIER_UP_EVERY, 64);
});

Deno.test("a loop asks V8 for TurboFan for its wake-up path at its busy turns 2, 4 and 8", async () => {
  const { t, requests, device, busySecond } = tierUpSetUp();
  const seconds = 9;
  for (let i = 0; i < seconds; i++) busySecond();
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.equal(t.counters.snapshot().egress.dropped["no-relay"], seconds, "every packet");
  // The stop's turn is the 10th busy one (a ring is a wake-up too). Turns are counted after the
  // request: the n-th turn's comes after n - 1.
  assert.deepEqual(requests.map((r) => r.turnsBefore), [1, 3, 7]);
  const functions = requests[0].functions;
  assert.ok(functions.every((f) => typeof f === "function"), "only functions");
  assert.equal(new Set(functions).size, functions.length, "each once");
  assert.ok(functions.includes(device), "the devices' functions");
  assert.ok(functions.includes(EgressPath.prototype.pump), "the path's functions");
});

Deno.test("an idle loop, woken only by its stop, does not ask V8 for TurboFan", async () => {
  const { t, requests } = tierUpSetUp();
  t.post({ kind: "stop" });
  await t.loop.run();
  assert.deepEqual(requests, []);
});
