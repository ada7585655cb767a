/**
 * The Internet checksum's one's-complement sum (RFC 1071) in WebAssembly SIMD, for the data
 * plane's buffers: 16 bytes per step instead of the 4 that a JavaScript loop over 32-bit words
 * manages. Every byte a segment carries is summed once on each side of the tunnel (the
 * segments written from a TSO super-packet on egress, the segments verified before they are
 * coalesced on ingress), so this is where the per-byte CPU of the userspace goes.
 *
 * WebAssembly can only read its own memory: a buffer that is to be summed here is allocated
 * with {@link wasmBuffer}, which creates a `WebAssembly.Memory` of that size with its own
 * instance of the module. Any other buffer is summed by the JavaScript fallback of the
 * caller. The module is assembled here from its opcodes (there is no WebAssembly toolchain in
 * the build), about 200 bytes.
 *
 * Two functions, both over `[ptr, ptr + len)` of the memory:
 * - `sum(ptr, len)`: the one's-complement sum of the bytes as big-endian 16-bit words (an odd
 *   last byte padded with zero), folded to 16 bits, not complemented;
 * - `copySum(dst, src, len)`: copies the bytes to `dst` (the ranges must not overlap) and
 *   returns their sum, reading each byte once.
 *
 * Little-endian 16-bit loads give the byte-swapped sum (RFC 1071 §2 (B)), swapped back at the
 * end. Each 32-bit lane adds at most 2 × 65535 per 16-byte step, so lengths up to
 * {@link WASM_SUM_MAX_LENGTH} cannot overflow.
 *
 * @module
 */

/** The longest range summed in one call (the lanes cannot overflow below 512 KiB). */
export const WASM_SUM_MAX_LENGTH = 256 * 1024;

/** The two exported functions. */
export interface WasmSum {
  /** The folded one's-complement sum of `len` bytes at `ptr`. */
  sum(ptr: number, len: number): number;
  /** Copies `len` bytes from `src` to `dst` and returns their folded sum. */
  copySum(dst: number, src: number, len: number): number;
}

