import assert from "node:assert/strict";
import { parseIpv6 } from "../../../lib/addr/mod.ts";
import type { PolicySettings } from "../../../lib/filter/mod.ts";
import {
  type DataplaneTuning,
  MemoryLink,
  MemoryTun,
  startInProcessForwarder,
  UDP_COALESCE_MIN_BATCH,
} from "../../../lib/dataplane/mod.ts";
import { internetChecksum } from "../../../lib/packet/checksum.ts";
import { configureTunOffload, tunFlagsForRun } from "../../../lib/netif/offload.ts";
import { ipv6Packet } from "../packet/_build.ts";

function settings(ipv4: string): PolicySettings {
  return {
    mode: "router",
    ipv4,
    localIpv4: [ipv4],
    localBroadcasts: [],
    sitePrefixes: [],
    strictBogons: false,
    mtu: 1480,
    ttl: 64,
    dscp: "copy",
  };
}

function site(ipv4: string, tuning: Partial<DataplaneTuning>, vnetHeader: boolean) {
  const tun = new MemoryTun();
  const link = new MemoryLink();
  const forwarder = startInProcessForwarder({ tun, link }, {
    settings: settings(ipv4),
    icmpSource: "2002:c633:6401::1",
    manual: true,
    tuning,
    vnetHeader,
  });
  return { tun, link, forwarder };
}

const A_SRC = "2002:c633:6401::5";
const B_DST = "2002:cb00:7105::9";

/**
 * A TSO super-packet as a TUN with `TUN_F_TSO6` hands it over: a virtio_net_hdr (NEEDS_CSUM,
 * GSO_TCPV6) then one IPv6/TCP packet with the whole payload and only a partial checksum.
 */
function superPacket(payload: Uint8Array, gsoSize: number, src = A_SRC): Uint8Array {
  const p = new Uint8Array(10 + 60 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 1; // NEEDS_CSUM
  p[1] = 4; // GSO_TCPV6
  v.setUint16(2, 60, true);
  v.setUint16(4, gsoSize, true);
  v.setUint16(6, 40, true);
  v.setUint16(8, 16, true);
  const ip = 10;
  p[ip] = 0x60;
  v.setUint16(ip + 4, 20 + payload.length);
  p[ip + 6] = 6;
  p[ip + 7] = 64;
  p.set(parseIpv6(src), ip + 8);
  p.set(parseIpv6(B_DST), ip + 24);
  const t = ip + 40;
  v.setUint16(t, 40000);
  v.setUint16(t + 2, 5201);
  v.setUint32(t + 4, 123456);
  v.setUint32(t + 8, 42);
  p[t + 12] = 0x50;
  p[t + 13] = 0x18; // PSH, ACK
  v.setUint16(t + 14, 500);
  p.set(payload, t + 20);
  return p;
}

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
}

/**
 * The RFC 1071 sum (byte-wise code) over the RFC 8200 §8.1 pseudo-header and the upper-layer
 * packet of an IPv6 packet: 0 when its checksum field is right.
 */
function upperLayerChecksum(p: Uint8Array, next: number): number {
  const upperLength = p.length - 40;
  const pseudo = new Uint8Array(40 + upperLength);
  pseudo.set(p.subarray(8, 40), 0);
  new DataView(pseudo.buffer).setUint32(32, upperLength);
  pseudo[39] = next;
  pseudo.set(p.subarray(40), 40);
  return internetChecksum(pseudo, 0, pseudo.length);
}

/** Checks the TCP checksum of an IPv6 packet. */
function tcpChecksumValid(p: Uint8Array): boolean {
  return upperLayerChecksum(p, 6) === 0;
}

Deno.test("a TSO super-packet leaves as MTU-sized segments, each encapsulated with a valid checksum", async () => {
  const a = site("198.51.100.1", { batch: 64, offload: true }, true);
  const payload = pattern(30000);
  a.tun.toStf.push(superPacket(payload, 1420));
  a.forwarder.pumpNow();
  assert.equal(a.link.sent.length, Math.ceil(30000 / 1420));
  const joined: number[] = [];
  a.link.sent.forEach((s, k) => {
    const inner = s.bytes.subarray(20);
    assert.equal(s.bytes[9], 41);
    assert.ok(s.bytes.length <= 1500);
    assert.ok(tcpChecksumValid(inner), `segment ${k} checksum`);
    assert.equal(new DataView(inner.buffer, inner.byteOffset).getUint32(44), 123456 + k * 1420);
    const last = k === a.link.sent.length - 1;
    assert.equal(inner[53], last ? 0x18 : 0x10, "PSH on the last segment only");
    joined.push(...inner.subarray(60));
  });
  assert.deepEqual(new Uint8Array(joined), payload);
  assert.equal(a.forwarder.counters().egress.packets, a.link.sent.length);
  await a.forwarder.stop();
});

