/**
 * Fuzzing of the packet codec and the policy with fast-check: 105 000 cases in all. It
 * complements `policy_property_test.ts` (packets assembled from specs, 10 000 runs per
 * direction) with mutation fuzzing: valid packets, mostly ones that would be forwarded, damaged
 * by random byte writes, bit flips, field rewrites, truncation and extension, placed at random
 * offsets in buffers with random bytes around them, with and without a 6rd domain. Each verdict is compared with a second,
 * independent reference (`tests/lab/_reference.ts`, written from docs/filtering.md with BigInt
 * and CIDR text, no call into `lib/filter` or `lib/addr`; also the oracle of the hostile-traffic
 * lab tests). The outer header stf writes and the ICMPv6 errors it builds are checked field by
 * field against RFC 4213 §3.5, RFC 6040 §4.1 and RFC 4443, with checksums computed here.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compilePolicy,
  EgressResult,
  IngressResult,
  type Policy,
  type PolicySettings,
  REASON_NAMES,
} from "../../../lib/filter/mod.ts";
import {
  applyDecapsulationEcn,
  FragmentationNeeded,
  ipv4Ecn,
  parseFragmentationNeeded,
  writeDestinationUnreachable,
  writePacketTooBig,
} from "../../../lib/packet/mod.ts";
import {
  IN_REASONS,
  ipv4Of,
  ipv6Of,
  OUT_REASONS,
  Reference,
  type ReferenceSettings,
} from "../../lab/_reference.ts";
import { encapsulate } from "./_policy.ts";

// ---- configurations ------------------------------------------------------------------------

interface Config {
  readonly key: string;
  readonly policy: Policy;
  readonly reference: Reference;
  readonly settings: PolicySettings;
}

const OWN4 = "9.0.0.2";
// A 6rd domain around own4: 8 common bits (9/8), delegated prefixes /64 (RFC 5969 §7.1.1).
const SIX_RD = { prefix: "2001:db8:6000::/40", ipv4MaskLength: 8, ipv4CommonPrefix: "9.0.0.0" };
const configs = new Map<string, Config>();

const configArb = fc.record({
  mode: fc.constantFrom("router" as const, "relay" as const, "return-path" as const),
  local: fc.constantFrom([] as string[], ["9.0.0.3", "8.0.0.1"]),
  broadcasts: fc.constantFrom([] as string[], ["9.0.0.255"]),
  relay: fc.constantFrom(undefined, "192.88.99.1", "8.0.0.9"),
  sitePrefixes: fc.constantFrom([] as string[], ["2001:db8:1::/48"], [
    "2001:db8:1::/48",
    "2a00::/12",
  ]),
  allowPeers: fc.constantFrom(undefined, [] as string[], ["8.0.0.0/24"], [
    "8.0.0.0/8",
    "192.88.99.1",
  ]),
  allowRelays: fc.constantFrom(undefined, ["192.88.99.0/24"]),
  strictBogons: fc.boolean(),
  mtu: fc.constantFrom(1280, 1400, 1480),
  ttl: fc.constantFrom(1, 64, 255),
  dscp: fc.constantFrom("copy" as const, "zero" as const),
  sixRd: fc.constantFrom(undefined, SIX_RD),
  // Rarely: own4 has left the host and egress is paused (issue 16).
  ownIpv4Unavailable: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, {
    weight: 1,
    arbitrary: fc.constant(true),
  }),
}).map((c): Config => {
  const key = JSON.stringify(c);
  const cached = configs.get(key);
  if (cached !== undefined) return cached;
  const settings: PolicySettings = {
    mode: c.mode,
    ipv4: OWN4,
    localIpv4: c.local,
    localBroadcasts: c.broadcasts,
    ...(c.relay === undefined ? {} : { relay: c.relay }),
    sitePrefixes: c.sitePrefixes,
    ...(c.allowPeers === undefined ? {} : { allowPeers: c.allowPeers }),
    ...(c.allowRelays === undefined ? {} : { allowRelays: c.allowRelays }),
    strictBogons: c.strictBogons,
    mtu: c.mtu,
    ttl: c.ttl,
    dscp: c.dscp,
    ...(c.sixRd === undefined ? {} : { sixRd: c.sixRd }),
    ...(c.ownIpv4Unavailable ? { ownIpv4Unavailable: true } : {}),
  };
  const reference: ReferenceSettings = {
    mode: c.mode,
    own4: OWN4,
    local: c.local,
    broadcasts: c.broadcasts,
    ...(c.relay === undefined ? {} : { relay: c.relay }),
    sitePrefixes: c.sitePrefixes,
    ...(c.allowPeers === undefined ? {} : { allowPeers: c.allowPeers }),
    ...(c.allowRelays === undefined ? {} : { allowRelays: c.allowRelays }),
    strictBogons: c.strictBogons,
    mtu: c.mtu,
    ...(c.sixRd === undefined ? {} : { sixRd: c.sixRd }),
    ...(c.ownIpv4Unavailable ? { ownIpv4Unavailable: true } : {}),
  };
  const config = {
    key,
    policy: compilePolicy(settings),
    reference: new Reference(reference),
    settings,
  };
  configs.set(key, config);
  return config;
});

// ---- addresses -----------------------------------------------------------------------------

const IPV4 = [
  OWN4,
  "9.0.0.3",
  "9.0.0.255",
  "8.0.0.1",
  "8.0.0.7",
  "8.0.1.1",
  "192.88.99.1",
  "8.0.0.9",
  "203.0.113.9",
  "10.9.9.9",
  "127.0.0.1",
  "0.0.0.7",
  "169.254.0.1",
  "172.31.0.1",
  "192.168.0.1",
  "224.0.0.1",
  "240.1.1.1",
  "255.255.255.255",
  "100.64.1.1",
].map(ipv4Of);

const ipv4Arb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...IPV4) },
  { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
);

function bytes6(a: bigint): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(a & 0xffn);
    a >>= 8n;
  }
  return b;
}

const SPECIAL6 = [
  "::",
  "::1",
  "::9.0.0.1",
  "::ffff:8.0.0.1",
  "fe80::1",
  "fec0::5",
  "ff02::1",
  "ff05::2",
  "2001:db8:1::1",
  "2001:db8:1:ffff::99",
  "2a0f::1",
  "2001:db8:2::1",
  "2400::1",
].map((t) => bytes6(ipv6Of(t)));

interface AddressSpec {
  readonly kind: number;
  readonly pool: number;
  readonly bytes: Uint8Array;
  readonly special: number;
}

const addressArb: fc.Arbitrary<AddressSpec> = fc.record({
  kind: fc.nat(12),
  pool: ipv4Arb,
  bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  special: fc.nat(SPECIAL6.length - 1),
});

/**
 * An IPv6 address: 6to4 of `hint` (often), 6to4 of a pool address, a special, a 6rd address
 * of `hint` or of a pool address (2001:db8:60 then the IPv4's low 24 bits), random.
 */
