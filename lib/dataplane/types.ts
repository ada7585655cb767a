/**
 * The seams of the data plane (as wireguard-go's `tun/tun.go`): a TUN device, a protocol-41
 * link and the poll loop's {@link Poller}, each with a Linux implementation over `ffi/`
 * (`linux.ts`) and an in-memory fake (`fake.ts`). The forwarding paths only see these
 * interfaces. Also what both paths, both engines and the Workers share: buffer sizes, the drop
 * listener, the tuning and the Worker messages.
 *
 * @module
 */
import type { PolicySettings } from "../filter/mod.ts";
import type { PacketBatch } from "./batch.ts";
import type { DropSample } from "./sample.ts";

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

/** A direction of the data plane: `egress` (TUN → link) or `ingress` (link → TUN). */
export type Direction = "egress" | "ingress";

/**
 * Switches of the data plane's optimisations, so that each one's worth can be measured
 * (`deno task bench` runs stf with each off) and one can be turned off should it misbehave.
 */
export interface DataplaneTuning {
  /** Packets per batch syscall (`recvmmsg`/`sendmmsg`); 1 means one syscall per packet. */
  readonly batch: number;
  /**
   * TUN offloads: with a TUN fd opened with `IFF_VNET_HDR`, `TUNSETOFFLOAD` (checksum, TSO6,
   * USO) so egress segments super-packets itself, and TCP coalescing (GRO) on ingress.
   * Off: `TUNSETOFFLOAD` 0 and no coalescing (a `virtio_net_hdr`, if the fd has one, is still
   * read and written).
   */
  readonly offload: boolean;
  /**
   * TUN queues (`IFF_MULTI_QUEUE`), each with its own Worker pair; the caller opens the fds
   * (`FdDevices.moreQueues`). 1: one queue.
   */
  readonly queues: number;
}

/** What the TUN device was opened with (`lib/netif/offload.ts`), as the paths need it. */
export interface TunFeatures {
  /** Each packet read or written has a `virtio_net_hdr` in front (`IFF_VNET_HDR`). */
  readonly vnetHeader: boolean;
  /** The `TUN_F_*` offloads in force (`TUNSETOFFLOAD`; 0: plain packets only). */
  readonly offloads: number;
}

/**
 * The poll loop's view of its file descriptors (the seam between the Worker's loop and
 * `poll(2)`): the data fds, then the doorbell last. `FdPoller` (`linux.ts`) is the real one,
 * `FakePoller` (`fake.ts`) a scripted one for tests.
 */
export interface Poller {
  /** How many entries are watched, the doorbell included (it is the last). */
  readonly size: number;
  /**
   * Waits until an entry is ready or `timeout` ms have passed. Returns how many entries are
   * ready (0 on a timeout or an interrupted wait), or a negative errno.
   */
  wait(timeout: number): number;
  /** Whether entry `i` was readable (`POLLIN`) in the last wait. */
  readable(i: number): boolean;
  /** The error events of entry `i` in the last wait (`POLLERR|POLLHUP|POLLNVAL`), 0 if none. */
  failed(i: number): number;
  /** The doorbell's rings since it was last read (the count is reset), 0 when none. */
  takeRings(): number;
}

/** The message that starts a data-plane Worker. */
export interface WorkerStart {
  /** Always `start`. */
  readonly kind: "start";
  /** Which path this Worker runs. */
  readonly direction: Direction;
  /** Which queue (0 without `--queues`): its block of the counters. */
  readonly queue: number;
  /** The TUN fd (non-blocking). */
  readonly tunFd: number;
  /** The interface name. */
  readonly tunName: string;
  /** The protocol-41 raw socket fd (non-blocking). */
  readonly linkFd: number;
  /** The send-only raw socket fd, when there is one (egress sends on it). */
  readonly sendFd?: number;
  /** An ICMPv4 raw socket fd for path MTU (egress only), or -1. */
  readonly icmpFd: number;
  /** The doorbell: an eventfd the parent adds one to after each message it posts. */
  readonly wakeFd: number;
  /** The policy settings, compiled in the Worker. */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from. */
  readonly icmpSource: string;
  /** The shared counters. */
  readonly counters: SharedArrayBuffer;
  /** The shared stop word (`Int32Array` [0] = 1: stop), one for all Workers. */
  readonly stopFlag: SharedArrayBuffer;
  /** Whether to post sampled drops (debug logging on). */
  readonly sampleDrops: boolean;
  /** Which optimisations are on. */
  readonly tuning: DataplaneTuning;
  /** What the TUN device was opened with. */
  readonly tunFeatures: TunFeatures;
}

/** The message that reloads a Worker's policy. */
export interface WorkerReload {
  /** Always `reload`. */
  readonly kind: "reload";
  /** The new settings. */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from. */
  readonly icmpSource: string;
  /** Whether to post sampled drops. */
  readonly sampleDrops: boolean;
}

/** The message that stops a Worker. */
export interface WorkerStop {
  /** Always `stop`. */
  readonly kind: "stop";
}

/** A message from the parent to a Worker. */
export type WorkerMessage = WorkerStart | WorkerReload | WorkerStop;

/**
 * A message from a Worker to the parent: `ready` once its path is built, `drop` (a sample,
 * for debug logs), `io-errors` (packets the kernel refused since the Worker's last event-loop
 * turn, told at the next one: about once a second while they go on), `error` (the path failed
 * for good, or the start did), `stopped` when its loop has ended.
 */
export type WorkerEvent =
  | { readonly kind: "ready"; readonly direction: Direction }
  | DropSample
  | { readonly kind: "io-errors"; readonly direction: Direction; readonly count: number }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "stopped"; readonly direction: Direction };