Deno.test("segments cross to a site that coalesces them back into one super-packet (GRO)", async () => {
  const a = site("198.51.100.1", { batch: 64, offload: true }, true);
  const b = site("203.0.113.5", { batch: 64, offload: true }, true);
  a.link.peer = b.link;
  const payload = pattern(40000);
  a.tun.toStf.push(superPacket(payload, 1420));
  a.forwarder.pumpNow();
  b.forwarder.pumpNow();
  assert.equal(b.tun.fromStf.length, 1);
  const got = b.tun.fromStf[0];
  assert.deepEqual([got[0], got[1]], [1, 4], "NEEDS_CSUM, GSO_TCPV6");
  assert.equal(new DataView(got.buffer).getUint16(4, true), 1420, "gso_size");
  assert.deepEqual(got.subarray(10 + 60), payload);
  assert.equal(b.forwarder.counters().ingress.packets, Math.ceil(40000 / 1420));
  await a.forwarder.stop();
  await b.forwarder.stop();
});

/** A UDP datagram of one flow as A's TUN hands it over: a zero virtio_net_hdr, a valid checksum. */
function udpDatagram(k: number): Uint8Array {
  const udp = new Uint8Array(8 + 64).fill(k);
  const u = new DataView(udp.buffer);
  u.setUint16(0, 40000);
  u.setUint16(2, 5201);
  u.setUint16(4, udp.length);
  u.setUint16(6, 0);
  const p = ipv6Packet(A_SRC, B_DST, { nextHeader: 17, payload: udp, headroom: 10 });
  new DataView(p.buffer).setUint16(10 + 40 + 6, upperLayerChecksum(p.subarray(10), 17));
  return p;
}

for (const count of [UDP_COALESCE_MIN_BATCH - 1, UDP_COALESCE_MIN_BATCH]) {
  Deno.test(`a batch of ${count} UDP datagrams of one flow is written ${count < UDP_COALESCE_MIN_BATCH ? "one by one" : "as one GSO_UDP_L4 packet"}`, async () => {
    const a = site("198.51.100.1", { batch: 64, offload: true }, true);
    const b = site("203.0.113.5", { batch: 64, offload: true }, true);
    a.link.peer = b.link;
    for (let k = 0; k < count; k++) a.tun.toStf.push(udpDatagram(k));
    a.forwarder.pumpNow();
    b.forwarder.pumpNow();
    assert.equal(b.forwarder.counters().ingress.packets, count);
    if (count < UDP_COALESCE_MIN_BATCH) {
      assert.equal(b.tun.fromStf.length, count);
      b.tun.fromStf.forEach((p, k) => assert.deepEqual(p, udpDatagram(k)));
    } else {
      assert.equal(b.tun.fromStf.length, 1);
      const got = b.tun.fromStf[0];
      assert.deepEqual([got[0], got[1]], [1, 5], "NEEDS_CSUM, GSO_UDP_L4");
      assert.equal(new DataView(got.buffer).getUint16(4, true), 64, "gso_size");
      assert.equal(got.length, 10 + 40 + 8 + 64 * count);
    }
    await a.forwarder.stop();
    await b.forwarder.stop();
  });
}

Deno.test("without offloads a site with a virtio_net_hdr writes each segment alone", async () => {
  const a = site("198.51.100.1", { batch: 64, offload: true }, true);
  const b = site("203.0.113.5", { batch: 64, offload: false }, true);
  a.link.peer = b.link;
  a.tun.toStf.push(superPacket(pattern(5000), 1420));
  a.forwarder.pumpNow();
  b.forwarder.pumpNow();
  assert.equal(b.tun.fromStf.length, 4);
  for (const p of b.tun.fromStf) {
    assert.deepEqual(p.subarray(0, 10), new Uint8Array(10), "a zero virtio_net_hdr");
    assert.ok(tcpChecksumValid(p.subarray(10)));
  }
  await a.forwarder.stop();
  await b.forwarder.stop();
});

