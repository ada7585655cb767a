/**
 * The seams of the data plane (as wireguard-go's `tun/tun.go`): a TUN device and a
 * protocol-41 link, each with a Linux implementation over `ffi/` (`linux.ts`) and an in-memory
 * fake (`fake.ts`). The forwarding paths only see these interfaces.
 *
 * @module
 */

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
  /** Releases the socket. */
  close(): void;
}

/** A source of ICMPv4 errors about our packets (a raw ICMP socket), for path MTU. */
export interface IcmpSource {
  /** Receives one whole ICMPv4 packet (IPv4 header included); 0 when none is waiting. */
  recv(buf: Uint8Array, offset: number, maxLength: number): number;
  /** Releases the socket. */
  close(): void;
}
