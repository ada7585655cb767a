import assert from "node:assert/strict";
import { parseIpv4 } from "../../../lib/addr/mod.ts";
import { PolicyError } from "../../../lib/errors.ts";
import { compilePolicy, Mode, type PolicySettings } from "../../../lib/filter/mod.ts";
import { BASE, egress, policyWith } from "./_policy.ts";

function policyErrorReason(settings: Partial<PolicySettings>): string | undefined {
  try {
    policyWith(settings);
  } catch (e) {
    if (e instanceof PolicyError) return e.reason;
    throw e;
  }
  return undefined;
}

Deno.test("compilePolicy() refuses a non-global own4 with own-ipv4-not-global (RFC 3056 §2, RFC 6343 §4.1)", () => {
  for (
    const ipv4 of [
      "10.0.0.1",
      "192.168.1.1",
      "172.16.0.1",
      "127.0.0.1",
      "100.64.0.1",
      "224.0.0.1",
      "0.0.0.0",
    ]
  ) {
    assert.equal(policyErrorReason({ ipv4 }), "own-ipv4-not-global", ipv4);
  }
  assert.equal(
    policyErrorReason({ ipv4: "192.0.2.1" }),
    undefined,
    "documentation ranges are fine",
  );
  assert.equal(
    policyWith({ ipv4: "10.0.0.1", allowNonGlobal: true }).rules.own4,
    parseIpv4("10.0.0.1"),
  );
});

Deno.test("compilePolicy() refuses an MTU outside 1280..1480 with mtu-out-of-range (RFC 4213 §3.2)", () => {
  for (const mtu of [1279, 1481, 9000, 0, 1300.5, NaN]) {
    assert.equal(policyErrorReason({ mtu }), "mtu-out-of-range", String(mtu));
  }
  for (const mtu of [1280, 1480]) assert.equal(policyErrorReason({ mtu }), undefined);
});

Deno.test("compilePolicy() refuses a 6rd delegated prefix longer than /64 with 6rd-prefix-too-long (RFC 5969 §4)", () => {
  const sixRd = (prefix: string, ipv4MaskLength: number) => ({
    prefix,
    ipv4MaskLength,
    ipv4CommonPrefix: "9.0.0.0",
  });
  assert.equal(policyErrorReason({ sixRd: sixRd("2001:db8::/40", 0) }), "6rd-prefix-too-long");
  assert.equal(policyErrorReason({ sixRd: sixRd("2001:db8::/48", 8) }), "6rd-prefix-too-long");
  assert.equal(policyErrorReason({ sixRd: sixRd("2001:db8::/40", 8) }), undefined);
  assert.equal(policyErrorReason({ sixRd: sixRd("2001:db8::/32", 0) }), undefined);
});

Deno.test("compilePolicy() messages name the value in Deno style", () => {
  assert.throws(() => policyWith({ mtu: 9000 }), {
    name: "PolicyError",
    message: "Cannot set the tunnel MTU to 9000: expected 1280..1480 (RFC 4213 §3.2)",
  });
});

Deno.test("compilePolicy() refuses a relay in C4 or on this host with a RangeError", () => {
  for (const relay of ["10.0.0.1", "255.255.255.255", "224.0.0.1", "9.0.0.2"]) {
    assert.throws(
      () => policyWith({ relay }),
      (e: unknown) =>
        e instanceof RangeError && !(e instanceof PolicyError) &&
        (e as Error).message.includes(relay),
      relay,
    );
  }
  assert.throws(
    () => policyWith({ relay: "9.0.0.255", localBroadcasts: ["9.0.0.255"] }),
    RangeError,
  );
  assert.throws(() => policyWith({ relay: "192.0.2.1", strictBogons: true }), RangeError);
  // The anycast relay block is not a strict bogon: relays live there.
  assert.equal(policyWith({ strictBogons: true }).rules.relay, parseIpv4("192.88.99.1"));
});

Deno.test("compilePolicy() refuses unknown modes, TTLs and DSCP handling with a RangeError", () => {
  assert.throws(() => policyWith({ mode: "bridge" as "router" }), RangeError);
  assert.throws(() => policyWith({ mode: "__proto__" as "router" }), RangeError);
  assert.throws(() => policyWith({ ttl: 0 }), RangeError);
  assert.throws(() => policyWith({ ttl: 256 }), RangeError);
  assert.throws(() => policyWith({ dscp: "keep" as "copy" }), RangeError);
});

Deno.test("compilePolicy() refuses addresses and prefixes that do not parse with a SyntaxError", () => {
  assert.throws(() => policyWith({ ipv4: "9.0.0" }), SyntaxError);
  assert.throws(() => policyWith({ relay: "0x7f.0.0.1" }), SyntaxError);
  assert.throws(() => policyWith({ sitePrefixes: ["2001:db8::1/48"] }), SyntaxError);
  assert.throws(() => policyWith({ allowPeers: ["8.0.0.1/24"] }), SyntaxError);
  assert.throws(() => policyWith({ localIpv4: ["nope"] }), SyntaxError);
});

Deno.test("compilePolicy() takes settings that went through structuredClone (posted to a Worker)", () => {
  const settings: PolicySettings = {
    ...BASE,
    sitePrefixes: ["2001:db8:5::/48"],
    allowPeers: ["8.0.0.0/8"],
    allowRelays: ["192.88.99.0/24"],
    sixRd: { prefix: "2001:db8::/32", ipv4MaskLength: 8, ipv4CommonPrefix: "9.0.0.0" },
  };
  const clone = structuredClone(settings);
  assert.deepEqual(clone, settings);
  const a = compilePolicy(settings);
  const b = compilePolicy(clone);
  assert.deepEqual(b.rules, a.rules);
  assert.equal(b.rules.mode, Mode.Router);
});

Deno.test("compilePolicy() sets no default relay (RFC 7526 §5)", () => {
  const { relay: _, ...withoutRelay } = BASE;
  const policy = compilePolicy(withoutRelay as PolicySettings);
  assert.equal(policy.rules.hasRelay, false);
  assert.equal(egress(policy, "2002:900:2::1", "2001:db8::1").reason, "no-relay");
});
