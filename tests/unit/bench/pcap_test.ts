import assert from "node:assert/strict";
import {
  diffNs,
  indexCapture,
  ipv6Hex,
  LINKTYPE_RAW,
  matchHops,
  packetKey,
  parsePcap,
  type Pcap,
} from "../../../bench/_pcap.ts";
import { skipWithoutScapy } from "../packet/_scapy.ts";

const A = "2002:c633:6401::1";
const B = "2002:c633:6402::1";

/**
 * Writes packets with scapy (an independent pcap writer) at the given times and returns the
 * file's bytes. Each packet is a Python expression over scapy's IPv6 layers.
 */
async function scapyPcap(
  packets: readonly { readonly expr: string; readonly sec: number; readonly nsec: number }[],
  nano: boolean,
): Promise<Uint8Array> {
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const script = [
      "import sys, json, logging",
      "logging.getLogger('scapy.runtime').setLevel(logging.ERROR)",
      "from decimal import Decimal",
      "from scapy.all import IPv6, UDP, Raw, ICMPv6EchoRequest, ICMPv6EchoReply",
      "from scapy.utils import PcapWriter",
      "args = json.loads(sys.stdin.read())",
      "w = PcapWriter(args['file'], linktype=101, nano=args['nano'], sync=True)",
      "for p in args['packets']:",
      "    pkt = eval(p['expr'])",
      "    pkt.time = Decimal(p['sec']) + Decimal(p['nsec']) / Decimal(10**9)",
      "    w.write(pkt)",
      "w.close()",
    ].join("\n");
    const child = new Deno.Command("/usr/bin/python3", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify({ file, nano, packets })));
    await writer.close();
    const out = await child.output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return await Deno.readFile(file);
  } finally {
    await Deno.remove(file);
  }
}

const echo = (src: string, dst: string, seq: number) =>
  `IPv6(src='${src}', dst='${dst}')/ICMPv6EchoRequest(id=0x1234, seq=${seq}, data=b'x'*56)`;
const udp = (seq: number) =>
  `IPv6(src='${A}', dst='${B}')/UDP(sport=40000, dport=5201)/Raw(load=(${seq}).to_bytes(12, 'big') + b'y'*52)`;

Deno.test({
  name: "parsePcap() reads scapy's nanosecond pcap: link type, exact timestamps, bytes",
  ignore: skipWithoutScapy(),
  fn: async () => {
    const bytes = await scapyPcap([
      { expr: echo(A, B, 1), sec: 1_796_300_000, nsec: 123_456_789 },
      { expr: udp(7), sec: 5, nsec: 999_999_999 },
    ], true);
    const pcap = parsePcap(bytes);
    assert.equal(pcap.linkType, LINKTYPE_RAW);
    assert.equal(pcap.records.length, 2);
    assert.deepEqual(pcap.records[0].time, { sec: 1_796_300_000, nsec: 123_456_789 });
    // (scapy rounds through a float, which at epoch magnitudes cannot hold .999999999.)
    assert.deepEqual(pcap.records[1].time, { sec: 5, nsec: 999_999_999 });
    // An IPv6 header (version 6), then ICMPv6 echo request 128 of 8 + 56 bytes.
    assert.equal(pcap.records[0].data[0] >> 4, 6);
    assert.equal(pcap.records[0].data[40], 128);
    assert.equal(pcap.records[0].originalLength, 40 + 8 + 56);
  },
});

Deno.test({
  name: "parsePcap() reads microsecond pcap files as nanoseconds",
  ignore: skipWithoutScapy(),
  fn: async () => {
    const bytes = await scapyPcap([{ expr: echo(A, B, 1), sec: 1_000, nsec: 250_000 }], false);
    assert.deepEqual(parsePcap(bytes).records[0].time, { sec: 1_000, nsec: 250_000 });
  },
});

Deno.test({
  name: "matchHops() pairs each packet of one capture with its copy in the other",
  ignore: skipWithoutScapy(),
  fn: async () => {
    // A's TUN saw two pings and three datagrams leave; B's TUN saw them arrive later, one
    // datagram never, and a ping reply that goes the other way.
    const a = parsePcap(
      await scapyPcap([
        { expr: echo(A, B, 1), sec: 100, nsec: 999_990_000 },
        { expr: echo(A, B, 2), sec: 101, nsec: 0 },
        { expr: udp(1), sec: 102, nsec: 0 },
        { expr: udp(2), sec: 102, nsec: 1_000_000 },
        { expr: udp(3), sec: 102, nsec: 2_000_000 },
      ], true),
    );
    const b = parsePcap(
      await scapyPcap([
        // Across a second boundary: 20 µs.
        { expr: echo(A, B, 1), sec: 101, nsec: 10_000 },
        {
          expr: `IPv6(src='${B}', dst='${A}')/ICMPv6EchoReply(id=0x1234, seq=1)`,
          sec: 101,
          nsec: 5,
        },
        { expr: echo(A, B, 2), sec: 101, nsec: 80_500 },
        { expr: udp(2), sec: 102, nsec: 1_045_000 },
        { expr: udp(1), sec: 102, nsec: 30_000 },
      ], true),
    );
    const forward = (k: string) => k.includes(ipv6Hex(A) + ipv6Hex(B));
    const m = matchHops(a, b, forward);
    assert.deepEqual(m.delaysUs, [20, 80.5, 30, 45]);
    assert.equal(m.unmatched, 1, "udp(3) never arrived");
    assert.equal(m.negative, 0);
    // The reply is B → A: not selected, and absent from A's capture anyway.
    assert.deepEqual(matchHops(b, a, (k) => k.includes(ipv6Hex(B) + ipv6Hex(A))).delaysUs, []);
  },
});

