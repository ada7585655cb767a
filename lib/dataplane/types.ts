/**
 * The seams of the data plane (as wireguard-go's `tun/tun.go`): a TUN device and a
 * protocol-41 link, each with a Linux implementation over `ffi/` (`linux.ts`) and an in-memory
 * fake (`fake.ts`). The forwarding paths only see these interfaces.
 *
 * @module
 */
import type { PacketBatch } from "./batch.ts";

/** Bytes kept free in front of each IPv6 packet for the outer IPv4 header. */
export const HEADROOM = 20;
/** The largest packet handled (an IPv4 datagram). */
export const MAX_PACKET = 65535;

/** Receives each dropped packet (rate-limited): the reason code and the packet's bytes. */
export type DropListener = (
  reason: number,
  buf: Uint8Array,
  offset: number,
  length: number,
) => void;

/** A TUN device carrying bare IPv6 packets (`IFF_TUN | IFF_NO_PI`). */
export interface TunDevice {
  /** The interface name (`stf0`). */
  readonly name: string;
  /**
   * Reads one packet into `buf` at `offset`; returns its length, 0 when none is waiting, or a
   * negative errno on failure.
   */
  read(buf: Uint8Array, offset: number, maxLength: number): number;
  /** Writes one packet; returns the bytes written or a negative errno. */
  write(buf: Uint8Array, offset: number, length: number): number;
  /**
   * Writes one packet gathered from ranges of `buf` (`writev`, a coalesced super-packet):
   * `parts` holds `count` pairs (offset, length). Returns the bytes written or a negative errno.
   */
  writeVector(buf: Uint8Array, parts: Int32Array, count: number): number;
  /** Releases the device. */
  close(): void;
}

/** The protocol-41 link: a raw IPv4 socket sending whole IPv4 packets (IP_HDRINCL). */
export interface Link {
  /**
   * Receives one whole IPv4 packet (header included) into `buf` at `offset`; returns its
   * length, 0 when none is waiting, or a negative errno.
   */
  recv(buf: Uint8Array, offset: number, maxLength: number): number;
  /**
   * Sends one whole IPv4 packet (its header written by us) to `destination`; returns the
   * bytes sent or a negative errno.
   */
  send(buf: Uint8Array, offset: number, length: number, destination: number): number;
  /**
   * Sends slots `start .. start + count` of a batch (`sendmmsg`), each from its slot's start,
   * `batch.lengths[i]` bytes to `batch.destinations[i]`. Returns how many were sent (≥ 1), or
   * the negative errno of slot `start` when it could not be sent.
   */
  sendBatch(batch: PacketBatch, start: number, count: number): number;
  /**
   * Receives up to `count` whole IPv4 packets into slots `0 .. count` of a batch
   * (`recvmmsg`), their lengths into `batch.lengths`. Returns how many, 0 when none is
   * waiting, or a negative errno.
   */
  recvBatch(batch: PacketBatch, count: number): number;
  /**
   * Takes the next "message too long" the host queued about our sends (a send failed with
   * EMSGSIZE: the packet was larger than the MTU of the route to `destination`) into `out`;
   * false when there is none. Absent: such errors carry no MTU.
   */
  nextSendError?(out: SendError): boolean;
  /** Releases the socket. */
  close(): void;
}

/** A send that was too large for its route: where to, and the route's MTU. */
export class SendError {
  /** The outer destination (IPv4 as a number). */
  destination = 0;
  /** The MTU of the route to it (the whole IPv4 packet). */
  mtu = 0;
}

/** A source of ICMPv4 errors about our packets (a raw ICMP socket), for path MTU. */
export interface IcmpSource {
  /** Receives one whole ICMPv4 packet (IPv4 header included); 0 when none is waiting. */
  recv(buf: Uint8Array, offset: number, maxLength: number): number;
  /** Releases the socket. */
  close(): void;
}
