import assert from "node:assert/strict";
import { formatIpv6, parseIpv4, parseIpv6 } from "../../../lib/addr/mod.ts";
import {
  isProbeReply,
  PROBE_LENGTH,
  readProbeReply,
  relaySixToFourAddress,
  writeProbe,
} from "../../../lib/relay/probe.ts";
import {
  acceptAllInstruction,
  probeReplyDropPrefix,
  probeReplyFilterProgram,
} from "../../../lib/netif/probe_filter.ts";
import { runScapy, skipWithoutScapy, unhex } from "../packet/_scapy.ts";

const OWN4 = parseIpv4("198.51.100.1");
const RELAY4 = parseIpv4("192.0.2.99");
const OWN6 = parseIpv6("2002:c633:6401::1");

function probe(sequence: number, target = relaySixToFourAddress(RELAY4)): Uint8Array {
  const buf = new Uint8Array(PROBE_LENGTH);
  const n = writeProbe(buf, {
    source4: OWN4,
    relay4: RELAY4,
    source6: OWN6,
    target6: target,
    identifier: 0xbeef,
    sequence,
  });
  assert.equal(n, PROBE_LENGTH);
  return buf;
}

Deno.test("the default probe target is the relay's own 6to4 address (RFC 3068's 2002:c058:6301::)", () => {
  assert.equal(formatIpv6(relaySixToFourAddress(parseIpv4("192.88.99.1"))), "2002:c058:6301::");
  assert.equal(formatIpv6(relaySixToFourAddress(RELAY4)), "2002:c000:263::");
});

Deno.test({
  name:
    "a probe is, to scapy, an ICMPv6 Echo Request in protocol 41 to the relay, with valid checksums",
  ignore: skipWithoutScapy(),
  async fn() {
    const packets = [probe(1), probe(0xffff, parseIpv6("2001:db8:ffff::80"))];
    const seen = await runScapy(
      `
from scapy.layers.inet6 import ICMPv6EchoRequest
out = []
for p in packets:
    ip = IP(p)
    v6 = ip[IPv6]
    echo = v6[ICMPv6EchoRequest]
    fresh = IP(raw(ip.copy()))
    del ip.chksum
    ip2 = IP(raw(ip))
    e2 = IPv6(raw(v6)); del e2[ICMPv6EchoRequest].cksum
    out.append({
      "src": ip.src, "dst": ip.dst, "proto": ip.proto, "flags": int(ip.flags), "ttl": ip.ttl,
      "ipsum": fresh.chksum == ip2.chksum,
      "src6": v6.src, "dst6": v6.dst, "hlim": v6.hlim, "nh": v6.nh,
      "id": echo.id, "seq": echo.seq, "data": bytes(echo.data).decode(),
      "icmpsum": echo.cksum == IPv6(raw(e2))[ICMPv6EchoRequest].cksum,
    })
print(json.dumps(out))
`,
      packets,
    ) as Record<string, unknown>[];
    assert.deepEqual(seen[0], {
      src: "198.51.100.1",
      dst: "192.0.2.99",
      proto: 41,
      flags: 0,
      ttl: 64,
      ipsum: true,
      src6: "2002:c633:6401::1",
      dst6: "2002:c000:263::",
      hlim: 64,
      nh: 58,
      id: 0xbeef,
      seq: 1,
      data: "stf relay probe\0",
      icmpsum: true,
    });
    assert.equal(seen[1].dst6, "2001:db8:ffff::80");
    assert.equal(seen[1].seq, 0xffff);
    assert.equal(seen[1].icmpsum, true);
  },
});

/** Echo Replies written by scapy, as a relay would send them back. */
async function scapyReplies(): Promise<Uint8Array[]> {
  const out = await runScapy(
    `
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest
data = b"stf relay probe\\0"
def reply(**kw):
    return IP(src="192.0.2.99", dst="198.51.100.1")/IPv6(src="2002:c000:263::", dst="2002:c633:6401::1")/kw.pop("icmp")
good = reply(icmp=ICMPv6EchoReply(id=0xbeef, seq=7, data=data))
other_id = reply(icmp=ICMPv6EchoReply(id=0xbeee, seq=7, data=data))
request = reply(icmp=ICMPv6EchoRequest(id=0xbeef, seq=7, data=data))
bad_sum = reply(icmp=ICMPv6EchoReply(id=0xbeef, seq=7, data=data, cksum=0x1234))
other_data = reply(icmp=ICMPv6EchoReply(id=0xbeef, seq=7, data=b"x" * 16))
print(json.dumps([raw(p).hex() for p in (good, other_id, request, bad_sum, other_data)]))
`,
    [],
  ) as string[];
  return out.map(unhex);
}

