import assert from "node:assert/strict";
import fc from "fast-check";
import { internetChecksum } from "../../../lib/packet/checksum.ts";
import {
  WASM_SUM_MAX_LENGTH,
  wasmBuffer,
  wasmSumModuleBytes,
  wasmSumOf,
} from "../../../lib/packet/wasm_sum.ts";

// The reference is checksum.ts's byte-wise RFC 1071 loop: its complement is the folded sum.
function reference(buf: Uint8Array, offset: number, length: number): number {
  return ~internetChecksum(buf, offset, length) & 0xffff;
}

Deno.test("the assembled module is valid WebAssembly and exports sum and copySum", () => {
  const bytes = wasmSumModuleBytes();
  assert.equal(WebAssembly.validate(bytes), true);
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
  assert.deepEqual(exports.map((e) => `${e.kind} ${e.name}`), ["function sum", "function copySum"]);
});

Deno.test("wasmSumOf() knows the buffers wasmBuffer() made, and only those", () => {
  const buffer = wasmBuffer(100_000);
  assert.ok(buffer.byteLength >= 100_000);
  assert.notEqual(wasmSumOf(buffer), undefined);
  assert.equal(wasmSumOf(new ArrayBuffer(100_000)), undefined);
  assert.notEqual(wasmSumOf(buffer), wasmSumOf(wasmBuffer(10)), "each buffer has its instance");
});

Deno.test("sum() equals the RFC 1071 sum for any offset and length (odd ones included)", () => {
  const buffer = wasmBuffer(70_000);
  const buf = new Uint8Array(buffer);
  const wasm = wasmSumOf(buffer)!;
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 2000 }),
      fc.nat(40),
      (bytes, offset) => {
        buf.set(bytes, offset);
        assert.equal(wasm.sum(offset, bytes.length), reference(buf, offset, bytes.length));
      },
    ),
    { numRuns: 3000 },
  );
  // All ones (the largest lane sums) over the longest range the data plane has, and zeros.
  buf.fill(0xff);
  assert.equal(wasm.sum(1, 65_535), reference(buf, 1, 65_535));
  buf.fill(0);
  assert.equal(wasm.sum(0, 65_535), 0);
  assert.ok(WASM_SUM_MAX_LENGTH >= 65_535);
});

Deno.test("copySum() copies the bytes exactly and returns their sum", () => {
  const buffer = wasmBuffer(20_000);
  const buf = new Uint8Array(buffer);
  const wasm = wasmSumOf(buffer)!;
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.nat(31),
      fc.nat(31),
      (bytes, from, shift) => {
        buf.fill(0xaa);
        buf.set(bytes, from);
        const to = 10_000 + shift;
        const sum = wasm.copySum(to, from, bytes.length);
        assert.deepEqual(buf.subarray(to, to + bytes.length), bytes);
        assert.equal(buf[to + bytes.length], 0xaa, "nothing written past the end");
        assert.equal(buf[to - 1], 0xaa, "nothing written before the start");
        assert.equal(sum, reference(bytes, 0, bytes.length));
      },
    ),
    { numRuns: 2000 },
  );
});