Deno.test("the filters see every segment: full-size segments too big for the MTU are dropped, the short last one passes", async () => {
  const a = site("198.51.100.1", { batch: 64, offload: true }, true);
  // 40 + 20 + 1440 = 1500 > 1480: the three full segments are too big; the last (100) fits.
  a.tun.toStf.push(superPacket(pattern(3 * 1440 + 100), 1440));
  a.forwarder.pumpNow();
  const c = a.forwarder.counters().egress;
  assert.equal(c.dropped["too-big"], 3);
  assert.equal(c.packets, 1);
  assert.equal(a.link.sent.length, 1);
  assert.equal(a.link.sent[0].bytes.length, 20 + 60 + 100);
  // Each drop answered with Packet Too Big into the TUN, after a zero virtio_net_hdr.
  assert.equal(a.tun.fromStf.length, 3);
  assert.equal(a.tun.fromStf[0][10 + 40], 2, "ICMPv6 Packet Too Big");
  await a.forwarder.stop();
});

Deno.test("a super-packet from a source that is not ours is dropped segment by segment", async () => {
  const a = site("198.51.100.1", { batch: 64, offload: true }, true);
  a.tun.toStf.push(superPacket(pattern(10000), 1420, "2002:800:1::1"));
  a.forwarder.pumpNow();
  assert.equal(a.forwarder.counters().egress.dropped["src-not-own"], Math.ceil(10000 / 1420));
  assert.equal(a.link.sent.length, 0);
  await a.forwarder.stop();
});

/**
 * What B's raw socket hands over when B's kernel merged A's segments on the uplink (GRO): one
 * 6in4 packet with the whole payload and, as \`tcp6_gro_complete\` leaves it, only the
 * pseudo-header sum in the TCP checksum field.
 */
