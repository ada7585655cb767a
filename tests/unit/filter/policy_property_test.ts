/**
 * Property tests of the policy against a reference written here, directly from the tables of
 * docs/filtering.md: IPv6 addresses as BigInt, address sets as CIDR text, no call to the rule
 * functions of lib/filter. Random settings, random packets built from interesting addresses,
 * 10 000 runs per direction; the exact reason must match.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseIpv6 } from "../../../lib/addr/mod.ts";
import {
  compilePolicy,
  EgressResult,
  IngressResult,
  type PolicySettings,
  REASON_NAMES,
} from "../../../lib/filter/mod.ts";
import { IN_REASONS, OUT_REASONS } from "../../lab/_reference.ts";
import { applyDecapsulationEcn, ipv4Ecn } from "../../../lib/packet/mod.ts";
import { encapsulate } from "./_policy.ts";

const RUNS = 10_000;

// ---- the reference ---------------------------------------------------------------------

function v4(text: string): number {
  const [a, b, c, d] = text.split(".").map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function v4Cidr(text: string): (a: number) => boolean {
  const [addr, len] = text.split("/");
  const n = Number(len ?? 32);
  const base = v4(addr);
  const shift = 32 - n;
  return (a) => n === 0 || Math.floor(a / 2 ** shift) === Math.floor(base / 2 ** shift);
}

// C4 (RFC 3964 §5.3.1, RFC 3056 §9) as docs/filtering.md lists it.
const C4_LIST = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "127.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map(v4Cidr);
// The strict additions: the other RFC 6890 non-global blocks (not the relay anycast block).
const STRICT_LIST = [
  "100.64.0.0/10",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
].map(v4Cidr);

function big(bytes: Uint8Array, offset = 0): bigint {
  let x = 0n;
  for (let i = 0; i < 16; i++) x = (x << 8n) | BigInt(bytes[offset + i]);
  return x;
}

function v6Cidr(text: string): (a: bigint) => boolean {
  const [addr, len] = text.split("/");
  const n = BigInt(len);
  const base = big(parseIpv6(addr));
  return (a) => (a >> (128n - n)) === (base >> (128n - n));
}

const IN_2002 = v6Cidr("2002::/16");
const C6_LIST = ["::/16", "fe80::/10", "fec0::/10", "ff00::/8"].map(v6Cidr);
const MULTICAST6 = v6Cidr("ff00::/8");
const ZERO96 = v6Cidr("::/96");
const MAPPED = v6Cidr("::ffff:0:0/96");

interface Model {
  s: PolicySettings;
  own4: number;
  c4(a: number): boolean;
  c6(a: bigint): boolean;
  c6src(a: bigint): boolean;
  emb(a: bigint): number | undefined;
  site(a: bigint): boolean;
  local(a: number): boolean;
  inPeers(a: number): boolean;
  inRelays(a: number): boolean;
}

function model(s: PolicySettings): Model {
  const own4 = v4(s.ipv4);
  const broadcasts = s.localBroadcasts.map(v4);
  const c4 = (a: number) =>
    C4_LIST.some((f) => f(a)) || (s.strictBogons && STRICT_LIST.some((f) => f(a))) ||
    broadcasts.includes(a);
  const emb6to4 = (a: bigint) => Number((a >> 80n) & 0xffffffffn);
  const c6 = (a: bigint) => C6_LIST.some((f) => f(a)) || (IN_2002(a) && c4(emb6to4(a)));
  const c6src = (a: bigint) => MULTICAST6(a) || a === 1n || (ZERO96(a) && a !== 0n) || MAPPED(a);
  let in6rd = (_: bigint) => false;
  let decode6rd = (_: bigint) => 0;
  const sitePrefixes = [
    `2002:${(own4 >>> 16).toString(16)}:${(own4 & 0xffff).toString(16)}::/48`,
    ...s.sitePrefixes,
  ];
  if (s.sixRd) {
    const { prefix, ipv4MaskLength: k, ipv4CommonPrefix } = s.sixRd;
    const plen = BigInt(prefix.split("/")[1]);
    in6rd = v6Cidr(prefix);
    const bits = BigInt(32 - k);
    // The common high bits of the domain: the top k bits of the common prefix.
    const high = k === 0 ? 0 : Math.floor(v4(ipv4CommonPrefix) / 2 ** (32 - k)) * 2 ** (32 - k);
    decode6rd = (a) => (Number((a >> (128n - plen - bits)) & ((1n << bits) - 1n)) + high) >>> 0;
    // Our delegated prefix: the 6rd prefix then own4's low bits.
    const base = big(parseIpv6(prefix.split("/")[0]));
    const low = BigInt(own4) & ((1n << bits) - 1n);
    const ours = base | (low << (128n - plen - bits));
    const dl = plen + bits;
    sitePrefixes.push(`${bigToText(ours)}/${dl}`);
  }
  const site = sitePrefixes.map(v6Cidr);
  const peers = (s.allowPeers ?? []).map(v4Cidr);
  const relays = (s.allowRelays ?? []).map(v4Cidr);
  return {
    s,
    own4,
    c4,
    c6,
    c6src,
    emb: (a) => IN_2002(a) ? emb6to4(a) : in6rd(a) ? decode6rd(a) : undefined,
    site: (a) => site.some((f) => f(a)),
    local: (a) => a === own4 || s.localIpv4.map(v4).includes(a),
    inPeers: (a) => peers.some((f) => f(a)),
    inRelays: (a) => relays.some((f) => f(a)),
  };
}

function bigToText(a: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((a >> BigInt(16 * i)) & 0xffffn).toString(16));
  return groups.join(":");
}

/** The egress table of docs/filtering.md; returns the reason, or "forwarded:<outer IPv4>". */
function referenceEgress(m: Model, p: Uint8Array): string {
  if (m.s.ownIpv4Unavailable === true) return "own-ipv4-unavailable";
  if (p.length < 40 || p[0] >> 4 !== 6) return "malformed";
  const plen = (p[4] << 8) | p[5];
  if (40 + plen > p.length) return "malformed";
  const src = big(p, 8);
  const dst = big(p, 24);
  if (m.c6(src)) return "src-invalid";
  if (m.c6(dst)) return "dst-invalid";
  const se = m.emb(src);
  const de = m.emb(dst);
  if (se !== undefined && se !== m.own4) return "src-not-own";
  if (de !== undefined && m.local(de)) return "dst-own-ipv4";
  const relay = m.s.mode !== "return-path" && m.s.relay !== undefined ? v4(m.s.relay) : undefined;
  let outer: number;
  if (de !== undefined) {
    if (m.c4(de)) return "dst-ipv4-invalid";
    outer = de;
  } else if (se === undefined) {
    if (m.s.mode === "router" && relay !== undefined && m.site(src)) outer = relay;
    else return "native-to-native";
  } else {
    if (relay === undefined) return "no-relay";
    outer = relay;
  }
  if (40 + plen > m.s.mtu) return "too-big";
  return `forwarded:${outer}`;
}

