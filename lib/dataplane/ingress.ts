/**
 * Ingress: IPv4 protocol-41 packets received on the raw socket, filtered, decapsulated and
 * written into the TUN.
 *
 * Stages, in the order of the functions below:
 * 1. receive — one whole IPv4 packet (header included) from the link into the buffer.
 * 2. filter — `policy.ingress`: a reason code (docs/filtering.md, IN), the inner packet's
 *    offset and length; on success the outer ECN is combined into the inner header in place
 *    (RFC 6040 §4.2, `lib/packet/ecn.ts`).
 * 3. write — the inner IPv6 packet into the TUN, straight from the receive buffer (no copy).
 *    With batches, stage 1 is one `recvmmsg` into the slots of a {@link PacketBatch}; with
 *    `IFF_VNET_HDR` a `virtio_net_hdr` is written over the end of the outer header in front of
 *    the inner packet, and with coalescing (GRO, `lib/packet/gro.ts`) consecutive TCP segments
 *    of a flow in the batch are written as one super-packet with `writev`. A TCP packet that
 *    arrives as a super-packet — the kernel merged segments on the uplink (GRO) before the
 *    raw socket — goes in as one with its own `virtio_net_hdr` when coalescing is on, and is
 *    cut into MTU-sized segments here otherwise (`isPartialTcpSuperPacket`).
 * 4. count — one counter per reason; forwarded packets and bytes. Drops are silent on the
 *    wire (RFC 4213 §3.6, RFC 3056 §9).
 *
 * Everything is allocated in the constructor; a packet allocates nothing.
 *
 * @module
 */
import {
  compilePolicy,
  IngressResult,
  type Policy,
  type PolicySettings,
  Reason,
} from "../filter/mod.ts";
import { applyDecapsulationEcn, ipv4Ecn, MAX_TUNNEL_MTU } from "../packet/mod.ts";
import { isPartialTcpSuperPacket, TcpCoalescer, tcpSegmentSize } from "../packet/gro.ts";
import { Segmenter, VIRTIO_NET_HDR_LENGTH } from "../packet/gso.ts";
import { zeroBytes } from "../packet/bytes.ts";
import { PacketBatch } from "./batch.ts";
import type { WakeUpFunction } from "./tier.ts";
import { Counters, SLOT_BYTES, SLOT_IO_ERRORS, SLOTS } from "./counters.ts";
import { RateLimiter } from "./rate_limit.ts";
import { type DropListener, type Link, MAX_PACKET, type TunDevice } from "./types.ts";
import { EINVAL } from "../../ffi/constants.ts";

/** Options of {@link IngressPath}. */
export interface IngressPathOptions {
  /** Called (rate-limited) with each drop, for debug logs. */
  readonly onDrop?: DropListener;
  /** Packets per `recvmmsg` (fixed at construction); 1 (default): one `recv` per packet. */
  readonly batch?: number;
  /** The TUN device takes a `virtio_net_hdr` before each packet (`IFF_VNET_HDR`). */
  readonly vnetHeader?: boolean;
  /** Coalesce TCP segments before writing them (needs `vnetHeader`). */
  readonly coalesce?: boolean;
  /** Coalesce UDP datagrams too (needs `coalesce` and a kernel with USO, Linux 6.2+). */
  readonly coalesceUdp?: boolean;
}

/**
 * The fewest packets a `recvmmsg` batch must hold for its UDP datagrams to be coalesced. A
 * coalesced UDP packet is split again by the receiving kernel (`udp_rcv_segment`), which
 * pays off against one `writev` per datagram only when the group is large: at 10 kpps of
 * UDP-64 (batches of about 6), coalescing cost both ends together 7.0–8.8 µs of CPU per
 * packet against 5.8–6.0 µs without; under a flood (batches of 64) it keeps its gain. TCP
 * segments are coalesced in every batch.
 */
export const UDP_COALESCE_MIN_BATCH = 16;

