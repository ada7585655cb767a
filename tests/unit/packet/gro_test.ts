import assert from "node:assert/strict";
import { isPartialTcpSuperPacket, TcpCoalescer, tcpSegmentSize } from "../../../lib/packet/gro.ts";
import { hex, scapyJson, skipWithoutScapy, unhex } from "./_scapy.ts";

const python = scapyJson;

/**
 * scapy builds a flow's segments (correct checksums) from `specs` ([flow, seq offset, length,
 * flags, corrupt]) and, for checking, the super-packet of the segments `[from, to)` of flow 0:
 * the whole payload in one packet, with the pseudo-header sum Linux keeps for
 * CHECKSUM_PARTIAL in the checksum field.
 */
const FLOW_PY = `
random.seed(7)
data = bytes(random.randrange(256) for _ in range(70000))
def seg(flow, off, n, flags):
    return IPv6(src="2002:c633:6402::5", dst="2002:c633:6401::%d" % (9 + flow), hlim=63, fl=5) / \\
        TCP(sport=5201, dport=40000 + flow, seq=1000 + off, ack=99, flags=flags, window=300,
            options=[("NOP", None), ("NOP", None), ("Timestamp", (5, 6))]) / data[off:off + n]
out = []
for flow, off, n, flags, corrupt in args["specs"]:
    b = bytearray(raw(seg(flow, off, n, flags)))
    if corrupt: b[-1] ^= 0xff
    out.append(bytes(b).hex())
supers = []
for off, n, flags in args["supers"]:
    p = bytearray(raw(seg(0, off, n, flags)))
    s = sum(int.from_bytes(p[i:i + 2], "big") for i in range(8, 40, 2)) + (len(p) - 40) + 6
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    p[56:58] = s.to_bytes(2, "big")
    supers.append(bytes(p).hex())
print(json.dumps({"packets": out, "supers": supers}))
`;

type Spec = [flow: number, offset: number, length: number, flags: string, corrupt: boolean];

/** Lays the packets out as ingress does (each after 20 bytes of outer header), coalesces. */
function coalesce(packets: Uint8Array[], mtu?: number) {
  const slot = Math.ceil((Math.max(2000, ...packets.map((p) => p.length)) + 20) / 64) * 64;
  const buf = new Uint8Array(slot * packets.length);
  const c = new TcpCoalescer(packets.length);
  if (mtu !== undefined) c.mtu = mtu;
  c.reset(buf);
  packets.forEach((p, i) => {
    buf.set(p, i * slot + 20);
    c.add(i * slot + 20, p.length);
  });
  const outputs: { vnet: Uint8Array; packet: Uint8Array; members: number }[] = [];
  const parts = new Int32Array(2 * (packets.length + 1));
  for (let j = 0; j < c.outputs; j++) {
    const n = c.build(j, parts);
    const chunks: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      chunks.push(buf.slice(parts[2 * k], parts[2 * k] + parts[2 * k + 1]));
    }
    const all = new Uint8Array(chunks.reduce((s, x) => s + x.length, 0));
    let at = 0;
    for (const x of chunks) {
      all.set(x, at);
      at += x.length;
    }
    assert.equal(all.length - 10, c.outputLength(j));
    outputs.push({ vnet: all.subarray(0, 10), packet: all.subarray(10), members: c.members(j) });
  }
  return outputs;
}

const MSS = 1388; // any size: the first segment's payload sets the gso size

Deno.test("TcpCoalescer joins in-order segments of a flow into one super-packet equal to scapy's whole packet", async () => {
  if (skipWithoutScapy()) return;
  const specs: Spec[] = [];
  for (let k = 0; k < 20; k++) specs.push([0, k * MSS, MSS, "A", false]);
  specs.push([0, 20 * MSS, 500, "PA", false]); // a short last segment with PSH ends it
  const r = await python(FLOW_PY, { specs, supers: [[0, 20 * MSS + 500, "PA"]] }) as {
    packets: string[];
    supers: string[];
  };
  const out = coalesce(r.packets.map(unhex));
  assert.equal(out.length, 1);
  assert.equal(out[0].members, 21);
  // virtio_net_hdr: NEEDS_CSUM, GSO_TCPV6, hdr_len 40 + 32, gso_size = MSS, csum 40 / 16.
  const v = new DataView(out[0].vnet.buffer, out[0].vnet.byteOffset, 10);
  assert.deepEqual(
    [v.getUint8(0), v.getUint8(1), v.getUint16(2, true), v.getUint16(4, true)],
    [1, 4, 72, MSS],
  );
  assert.deepEqual([v.getUint16(6, true), v.getUint16(8, true)], [40, 16]);
  assert.equal(hex(out[0].packet), r.supers[0]);
});

