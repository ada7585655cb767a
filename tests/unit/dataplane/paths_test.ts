/**
 * What the egress and ingress paths do themselves around the policy's verdict: the outer
 * header (RFC 4213 §3.5, RFC 6040 §4.1) and the ECN rewrite on decapsulation (RFC 6040 §4.2),
 * one packet at a time and in batches.
 */
import assert from "node:assert/strict";
import {
  Counters,
  EgressPath,
  IngressPath,
  MemoryLink,
  MemoryTun,
} from "../../../lib/dataplane/mod.ts";
import { ipv4Wrap, ipv6Packet } from "../packet/_build.ts";
import { BASE } from "../filter/_policy.ts";

/** A device that counts its reads, those that find nothing included. */
class CountingTun extends MemoryTun {
  reads = 0;
  override read(buf: Uint8Array, offset: number, maxLength: number): number {
    this.reads++;
    return super.read(buf, offset, maxLength);
  }
}

/** The filter tests' set-up: own4 9.0.0.2, relay 192.88.99.1. */
const SETTINGS = BASE;

for (const batch of [1, 64]) {
  Deno.test(`with batch ${batch}, the egress path writes own4, the configured TTL and DSCP, and a fresh ID per packet`, () => {
    const tun = new MemoryTun();
    const link = new MemoryLink();
    const settings = { ...SETTINGS, ttl: 9, dscp: "zero" as const };
    const path = new EgressPath({ tun, link }, settings, new Counters(), {
      icmpSource: "2002:900:2::1",
      batch,
    });
    for (let i = 0; i < 3; i++) {
      tun.toStf.push(ipv6Packet("2002:900:2::1", "2002:800:1::1", { trafficClass: 0xb9 }));
    }
    assert.equal(path.pump(64), 3);
    assert.equal(link.sent.length, 3);
    const ids = link.sent.map(({ bytes }) => {
      assert.equal(bytes[1], 1, "DSCP zero, ECN copied");
      assert.equal(bytes[8], 9, "TTL");
      assert.deepEqual([...bytes.subarray(12, 20)], [9, 0, 0, 2, 8, 0, 0, 1]);
      return (bytes[4] << 8) | bytes[5];
    });
    assert.equal(new Set(ids).size, 3);
  });

  Deno.test(`with batch ${batch}, packets that come alone are read one per wake-up, and a burst is drained again`, () => {
    const tun = new CountingTun();
    const link = new MemoryLink();
    const path = new EgressPath({ tun, link }, SETTINGS, new Counters(), {
      icmpSource: "2002:900:2::1",
      batch,
    });
    const packet = () => ipv6Packet("2002:900:2::1", "2002:800:1::1");
    for (let i = 0; i < 4; i++) {
      tun.toStf.push(packet());
      assert.equal(path.pump(64), 1);
    }
    assert.equal(tun.reads, 8, "each drain ends with a read that finds nothing");
    for (let i = 0; i < 20; i++) tun.toStf.push(packet());
    for (let wake = 1; wake < 16; wake++) assert.equal(path.pump(64), 1, `wake-up ${wake}`);
    assert.equal(tun.reads, 8 + 15, "one read per wake-up, none that finds nothing");
    assert.equal(path.pump(64), 5, "the 16th wake-up drains what is left");
    tun.toStf.push(packet(), packet());
    assert.equal(path.pump(64), 2, "after a burst, every wake-up drains");
    assert.equal(link.sent.length, 4 + 20 + 2);
  });

  Deno.test(`with batch ${batch}, the ingress path marks CE on an inner ECT packet under an outer CE (RFC 6040 §4.2)`, () => {
    const tun = new MemoryTun();
    const link = new MemoryLink();
    const path = new IngressPath({ tun, link }, SETTINGS, new Counters(), { batch });
    const inner = (trafficClass: number) =>
      ipv6Packet("2002:800:1::1", "2002:900:2::1", { trafficClass });
    link.toStf.push(ipv4Wrap("8.0.0.1", "9.0.0.2", inner(0xb8 | 2), { tos: 3 }));
    link.toStf.push(ipv4Wrap("8.0.0.1", "9.0.0.2", inner(2), { tos: 1 }));
    link.toStf.push(ipv4Wrap("8.0.0.1", "9.0.0.2", inner(0), { tos: 3 })); // ecn-ce-not-ect
    path.pump(64);
    assert.equal(tun.fromStf.length, 2);
    const trafficClass = (p: Uint8Array) => ((p[0] & 15) << 4) | (p[1] >> 4);
    assert.equal(trafficClass(tun.fromStf[0]), 0xb8 | 3, "DSCP kept, ECN now CE");
    assert.equal(trafficClass(tun.fromStf[1]) & 3, 1, "outer ECT(1) over inner ECT(0): ECT(1)");
  });
}
