import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpv6, parseIpv6 } from "../../../lib/addr/mod.ts";
import {
  ICMPV6_DESTINATION_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  icmpv6Checksum,
  mayIcmpv6ErrorBeSent,
  writeDestinationUnreachable,
  writeIcmpv6Error,
  writePacketTooBig,
} from "../../../lib/packet/mod.ts";
import { ipv6Packet } from "./_build.ts";
import { runScapy, skipWithoutScapy } from "./_scapy.ts";

const OURS = parseIpv6("2002:c000:201::1");

function errors(): { packets: Uint8Array[]; quoted: number[] } {
  const packets: Uint8Array[] = [];
  const quoted: number[] = [];
  for (const payload of [8, 1000, 1192, 1193, 1440, 9000]) {
    const offending = ipv6Packet("2001:db8::5", "2002:800:1::1", {
      payload: new Uint8Array(payload).map((_, i) => i),
      nextHeader: 17,
    });
    const out = new Uint8Array(2000);
    const n = writePacketTooBig(out, 0, offending, 0, offending.length, {
      mtu: 1280 + payload % 200,
      source: OURS,
    });
    packets.push(out.slice(0, n));
    quoted.push(Math.min(offending.length, 1280 - 48));
    const m = writeDestinationUnreachable(out, 0, offending, 0, offending.length, {
      code: 3,
      source: OURS,
    });
    packets.push(out.slice(0, m));
    quoted.push(Math.min(offending.length, 1280 - 48));
  }
  return { packets, quoted };
}

interface ScapyIcmp {
  plen: number;
  nh: number;
  hlim: number;
  src: string;
  dst: string;
  type: number;
  code: number;
  cksum: number;
  recomputed: number;
  mtu: number;
  quotedSrc: string;
  total: number;
}

Deno.test({
  name: "ICMPv6 errors have the checksum scapy computes and quote at most 1280 bytes in all",
  ignore: skipWithoutScapy(),
  fn: async () => {
    const { packets, quoted } = errors();
    const result = await runScapy(
      `
out = []
for b in packets:
    p = IPv6(b)
    icmp = p.payload
    # scapy's in6_chksum over the raw ICMPv6 bytes with the checksum zeroed: rebuilding the
    # layers instead would drop what scapy takes for padding after a quoted UDP header.
    zeroed = b[40:42] + b'\\x00\\x00' + b[44:]
    recomputed = in6_chksum(58, p, zeroed)
    out.append(dict(plen=p.plen, nh=p.nh, hlim=p.hlim, src=p.src, dst=p.dst, type=icmp.type,
        code=icmp.code, cksum=icmp.cksum, recomputed=recomputed,
        mtu=getattr(icmp, 'mtu', -1) if icmp.type == 2 else -1,
        quotedSrc=IPv6(raw(icmp)[8:]).src, total=len(b)))
print(json.dumps(out))
`,
      packets,
    ) as ScapyIcmp[];
    result.forEach((r, i) => {
      const tooBig = i % 2 === 0;
      assert.equal(r.nh, 58);
      assert.equal(r.hlim, 64);
      assert.equal(r.src, "2002:c000:201::1");
      assert.equal(r.dst, "2001:db8::5", "sent to the offending packet's source");
      assert.equal(r.type, tooBig ? 2 : 1);
      assert.equal(r.code, tooBig ? 0 : 3);
      assert.equal(r.cksum, r.recomputed, `checksum of packet ${i}`);
      assert.equal(r.plen, 8 + quoted[i]);
      assert.equal(r.total, 48 + quoted[i]);
      assert.ok(r.total <= 1280, "RFC 4443 §2.4 c");
      assert.equal(r.quotedSrc, "2001:db8::5");
      if (tooBig) assert.ok(r.mtu >= 1280);
    });
  },
});

Deno.test("icmpv6Checksum() of a written error sums to zero with its pseudo-header", () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1500 }), (payload) => {
    const offending = ipv6Packet("2001:db8::5", "2002:800:1::1", {
      payload: new Uint8Array(payload).fill(0x5a),
    });
    const out = new Uint8Array(1280);
    const n = writePacketTooBig(out, 0, offending, 0, offending.length, {
      mtu: 1280,
      source: OURS,
    });
    assert.ok(n > 0 && n <= 1280);
    const stored = (out[42] << 8) | out[43];
    assert.equal(icmpv6Checksum(out, 0, 40, n - 40), stored);
  }));
});

