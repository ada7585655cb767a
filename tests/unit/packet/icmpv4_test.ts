import assert from "node:assert/strict";
import fc from "fast-check";
import { parseIpv4 } from "../../../lib/addr/mod.ts";
import {
  FragmentationNeeded,
  mtuPlateauBelow,
  parseFragmentationNeeded,
  parseTunnelError,
  TunnelError,
} from "../../../lib/packet/mod.ts";
import { ipv4Wrap, ipv6Packet } from "./_build.ts";

const OWN4 = parseIpv4("192.0.2.1");

/** An ICMPv4 type/code message quoting the first `quote` bytes (default 28) of `quoted`. */
function icmpAbout(
  quoted: Uint8Array,
  type: number,
  code: number,
  mtu: number,
  quote = 28,
): Uint8Array {
  const icmp = new Uint8Array(8 + Math.min(quote, quoted.length));
  icmp[0] = type;
  icmp[1] = code;
  icmp[6] = mtu >> 8;
  icmp[7] = mtu & 0xff;
  icmp.set(quoted.subarray(0, quote), 8);
  return ipv4Wrap("198.51.100.254", "192.0.2.1", icmp, { protocol: 1 });
}

function ours(dst = "203.0.113.9", protocol = 41, src = "192.0.2.1"): Uint8Array {
  return ipv4Wrap(src, dst, ipv6Packet("2002:c000:201::1", "2002:cb00:7109::1"), { protocol });
}

Deno.test("parseFragmentationNeeded() finds the peer and the next-hop MTU in one of our packets", () => {
  const result = new FragmentationNeeded();
  const msg = icmpAbout(ours(), 3, 4, 1400);
  assert.equal(parseFragmentationNeeded(msg, 0, msg.length, OWN4, result), true);
  assert.equal(result.peer, parseIpv4("203.0.113.9"));
  assert.equal(result.mtu, 1400);
});

Deno.test("parseFragmentationNeeded() ignores other types, other protocols and other sources", () => {
  const result = new FragmentationNeeded();
  for (
    const msg of [
      icmpAbout(ours(), 3, 1, 1400), // host unreachable
      icmpAbout(ours(), 11, 0, 1400), // time exceeded
      icmpAbout(ours("203.0.113.9", 17), 3, 4, 1400), // quotes UDP
      icmpAbout(ours("203.0.113.9", 41, "192.0.2.2"), 3, 4, 1400), // not from own4
      icmpAbout(ours(), 3, 4, 1400).subarray(0, 47), // truncated quote
      ipv4Wrap("198.51.100.254", "192.0.2.1", new Uint8Array(36), { protocol: 17 }),
    ]
  ) {
    assert.equal(parseFragmentationNeeded(msg, 0, msg.length, OWN4, result), false);
  }
});

Deno.test("a next-hop MTU of 0 is replaced by the RFC 1191 plateau below the quoted length", () => {
  const big = ipv4Wrap("192.0.2.1", "203.0.113.9", new Uint8Array(1480), { protocol: 41 });
  const msg = icmpAbout(big, 3, 4, 0);
  const result = new FragmentationNeeded();
  assert.equal(parseFragmentationNeeded(msg, 0, msg.length, OWN4, result), true);
  assert.equal(result.mtu, 1492);
  assert.equal(mtuPlateauBelow(1492), 1006);
  assert.equal(mtuPlateauBelow(60), 68);
});

Deno.test("parseFragmentationNeeded() never throws on random bytes", () => {
  const result = new FragmentationNeeded();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      parseFragmentationNeeded(bytes, 0, bytes.length, OWN4, result);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("parseTunnelError() reports other ICMPv4 errors about our packets and where the quoted IPv6 packet is", () => {
  const result = new TunnelError();
  const packet = ours();
  // A router quoting the whole packet (RFC 1812 §4.3.2.3): host unreachable.
  const full = icmpAbout(packet, 3, 1, 0, packet.length);
  assert.equal(parseTunnelError(full, 0, full.length, OWN4, result), true);
  assert.deepEqual(
    [result.type, result.code, result.peer, result.mtu, result.innerOffset, result.innerLength],
    [3, 1, parseIpv4("203.0.113.9"), 0, 48, packet.length - 20],
  );
  assert.deepEqual(full.subarray(48), packet.subarray(20));
  // Time exceeded with only 8 bytes of the IPv6 header: no inner packet to answer.
  const short = icmpAbout(packet, 11, 0, 0);
  assert.equal(parseTunnelError(short, 0, short.length, OWN4, result), true);
  assert.deepEqual([result.type, result.innerOffset, result.innerLength], [11, -1, 0]);
  // Echo reply and redirects are not errors about our packets.
  for (const type of [0, 5, 8]) {
    const msg = icmpAbout(packet, type, 0, 0, packet.length);
    assert.equal(parseTunnelError(msg, 0, msg.length, OWN4, result), false, `type ${type}`);
  }
});

Deno.test("parseTunnelError() never throws on random bytes", () => {
  const result = new TunnelError();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(10), (bytes, offset) => {
      parseTunnelError(bytes, offset, bytes.length - offset, OWN4, result);
    }),
    { numRuns: 5000 },
  );
});