function address(spec: AddressSpec, hint: number): Uint8Array {
  if (spec.kind >= 11) {
    const b = spec.bytes.slice();
    b.set([0x20, 0x01, 0x0d, 0xb8, 0x60]);
    const a = spec.kind === 11 ? hint : spec.pool;
    b.set([(a >>> 16) & 255, (a >>> 8) & 255, a & 255], 5);
    return b;
  }
  if (spec.kind >= 10) return spec.bytes.slice();
  if (spec.kind >= 7) return SPECIAL6[spec.special].slice();
  const b = spec.bytes.slice();
  b[0] = 0x20;
  b[1] = 0x02;
  new DataView(b.buffer).setUint32(2, spec.kind < 5 ? hint : spec.pool);
  return b;
}

// ---- packets and mutations -----------------------------------------------------------------

function ipv6Packet(
  src: Uint8Array,
  dst: Uint8Array,
  tc: number,
  payload: Uint8Array,
  nextHeader: number,
): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p[0] = 0x60 | (tc >> 4);
  p[1] = (tc & 15) << 4;
  p[4] = payload.length >> 8;
  p[5] = payload.length & 255;
  p[6] = nextHeader;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

function checksum16(p: Uint8Array, from: number, to: number, initial = 0): number {
  let s = initial;
  for (let i = from; i < to; i += 2) s += (p[i] << 8) + (i + 1 < to ? p[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

function ipv4Packet(src: number, dst: number, tos: number, inner: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + inner.length);
  p[0] = 0x45;
  p[1] = tos;
  p[2] = p.length >> 8;
  p[3] = p.length & 255;
  p[8] = 64;
  p[9] = 41;
  new DataView(p.buffer).setUint32(12, src);
  new DataView(p.buffer).setUint32(16, dst);
  const c = ~checksum16(p, 0, 20) & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 255;
  p.set(inner, 20);
  return p;
}

type Mutation =
  | { kind: "byte"; at: number; value: number }
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "extend"; bytes: Uint8Array }
  | { kind: "field"; field: number; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(1600), value: fc.nat(255) }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(80), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat(1600) }),
  fc.record({
    kind: fc.constant("extend" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }),
  }),
  fc.record({ kind: fc.constant("field" as const), field: fc.nat(9), value: fc.nat(0xffff) }),
);

