import assert from "node:assert/strict";
import { parseIpv6 } from "../../../lib/addr/mod.ts";
import { icmpv6Checksum } from "../../../lib/packet/checksum.ts";
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST } from "../../../lib/relay/probe.ts";
import {
  type ProbeLink,
  Prober,
  probeTimeoutMs,
  type ReceivedProbe,
} from "../../../lib/relay/prober.ts";

/** A link where each relay in `answering` echoes a probe back after `delayMs`. */
class EchoLink implements ProbeLink {
  queue: { packet: Uint8Array; timeMs: number }[] = [];
  sentTo: number[] = [];
  constructor(public now: () => number, public answering: Set<number>, public delayMs = 5) {}
  send(packet: Uint8Array, length: number, relay4: number): void {
    this.sentTo.push(relay4);
    assert.equal(packet[20 + 40], ICMPV6_ECHO_REQUEST);
    if (!this.answering.has(relay4)) return;
    const reply = packet.slice(0, length);
    // Outer and inner addresses swapped, type Echo Reply, checksum again: what a relay sends.
    reply.set(packet.subarray(16, 20), 12);
    reply.set(packet.subarray(12, 16), 16);
    reply.set(packet.subarray(20 + 24, 20 + 40), 20 + 8);
    reply.set(packet.subarray(20 + 8, 20 + 24), 20 + 24);
    reply[60] = ICMPV6_ECHO_REPLY;
    const sum = icmpv6Checksum(reply, 20, 60, length - 60);
    reply[62] = sum >> 8;
    reply[63] = sum & 0xff;
    this.queue.push({ packet: reply, timeMs: this.now() + this.delayMs });
  }
  receive(buf: Uint8Array): ReceivedProbe | undefined {
    const next = this.queue.shift();
    if (next === undefined) return undefined;
    buf.set(next.packet);
    return { length: next.packet.length, timeMs: next.timeMs };
  }
}

const R1 = "192.0.2.1";
const R2 = "192.0.2.2";

function setup(answering: string[], delayMs = 5) {
  let now = 1_000_000;
  const link = new EchoLink(
    () => now,
    new Set(answering.map((a) => (192 << 24 | 2 << 8 | Number(a.split(".")[3])) >>> 0)),
    delayMs,
  );
  const prober = new Prober(link, {
    source4: "198.51.100.1",
    source6: parseIpv6("2002:c633:6401::1"),
    identifier: 0x1234,
    timeoutMs: 1000,
  });
  return { link, prober, tick: (ms: number) => (now += ms), now: () => now };
}

Deno.test("an answered probe is matched to its relay with the RTT the link measured", () => {
  const { prober, now } = setup([R1, R2], 7);
  const s1 = prober.send(R1, now());
  const s2 = prober.send(R2, now());
  assert.notEqual(s1, s2);
  assert.equal(prober.outstanding, 2);
  assert.deepEqual(prober.collect(), [
    { relay: R1, sequence: s1, answered: true, rttMs: 7 },
    { relay: R2, sequence: s2, answered: true, rttMs: 7 },
  ]);
  assert.equal(prober.outstanding, 0);
  assert.equal(prober.sent, 2);
});

Deno.test("a probe not answered within the timeout is lost once, and a late reply is not an answer", () => {
  const { prober, tick, now } = setup([R1], 1500);
  const seq = prober.send(R1, now());
  assert.deepEqual(prober.expire(now()), []);
  // The reply arrives after the timeout: it counts as lost, not answered.
  assert.deepEqual(prober.collect(), [{ relay: R1, sequence: seq, answered: false }]);
  const seq2 = prober.send(R2, now()); // R2 never answers
  tick(1001);
  assert.deepEqual(prober.expire(now()), [{ relay: R2, sequence: seq2, answered: false }]);
  assert.deepEqual(prober.expire(now()), []);
});

Deno.test("replies with another identifier or for unknown sequences are ignored", () => {
  const { prober, link, now } = setup([R1]);
  prober.send(R1, now());
  const reply = link.queue[0].packet;
  const duplicate = { packet: reply.slice(), timeMs: now() };
  const foreign = reply.slice();
  foreign[64] ^= 0xff; // identifier
  link.queue.push(duplicate, { packet: foreign, timeMs: now() });
  assert.equal(prober.collect().length, 1);
});

Deno.test("forgetOthers() drops the pending probes of relays no longer listed", () => {
  const { prober, tick, now } = setup([]);
  prober.send(R1, now());
  prober.send(R2, now());
  prober.forgetOthers([R2]);
  tick(5000);
  assert.deepEqual(prober.expire(now()).map((o) => o.relay), [R2]);
});

Deno.test("the probe timeout is half the interval, at most 2 s", () => {
  assert.equal(probeTimeoutMs(1), 500);
  assert.equal(probeTimeoutMs(10), 2000);
  assert.equal(probeTimeoutMs(0.5), 250);
});
