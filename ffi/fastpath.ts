/**
 * The data plane's libc calls: a separate, minimal binding whose buffer arguments are raw
 * pointers computed once, so a packet costs no `Uint8Array` view, no `UnsafePointer.of` and no
 * BigInt (docs/performance.md, "FFI on the fast path"). Lengths travel inside `iovec`/`msghdr`/`mmsghdr` structs written
 * through typed arrays; the only `usize` argument (`read`'s length) is a BigInt made once.
 * Each Worker opens it itself.
 *
 * @module
 */
import { libcCandidates } from "./libc.ts";

/** The symbols of the fast path; all synchronous. */
export const FASTPATH_SYMBOLS = {
  read: { parameters: ["i32", "pointer", "usize"], result: "i32" },
  writev: { parameters: ["i32", "pointer", "i32"], result: "i32" },
  sendmsg: { parameters: ["i32", "pointer", "i32"], result: "i32" },
  recvmsg: { parameters: ["i32", "pointer", "i32"], result: "i32" },
  sendmmsg: { parameters: ["i32", "pointer", "u32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "pointer", "u32", "i32", "pointer"], result: "i32" },
  poll: { parameters: ["pointer", "u64", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound fast-path symbols. */
export type FastPath = Deno.DynamicLibrary<typeof FASTPATH_SYMBOLS>;

/** Opens the fast-path binding of libc (one per thread). */
export function openFastPath(): FastPath {
  const failures: string[] = [];
  for (const path of libcCandidates()) {
    try {
      return Deno.dlopen(path, FASTPATH_SYMBOLS);
    } catch (e) {
      failures.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(`Cannot load libc: ${failures.join("; ")}`);
}

/** A byte buffer with its native address, for building structs that point into it. */
export interface PinnedBuffer {
  /** The bytes. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The pointer to byte 0. */
  readonly pointer: Deno.PointerObject;
  /** The address of byte 0 as a number (exact: user-space addresses are below 2^53). */
  readonly address: number;
}

/**
 * Allocates a buffer and records its address once. The `ArrayBuffer` is not resizable and is
 * kept referenced by the returned object, so the address stays valid.
 *
 * @param size bytes
 */
export function pinnedBuffer(size: number): PinnedBuffer {
  const bytes = new Uint8Array(new ArrayBuffer(size));
  const pointer = Deno.UnsafePointer.of(bytes);
  if (pointer === null) throw new Error("Cannot take the address of a buffer");
  return { bytes, pointer, address: Number(Deno.UnsafePointer.value(pointer)) };
}

/**
 * Writes a 64-bit address into a struct field through a `Uint32Array` view (little-endian
 * hosts: x86_64, aarch64), without allocating a BigInt.
 *
 * @param words the struct as 32-bit words
 * @param wordIndex the index of the field's low word
 * @param address the address
 */
export function writeAddress(words: Uint32Array, wordIndex: number, address: number): void {
  words[wordIndex] = address % 0x1_0000_0000;
  words[wordIndex + 1] = Math.floor(address / 0x1_0000_0000);
}

/**
 * Reads this thread's errno through an `Int32Array` over its storage, made once: a plain
 * memory load. `UnsafePointerView.getInt32()` is a call into the runtime on its generic path
 * even from optimised code (perf), one per `EAGAIN` that ends every drain of a queue.
 */
export function errnoReader(lib: FastPath): () => number {
  const location = lib.symbols.__errno_location();
  if (location === null) return () => 0;
  // errno is thread-local: its address stays valid as long as this thread, which owns `lib`.
  const errno = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(location, 4));
  return () => errno[0];
}