/** Applies mutations; `ihl` is where the IPv6 header is (0 for egress, 20 for ingress). */
function mutate(packet: Uint8Array, mutations: readonly Mutation[], ihl: number): Uint8Array {
  let p = packet;
  for (const m of mutations) {
    if (m.kind === "truncate") p = p.slice(0, m.at % (p.length + 1));
    else if (m.kind === "extend") {
      const q = new Uint8Array(p.length + m.bytes.length);
      q.set(p);
      q.set(m.bytes, p.length);
      p = q;
    } else if (p.length === 0) continue;
    else if (m.kind === "byte") p[m.at % p.length] = m.value;
    else if (m.kind === "flip") p[m.at % p.length] ^= 1 << m.bit;
    else {
      // Rewrite a header field: the ones the rules read.
      const at = [
        ihl, // IPv6 version / traffic class
        ihl + 1, // traffic class (ECN)
        ihl + 4, // payload length
        ihl + 6, // next header
        0, // IPv4 version / IHL
        1, // IPv4 TOS (ECN)
        2, // IPv4 total length
        6, // IPv4 flags / fragment offset
        9, // IPv4 protocol
        ihl + 8, // IPv6 source, first bytes
      ][m.field];
      if (at + 1 < p.length) {
        p[at] = m.value >> 8;
        p[at + 1] = m.value & 255;
      }
    }
  }
  return p;
}

const mutationsArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant([] as Mutation[]) },
  { weight: 5, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) },
);

const placementArb = fc.record({
  offset: fc.nat(40),
  slack: fc.nat(40),
  fill: fc.nat(255),
});

const payloadArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.nat(1500).map((n) => new Uint8Array(n).fill(0xa5)) },
);

// ---- ingress -------------------------------------------------------------------------------

const INGRESS_RUNS = 45_000;
const EGRESS_RUNS = 35_000;
const CODEC_RUNS = 25_000;

Deno.test("ingress() agrees with the reference on 45 000 mutated protocol-41 packets", () => {
  const result = new IngressResult();
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(
      configArb,
      ipv4Arb,
      fc.oneof({ weight: 5, arbitrary: fc.constant(ipv4Of(OWN4)) }, {
        weight: 1,
        arbitrary: ipv4Arb,
      }),
      fc.nat(255),
      fc.nat(255),
      payloadArb,
      mutationsArb,
      placementArb,
      addressArb,
      addressArb,
      (config, src4, dst4, tos, tc, payload, mutations, place, src6, dst6) =>
        checkIngress(config, { src4, dst4, tos, tc, payload, src6, dst6 }, mutations, place, {
          result,
          seen,
        }),
    ),
    { numRuns: INGRESS_RUNS },
  );
  // The mutations reach every IN reason in every mode they apply to.
  for (
    const r of ["forwarded", ...IN_REASONS]
  ) {
    assert.ok((seen.get(r) ?? 0) > 0, `reason ${r} reached`);
  }
});

