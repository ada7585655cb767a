/**
 * Egress: IPv6 packets read from the TUN, filtered, encapsulated in IPv4 protocol 41 and sent.
 *
 * Stages, in the order of the functions below:
 * 1. read — one packet from the TUN into the buffer at offset {@link HEADROOM} (20), so the
 *    outer header can be written in front of it without copying. With batches, packets are
 *    read into the slots of a {@link PacketBatch}; with `IFF_VNET_HDR`, into a read area
 *    with their `virtio_net_hdr`: a plain packet is copied into the next slot (a partial
 *    checksum completed), a TSO/USO super-packet is segmented straight into the next slots
 *    (`lib/packet/gso.ts`), and every segment goes through the stages below on its own.
 * 2. filter — `policy.egress`: a reason code (docs/filtering.md, OUT) and the outer
 *    destination: the IPv4 embedded in a 6to4/6rd destination, or the relay.
 * 3. path MTU — a path MTU learnt from ICMPv4 for that destination (RFC 4213 §3.4), which this
 *    path keeps and passes to the policy, may make the packet `too-big` although it fits the
 *    tunnel MTU.
 * 4. encapsulate — the outer IPv4 header written into the headroom by `lib/packet/`
 *    (RFC 4213 §3.5, RFC 6040 §4.1): source own4 (the bind address behind a NAT), the
 *    configured TTL and DSCP handling, an IPv4 ID sequence kept across reloads.
 * 5. send — the whole IPv4 packet on the protocol-41 link (IP_HDRINCL); with batches, the
 *    accepted packets of a batch in one `sendmmsg`. A packet larger than the MTU of the route
 *    to its destination (an uplink with MTU 1492, say) fails with EMSGSIZE: the route's MTU,
 *    read from the socket's error queue, goes into the path MTU table and the packet is
 *    `too-big` (RFC 4213 §3.4: the IPv6 source learns the tunnel's MTU for that path).
 * 6. answer — `too-big` gets an ICMPv6 Packet Too Big, `no-relay` an ICMPv6 unreachable,
 *    written back into the TUN, rate-limited (RFC 4443 §2.4 f).
 * 7. count — one counter per reason; forwarded packets and bytes.
 *
 * Everything is allocated in the constructor; a packet allocates nothing.
 *
 * @module
 */
import { parseIpv6 } from "../addr/mod.ts";
import {
  compilePolicy,
  EgressResult,
  type Policy,
  type PolicySettings,
  Reason,
} from "../filter/mod.ts";
import {
  encapsulateInPlace,
  type EncapsulateOptions,
  EncapsulationState,
  FragmentationNeeded,
  parseFragmentationNeeded,
  PathMtuTable,
  UNREACHABLE_NO_ROUTE,
  writeDestinationUnreachable,
  writePacketTooBig,
} from "../packet/mod.ts";
import {
  completeChecksum,
  readVirtioNetHeader,
  Segmenter,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_LENGTH,
  VirtioNetHeader,
} from "../packet/gso.ts";
import { PacketBatch } from "./batch.ts";
import type { WakeUpFunction } from "./tier.ts";
import { moveBytes } from "../packet/bytes.ts";
import {
  Counters,
  SLOT_BYTES,
  SLOT_ICMP_SENT,
  SLOT_IO_ERRORS,
  SLOT_PMTU_ENTRIES,
  SLOT_PMTU_UPDATES,
} from "./counters.ts";
import { RateLimiter } from "./rate_limit.ts";
import {
  type DropListener,
  HEADROOM,
  type IcmpSource,
  type Link,
  MAX_PACKET,
  SendError,
  type TunDevice,
} from "./types.ts";
import { EAGAIN, EMSGSIZE } from "../../ffi/constants.ts";

/** Drains in a row that found one packet each, after which a wake-up reads one packet only. */
const LONE_AFTER = 4;
/** While packets come alone, one wake-up in this many (a power of two) still drains the TUN. */
const LONE_DRAIN_EVERY = 16;

/** Options of {@link EgressPath} besides the policy settings. */
export interface EgressPathOptions {
  /** The source of our ICMPv6 errors: the stf interface's address. */
  readonly icmpSource: string;
  /** ICMPv6 errors per second at most (RFC 4443 §2.4 f); default 100. */
  readonly icmpRate?: number;
  /** Called (rate-limited) with each drop, for debug logs. */
  readonly onDrop?: DropListener;
  /**
   * Packets per `sendmmsg` (fixed at construction): 1 (default) sends each packet with its
   * own `sendmsg` as it is read.
   */
  readonly batch?: number;
  /**
   * The TUN device carries a `virtio_net_hdr` before each packet (`IFF_VNET_HDR`; fixed at
   * construction): super-packets are segmented, partial checksums completed.
   */
  readonly vnetHeader?: boolean;
}

