/**
 * A reference of the IN and OUT rules written from the specification (`docs/filtering.md`), for the hostile
 * traffic lab tests and the fuzz test: plain numbers and BigInt, CIDR text, no import of
 * `lib/filter` or `lib/addr`. Slow and obvious on purpose; 6rd is not modelled (the lab tests
 * do not configure a 6rd domain).
 *
 * @module
 */

/**
 * The drop reasons of docs/filtering.md's egress table, in table order, copied from it (not from
 * lib/filter): the names every test checks the product against. `malformed` (a packet that is
 * not IPv6) comes first, as the data plane checks it first in both directions, after
 * `own-ipv4-unavailable`, which is not about the packet: while own4 is not on this host (RFC
 * 3056 §2, §3) nothing leaves (issue 16).
 */
export const OUT_REASONS: readonly string[] = Object.freeze([
  "own-ipv4-unavailable",
  "malformed",
  "src-invalid",
  "dst-invalid",
  "src-not-own",
  "dst-own-ipv4",
  "dst-ipv4-invalid",
  "native-to-native",
  "no-relay",
  "too-big",
]);

/** The drop reasons of docs/filtering.md's ingress table, in table order, copied from it. */
export const IN_REASONS: readonly string[] = Object.freeze([
  "decap-disabled",
  "malformed",
  "outer-src-invalid",
  "outer-dst-not-own",
  "inner-src-invalid",
  "inner-dst-invalid",
  "inner-dst-mismatch",
  "inner-src-spoofed",
  "native-to-native",
  "inner-dst-not-ours",
  "inner-src-own-prefix",
  "relay-loop",
  "peer-not-allowed",
  "relay-not-allowed",
  "ecn-ce-not-ect",
]);

/** The settings the reference needs (a subset of the policy's, in plain form). */
export interface ReferenceSettings {
  /** The mode. */
  readonly mode: "router" | "return-path" | "relay";
  /** own4, dotted quad. */
  readonly own4: string;
  /** Every IPv4 address of the host (own4 may be absent: it is added). */
  readonly local: readonly string[];
  /** The broadcast address of every local subnet (part of C4). */
  readonly broadcasts: readonly string[];
  /** The relay, if any. */
  readonly relay?: string;
  /** Native prefixes of the site. */
  readonly sitePrefixes: readonly string[];
  /** The peer allow list, if any. */
  readonly allowPeers?: readonly string[];
  /** The relay allow list, if any. */
  readonly allowRelays?: readonly string[];
  /** The strict RFC 6890 set in C4. */
  readonly strictBogons?: boolean;
  /** The tunnel MTU. */
  readonly mtu: number;
  /** own4 is not on this host now (egress paused). */
  readonly ownIpv4Unavailable?: boolean;
  /** A 6rd domain (RFC 5969): prefix, common IPv4 bits and the IPv4 they come from. */
  readonly sixRd?: {
    readonly prefix: string;
    readonly ipv4MaskLength: number;
    readonly ipv4CommonPrefix: string;
  };
}

/** Parses a dotted quad (the reference's own parser, strict enough for test data). */
export function ipv4Of(text: string): number {
  const parts = text.split(".").map(Number);
  return ((parts[0] * 256 + parts[1]) * 256 + parts[2]) * 256 + parts[3];
}