interface IngressCase {
  readonly src4: number;
  readonly dst4: number;
  readonly tos: number;
  readonly tc: number;
  readonly payload: Uint8Array;
  readonly src6: AddressSpec;
  readonly dst6: AddressSpec;
}

function checkIngress(
  config: Config,
  c: IngressCase,
  mutations: readonly Mutation[],
  place: { offset: number; slack: number; fill: number },
  out: { result: IngressResult; seen: Map<string, number> },
): void {
  const { result, seen } = out;
  // Mostly a consistent packet (6to4 addresses that embed the outer ones), then damaged.
  const src6 = address(c.src6, c.src4);
  const dst6 = address(c.dst6, c.dst4);
  const inner = ipv6Packet(src6, dst6, c.tc, c.payload, c.src6.kind * 13 % 256);
  const packet = mutate(ipv4Packet(c.src4, c.dst4, c.tos, inner), mutations, 20);
  const buf = new Uint8Array(place.offset + packet.length + place.slack).fill(place.fill);
  buf.set(packet, place.offset);
  const before = buf.slice();
  const code = config.policy.ingress(buf, place.offset, packet.length, result);
  const expected = config.reference.ingress(packet);
  const got = REASON_NAMES[code];
  assert.equal(got, expected.reason, config.key);
  seen.set(got, (seen.get(got) ?? 0) + 1);
  assert.deepEqual(buf, before, "a verdict changes no byte");
  if (expected.inner === undefined) return;
  // What the ingress path does next: the RFC 6040 §4.2 ECN rewrite of the inner header.
  applyDecapsulationEcn(ipv4Ecn(buf, place.offset), buf, result.innerOffset);
  const ihl = (packet[0] & 15) * 4;
  assert.equal(result.innerOffset, place.offset + ihl);
  assert.equal(result.innerLength, expected.inner.length);
  assert.deepEqual(
    buf.subarray(result.innerOffset, result.innerOffset + result.innerLength),
    expected.inner,
  );
}

// ---- egress --------------------------------------------------------------------------------

Deno.test("egress() and the egress path's encapsulation agree with the reference and RFC 4213 on 35 000 mutated packets", () => {
  const result = new EgressResult();
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(
      configArb,
      ipv4Arb,
      fc.nat(255),
      payloadArb,
      mutationsArb,
      placementArb,
      addressArb,
      addressArb,
      (config, peer, tc, payload, mutations, place, srcSpec, dstSpec) => {
        const src6 = address(srcSpec, ipv4Of(OWN4));
        const dst6 = address(dstSpec, peer);
        const packet = mutate(ipv6Packet(src6, dst6, tc, payload, 17), mutations, 0);
        const offset = 20 + place.offset;
        const buf = new Uint8Array(offset + packet.length + place.slack).fill(place.fill);
        buf.set(packet, offset);
        const code = config.policy.egress(buf, offset, packet.length, result);
        const expected = config.reference.egress(packet);
        const got = REASON_NAMES[code];
        seen.set(got, (seen.get(got) ?? 0) + 1);
        assert.equal(got, expected.reason, config.key);
        assert.deepEqual(buf.subarray(offset, offset + packet.length), packet, "egress reads only");
        if (expected.outer === undefined) return;
        assert.equal(result.outerDst, expected.outer);
        const length = 40 + packet[4] * 256 + packet[5];
        assert.equal(result.innerLength, length);
        const total = encapsulate(config.policy, buf, offset, result);
        assert.equal(total, 20 + length);
        const o = buf.subarray(offset - 20, offset - 20 + total);
        const s = config.settings;
        // RFC 4213 §3.5 and RFC 6040 §4.1 (normal mode: the inner ECN copied, CE included).
        assert.equal(o[0], 0x45);
        const innerTc = ((packet[0] & 15) << 4) | (packet[1] >> 4);
        assert.equal(o[1], (s.dscp === "copy" ? innerTc & 0xfc : 0) | (innerTc & 3));
        assert.equal(o[2] * 256 + o[3], total);
        assert.equal(o[6], 0, "DF clear, not a fragment (RFC 4213 §3.2.1)");
        assert.equal(o[7], 0);
        assert.equal(o[8], s.ttl);
        assert.equal(o[9], 41);
        assert.equal(checksum16(o, 0, 20), 0xffff, "header checksum");
        assert.equal(new DataView(o.buffer, o.byteOffset).getUint32(12), ipv4Of(OWN4));
        assert.equal(new DataView(o.buffer, o.byteOffset).getUint32(16), expected.outer);
        assert.ok(!config.reference.c4(expected.outer), "never towards C4");
        assert.deepEqual(o.subarray(20), packet.subarray(0, length), "the inner packet unchanged");
      },
    ),
    { numRuns: EGRESS_RUNS },
  );
  for (
    const r of ["forwarded", ...OUT_REASONS]
  ) {
    assert.ok((seen.get(r) ?? 0) > 0, `reason ${r} reached`);
  }
});

