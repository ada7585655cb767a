/**
 * One focused test per ingress rule of docs/filtering.md: a packet that only that rule catches (so the
 * test fails if the rule is removed), next to the nearest packet that passes, in each mode.
 */
import assert from "node:assert/strict";
import { IngressResult, REASON_NAMES } from "../../../lib/filter/mod.ts";
import { ipv4Wrap, ipv6Packet } from "../packet/_build.ts";
import { ingress, policyWith } from "./_policy.ts";

const PEER: [string, string] = ["8.0.0.1", "9.0.0.2"];
const PEER6 = "2002:800:1::1";
const OURS6 = "2002:900:2::1";

function run(packet: Uint8Array, mode: "router" | "relay" = "router"): string {
  return REASON_NAMES[policyWith({ mode }).ingress(packet, 0, packet.length, new IngressResult())];
}

Deno.test("ingress: decap-disabled drops everything in return-path mode", () => {
  const policy = policyWith({ mode: "return-path" });
  assert.equal(ingress(policy, PEER, [PEER6, OURS6]), "decap-disabled");
  assert.equal(ingress(policy, PEER, ["2001:db8::1", "2001:db8::80"]), "decap-disabled");
  // Even garbage: nothing is looked at.
  assert.equal(
    REASON_NAMES[policy.ingress(new Uint8Array(3), 0, 3, new IngressResult())],
    "decap-disabled",
  );
  assert.equal(ingress(policyWith(), PEER, [PEER6, OURS6]), "forwarded");
});

Deno.test("ingress: return-path mode decapsulates from a peer an allow list names", () => {
  const peers = policyWith({ mode: "return-path", allowPeers: ["8.0.0.0/24"] });
  assert.equal(ingress(peers, PEER, [PEER6, "2001:db8::80"]), "forwarded");
  assert.equal(
    ingress(peers, ["8.0.1.1", "9.0.0.2"], ["2002:800:101::1", "2001:db8::80"]),
    "decap-disabled",
  );
  const relays = policyWith({ mode: "return-path", allowRelays: ["192.88.99.1"] });
  assert.equal(ingress(relays, ["192.88.99.1", "9.0.0.2"], ["2001:db8::1", OURS6]), "forwarded");
  assert.equal(ingress(relays, PEER, [PEER6, OURS6]), "decap-disabled");
});

Deno.test("ingress: malformed catches every broken outer or inner header (RFC 4213 §3.6)", () => {
  const inner = ipv6Packet(PEER6, OURS6, { payload: new Uint8Array(16) });
  const good = ipv4Wrap("8.0.0.1", "9.0.0.2", inner);
  assert.equal(run(good), "forwarded");
  const broken: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["19 bytes", good.slice(0, 19)],
    ["version 6", Object.assign(good.slice(), { 0: 0x65 })],
    ["IHL 4", Object.assign(good.slice(), { 0: 0x44 })],
    ["total length past the data", Object.assign(good.slice(), { 3: good[3] + 1 })],
    ["total length below the header", Object.assign(good.slice(), { 2: 0, 3: 19 })],
    ["protocol 4", ipv4Wrap("8.0.0.1", "9.0.0.2", inner, { protocol: 4 })],
    ["more fragments", ipv4Wrap("8.0.0.1", "9.0.0.2", inner, { flagsFragment: 0x2000 })],
    ["fragment offset", ipv4Wrap("8.0.0.1", "9.0.0.2", inner, { flagsFragment: 0x0001 })],
    ["inner shorter than 40", ipv4Wrap("8.0.0.1", "9.0.0.2", inner.slice(0, 39))],
    ["inner version 4", ipv4Wrap("8.0.0.1", "9.0.0.2", Object.assign(inner.slice(), { 0: 0x40 }))],
    [
      "inner payload length past the data",
      ipv4Wrap("8.0.0.1", "9.0.0.2", inner.slice(0, inner.length - 1)),
    ],
    ["IHL past the data", Object.assign(good.slice(0, 40), { 0: 0x4f, 2: 0, 3: 40 })],
  ];
  for (const [what, packet] of broken) assert.equal(run(packet), "malformed", what);
  // DF set is fine; so is a longer IPv4 payload (the inner length comes from IPv6).
  assert.equal(run(ipv4Wrap("8.0.0.1", "9.0.0.2", inner, { flagsFragment: 0x4000 })), "forwarded");
  const longer = new Uint8Array(inner.length + 5);
  longer.set(inner);
  const packet = ipv4Wrap("8.0.0.1", "9.0.0.2", longer);
  const result = new IngressResult();
  assert.equal(policyWith().ingress(packet, 0, packet.length, result), 0);
  assert.deepEqual([result.innerOffset, result.innerLength], [20, inner.length]);
});