/**
 * The outer header's fields for a policy (RFC 4213 §3.5): source own4 (the bind address behind
 * a NAT), the configured TTL and DSCP handling, the IPv4 ID sequence `state`; the destination
 * is set per packet.
 *
 * @param policy the compiled policy
 * @param state the IPv4 identification counter (kept across reloads)
 */
export function outerHeaderOf(policy: Policy, state: EncapsulationState): EncapsulateOptions {
  return {
    source: policy.rules.bind4,
    destination: 0,
    state,
    ttl: policy.settings.ttl,
    copyDscp: policy.settings.dscp === "copy",
  };
}

/** The egress path: TUN → filter → encapsulate → link. */
export class EgressPath {
  readonly #tun: TunDevice;
  readonly #link: Link;
  #policy: Policy;
  #options: EgressPathOptions;
  readonly #values: Float64Array;
  readonly #buf = new Uint8Array(HEADROOM + MAX_PACKET);
  // An ICMPv6 error at offset 10, after room for a zero virtio_net_hdr.
  readonly #icmpBuf = new Uint8Array(VIRTIO_NET_HDR_LENGTH + 1280);
  readonly #icmpIn = new Uint8Array(MAX_PACKET);
  readonly #result = new EgressResult();
  // Kept across reloads: the IPv4 ID sequence and what ICMPv4 taught us.
  readonly #state = new EncapsulationState(Math.floor(Math.random() * 0x10000));
  readonly #pathMtu = new PathMtuTable({ maxEntries: 4096 });
  #outer: EncapsulateOptions;
  readonly #tooBig = { mtu: 1280, source: new Uint8Array(16) };
  readonly #unreachable = { code: UNREACHABLE_NO_ROUTE, source: new Uint8Array(16) };
  readonly #fragNeeded = new FragmentationNeeded();
  readonly #sendError = new SendError();
  readonly #icmpLimit: RateLimiter;
  readonly #dropLimit = new RateLimiter(10);
  // Batches (undefined: one packet at a time through #buf).
  readonly #batch: PacketBatch | undefined;
  readonly #innerLengths: Int32Array;
  readonly #vnet: boolean;
  readonly #readAt: number;
  readonly #header = new VirtioNetHeader();
  readonly #segmenter = new Segmenter();
  /** Drains in a row that found exactly one packet. */
  #loneDrains = 0;
  /** Wake-ups counted while packets come alone. */
  #loneWakes = 0;

  /**
   * Creates the path and compiles its policy; all buffers are allocated here.
   *
   * @param devices the TUN and the link
   * @param settings the policy settings
   * @param counters where to count (the egress half is used)
   * @param options the source of ICMPv6 errors, the drop sampler
   * @throws {PolicyError} when the settings do not compile
   */
  constructor(
    devices: { tun: TunDevice; link: Link },
    settings: PolicySettings,
    counters: Counters,
    options: EgressPathOptions,
  ) {
    this.#tun = devices.tun;
    this.#link = devices.link;
    this.#values = counters.values;
    this.#vnet = options.vnetHeader ?? false;
    const size = Math.max(1, Math.floor(options.batch ?? 1));
    // The read area starts 2 bytes into a 64-byte line, so that the IPv6 packet after the
    // 10-byte virtio_net_hdr is 4-byte aligned (fast checksums).
    this.#batch = size === 1 && !this.#vnet ? undefined : new PacketBatch(
      size,
      HEADROOM + MAX_PACKET,
      { extraBytes: this.#vnet ? 2 + VIRTIO_NET_HDR_LENGTH + MAX_PACKET : 0 },
    );
    this.#readAt = (this.#batch?.extraOffset ?? 0) + 2;
    this.#innerLengths = new Int32Array(size);
    this.#icmpLimit = new RateLimiter(options.icmpRate ?? 100);
    this.#policy = compilePolicy(settings);
    this.#outer = outerHeaderOf(this.#policy, this.#state);
    this.#options = options;
    this.#configure(options);
  }

