/**
 * Receive coalescing (GRO) of TCP and UDP over IPv6 before writing into a TUN device opened
 * with `IFF_VNET_HDR`: consecutive in-order segments of one flow, received in one batch, become
 * one super-packet with a `virtio_net_hdr` (`VIRTIO_NET_HDR_GSO_TCPV6`, partial checksum), so
 * the kernel's TCP stack handles one packet instead of dozens. UDP datagrams of one flow with
 * the size of the first (the last may be shorter) become one `VIRTIO_NET_HDR_GSO_UDP_L4`
 * packet (Linux 6.2+), which the kernel splits again at the receiving socket
 * (`udp_rcv_segment`): one TUN write and one routing decision instead of one per datagram. The conditions follow the kernel's
 * `tcp_gro_receive` (RFC 9293 §3.1 fields): same addresses, ports, traffic class, flow label,
 * hop limit, header length, options, acknowledgment and window; the sequence number follows
 * on; only ACK (and PSH on the last) set; every segment but the last exactly the size of the
 * first. Every segment's checksum is verified before it joins (a bad one is written alone and
 * the kernel drops it). The model is wireguard-go's `tun/offload_linux.go`; this is our own
 * code.
 *
 * A packet that is already a super-packet when it arrives — the receiving host's own kernel
 * merged the segments on the uplink (GRO, {@link isPartialTcpSuperPacket}) before the raw
 * socket saw them — is written as one with a `virtio_net_hdr` of its own, cut for the
 * interface's MTU ({@link tcpSegmentSize}).
 *
 * The packets stay where they were received: a super-packet is written with `writev` from
 * its head (headers, first payload) and the following segments' payloads. Allocation-free
 * after construction.
 *
 * @module
 */
import { zeroBytes } from "./bytes.ts";
import { IPV6_HEADER_LENGTH, PROTOCOL_TCP, PROTOCOL_UDP } from "./headers.ts";
import {
  onesComplementSum,
  pseudoHeaderSum,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_LENGTH,
} from "./gso.ts";

/** Datagrams per UDP super-packet at most (the kernel's `UDP_MAX_SEGMENTS` is 128 or more). */
const MAX_UDP_SEGMENTS = 64;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** The largest TCP packet (header + payload) an IPv6 payload length can describe. */
const MAX_UPPER_LENGTH = 0xffff;

/**
 * Whether the checksum of the TCP or UDP packet after the IPv6 header verifies (RFC 8200 §8.1
 * pseudo-header included).
 *
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 * @param length the IPv6 packet's length
 * @param nextHeader the upper-layer protocol
 */
export function upperChecksumValid(
  buf: Uint8Array,
  ipv6: number,
  length: number,
  nextHeader: number,
): boolean {
  const upper = length - IPV6_HEADER_LENGTH;
  const sum = pseudoHeaderSum(buf, ipv6, upper, nextHeader) +
    onesComplementSum(buf, ipv6 + IPV6_HEADER_LENGTH, upper);
  return (sum % 0xffff) === 0 && sum !== 0;
}

/**
 * Whether the TCP-over-IPv6 packet at `buf[ipv6]` is a super-packet that this host's kernel
 * built on the uplink (GRO) before the raw socket received it. Linux merges consecutive 6in4
 * TCP segments of a flow (its `sit` GRO offload is part of IPv6, with or without the `sit`
 * driver) and leaves the TCP checksum field holding only the pseudo-header sum
 * (CHECKSUM_PARTIAL, `tcp6_gro_complete`); the raw socket copies the packet as it is. So: the
 * field equals the pseudo-header sum, and the full checksum does not verify. The kernel had
 * verified every segment before merging them. Where the segments began is lost, which TCP does
 * not mind: sequence numbers count bytes, not segments (RFC 9293 §3.4), so any cut is valid.
 *
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 * @param length the IPv6 packet's length
 */