Deno.test("ingress: outer-src-invalid catches every C4 source (RFC 3964 §5.2, §5.3.1)", () => {
  const policy = policyWith({ localBroadcasts: ["9.0.0.255"] });
  for (
    const src of [
      "0.0.0.0",
      "0.1.2.3",
      "10.0.0.1",
      "127.0.0.1",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.1.1",
      "224.0.0.1",
      "239.255.255.255",
      "240.0.0.1",
      "255.255.255.255",
      "9.0.0.255",
    ]
  ) {
    // A native inner source, so only the outer source is wrong.
    assert.equal(
      ingress(policy, [src, "9.0.0.2"], ["2001:db8::1", OURS6]),
      "outer-src-invalid",
      src,
    );
  }
  assert.equal(ingress(policy, ["172.32.0.1", "9.0.0.2"], ["2001:db8::1", OURS6]), "forwarded");
  assert.equal(ingress(policy, ["100.64.0.1", "9.0.0.2"], ["2001:db8::1", OURS6]), "forwarded");
});

Deno.test("ingress: outer-src-invalid with strict bogons covers the RFC 6890 blocks but not relays", () => {
  const strict = policyWith({ strictBogons: true });
  for (const src of ["100.64.0.1", "192.0.2.1", "198.51.100.1", "203.0.113.1", "198.18.0.1"]) {
    assert.equal(
      ingress(strict, [src, "9.0.0.2"], ["2001:db8::1", OURS6]),
      "outer-src-invalid",
      src,
    );
  }
  assert.equal(ingress(strict, ["192.88.99.1", "9.0.0.2"], ["2001:db8::1", OURS6]), "forwarded");
});

Deno.test("ingress: outer-dst-not-own catches packets to any other address (RFC 3964 §5.2)", () => {
  // Relay mode, native destination: nothing else looks at dst4.
  const policy = policyWith({ mode: "relay", relay: undefined, localIpv4: ["9.0.0.3"] });
  for (const dst of ["9.0.0.3", "9.0.0.255", "8.0.0.1"]) {
    assert.equal(
      ingress(policy, ["8.0.0.1", dst], [PEER6, "2001:db8::1"]),
      "outer-dst-not-own",
      dst,
    );
  }
  assert.equal(ingress(policy, PEER, [PEER6, "2001:db8::1"]), "forwarded");
});

Deno.test("ingress: inner-src-invalid catches C6 and C6src sources (RFC 3964 §5.3.2, RFC 4213 §3.6)", () => {
  const policy = policyWith({ localBroadcasts: ["9.0.0.255"] });
  for (
    const src of [
      "::1",
      "::8.0.0.1",
      "::ffff:8.0.0.1",
      "ff02::1",
      "fe80::1",
      "fec0::1",
      "2002:a00:1::1",
      "2002:900:ff::1",
      "::",
    ]
  ) {
    assert.equal(ingress(policy, PEER, [src, OURS6]), "inner-src-invalid", src);
  }
  assert.equal(ingress(policy, PEER, ["2001:db8::1", OURS6]), "forwarded");
});

Deno.test("ingress: inner-dst-invalid catches C6 destinations, in relay mode too", () => {
  const policy = policyWith({ mode: "relay" });
  for (const dst of ["ff0e::1", "fe80::1", "fec0::1", "::1", "2002:e000:1::1"]) {
    assert.equal(ingress(policy, PEER, [PEER6, dst]), "inner-dst-invalid", dst);
  }
  assert.equal(ingress(policy, PEER, [PEER6, "2001:db8::1"]), "forwarded");
});

Deno.test("ingress: inner-dst-mismatch catches a 6to4 destination that does not embed dst4 (RFC 3964 §5.2)", () => {
  const router = policyWith({ sitePrefixes: ["2001:db8:5::/48"] });
  assert.equal(ingress(router, PEER, ["2001:db8:9::1", "2002:900:5::1"]), "inner-dst-mismatch");
  const returnPath = policyWith({ mode: "return-path", allowPeers: ["0.0.0.0/0"] });
  assert.equal(ingress(returnPath, PEER, ["2001:db8:9::1", "2002:900:5::1"]), "inner-dst-mismatch");
  assert.equal(ingress(returnPath, PEER, ["2001:db8:9::1", OURS6]), "forwarded");
});

Deno.test("ingress: inner-src-spoofed catches a 6to4 source that does not embed src4 (RFC 3964 §5.2)", () => {
  for (const mode of ["router", "relay"] as const) {
    const policy = policyWith({ mode });
    const dst = mode === "router" ? OURS6 : "2001:db8::1";
    assert.equal(ingress(policy, PEER, ["2002:800:2::1", dst]), "inner-src-spoofed", mode);
    assert.equal(
      ingress(policy, ["8.0.0.2", "9.0.0.2"], ["2002:800:2::1", dst]),
      "forwarded",
      mode,
    );
  }
});

