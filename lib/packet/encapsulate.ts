/**
 * Encapsulation in place (RFC 4213 §3.5): the outer IPv4 header is written in the headroom
 * just before the IPv6 packet, so nothing is copied.
 *
 * @module
 */

import { ipv4HeaderChecksum } from "./checksum.ts";
import { encapsulateEcn } from "./ecn.ts";
import { ipv6TrafficClass, PROTOCOL_IPV6 } from "./headers.ts";

/** The state kept across packets by the encapsulator: the next IPv4 identification. */
export class EncapsulationState {
  /** The next IPv4 identification to use (16 bits, wraps). */
  nextId: number;

  /**
   * Creates the state.
   *
   * @param firstId the first identification to use (default 0)
   */
  constructor(firstId = 0) {
    this.nextId = firstId & 0xffff;
  }
}

/**
 * Options of {@link encapsulateInPlace}. Mutable on purpose: the data plane keeps one object and
 * sets `destination` per packet, so nothing is allocated.
 */
export interface EncapsulateOptions {
  /** The outer source (own4). */
  source: number;
  /** The outer destination (embedded IPv4 or the relay). */
  destination: number;
  /** Holds the identification counter. */
  state: EncapsulationState;
  /** The outer TTL (default 64, RFC 4213 §3.3). */
  ttl?: number;
  /** Copy the inner DSCP to the outer header (`true`, default) or write zero (RFC 2983). */
  copyDscp?: boolean;
}

/**
 * Writes a 20-byte outer IPv4 header at `ipv6Offset - 20` in front of an IPv6 packet
 * (RFC 4213 §3.5): version 4, IHL 5, total length, a unique identification from the state
 * (RFC 6864 §4.1: DF is clear, so the ID must vary), DF clear (static MTU, RFC 4213 §3.2.1),
 * TTL, protocol 41, the source and destination, ECN copied from the inner header
 * (RFC 6040 §4.1 normal mode, CE included), DSCP copied or zero (RFC 4213 §3.5, RFC 2983),
 * and the header checksum. Returns the outer length (`ipv6Length + 20`).
 *
 * @param buf the buffer holding the IPv6 packet, with at least 20 bytes of headroom
 * @param ipv6Offset where the IPv6 packet starts (≥ 20)
 * @param ipv6Length its length
 * @param options the addresses, the state, TTL and DSCP handling
 * @throws {RangeError} when there is no headroom or the packet is too long for IPv4
 */
export function encapsulateInPlace(
  buf: Uint8Array,
  ipv6Offset: number,
  ipv6Length: number,
  options: EncapsulateOptions,
): number {
  const o = ipv6Offset - 20;
  const total = ipv6Length + 20;
  if (o < 0 || total > 0xffff || ipv6Offset + ipv6Length > buf.length) {
    throw new RangeError(
      `Cannot encapsulate ${ipv6Length} bytes at offset ${ipv6Offset}: ` +
        `need 20 bytes of headroom and at most 65515 bytes`,
    );
  }
  const trafficClass = ipv6TrafficClass(buf, ipv6Offset);
  const dscp = (options.copyDscp ?? true) ? trafficClass & 0xfc : 0;
  const id = options.state.nextId;
  options.state.nextId = (id + 1) & 0xffff;
  const src = options.source;
  const dst = options.destination;
  buf[o] = 0x45;
  buf[o + 1] = dscp | encapsulateEcn(trafficClass & 3);
  buf[o + 2] = total >> 8;
  buf[o + 3] = total & 0xff;
  buf[o + 4] = id >> 8;
  buf[o + 5] = id & 0xff;
  buf[o + 6] = 0; // flags: DF and MF clear, fragment offset 0
  buf[o + 7] = 0;
  buf[o + 8] = options.ttl ?? 64;
  buf[o + 9] = PROTOCOL_IPV6;
  buf[o + 10] = 0;
  buf[o + 11] = 0;
  buf[o + 12] = src >>> 24;
  buf[o + 13] = src >>> 16;
  buf[o + 14] = src >>> 8;
  buf[o + 15] = src;
  buf[o + 16] = dst >>> 24;
  buf[o + 17] = dst >>> 16;
  buf[o + 18] = dst >>> 8;
  buf[o + 19] = dst;
  const sum = ipv4HeaderChecksum(buf, o, 20);
  buf[o + 10] = sum >> 8;
  buf[o + 11] = sum & 0xff;
  return total;
}
