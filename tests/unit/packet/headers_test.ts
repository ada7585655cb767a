import assert from "node:assert/strict";
import fc from "fast-check";
import {
  internetChecksum,
  ipv4Checksum,
  ipv4Destination,
  ipv4DontFragment,
  ipv4Dscp,
  ipv4Ecn,
  ipv4Flags,
  ipv4FragmentOffset,
  ipv4HeaderChecksum,
  ipv4HeaderLength,
  ipv4Id,
  ipv4Ihl,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Source,
  ipv4Tos,
  ipv4TotalLength,
  ipv4Ttl,
  ipv4Version,
  IPV6_DESTINATION_OFFSET,
  IPV6_SOURCE_OFFSET,
  ipv6Dscp,
  ipv6Ecn,
  ipv6FlowLabel,
  ipv6HopLimit,
  ipv6NextHeader,
  ipv6PayloadLength,
  ipv6TrafficClass,
  ipv6Version,
  setIpv6Ecn,
} from "../../../lib/packet/mod.ts";
import { formatIpv6, parseIpv4 } from "../../../lib/addr/mod.ts";
import { ipv4Wrap, ipv6Packet } from "./_build.ts";

Deno.test("IPv4 views read every field of a header built by hand", () => {
  const p = ipv4Wrap("192.0.2.1", "198.51.100.7", new Uint8Array(40), {
    tos: 0xb9,
    ttl: 17,
    flagsFragment: 0x4000 | 0x2000 | 0x0123,
  });
  const buf = new Uint8Array(3 + p.length);
  buf.set(p, 3);
  assert.equal(ipv4Version(buf, 3), 4);
  assert.equal(ipv4Ihl(buf, 3), 5);
  assert.equal(ipv4HeaderLength(buf, 3), 20);
  assert.equal(ipv4Tos(buf, 3), 0xb9);
  assert.equal(ipv4Dscp(buf, 3), 0xb9 >> 2);
  assert.equal(ipv4Ecn(buf, 3), 1);
  assert.equal(ipv4TotalLength(buf, 3), 60);
  assert.equal(ipv4Id(buf, 3), 0x1234);
  assert.equal(ipv4Flags(buf, 3), 0b011);
  assert.equal(ipv4DontFragment(buf, 3), true);
  assert.equal(ipv4MoreFragments(buf, 3), true);
  assert.equal(ipv4FragmentOffset(buf, 3), 0x123);
  assert.equal(ipv4Ttl(buf, 3), 17);
  assert.equal(ipv4Protocol(buf, 3), 41);
  assert.equal(ipv4Source(buf, 3), parseIpv4("192.0.2.1"));
  assert.equal(ipv4Destination(buf, 3), parseIpv4("198.51.100.7"));
  assert.equal(ipv4Checksum(buf, 3), ipv4HeaderChecksum(buf, 3));
});

Deno.test("ipv4Source() returns an unsigned number for addresses above 128.0.0.0", () => {
  const p = ipv4Wrap("203.0.113.255", "255.255.255.255", new Uint8Array(0));
  assert.equal(ipv4Source(p, 0), 0xcb0071ff);
  assert.equal(ipv4Destination(p, 0), 0xffffffff);
});

Deno.test("IPv6 views read every field of a header built by hand", () => {
  const p = ipv6Packet("2002:c000:201::1", "2001:db8::2", {
    trafficClass: 0xb9,
    flowLabel: 0xabcde,
    nextHeader: 58,
    hopLimit: 3,
    payload: new Uint8Array(100),
    headroom: 20,
  });
  assert.equal(ipv6Version(p, 20), 6);
  assert.equal(ipv6TrafficClass(p, 20), 0xb9);
  assert.equal(ipv6Dscp(p, 20), 0xb9 >> 2);
  assert.equal(ipv6Ecn(p, 20), 1);
  assert.equal(ipv6FlowLabel(p, 20), 0xabcde);
  assert.equal(ipv6PayloadLength(p, 20), 100);
  assert.equal(ipv6NextHeader(p, 20), 58);
  assert.equal(ipv6HopLimit(p, 20), 3);
  assert.equal(formatIpv6(p, 20 + IPV6_SOURCE_OFFSET), "2002:c000:201::1");
  assert.equal(formatIpv6(p, 20 + IPV6_DESTINATION_OFFSET), "2001:db8::2");
});

Deno.test("setIpv6Ecn() changes only the two ECN bits", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xfffff }),
      fc.integer({ min: 0, max: 3 }),
      (tc, fl, ecn) => {
        const p = ipv6Packet("2001:db8::1", "2001:db8::2", { trafficClass: tc, flowLabel: fl });
        const before = p.slice();
        setIpv6Ecn(p, 0, ecn);
        assert.equal(ipv6Ecn(p, 0), ecn);
        assert.equal(ipv6Dscp(p, 0), tc >> 2);
        assert.equal(ipv6FlowLabel(p, 0), fl);
        assert.equal(ipv6Version(p, 0), 6);
        assert.deepEqual(p.subarray(2), before.subarray(2));
      },
    ),
  );
});

Deno.test("internetChecksum() gives the RFC 1071 §3 example sum", () => {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, so the checksum is ~ddf2 = 220d.
  const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(internetChecksum(bytes, 0, 8), 0x220d);
});

Deno.test("internetChecksum() pads an odd length with a zero byte", () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 99 }), (bytes) => {
    const odd = bytes.length % 2 === 1 ? bytes : bytes.subarray(0, bytes.length - 1);
    const padded = new Uint8Array(odd.length + 1);
    padded.set(odd);
    assert.equal(internetChecksum(odd, 0, odd.length), internetChecksum(padded, 0, padded.length));
  }));
});

Deno.test("a header with its checksum stored sums to zero (RFC 1071 §1)", () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (header) => {
    header[10] = 0;
    header[11] = 0;
    const c = ipv4HeaderChecksum(header, 0);
    header[10] = c >> 8;
    header[11] = c & 0xff;
    assert.equal(internetChecksum(header, 0, 20) % 0xffff, 0);
  }));
});