Deno.test("ingress: inner-src-spoofed applies to the 6rd domain too (RFC 5969 §9.2)", () => {
  const policy = policyWith({
    sixRd: { prefix: "2001:db8::/32", ipv4MaskLength: 0, ipv4CommonPrefix: "0.0.0.0" },
  });
  // 2001:db8:800:1:: embeds 8.0.0.1.
  assert.equal(
    ingress(policy, ["8.0.0.7", "9.0.0.2"], ["2001:db8:800:1::1", "2001:db8:900:2::1"]),
    "inner-src-spoofed",
  );
  assert.equal(ingress(policy, PEER, ["2001:db8:800:1::1", "2001:db8:900:2::1"]), "forwarded");
  // And the 6rd destination must embed dst4.
  assert.equal(
    ingress(policy, PEER, ["2001:db8:800:1::1", "2001:db8:900:3::1"]),
    "inner-dst-mismatch",
  );
});

Deno.test("ingress: native-to-native drops packets with no 6to4 address (RFC 3964 §5.2)", () => {
  const relay = policyWith({ mode: "relay" });
  assert.equal(ingress(relay, PEER, ["2001:db8::1", "2001:db8::2"]), "native-to-native");
  const router = policyWith({ sitePrefixes: ["2001:db8:5::/48"] });
  assert.equal(ingress(router, PEER, ["2001:db8::1", "2001:db8:5::2"]), "native-to-native");
  assert.equal(ingress(router, PEER, [PEER6, "2001:db8:5::2"]), "forwarded");
});

Deno.test("ingress: inner-dst-not-ours drops destinations outside the site in router mode (RFC 3964 §3.1)", () => {
  const policy = policyWith();
  assert.equal(ingress(policy, PEER, [PEER6, "2001:db8::9"]), "inner-dst-not-ours");
  assert.equal(
    ingress(policyWith({ sitePrefixes: ["2001:db8::/48"] }), PEER, [PEER6, "2001:db8::9"]),
    "forwarded",
  );
  // Not in the other modes.
  assert.equal(ingress(policyWith({ mode: "relay" }), PEER, [PEER6, "2001:db8::9"]), "forwarded");
});

Deno.test("ingress: inner-src-own-prefix drops sources in the site (RFC 4213 §3.6, RFC 3964 §5.3.3)", () => {
  const policy = policyWith({ sitePrefixes: ["2001:db8:5::/48"] });
  assert.equal(ingress(policy, PEER, ["2001:db8:5::1", OURS6]), "inner-src-own-prefix");
  assert.equal(ingress(policy, PEER, ["2001:db8:6::1", OURS6]), "forwarded");
  // own6to4 as the source, from own4 itself (so not spoofed).
  assert.equal(
    ingress(policy, ["9.0.0.2", "9.0.0.2"], ["2002:900:2::5", OURS6]),
    "inner-src-own-prefix",
  );
  // In relay mode too.
  const relay = policyWith({ mode: "relay", sitePrefixes: ["2001:db8:5::/48"] });
  assert.equal(ingress(relay, PEER, ["2001:db8:5::1", OURS6]), "inner-src-own-prefix");
});

Deno.test("ingress: relay-loop drops 6to4-to-6to4 and back-into-the-tunnel packets in relay mode (RFC 3964 §3.2)", () => {
  const relay = policyWith({ mode: "relay" });
  assert.equal(ingress(relay, PEER, [PEER6, OURS6]), "relay-loop");
  assert.equal(ingress(relay, PEER, [PEER6, "2001:db8::1"]), "forwarded");
  // The same packet in router mode is ordinary 6to4 traffic.
  assert.equal(ingress(policyWith(), PEER, [PEER6, OURS6]), "forwarded");
  // A native source to our own 6to4 prefix does not loop.
  assert.equal(ingress(relay, PEER, ["2001:db8::1", OURS6]), "forwarded");
  // The relay's own 2002:V4:: (RFC 3068 §2.5) is for the relay itself: a site's probe.
  const own = OURS6.split(":").slice(0, 3).join(":") + "::";
  assert.equal(ingress(relay, PEER, [PEER6, own]), "forwarded");
  assert.equal(ingress(relay, PEER, [PEER6, `${own}1`]), "relay-loop");
});

