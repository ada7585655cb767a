import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatIpv4,
  ipv4PrefixContains,
  parseIpv4,
  parseIpv4Prefix,
  tryParseIpv4,
} from "../../../lib/addr/mod.ts";

Deno.test("parseIpv4() reads dotted quads in network order", () => {
  assert.equal(parseIpv4("192.0.2.1"), 0xc0000201);
  assert.equal(parseIpv4("0.0.0.0"), 0);
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
});

Deno.test("parseIpv4() refuses every form that is not a strict dotted quad", () => {
  for (
    const bad of [
      "0x7f.0.0.1",
      "01.2.3.4",
      "1.2.3",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4/24",
      "192.0.2.256",
      "1.2.3.4.5",
      "1..3.4",
      "",
      "+1.2.3.4",
      "1.2.3.-4",
      "1e2.0.0.1",
      "１.2.3.4",
      "127.1",
      "2130706433",
    ]
  ) {
    assert.equal(tryParseIpv4(bad), undefined, bad);
  }
  assert.throws(() => parseIpv4("192.0.2.256"), {
    name: "SyntaxError",
    message: 'Cannot parse "192.0.2.256" as an IPv4 address',
  });
});

Deno.test("formatIpv4() and parseIpv4() round-trip every address", () => {
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), (a) => {
      assert.equal(parseIpv4(formatIpv4(a)), a);
    }),
    { numRuns: 10000 },
  );
});

Deno.test("formatIpv4() agrees with an independent formatter on random addresses", () => {
  fc.assert(
    fc.property(fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)), (octets) => {
      const text = octets.join(".");
      assert.equal(formatIpv4(parseIpv4(text)), text);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseIpv4Prefix() refuses host bits and names the network meant", () => {
  assert.deepEqual(parseIpv4Prefix("192.0.2.0/24"), { address: 0xc0000200, length: 24 });
  assert.throws(() => parseIpv4Prefix("192.0.2.1/24"), /host bits are set.*192\.0\.2\.0\/24/);
  assert.throws(() => parseIpv4Prefix("192.0.2.0/33"), SyntaxError);
  assert.throws(() => parseIpv4Prefix("192.0.2.0/024"), SyntaxError);
  assert.throws(() => parseIpv4Prefix("192.0.2.0"), SyntaxError);
  assert.deepEqual(parseIpv4Prefix("192.0.2.7", { allowBare: true }), {
    address: 0xc0000207,
    length: 32,
  });
});

Deno.test("ipv4PrefixContains() matches exactly the addresses under the prefix", () => {
  const p = parseIpv4Prefix("198.51.100.0/24");
  assert.ok(ipv4PrefixContains(p, parseIpv4("198.51.100.0")));
  assert.ok(ipv4PrefixContains(p, parseIpv4("198.51.100.255")));
  assert.ok(!ipv4PrefixContains(p, parseIpv4("198.51.101.0")));
  assert.ok(ipv4PrefixContains(parseIpv4Prefix("0.0.0.0/0"), 0xffffffff));
});
