/**
 * The pure part of the one-way hop latency: reading the pcap files that `tcpdump` writes on the
 * tunnel interfaces of both sites (nanosecond timestamps), naming each packet by what stays the
 * same through the tunnel, and pairing A's copy with B's. Both namespaces share the host's clock,
 * so the difference of the two kernel timestamps is the time a packet spent between A's kernel
 * handing it to A's forwarder (the TUN's transmit tap) and B's forwarder handing it to B's kernel
 * (the TUN's receive tap): one hop through the forwarder pair and the veth.
 *
 * @module
 */

/** A capture timestamp, split so that nanoseconds since 1970 stay exact in doubles. */
export interface PcapTime {
  /** Seconds since the epoch. */
  readonly sec: number;
  /** Nanoseconds within the second (microseconds × 1000 for a microsecond capture). */
  readonly nsec: number;
}

/** One captured packet. */
export interface PcapRecord {
  /** When the kernel saw it. */
  readonly time: PcapTime;
  /** The captured bytes (at most the snap length), starting at the link-layer header. */
  readonly data: Uint8Array;
  /** The packet's length on the wire (may exceed `data.length`). */
  readonly originalLength: number;
}

/** A pcap file's link type and packets. */
export interface Pcap {
  /** LINKTYPE_* of the file (101: raw IP, as tcpdump writes for a TUN). */
  readonly linkType: number;
  /** The packets, in file order. */
  readonly records: readonly PcapRecord[];
}

/** LINKTYPE_RAW: each packet starts with its IPv4 or IPv6 header. */
export const LINKTYPE_RAW = 101;
/** LINKTYPE_LINUX_SLL: the "any" device's cooked header of 16 bytes. */
export const LINKTYPE_LINUX_SLL = 113;

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;

/**
 * Parses a classic pcap file (not pcapng), either byte order, micro- or nanosecond timestamps.
 * A record cut short at the end of the file (a capture stopped mid-write) is left out.
 *
 * @param bytes the file's content
 * @throws {SyntaxError} when the file is not a pcap file
 */
