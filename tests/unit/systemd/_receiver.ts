/**
 * The receiving end of sd_notify for tests, as systemd has it: a datagram socket bound to an
 * address and read without blocking. Bound with its own dlopen so that the code under test does
 * not check itself.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SOCK_CLOEXEC, SOCK_DGRAM } from "../../../ffi/constants.ts";
import { libcCandidates } from "../../../ffi/libc.ts";
import { AF_UNIX, encodeSockaddrUn } from "../../../ffi/structs_unix.ts";

const MSG_DONTWAIT = 0x40;
const libc = Deno.dlopen(libcCandidates()[0], {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
}).symbols;

/** A bound datagram socket that collects notifications. */
export class Receiver implements Disposable {
  /** The socket. */
  readonly fd: number;
  /** Binds `address` (a path, or `@name` in the abstract namespace). */
  constructor(address: string) {
    this.fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert.ok(this.fd >= 0, "socket() failed");
    const sa = encodeSockaddrUn(address);
    assert.equal(libc.bind(this.fd, sa.bytes, sa.length), 0, `bind(${address}) failed`);
  }
  /** Every datagram waiting, as text. */
  drain(): string[] {
    const out: string[] = [];
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = Number(libc.recv(this.fd, buffer, BigInt(buffer.length), MSG_DONTWAIT));
      if (n < 0) return out;
      out.push(new TextDecoder().decode(buffer.subarray(0, n)));
    }
  }
  [Symbol.dispose](): void {
    libc.close(this.fd);
  }
}

/** A unique name in the abstract namespace. */
export function abstractName(): string {
  return `@stf-notify-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}
