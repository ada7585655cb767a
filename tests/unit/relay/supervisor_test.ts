import assert from "node:assert/strict";
import { parseIpv4, parseIpv6 } from "../../../lib/addr/mod.ts";
import { icmpv6Checksum } from "../../../lib/packet/checksum.ts";
import type { HealthEvent } from "../../../lib/relay/health.ts";
import type { ProbeLink, ReceivedProbe } from "../../../lib/relay/prober.ts";
import { MAX_PROBES_PER_SECOND, RelaySupervisor } from "../../../lib/relay/supervisor.ts";

const A = "192.0.2.99";
const B = "192.0.2.98";

/** Relays that answer (after 5 ms) while listed in `answering`; a clock the test moves. */
class World implements ProbeLink {
  now = 1_700_000_000_000;
  answering = new Set<string>();
  queue: { packet: Uint8Array; timeMs: number }[] = [];
  sends: { relay: string; timeMs: number }[] = [];
  send(packet: Uint8Array, length: number, relay4: number): void {
    const relay = [A, B, ...Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`)]
      .find((r) => parseIpv4(r) === relay4)!;
    this.sends.push({ relay, timeMs: this.now });
    if (!this.answering.has(relay)) return;
    const reply = packet.slice(0, length);
    reply.set(packet.subarray(20 + 24, 20 + 40), 20 + 8);
    reply.set(packet.subarray(20 + 8, 20 + 24), 20 + 24);
    reply[60] = 129;
    const sum = icmpv6Checksum(reply, 20, 60, length - 60);
    reply[62] = sum >> 8;
    reply[63] = sum & 0xff;
    this.queue.push({ packet: reply, timeMs: this.now + 5 });
  }
  receive(buf: Uint8Array): ReceivedProbe | undefined {
    if (this.queue.length === 0 || this.queue[0].timeMs > this.now) return undefined;
    const next = this.queue.shift()!;
    buf.set(next.packet);
    return { length: next.packet.length, timeMs: next.timeMs };
  }
}

function supervise(
  world: World,
  relays: string[],
  intervalSeconds = 1,
  failures = 3,
  random = () => 0.5,
) {
  const events: (HealthEvent & { at: number })[] = [];
  const supervisor = new RelaySupervisor({
    link: world,
    relays,
    intervalSeconds,
    failures,
    source4: "198.51.100.1",
    source6: parseIpv6("2002:c633:6401::1"),
    identifier: 0x5151,
    onEvent: (e) => events.push({ ...e, at: world.now }),
    now: () => world.now,
    random,
  });
  const run = (ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      world.now += 50;
      supervisor.tick();
    }
  };
  return { supervisor, events, run };
}

Deno.test("both relays answering: both up, the first active, RTTs from the replies", () => {
  const world = new World();
  world.answering = new Set([A, B]);
  const { supervisor, events, run } = supervise(world, [A, B]);
  run(3000);
  assert.equal(supervisor.active, A);
  assert.deepEqual(supervisor.view().map((r) => [r.address, r.state, r.rttMs]), [
    [A, "up", 5],
    [B, "up", 5],
  ]);
  assert.deepEqual(events.filter((e) => e.kind === "active"), []);
  // About one probe per relay per second (the interval), each answered.
  const perRelay = world.sends.filter((s) => s.relay === A).length;
  assert.ok(perRelay >= 3 && perRelay <= 4, String(perRelay));
});

Deno.test("the preferred relay going dark moves the traffic within failures × interval + timeout", () => {
  const world = new World();
  world.answering = new Set([A, B]);
  const { supervisor, events, run } = supervise(world, [A, B], 1, 3);
  run(3000);
  const broken = world.now;
  world.answering.delete(A);
  run(6000);
  const down = events.find((e) => e.kind === "relay" && e.address === A && e.to === "down");
  const moved = events.find((e) => e.kind === "active" && e.to === B);
  assert.ok(down !== undefined && moved !== undefined, JSON.stringify(events));
  assert.equal(down.kind === "relay" && down.lostInARow, 3);
  const failoverMs = moved.at - broken;
  // Probes at most 1.1 s apart, 3 lost, the last one judged 0.5 s after it left.
  assert.ok(failoverMs <= 3 * 1100 + 500 + 100, `failover took ${failoverMs} ms`);
  assert.equal(supervisor.active, B);
  // Back: two answers in a row bring A up and the traffic back.
  world.answering.add(A);
  run(3000);
  assert.equal(supervisor.active, A);
  assert.deepEqual(events.at(-1), {
    kind: "active",
    from: B,
    to: A,
    allDown: false,
    at: events.at(-1)!.at,
  });
});

Deno.test("probes never exceed the rate bound, however many relays and however short the interval", () => {
  const world = new World();
  const relays = Array.from({ length: 40 }, (_, i) => `198.51.100.${i + 1}`);
  const { run } = supervise(world, relays, 0.05, 3);
  run(5000);
  for (let second = 0; second < 5; second++) {
    const start = world.sends[0].timeMs + second * 1000;
    const inSecond = world.sends.filter((s) => s.timeMs >= start && s.timeMs < start + 1000);
    assert.ok(inSecond.length <= MAX_PROBES_PER_SECOND, `${inSecond.length} probes in a second`);
  }
  assert.ok(world.sends.length >= 45, "the bound is a bound, not a stall");
});

Deno.test("a reload with a new list keeps known states and probes new relays at once", () => {
  const world = new World();
  world.answering = new Set([A, B]);
  const { supervisor, events, run } = supervise(world, [A]);
  run(2000);
  supervisor.reload({ relays: [B, A], intervalSeconds: 1, failures: 3 });
  assert.deepEqual(events.at(-1)?.kind, "active");
  assert.equal(supervisor.active, B); // unknown counts as usable, and B is now first
  assert.equal(supervisor.view()[1].state, "up");
  const before = world.sends.length;
  run(100);
  assert.equal(world.sends.at(before)?.relay, B);
  supervisor.reload({ relays: [], intervalSeconds: 1, failures: 3 });
  assert.equal(supervisor.active, null);
  const after = world.sends.length;
  run(3000);
  assert.equal(world.sends.length, after, "no relay, no probe");
});

Deno.test("with the defaults (10 s, 3 lost) failover takes at most 40 s, wherever the break falls (simulated clock)", () => {
  let worst = 0;
  for (let phase = 0; phase < 10_000; phase += 700) {
    const world = new World();
    world.answering = new Set([A, B]);
    // The longest waits: every interval stretched by the full +10 % jitter.
    const { events, run } = supervise(world, [A, B], 10, 3, () => 0.9999);
    run(25_000 + phase);
    const broken = world.now;
    world.answering.delete(A);
    run(60_000);
    const moved = events.find((e) => e.kind === "active" && e.to === B);
    assert.ok(moved !== undefined);
    worst = Math.max(worst, moved.at - broken);
  }
  // failures × interval × 1.1 + min(interval / 2, 2 s) = 35 s; the issue asks for 40 s.
  assert.ok(worst <= 35_100, `worst failover ${worst} ms`);
  assert.ok(worst >= 20_000, `worst failover ${worst} ms: too fast to be three lost probes`);
});