function mergedByKernel(payload: Uint8Array, src6 = A_SRC): Uint8Array {
  const inner = superPacket(payload, 1420, src6).subarray(10);
  let sum = 6 + inner.length - 40;
  for (let i = 8; i < 40; i += 2) sum += (inner[i] << 8) | inner[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  new DataView(inner.buffer, inner.byteOffset).setUint16(56, sum);
  const p = new Uint8Array(20 + inner.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 41;
  p.set([198, 51, 100, 1], 12);
  p.set([203, 0, 113, 5], 16);
  v.setUint16(10, internetChecksum(p, 0, 20));
  p.set(inner, 20);
  return p;
}

Deno.test("a TCP super-packet B's kernel merged before the raw socket goes into the TUN as one GSO packet", async () => {
  const b = site("203.0.113.5", { batch: 64, offload: true }, true);
  const payload = pattern(20000);
  const merged = mergedByKernel(payload);
  b.link.toStf.push(merged);
  b.forwarder.pumpNow();
  assert.equal(b.tun.fromStf.length, 1);
  const got = b.tun.fromStf[0];
  const v = new DataView(got.buffer);
  // NEEDS_CSUM, GSO_TCPV6, hdr_len 60, gso_size for segments of the MTU (1480 - 60).
  assert.deepEqual([got[0], got[1], v.getUint16(2, true), v.getUint16(4, true)], [1, 4, 60, 1420]);
  assert.deepEqual([v.getUint16(6, true), v.getUint16(8, true)], [40, 16]);
  assert.deepEqual(got.subarray(10), merged.subarray(20), "the packet itself unchanged");
  assert.equal(b.forwarder.counters().ingress.packets, 1);
  await b.forwarder.stop();
});

for (
  const [tuning, vnet] of [[{ batch: 64, offload: false }, true], [{ batch: 1 }, false]] as const
) {
  Deno.test(`with ${JSON.stringify(tuning)}, a TCP super-packet B's kernel merged is cut into MTU-sized segments`, async () => {
    const b = site("203.0.113.5", tuning, vnet);
    const payload = pattern(20000);
    b.link.toStf.push(mergedByKernel(payload));
    b.forwarder.pumpNow();
    const count = Math.ceil(20000 / 1420);
    assert.equal(b.tun.fromStf.length, count);
    const joined: number[] = [];
    b.tun.fromStf.forEach((written, k) => {
      if (vnet) assert.deepEqual(written.subarray(0, 10), new Uint8Array(10));
      const p = vnet ? written.subarray(10) : written;
      assert.ok(p.length <= 1480);
      assert.ok(tcpChecksumValid(p), `segment ${k} checksum`);
      assert.equal(new DataView(p.buffer, p.byteOffset).getUint32(44), 123456 + k * 1420);
      assert.equal(p[53], k === count - 1 ? 0x18 : 0x10, "PSH on the last segment only");
      joined.push(...p.subarray(60));
    });
    assert.deepEqual(new Uint8Array(joined), payload);
    assert.equal(b.forwarder.counters().ingress.packets, 1);
    await b.forwarder.stop();
  });
}

Deno.test("a merged super-packet whose inner source the outer one does not match is dropped whole", async () => {
  const b = site("203.0.113.5", { batch: 64, offload: true }, true);
  b.link.toStf.push(mergedByKernel(pattern(20000), "2002:c633:6402::5"));
  b.forwarder.pumpNow();
  assert.equal(b.tun.fromStf.length, 0);
  assert.equal(b.forwarder.counters().ingress.dropped["inner-src-spoofed"], 1);
  await b.forwarder.stop();
});

for (const batch of [1, 3, 64]) {
  for (const vnet of [false, true]) {
    Deno.test(`with batch ${batch} and${vnet ? "" : " no"} virtio_net_hdr, 100 packets cross both ways unchanged`, async () => {
      const a = site("198.51.100.1", { batch, offload: true }, vnet);
      const b = site("203.0.113.5", { batch, offload: true }, vnet);
      a.link.peer = b.link;
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 100; i++) {
        const p = superPacket(pattern(50 + i), 1420).subarray(10);
        p[53] = 0x11; // FIN+ACK: never coalesced, so each arrives alone
        const copy = p.slice();
        // A correct checksum, so that B's kernel would accept it.
        copy[56] = copy[57] = 0;
        const pseudo = new Uint8Array(40 + copy.length - 40);
        pseudo.set(copy.subarray(8, 40), 0);
        new DataView(pseudo.buffer).setUint32(32, copy.length - 40);
        pseudo[39] = 6;
        pseudo.set(copy.subarray(40), 40);
        new DataView(copy.buffer).setUint16(56, internetChecksum(pseudo, 0, pseudo.length));
        sent.push(copy);
        a.tun.toStf.push(vnet ? new Uint8Array([...new Uint8Array(10), ...copy]) : copy);
      }
      a.forwarder.pumpNow();
      b.forwarder.pumpNow();
      assert.equal(b.tun.fromStf.length, 100);
      b.tun.fromStf.forEach((p, i) => assert.deepEqual(vnet ? p.subarray(10) : p, sent[i]));
      assert.equal(a.forwarder.counters().egress.packets, 100);
      assert.equal(b.forwarder.counters().ingress.packets, 100);
      await a.forwarder.stop();
      await b.forwarder.stop();
    });
  }
}

Deno.test("tunFlagsForRun() adds IFF_VNET_HDR for offloads and removes it without, keeping the rest", () => {
  const TUN = 0x0001, NO_PI = 0x1000, VNET = 0x4000, PERSIST = 0x0800, MQ = 0x0100;
  // A device stf creates is multi-queue (--queues can attach more fds later).
  assert.equal(tunFlagsForRun(undefined, true), TUN | NO_PI | MQ | VNET);
  assert.equal(tunFlagsForRun(undefined, false), TUN | NO_PI | MQ);
  assert.equal(tunFlagsForRun(TUN | NO_PI | PERSIST, true), TUN | NO_PI | PERSIST | VNET);
  assert.equal(tunFlagsForRun(TUN | NO_PI | VNET, false), TUN | NO_PI);
});

Deno.test("configureTunOffload() leaves an fd that is not a TUN device alone", () => {
  // fd 0 (stdin) is never a TUN device: TUNGETIFF fails, nothing is applied.
  assert.deepEqual(configureTunOffload(0, true), { vnetHeader: false, offloads: 0 });
});
