/**
 * Packet batches for batch syscalls (`recvmmsg`/`sendmmsg`): fixed slots in one
 * `ArrayBuffer`, with the per-slot length and outer destination in typed arrays. A batch is
 * allocated once per path; the Linux link builds its `mmsghdr`/`iovec` arrays over the slots
 * once and only writes lengths and addresses per packet.
 *
 * @module
 */
import { wasmBuffer } from "../packet/wasm_sum.ts";

/** Slot sizes are rounded to this, so that a slot's start keeps payloads 4-byte aligned. */
const SLOT_ALIGN = 64;

/** Options of {@link PacketBatch}. */
export interface PacketBatchOptions {
  /** Extra bytes allocated after the last slot (scratch space in the same buffer). */
  readonly extraBytes?: number;
}

/** N packet slots of `slotSize` bytes each; slot `i` starts at `i * slotSize`. */
export class PacketBatch {
  /** The whole buffer: the slots, then the extra bytes. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The same memory as 32-bit words (for fast checksums over aligned ranges). */
  readonly words: Uint32Array<ArrayBuffer>;
  /** Bytes per slot (a multiple of 64). */
  readonly slotSize: number;
  /** The number of slots. */
  readonly capacity: number;
  /** Per slot: the packet's length (sent from the slot's start, or received there). */
  readonly lengths: Int32Array;
  /** Per slot: the outer IPv4 destination (sending). */
  readonly destinations: Uint32Array;
  /** Where the extra bytes start. */
  readonly extraOffset: number;

  /**
   * Allocates the slots.
   *
   * @param capacity the number of slots (≥ 1)
   * @param slotSize the bytes each slot must hold (rounded up to a multiple of 64)
   * @param options extra bytes after the slots
   */
  constructor(capacity: number, slotSize: number, options: PacketBatchOptions = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot make a batch of "${capacity}" slots: expected 1 or more`);
    }
    this.capacity = capacity;
    this.slotSize = Math.ceil(slotSize / SLOT_ALIGN) * SLOT_ALIGN;
    this.extraOffset = capacity * this.slotSize;
    const size = Math.ceil((this.extraOffset + (options.extraBytes ?? 0)) / 4) * 4;
    // WebAssembly memory, so that checksums over the slots run in SIMD (wasm_sum.ts).
    const buffer = wasmBuffer(size);
    this.bytes = new Uint8Array(buffer);
    this.words = new Uint32Array(buffer);
    this.lengths = new Int32Array(capacity);
    this.destinations = new Uint32Array(capacity);
  }

  /** The offset of slot `i`. */
  offset(i: number): number {
    return i * this.slotSize;
  }
}
