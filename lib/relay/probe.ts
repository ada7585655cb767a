/**
 * The relay probe on the wire: an ICMPv6 Echo Request (RFC 4443 §4.1) from our 6to4 address
 * to a target, wrapped in protocol 41 (RFC 4213 §3.5) and addressed to the relay — exactly
 * what the data path would send through that relay — and the matching Echo Reply (§4.2),
 * recognised by its identifier (one per process) and sequence number. Pure and
 * allocation-free except {@link readProbeReply}'s result; `run` and `doctor` share it, and
 * the ingress path uses {@link isProbeReply} to keep replies out of the TUN.
 *
 * The default target is the relay's own 6to4 address `2002:V4::` (RFC 3068 §2.5 gives
 * `2002:c058:6301::` to the anycast relay `192.88.99.1`): the relay answers it itself, over
 * protocol 41 straight back to us, so an answer proves that the relay receives and sends.
 *
 * @module
 */

import { icmpv6Checksum } from "../packet/checksum.ts";
import { encapsulateInPlace, EncapsulationState } from "../packet/encapsulate.ts";
import {
  IPV4_HEADER_LENGTH,
  ipv4HeaderLength,
  ipv4Protocol,
  ipv4Source,
  ipv4TotalLength,
  ipv4Version,
  IPV6_DESTINATION_OFFSET,
  IPV6_HEADER_LENGTH,
  IPV6_SOURCE_OFFSET,
  ipv6NextHeader,
  ipv6PayloadLength,
  ipv6Version,
  PROTOCOL_ICMPV6,
  PROTOCOL_IPV6,
} from "../packet/headers.ts";

/** ICMPv6 Echo Request (RFC 4443 §4.1). */
export const ICMPV6_ECHO_REQUEST = 128;
/** ICMPv6 Echo Reply (RFC 4443 §4.2). */
export const ICMPV6_ECHO_REPLY = 129;
/** The data carried by every probe, so that a capture tells probes from other pings. */
export const PROBE_DATA: Uint8Array = new TextEncoder().encode("stf relay probe\0");
/** The ICMPv6 message length: type, code, checksum, identifier, sequence, data. */
export const PROBE_ICMPV6_LENGTH: number = 8 + PROBE_DATA.length;
/** The whole probe: outer IPv4 header, IPv6 header, ICMPv6 Echo Request. */
export const PROBE_LENGTH: number = IPV4_HEADER_LENGTH + IPV6_HEADER_LENGTH + PROBE_ICMPV6_LENGTH;
/** The hop limit of the inner packet. */
export const PROBE_HOP_LIMIT = 64;

/** What goes into a probe. */
export interface ProbeFields {
  /** Our IPv4 address, the outer source (own4, or the bind address behind NAT). */
  readonly source4: number;
  /** The relay, the outer destination. */
  readonly relay4: number;
  /** Our 6to4 address (16 bytes), the inner source: the reply comes back to it. */
  readonly source6: Uint8Array;
  /** The target (16 bytes): a native address, or the relay's 2002:V4::. */
  readonly target6: Uint8Array;
  /** The identifier of this process's probes (16 bits). */
  readonly identifier: number;
  /** The sequence number of this probe (16 bits). */
  readonly sequence: number;
  /** The outer TTL (default 64). */
  readonly ttl?: number;
}

/** A recognised Echo Reply to one of our probes. */
export interface ProbeReply {
  /** The outer source: who sent the protocol-41 packet (the relay, for the default target). */
  readonly outerSource4: number;
  /** The inner source: the target that answered (16 bytes, a copy). */
  readonly source6: Uint8Array;
  /** The identifier (ours). */
  readonly identifier: number;
  /** The sequence number: which probe it answers. */
  readonly sequence: number;
}

const ipIds = new EncapsulationState(Math.floor(Math.random() * 0x10000));

/**
 * The relay's own 6to4 address `2002:V4::` (RFC 3056 §2 with subnet and interface ID 0), the
 * default probe target.
 *
 * @param relay4 the relay's IPv4 address
 */
export function relaySixToFourAddress(relay4: number): Uint8Array {
  const out = new Uint8Array(16);
  out[0] = 0x20;
  out[1] = 0x02;
  out[2] = relay4 >>> 24;
  out[3] = (relay4 >>> 16) & 0xff;
  out[4] = (relay4 >>> 8) & 0xff;
  out[5] = relay4 & 0xff;
  return out;
}

/**
 * Writes a probe at the start of `buf`: the outer IPv4 header (DF clear, protocol 41, as the
 * data path writes it), the IPv6 header and the ICMPv6 Echo Request with its checksum.
 *
 * @param buf at least {@link PROBE_LENGTH} bytes
 * @param fields addresses, identifier and sequence
 * @returns the length written ({@link PROBE_LENGTH})
 * @throws {RangeError} when the buffer is too short
 */