/** The ingress path: link → filter → decapsulate → TUN. */
export class IngressPath {
  readonly #tun: TunDevice;
  readonly #link: Link;
  #policy: Policy;
  #options: IngressPathOptions;
  readonly #values: Float64Array;
  readonly #buf = new Uint8Array(MAX_PACKET);
  readonly #result = new IngressResult();
  readonly #dropLimit = new RateLimiter(10);
  readonly #batch: PacketBatch | undefined;
  readonly #vnet: boolean;
  readonly #coalescer: TcpCoalescer | undefined;
  readonly #parts: Int32Array;
  // Segments of a super-packet the uplink's kernel made, one at a time: 2 bytes of padding,
  // a zero virtio_net_hdr, the segment (4-byte aligned) of at most the tunnel MTU.
  readonly #segmenter = new Segmenter();
  readonly #segment = new Uint8Array(2 + VIRTIO_NET_HDR_LENGTH + MAX_TUNNEL_MTU);

  /**
   * Creates the path and compiles its policy; all buffers are allocated here.
   *
   * @param devices the TUN and the link
   * @param settings the policy settings
   * @param counters where to count (the ingress half is used)
   * @param options drop listener
   */
  constructor(
    devices: { tun: TunDevice; link: Link },
    settings: PolicySettings,
    counters: Counters,
    options: IngressPathOptions = {},
  ) {
    this.#tun = devices.tun;
    this.#link = devices.link;
    this.#policy = compilePolicy(settings);
    this.#options = options;
    this.#values = counters.values.subarray(SLOTS, 2 * SLOTS);
    this.#vnet = options.vnetHeader ?? false;
    const size = Math.max(1, Math.floor(options.batch ?? 1));
    this.#batch = size === 1 && !this.#vnet ? undefined : new PacketBatch(size, MAX_PACKET + 1);
    this.#coalescer = this.#vnet && (options.coalesce ?? false)
      ? new TcpCoalescer(size, { udp: options.coalesceUdp ?? false })
      : undefined;
    this.#parts = new Int32Array(2 * (size + 1));
    this.#configure();
  }

  #configure(): void {
    if (this.#coalescer !== undefined) this.#coalescer.mtu = this.#policy.settings.mtu;
  }

  /**
   * Replaces the policy (SIGHUP); the devices stay.
   *
   * @throws {PolicyError} when the settings do not compile (the old policy stays)
   */
  reload(settings: PolicySettings, options: IngressPathOptions = this.#options): void {
    this.#policy = compilePolicy(settings);
    this.#options = options;
    this.#configure();
  }

  /**
   * The functions a wake-up of this path runs, for `tier.ts`: its own stages, the policy's
   * verdict and the packet functions they call.
   */
  wakeUpFunctions(): WakeUpFunction[] {
    const c = TcpCoalescer.prototype;
    return [
      this.pump,
      this.handle,
      this.#pumpBatch,
      this.#decapsulate,
      this.#count,
      this.#write,
      this.#policy.ingress,
      applyDecapsulationEcn,
      ipv4Ecn,
      isPartialTcpSuperPacket,
      zeroBytes,
      c.reset,
      c.add,
      c.build,
      c.members,
      c.inputLength,
      PacketBatch.prototype.offset,
    ];
  }

  /**
   * Receives and handles up to `budget` packets; returns how many were received.
   *
   * @param budget the most packets to handle now
   */
  pump(budget: number): number {
    if (this.#batch !== undefined) return this.#pumpBatch(this.#batch, budget);
    let handled = 0;
    while (handled < budget) {
      const n = this.#link.recv(this.#buf, 0, MAX_PACKET);
      if (n <= 0) break;
      handled++;
      this.handle(n);
    }
    return handled;
  }

  /**
   * Handles one packet already in the buffer at offset 0 (stages 2 to 4).
   *
   * @param length the IPv4 packet's length
   */
  handle(length: number): void {
    const result = this.#result;
    if (!this.#decapsulate(this.#buf, 0, length)) return;
    const written = this.#write(this.#buf, result.innerOffset, result.innerLength);
    this.#count(written, result.innerLength);
  }

  /**
   * Stage 2 for one IPv4 packet at `buf[offset]`, one packet at a time or in a batch alike:
   * the verdict, then the RFC 6040 §4.2 ECN rewrite of the inner header. Returns whether it
   * is to be written (`#result` tells where); a dropped one is counted and sampled.
   */
  #decapsulate(buf: Uint8Array, offset: number, length: number): boolean {
    const result = this.#result;
    const reason = this.#policy.ingress(buf, offset, length, result);
    if (reason !== Reason.Forwarded) {
      this.#values[reason]++;
      if (this.#options.onDrop && this.#dropLimit.take()) {
        this.#options.onDrop(reason, buf, offset, length);
      }
      return false;
    }
    applyDecapsulationEcn(ipv4Ecn(buf, offset), buf, result.innerOffset);
    return true;
  }

  /** Stage 4 for a write of `length` inner bytes that returned `written`. */
  #count(written: number, length: number): void {
    if (written < 0) {
      this.#values[SLOT_IO_ERRORS]++;
      return;
    }
    this.#values[Reason.Forwarded]++;
    this.#values[SLOT_BYTES] += length;
  }

