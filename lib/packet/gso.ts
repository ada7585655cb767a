/**
 * Segmentation of the super-packets a TUN device hands over with TSO/USO offloads
 * (`IFF_VNET_HDR`, `TUNSETOFFLOAD`): the `virtio_net_hdr` in front of each packet, completing a
 * partial checksum (`VIRTIO_NET_HDR_F_NEEDS_CSUM`), and splitting a TCP (RFC 9293 §3.1) or UDP
 * (RFC 768) over IPv6 super-packet into MTU-sized packets, each with its own payload length,
 * sequence number, flags and checksum (RFC 8200 §8.1 pseudo-header), as the kernel's
 * `tcp_gso_segment`/`__udp_gso_segment` would. The model is wireguard-go's
 * `tun/offload_linux.go`; this is our own code. Allocation-free.
 *
 * @module
 */
import { moveBytes } from "./bytes.ts";
import { IPV6_HEADER_LENGTH, PROTOCOL_TCP, PROTOCOL_UDP } from "./headers.ts";
import { WASM_SUM_MAX_LENGTH, wasmSumOf } from "./wasm_sum.ts";

/** The size of `struct virtio_net_hdr` (no `num_buffers`): TUN's default header size. */
export const VIRTIO_NET_HDR_LENGTH = 10;
/** `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` is partial. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified. */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
/** `VIRTIO_NET_HDR_GSO_NONE`: a plain packet. */
export const VIRTIO_NET_HDR_GSO_NONE = 0;
/** `VIRTIO_NET_HDR_GSO_TCPV4`. */
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** `VIRTIO_NET_HDR_GSO_UDP` (UFO, fragments; never asked for). */
export const VIRTIO_NET_HDR_GSO_UDP = 3;
/** `VIRTIO_NET_HDR_GSO_TCPV6`: TCP over IPv6 to segment. */
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
/** `VIRTIO_NET_HDR_GSO_UDP_L4`: UDP to split into datagrams (USO). */
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** `VIRTIO_NET_HDR_GSO_ECN`: the TCP super-packet carries CWR (first segment only). */
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** The fields of a `virtio_net_hdr` (little-endian on the hosts we run on). */
export class VirtioNetHeader {
  /** `VIRTIO_NET_HDR_F_*`. */
  flags = 0;
  /** `VIRTIO_NET_HDR_GSO_*`. */
  gsoType = 0;
  /** Bytes of headers (IPv6 + TCP/UDP) in front of the payload. */
  headerLength = 0;
  /** Payload bytes per segment. */
  gsoSize = 0;
  /** Where checksumming starts (from the IPv6 header). */
  checksumStart = 0;
  /** Where the checksum goes, from `checksumStart`. */
  checksumOffset = 0;
}

/**
 * Reads a `virtio_net_hdr`.
 *
 * @param buf the bytes
 * @param offset where the header starts
 * @param out receives the fields
 */
export function readVirtioNetHeader(buf: Uint8Array, offset: number, out: VirtioNetHeader): void {
  out.flags = buf[offset];
  out.gsoType = buf[offset + 1];
  out.headerLength = buf[offset + 2] | (buf[offset + 3] << 8);
  out.gsoSize = buf[offset + 4] | (buf[offset + 5] << 8);
  out.checksumStart = buf[offset + 6] | (buf[offset + 7] << 8);
  out.checksumOffset = buf[offset + 8] | (buf[offset + 9] << 8);
}

/**
 * Writes a `virtio_net_hdr`.
 *
 * @param buf the bytes
 * @param offset where the header goes
 * @param h the fields
 */
export function writeVirtioNetHeader(buf: Uint8Array, offset: number, h: VirtioNetHeader): void {
  buf[offset] = h.flags;
  buf[offset + 1] = h.gsoType;
  buf[offset + 2] = h.headerLength & 0xff;
  buf[offset + 3] = h.headerLength >> 8;
  buf[offset + 4] = h.gsoSize & 0xff;
  buf[offset + 5] = h.gsoSize >> 8;
  buf[offset + 6] = h.checksumStart & 0xff;
  buf[offset + 7] = h.checksumStart >> 8;
  buf[offset + 8] = h.checksumOffset & 0xff;
  buf[offset + 9] = h.checksumOffset >> 8;
}