Deno.test("TcpCoalescer keeps apart what must not be joined, and keeps each flow's order", async () => {
  if (skipWithoutScapy()) return;
  const specs: Spec[] = [
    [0, 0, MSS, "A", false], // 0: starts flow 0
    [1, 0, MSS, "A", false], // 1: flow 1, interleaved
    [0, MSS, MSS, "A", false], // 2: joins 0
    [1, MSS, MSS, "A", false], // 3: joins 1
    [0, 3 * MSS, MSS, "A", false], // 4: a gap in flow 0: new group
    [0, 4 * MSS, MSS, "A", true], // 5: a bad checksum: alone, closes flow 0's group
    [0, 5 * MSS, MSS, "A", false], // 6: new group
    [0, 6 * MSS, MSS, "FA", false], // 7: FIN: alone, closes it
    [0, 7 * MSS, 0, "A", false], // 8: a pure ACK: alone
    [1, 2 * MSS, MSS + 1, "A", false], // 9: longer than flow 1's gso size: new group
  ];
  const r = await python(FLOW_PY, { specs, supers: [] }) as { packets: string[] };
  const packets = r.packets.map(unhex);
  const out = coalesce(packets);
  assert.deepEqual(out.map((o) => o.members), [2, 2, 1, 1, 1, 1, 1, 1]);
  // Single packets go out unchanged after a zero virtio_net_hdr (the kernel checks them).
  const singles = [4, 5, 6, 7, 8, 9];
  out.slice(2).forEach((o, k) => {
    assert.equal(hex(o.vnet), "00".repeat(10));
    assert.equal(hex(o.packet), hex(packets[singles[k]]));
  });
  // The groups carry both payloads, in order.
  for (const [j, a, b] of [[0, 0, 2], [1, 1, 3]]) {
    const payload = out[j].packet.subarray(72);
    assert.deepEqual(
      payload,
      new Uint8Array([...packets[a].subarray(72), ...packets[b].subarray(72)]),
    );
  }
});

Deno.test("TcpCoalescer writes a super-packet the kernel merged (GRO) as one GSO_TCPV6 packet cut for the MTU, in its flow's order", async () => {
  if (skipWithoutScapy()) return;
  // Segments 0 and 1 of flow 0, then what the kernel made of the next 20 (scapy's whole
  // packet with the CHECKSUM_PARTIAL field), then the segment after it.
  const specs: Spec[] = [
    [0, 0, MSS, "A", false],
    [0, MSS, MSS, "A", false],
    [0, 22 * MSS, MSS, "A", false],
  ];
  const r = await python(FLOW_PY, { specs, supers: [[2 * MSS, 20 * MSS, "A"]] }) as {
    packets: string[];
    supers: string[];
  };
  const [s0, s1, after] = r.packets.map(unhex);
  const merged = unhex(r.supers[0]);
  assert.ok(isPartialTcpSuperPacket(merged, 0, merged.length));
  for (const p of [s0, s1, after]) assert.ok(!isPartialTcpSuperPacket(p, 0, p.length));
  for (const mtu of [1480, 1280]) {
    const out = coalesce([s0, s1, merged, after], mtu);
    assert.deepEqual(out.map((o) => o.members), [2, 1, 1]);
    const v = new DataView(out[1].vnet.buffer, out[1].vnet.byteOffset, 10);
    // NEEDS_CSUM, GSO_TCPV6, hdr_len 40 + 32, segments of the MTU, csum 40 / 16.
    assert.deepEqual(
      [v.getUint8(0), v.getUint8(1), v.getUint16(2, true), v.getUint16(4, true)],
      [1, 4, 72, mtu - 72],
    );
    assert.equal(tcpSegmentSize(merged, 0, mtu), mtu - 72);
    assert.deepEqual([v.getUint16(6, true), v.getUint16(8, true)], [40, 16]);
    assert.equal(hex(out[1].packet), r.supers[0], "the packet itself unchanged");
    assert.equal(hex(out[2].vnet), "00".repeat(10));
  }
});