  /** Stages 1 to 4 with batches: one `recvmmsg`, the filter per slot, then the writes. */
  #pumpBatch(batch: PacketBatch, budget: number): number {
    const n = this.#link.recvBatch(batch, Math.min(budget, batch.capacity));
    if (n <= 0) {
      if (n < 0) this.#values[SLOT_IO_ERRORS]++;
      return 0;
    }
    const bytes = batch.bytes;
    const result = this.#result;
    const values = this.#values;
    const coalescer = this.#coalescer;
    coalescer?.reset(bytes, n >= UDP_COALESCE_MIN_BATCH);
    for (let i = 0; i < n; i++) {
      if (!this.#decapsulate(bytes, batch.offset(i), batch.lengths[i])) continue;
      if (coalescer !== undefined) {
        coalescer.add(result.innerOffset, result.innerLength);
        continue;
      }
      this.#count(this.#write(bytes, result.innerOffset, result.innerLength), result.innerLength);
    }
    if (coalescer !== undefined) {
      const parts = this.#parts;
      for (let j = 0; j < coalescer.outputs; j++) {
        const count = coalescer.build(j, parts);
        const written = count === 1
          ? this.#tun.write(bytes, parts[0], parts[1])
          : this.#tun.writeVector(bytes, parts, count);
        if (written < 0) {
          values[SLOT_IO_ERRORS] += coalescer.members(j);
          continue;
        }
        values[Reason.Forwarded] += coalescer.members(j);
        values[SLOT_BYTES] += coalescer.inputLength(j);
      }
    }
    return n;
  }

  /**
   * Writes one inner packet into the TUN (no coalescing), after a zero `virtio_net_hdr` when
   * the device takes one; a super-packet the uplink's kernel made is cut into segments first.
   * Returns what the (last) write returned.
   */
  #write(buf: Uint8Array, ipv6: number, length: number): number {
    if (isPartialTcpSuperPacket(buf, ipv6, length)) return this.#writeSegments(buf, ipv6, length);
    if (!this.#vnet) return this.#tun.write(buf, ipv6, length);
    // A zero virtio_net_hdr over the end of the outer header, which is no longer needed.
    const v = ipv6 - VIRTIO_NET_HDR_LENGTH;
    zeroBytes(buf, v, ipv6);
    return this.#tun.write(buf, v, VIRTIO_NET_HDR_LENGTH + length);
  }

  /** Cuts a super-packet into segments of the tunnel MTU and writes each (full checksums). */
  #writeSegments(buf: Uint8Array, ipv6: number, length: number): number {
    const segmenter = this.#segmenter;
    const size = tcpSegmentSize(buf, ipv6, this.#policy.settings.mtu);
    const count = segmenter.prepare(buf, ipv6, length, size);
    if (count === 0) return -EINVAL; // headers that do not fit
    const out = this.#segment;
    const at = 2 + VIRTIO_NET_HDR_LENGTH;
    let written = 0;
    for (let k = 0; k < count && written >= 0; k++) {
      const n = segmenter.write(k, out, at);
      written = this.#vnet
        ? this.#tun.write(out, 2, VIRTIO_NET_HDR_LENGTH + n)
        : this.#tun.write(out, at, n);
    }
    return written;
  }
}
