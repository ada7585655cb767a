import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatIpv6,
  ipv6PrefixContains,
  parseIpv6,
  parseIpv6Prefix,
  tryParseIpv6,
} from "../../../lib/addr/mod.ts";

Deno.test("formatIpv6() follows the examples of RFC 5952 §4", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"], // §4.1 leading zeros
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"], // §4.2.1 shorten as much as possible
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // §4.2.2 not one 16-bit field
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // §4.2.3 the longest run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // §4.2.3 the first of equal runs
    ["2001:DB8::1", "2001:db8::1"], // §4.3 lower case
    ["0:0:0:0:0:ffff:c000:201", "::ffff:192.0.2.1"], // §5 IPv4-mapped
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
  ];
  for (const [input, expected] of cases) assert.equal(formatIpv6(parseIpv6(input)), expected);
});

Deno.test("parseIpv6() refuses malformed text", () => {
  for (
    const bad of [
      "",
      ":",
      ":::",
      "1:::2",
      ":1::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "g::",
      " ::1",
      "::1 ",
      "fe80::1%eth0",
      "[::1]",
      "::1/128",
      "1.2.3.4::",
      "::1.2.3",
      "::01.2.3.4",
      "1:2:3:4:5:6:7:1.2.3.4",
    ]
  ) {
    assert.equal(tryParseIpv6(bad), undefined, bad);
  }
  assert.throws(() => parseIpv6("2001:db8::g"), {
    name: "SyntaxError",
    message: 'Cannot parse "2001:db8::g" as an IPv6 address',
  });
});

Deno.test("formatIpv6() and parseIpv6() round-trip every address", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      assert.deepEqual(parseIpv6(formatIpv6(bytes)), bytes);
    }),
    { numRuns: 10000 },
  );
});

Deno.test("parseIpv6() reads the uncompressed form of any address", () => {
  fc.assert(
    fc.property(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), (groups) => {
      const bytes = parseIpv6(groups.map((g) => g.toString(16).padStart(4, "0")).join(":"));
      groups.forEach((g, i) => assert.equal((bytes[2 * i] << 8) | bytes[2 * i + 1], g));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseIpv6Prefix() refuses host bits", () => {
  assert.equal(parseIpv6Prefix("2001:db8::/32").length, 32);
  assert.throws(() => parseIpv6Prefix("2001:db8::1/32"), /host bits are set.*2001:db8::\/32/);
  assert.throws(() => parseIpv6Prefix("2001:db8::/129"), SyntaxError);
  assert.throws(() => parseIpv6Prefix("2001:db8::"), SyntaxError);
});

Deno.test("ipv6PrefixContains() compares only the prefix bits", () => {
  const p = parseIpv6Prefix("2002::/16");
  assert.ok(ipv6PrefixContains(p, parseIpv6("2002:c000:201::1")));
  assert.ok(!ipv6PrefixContains(p, parseIpv6("2003::1")));
  const q = parseIpv6Prefix("fe80::/10");
  assert.ok(ipv6PrefixContains(q, parseIpv6("febf::1")));
  assert.ok(!ipv6PrefixContains(q, parseIpv6("fec0::1")));
});