// RFC 6040 §4.2 Figure 4: [inner][outer] → new inner, -1 = drop (Not-ECT 0, ECT(1) 1, ECT(0) 2, CE 3).
const FIGURE_4 = [
  [0, 0, 0, -1],
  [1, 1, 1, 3],
  [2, 1, 2, 3],
  [3, 3, 3, 3],
];

/** The ingress table of docs/filtering.md; returns the reason. */
function referenceIngress(m: Model, p: Uint8Array): string {
  const s = m.s;
  if (s.mode === "return-path") {
    if (s.allowPeers === undefined && s.allowRelays === undefined) return "decap-disabled";
    if (p.length < 20) return "malformed";
    const src4 = ((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0;
    if (!m.inPeers(src4) && !m.inRelays(src4)) return "decap-disabled";
  }
  if (p.length < 20 || p[0] >> 4 !== 4) return "malformed";
  const ihl = (p[0] & 15) * 4;
  const total = (p[2] << 8) | p[3];
  if (ihl < 20 || total < ihl || total > p.length) return "malformed";
  if (p[9] !== 41) return "malformed";
  if ((p[6] & 0x20) !== 0 || (((p[6] & 0x1f) << 8) | p[7]) !== 0) return "malformed";
  const payload = total - ihl;
  if (payload < 40 || p[ihl] >> 4 !== 6) return "malformed";
  const plen = (p[ihl + 4] << 8) | p[ihl + 5];
  if (40 + plen > payload) return "malformed";
  const src4 = ((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0;
  const dst4 = ((p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19]) >>> 0;
  const src = big(p, ihl + 8);
  const dst = big(p, ihl + 24);
  if (m.c4(src4)) return "outer-src-invalid";
  if (dst4 !== m.own4) return "outer-dst-not-own";
  if (m.c6(src) || m.c6src(src)) return "inner-src-invalid";
  if (m.c6(dst)) return "inner-dst-invalid";
  const se = m.emb(src);
  const de = m.emb(dst);
  if (de !== undefined && de !== dst4) return "inner-dst-mismatch";
  if (se !== undefined && se !== src4) return "inner-src-spoofed";
  if (se === undefined && de === undefined) return "native-to-native";
  if (s.mode === "router" && !m.site(dst)) return "inner-dst-not-ours";
  if (m.site(src)) return "inner-src-own-prefix";
  // The relay's own 2002:V4:: (RFC 3068 §2.5, low 80 bits zero) is delivered, not relayed.
  const relayOwn = (dst & ((1n << 80n) - 1n)) === 0n;
  if (s.mode === "relay" && de !== undefined && !relayOwn && (se !== undefined || !m.site(dst))) {
    return "relay-loop";
  }
  if (s.allowPeers !== undefined && !m.inPeers(src4)) return "peer-not-allowed";
  if (s.allowRelays !== undefined && se === undefined && !m.inRelays(src4)) {
    return "relay-not-allowed";
  }
  if (FIGURE_4[(p[ihl + 1] >> 4) & 3][p[1] & 3] < 0) return "ecn-ce-not-ect";
  return "forwarded";
}

// ---- generators --------------------------------------------------------------------------

const IPV4_POOL = [
  "9.0.0.2", // own4
  "9.0.0.3", // sometimes local
  "9.0.0.255", // sometimes a local broadcast
  "8.0.0.1",
  "8.0.0.9",
  "8.0.1.1",
  "192.88.99.1",
  "1.2.3.4",
  "128.0.0.1",
  "203.0.114.1",
  "10.0.0.1",
  "127.0.0.1",
  "0.0.0.1",
  "172.16.5.4",
  "172.32.0.1",
  "192.168.1.1",
  "169.254.1.1",
  "224.0.0.5",
  "239.1.1.1",
  "240.0.0.1",
  "255.255.255.255",
  "100.64.0.1",
  "192.0.2.1",
  "198.51.100.1",
  "203.0.113.1",
  "198.18.0.1",
  "192.0.0.1",
].map(v4);

const ipv4Arb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...IPV4_POOL) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);

function bytesOf(text: string): Uint8Array {
  return parseIpv6(text);
}

const SPECIALS = [
  "::",
  "::1",
  "::8.0.0.1",
  "::ffff:8.0.0.1",
  "fe80::1",
  "febf::1",
  "fec0::1",
  "ff02::1",
  "ff0e::1",
  "fe00::1",
  "2a00:1450:5::1", // a configured site prefix
  "2a00:1451::1", // another one
  "2a00:1450:6::1",
  "2400:cb00::1",
  "2001:db9::1",
].map(bytesOf);

const ipv6Arb: fc.Arbitrary<Uint8Array> = fc.oneof(
  // 6to4 with an interesting IPv4.
  {
    weight: 4,
    arbitrary: fc.tuple(ipv4Arb, fc.uint8Array({ minLength: 10, maxLength: 10 })).map(
      ([a, rest]) => {
        const b = new Uint8Array(16);
        b[0] = 0x20;
        b[1] = 0x02;
        new DataView(b.buffer).setUint32(2, a);
        b.set(rest, 6);
        return b;
      },
    ),
  },
  // 6rd-shaped (2001:db8::/32), for mask length 0 or 8.
  {
    weight: 2,
    arbitrary: fc.tuple(ipv4Arb, fc.boolean(), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(
      ([a, mask8, rest]) => {
        const b = new Uint8Array(16);
        b.set([0x20, 0x01, 0x0d, 0xb8]);
        if (mask8) {
          b[4] = (a >>> 16) & 255;
          b[5] = (a >>> 8) & 255;
          b[6] = a & 255;
          b[7] = rest[0];
        } else {
          new DataView(b.buffer).setUint32(4, a);
        }
        b.set(rest, 8);
        return b;
      },
    ),
  },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIALS).map((b) => b.slice()) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }) },
);

