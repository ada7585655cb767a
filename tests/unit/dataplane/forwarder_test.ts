import assert from "node:assert/strict";
import { formatIpv6, parseIpv4, parseIpv6 } from "../../../lib/addr/mod.ts";
import type { PolicySettings } from "../../../lib/filter/mod.ts";
import {
  type DropSample,
  MemoryLink,
  MemoryTun,
  startInProcessForwarder,
} from "../../../lib/dataplane/mod.ts";

function settings(ipv4: string, extra: Partial<PolicySettings> = {}): PolicySettings {
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
    ...extra,
  };
}

/** An IPv6 UDP packet (next header 17) with `payload` bytes of pattern. */
function ipv6Packet(src: string, dst: string, payload = 32, trafficClass = 0): Uint8Array {
  const p = new Uint8Array(40 + payload);
  p[0] = 0x60 | (trafficClass >> 4);
  p[1] = (trafficClass & 15) << 4;
  p[4] = payload >> 8;
  p[5] = payload & 255;
  p[6] = 17;
  p[7] = 64;
  p.set(parseIpv6(src), 8);
  p.set(parseIpv6(dst), 24);
  for (let i = 40; i < p.length; i++) p[i] = i & 255;
  return p;
}

function site(ipv4: string, extra: Partial<PolicySettings> = {}) {
  const tun = new MemoryTun();
  const link = new MemoryLink();
  const drops: DropSample[] = [];
  const forwarder = startInProcessForwarder({ tun, link }, {
    settings: settings(ipv4, extra),
    icmpSource: "2002:c633:6401::1",
    onDrop: (d) => drops.push(d),
    manual: true,
  });
  return { tun, link, forwarder, drops };
}

Deno.test("the forwarder carries a packet from one 6to4 site's TUN into the other's", async () => {
  const a = site("198.51.100.1");
  const b = site("203.0.113.5");
  a.link.peer = b.link;
  b.link.peer = a.link;
  const packet = ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1", 100);
  a.tun.toStf.push(packet);
  a.forwarder.pumpNow();
  assert.equal(a.link.sent.length, 1);
  assert.equal(a.link.sent[0].destination, parseIpv4("203.0.113.5"));
  assert.equal(a.link.sent[0].bytes.length, 160);
  b.forwarder.pumpNow();
  assert.deepEqual(b.tun.fromStf, [packet]);
  assert.equal(a.forwarder.counters().egress.packets, 1);
  assert.equal(a.forwarder.counters().egress.bytes, 140);
  assert.equal(b.forwarder.counters().ingress.packets, 1);
  await a.forwarder.stop();
  await b.forwarder.stop();
});

Deno.test("the in-process forwarder tells of packets the kernel refused once, after the pump", async () => {
  const tun = new MemoryTun();
  const link = new MemoryLink();
  link.failWith = -1; // EPERM: a firewall rule
  const told: [string, number][] = [];
  const forwarder = startInProcessForwarder({ tun, link }, {
    settings: settings("198.51.100.1"),
    icmpSource: "2002:c633:6401::1",
    onIoErrors: (direction, count) => told.push([direction, count]),
    manual: true,
  });
  tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  forwarder.pumpNow();
  forwarder.pumpNow(); // nothing new: nothing told
  assert.deepEqual(told, [["egress", 2]]);
  assert.equal(forwarder.counters().egress.ioErrors, 2);
  await forwarder.stop();
});

Deno.test("the forwarder counts each drop under its reason and samples it for the log", async () => {
  const a = site("198.51.100.1");
  a.tun.toStf.push(ipv6Packet("2002:800:1::1", "2002:cb00:7105::1")); // src-not-own
  a.tun.toStf.push(ipv6Packet("2001:db8::1", "2001:db8::2")); // native-to-native
  a.forwarder.pumpNow();
  const c = a.forwarder.counters();
  assert.equal(c.egress.dropped["src-not-own"], 1);
  assert.equal(c.egress.dropped["native-to-native"], 1);
  assert.equal(c.egress.packets, 0);
  assert.equal(a.link.sent.length, 0);
  assert.deepEqual(a.drops.map((d) => d.reason), ["src-not-own", "native-to-native"]);
  assert.equal(a.drops[0].src6, "2002:800:1::1");
  // Every reason possible in a direction is present from the start.
  assert.equal(c.ingress.dropped["inner-src-own-prefix"], 0);
  await a.forwarder.stop();
});

