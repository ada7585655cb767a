/**
 * One focused test per egress rule of docs/filtering.md: a packet that only that rule catches
 * (so the test fails if the rule is removed), next to the nearest packet that passes.
 */
import assert from "node:assert/strict";
import { parseIpv4 } from "../../../lib/addr/mod.ts";
import { EgressResult, REASON_NAMES } from "../../../lib/filter/mod.ts";
import { PathMtuTable } from "../../../lib/packet/mod.ts";
import { ipv6Packet } from "../packet/_build.ts";
import { egress, encapsulate, policyWith } from "./_policy.ts";

const OWN = "2002:900:2::1";

Deno.test("egress: malformed catches short packets, other versions and payload lengths past the end", () => {
  const policy = policyWith();
  const result = new EgressResult();
  const good = ipv6Packet(OWN, "2002:800:1::1", { headroom: 20 });
  assert.equal(REASON_NAMES[policy.egress(good, 20, good.length - 20, result)], "forwarded");
  assert.equal(REASON_NAMES[policy.egress(good, 20, 39, result)], "malformed");
  const v4 = good.slice();
  v4[20] = 0x45;
  assert.equal(REASON_NAMES[policy.egress(v4, 20, v4.length - 20, result)], "malformed");
  const long = good.slice();
  long[25] += 1; // payload length one past the data
  assert.equal(REASON_NAMES[policy.egress(long, 20, long.length - 20, result)], "malformed");
  // Past the end of the buffer itself.
  assert.equal(REASON_NAMES[policy.egress(good, 20, good.length, result)], "malformed");
});

Deno.test("egress: trailing bytes after the payload are cut off, not sent", () => {
  const policy = policyWith();
  const result = new EgressResult();
  const p = ipv6Packet(OWN, "2002:800:1::1", { headroom: 20, payload: new Uint8Array(10) });
  const padded = new Uint8Array(p.length + 6);
  padded.set(p);
  assert.equal(policy.egress(padded, 20, padded.length - 20, result), 0);
  assert.equal(result.innerLength, 50);
  assert.equal(encapsulate(policy, padded, 20, result), 70);
});

Deno.test("egress: src-invalid catches every C6 source (RFC 3964 §5.3.2)", () => {
  const policy = policyWith({ localBroadcasts: ["9.0.0.255"] });
  for (
    const src of [
      "::1",
      "::",
      "::ffff:8.0.0.1",
      "fe80::1",
      "febf::1",
      "fec0::1",
      "ff02::1",
      "2002:a00:1::1",
      "2002:7f00:1::1",
      "2002:ac10:1::1",
      "2002:c0a8:1::1",
      "2002:a9fe:1::1",
      "2002:e000:1::1",
      "2002:f000:1::1",
      "2002:ffff:ffff::1",
      "2002::1",
      "2002:900:ff::1", // the local broadcast 9.0.0.255
    ]
  ) {
    assert.equal(egress(policy, src, "2002:800:1::1").reason, "src-invalid", src);
  }
  // Native sources are not in C6: 2001:db8::1 to a 6to4 host is the return path.
  assert.equal(egress(policy, "2001:db8::1", "2002:800:1::1").reason, "forwarded");
  assert.equal(egress(policy, "fe00::1", "2002:800:1::1").reason, "forwarded");
});

Deno.test("egress: src-invalid with strict bogons also covers 2002:V with V in the RFC 6890 blocks", () => {
  const strict = policyWith({ strictBogons: true });
  const lax = policyWith();
  for (const v of ["6440:1", "c000:201", "c633:6401", "cb00:7101", "c612:1", "c000:1"]) {
    assert.equal(egress(strict, `2002:${v}::1`, "2002:800:1::1").reason, "src-invalid", v);
    assert.equal(egress(lax, `2002:${v}::1`, "2002:800:1::1").reason, "src-not-own", v);
  }
});

Deno.test("egress: dst-invalid catches every C6 destination (RFC 3964 §5.3.2)", () => {
  const policy = policyWith({ localBroadcasts: ["9.0.0.255"] });
  for (
    const dst of [
      "::1",
      "::",
      "::ffff:8.0.0.1",
      "::8.0.0.1",
      "fe80::1",
      "fec0::1",
      "ff02::1",
      "ff0e::1",
      "2002:a00:1::1",
      "2002:e000:1::1",
      "2002:ffff:ffff::1",
      "2002:900:ff::1",
    ]
  ) {
    assert.equal(egress(policy, OWN, dst).reason, "dst-invalid", dst);
  }
  // Without local broadcasts configured, 9.0.0.255 is an ordinary peer.
  assert.deepEqual(egress(policyWith(), OWN, "2002:900:ff::1"), {
    reason: "forwarded",
    to: "9.0.0.255",
  });
});