const settingsArb: fc.Arbitrary<PolicySettings> = fc.record({
  mode: fc.constantFrom("router" as const, "return-path" as const, "relay" as const),
  ipv4: fc.constant("9.0.0.2"),
  localIpv4: fc.constantFrom([], ["9.0.0.3"], ["9.0.0.3", "8.0.0.1"]),
  localBroadcasts: fc.constantFrom([], ["9.0.0.255"]),
  relay: fc.option(fc.constantFrom("192.88.99.1", "8.0.0.9"), { nil: undefined }),
  sitePrefixes: fc.constantFrom([], ["2a00:1450:5::/48"], ["2a00:1450:5::/48", "2a00:1451::/32"]),
  allowPeers: fc.option(fc.constantFrom([], ["8.0.0.0/24"], ["8.0.0.0/8", "192.88.99.1"]), {
    nil: undefined,
  }),
  allowRelays: fc.option(fc.constantFrom([], ["192.88.99.0/24"]), { nil: undefined }),
  strictBogons: fc.boolean(),
  sixRd: fc.option(
    fc.constantFrom(
      { prefix: "2001:db8::/32", ipv4MaskLength: 0, ipv4CommonPrefix: "0.0.0.0" },
      { prefix: "2001:db8::/32", ipv4MaskLength: 8, ipv4CommonPrefix: "9.0.0.0" },
    ),
    { nil: undefined },
  ),
  mtu: fc.integer({ min: 1280, max: 1480 }),
  ttl: fc.integer({ min: 1, max: 255 }),
  dscp: fc.constantFrom("copy" as const, "zero" as const),
  // Rarely: own4 has left the host and egress is paused (issue 16).
  ownIpv4Unavailable: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, {
    weight: 1,
    arbitrary: fc.constant(true),
  }),
}, {
  requiredKeys: [
    "mode",
    "ipv4",
    "localIpv4",
    "localBroadcasts",
    "sitePrefixes",
    "strictBogons",
    "mtu",
    "ttl",
    "dscp",
  ],
});

