import assert from "node:assert/strict";
import { errnoReader, openFastPath, pinnedBuffer } from "../../../ffi/fastpath.ts";
import { EAGAIN, EFD_CLOEXEC, EFD_NONBLOCK, openLibc } from "../../../ffi/mod.ts";

Deno.test("errnoReader() reads the errno each failing call leaves", () => {
  const lib = openFastPath();
  const libc = openLibc().symbols;
  const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0);
  try {
    const errno = errnoReader(lib);
    const buf = pinnedBuffer(8);
    assert.equal(lib.symbols.read(-1, buf.pointer, 8n), -1);
    assert.equal(errno(), 9); // EBADF
    // An empty non-blocking eventfd: EAGAIN, what ends every drain of a queue.
    assert.equal(lib.symbols.read(fd, buf.pointer, 8n), -1);
    assert.equal(errno(), EAGAIN);
  } finally {
    libc.close(fd);
    lib.close();
  }
});