/** Parses IPv6 text into a BigInt (handles `::` and a trailing dotted quad). */
export function ipv6Of(text: string): bigint {
  let head = text;
  let tailWords: number[] = [];
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (quad) {
    const v = ipv4Of(quad[1]);
    head = head.slice(0, -quad[1].length);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
    tailWords = [Math.floor(v / 65536), v % 65536];
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const words = (s: string | undefined) => (s ? s.split(":").filter((w) => w !== "") : []);
  const l = words(left).map((w) => parseInt(w, 16));
  const r = [...words(right).map((w) => parseInt(w, 16)), ...tailWords];
  const fill = right === undefined ? [] : new Array(8 - l.length - r.length).fill(0);
  const all = right === undefined ? [...l, ...r] : [...l, ...fill, ...r];
  return all.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

function v4Prefix(text: string): (a: number) => boolean {
  const [addr, len] = text.split("/");
  const n = Number(len ?? 32);
  const size = 2 ** (32 - n);
  const base = Math.floor(ipv4Of(addr) / size);
  return (a) => Math.floor(a / size) === base;
}

function v6Prefix(text: string): (a: bigint) => boolean {
  const [addr, len] = text.split("/");
  const shift = 128n - BigInt(len);
  const base = ipv6Of(addr) >> shift;
  return (a) => (a >> shift) === base;
}

// C4: RFC 3964 §5.3.1, RFC 3056 §9 (the list of docs/filtering.md).
const C4 = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "127.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
].map(v4Prefix);
const STRICT = [
  "100.64.0.0/10",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
].map(v4Prefix);
// C6: RFC 3964 §5.3.2 (plus 2002:V::/48 for V in C4, below).
const C6 = ["::/16", "fe80::/10", "fec0::/10", "ff00::/8"].map(v6Prefix);
const SIX_TO_FOUR = v6Prefix("2002::/16");
const MULTICAST = v6Prefix("ff00::/8");
const COMPATIBLE = v6Prefix("::/96");
const MAPPED = v6Prefix("::ffff:0:0/96");

/** The rules compiled for one configuration. */
export class Reference {
  readonly settings: ReferenceSettings;
  readonly #own4: number;
  readonly #local: Set<number>;
  readonly #broadcasts: Set<number>;
  readonly #site: ((a: bigint) => boolean)[];
  readonly #peers: ((a: number) => boolean)[] | undefined;
  readonly #relays: ((a: number) => boolean)[] | undefined;
  readonly #sixRd: ((a: bigint) => number | undefined) | undefined;

  /** Compiles the settings. */
  constructor(settings: ReferenceSettings) {
    this.settings = settings;
    this.#own4 = ipv4Of(settings.own4);
    this.#local = new Set([this.#own4, ...settings.local.map(ipv4Of)]);
    this.#broadcasts = new Set(settings.broadcasts.map(ipv4Of));
    const o = this.#own4;
    const own6to4 = `2002:${Math.floor(o / 65536).toString(16)}:${(o % 65536).toString(16)}::/48`;
    const site = [own6to4, ...settings.sitePrefixes];
    if (settings.sixRd !== undefined) {
      // RFC 5969 §7.1.1: the 6rd prefix, then the low 32 − k bits of the IPv4 address; the k
      // high bits are common to the domain.
      const { prefix, ipv4MaskLength: k, ipv4CommonPrefix } = settings.sixRd;
      const [text, len] = prefix.split("/");
      const plen = BigInt(len);
      const bits = BigInt(32 - k);
      const inPrefix = v6Prefix(prefix);
      const high = k === 0
        ? 0
        : Math.floor(ipv4Of(ipv4CommonPrefix) / 2 ** (32 - k)) * 2 ** (32 - k);
      this.#sixRd = (a) =>
        inPrefix(a) ? high + Number((a >> (128n - plen - bits)) & ((1n << bits) - 1n)) : undefined;
      const own = ipv6Of(text) | ((BigInt(o) & ((1n << bits) - 1n)) << (128n - plen - bits));
      site.push(`${bigText(own)}/${plen + bits}`);
    }
    this.#site = site.map(v6Prefix);
    this.#peers = settings.allowPeers?.map(v4Prefix);
    this.#relays = settings.allowRelays?.map(v4Prefix);
  }

  /** C4 (with the local broadcasts). */
  c4(a: number): boolean {
    return C4.some((f) => f(a)) ||
      (this.settings.strictBogons === true && STRICT.some((f) => f(a))) ||
      this.#broadcasts.has(a);
  }

  /** C6. */
  c6(a: bigint): boolean {
    return C6.some((f) => f(a)) || (SIX_TO_FOUR(a) && this.c4(emb(a)));
  }

  /** C6src (RFC 4213 §3.6). */
  c6src(a: bigint): boolean {
    return MULTICAST(a) || a === 1n || (COMPATIBLE(a) && a !== 0n) || MAPPED(a);
  }

  /** emb(a): the IPv4 in a 6to4 address or one of the 6rd domain; undefined for others. */
  embedded(a: bigint): number | undefined {
    return SIX_TO_FOUR(a) ? emb(a) : this.#sixRd?.(a);
  }

  /** In the site. */
  site(a: bigint): boolean {
    return this.#site.some((f) => f(a));
  }

  /**
   * The IN table for a whole IPv4 packet as the raw socket delivers it. Returns the reason and,
   * when forwarded, the inner IPv6 packet as it must appear on the TUN (ECN per RFC 6040 §4.2).
   */
  ingress(p: Uint8Array): { reason: string; inner?: Uint8Array } {
    const s = this.settings;
    const word = (i: number) => ((p[i] * 256 + p[i + 1]) * 256 + p[i + 2]) * 256 + p[i + 3];
    if (s.mode === "return-path") {
      if (this.#peers === undefined && this.#relays === undefined) {
        return { reason: "decap-disabled" };
      }
      if (p.length < 20) return { reason: "malformed" };
      const src = word(12);
      const named = (this.#peers ?? []).some((f) => f(src)) ||
        (this.#relays ?? []).some((f) => f(src));
      if (!named) return { reason: "decap-disabled" };
    }
    if (p.length < 20 || p[0] >> 4 !== 4) return { reason: "malformed" };
    const ihl = (p[0] & 15) * 4;
    const total = p[2] * 256 + p[3];
    if (ihl < 20 || total < ihl || total > p.length || p[9] !== 41) return { reason: "malformed" };
    if ((p[6] & 0x20) !== 0 || (p[6] & 0x1f) * 256 + p[7] !== 0) return { reason: "malformed" };
    const room = total - ihl;
    if (room < 40 || p[ihl] >> 4 !== 6) return { reason: "malformed" };
    const payload = p[ihl + 4] * 256 + p[ihl + 5];
    if (40 + payload > room) return { reason: "malformed" };
    const src4 = word(12);
    const dst4 = word(16);
    const src6 = big(p, ihl + 8);
    const dst6 = big(p, ihl + 24);
    if (this.c4(src4)) return { reason: "outer-src-invalid" };
    if (dst4 !== this.#own4) return { reason: "outer-dst-not-own" };
    if (this.c6(src6) || this.c6src(src6)) return { reason: "inner-src-invalid" };
    if (this.c6(dst6)) return { reason: "inner-dst-invalid" };
    const se = this.embedded(src6);
    const de = this.embedded(dst6);
    if (de !== undefined && de !== dst4) return { reason: "inner-dst-mismatch" };
    if (se !== undefined && se !== src4) return { reason: "inner-src-spoofed" };
    if (se === undefined && de === undefined) return { reason: "native-to-native" };
    if (s.mode === "router" && !this.site(dst6)) return { reason: "inner-dst-not-ours" };
    if (this.site(src6)) return { reason: "inner-src-own-prefix" };
    // The relay's own 2002:V4:: (RFC 3068 §2.5, low 80 bits zero) is delivered, not relayed.
    const relayOwn = (dst6 & ((1n << 80n) - 1n)) === 0n;
    if (
      s.mode === "relay" && de !== undefined && !relayOwn &&
      (se !== undefined || !this.site(dst6))
    ) {
      return { reason: "relay-loop" };
    }
    if (this.#peers !== undefined && !this.#peers.some((f) => f(src4))) {
      return { reason: "peer-not-allowed" };
    }
    if (this.#relays !== undefined && se === undefined && !this.#relays.some((f) => f(src4))) {
      return { reason: "relay-not-allowed" };
    }
    // RFC 6040 §4.2: outer CE on inner Not-ECT is dropped; CE → CE; ECT(1) on ECT(0) → ECT(1).
    const outerEcn = p[1] & 3;
    const innerEcn = (p[ihl + 1] >> 4) & 3;
    if (outerEcn === 3 && innerEcn === 0) return { reason: "ecn-ce-not-ect" };
    let ecn = innerEcn;
    if (innerEcn !== 0 && outerEcn === 3) ecn = 3;
    else if (innerEcn === 2 && outerEcn === 1) ecn = 1;
    const inner = p.slice(ihl, ihl + 40 + payload);
    inner[1] = (inner[1] & 0xcf) | (ecn << 4);
    return { reason: "forwarded", inner };
  }

  /**
   * The OUT table for an IPv6 packet read from the TUN. Returns the reason and, when forwarded,
   * the outer IPv4 destination.
   */
  egress(p: Uint8Array): { reason: string; outer?: number } {
    const s = this.settings;
    if (s.ownIpv4Unavailable === true) return { reason: "own-ipv4-unavailable" };
    if (p.length < 40 || p[0] >> 4 !== 6) return { reason: "malformed" };
    const length = 40 + p[4] * 256 + p[5];
    if (length > p.length) return { reason: "malformed" };
    const src6 = big(p, 8);
    const dst6 = big(p, 24);
    if (this.c6(src6)) return { reason: "src-invalid" };
    if (this.c6(dst6)) return { reason: "dst-invalid" };
    const se = this.embedded(src6);
    const de = this.embedded(dst6);
    if (se !== undefined && se !== this.#own4) return { reason: "src-not-own" };
    if (de !== undefined && this.#local.has(de)) return { reason: "dst-own-ipv4" };
    const relay = s.mode !== "return-path" && s.relay !== undefined ? ipv4Of(s.relay) : undefined;
    let outer: number;
    if (de !== undefined) {
      if (this.c4(de)) return { reason: "dst-ipv4-invalid" };
      outer = de;
    } else if (se === undefined) {
      if (s.mode === "router" && relay !== undefined && this.site(src6)) outer = relay;
      else return { reason: "native-to-native" };
    } else if (relay === undefined) {
      return { reason: "no-relay" };
    } else {
      outer = relay;
    }
    if (length > s.mtu) return { reason: "too-big" };
    return { reason: "forwarded", outer };
  }
}

function big(p: Uint8Array, offset: number): bigint {
  let x = 0n;
  for (let i = 0; i < 16; i++) x = (x << 8n) | BigInt(p[offset + i]);
  return x;
}

function bigText(a: bigint): string {
  const words: string[] = [];
  for (let i = 7; i >= 0; i--) words.push(((a >> BigInt(16 * i)) & 0xffffn).toString(16));
  return words.join(":");
}

function emb(a: bigint): number {
  return Number((a >> 80n) & 0xffffffffn);
}

/** Formats an IPv4 number as a dotted quad. */
export function ipv4Text(a: number): string {
  return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join(".");
}

/** Splits a file of records, each a 4-byte big-endian length then the bytes. */
export function readRecords(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + 4 <= bytes.length;) {
    const n = view.getUint32(i);
    out.push(bytes.slice(i + 4, i + 4 + n));
    i += 4 + n;
  }
  return out;
}

/**
 * Reads the packets of a pcap file (classic format, either byte order), without the link
 * header when the link type is Ethernet; raw IP (TUN) and Linux cooked captures are handled.
 */
export function readPcapPackets(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const linkType = view.getUint32(20, little);
  const skip = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 276 ? 20 : 0;
  const out: Uint8Array[] = [];
  for (let i = 24; i + 16 <= bytes.length;) {
    const captured = view.getUint32(i + 8, little);
    out.push(bytes.slice(i + 16 + skip, i + 16 + captured));
    i += 16 + captured;
  }
  return out;
}

/** A stable key of a packet's bytes, for multiset comparisons. */
export function packetKey(p: Uint8Array): string {
  let s = "";
  for (const b of p) s += b.toString(16).padStart(2, "0");
  return s;
}