// Opcodes (WebAssembly core spec §5.4, SIMD proposal, now part of the standard).
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d;
const EMPTY = 0x40;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22;
const I32_LOAD8_U = 0x2d, I32_LOAD16_U = 0x2f, I32_STORE8 = 0x3a, I32_STORE16 = 0x3b;
const I32_CONST = 0x41, I64_CONST = 0x42;
const I32_EQZ = 0x45, I32_LT_U = 0x49, I64_GT_U = 0x56;
const I32_ADD = 0x6a, I32_SUB = 0x6b, I32_AND = 0x71, I32_OR = 0x72, I32_SHL = 0x74;
const I32_SHR_U = 0x76, I64_ADD = 0x7c, I64_AND = 0x83, I64_SHR_U = 0x88;
const I32_WRAP_I64 = 0xa7, I64_EXTEND_I32_U = 0xad;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00, 0x00, 0x00]; // align 1, offset 0
const V128_STORE = [SIMD, 0x0b, 0x00, 0x00];
const V128_CONST_ZERO = [SIMD, 0x0c, ...new Array(16).fill(0)];
const I32X4_EXTRACT_LANE = [SIMD, 0x1b];
const I32X4_EXTADD_PAIRWISE_I16X8_U = [SIMD, 0x7f];
const I32X4_ADD = [SIMD, 0xae, 0x01];
const I32 = 0x7f, I64 = 0x7e, V128 = 0x7b;

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, for `i32.const`/`i64.const` immediates. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function vector(items: number[][]): number[] {
  return [...leb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

function name(s: string): number[] {
  return [...leb(s.length), ...new TextEncoder().encode(s)];
}

/** `local += n` for an i32 local. */
function addTo(local: number, n: number): number[] {
  return [LOCAL_GET, local, I32_CONST, ...sleb(n), I32_ADD, LOCAL_SET, local];
}

/** `local -= n` for an i32 local. */
function subFrom(local: number, n: number): number[] {
  return [LOCAL_GET, local, I32_CONST, ...sleb(n), I32_SUB, LOCAL_SET, local];
}

/**
 * `while (len >= step) { body; len -= step }`: a block around a loop that leaves when
 * `len < step`.
 */
function whileAtLeast(len: number, step: number, body: number[]): number[] {
  return [
    BLOCK,
    EMPTY,
    LOOP,
    EMPTY,
    LOCAL_GET,
    len,
    I32_CONST,
    ...sleb(step),
    I32_LT_U,
    BR_IF,
    1,
    ...body,
    ...subFrom(len, step),
    BR,
    0,
    END,
    END,
  ];
}

/** `s += (i64) <i32 on the stack>` for the i64 local `s`. */
function accumulate(s: number): number[] {
  return [I64_EXTEND_I32_U, LOCAL_GET, s, I64_ADD, LOCAL_SET, s];
}

/**
 * The end shared by both functions: the vector lanes into `s`, the 16-bit tail and the odd
 * byte (read at `src`, written to `dst` when copying), the fold, the byte swap.
 */
function finish(
  src: number,
  len: number,
  acc: number,
  s: number,
  copy?: { dst: number; word: number },
): number[] {
  const lanes = [0, 1, 2, 3].flatMap((lane) => [
    LOCAL_GET,
    acc,
    ...I32X4_EXTRACT_LANE,
    lane,
    ...accumulate(s),
  ]);
  const readWord = copy
    ? [
      LOCAL_GET,
      copy.dst,
      LOCAL_GET,
      src,
      I32_LOAD16_U,
      0x00,
      0x00,
      LOCAL_TEE,
      copy.word,
      I32_STORE16,
      0x00,
      0x00,
      LOCAL_GET,
      copy.word,
    ]
    : [LOCAL_GET, src, I32_LOAD16_U, 0x00, 0x00];
  const readByte = copy
    ? [
      LOCAL_GET,
      copy.dst,
      LOCAL_GET,
      src,
      I32_LOAD8_U,
      0x00,
      0x00,
      LOCAL_TEE,
      copy.word,
      I32_STORE8,
      0x00,
      0x00,
      LOCAL_GET,
      copy.word,
    ]
    : [LOCAL_GET, src, I32_LOAD8_U, 0x00, 0x00];
  return [
    ...lanes,
    // while (len >= 2) { s += load16(src); src += 2; len -= 2 }
    ...whileAtLeast(len, 2, [
      ...readWord,
      ...accumulate(s),
      ...addTo(src, 2),
      ...(copy ? addTo(copy.dst, 2) : []),
    ]),
    // if (len) s += load8(src): the odd byte is the high byte of a big-endian word, the low
    // byte of the little-endian one summed here.
    LOCAL_GET,
    len,
    IF,
    EMPTY,
    ...readByte,
    ...accumulate(s),
    END,
    // while (s > 0xffff) s = (s & 0xffff) + (s >> 16)
    BLOCK,
    EMPTY,
    LOOP,
    EMPTY,
    LOCAL_GET,
    s,
    I64_CONST,
    ...sleb(0xffff),
    I64_GT_U,
    I32_EQZ,
    BR_IF,
    1,
    LOCAL_GET,
    s,
    I64_CONST,
    ...sleb(0xffff),
    I64_AND,
    LOCAL_GET,
    s,
    I64_CONST,
    16,
    I64_SHR_U,
    I64_ADD,
    LOCAL_SET,
    s,
    BR,
    0,
    END,
    END,
    // ((s & 0xff) << 8) | (s >> 8): back to network order.
    LOCAL_GET,
    s,
    I32_WRAP_I64,
    I32_CONST,
    ...sleb(0xff),
    I32_AND,
    I32_CONST,
    8,
    I32_SHL,
    LOCAL_GET,
    s,
    I32_WRAP_I64,
    I32_CONST,
    8,
    I32_SHR_U,
    I32_OR,
  ];
}

/** `sum(ptr, len)`: params 0 ptr, 1 len; locals 2 acc (v128), 3 s (i64). */
function sumBody(): number[] {
  const [ptr, len, acc, s] = [0, 1, 2, 3];
  const code = [
    ...V128_CONST_ZERO,
    LOCAL_SET,
    acc,
    // while (len >= 16) { acc += pairwise(load128(ptr)); ptr += 16 }
    ...whileAtLeast(len, 16, [
      LOCAL_GET,
      acc,
      LOCAL_GET,
      ptr,
      ...V128_LOAD,
      ...I32X4_EXTADD_PAIRWISE_I16X8_U,
      ...I32X4_ADD,
      LOCAL_SET,
      acc,
      ...addTo(ptr, 16),
    ]),
    ...finish(ptr, len, acc, s),
    END,
  ];
  const locals = vector([[1, V128], [1, I64]]);
  return [...leb(locals.length + code.length), ...locals, ...code];
}

/** `copySum(dst, src, len)`: params 0 dst, 1 src, 2 len; locals 3 acc, 4 v, 5 s, 6 word. */
function copySumBody(): number[] {
  const [dst, src, len, acc, v, s, word] = [0, 1, 2, 3, 4, 5, 6];
  const code = [
    ...V128_CONST_ZERO,
    LOCAL_SET,
    acc,
    // while (len >= 16) { v = load128(src); store128(dst, v); acc += pairwise(v); … += 16 }
    ...whileAtLeast(len, 16, [
      LOCAL_GET,
      dst,
      LOCAL_GET,
      src,
      ...V128_LOAD,
      LOCAL_TEE,
      v,
      ...V128_STORE,
      LOCAL_GET,
      acc,
      LOCAL_GET,
      v,
      ...I32X4_EXTADD_PAIRWISE_I16X8_U,
      ...I32X4_ADD,
      LOCAL_SET,
      acc,
      ...addTo(dst, 16),
      ...addTo(src, 16),
    ]),
    ...finish(src, len, acc, s, { dst, word }),
    END,
  ];
  const locals = vector([[2, V128], [1, I64], [1, I32]]);
  return [...leb(locals.length + code.length), ...locals, ...code];
}

/** The module's bytes. */
export function wasmSumModuleBytes(): Uint8Array<ArrayBuffer> {
  const types = vector([
    [0x60, ...vector([[I32], [I32]]), ...vector([[I32]])],
    [0x60, ...vector([[I32], [I32], [I32]]), ...vector([[I32]])],
  ]);
  const imports = vector([[...name("env"), ...name("memory"), 0x02, 0x00, 0x01]]);
  const functions = vector([[0], [1]]);
  const exports = vector([[...name("sum"), 0x00, 0], [...name("copySum"), 0x00, 1]]);
  const code = vector([sumBody(), copySumBody()]);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, imports),
    ...section(3, functions),
    ...section(7, exports),
    ...section(10, code),
  ]);
}