  /**
   * Replaces the policy (SIGHUP); the devices, the ID sequence and path MTUs stay.
   *
   * @throws {PolicyError} when the settings do not compile (the old policy stays)
   */
  reload(settings: PolicySettings, options: EgressPathOptions = this.#options): void {
    this.#policy = compilePolicy(settings);
    this.#outer = outerHeaderOf(this.#policy, this.#state);
    this.#options = options;
    this.#configure(options);
  }

  #configure(options: EgressPathOptions): void {
    const source = parseIpv6(options.icmpSource);
    this.#tooBig.source.set(source);
    this.#unreachable.source.set(source);
  }

  /**
   * The functions a wake-up of this path runs, for `tier.ts`: its own stages, the policy's
   * verdict and the packet functions they call.
   */
  wakeUpFunctions(): WakeUpFunction[] {
    return [
      this.pump,
      this.#pumpBatch,
      this.#pumpEach,
      this.handle,
      this.#now,
      this.#stageVnet,
      this.#stage,
      this.#encapsulate,
      this.#flush,
      this.#policy.egress,
      encapsulateInPlace,
      readVirtioNetHeader,
      completeChecksum,
      moveBytes,
      PacketBatch.prototype.offset,
    ];
  }

  /** The compiled policy in force. */
  get policy(): Policy {
    return this.#policy;
  }

  /**
   * Reads and handles up to `budget` packets from the TUN; returns how many were read. Fewer
   * means the TUN is drained, or that packets have been coming alone and only one was read:
   * the caller waits in a level-triggered `poll`, which returns at once if more are waiting.
   *
   * @param budget the most packets to handle now
   */
  pump(budget: number): number {
    // Lone packets: after LONE_AFTER drains in a row that found one packet each, a wake-up reads
    // one packet and goes back to `poll` (level-triggered: it returns at once if more wait),
    // instead of ending with a `read` that fails with EAGAIN; every LONE_DRAIN_EVERY-th wake-up
    // still drains, to see a burst coming.
    const single = this.#loneDrains >= LONE_AFTER &&
      (++this.#loneWakes & (LONE_DRAIN_EVERY - 1)) !== 0;
    const reads = single ? 1 : budget;
    const handled = this.#batch !== undefined
      ? this.#pumpBatch(this.#batch, reads)
      : this.#pumpEach(reads);
    if (!single) this.#loneDrains = handled === 1 ? this.#loneDrains + 1 : 0;
    return handled;
  }

  /** Stage 1 without batches: reads and handles up to `budget` packets, one at a time. */
  #pumpEach(budget: number): number {
    const buf = this.#buf;
    let handled = 0;
    while (handled < budget) {
      const n = this.#tun.read(buf, HEADROOM, MAX_PACKET);
      if (n <= 0) break;
      handled++;
      this.handle(n);
    }
    return handled;
  }

  /**
   * Handles one packet already in the buffer at {@link HEADROOM} (stages 2 to 7).
   *
   * @param length the bytes read from the TUN
   */
  handle(length: number): void {
    const buf = this.#buf;
    const result = this.#result;
    result.now = this.#now();
    const total = this.#encapsulate(buf, HEADROOM, length);
    if (total < 0) return;
    const sent = this.#link.send(buf, 0, total, result.outerDst);
    if (sent < 0) {
      this.#sendFailed(sent, buf, HEADROOM, result.innerLength, result.outerDst);
      return;
    }
    this.#values[Reason.Forwarded]++;
    this.#values[SLOT_BYTES] += result.innerLength;
  }

  /**
   * The time the path MTU table needs, read only when it holds an entry: with none, `get`
   * never looks at it, and a `performance.now()` per wake-up is a call into the runtime that
   * costs the most at low rates, when the caches are cold (docs/performance.md).
   */
  #now(): number {
    return this.#pathMtu.size === 0 ? 0 : performance.now();
  }

  /** Stage 1 with batches: reads into slots (or the read area), then sends each full batch. */
  #pumpBatch(batch: PacketBatch, budget: number): number {
    const bytes = batch.bytes;
    this.#result.now = this.#now();
    let count = 0;
    let handled = 0;
    while (handled < budget) {
      if (this.#vnet) {
        const n = this.#tun.read(bytes, this.#readAt, VIRTIO_NET_HDR_LENGTH + MAX_PACKET);
        if (n <= 0) break;
        handled++;
        count = this.#stageVnet(batch, n - VIRTIO_NET_HDR_LENGTH, count);
      } else {
        const at = batch.offset(count) + HEADROOM;
        const n = this.#tun.read(bytes, at, batch.slotSize - HEADROOM);
        if (n <= 0) break;
        handled++;
        if (this.#stage(batch, count, n)) count++;
        if (count === batch.capacity) count = this.#flush(batch, count);
      }
    }
    if (count > 0) this.#flush(batch, count);
    return handled;
  }

  /**
   * A packet read with its `virtio_net_hdr`: a plain one is copied into slot `count`, a
   * super-packet segmented into the slots from `count` on. Returns the slots now in use.
   */
  #stageVnet(batch: PacketBatch, length: number, count: number): number {
    const bytes = batch.bytes;
    const h = this.#header;
    readVirtioNetHeader(bytes, this.#readAt, h);
    const ipv6 = this.#readAt + VIRTIO_NET_HDR_LENGTH;
    const gsoType = h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    if (length <= 0) return count;
    if (gsoType === VIRTIO_NET_HDR_GSO_NONE) {
      const at = batch.offset(count) + HEADROOM;
      moveBytes(bytes, at, ipv6, ipv6 + length);
      if (
        (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && !completeChecksum(bytes, at, length, h)
      ) {
        this.#drop(Reason.Malformed, bytes, at, length);
        return count;
      }
      if (this.#stage(batch, count, length)) count++;
      return count === batch.capacity ? this.#flush(batch, count) : count;
    }
    const next = bytes[ipv6 + 6];
    const segments = (gsoType === VIRTIO_NET_HDR_GSO_TCPV6 && next === 6) ||
        (gsoType === VIRTIO_NET_HDR_GSO_UDP_L4 && next === 17)
      ? this.#segmenter.prepare(bytes, ipv6, length, h.gsoSize)
      : 0;
    if (segments === 0) {
      this.#drop(Reason.Malformed, bytes, ipv6, length);
      return count;
    }
    for (let k = 0; k < segments; k++) {
      const n = this.#segmenter.write(k, bytes, batch.offset(count) + HEADROOM);
      if (this.#stage(batch, count, n)) count++;
      if (count === batch.capacity) count = this.#flush(batch, count);
    }
    return count;
  }

  /**
   * Stages 2 to 4 for the IPv6 packet in slot `i` (at {@link HEADROOM}); returns whether it
   * is to be sent (encapsulated, its length and destination recorded).
   */
  #stage(batch: PacketBatch, i: number, length: number): boolean {
    const total = this.#encapsulate(batch.bytes, batch.offset(i) + HEADROOM, length);
    if (total < 0) return false;
    batch.lengths[i] = total;
    batch.destinations[i] = this.#result.outerDst;
    this.#innerLengths[i] = this.#result.innerLength;
    return true;
  }

  /**
   * Stages 2 to 4 for one IPv6 packet at `buf[offset]` (≥ {@link HEADROOM}), one packet at a
   * time or in a batch alike: the verdict, then the outer header in front of it. Returns the
   * outer length (the packet to send starts at `offset - 20`), or -1 when it was dropped.
   */
  #encapsulate(buf: Uint8Array, offset: number, length: number): number {
    const result = this.#result;
    const reason = this.#policy.egress(buf, offset, length, result, this.#pathMtu);
    if (reason !== Reason.Forwarded) {
      this.#drop(reason, buf, offset, length);
      return -1;
    }
    const outer = this.#outer;
    outer.destination = result.outerDst;
    return encapsulateInPlace(buf, offset, result.innerLength, outer);
  }

  /** Stages 6 and 7 for a dropped packet: count, answer, sample. */
  #drop(reason: number, buf: Uint8Array, offset: number, length: number): void {
    this.#values[reason]++;
    if (reason === Reason.TooBig) this.#answerTooBig(buf, offset, length, this.#result.mtu);
    else if (reason === Reason.NoRelay) this.#answerUnreachable(buf, offset, length);
    if (this.#options.onDrop && this.#dropLimit.take()) {
      this.#options.onDrop(reason, buf, offset, length);
    }
  }

  /** Stage 5 with batches: sends slots `0 .. count` with `sendmmsg`; returns 0 (all free). */
  #flush(batch: PacketBatch, count: number): number {
    const values = this.#values;
    let i = 0;
    while (i < count) {
      const sent = this.#link.sendBatch(batch, i, count - i);
      if (sent > 0) {
        for (let k = i; k < i + sent; k++) values[SLOT_BYTES] += this.#innerLengths[k];
        values[Reason.Forwarded] += sent;
        i += sent;
      } else if (sent === -EAGAIN) {
        // The send buffer is full: what is left of the batch is dropped, as a single send's
        // packet would be.
        values[SLOT_IO_ERRORS] += count - i;
        break;
      } else {
        // This destination failed; go on with the next.
        const at = batch.offset(i) + HEADROOM;
        this.#sendFailed(sent, batch.bytes, at, this.#innerLengths[i], batch.destinations[i]);
        i++;
      }
    }
    return 0;
  }

  /**
   * Stage 5 failed for the IPv6 packet at `buf[offset]` with the negative errno `error`: an
   * EMSGSIZE that taught a route MTU makes it `too-big`; anything else is an I/O error.
   */
  #sendFailed(
    error: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    destination: number,
  ): void {
    if (error !== -EMSGSIZE || !this.#tooBigForRoute(buf, offset, length, destination)) {
      this.#values[SLOT_IO_ERRORS]++;
    }
  }

  /**
   * A send failed with EMSGSIZE: learns the route MTUs the kernel queued (`IP_RECVERR`) into
   * the path MTU table and drops the IPv6 packet at `buf[offset]` as `too-big` with an ICMPv6
   * Packet Too Big. Returns false when no MTU was learnt for `destination` (an I/O error then).
   */
  #tooBigForRoute(buf: Uint8Array, offset: number, length: number, destination: number): boolean {
    const error = this.#sendError;
    const now = performance.now();
    let learnt = false;
    while (this.#link.nextSendError?.(error)) {
      this.#pathMtu.update(error.destination, error.mtu, now);
      this.#values[SLOT_PMTU_UPDATES]++;
      if (error.destination === destination) learnt = true;
    }
    this.#values[SLOT_PMTU_ENTRIES] = this.#pathMtu.size;
    if (!learnt) return false;
    this.#result.mtu = this.#pathMtu.innerMtu(destination, now, this.#policy.settings.mtu);
    this.#drop(Reason.TooBig, buf, offset, length);
    return true;
  }

  #answerTooBig(buf: Uint8Array, offset: number, length: number, mtu: number): void {
    if (!this.#icmpLimit.take()) return;
    this.#tooBig.mtu = mtu;
    const n = writePacketTooBig(
      this.#icmpBuf,
      VIRTIO_NET_HDR_LENGTH,
      buf,
      offset,
      length,
      this.#tooBig,
    );
    if (n > 0 && this.#writeIcmp(n) > 0) this.#values[SLOT_ICMP_SENT]++;
  }

  #answerUnreachable(buf: Uint8Array, offset: number, length: number): void {
    if (!this.#icmpLimit.take()) return;
    const n = writeDestinationUnreachable(
      this.#icmpBuf,
      VIRTIO_NET_HDR_LENGTH,
      buf,
      offset,
      length,
      this.#unreachable,
    );
    if (n > 0 && this.#writeIcmp(n) > 0) this.#values[SLOT_ICMP_SENT]++;
  }

  /**
   * Writes the ICMPv6 error at `#icmpBuf[10]` into the TUN, after the zero `virtio_net_hdr`
   * in front of it when the device has one.
   */
  #writeIcmp(length: number): number {
    return this.#vnet
      ? this.#tun.write(this.#icmpBuf, 0, VIRTIO_NET_HDR_LENGTH + length)
      : this.#tun.write(this.#icmpBuf, VIRTIO_NET_HDR_LENGTH, length);
  }

  /**
   * Reads ICMPv4 errors and remembers the path MTUs of "fragmentation needed" about our
   * packets (RFC 4213 §3.4); returns how many messages were read.
   *
   * @param icmp the ICMPv4 socket
   * @param budget the most messages to read now
   */
  pumpIcmp(icmp: IcmpSource, budget: number): number {
    let handled = 0;
    while (handled < budget) {
      const n = icmp.recv(this.#icmpIn, 0, MAX_PACKET);
      if (n <= 0) break;
      handled++;
      const f = this.#fragNeeded;
      // The quoted packet is ours as we sent it: its source is the bind address behind a NAT.
      if (parseFragmentationNeeded(this.#icmpIn, 0, n, this.#policy.rules.bind4, f)) {
        this.#pathMtu.update(f.peer, f.mtu, performance.now());
        this.#values[SLOT_PMTU_UPDATES]++;
        this.#values[SLOT_PMTU_ENTRIES] = this.#pathMtu.size;
      }
    }
    return handled;
  }

  /** The number of peers with a remembered path MTU. */
  get pathMtuEntries(): number {
    return this.#pathMtu.size;
  }
}