Deno.test("the forwarder answers an oversize packet with ICMPv6 Packet Too Big into the TUN", async () => {
  const a = site("198.51.100.1");
  a.tun.toStf.push(ipv6Packet("2002:c633:6401::5", "2002:cb00:7105::1", 1481 - 40));
  a.forwarder.pumpNow();
  assert.equal(a.forwarder.counters().egress.dropped["too-big"], 1);
  assert.equal(a.tun.fromStf.length, 1);
  const icmp = a.tun.fromStf[0];
  assert.equal(icmp[6], 58, "ICMPv6");
  assert.equal(icmp[40], 2, "Packet Too Big");
  assert.equal(new DataView(icmp.buffer).getUint32(44), 1480, "MTU");
  assert.equal(formatIpv6(icmp, 24), "2002:c633:6401::5", "to the sender");
  await a.forwarder.stop();
});

for (const batch of [1, 64]) {
  Deno.test(`with batch ${batch}, a packet larger than the route's MTU teaches the path MTU and is answered with Packet Too Big`, async () => {
    const tun = new MemoryTun();
    const link = new MemoryLink();
    link.routeMtu = 1492; // an uplink over PPPoE: 1480 + 20 does not fit
    const a = startInProcessForwarder({ tun, link }, {
      settings: settings("198.51.100.1"),
      icmpSource: "2002:c633:6401::1",
      manual: true,
      tuning: { batch },
    });
    const to = "2002:cb00:7105::1";
    tun.toStf.push(ipv6Packet("2002:c633:6401::5", to, 1480 - 40));
    a.pumpNow();
    let c = a.counters().egress;
    assert.deepEqual([c.dropped["too-big"], c.ioErrors, c.packets], [1, 0, 0]);
    assert.deepEqual([c.pathMtuUpdates, c.pathMtuEntries, c.icmpSent], [1, 1, 1]);
    const icmp = tun.fromStf[0];
    assert.equal(icmp[40], 2, "Packet Too Big");
    assert.equal(new DataView(icmp.buffer).getUint32(44), 1472, "MTU: 1492 - 20");
    // Now the filter knows: a second large packet is refused before the send, a fitting one
    // goes out.
    tun.toStf.push(ipv6Packet("2002:c633:6401::5", to, 1480 - 40));
    tun.toStf.push(ipv6Packet("2002:c633:6401::5", to, 1472 - 40));
    a.pumpNow();
    c = a.counters().egress;
    assert.deepEqual([c.dropped["too-big"], c.ioErrors, c.packets], [2, 0, 1]);
    assert.equal(c.pathMtuUpdates, 1, "the second was refused by the path MTU, not the kernel");
    assert.equal(link.sent.length, 1);
    assert.equal(link.sent[0].bytes.length, 1492);
    await a.stop();
  });
}

Deno.test("a reload changes the policy without touching the devices; a bad one is refused", async () => {
  const a = site("198.51.100.1");
  const b = site("203.0.113.5");
  a.link.peer = b.link;
  a.tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  a.forwarder.pumpNow();
  b.forwarder.pumpNow();
  assert.equal(b.tun.fromStf.length, 1);
  b.forwarder.reload(settings("203.0.113.5", { mode: "return-path" }));
  assert.throws(() => b.forwarder.reload(settings("203.0.113.5", { mtu: 9000 })), RangeError);
  assert.equal(b.forwarder.settings.mode, "return-path", "the last good settings stay");
  a.tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  a.forwarder.pumpNow();
  b.forwarder.pumpNow();
  assert.equal(b.tun.fromStf.length, 1, "nothing more decapsulated");
  assert.equal(b.forwarder.counters().ingress.dropped["decap-disabled"], 1);
  assert.equal(b.tun.closed, false);
  await a.forwarder.stop();
  await b.forwarder.stop();
});

Deno.test("a send error is counted, never thrown", async () => {
  const a = site("198.51.100.1");
  a.link.failWith = -105; // ENOBUFS
  a.tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  a.forwarder.pumpNow();
  assert.equal(a.forwarder.counters().egress.ioErrors, 1);
  assert.equal(a.forwarder.counters().egress.packets, 0);
  await a.forwarder.stop();
});

Deno.test("the in-process forwarder pumps by itself until stopped", async () => {
  const tun = new MemoryTun();
  const link = new MemoryLink();
  const f = startInProcessForwarder({ tun, link }, {
    settings: settings("198.51.100.1"),
    icmpSource: "2002:c633:6401::1",
  });
  tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(link.sent.length, 1);
  await f.stop();
  tun.toStf.push(ipv6Packet("2002:c633:6401::1", "2002:cb00:7105::1"));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(link.sent.length, 1, "nothing after stop");
});