/**
 * A traffic-class or TOS byte whose two ECN bits (RFC 3168 §5) are `ecn` more than half of the
 * time (5/8). The ECN rule comes last on ingress, so only packets that pass every other check
 * reach it; with uniform bytes the CE-outside, Not-ECT-inside case came up about 5 times in
 * 10 000 runs and now and then not at all, failing the coverage check below.
 */
function byteWithEcn(ecn: number): fc.Arbitrary<number> {
  return fc.tuple(
    fc.integer({ min: 0, max: 63 }),
    fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(ecn)),
  ).map(([high, bits]) => (high << 2) | bits);
}

interface Ipv6Spec {
  src: Uint8Array;
  dst: Uint8Array;
  tc: number;
  flow: number;
  nextHeader: number;
  payload: number;
  /** 0 none, 1 truncate, 2 version, 3 payload length + 1, 4 trailing bytes. */
  damage: number;
}

const ipv6SpecArb: fc.Arbitrary<Ipv6Spec> = fc.record({
  src: ipv6Arb,
  dst: ipv6Arb,
  tc: byteWithEcn(0), // Not-ECT
  flow: fc.integer({ min: 0, max: 0xfffff }),
  nextHeader: fc.integer({ min: 0, max: 255 }),
  payload: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1200, max: 1500 })),
  damage: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 4 }),
  }),
});

function buildIpv6(spec: Ipv6Spec): Uint8Array {
  let p = new Uint8Array(40 + spec.payload);
  p[0] = 0x60 | (spec.tc >> 4);
  p[1] = ((spec.tc & 15) << 4) | (spec.flow >> 16);
  p[2] = (spec.flow >> 8) & 255;
  p[3] = spec.flow & 255;
  p[4] = spec.payload >> 8;
  p[5] = spec.payload & 255;
  p[6] = spec.nextHeader;
  p[7] = 64;
  p.set(spec.src, 8);
  p.set(spec.dst, 24);
  for (let i = 40; i < p.length; i++) p[i] = i & 255;
  if (spec.damage === 1) p = p.slice(0, Math.min(p.length - 1, 39 + (spec.payload % 3)));
  if (spec.damage === 2) p[0] = (p[0] & 15) | 0x40;
  if (spec.damage === 3) p[5] += 1;
  if (spec.damage === 4) {
    const q = new Uint8Array(p.length + 7);
    q.set(p);
    p = q;
  }
  return p;
}

interface Ipv4Spec {
  src: number;
  dst: number;
  tos: number;
  ihlExtra: number;
  flags: number;
  protocol: number;
  /** 0 none, 1 truncate, 2 total length + 1, 3 version 6. */
  damage: number;
}