// ---- codec: ICMPv6 errors and ICMPv4 "fragmentation needed" ---------------------------------

function icmpv6ChecksumOk(p: Uint8Array): boolean {
  const length = p.length - 40;
  let sum = checksum16(p, 8, 40); // source and destination
  sum = checksum16(new Uint8Array([0, 0, length >> 8, length & 255, 0, 0, 0, 58]), 0, 8, sum);
  return checksum16(p, 40, p.length, sum) === 0xffff;
}

Deno.test("ICMPv6 errors about 25 000 random packets are well formed or not sent (RFC 4443)", () => {
  const source = bytes6(ipv6Of("2002:900:2::1"));
  const out = new Uint8Array(1400);
  const fragNeeded = new FragmentationNeeded();
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 1600 }),
        fc.tuple(addressArb, addressArb, payloadArb, fc.nat(255)).map(([s, d, p, nh]) =>
          ipv6Packet(address(s, ipv4Of("8.0.0.1")), address(d, ipv4Of(OWN4)), 0, p, nh)
        ),
      ),
      mutationsArb,
      fc.boolean(),
      fc.nat(65535),
      (base, mutations, tooBig, value) => {
        const packet = mutate(base.slice(), mutations, 0);
        out.fill(0xee);
        const n = tooBig
          ? writePacketTooBig(out, 0, packet, 0, packet.length, { mtu: 1280 + value % 200, source })
          : writeDestinationUnreachable(out, 0, packet, 0, packet.length, {
            code: value % 7,
            source,
          });
        assert.ok(n === 0 || (n >= 48 && n <= 1280), `length ${n}`);
        if (packet.length >= 40) {
          const src = packet.subarray(8, 24);
          // RFC 4443 §2.4 e.6: never about an unspecified or multicast source.
          if (src.every((b) => b === 0) || src[0] === 0xff) assert.equal(n, 0);
        }
        if (n > 0) {
          const e = out.subarray(0, n);
          assert.equal(e[0] >> 4, 6);
          assert.equal(e[4] * 256 + e[5], n - 40);
          assert.equal(e[6], 58);
          assert.deepEqual(e.subarray(8, 24), source);
          assert.deepEqual(e.subarray(24, 40), packet.subarray(8, 24), "to the offender's source");
          assert.equal(e[40], tooBig ? 2 : 1);
          assert.ok(icmpv6ChecksumOk(e), "ICMPv6 checksum");
          assert.deepEqual(e.subarray(48), packet.subarray(0, n - 48), "the packet quoted");
          assert.equal(out[n], 0xee, "nothing written past the error");
        }
        // The ICMPv4 parser never throws on the same bytes either.
        const outer = ipv4Packet(ipv4Of("8.0.0.1"), ipv4Of(OWN4), 0, packet);
        outer[9] = 1;
        for (const p of [packet, outer]) {
          if (parseFragmentationNeeded(p, 0, p.length, ipv4Of(OWN4), fragNeeded)) {
            assert.ok(fragNeeded.mtu >= 0);
          }
        }
      },
    ),
    { numRuns: CODEC_RUNS },
  );
});