Deno.test({
  name: "readProbeReply() takes scapy's Echo Reply with our identifier and nothing else",
  ignore: skipWithoutScapy(),
  async fn() {
    const [good, otherId, request, badSum, otherData] = await scapyReplies();
    const reply = readProbeReply(good, 0, good.length, 0xbeef);
    assert.ok(reply !== undefined);
    assert.equal(reply.sequence, 7);
    assert.equal(reply.outerSource4, RELAY4);
    assert.equal(formatIpv6(reply.source6), "2002:c000:263::");
    for (const p of [otherId, request, badSum, otherData]) {
      assert.equal(readProbeReply(p, 0, p.length, 0xbeef), undefined);
    }
    assert.equal(readProbeReply(good, 0, good.length - 1, 0xbeef), undefined, "truncated");
    // The ingress check: identifier and destination, no checksum.
    assert.equal(isProbeReply(good, 0, good.length, 0xbeef, OWN6), true);
    assert.equal(isProbeReply(badSum, 0, badSum.length, 0xbeef, OWN6), true);
    assert.equal(isProbeReply(otherId, 0, otherId.length, 0xbeef, OWN6), false);
    assert.equal(isProbeReply(request, 0, request.length, 0xbeef, OWN6), false);
    assert.equal(isProbeReply(good, 0, good.length, 0xbeef, parseIpv6("2002:c633:6401::2")), false);
    assert.equal(isProbeReply(good, 0, 50, 0xbeef, OWN6), false);
  },
});

/** Runs a classic BPF program of the few opcodes we use over a packet; returns its verdict. */
function runFilter(program: Uint8Array, packet: Uint8Array): number {
  const view = new DataView(program.buffer);
  let a = 0;
  for (let pc = 0; pc < program.length / 8;) {
    const code = view.getUint16(8 * pc, true);
    const jt = view.getUint8(8 * pc + 2);
    const jf = view.getUint8(8 * pc + 3);
    const k = view.getUint32(8 * pc + 4, true);
    switch (code) {
      case 0x30:
        if (k >= packet.length) return 0;
        a = packet[k];
        pc++;
        break;
      case 0x28:
        if (k + 2 > packet.length) return 0;
        a = (packet[k] << 8) | packet[k + 1];
        pc++;
        break;
      case 0x15:
        pc += 1 + (a === k ? jt : jf);
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`opcode ${code}`);
    }
  }
  throw new Error("fell off the program");
}

Deno.test({
  name: "the probe socket's BPF filter keeps our Echo Replies and drops the rest",
  ignore: skipWithoutScapy(),
  async fn() {
    const [good, otherId, request] = await scapyReplies();
    const program = probeReplyFilterProgram(0xbeef);
    assert.ok(runFilter(program, good) > 0);
    assert.equal(runFilter(program, otherId), 0);
    assert.equal(runFilter(program, request), 0);
    assert.equal(runFilter(program, probe(3)), 0, "our own request is not a reply");
    assert.equal(runFilter(program, good.subarray(0, 30)), 0, "too short");
  },
});

/** runFilter with the length load (0x80) and JGE (0x35) too. */
function runFilterWithLength(program: Uint8Array, packet: Uint8Array): number {
  const view = new DataView(program.buffer);
  let a = 0;
  for (let pc = 0; pc < program.length / 8;) {
    const code = view.getUint16(8 * pc, true);
    const jt = view.getUint8(8 * pc + 2);
    const jf = view.getUint8(8 * pc + 3);
    const k = view.getUint32(8 * pc + 4, true);
    const load = (n: number) => {
      if (k + n > packet.length) return false;
      a = 0;
      for (let i = 0; i < n; i++) a = a * 256 + packet[k + i];
      return true;
    };
    if (code === 0x80) {
      a = packet.length;
      pc++;
    } else if (code === 0x30 || code === 0x28 || code === 0x20) {
      if (!load(code === 0x30 ? 1 : code === 0x28 ? 2 : 4)) return 0;
      pc++;
    } else if (code === 0x15) pc += 1 + (a === k ? jt : jf);
    else if (code === 0x35) pc += 1 + (a >= k ? jt : jf);
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code}`);
  }
  throw new Error("fell off the program");
}

Deno.test({
  name: "the ingress sockets' prefix drops our probe replies and lets everything else through",
  ignore: skipWithoutScapy(),
  async fn() {
    const [good, otherId, request, badSum] = await scapyReplies();
    const program = new Uint8Array([
      ...probeReplyDropPrefix(0xbeef, OWN6),
      ...acceptAllInstruction(),
    ]);
    assert.equal(runFilterWithLength(program, good), 0);
    assert.equal(runFilterWithLength(program, badSum), 0, "the checksum is the prober's business");
    assert.ok(runFilterWithLength(program, otherId) > 0);
    assert.ok(runFilterWithLength(program, request) > 0);
    const elsewhere = good.slice();
    elsewhere[20 + 24 + 15] ^= 1; // to another address of ours
    assert.ok(runFilterWithLength(program, elsewhere) > 0);
    // Short and odd packets reach the rules, which count them.
    for (const n of [0, 1, 20, 40, 60, 67]) {
      assert.ok(runFilterWithLength(program, good.subarray(0, n)) > 0, `length ${n}`);
    }
    const withOptions = good.slice();
    withOptions[0] = 0x46;
    assert.ok(runFilterWithLength(program, withOptions) > 0);
  },
});