export function parsePcap(bytes: Uint8Array): Pcap {
  if (bytes.length < 24) throw new SyntaxError("Cannot read pcap: shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let little: boolean;
  let nano: boolean;
  const magicLe = view.getUint32(0, true);
  const magicBe = view.getUint32(0, false);
  if (magicLe === MAGIC_MICRO || magicLe === MAGIC_NANO) {
    little = true;
    nano = magicLe === MAGIC_NANO;
  } else if (magicBe === MAGIC_MICRO || magicBe === MAGIC_NANO) {
    little = false;
    nano = magicBe === MAGIC_NANO;
  } else {
    throw new SyntaxError("Cannot read pcap: bad magic number (pcapng is not supported)");
  }
  const linkType = view.getUint32(20, little) & 0x0fffffff;
  const records: PcapRecord[] = [];
  let at = 24;
  while (at + 16 <= bytes.length) {
    const sec = view.getUint32(at, little);
    const frac = view.getUint32(at + 4, little);
    const included = view.getUint32(at + 8, little);
    const originalLength = view.getUint32(at + 12, little);
    if (at + 16 + included > bytes.length) break;
    records.push({
      time: { sec, nsec: nano ? frac : frac * 1000 },
      data: bytes.subarray(at + 16, at + 16 + included),
      originalLength,
    });
    at += 16 + included;
  }
  return { linkType, records };
}

/** `b - a` in nanoseconds (exact while the difference is under 2^53 ns, about 104 days). */
export function diffNs(a: PcapTime, b: PcapTime): number {
  return (b.sec - a.sec) * 1e9 + (b.nsec - a.nsec);
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

const IPPROTO_ICMPV6 = 58;
const IPPROTO_UDP = 17;

/**
 * A name for an IPv6 packet that the tunnel does not change: the addresses, and for an ICMPv6
 * echo its type, identifier and sequence number, for UDP its ports and the first 16 payload bytes
 * (iperf3 puts a send time and a sequence number there). `undefined` for anything else, or a
 * packet captured too short to tell. Packets with the same name (a retransmission) are
 * ambiguous; {@link matchHops} keeps the first of each side.
 *
 * @param ip the packet, starting at its IPv6 header
 */
export function packetKey(ip: Uint8Array): string | undefined {
  if (ip.length < 40 || ip[0] >> 4 !== 6) return undefined;
  const next = ip[6];
  const addresses = hex(ip.subarray(8, 40));
  if (next === IPPROTO_ICMPV6) {
    // Echo request (128) and reply (129): type, code, checksum, identifier, sequence.
    if (ip.length < 48 || (ip[40] !== 128 && ip[40] !== 129)) return undefined;
    return `icmp6 ${addresses} ${ip[40]} ${hex(ip.subarray(44, 48))}`;
  }
  if (next === IPPROTO_UDP) {
    if (ip.length < 64) return undefined;
    return `udp ${addresses} ${hex(ip.subarray(40, 44))} ${hex(ip.subarray(48, 64))}`;
  }
  return undefined;
}

/**
 * The names of the datagrams in a packet: {@link packetKey}'s one name, or, for a UDP packet
 * whose payload is a whole number (≥ 2) of `udpSegmentBytes`-byte segments, one name per
 * segment. stf writes UDP datagrams of one flow into its TUN merged into one GSO packet, which
 * the capture sees once, before the kernel splits it: each datagram arrived then. Segments
 * beyond the captured bytes have no name.
 *
 * @param ip the packet, starting at its IPv6 header
 * @param udpSegmentBytes the payload size of every datagram the sender sent, if known
 */
export function packetKeys(ip: Uint8Array, udpSegmentBytes?: number): string[] {
  const key = packetKey(ip);
  if (key === undefined) return [];
  if (udpSegmentBytes === undefined || udpSegmentBytes < 16 || ip[6] !== IPPROTO_UDP) return [key];
  const payload = ((ip[4] << 8) | ip[5]) - 8;
  if (payload < 2 * udpSegmentBytes || payload % udpSegmentBytes !== 0) return [key];
  const keys: string[] = [];
  const head = `udp ${hex(ip.subarray(8, 40))} ${hex(ip.subarray(40, 44))}`;
  for (let at = 48; at + 16 <= ip.length && at < 48 + payload; at += udpSegmentBytes) {
    keys.push(`${head} ${hex(ip.subarray(at, at + 16))}`);
  }
  return keys;
}

/** The link-layer header's length of a link type, before the IP header. */
function linkHeaderBytes(linkType: number): number {
  if (linkType === LINKTYPE_RAW) return 0;
  if (linkType === LINKTYPE_LINUX_SLL) return 16;
  throw new SyntaxError(`Cannot read pcap: link type ${linkType} is not raw IP`);
}

/**
 * The datagrams of one capture by name ({@link packetKeys}), first occurrence only, and how
 * many packets had no name.
 *
 * @param capture the capture
 * @param udpSegmentBytes the sender's UDP payload size, to name the datagrams of merged packets
 */
export function indexCapture(
  capture: Pcap,
  udpSegmentBytes?: number,
): { byKey: Map<string, PcapTime>; unnamed: number } {
  const skip = linkHeaderBytes(capture.linkType);
  const byKey = new Map<string, PcapTime>();
  let unnamed = 0;
  for (const r of capture.records) {
    const keys = packetKeys(r.data.subarray(skip), udpSegmentBytes);
    if (keys.length === 0) unnamed++;
    for (const key of keys) if (!byKey.has(key)) byKey.set(key, r.time);
  }
  return { byKey, unnamed };
}

/** The one-way delays of the packets seen at both ends of a hop. */
export interface HopMatch {
  /** Delay of each matched packet, in microseconds, in the order of the sending capture. */
  readonly delaysUs: number[];
  /** Named packets of the sending side that the receiving side never saw (lost, or merged). */
  readonly unmatched: number;
  /** Matches dropped because the receiving copy was stamped before the sending one. */
  readonly negative: number;
}

/**
 * Pairs the packets of `from` (the sending site's TUN, outbound) with those of `to` (the
 * receiving site's TUN, inbound) by {@link packetKeys}, keeping those whose key satisfies
 * `select` (a direction: source and destination addresses are in the key).
 *
 * @param from the sending site's capture
 * @param to the receiving site's capture
 * @param select which keys to keep
 * @param udpSegmentBytes the sender's UDP payload size, to find datagrams in merged packets
 */
export function matchHops(
  from: Pcap,
  to: Pcap,
  select: (key: string) => boolean,
  udpSegmentBytes?: number,
): HopMatch {
  const sent = indexCapture(from).byKey;
  const received = indexCapture(to, udpSegmentBytes).byKey;
  const delaysUs: number[] = [];
  let unmatched = 0;
  let negative = 0;
  for (const [key, t0] of sent) {
    if (!select(key)) continue;
    const t1 = received.get(key);
    if (t1 === undefined) {
      unmatched++;
      continue;
    }
    const d = diffNs(t0, t1);
    if (d < 0) {
      negative++;
      continue;
    }
    delaysUs.push(d / 1000);
  }
  return { delaysUs, unmatched, negative };
}

/**
 * The hex of an IPv6 address as {@link packetKey} writes it, to select a direction
 * (`key.includes(src + dst)`).
 *
 * @param address a full or `::`-compressed IPv6 address
 */
export function ipv6Hex(address: string): string {
  const halves = address.split("::");
  if (halves.length > 2) throw new SyntaxError(`Cannot read "${address}" as an IPv6 address`);
  const [head, tail] = halves.length === 2 ? halves : [address, undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill("0");
  const groups = [...left, ...fill, ...right];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    throw new SyntaxError(`Cannot read "${address}" as an IPv6 address`);
  }
  return groups.map((g) => g.toLowerCase().padStart(4, "0")).join("");
}