Deno.test("writeIcmpv6Error() writes nothing when the output buffer cannot hold the headers", () => {
  const offending = ipv6Packet("2001:db8::5", "2002:800:1::1");
  const out = new Uint8Array(47);
  assert.equal(
    writeIcmpv6Error(out, 0, offending, 0, offending.length, {
      type: ICMPV6_DESTINATION_UNREACHABLE,
      source: OURS,
    }),
    0,
  );
});

Deno.test("no ICMPv6 error goes to an unspecified or multicast source (RFC 4443 §2.4 e.6)", () => {
  for (const src of ["::", "ff02::1", "ff0e::1234"]) {
    const p = ipv6Packet(src, "2002:800:1::1");
    assert.equal(mayIcmpv6ErrorBeSent(p, 0, p.length, ICMPV6_PACKET_TOO_BIG), false, src);
    const out = new Uint8Array(1280);
    assert.equal(
      writePacketTooBig(out, 0, p, 0, p.length, { mtu: 1280, source: OURS }),
      0,
    );
  }
  const ok = ipv6Packet("::1", "2002:800:1::1");
  assert.equal(mayIcmpv6ErrorBeSent(ok, 0, ok.length, ICMPV6_PACKET_TOO_BIG), true);
});

Deno.test("no ICMPv6 error answers an ICMPv6 error or a Redirect (RFC 4443 §2.4 e.1, e.2)", () => {
  for (
    const [type, allowed] of [
      [1, false],
      [2, false],
      [3, false],
      [4, false],
      [127, false],
      [137, false],
      [128, true],
      [129, true],
      [135, true],
    ] as const
  ) {
    const payload = new Uint8Array(8);
    payload[0] = type;
    const p = ipv6Packet("2001:db8::5", "2002:800:1::1", { nextHeader: 58, payload });
    assert.equal(
      mayIcmpv6ErrorBeSent(p, 0, p.length, ICMPV6_DESTINATION_UNREACHABLE),
      allowed,
      `type ${type}`,
    );
  }
});

Deno.test("an ICMPv6 error behind extension headers is found and not answered", () => {
  // Hop-by-hop (8 bytes) then destination options (16 bytes) then ICMPv6 type 1.
  const payload = new Uint8Array(8 + 16 + 8);
  payload[0] = 60; // next: destination options
  payload[1] = 0;
  payload[8] = 58; // next: ICMPv6
  payload[9] = 1; // (1 + 1) * 8 = 16 bytes
  payload[24] = 1;
  const p = ipv6Packet("2001:db8::5", "2002:800:1::1", { nextHeader: 0, payload });
  assert.equal(mayIcmpv6ErrorBeSent(p, 0, p.length, ICMPV6_PACKET_TOO_BIG), false);
  payload[24] = 128;
  const q = ipv6Packet("2001:db8::5", "2002:800:1::1", { nextHeader: 0, payload });
  assert.equal(mayIcmpv6ErrorBeSent(q, 0, q.length, ICMPV6_PACKET_TOO_BIG), true);
});

Deno.test("a multicast destination gets only Packet Too Big (RFC 4443 §2.4 e.3)", () => {
  const p = ipv6Packet("2001:db8::5", "ff0e::1");
  assert.equal(mayIcmpv6ErrorBeSent(p, 0, p.length, ICMPV6_PACKET_TOO_BIG), true);
  assert.equal(mayIcmpv6ErrorBeSent(p, 0, p.length, ICMPV6_DESTINATION_UNREACHABLE), false);
});

Deno.test("mayIcmpv6ErrorBeSent() and writeIcmpv6Error() never throw on random bytes", () => {
  const out = new Uint8Array(1280);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 255 }),
      (bytes, type) => {
        mayIcmpv6ErrorBeSent(bytes, 0, bytes.length, type);
        const n = writeIcmpv6Error(out, 0, bytes, 0, bytes.length, { type, source: OURS });
        assert.ok(n === 0 || (n >= 48 && n <= 1280));
        if (n > 0) assert.equal(formatIpv6(out, 24), formatIpv6(bytes, 8));
      },
    ),
    { numRuns: 2000 },
  );
});