export function writeProbe(buf: Uint8Array, fields: ProbeFields): number {
  if (buf.length < PROBE_LENGTH) {
    throw new RangeError(`Cannot write a probe into ${buf.length} bytes: need ${PROBE_LENGTH}`);
  }
  const v6 = IPV4_HEADER_LENGTH;
  buf[v6] = 0x60; // version 6, traffic class 0, flow label 0
  buf[v6 + 1] = 0;
  buf[v6 + 2] = 0;
  buf[v6 + 3] = 0;
  buf[v6 + 4] = PROBE_ICMPV6_LENGTH >> 8;
  buf[v6 + 5] = PROBE_ICMPV6_LENGTH & 0xff;
  buf[v6 + 6] = PROTOCOL_ICMPV6;
  buf[v6 + 7] = PROBE_HOP_LIMIT;
  buf.set(fields.source6.subarray(0, 16), v6 + IPV6_SOURCE_OFFSET);
  buf.set(fields.target6.subarray(0, 16), v6 + IPV6_DESTINATION_OFFSET);
  const icmp = v6 + IPV6_HEADER_LENGTH;
  buf[icmp] = ICMPV6_ECHO_REQUEST;
  buf[icmp + 1] = 0;
  buf[icmp + 2] = 0;
  buf[icmp + 3] = 0;
  buf[icmp + 4] = (fields.identifier >> 8) & 0xff;
  buf[icmp + 5] = fields.identifier & 0xff;
  buf[icmp + 6] = (fields.sequence >> 8) & 0xff;
  buf[icmp + 7] = fields.sequence & 0xff;
  buf.set(PROBE_DATA, icmp + 8);
  const sum = icmpv6Checksum(buf, v6, icmp, PROBE_ICMPV6_LENGTH);
  buf[icmp + 2] = sum >> 8;
  buf[icmp + 3] = sum & 0xff;
  return encapsulateInPlace(buf, v6, IPV6_HEADER_LENGTH + PROBE_ICMPV6_LENGTH, {
    source: fields.source4,
    destination: fields.relay4,
    state: ipIds,
    ttl: fields.ttl ?? 64,
    copyDscp: false,
  });
}

/**
 * Tells whether a protocol-41 packet carries an Echo Reply with our identifier, addressed to
 * `destination6` — a reply to one of our probes, which the ingress path must not write into
 * the TUN. Allocation-free; no checksum check (that is {@link readProbeReply}'s).
 *
 * @param buf the packet, from its outer IPv4 header
 * @param offset where it starts
 * @param length its length
 * @param identifier our probes' identifier
 * @param destination6 our 6to4 address (16 bytes)
 */
export function isProbeReply(
  buf: Uint8Array,
  offset: number,
  length: number,
  identifier: number,
  destination6: Uint8Array,
): boolean {
  if (length < IPV4_HEADER_LENGTH || ipv4Version(buf, offset) !== 4) return false;
  if (ipv4Protocol(buf, offset) !== PROTOCOL_IPV6) return false;
  const v6 = offset + ipv4HeaderLength(buf, offset);
  const icmp = v6 + IPV6_HEADER_LENGTH;
  if (icmp + 8 > offset + length || ipv6Version(buf, v6) !== 6) return false;
  if (ipv6NextHeader(buf, v6) !== PROTOCOL_ICMPV6 || buf[icmp] !== ICMPV6_ECHO_REPLY) {
    return false;
  }
  if (((buf[icmp + 4] << 8) | buf[icmp + 5]) !== identifier) return false;
  const d = v6 + IPV6_DESTINATION_OFFSET;
  for (let i = 0; i < 16; i++) if (buf[d + i] !== destination6[i]) return false;
  return true;
}

/**
 * Reads an Echo Reply to one of our probes out of a protocol-41 packet, checking the lengths,
 * the identifier, the data we sent and the ICMPv6 checksum.
 *
 * @param buf the packet, from its outer IPv4 header (as a raw socket gives it)
 * @param offset where it starts
 * @param length its length
 * @param identifier our probes' identifier
 * @returns the reply, or `undefined` when it is not one of ours or is damaged
 */
export function readProbeReply(
  buf: Uint8Array,
  offset: number,
  length: number,
  identifier: number,
): ProbeReply | undefined {
  if (length < IPV4_HEADER_LENGTH || ipv4Version(buf, offset) !== 4) return undefined;
  if (ipv4Protocol(buf, offset) !== PROTOCOL_IPV6) return undefined;
  const total = Math.min(length, ipv4TotalLength(buf, offset));
  const v6 = offset + ipv4HeaderLength(buf, offset);
  const icmp = v6 + IPV6_HEADER_LENGTH;
  if (icmp > offset + total || ipv6Version(buf, v6) !== 6) return undefined;
  const icmpLength = ipv6PayloadLength(buf, v6);
  if (icmp + icmpLength > offset + total || icmpLength < PROBE_ICMPV6_LENGTH) return undefined;
  if (ipv6NextHeader(buf, v6) !== PROTOCOL_ICMPV6 || buf[icmp] !== ICMPV6_ECHO_REPLY) {
    return undefined;
  }
  if (buf[icmp + 1] !== 0 || ((buf[icmp + 4] << 8) | buf[icmp + 5]) !== identifier) {
    return undefined;
  }
  for (let i = 0; i < PROBE_DATA.length; i++) {
    if (buf[icmp + 8 + i] !== PROBE_DATA[i]) return undefined;
  }
  const stored = (buf[icmp + 2] << 8) | buf[icmp + 3];
  if (icmpv6Checksum(buf, v6, icmp, icmpLength) !== stored) return undefined;
  return {
    outerSource4: ipv4Source(buf, offset),
    source6: buf.slice(v6 + IPV6_SOURCE_OFFSET, v6 + IPV6_SOURCE_OFFSET + 16),
    identifier,
    sequence: (buf[icmp + 6] << 8) | buf[icmp + 7],
  };
}

/** A random identifier for this process's probes (16 bits, never 0). */
export function newProbeIdentifier(): number {
  return 1 + Math.floor(Math.random() * 0xffff);
}
