/**
 * Test helpers: build IPv6 and IPv4-in-IPv4 packets from text addresses, written here without
 * the code under test (no lib/packet import), so tests do not check our code against itself.
 *
 * @module
 */
import { parseIpv4, parseIpv6 } from "../../../lib/addr/mod.ts";

/** Options of {@link ipv6Packet}. */
export interface Ipv6PacketOptions {
  /** Traffic class (default 0). */
  trafficClass?: number;
  /** Flow label (default 0). */
  flowLabel?: number;
  /** Next header (default 59, no next header). */
  nextHeader?: number;
  /** Hop limit (default 64). */
  hopLimit?: number;
  /** Payload (default 8 bytes 0xab). */
  payload?: Uint8Array;
  /** Bytes of headroom before the packet (default 0). */
  headroom?: number;
}

/** Builds an IPv6 packet; the packet starts at `headroom`. */
export function ipv6Packet(src: string, dst: string, options: Ipv6PacketOptions = {}): Uint8Array {
  const payload = options.payload ?? new Uint8Array(8).fill(0xab);
  const h = options.headroom ?? 0;
  const buf = new Uint8Array(h + 40 + payload.length);
  const tc = options.trafficClass ?? 0;
  const fl = options.flowLabel ?? 0;
  buf[h] = 0x60 | (tc >> 4);
  buf[h + 1] = ((tc & 0xf) << 4) | ((fl >> 16) & 0xf);
  buf[h + 2] = (fl >> 8) & 0xff;
  buf[h + 3] = fl & 0xff;
  buf[h + 4] = payload.length >> 8;
  buf[h + 5] = payload.length & 0xff;
  buf[h + 6] = options.nextHeader ?? 59;
  buf[h + 7] = options.hopLimit ?? 64;
  buf.set(parseIpv6(src), h + 8);
  buf.set(parseIpv6(dst), h + 24);
  buf.set(payload, h + 40);
  return buf;
}

/** Options of {@link ipv4Wrap}. */
export interface Ipv4WrapOptions {
  /** TOS byte (default 0). */
  tos?: number;
  /** Protocol (default 41). */
  protocol?: number;
  /** TTL (default 64). */
  ttl?: number;
  /** Flags and fragment offset, 16 bits (default 0). */
  flagsFragment?: number;
}

/** Prepends a 20-byte IPv4 header (with a correct checksum) to a payload. */
export function ipv4Wrap(
  src: string,
  dst: string,
  payload: Uint8Array,
  options: Ipv4WrapOptions = {},
): Uint8Array {
  const buf = new Uint8Array(20 + payload.length);
  const total = buf.length;
  const ff = options.flagsFragment ?? 0;
  buf[0] = 0x45;
  buf[1] = options.tos ?? 0;
  buf[2] = total >> 8;
  buf[3] = total & 0xff;
  buf[4] = 0x12;
  buf[5] = 0x34;
  buf[6] = ff >> 8;
  buf[7] = ff & 0xff;
  buf[8] = options.ttl ?? 64;
  buf[9] = options.protocol ?? 41;
  new DataView(buf.buffer).setUint32(12, parseIpv4(src));
  new DataView(buf.buffer).setUint32(16, parseIpv4(dst));
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  buf[10] = c >> 8;
  buf[11] = c & 0xff;
  buf.set(payload, 20);
  return buf;
}

/** Hex of bytes, for scapy and messages. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