export function isPartialTcpSuperPacket(buf: Uint8Array, ipv6: number, length: number): boolean {
  if (length <= IPV6_HEADER_LENGTH + 20 || buf[ipv6 + 6] !== PROTOCOL_TCP) return false;
  const t = ipv6 + IPV6_HEADER_LENGTH;
  const field = (buf[t + 16] << 8) | buf[t + 17];
  return field === pseudoHeaderSum(buf, ipv6, length - IPV6_HEADER_LENGTH, PROTOCOL_TCP) &&
    !upperChecksumValid(buf, ipv6, length, PROTOCOL_TCP);
}

/**
 * The payload bytes per segment that make TCP-over-IPv6 segments with this packet's headers
 * exactly `mtu` long: where a super-packet from {@link isPartialTcpSuperPacket} is cut again.
 *
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 * @param mtu the interface MTU
 */
export function tcpSegmentSize(buf: Uint8Array, ipv6: number, mtu: number): number {
  return mtu - IPV6_HEADER_LENGTH - ((buf[ipv6 + IPV6_HEADER_LENGTH + 12] >> 4) << 2);
}

/** Options of {@link TcpCoalescer}. */
export interface CoalescerOptions {
  /** Coalesce UDP datagrams too (`VIRTIO_NET_HDR_GSO_UDP_L4`); default false. */
  readonly udp?: boolean;
}

/**
 * Groups the packets of one received batch into output packets: each output is a single
 * packet or a super-packet of coalesced TCP segments. Use: `reset(buf)`, `add(offset,
 * length)` per packet (in receive order; each with {@link VIRTIO_NET_HDR_LENGTH} free bytes
 * before it), then for each output `j < outputs`, `build(j, parts)` and write the parts.
 */
export class TcpCoalescer {
  readonly #capacity: number;
  readonly #udp: boolean;
  // Whether this batch's UDP datagrams are coalesced (`#udp` and the caller's choice).
  #udpNow = false;
  #buf: Uint8Array = new Uint8Array(0);
  #packets = 0;
  #outputs = 0;
  // Per packet.
  readonly #offset: Int32Array;
  readonly #length: Int32Array;
  readonly #payloadLength: Int32Array;
  readonly #next: Int32Array;
  // Per output: head and tail packet, members, payload bytes, gso size, next sequence number.
  readonly #head: Int32Array;
  readonly #tail: Int32Array;
  readonly #members: Int32Array;
  readonly #payload: Int32Array;
  readonly #inputBytes: Int32Array;
  readonly #nextSeq: Float64Array;
  readonly #open: Uint8Array;
  // Per output: the gso size of a super-packet that arrived as one (0: none).
  readonly #arrivedGso: Int32Array;
  // Outputs still open to more segments.
  readonly #openList: Int32Array;
  #openCount = 0;

  /**
   * @param capacity the most packets per batch
   * @param options whether UDP is coalesced too
   */
  constructor(capacity: number, options: CoalescerOptions = {}) {
    this.#capacity = capacity;
    this.#udp = options.udp ?? false;
    this.#offset = new Int32Array(capacity);
    this.#length = new Int32Array(capacity);
    this.#payloadLength = new Int32Array(capacity);
    this.#next = new Int32Array(capacity);
    this.#head = new Int32Array(capacity);
    this.#tail = new Int32Array(capacity);
    this.#members = new Int32Array(capacity);
    this.#payload = new Int32Array(capacity);
    this.#inputBytes = new Int32Array(capacity);
    this.#nextSeq = new Float64Array(capacity);
    this.#open = new Uint8Array(capacity);
    this.#openList = new Int32Array(capacity);
    this.#arrivedGso = new Int32Array(capacity);
  }

  /**
   * The interface's MTU: super-packets that arrive as one ({@link isPartialTcpSuperPacket})
   * are cut into segments of this size when the kernel segments them (forwarding).
   */
  mtu = 1480;

  /** The number of output packets so far. */
  get outputs(): number {
    return this.#outputs;
  }

  /** The number of packets in output `j` (1 for a single packet). */
  members(j: number): number {
    return this.#members[j];
  }

  /** The IPv6 bytes of the packets that went into output `j` (before coalescing). */
  inputLength(j: number): number {
    return this.#inputBytes[j];
  }

