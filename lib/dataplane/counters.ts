/**
 * Counters of the data plane in a `SharedArrayBuffer`: each Worker writes only its own
 * direction of its own queue, so plain stores suffice; the main thread reads them for stats,
 * metrics and exit, summing the queues.
 *
 * Layout per queue, per direction: one packet counter per reason code (code 0 = forwarded),
 * then bytes forwarded, send errors, ICMPv6 errors sent, ICMPv4 too-big messages received,
 * peers with a path MTU.
 *
 * @module
 */
import { EGRESS_REASONS, INGRESS_REASONS, REASON_COUNT, REASON_NAMES } from "../filter/reasons.ts";
import type { Direction } from "./types.ts";

/** Index of a direction in the counter array. */
export const DIRECTION_INDEX: Readonly<Record<Direction, number>> = { egress: 0, ingress: 1 };

/** Slot of bytes forwarded. */
export const SLOT_BYTES = REASON_COUNT;
/** Slot of send or write errors (the packet was accepted but the kernel refused it). */
export const SLOT_IO_ERRORS = REASON_COUNT + 1;
/** Slot of ICMPv6 errors generated (Packet Too Big, unreachable). */
export const SLOT_ICMP_SENT = REASON_COUNT + 2;
/** Slot of ICMPv4 "fragmentation needed" about our packets (egress only). */
export const SLOT_PMTU_UPDATES = REASON_COUNT + 3;
/** Slot of the peers with a remembered path MTU (a gauge, egress only). */
export const SLOT_PMTU_ENTRIES = REASON_COUNT + 4;
/** Slots per direction. */
export const SLOTS = REASON_COUNT + 5;

/** A plain snapshot of one direction's counters. */
export interface DirectionCounters {
  /** Packets forwarded. */
  readonly packets: number;
  /** Bytes forwarded (inner IPv6 bytes). */
  readonly bytes: number;
  /** Drops per reason name; every reason possible in the direction is present, 0 or more. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Packets accepted by the rules but refused by the kernel on send or write. */
  readonly ioErrors: number;
  /** ICMPv6 errors generated. */
  readonly icmpSent: number;
  /** ICMPv4 "fragmentation needed" messages that lowered a path MTU. */
  readonly pathMtuUpdates: number;
  /** Peers with a remembered path MTU (egress; 0 for ingress). */
  readonly pathMtuEntries: number;
}

/** A plain snapshot of all counters. */
export interface CounterSnapshot {
  /** IPv6 from the TUN towards the IPv4 network. */
  readonly egress: DirectionCounters;
  /** Protocol 41 from the IPv4 network into the TUN. */
  readonly ingress: DirectionCounters;
}

/** Packets forwarded by one queue's Worker pair. */
export interface QueueCounters {
  /** By its egress Worker. */
  readonly egress: number;
  /** By its ingress Worker. */
  readonly ingress: number;
}

/** The counters of both directions of every queue over one shared buffer. */
export class Counters {
  /** The shared memory, posted to the Workers. */
  readonly buffer: SharedArrayBuffer;
  /** The number of queues (`--queues`), each with its own block. */
  readonly queues: number;
  /** This view's queue block: `[direction * SLOTS + slot]` (what a Worker writes). */
  readonly values: Float64Array;
  readonly #all: Float64Array;

  /**
   * Creates counters for `queues` queues, or views existing shared ones.
   *
   * @param buffer shared memory from another thread's `Counters`
   * @param options how many queues (new counters), which queue this view writes (default 0)
   */
  constructor(
    buffer?: SharedArrayBuffer,
    options: { readonly queues?: number; readonly queue?: number } = {},
  ) {
    const block = 2 * SLOTS;
    this.buffer = buffer ?? new SharedArrayBuffer((options.queues ?? 1) * block * 8);
    this.#all = new Float64Array(this.buffer);
    this.queues = this.#all.length / block;
    const queue = options.queue ?? 0;
    if (!Number.isInteger(queue) || queue < 0 || queue >= this.queues) {
      throw new RangeError(`Cannot view queue ${queue} of ${this.queues}`);
    }
    this.values = this.#all.subarray(queue * block, (queue + 1) * block);
  }

  /** The I/O errors of `direction` in this view's queue (what its Worker has counted). */
  queueIoErrors(direction: "egress" | "ingress"): number {
    return this.values[(direction === "egress" ? 0 : SLOTS) + SLOT_IO_ERRORS];
  }

  /** Returns a plain snapshot of every counter, the queues summed. */
  snapshot(): CounterSnapshot {
    return {
      egress: this.#direction(0, EGRESS_REASONS),
      ingress: this.#direction(1, INGRESS_REASONS),
    };
  }

  /** The packets forwarded by each queue (for `stf status`), egress and ingress. */
  perQueue(): QueueCounters[] {
    const out: QueueCounters[] = [];
    for (let q = 0; q < this.queues; q++) {
      const base = q * 2 * SLOTS;
      out.push({ egress: this.#all[base], ingress: this.#all[base + SLOTS] });
    }
    return out;
  }

  #sum(direction: number, slot: number): number {
    let sum = 0;
    for (let q = 0; q < this.queues; q++) sum += this.#all[(2 * q + direction) * SLOTS + slot];
    return sum;
  }

  #max(direction: number, slot: number): number {
    let max = 0;
    for (let q = 0; q < this.queues; q++) {
      max = Math.max(max, this.#all[(2 * q + direction) * SLOTS + slot]);
    }
    return max;
  }

  #direction(index: number, reasons: readonly number[]): DirectionCounters {
    const dropped: Record<string, number> = {};
    for (const code of reasons) dropped[REASON_NAMES[code]] = this.#sum(index, code);
    return {
      packets: this.#sum(index, 0),
      bytes: this.#sum(index, SLOT_BYTES),
      dropped,
      ioErrors: this.#sum(index, SLOT_IO_ERRORS),
      icmpSent: this.#sum(index, SLOT_ICMP_SENT),
      // Each queue's egress Worker reads the same ICMPv4 messages (a socket each) into its
      // own path MTU table: the largest count is the number of messages, not the sum.
      pathMtuUpdates: this.#max(index, SLOT_PMTU_UPDATES),
      pathMtuEntries: this.#max(index, SLOT_PMTU_ENTRIES),
    };
  }
}

/** The total of drops in one direction. */
export function totalDropped(counters: DirectionCounters): number {
  let sum = 0;
  for (const n of Object.values(counters.dropped)) sum += n;
  return sum;
}

/**
 * Formats counters as text lines for a terminal or a log: the forwarded totals, then each
 * non-zero drop reason.
 *
 * @param snapshot the counters
 */
export function formatCounters(snapshot: CounterSnapshot): string {
  const lines: string[] = [];
  for (const direction of ["egress", "ingress"] as const) {
    const c = snapshot[direction];
    lines.push(
      `${direction}: ${c.packets} packets (${c.bytes} bytes) forwarded, ` +
        `${totalDropped(c)} dropped, ${c.ioErrors} I/O errors, ${c.icmpSent} ICMPv6 sent`,
    );
    for (const [reason, n] of Object.entries(c.dropped)) {
      if (n > 0) lines.push(`  ${direction} dropped ${reason}: ${n}`);
    }
  }
  return lines.join("\n");
}