Deno.test("egress: src-not-own catches a 6to4 source of another site (RFC 3964 §5.1)", () => {
  const policy = policyWith();
  assert.equal(egress(policy, "2002:800:1::1", "2002:800:2::1").reason, "src-not-own");
  assert.equal(egress(policy, "2002:900:3::1", "2002:800:2::1").reason, "src-not-own");
  assert.deepEqual(egress(policy, "2002:900:2:ffff::1", "2002:800:2::1"), {
    reason: "forwarded",
    to: "8.0.0.2",
  });
});

Deno.test("egress: src-not-own applies in every mode", () => {
  for (const mode of ["router", "return-path", "relay"] as const) {
    const policy = policyWith({ mode });
    assert.equal(egress(policy, "2002:800:1::1", "2002:800:2::1").reason, "src-not-own", mode);
  }
});

Deno.test("egress: dst-own-ipv4 catches 6to4 destinations on this host (RFC 3964 §5.1)", () => {
  const policy = policyWith({ localIpv4: ["9.0.0.3", "8.8.4.4"] });
  for (const dst of ["2002:900:2::99", "2002:900:3::1", "2002:808:404::1"]) {
    assert.equal(egress(policy, OWN, dst).reason, "dst-own-ipv4", dst);
    assert.equal(egress(policy, "2001:db8::1", dst).reason, "dst-own-ipv4", dst);
  }
  // Not local: sent to it.
  assert.deepEqual(egress(policyWith(), OWN, "2002:900:3::1"), {
    reason: "forwarded",
    to: "9.0.0.3",
  });
});

Deno.test("egress: dst-ipv4-invalid catches a 6rd destination that decodes into C4", () => {
  const policy = policyWith({
    sixRd: { prefix: "2001:db8::/32", ipv4MaskLength: 0, ipv4CommonPrefix: "0.0.0.0" },
  });
  for (const dst of ["2001:db8:a00:1::1", "2001:db8:e000:1::1", "2001:db8:7f00:1::1"]) {
    assert.equal(egress(policy, OWN, dst).reason, "dst-ipv4-invalid", dst);
  }
  assert.deepEqual(egress(policy, OWN, "2001:db8:800:1::1"), {
    reason: "forwarded",
    to: "8.0.0.1",
  });
});

Deno.test("egress: a 6rd domain with common IPv4 bits decodes destinations with them", () => {
  const policy = policyWith({
    sixRd: { prefix: "2001:db8::/32", ipv4MaskLength: 8, ipv4CommonPrefix: "9.0.0.0" },
  });
  // 24 bits after /32: 2001:db8:0005:06xx:: embeds 9.0.5.6.
  assert.deepEqual(egress(policy, "2001:db8:0:200::1", "2001:db8:5:600::1"), {
    reason: "forwarded",
    to: "9.0.5.6",
  });
  assert.equal(egress(policy, "2001:db8:0:300::1", "2001:db8:5:600::1").reason, "src-not-own");
});

Deno.test("egress: native-to-native drops native pairs unless router mode sends site traffic to the relay", () => {
  const site = { sitePrefixes: ["2001:db8:5::/48"] };
  // Router mode, relay, source in the site: to the relay (RFC 3056 §5.3).
  assert.deepEqual(egress(policyWith(site), "2001:db8:5::1", "2001:db8:77::1"), {
    reason: "forwarded",
    to: "192.88.99.1",
  });
  // Source outside the site.
  assert.equal(
    egress(policyWith(site), "2001:db8:6::1", "2001:db8:77::1").reason,
    "native-to-native",
  );
  // No relay.
  assert.equal(
    egress(policyWith({ ...site, relay: undefined }), "2001:db8:5::1", "2001:db8:77::1").reason,
    "native-to-native",
  );
  // Other modes never.
  for (const mode of ["return-path", "relay"] as const) {
    assert.equal(
      egress(policyWith({ ...site, mode }), "2001:db8:5::1", "2001:db8:77::1").reason,
      "native-to-native",
      mode,
    );
  }
});

