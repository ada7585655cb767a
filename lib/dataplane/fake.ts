/**
 * In-memory fakes of the TUN device, the protocol-41 link (as wireguard-go's `tun/tuntest`)
 * and the poll loop's poller, so the whole data plane, its Worker loop included, runs in unit
 * tests without root.
 *
 * @module
 */
import { EBADF, EMSGSIZE } from "../../ffi/constants.ts";
import type { PacketBatch } from "./batch.ts";
import type { IcmpSource, Link, Poller, SendError, TunDevice } from "./types.ts";

/** A TUN device whose "kernel side" is two queues. */
export class MemoryTun implements TunDevice {
  /** The interface name. */
  readonly name: string;
  /** Packets the kernel routed into the device: stf reads them (egress). */
  readonly toStf: Uint8Array[] = [];
  /** Packets stf wrote into the device: the kernel would receive them (ingress, ICMPv6). */
  readonly fromStf: Uint8Array[] = [];
  #closed = false;

  /** Creates a device. */
  constructor(name = "stf0") {
    this.name = name;
  }

  /** Reads the next queued packet. */
  read(buf: Uint8Array, offset: number, maxLength: number): number {
    const packet = this.toStf.shift();
    if (packet === undefined) return 0;
    const n = Math.min(packet.length, maxLength);
    buf.set(packet.subarray(0, n), offset);
    return n;
  }

  /** Records a written packet (a copy). */
  write(buf: Uint8Array, offset: number, length: number): number {
    if (this.#closed) return -EBADF;
    this.fromStf.push(buf.slice(offset, offset + length));
    return length;
  }

  /** Records a packet gathered from ranges (a copy of their concatenation). */
  writeVector(buf: Uint8Array, parts: Int32Array, count: number): number {
    if (this.#closed) return -EBADF;
    let total = 0;
    for (let i = 0; i < count; i++) total += parts[2 * i + 1];
    const packet = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      packet.set(buf.subarray(parts[2 * i], parts[2 * i] + parts[2 * i + 1]), at);
      at += parts[2 * i + 1];
    }
    this.fromStf.push(packet);
    return total;
  }

  /** Marks the device closed. */
  close(): void {
    this.#closed = true;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }
}

/** A packet sent on a {@link MemoryLink}. */
export interface SentPacket {
  /** The whole IPv4 packet. */
  readonly bytes: Uint8Array;
  /** The destination given to `send`. */
  readonly destination: number;
}

/** A protocol-41 link whose wire is two queues; `peer` delivers sent packets to another. */
export class MemoryLink implements Link, IcmpSource {
  /** Whole IPv4 packets waiting to be received by stf. */
  readonly toStf: Uint8Array[] = [];
  /** What stf sent. */
  readonly sent: SentPacket[] = [];
  /** Another link that receives what this one sends (a wire between two sites). */
  peer?: MemoryLink;
  /** When set, `send` fails with this negative errno (fault injection). */
  failWith?: number;
  /**
   * When set, the route's MTU: a larger packet fails with EMSGSIZE and leaves a
   * {@link SendError}, as the kernel's `IP_RECVERR` queue does.
   */
  routeMtu?: number;
  readonly #sendErrors: { destination: number; mtu: number }[] = [];
  #closed = false;

  /** Receives the next queued packet. */
  recv(buf: Uint8Array, offset: number, maxLength: number): number {
    const packet = this.toStf.shift();
    if (packet === undefined) return 0;
    const n = Math.min(packet.length, maxLength);
    buf.set(packet.subarray(0, n), offset);
    return n;
  }

  /** Records (and forwards to the peer) a copy of the packet. */
  send(buf: Uint8Array, offset: number, length: number, destination: number): number {
    if (this.failWith !== undefined) return this.failWith;
    if (this.routeMtu !== undefined && length > this.routeMtu) {
      this.#sendErrors.push({ destination, mtu: this.routeMtu });
      return -EMSGSIZE;
    }
    const bytes = buf.slice(offset, offset + length);
    this.sent.push({ bytes, destination });
    this.peer?.toStf.push(bytes);
    return length;
  }

  /** Sends batch slots one by one, as `sendmmsg` does (stops at the first failure). */
  sendBatch(batch: PacketBatch, start: number, count: number): number {
    let sent = 0;
    for (let i = start; i < start + count; i++) {
      const r = this.send(batch.bytes, batch.offset(i), batch.lengths[i], batch.destinations[i]);
      if (r < 0) return sent === 0 ? r : sent;
      sent++;
    }
    return sent;
  }

  /** Receives queued packets into batch slots, as `recvmmsg` does. */
  recvBatch(batch: PacketBatch, count: number): number {
    let n = 0;
    while (n < count) {
      const length = this.recv(batch.bytes, batch.offset(n), batch.slotSize);
      if (length <= 0) break;
      batch.lengths[n++] = length;
    }
    return n;
  }

  /** Takes the next queued EMSGSIZE error. */
  nextSendError(out: SendError): boolean {
    const e = this.#sendErrors.shift();
    if (e === undefined) return false;
    out.destination = e.destination;
    out.mtu = e.mtu;
    return true;
  }

  /** Marks the link closed. */
  close(): void {
    this.#closed = true;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }
}

/** What one wait of a {@link FakePoller} reports. */
export interface FakePollStep {
  /** Entries that are readable (the doorbell is the last). */
  readonly readable?: readonly number[];
  /** Error events (`POLLERR`, `POLLHUP`, `POLLNVAL`) by entry. */
  readonly failed?: Readonly<Record<number, number>>;
  /** Rings the doorbell counted (read by `takeRings`). */
  readonly rings?: number;
  /** A negative errno: the wait failed. */
  readonly error?: number;
  /** Runs when the wait happens (to change the world at that moment: a stop flag, a packet). */
  readonly then?: () => void;
}

/**
 * A poller that reports a script, one step per wait; a wait beyond the script is a timeout.
 * The timeouts asked for are recorded.
 */
export class FakePoller implements Poller {
  /** How many entries are watched, the doorbell (last) included. */
  readonly size: number;
  /** The steps the next waits report, in order (consumed). */
  readonly script: FakePollStep[];
  /** The timeout of every wait so far. */
  readonly timeouts: number[] = [];
  #step: FakePollStep = {};

  /**
   * Creates a poller of `size` entries (the data fds and the doorbell).
   *
   * @param size the entries, the doorbell included
   * @param script the steps of the first waits
   */
  constructor(size: number, script: FakePollStep[] = []) {
    this.size = size;
    this.script = script;
  }

  /** Takes the next step: its error, or how many entries it reports. */
  wait(timeout: number): number {
    this.timeouts.push(timeout);
    const step = this.#step = this.script.shift() ?? {};
    step.then?.();
    if (step.error !== undefined) return step.error;
    const entries = new Set([
      ...(step.readable ?? []),
      ...Object.keys(step.failed ?? {}).map(Number),
    ]);
    return entries.size;
  }

  /** Whether the step made entry `i` readable. */
  readable(i: number): boolean {
    return this.#step.readable?.includes(i) ?? false;
  }

  /** The step's error events of entry `i`. */
  failed(i: number): number {
    return this.#step.failed?.[i] ?? 0;
  }

  /** The step's rings, when the doorbell was readable. */
  takeRings(): number {
    return this.readable(this.size - 1) ? this.#step.rings ?? 0 : 0;
  }
}