  /** The IPv6 bytes of output `j` (40 + payload length after coalescing). */
  outputLength(j: number): number {
    const head = this.#head[j];
    if (this.#members[j] === 1) return this.#length[head];
    return this.#length[head] + this.#payload[j] - this.#payloadLength[head];
  }

  /**
   * Starts a batch.
   *
   * @param buf the buffer all packets of the batch are in
   * @param udp whether this batch's UDP datagrams may be coalesced (when the coalescer was
   *   made with `udp`); false writes each alone, as a small batch is written most cheaply
   */
  reset(buf: Uint8Array, udp = true): void {
    this.#udpNow = this.#udp && udp;
    this.#buf = buf;
    this.#packets = 0;
    this.#outputs = 0;
    this.#openCount = 0;
  }

  /**
   * Adds the next packet of the batch: the IPv6 packet at `buf[offset .. offset + length)`,
   * 40 + its payload length bytes.
   *
   * @param offset where it starts (at least 10)
   * @param length its length
   */
  add(offset: number, length: number): void {
    const i = this.#packets++;
    if (i >= this.#capacity) throw new RangeError(`Cannot add packet ${i}: capacity reached`);
    const buf = this.#buf;
    this.#offset[i] = offset;
    this.#length[i] = length;
    this.#next[i] = -1;
    const t = offset + IPV6_HEADER_LENGTH;
    const next = buf[offset + 6];
    if (next === PROTOCOL_UDP && this.#udpNow && length > IPV6_HEADER_LENGTH + 8) {
      this.#addUdp(i, offset, length);
      return;
    }
    const isTcp = length >= IPV6_HEADER_LENGTH + 20 && next === PROTOCOL_TCP;
    if (!isTcp) {
      this.#single(i);
      return;
    }
    const tcpHeader = (buf[t + 12] >> 4) << 2;
    const payload = length - IPV6_HEADER_LENGTH - tcpHeader;
    const flags = buf[t + 13];
    const candidate = tcpHeader >= 20 && payload > 0 && (flags & ~TCP_PSH) === TCP_ACK &&
      (buf[t + 12] & 0x0f) === 0 && upperChecksumValid(buf, offset, length, PROTOCOL_TCP);
    const found = this.#findFlow(offset);
    if (!candidate) {
      if (found >= 0) this.#close(found);
      const j = this.#single(i);
      if (payload > 0 && isPartialTcpSuperPacket(buf, offset, length)) {
        this.#arrivedGso[j] = tcpSegmentSize(buf, offset, this.mtu);
      }
      return;
    }
    this.#payloadLength[i] = payload;
    const seq = ((buf[t + 4] << 24) | (buf[t + 5] << 16) | (buf[t + 6] << 8) | buf[t + 7]) >>>
      0;
    if (found >= 0) {
      const j = this.#openList[found];
      if (this.#canAppend(j, i, seq, payload, tcpHeader)) {
        this.#next[this.#tail[j]] = i;
        this.#tail[j] = i;
        this.#members[j]++;
        this.#payload[j] += payload;
        this.#inputBytes[j] += length;
        this.#nextSeq[j] = (seq + payload) >>> 0;
        const gso = this.#payloadLength[this.#head[j]];
        if (payload < gso || (flags & TCP_PSH) !== 0) this.#close(found);
        return;
      }
      this.#close(found);
    }
    const j = this.#single(i);
    this.#payload[j] = payload;
    this.#nextSeq[j] = (seq + payload) >>> 0;
    if ((flags & TCP_PSH) === 0) {
      this.#open[j] = 1;
      this.#openList[this.#openCount++] = j;
    }
  }

  /**
   * Prepares output `j` for writing: for a super-packet, the head's payload length, PSH and
   * partial checksum are patched; the `virtio_net_hdr` is written in the 10 bytes before the
   * head. Fills `parts` with (offset, length) pairs to write with `writev`; returns their
   * number.
   *
   * @param j the output's index
   * @param parts receives the ranges (room for 2 × members)
   */
  build(j: number, parts: Int32Array): number {
    const buf = this.#buf;
    const head = this.#head[j];
    const offset = this.#offset[head];
    const v = offset - VIRTIO_NET_HDR_LENGTH;
    zeroBytes(buf, v, offset);
    parts[0] = v;
    parts[1] = this.#length[head] + VIRTIO_NET_HDR_LENGTH;
    const t = offset + IPV6_HEADER_LENGTH;
    if (this.#members[j] === 1) {
      const gso = this.#arrivedGso[j];
      if (gso > 0) {
        // Its checksum field already holds the pseudo-header sum that NEEDS_CSUM expects.
        const ecn = (buf[t + 13] & TCP_CWR) !== 0 ? VIRTIO_NET_HDR_GSO_ECN : 0;
        const hdrLength = IPV6_HEADER_LENGTH + ((buf[t + 12] >> 4) << 2);
        this.#writeHeader(v, VIRTIO_NET_HDR_GSO_TCPV6 | ecn, hdrLength, gso, 16);
      }
      return 1;
    }
    if (buf[offset + 6] === PROTOCOL_UDP) {
      const udpLength = 8 + this.#payload[j];
      buf[offset + 4] = udpLength >> 8;
      buf[offset + 5] = udpLength & 0xff;
      buf[t + 4] = udpLength >> 8;
      buf[t + 5] = udpLength & 0xff;
      const partialUdp = pseudoHeaderSum(buf, offset, udpLength, PROTOCOL_UDP);
      buf[t + 6] = partialUdp >> 8;
      buf[t + 7] = partialUdp & 0xff;
      const gso = this.#payloadLength[head];
      this.#writeHeader(v, VIRTIO_NET_HDR_GSO_UDP_L4, IPV6_HEADER_LENGTH + 8, gso, 6);
      return this.#gather(head, parts);
    }
    const tcpHeader = (buf[t + 12] >> 4) << 2;
    const upper = tcpHeader + this.#payload[j];
    buf[offset + 4] = upper >> 8;
    buf[offset + 5] = upper & 0xff;
    const tail = this.#tail[j];
    buf[t + 13] |= buf[this.#offset[tail] + IPV6_HEADER_LENGTH + 13] & TCP_PSH;
    // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not complemented.
    const partial = pseudoHeaderSum(buf, offset, upper, PROTOCOL_TCP);
    buf[t + 16] = partial >> 8;
    buf[t + 17] = partial & 0xff;
    const gso = this.#payloadLength[head];
    this.#writeHeader(v, VIRTIO_NET_HDR_GSO_TCPV6, IPV6_HEADER_LENGTH + tcpHeader, gso, 16);
    return this.#gather(head, parts);
  }

  /** The `virtio_net_hdr` of a super-packet: partial checksum from the upper header on. */
  #writeHeader(v: number, gsoType: number, hdrLength: number, gso: number, field: number) {
    const buf = this.#buf;
    buf[v] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    buf[v + 1] = gsoType;
    buf[v + 2] = hdrLength & 0xff;
    buf[v + 3] = hdrLength >> 8;
    buf[v + 4] = gso & 0xff;
    buf[v + 5] = gso >> 8;
    buf[v + 6] = IPV6_HEADER_LENGTH;
    buf[v + 7] = 0;
    buf[v + 8] = field; // offsetof(struct tcphdr, check) or (struct udphdr, check)
    buf[v + 9] = 0;
  }

  /** The head (already in `parts[0..1]`), then each following member's payload. */
  #gather(head: number, parts: Int32Array): number {
    let n = 1;
    for (let m = this.#next[head]; m >= 0; m = this.#next[m]) {
      parts[2 * n] = this.#offset[m] + this.#length[m] - this.#payloadLength[m];
      parts[2 * n + 1] = this.#payloadLength[m];
      n++;
    }
    return n;
  }

  #addUdp(i: number, offset: number, length: number): void {
    const buf = this.#buf;
    const u = offset + IPV6_HEADER_LENGTH;
    const payload = length - IPV6_HEADER_LENGTH - 8;
    const candidate = ((buf[u + 4] << 8) | buf[u + 5]) === length - IPV6_HEADER_LENGTH &&
      (buf[u + 6] | buf[u + 7]) !== 0 && upperChecksumValid(buf, offset, length, PROTOCOL_UDP);
    const found = this.#findFlow(offset);
    if (!candidate) {
      if (found >= 0) this.#close(found);
      this.#single(i);
      return;
    }
    this.#payloadLength[i] = payload;
    if (found >= 0) {
      const j = this.#openList[found];
      const head = this.#head[j];
      const gso = this.#payloadLength[head];
      const o = this.#offset[head];
      let same = payload <= gso && this.#members[j] < MAX_UDP_SEGMENTS &&
        8 + this.#payload[j] + payload <= MAX_UPPER_LENGTH && buf[o + 7] === buf[offset + 7];
      for (let b = 0; same && b < 4; b++) same = buf[o + b] === buf[offset + b];
      if (same) {
        this.#next[this.#tail[j]] = i;
        this.#tail[j] = i;
        this.#members[j]++;
        this.#payload[j] += payload;
        this.#inputBytes[j] += length;
        if (payload < gso) this.#close(found);
        return;
      }
      this.#close(found);
    }
    const j = this.#single(i);
    this.#payload[j] = payload;
    this.#open[j] = 1;
    this.#openList[this.#openCount++] = j;
  }