let compiled: WebAssembly.Module | undefined;
const instances = new WeakMap<ArrayBuffer, WasmSum>();

/**
 * Allocates a buffer of at least `bytes` bytes in a `WebAssembly.Memory` of its own, so that
 * {@link wasmSumOf} finds the checksum functions for it. The buffer never grows (growing
 * would detach it). Falls back to a plain `ArrayBuffer` where WebAssembly SIMD is missing.
 *
 * @param bytes the size wanted
 */
export function wasmBuffer(bytes: number): ArrayBuffer {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  try {
    compiled ??= new WebAssembly.Module(wasmSumModuleBytes());
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    const buffer = memory.buffer as ArrayBuffer; // not shared: no `shared` flag above
    instances.set(buffer, instance.exports as unknown as WasmSum);
    return buffer;
  } catch {
    return new ArrayBuffer(pages * 65536);
  }
}

let lastBuffer: ArrayBufferLike | undefined;
let lastSum: WasmSum | undefined;

/**
 * The checksum functions for a buffer made by {@link wasmBuffer}, or `undefined` for any
 * other (cached for the last buffer asked about: a path asks about the same one every time).
 *
 * @param buffer the `ArrayBuffer` under the bytes
 */
export function wasmSumOf(buffer: ArrayBufferLike): WasmSum | undefined {
  if (buffer !== lastBuffer) {
    lastBuffer = buffer;
    lastSum = instances.get(buffer as ArrayBuffer);
  }
  return lastSum;
}
