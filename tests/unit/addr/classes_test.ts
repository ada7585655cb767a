import assert from "node:assert/strict";
import fc from "fast-check";
import {
  classifyIpv4,
  IPV4_BLOCKS,
  ipv4PrefixContains,
  isInvalidDecapsulatedSource,
  isMartianIpv4,
  isMartianIpv6,
  isNonGlobalSixToFourIpv4,
  parseIpv4,
  parseIpv4Prefix,
  parseIpv6,
} from "../../../lib/addr/mod.ts";

// C4 written out from docs/filtering.md, independently of the bit tricks in classes.ts.
const C4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "127.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map((p) => parseIpv4Prefix(p));
const STRICT = [
  "100.64.0.0/10",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
].map((p) => parseIpv4Prefix(p));

Deno.test("isMartianIpv4() is exactly C4 of RFC 3964 §5.3.1, and strict adds RFC 6890", () => {
  const edges = [...C4, ...STRICT].flatMap((p) => [
    p.address,
    (p.address - 1) >>> 0,
    (p.address + 2 ** (32 - p.length)) >>> 0,
    (p.address + 2 ** (32 - p.length) - 1) >>> 0,
  ]);
  const inAny = (set: typeof C4, a: number) => set.some((p) => ipv4PrefixContains(p, a));
  for (const a of [...edges, ...fc.sample(fc.nat({ max: 0xffffffff }), 20000)]) {
    assert.equal(isMartianIpv4(a), inAny(C4, a), `${a}`);
    assert.equal(isMartianIpv4(a, true), inAny(C4, a) || inAny(STRICT, a), `strict ${a}`);
  }
  assert.ok(!isMartianIpv4(parseIpv4("192.88.99.1"), true), "relays stay usable");
});

Deno.test("isNonGlobalSixToFourIpv4() adds the shared address space 100.64.0.0/10", () => {
  assert.ok(isNonGlobalSixToFourIpv4(parseIpv4("100.64.0.1")));
  assert.ok(isNonGlobalSixToFourIpv4(parseIpv4("100.127.255.255")));
  assert.ok(!isNonGlobalSixToFourIpv4(parseIpv4("100.128.0.0")));
  assert.ok(!isNonGlobalSixToFourIpv4(parseIpv4("192.0.2.1")));
});

Deno.test("classifyIpv4() names the block and its RFC", () => {
  assert.equal(classifyIpv4(parseIpv4("10.1.2.3"))?.name, "private");
  assert.equal(classifyIpv4(parseIpv4("10.1.2.3"))?.rfc, "RFC 1918");
  assert.equal(classifyIpv4(parseIpv4("255.255.255.255"))?.name, "limited-broadcast");
  assert.equal(classifyIpv4(parseIpv4("8.8.8.8")), undefined);
  for (const b of IPV4_BLOCKS) {
    assert.equal(
      b.martian,
      C4.some((p) => p.address === b.prefix.address && p.length === b.prefix.length) ||
        b.name === "limited-broadcast",
    );
  }
});

Deno.test("isMartianIpv6() is C6 of RFC 3964 §5.3.2", () => {
  const yes = [
    "::",
    "::1",
    "0:ffff::",
    "fe80::1",
    "febf::1",
    "fec0::1",
    "feff::1",
    "ff02::1",
    "2002:a00:1::1",
    "2002:7f00:1::",
    "2002:e000::1",
    "2002:ffff:ffff::",
    "2002::1",
  ];
  const no = ["1::", "2001:db8::1", "fe7f::1", "2002:c000:201::1", "2002:800:1::1", "fd00::1"];
  for (const a of yes) assert.ok(isMartianIpv6(parseIpv6(a)), a);
  for (const a of no) assert.ok(!isMartianIpv6(parseIpv6(a)), a);
  assert.ok(isMartianIpv6(parseIpv6("2002:c000:201::1"), 0, true), "strict: documentation");
});

Deno.test("isInvalidDecapsulatedSource() is C6src of RFC 4213 §3.6", () => {
  const yes = ["ff02::1", "::1", "::2", "::c000:201", "::ffff:192.0.2.1"];
  const no = ["::", "2001:db8::1", "::1:0:0", "2002:c000:201::1", "fe80::1"];
  for (const a of yes) assert.ok(isInvalidDecapsulatedSource(parseIpv6(a)), a);
  for (const a of no) assert.ok(!isInvalidDecapsulatedSource(parseIpv6(a)), a);
});