Deno.test("egress: no-relay drops a native destination when no relay is configured (RFC 7526)", () => {
  assert.equal(egress(policyWith({ relay: undefined }), OWN, "2001:db8::1").reason, "no-relay");
  assert.deepEqual(egress(policyWith(), OWN, "2001:db8::1"), {
    reason: "forwarded",
    to: "192.88.99.1",
  });
});

Deno.test("egress: return-path mode never uses the relay, even when one is configured", () => {
  const policy = policyWith({ mode: "return-path" });
  assert.equal(egress(policy, OWN, "2001:db8::1").reason, "no-relay");
  // Replies to 2002::/16 go straight to the embedded IPv4.
  assert.deepEqual(egress(policy, "2001:db8::80", "2002:800:1::1"), {
    reason: "forwarded",
    to: "8.0.0.1",
  });
});

Deno.test("egress: relay mode sends native IPv6 to 6to4 destinations directly", () => {
  const policy = policyWith({ mode: "relay", relay: undefined });
  assert.deepEqual(egress(policy, "2001:db8::1", "2002:800:1::1"), {
    reason: "forwarded",
    to: "8.0.0.1",
  });
  assert.equal(egress(policy, "2001:db8::1", "2001:db8::2").reason, "native-to-native");
});

Deno.test("egress: a 6to4 destination is never sent via the relay (RFC 3056 §5.3)", () => {
  const policy = policyWith({ sitePrefixes: ["2001:db8:5::/48"] });
  for (const src of [OWN, "2001:db8:5::1", "2001:db8:6::1"]) {
    assert.deepEqual(egress(policy, src, "2002:c633:6401::1"), {
      reason: "forwarded",
      to: "198.51.100.1",
    });
  }
});

Deno.test("egress: too-big drops packets longer than the tunnel MTU (RFC 4213 §3.2)", () => {
  const policy = policyWith({ mtu: 1400 });
  const at = (n: number) =>
    egress(policy, OWN, "2002:800:1::1", { payload: new Uint8Array(n - 40) });
  assert.equal(at(1400).reason, "forwarded");
  assert.deepEqual(at(1401), { reason: "too-big", mtu: 1400 });
  // Also through the relay.
  const viaRelay = egress(policy, OWN, "2001:db8::1", { payload: new Uint8Array(1361) });
  assert.deepEqual(viaRelay, { reason: "too-big", mtu: 1400 });
});

Deno.test("egress: too-big uses the path MTU learnt for the peer, minus 20, never below 1280 (RFC 4213 §3.4)", () => {
  const table = new PathMtuTable({ lifetime: 1000 });
  const policy = policyWith();
  table.update(parseIpv4("8.0.0.1"), 1400, 0);
  const size = (n: number, now = 10, dst = "2002:800:1::1") =>
    egress(policy, OWN, dst, { payload: new Uint8Array(n - 40), now, pathMtu: table });
  assert.equal(size(1380).reason, "forwarded");
  assert.deepEqual(size(1381), { reason: "too-big", mtu: 1380 });
  // Another peer keeps the link MTU.
  assert.equal(size(1480, 10, "2002:800:2::1").reason, "forwarded");
  // The entry expires.
  assert.equal(size(1381, 2000).reason, "forwarded");
  table.update(parseIpv4("8.0.0.1"), 600, 3000);
  assert.deepEqual(size(1281, 3001), { reason: "too-big", mtu: 1280 });
  assert.equal(size(1280, 3001).reason, "forwarded");
});

Deno.test("egress: rules apply in the order of the OUT table", () => {
  const policy = policyWith({ relay: undefined, localIpv4: ["8.0.0.1"] });
  // C6 source before everything.
  assert.equal(egress(policy, "fe80::1", "fe80::2").reason, "src-invalid");
  // dst-invalid before src-not-own.
  assert.equal(egress(policy, "2002:800:1::1", "ff02::1").reason, "dst-invalid");
  // src-not-own before dst-own-ipv4.
  assert.equal(egress(policy, "2002:800:5::1", "2002:800:1::1").reason, "src-not-own");
  // dst-own-ipv4 before too-big.
  assert.equal(
    egress(policy, OWN, "2002:800:1::1", { payload: new Uint8Array(2000) }).reason,
    "dst-own-ipv4",
  );
  // no-relay before too-big.
  assert.equal(
    egress(policy, OWN, "2001:db8::1", { payload: new Uint8Array(2000) }).reason,
    "no-relay",
  );
});
