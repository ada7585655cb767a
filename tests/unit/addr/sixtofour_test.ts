import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeSixRd,
  describeSixRdAddress,
  formatIpv4,
  formatIpv6,
  formatIpv6Prefix,
  parseIpv4,
  parseIpv6,
  parseIpv6Prefix,
  type SixRdDomain,
  sixRdPrefix,
  sixToFourPrefix,
  subnetPrefix,
  withInterfaceId,
} from "../../../lib/addr/mod.ts";

Deno.test("sixToFourPrefix() maps 192.0.2.1 to 2002:c000:201::/48", () => {
  assert.equal(formatIpv6Prefix(sixToFourPrefix(parseIpv4("192.0.2.1"))), "2002:c000:201::/48");
});

Deno.test("subnetPrefix() and withInterfaceId() give 2002:c000:201:1::1 for subnet 1, ::1", () => {
  const subnet = subnetPrefix(sixToFourPrefix(parseIpv4("192.0.2.1")), 1);
  assert.equal(formatIpv6Prefix(subnet), "2002:c000:201:1::/64");
  assert.equal(formatIpv6(withInterfaceId(subnet, parseIpv6("::1"))), "2002:c000:201:1::1");
  assert.throws(() => subnetPrefix(sixToFourPrefix(1), 65536), RangeError);
});

Deno.test("sixRdPrefix() gives 2001:db8:6464:100::/56 for 10.100.100.1 (RFC 5969 §7.1.1)", () => {
  const domain: SixRdDomain = {
    prefix: parseIpv6Prefix("2001:db8::/32"),
    ipv4MaskLength: 8,
    ipv4CommonPrefix: parseIpv4("10.0.0.0"),
  };
  const prefix = sixRdPrefix(parseIpv4("10.100.100.1"), domain);
  assert.equal(formatIpv6Prefix(prefix), "2001:db8:6464:100::/56");
  assert.equal(formatIpv4(decodeSixRd(prefix.address, domain)!), "10.100.100.1");
});

Deno.test("sixRdPrefix() refuses a delegated prefix longer than /64 (RFC 5969 §4)", () => {
  const domain = {
    prefix: parseIpv6Prefix("2001:db8::/40"),
    ipv4MaskLength: 0,
    ipv4CommonPrefix: 0,
  };
  assert.throws(() => sixRdPrefix(1, domain), /\/72, longer than \/64/);
});

Deno.test("decoding the 6to4 prefix of any IPv4 address gives that address back", () => {
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), (v4) => {
      const prefix = sixToFourPrefix(v4);
      assert.equal(decodeSixRd(prefix.address), v4);
      assert.equal(prefix.length, 48);
    }),
    { numRuns: 10000 },
  );
});

Deno.test("6rd round-trips for every mask length and prefix", () => {
  const arbitrary = fc.integer({ min: 0, max: 32 }).chain((mask) =>
    fc.record({
      mask: fc.constant(mask),
      // The 6rd prefix length must leave the delegated prefix at /64 or shorter.
      prefixLength: fc.integer({ min: 0, max: 32 + mask }),
      prefixBytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      v4: fc.nat({ max: 0xffffffff }),
      subnet: fc.nat({ max: 0xffffffff }),
    })
  );
  fc.assert(
    fc.property(arbitrary, ({ mask, prefixLength, prefixBytes, v4, subnet }) => {
      const prefix = parseIpv6Prefix(
        `${formatIpv6(maskBytes(prefixBytes, prefixLength))}/${prefixLength}`,
      );
      const domain: SixRdDomain = { prefix, ipv4MaskLength: mask, ipv4CommonPrefix: v4 };
      const delegated = sixRdPrefix(v4, domain);
      assert.equal(delegated.length, prefixLength + 32 - mask);
      const sub = subnetPrefix(delegated, subnet % 2 ** (64 - delegated.length));
      const parts = describeSixRdAddress(withInterfaceId(sub, parseIpv6("::1")), domain)!;
      assert.equal(parts.ipv4, v4);
      assert.equal(parts.subnet, subnet % 2 ** (64 - delegated.length));
      assert.equal(formatIpv6Prefix(parts.prefix), formatIpv6Prefix(delegated));
    }),
    { numRuns: 5000 },
  );
});

function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    out[i] = bytes[i] & (0xff00 >> bits);
  }
  return out;
}

async function ipv6calc(action: string, lines: string[]): Promise<string[] | undefined> {
  try {
    const child = new Deno.Command("ipv6calc", {
      args: ["-q", "--action", action],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
    await writer.close();
    const out = await child.output();
    return new TextDecoder().decode(out.stdout).trim().split("\n");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

const haveIpv6calc = await ipv6calc("conv6to4", ["192.0.2.1"]) !== undefined;
if (!haveIpv6calc) console.error("Skipping the ipv6calc oracle tests: ipv6calc is not installed");

Deno.test({
  name: "sixToFourPrefix() equals ipv6calc's conv6to4 for 1000 random IPv4 addresses, and back",
  ignore: !haveIpv6calc && Deno.env.get("STF_REQUIRE_LAB") !== "1",
  fn: async () => {
    const v4s = fc.sample(fc.nat({ max: 0xffffffff }), { numRuns: 1000, seed: Date.now() });
    // 0.0.0.0 is left out: ipv6calc prints its prefix as "2002::0.0.0.0", not RFC 5952
    // text, and it is no 6to4 address anyway (C4, RFC 3964 §5.3.1).
    v4s.push(1, 0xffffffff, 0xc0000201, 0x00010000, 0x0000ffff, 0x01000000);
    for (let i = 0; i < v4s.length; i++) if (v4s[i] === 0) v4s[i] = 0xc6336401;
    const texts = v4s.map(formatIpv4);
    const theirs = await ipv6calc("conv6to4", texts);
    assert.ok(theirs, "ipv6calc is required (apt-get install ipv6calc)");
    assert.equal(theirs.length, v4s.length);
    const ours = v4s.map((v4) => formatIpv6(sixToFourPrefix(v4).address));
    for (let i = 0; i < v4s.length; i++) {
      assert.equal(ours[i], theirs[i], `6to4 of ${texts[i]}`);
    }
    // And back: ipv6calc decodes our prefixes to the same IPv4 addresses as we do.
    const back = await ipv6calc("conv6to4", ours);
    for (let i = 0; i < v4s.length; i++) {
      assert.equal(back![i], texts[i]);
      assert.equal(formatIpv4(decodeSixRd(parseIpv6(ours[i]))!), texts[i]);
    }
  },
});
