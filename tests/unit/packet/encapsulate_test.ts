import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpv4, parseIpv4 } from "../../../lib/addr/mod.ts";
import { encapsulateInPlace, EncapsulationState } from "../../../lib/packet/mod.ts";
import { ipv6Packet } from "./_build.ts";
import { runScapy, skipWithoutScapy } from "./_scapy.ts";

interface Case {
  trafficClass: number;
  payload: number;
  ttl?: number;
  copyDscp?: boolean;
  dst: string;
}

const CASES: Case[] = [
  { trafficClass: 0, payload: 8, dst: "8.0.0.1" },
  { trafficClass: 0xb8 | 3, payload: 100, dst: "198.51.100.9" }, // EF + CE
  { trafficClass: 0xb8 | 1, payload: 1, dst: "203.0.113.200", copyDscp: false }, // ECT(1)
  { trafficClass: 0x28 | 2, payload: 1440, dst: "192.88.99.1", ttl: 255 }, // AF11 + ECT(0)
  { trafficClass: 0xff, payload: 0, dst: "255.1.2.3", ttl: 1, copyDscp: true },
  { trafficClass: 0xfe, payload: 1200, dst: "128.0.0.1", ttl: 30, copyDscp: false },
];

function encapsulateCases(): { packets: Uint8Array[]; ids: number[] } {
  const state = new EncapsulationState(0xfffe);
  const packets: Uint8Array[] = [];
  const ids: number[] = [];
  for (const c of CASES) {
    const buf = ipv6Packet("2002:c000:201::1", "2002:800:1::1", {
      trafficClass: c.trafficClass,
      payload: new Uint8Array(c.payload).fill(7),
      headroom: 20,
    });
    ids.push(state.nextId);
    const n = encapsulateInPlace(buf, 20, buf.length - 20, {
      source: parseIpv4("192.0.2.1"),
      destination: parseIpv4(c.dst),
      state,
      ttl: c.ttl,
      copyDscp: c.copyDscp,
    });
    assert.equal(n, buf.length);
    packets.push(buf);
  }
  return { packets, ids };
}

interface ScapyIp {
  version: number;
  ihl: number;
  tos: number;
  len: number;
  id: number;
  flags: number;
  frag: number;
  ttl: number;
  proto: number;
  chksum: number;
  recomputed: number;
  src: string;
  dst: string;
  inner6: boolean;
  innerTc: number;
}

Deno.test({
  name: "encapsulateInPlace() writes outer headers that scapy reads as RFC 4213 §3.5 headers",
  ignore: skipWithoutScapy(),
  fn: async () => {
    const { packets, ids } = encapsulateCases();
    const result = await runScapy(
      `
out = []
for b in packets:
    p = IP(b)
    q = IP(b)
    del q.chksum
    q = IP(raw(q))
    out.append(dict(version=p.version, ihl=p.ihl, tos=p.tos, len=p.len, id=p.id,
        flags=int(p.flags), frag=p.frag, ttl=p.ttl, proto=p.proto, chksum=p.chksum,
        recomputed=q.chksum, src=p.src, dst=p.dst, inner6=p.haslayer(IPv6),
        innerTc=p[IPv6].tc if p.haslayer(IPv6) else -1))
print(json.dumps(out))
`,
      packets,
    ) as ScapyIp[];
    assert.equal(result.length, CASES.length);
    CASES.forEach((c, i) => {
      const r = result[i];
      const expectedDscp = (c.copyDscp ?? true) ? c.trafficClass & 0xfc : 0;
      assert.equal(r.version, 4);
      assert.equal(r.ihl, 5);
      assert.equal(r.len, packets[i].length);
      assert.equal(r.flags, 0, "DF and MF clear (RFC 4213 §3.2.1)");
      assert.equal(r.frag, 0);
      assert.equal(r.ttl, c.ttl ?? 64);
      assert.equal(r.proto, 41);
      assert.equal(r.chksum, r.recomputed, "checksum equals scapy's");
      assert.equal(r.src, "192.0.2.1");
      assert.equal(r.dst, c.dst);
      assert.equal(r.tos, expectedDscp | (c.trafficClass & 3), "DSCP by option, ECN copied");
      assert.equal(r.id, ids[i]);
      assert.equal(r.inner6, true);
      assert.equal(r.innerTc, c.trafficClass, "the inner packet is untouched");
    });
    // The identification wraps around and differs between consecutive packets.
    assert.deepEqual(ids.slice(0, 3), [0xfffe, 0xffff, 0]);
  },
});

Deno.test("encapsulateInPlace() leaves the inner packet byte for byte as it was", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 40, maxLength: 1480 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (inner, dst) => {
        const buf = new Uint8Array(20 + inner.length);
        buf.set(inner, 20);
        encapsulateInPlace(buf, 20, inner.length, {
          source: 1,
          destination: dst,
          state: new EncapsulationState(),
        });
        assert.deepEqual(buf.subarray(20), inner);
        assert.equal(
          formatIpv4(new DataView(buf.buffer).getUint32(16)),
          formatIpv4(dst),
        );
      },
    ),
  );
});

Deno.test("encapsulateInPlace() refuses a packet without 20 bytes of headroom", () => {
  const buf = ipv6Packet("2002:c000:201::1", "2002:800:1::1", { headroom: 19 });
  assert.throws(
    () =>
      encapsulateInPlace(buf, 19, buf.length - 19, {
        source: 1,
        destination: 2,
        state: new EncapsulationState(),
      }),
    RangeError,
  );
});