const ipv4SpecArb: fc.Arbitrary<Ipv4Spec> = fc.record({
  src: ipv4Arb,
  dst: fc.oneof({ weight: 4, arbitrary: fc.constant(v4("9.0.0.2")) }, {
    weight: 1,
    arbitrary: ipv4Arb,
  }),
  tos: byteWithEcn(3), // CE
  ihlExtra: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 10 }),
  }),
  flags: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 0x4000) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 0xffff }),
  }),
  protocol: fc.oneof({ weight: 10, arbitrary: fc.constant(41) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 255 }),
  }),
  damage: fc.oneof({ weight: 10, arbitrary: fc.constant(0) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3 }),
  }),
});

function buildIpv4(spec: Ipv4Spec, inner: Uint8Array): Uint8Array {
  const ihl = 20 + 4 * spec.ihlExtra;
  let p = new Uint8Array(ihl + inner.length);
  const total = p.length;
  p[0] = 0x40 | (ihl / 4);
  p[1] = spec.tos;
  p[2] = total >> 8;
  p[3] = total & 255;
  p[6] = spec.flags >> 8;
  p[7] = spec.flags & 255;
  p[8] = 64;
  p[9] = spec.protocol;
  new DataView(p.buffer).setUint32(12, spec.src);
  new DataView(p.buffer).setUint32(16, spec.dst);
  for (let i = 20; i < ihl; i++) p[i] = 1; // NOP options
  p.set(inner, ihl);
  if (spec.damage === 1) p = p.slice(0, Math.max(0, p.length - 1 - (spec.tos % 50)));
  if (spec.damage === 2) p[3] += 1;
  if (spec.damage === 3) p[0] = 0x65;
  return p;
}

// ---- the properties ----------------------------------------------------------------------

Deno.test("egress() gives the reason the reference gives for random packets and settings", () => {
  const result = new EgressResult();
  const seen = new Set<string>();
  fc.assert(
    fc.property(settingsArb, ipv6SpecArb, (settings, spec) => {
      const policy = compilePolicy(settings);
      const packet = buildIpv6(spec);
      const buf = new Uint8Array(20 + packet.length);
      buf.set(packet, 20);
      const code = policy.egress(buf, 20, packet.length, result);
      const got = REASON_NAMES[code] === "forwarded"
        ? `forwarded:${result.outerDst}`
        : REASON_NAMES[code];
      assert.equal(got, referenceEgress(model(settings), packet));
      seen.add(REASON_NAMES[code]);
      // Egress never changes the packet.
      assert.deepEqual(buf.subarray(20), packet);
    }),
    { numRuns: RUNS },
  );
  // The generator reaches every OUT reason, so the comparison means something.
  assert.deepEqual(
    [...OUT_REASONS, "forwarded"].filter((r) => !seen.has(r)),
    [],
  );
});

Deno.test("ingress() gives the reason the reference gives for random packets and settings", () => {
  const result = new IngressResult();
  const seen = new Set<string>();
  fc.assert(
    fc.property(settingsArb, ipv4SpecArb, ipv6SpecArb, fc.nat(3), (settings, outer, inner, fit) => {
      const policy = compilePolicy(settings);
      const innerBytes = buildIpv6(inner);
      // Often make 6to4 addresses embed the outer addresses, so later rules are reached.
      const view = new DataView(innerBytes.buffer);
      if (innerBytes.length >= 40 && (fit & 1) && innerBytes[8] === 0x20 && innerBytes[9] === 2) {
        view.setUint32(10, outer.src);
      }
      if (innerBytes.length >= 40 && (fit & 2) && innerBytes[24] === 0x20 && innerBytes[25] === 2) {
        view.setUint32(26, outer.dst);
      }
      const packet = buildIpv4(outer, innerBytes);
      const before = packet.slice();
      const code = policy.ingress(packet, 0, packet.length, result);
      const expected = referenceIngress(model(settings), before);
      assert.equal(REASON_NAMES[code], expected);
      seen.add(expected);
      if (expected !== "forwarded") {
        assert.deepEqual(packet, before, "a drop changes nothing");
        return;
      }
      const ihl = (before[0] & 15) * 4;
      const length = 40 + ((before[ihl + 4] << 8) | before[ihl + 5]);
      assert.equal(result.innerOffset, ihl);
      assert.equal(result.innerLength, length);
      // The verdict changes nothing; the ingress path's ECN rewrite then changes only the
      // inner ECN bits, as RFC 6040 §4.2 says.
      assert.deepEqual(packet, before, "a verdict changes nothing");
      applyDecapsulationEcn(ipv4Ecn(packet, 0), packet, result.innerOffset);
      const ecn = FIGURE_4[(before[ihl + 1] >> 4) & 3][before[1] & 3];
      const expectedInner = before.slice(ihl, ihl + length);
      expectedInner[1] = (expectedInner[1] & 0xcf) | (ecn << 4);
      assert.deepEqual(packet.subarray(ihl, ihl + length), expectedInner);
    }),
    { numRuns: RUNS },
  );
  // The generator reaches every IN reason, so the comparison means something.
  const missing = [...IN_REASONS, "forwarded"].filter((r) => !seen.has(r));
  assert.deepEqual(missing, []);
});