Deno.test({
  name: "matchHops() finds each datagram of a merged UDP packet when given the segment size",
  ignore: skipWithoutScapy(),
  fn: async () => {
    const a = parsePcap(
      await scapyPcap([1, 2, 3].map((seq) => ({ expr: udp(seq), sec: 7, nsec: seq * 1000 })), true),
    );
    // B's TUN got the three as one GSO packet (one UDP header, three 64-byte payloads).
    const merged = `IPv6(src='${A}', dst='${B}')/UDP(sport=40000, dport=5201)/Raw(load=b''.join(` +
      `(i).to_bytes(12, 'big') + b'y'*52 for i in (1, 2, 3)))`;
    const b = parsePcap(await scapyPcap([{ expr: merged, sec: 7, nsec: 50_000 }], true));
    const all = () => true;
    assert.deepEqual(matchHops(a, b, all, 64).delaysUs, [49, 48, 47]);
    // Without the size only the first datagram is found.
    const plain = matchHops(a, b, all);
    assert.deepEqual(plain.delaysUs, [49]);
    assert.equal(plain.unmatched, 2);
  },
});

Deno.test("parsePcap() reads a big-endian file and leaves out a record cut short", () => {
  const bytes = new Uint8Array(24 + 16 + 4 + 16 + 2);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0xa1b23c4d, false); // nanosecond magic, big-endian
  v.setUint16(4, 2, false);
  v.setUint16(6, 4, false);
  v.setUint32(16, 65535, false);
  v.setUint32(20, 101, false);
  v.setUint32(24, 7, false);
  v.setUint32(28, 42, false);
  v.setUint32(32, 4, false);
  v.setUint32(36, 60, false);
  bytes.set([1, 2, 3, 4], 40);
  // A second record header that claims 4 bytes, of which 2 were written.
  v.setUint32(52, 4, false);
  const pcap = parsePcap(bytes);
  assert.equal(pcap.linkType, 101);
  assert.equal(pcap.records.length, 1);
  assert.deepEqual(pcap.records[0].time, { sec: 7, nsec: 42 });
  assert.deepEqual([...pcap.records[0].data], [1, 2, 3, 4]);
  assert.equal(pcap.records[0].originalLength, 60);
});

Deno.test("parsePcap() refuses pcapng and short files", () => {
  const ng = new Uint8Array(32);
  new DataView(ng.buffer).setUint32(0, 0x0a0d0d0a, true);
  assert.throws(() => parsePcap(ng), SyntaxError);
  assert.throws(() => parsePcap(new Uint8Array(10)), SyntaxError);
});

Deno.test("diffNs() subtracts timestamps exactly across seconds, at epoch magnitudes", () => {
  assert.equal(
    diffNs({ sec: 1_796_300_000, nsec: 999_999_999 }, { sec: 1_796_300_001, nsec: 1 }),
    2,
  );
  assert.equal(diffNs({ sec: 5, nsec: 10 }, { sec: 5, nsec: 4 }), -6);
});

Deno.test("packetKey() names echoes and UDP datagrams, not other packets or short captures", () => {
  const ip = new Uint8Array(64);
  ip[0] = 0x60;
  ip[6] = 58;
  ip[40] = 128;
  ip[44] = 0xab;
  assert.match(packetKey(ip) ?? "", /^icmp6 0{64} 128 ab000000$/);
  ip[40] = 135; // a neighbour solicitation: not an echo
  assert.equal(packetKey(ip), undefined);
  ip[6] = 6; // TCP
  assert.equal(packetKey(ip), undefined);
  ip[6] = 17;
  assert.match(packetKey(ip) ?? "", /^udp /);
  assert.equal(packetKey(ip.subarray(0, 63)), undefined, "UDP cut before 16 payload bytes");
  ip[0] = 0x45;
  assert.equal(packetKey(ip), undefined, "IPv4");
});

Deno.test("indexCapture() keeps the first of packets with the same name and counts the rest", () => {
  const ip = new Uint8Array(48);
  ip[0] = 0x60;
  ip[6] = 58;
  ip[40] = 129;
  const capture: Pcap = {
    linkType: LINKTYPE_RAW,
    records: [
      { time: { sec: 1, nsec: 0 }, data: ip, originalLength: 48 },
      { time: { sec: 2, nsec: 0 }, data: ip, originalLength: 48 },
      { time: { sec: 3, nsec: 0 }, data: new Uint8Array(20), originalLength: 20 },
    ],
  };
  const { byKey, unnamed } = indexCapture(capture);
  assert.equal(byKey.size, 1);
  assert.deepEqual([...byKey.values()], [{ sec: 1, nsec: 0 }]);
  assert.equal(unnamed, 1);
  assert.throws(() => indexCapture({ linkType: 1, records: [] }), SyntaxError);
});

Deno.test("ipv6Hex() expands compressed addresses to 32 hex digits", () => {
  assert.equal(ipv6Hex("2002:c633:6401::1"), "2002c63364010000000000000000" + "0001");
  assert.equal(ipv6Hex("::"), "0".repeat(32));
  assert.equal(ipv6Hex("fe80::"), "fe80" + "0".repeat(28));
  assert.throws(() => ipv6Hex("1::2::3"), SyntaxError);
  assert.throws(() => ipv6Hex("2001:db8::g"), SyntaxError);
});