Deno.test("isPartialTcpSuperPacket() is false for a segment whose checksum is merely wrong", async () => {
  if (skipWithoutScapy()) return;
  const r = await python(FLOW_PY, { specs: [[0, 0, MSS, "A", true]], supers: [] }) as {
    packets: string[];
  };
  const bad = unhex(r.packets[0]);
  assert.ok(!isPartialTcpSuperPacket(bad, 0, bad.length));
});

Deno.test("TcpCoalescer passes non-TCP packets through alone", () => {
  const udp = new Uint8Array(48);
  udp[0] = 0x60;
  udp[5] = 8;
  udp[6] = 17;
  const out = coalesce([udp, udp]);
  assert.deepEqual(out.map((o) => o.members), [1, 1]);
  assert.deepEqual(out[0].packet, udp);
});

/**
 * scapy builds datagrams of one UDP flow and, for checking, the whole UDP packet of their
 * payloads with the partial checksum Linux keeps for CHECKSUM_PARTIAL.
 */
const UDP_PY = `
def dgram(port, payload):
    return IPv6(src="2002:c633:6402::5", dst="2002:c633:6401::9", hlim=63) / UDP(sport=5201, dport=port) / payload
out = [raw(dgram(port, bytes([k]) * n)).hex() for port, k, n in args["specs"]]
whole = bytearray(raw(dgram(40000, b"".join(bytes([k]) * n for port, k, n in args["specs"][:args["joined"]] if port == 40000))))
s = sum(int.from_bytes(whole[i:i + 2], "big") for i in range(8, 40, 2)) + (len(whole) - 40) + 17
while s > 0xffff: s = (s & 0xffff) + (s >> 16)
whole[46:48] = s.to_bytes(2, "big")
print(json.dumps({"packets": out, "whole": bytes(whole).hex()}))
`;

Deno.test("TcpCoalescer with udp joins same-size datagrams of a flow into one GSO_UDP_L4 packet equal to scapy's", async () => {
  if (skipWithoutScapy()) return;
  // Five of 64 bytes and a shorter last one join; a datagram of another flow and one after the
  // short one stay alone.
  const specs = [
    [40000, 1, 64],
    [40000, 2, 64],
    [40001, 9, 64],
    [40000, 3, 64],
    [40000, 4, 64],
    [
      40000,
      5,
      64,
    ],
    [40000, 6, 30],
    [40000, 7, 64],
  ];
  const r = await python(UDP_PY, { specs, joined: 7 }) as { packets: string[]; whole: string };
  const packets = r.packets.map(unhex);
  const slot = 256;
  const buf = new Uint8Array(slot * packets.length);
  // One batch: the datagrams laid out afresh (build() rewrites the head's lengths in place).
  const batch = (coalescer: TcpCoalescer, udp?: boolean) => {
    coalescer.reset(buf, udp);
    packets.forEach((p, i) => {
      buf.set(p, i * slot + 20);
      coalescer.add(i * slot + 20, p.length);
    });
    return Array.from({ length: coalescer.outputs }, (_, j) => coalescer.members(j));
  };
  const c = new TcpCoalescer(packets.length, { udp: true });
  assert.deepEqual(batch(c), [6, 1, 1]);
  const parts = new Int32Array(32);
  const n = c.build(0, parts);
  const chunks: number[] = [];
  for (let k = 0; k < n; k++) {
    chunks.push(...buf.subarray(parts[2 * k], parts[2 * k] + parts[2 * k + 1]));
  }
  const all = new Uint8Array(chunks);
  const v = new DataView(all.buffer, 0, 10);
  assert.deepEqual(
    [
      all[0],
      all[1],
      v.getUint16(2, true),
      v.getUint16(4, true),
      v.getUint16(6, true),
      v.getUint16(8, true),
    ],
    [1, 5, 48, 64, 40, 6],
  );
  assert.equal(hex(all.subarray(10)), r.whole);
  // A batch started with udp false writes every datagram alone; the next batch may join again.
  assert.equal(batch(c, false).length, packets.length);
  assert.deepEqual(batch(c, true), [6, 1, 1]);
  // Without the option, UDP is never joined.
  assert.equal(batch(new TcpCoalescer(packets.length)).length, packets.length);
});