Deno.test("egress() and ingress() never throw on random bytes, whatever the settings", () => {
  const e = new EgressResult();
  const i = new IngressResult();
  fc.assert(
    fc.property(
      settingsArb,
      fc.uint8Array({ maxLength: 120 }),
      fc.nat(30),
      (settings, bytes, cut) => {
        const policy = compilePolicy(settings);
        const length = Math.max(0, bytes.length - cut);
        const ec = policy.egress(bytes, 0, length, e);
        const ic = policy.ingress(bytes, 0, length, i);
        assert.ok(REASON_NAMES[ec] !== undefined && REASON_NAMES[ic] !== undefined);
        // Forwarded only when the reference agrees.
        assert.equal(REASON_NAMES[ic], referenceIngress(model(settings), bytes.slice(0, length)));
      },
    ),
    { numRuns: RUNS },
  );
});

Deno.test("the egress path's encapsulation then ingress at the peer gives back the identical inner packet", () => {
  const globalIpv4 = fc.integer({ min: 0, max: 0xffffffff }).filter((a) =>
    !C4_LIST.some((f) => f(a)) && !v4Cidr("100.64.0.0/10")(a)
  );
  fc.assert(
    fc.property(
      globalIpv4,
      globalIpv4,
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ minLength: 10, maxLength: 10 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xfffff }),
      fc.uint8Array({ maxLength: 1440 }),
      fc.boolean(),
      (a, b, srcRest, dstRest, tc, flow, payload, fromServer) => {
        fc.pre(a !== b);
        const text = (x: number) => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
        const base = {
          localIpv4: [],
          localBroadcasts: [],
          sitePrefixes: [],
          strictBogons: false,
          mtu: 1480,
          ttl: 64,
          dscp: "copy",
        } as const;
        // The sender: a 6to4 site A, or a return-path server at A with a native address.
        const sender = compilePolicy({
          ...base,
          mode: fromServer ? "return-path" : "router",
          ipv4: text(a),
        });
        const receiver = compilePolicy({ ...base, mode: "router", ipv4: text(b) });
        const inner = new Uint8Array(40 + payload.length);
        inner[0] = 0x60 | (tc >> 4);
        inner[1] = ((tc & 15) << 4) | (flow >> 16);
        inner[2] = (flow >> 8) & 255;
        inner[3] = flow & 255;
        inner[4] = payload.length >> 8;
        inner[5] = payload.length & 255;
        inner[6] = 17;
        inner[7] = 63;
        if (fromServer) {
          inner.set([0x2a, 0x00, 0x14, 0x50], 8);
          inner.set(srcRest, 12);
        } else {
          inner.set([0x20, 0x02], 8);
          new DataView(inner.buffer).setUint32(10, a);
          inner.set(srcRest.subarray(0, 10), 14);
        }
        inner.set([0x20, 0x02], 24);
        new DataView(inner.buffer).setUint32(26, b);
        inner.set(dstRest, 30);
        inner.set(payload, 40);
        const buf = new Uint8Array(20 + inner.length);
        buf.set(inner, 20);
        const out = new EgressResult();
        assert.equal(REASON_NAMES[sender.egress(buf, 20, inner.length, out)], "forwarded");
        assert.equal(out.outerDst, b);
        const n = encapsulate(sender, buf, 20, out);
        const wire = buf.slice(0, n);
        const got = new IngressResult();
        assert.equal(REASON_NAMES[receiver.ingress(wire, 0, wire.length, got)], "forwarded");
        assert.deepEqual(wire.subarray(got.innerOffset, got.innerOffset + got.innerLength), inner);
      },
    ),
    { numRuns: 2000 },
  );
});