  #single(i: number): number {
    const j = this.#outputs++;
    this.#head[j] = i;
    this.#tail[j] = i;
    this.#members[j] = 1;
    this.#payload[j] = 0;
    this.#inputBytes[j] = this.#length[i];
    this.#open[j] = 0;
    this.#arrivedGso[j] = 0;
    return j;
  }

  #close(found: number): void {
    this.#open[this.#openList[found]] = 0;
    this.#openList[found] = this.#openList[--this.#openCount];
  }

  /** The index in the open list of the group of this packet's flow, or -1. */
  #findFlow(offset: number): number {
    const buf = this.#buf;
    for (let k = 0; k < this.#openCount; k++) {
      const o = this.#offset[this.#head[this.#openList[k]]];
      let same = buf[o + 6] === buf[offset + 6];
      // Source, destination (bytes 8..39), then the ports (the upper header's first 4 bytes).
      for (let b = 8; same && b < 44; b++) {
        if (buf[o + b] !== buf[offset + b]) {
          same = false;
          break;
        }
      }
      if (same) return k;
    }
    return -1;
  }

  #canAppend(j: number, i: number, seq: number, payload: number, tcpHeader: number): boolean {
    const buf = this.#buf;
    const head = this.#head[j];
    const o = this.#offset[head];
    const p = this.#offset[i];
    const gso = this.#payloadLength[head];
    if (seq !== this.#nextSeq[j] || payload > gso) return false;
    if (this.#payloadLength[this.#tail[j]] !== gso) return false; // a short segment ends it
    if (tcpHeader + this.#payload[j] + payload > MAX_UPPER_LENGTH) return false;
    // Version, traffic class, flow label (bytes 0..3) and hop limit (7) equal.
    for (let b = 0; b < 4; b++) if (buf[o + b] !== buf[p + b]) return false;
    if (buf[o + 7] !== buf[p + 7]) return false;
    const ht = o + IPV6_HEADER_LENGTH;
    const pt = p + IPV6_HEADER_LENGTH;
    if (buf[ht + 12] !== buf[pt + 12]) return false; // header length
    // Acknowledgment number (8..11), window (14, 15), urgent pointer (18, 19), options (20..).
    for (let b = 8; b < 12; b++) if (buf[ht + b] !== buf[pt + b]) return false;
    if (buf[ht + 14] !== buf[pt + 14] || buf[ht + 15] !== buf[pt + 15]) return false;
    if (buf[ht + 18] !== buf[pt + 18] || buf[ht + 19] !== buf[pt + 19]) return false;
    for (let b = 20; b < tcpHeader; b++) if (buf[ht + b] !== buf[pt + b]) return false;
    return true;
  }
}
