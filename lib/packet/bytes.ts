/**
 * Byte moves and fills inside one buffer that stay in JavaScript when they are short.
 * `TypedArray.prototype.copyWithin` and `fill` are runtime builtins: each call leaves the
 * optimised code for C++, which costs little when the caches are warm but is one of the larger
 * costs of a lone packet when they are cold (docs/performance.md, "A lone packet"). The virtio
 * header (10 bytes), the headers copied per segment and a small packet are short; a full-size
 * packet still goes to `copyWithin` (memmove).
 *
 * @module
 */

/** The longest move done with a loop; longer ones call `copyWithin`. */
export const SHORT_MOVE = 256;

/**
 * `buf.copyWithin(target, start, end)`, overlapping ranges included, without leaving
 * JavaScript for a move of at most {@link SHORT_MOVE} bytes.
 *
 * @param buf the buffer
 * @param target where the bytes go
 * @param start the first byte to move
 * @param end one past the last byte to move
 */
export function moveBytes(buf: Uint8Array, target: number, start: number, end: number): void {
  const n = end - start;
  if (n > SHORT_MOVE) {
    buf.copyWithin(target, start, end);
  } else if (target <= start) {
    for (let i = 0; i < n; i++) buf[target + i] = buf[start + i];
  } else {
    for (let i = n - 1; i >= 0; i--) buf[target + i] = buf[start + i];
  }
}

/**
 * `buf.fill(0, start, end)` for a short range (a `virtio_net_hdr`), as a loop.
 *
 * @param buf the buffer
 * @param start the first byte
 * @param end one past the last byte
 */
export function zeroBytes(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) buf[i] = 0;
}