Deno.test("ingress: peer-not-allowed drops senders outside the peer allow list (RFC 3056 §5.2)", () => {
  const policy = policyWith({ allowPeers: ["8.0.0.0/24", "7.7.7.7"] });
  assert.equal(
    ingress(policy, ["8.0.1.1", "9.0.0.2"], ["2002:800:101::1", OURS6]),
    "peer-not-allowed",
  );
  assert.equal(ingress(policy, PEER, [PEER6, OURS6]), "forwarded");
  assert.equal(ingress(policy, ["7.7.7.7", "9.0.0.2"], ["2002:707:707::1", OURS6]), "forwarded");
  // An empty list allows no one.
  assert.equal(ingress(policyWith({ allowPeers: [] }), PEER, [PEER6, OURS6]), "peer-not-allowed");
});

Deno.test("ingress: relay-not-allowed drops native sources from outside the relay allow list (RFC 7526 §6)", () => {
  const policy = policyWith({ allowRelays: ["192.88.99.0/24"] });
  assert.equal(ingress(policy, PEER, ["2001:db8::1", OURS6]), "relay-not-allowed");
  assert.equal(ingress(policy, ["192.88.99.1", "9.0.0.2"], ["2001:db8::1", OURS6]), "forwarded");
  // 6to4 sources are peers, not relays.
  assert.equal(ingress(policy, PEER, [PEER6, OURS6]), "forwarded");
  // Off by default.
  assert.equal(ingress(policyWith(), PEER, ["2001:db8::1", OURS6]), "forwarded");
});

Deno.test("ingress: ecn-ce-not-ect drops outer CE with inner Not-ECT, and forwards CE over ECT unchanged (RFC 6040 §4.2)", () => {
  const policy = policyWith();
  assert.equal(
    ingress(policy, PEER, [PEER6, OURS6], { outer: { tos: 3 }, inner: { trafficClass: 0 } }),
    "ecn-ce-not-ect",
  );
  const packet = ipv4Wrap(
    "8.0.0.1",
    "9.0.0.2",
    ipv6Packet(PEER6, OURS6, { trafficClass: 0xb8 | 2 }),
    {
      tos: 3,
    },
  );
  const before = packet.slice();
  const result = new IngressResult();
  assert.equal(policy.ingress(packet, 0, packet.length, result), 0);
  // The rewrite to CE is the ingress path's (tests/unit/dataplane/paths_test.ts).
  assert.deepEqual(packet, before, "the verdict changes no byte");
});

Deno.test("ingress: a dropped packet is left byte for byte as it was", () => {
  const policy = policyWith();
  const packet = ipv4Wrap("8.0.0.1", "9.0.0.2", ipv6Packet(PEER6, OURS6), { tos: 3 });
  const before = packet.slice();
  assert.equal(
    REASON_NAMES[policy.ingress(packet, 0, packet.length, new IngressResult())],
    "ecn-ce-not-ect",
  );
  assert.deepEqual(packet, before);
});

Deno.test("ingress: rules apply in the order of the IN table", () => {
  const policy = policyWith({
    allowPeers: ["1.1.1.1"],
    allowRelays: ["1.1.1.1"],
    sitePrefixes: ["2001:db8:5::/48"],
  });
  // Everything wrong at once: the outer source comes first.
  assert.equal(
    ingress(policy, ["10.0.0.1", "9.9.9.9"], ["fe80::1", "ff02::1"]),
    "outer-src-invalid",
  );
  assert.equal(
    ingress(policy, ["8.0.0.1", "9.9.9.9"], ["fe80::1", "ff02::1"]),
    "outer-dst-not-own",
  );
  assert.equal(ingress(policy, PEER, ["fe80::1", "ff02::1"]), "inner-src-invalid");
  assert.equal(ingress(policy, PEER, ["2002:800:9::1", "ff02::1"]), "inner-dst-invalid");
  assert.equal(ingress(policy, PEER, ["2002:800:9::1", "2002:900:9::1"]), "inner-dst-mismatch");
  assert.equal(ingress(policy, PEER, ["2002:800:9::1", OURS6]), "inner-src-spoofed");
  assert.equal(ingress(policy, PEER, ["2001:db8:5::1", "2001:db8:5::2"]), "native-to-native");
  assert.equal(ingress(policy, PEER, ["2001:db8:5::1", "2002:900:2::1"]), "inner-src-own-prefix");
  assert.equal(ingress(policy, PEER, ["2001:db8:6::1", "2002:900:2::1"]), "peer-not-allowed");
  assert.equal(
    ingress(policy, ["1.1.1.1", "9.0.0.2"], ["2002:800:1::1", "2001:db8:6::1"]),
    "inner-src-spoofed",
  );
  assert.equal(
    ingress(policy, ["1.1.1.1", "9.0.0.2"], ["2002:101:101::1", "2001:db8:6::1"]),
    "inner-dst-not-ours",
  );
});