let cachedBuffer: ArrayBufferLike | undefined;
let cachedWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordsOf(buf: Uint8Array): Uint32Array<ArrayBufferLike> {
  const buffer = buf.buffer;
  if (buffer !== cachedBuffer) {
    cachedBuffer = buffer;
    cachedWords = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return cachedWords;
}

function fold(sum: number): number {
  while (sum > 0xffff) {
    const high = Math.floor(sum / 0x10000);
    sum = sum - high * 0x10000 + high;
  }
  return sum;
}

/**
 * The one's-complement sum (RFC 1071) of a byte range, folded to 16 bits, in network order
 * and not complemented. In a buffer from `wasmBuffer` (the data plane's batches) it is
 * WebAssembly SIMD's work (`wasm_sum.ts`, about 6 × faster); elsewhere the aligned middle is summed as 32-bit little-endian words (RFC 1071
 * §2 (B): the sum does not depend on byte order), so a 64 KiB payload costs 16 Ki additions.
 *
 * @param buf the bytes
 * @param offset where they start
 * @param length how many
 */
export function onesComplementSum(buf: Uint8Array, offset: number, length: number): number {
  const wasm = wasmSumOf(buf.buffer);
  if (wasm !== undefined && length <= WASM_SUM_MAX_LENGTH) {
    return wasm.sum(buf.byteOffset + offset, length);
  }
  const end = offset + length;
  const base = buf.byteOffset;
  let edge = 0;
  let i = offset;
  while (i < end && ((base + i) & 3) !== 0) {
    edge += ((i - offset) & 1) === 0 ? buf[i] << 8 : buf[i];
    i++;
  }
  const odd = ((i - offset) & 1) === 1;
  const count = (end - i) >>> 2;
  let middle = 0;
  if (count > 0) {
    const words = wordsOf(buf);
    const first = (base + i) >>> 2;
    const last = first + count;
    for (let k = first; k < last; k++) middle += words[k];
    i += count * 4;
  }
  while (i < end) {
    edge += ((i - offset) & 1) === 0 ? buf[i] << 8 : buf[i];
    i++;
  }
  middle = fold(middle);
  // Little-endian words hold the network-order sum byte-swapped; an odd start swaps it back.
  if (!odd) middle = ((middle & 0xff) << 8) | (middle >>> 8);
  return fold(edge + middle);
}

/**
 * The pseudo-header sum of RFC 8200 §8.1 (source, destination, upper-layer length, next
 * header), folded, not complemented.
 *
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 * @param upperLength the upper-layer packet's length
 * @param nextHeader the upper-layer protocol (6, 17, 58)
 */
export function pseudoHeaderSum(
  buf: Uint8Array,
  ipv6: number,
  upperLength: number,
  nextHeader: number,
): number {
  return fold(
    onesComplementSum(buf, ipv6 + 8, 32) + (upperLength >>> 16) + (upperLength & 0xffff) +
      nextHeader,
  );
}

/**
 * Writes the full checksum of the upper-layer packet of an IPv6 packet (TCP, UDP): zeroes the
 * field, sums pseudo-header and packet, stores the complement (0xffff for a UDP zero,
 * RFC 8200 §8.1).
 *
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 * @param length the IPv6 packet's length
 * @param checksumAt where the checksum field is (absolute)
 */
export function writeUpperChecksum(
  buf: Uint8Array,
  ipv6: number,
  length: number,
  checksumAt: number,
): void {
  const upper = ipv6 + IPV6_HEADER_LENGTH;
  const upperLength = length - IPV6_HEADER_LENGTH;
  const nextHeader = buf[ipv6 + 6];
  buf[checksumAt] = 0;
  buf[checksumAt + 1] = 0;
  let sum = ~fold(
    pseudoHeaderSum(buf, ipv6, upperLength, nextHeader) +
      onesComplementSum(buf, upper, upperLength),
  ) & 0xffff;
  if (sum === 0 && nextHeader === PROTOCOL_UDP) sum = 0xffff;
  buf[checksumAt] = sum >> 8;
  buf[checksumAt + 1] = sum & 0xff;
}

/**
 * Completes a partial checksum (`VIRTIO_NET_HDR_F_NEEDS_CSUM` on a plain packet): the field
 * already holds the pseudo-header sum, so the sum from `checksumStart` to the end is
 * complemented into it. Returns false when the offsets do not fit the packet.
 *
 * @param buf the packet
 * @param ipv6 where the IPv6 header starts
 * @param length the packet's length
 * @param header the packet's `virtio_net_hdr`
 */
export function completeChecksum(
  buf: Uint8Array,
  ipv6: number,
  length: number,
  header: VirtioNetHeader,
): boolean {
  const start = header.checksumStart;
  const at = start + header.checksumOffset;
  if (start < IPV6_HEADER_LENGTH || at + 2 > length) return false;
  const sum = ~onesComplementSum(buf, ipv6 + start, length - start) & 0xffff;
  buf[ipv6 + at] = sum >> 8;
  buf[ipv6 + at + 1] = sum & 0xff;
  return true;
}

/**
 * Splits one TCP or UDP over IPv6 super-packet into segments. `prepare` checks the packet and
 * counts the segments; `write(k, …)` writes segment `k` anywhere (the send batch's slots), so
 * segments go straight where they are sent from. Kept per path and reused.
 */
export class Segmenter {
  #src: Uint8Array = new Uint8Array(0);
  #ipv6 = 0;
  #length = 0;
  #headerLength = 0;
  #gsoSize = 0;
  #count = 0;
  #tcp = false;
  #seq = 0;
  /** The sum of the source and destination addresses: the same in every segment. */
  #addressSum = 0;

  /** The number of segments of the prepared packet. */
  get count(): number {
    return this.#count;
  }

  /** The headers' length (IPv6 + TCP/UDP) of the prepared packet. */
  get headerLength(): number {
    return this.#headerLength;
  }

  /**
   * Prepares a super-packet; returns its number of segments, or 0 when it cannot be
   * segmented (not TCP/UDP right after the IPv6 header, headers past the end, no gso size).
   *
   * @param src the buffer
   * @param ipv6 where the IPv6 header starts
   * @param length the packet's length
   * @param gsoSize the payload bytes per segment (`virtio_net_hdr.gso_size`)
   */
  prepare(src: Uint8Array, ipv6: number, length: number, gsoSize: number): number {
    this.#count = 0;
    if (length < IPV6_HEADER_LENGTH + 8 || gsoSize <= 0 || (src[ipv6] >> 4) !== 6) return 0;
    const next = src[ipv6 + 6];
    let headerLength: number;
    if (next === PROTOCOL_TCP) {
      if (length < IPV6_HEADER_LENGTH + 20) return 0;
      headerLength = IPV6_HEADER_LENGTH + ((src[ipv6 + IPV6_HEADER_LENGTH + 12] >> 4) << 2);
      if (headerLength < IPV6_HEADER_LENGTH + 20) return 0;
      const t = ipv6 + IPV6_HEADER_LENGTH;
      this.#seq = ((src[t + 4] << 24) | (src[t + 5] << 16) | (src[t + 6] << 8) | src[t + 7]) >>>
        0;
    } else if (next === PROTOCOL_UDP) {
      headerLength = IPV6_HEADER_LENGTH + 8;
    } else {
      return 0;
    }
    if (headerLength > length) return 0;
    this.#src = src;
    this.#ipv6 = ipv6;
    this.#length = length;
    this.#headerLength = headerLength;
    this.#gsoSize = gsoSize;
    this.#tcp = next === PROTOCOL_TCP;
    this.#addressSum = onesComplementSum(src, ipv6 + 8, 32);
    this.#count = Math.max(1, Math.ceil((length - headerLength) / gsoSize));
    return this.#count;
  }

  /**
   * Writes segment `k` (0-based) as a whole IPv6 packet at `out[at]`; returns its length.
   * `out` may be the source's buffer (the ranges must not overlap).
   *
   * @param k the segment's index, below {@link count}
   * @param out where to write
   * @param at the offset in `out` (4-byte aligned keeps the checksum fast)
   */
  write(k: number, out: Uint8Array, at: number): number {
    const src = this.#src;
    const ipv6 = this.#ipv6;
    const h = this.#headerLength;
    const payloadStart = ipv6 + h + k * this.#gsoSize;
    const payload = Math.min(this.#gsoSize, ipv6 + this.#length - payloadStart);
    const length = h + payload;
    // The payload's sum is taken while copying it (one pass over the bytes) where the
    // buffer is WebAssembly memory; the headers are summed once they are patched.
    let payloadSum: number;
    const wasm = out === src ? wasmSumOf(out.buffer) : undefined;
    if (wasm !== undefined) {
      moveBytes(out, at, ipv6, ipv6 + h);
      const base = out.byteOffset;
      payloadSum = wasm.copySum(base + at + h, base + payloadStart, payload);
    } else {
      if (out === src) {
        moveBytes(out, at, ipv6, ipv6 + h);
        moveBytes(out, at + h, payloadStart, payloadStart + payload);
      } else {
        out.set(src.subarray(ipv6, ipv6 + h), at);
        out.set(src.subarray(payloadStart, payloadStart + payload), at + h);
      }
      payloadSum = onesComplementSum(out, at + h, payload);
    }
    const upperLength = length - IPV6_HEADER_LENGTH;
    out[at + 4] = upperLength >> 8;
    out[at + 5] = upperLength & 0xff;
    const u = at + IPV6_HEADER_LENGTH;
    let checksumAt: number;
    if (this.#tcp) {
      const seq = (this.#seq + k * this.#gsoSize) >>> 0;
      out[u + 4] = seq >>> 24;
      out[u + 5] = (seq >>> 16) & 0xff;
      out[u + 6] = (seq >>> 8) & 0xff;
      out[u + 7] = seq & 0xff;
      // tcp_gso_segment: FIN and PSH only on the last segment, CWR only on the first.
      if (k !== this.#count - 1) out[u + 13] &= ~(TCP_FIN | TCP_PSH);
      if (k !== 0) out[u + 13] &= ~TCP_CWR;
      checksumAt = u + 16;
    } else {
      out[u + 4] = upperLength >> 8;
      out[u + 5] = upperLength & 0xff;
      checksumAt = u + 6;
    }
    // The upper header's length is even (TCP: a multiple of 4, UDP: 8), so the payload's
    // words line up with the packet's and the sums add (RFC 1071 §2 (A)).
    out[checksumAt] = 0;
    out[checksumAt + 1] = 0;
    // The pseudo-header (RFC 8200 §8.1): the addresses' sum, taken once in prepare(), then
    // this segment's upper-layer length and the next header.
    const nextHeader = this.#tcp ? PROTOCOL_TCP : PROTOCOL_UDP;
    let sum = ~fold(
      this.#addressSum + (upperLength >>> 16) + (upperLength & 0xffff) + nextHeader +
        onesComplementSum(out, u, h - IPV6_HEADER_LENGTH) + payloadSum,
    ) & 0xffff;
    if (sum === 0 && !this.#tcp) sum = 0xffff; // RFC 8200 §8.1: a UDP zero is sent as 0xffff
    out[checksumAt] = sum >> 8;
    out[checksumAt + 1] = sum & 0xff;
    return length;
  }
}
