import assert from "node:assert/strict";
import fc from "fast-check";
import { moveBytes, SHORT_MOVE, zeroBytes } from "../../../lib/packet/bytes.ts";

Deno.test("moveBytes() leaves a buffer as copyWithin() does, short, long and overlapping", () => {
  const size = 3 * SHORT_MOVE;
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: size, maxLength: size }),
      fc.nat(size),
      fc.nat(size),
      fc.nat(SHORT_MOVE + 40),
      (bytes, target, start, length) => {
        const end = Math.min(size, start + length);
        const expected = bytes.slice().copyWithin(target, start, end);
        const actual = bytes.slice();
        moveBytes(actual, target, start, Math.min(end, start + (size - target)));
        assert.deepEqual(actual, expected);
      },
    ),
  );
});

Deno.test("zeroBytes() clears exactly the range", () => {
  const buf = new Uint8Array(32).fill(7);
  zeroBytes(buf, 10, 20);
  assert.deepEqual([...buf], [
    ...new Array(10).fill(7),
    ...new Array(10).fill(0),
    ...new Array(12).fill(7),
  ]);
});
