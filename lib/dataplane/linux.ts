/**
 * The Linux implementations of {@link TunDevice} and {@link Link} over file descriptors,
 * through the fast-path libc binding (`ffi/fastpath.ts`): `read` into pointers computed once
 * per buffer, `writev`/`sendmsg` with lengths written into preallocated structs. The fds are
 * non-blocking: "nothing waiting" is 0, not a blocked thread; the Worker waits in `poll`.
 *
 * @module
 */
import { writeIpv4 } from "../addr/mod.ts";
import {
  errnoReader,
  type FastPath,
  type PinnedBuffer,
  pinnedBuffer,
  writeAddress,
} from "../../ffi/fastpath.ts";
import type { IcmpSource, Link, TunDevice } from "./types.ts";

const EAGAIN = 11;
const EINTR = 4;

/** Reads into any buffer at fixed offsets, caching one pointer per (buffer, offset). */
class Reader {
  readonly #lib: FastPath;
  readonly #errno: () => number;
  readonly #fd: number;
  #buf?: Uint8Array;
  #base = 0;
  readonly #pointers = new Map<number, Deno.PointerValue>();
  readonly #lengths = new Map<number, bigint>();

  constructor(lib: FastPath, fd: number) {
    this.#lib = lib;
    this.#errno = errnoReader(lib);
    this.#fd = fd;
  }

  read(buf: Uint8Array, offset: number, maxLength: number): number {
    if (buf !== this.#buf) {
      // Once per buffer: its address. Per offset below: one pointer object, kept.
      this.#buf = buf;
      this.#base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
      this.#pointers.clear();
    }
    let pointer = this.#pointers.get(offset);
    if (pointer === undefined) {
      pointer = Deno.UnsafePointer.create(BigInt(this.#base + offset));
      this.#pointers.set(offset, pointer);
    }
    let length = this.#lengths.get(maxLength);
    if (length === undefined) {
      length = BigInt(Math.min(maxLength, buf.length - offset));
      this.#lengths.set(maxLength, length);
    }
    const n = this.#lib.symbols.read(this.#fd, pointer, length);
    if (n >= 0) return n;
    const e = this.#errno();
    return e === EAGAIN || e === EINTR ? 0 : -e;
  }
}

/** Writes a buffer range with `writev`, the length inside a preallocated `iovec`. */
class Writer {
  readonly #lib: FastPath;
  readonly #errno: () => number;
  readonly #fd: number;
  readonly #iov: PinnedBuffer = pinnedBuffer(64);
  readonly #iovWords = new Uint32Array(this.#iov.bytes.buffer);
  #buf?: Uint8Array;
  #base = 0;

  constructor(lib: FastPath, fd: number) {
    this.#lib = lib;
    this.#errno = errnoReader(lib);
    this.#fd = fd;
  }

  write(buf: Uint8Array, offset: number, length: number): number {
    if (buf !== this.#buf) {
      this.#buf = buf;
      this.#base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    }
    writeAddress(this.#iovWords, 0, this.#base + offset); // iov_base
    this.#iovWords[2] = length; // iov_len (low word; high word stays 0)
    const n = this.#lib.symbols.writev(this.#fd, this.#iov.pointer, 1);
    return n >= 0 ? n : -this.#errno();
  }
}

/** A TUN device over an open, non-blocking file descriptor. */
export class FdTunDevice implements TunDevice {
  /** The interface name. */
  readonly name: string;
  /** The file descriptor. */
  readonly fd: number;
  readonly #reader: Reader;
  readonly #writer: Writer;

  /**
   * Wraps a TUN fd (the caller owns it and closes it).
   *
   * @param lib the fast-path binding of this thread
   * @param fd the fd, non-blocking
   * @param name the interface name
   */
  constructor(lib: FastPath, fd: number, name: string) {
    this.name = name;
    this.fd = fd;
    this.#reader = new Reader(lib, fd);
    this.#writer = new Writer(lib, fd);
  }

  /** Reads one packet. */
  read(buf: Uint8Array, offset: number, maxLength: number): number {
    return this.#reader.read(buf, offset, maxLength);
  }

  /** Writes one packet. */
  write(buf: Uint8Array, offset: number, length: number): number {
    return this.#writer.write(buf, offset, length);
  }

  /** The fd belongs to the thread that opened it: nothing to do here. */
  close(): void {}
}

/** The protocol-41 raw socket (IP_HDRINCL) over an open, non-blocking fd. */
export class FdLink implements Link, IcmpSource {
  /** The file descriptor. */
  readonly fd: number;
  readonly #lib: FastPath;
  readonly #errno: () => number;
  readonly #reader: Reader;
  // sockaddr_in (16 bytes at 0), iovec (16 bytes at 16), msghdr (56 bytes at 32).
  readonly #structs: PinnedBuffer = pinnedBuffer(128);
  readonly #words = new Uint32Array(this.#structs.bytes.buffer);
  #buf?: Uint8Array;
  #base = 0;
  readonly #msghdr: Deno.PointerValue;

  /**
   * Wraps a raw socket fd (the caller owns it and closes it).
   *
   * @param lib the fast-path binding of this thread
   * @param fd the socket, non-blocking
   */
  constructor(lib: FastPath, fd: number) {
    this.fd = fd;
    this.#lib = lib;
    this.#errno = errnoReader(lib);
    this.#reader = new Reader(lib, fd);
    const s = this.#structs;
    const view = new DataView(s.bytes.buffer);
    view.setUint16(0, 2, true); // sin_family = AF_INET (host order)
    writeAddress(this.#words, 8, s.address); // msghdr.msg_name → sockaddr_in
    this.#words[10] = 16; // msg_namelen
    writeAddress(this.#words, 12, s.address + 16); // msg_iov → iovec
    this.#words[14] = 1; // msg_iovlen
    this.#msghdr = Deno.UnsafePointer.create(BigInt(s.address + 32));
  }

  /** Receives one whole IPv4 packet. */
  recv(buf: Uint8Array, offset: number, maxLength: number): number {
    return this.#reader.read(buf, offset, maxLength);
  }

  /** Sends one whole IPv4 packet to `destination`. */
  send(buf: Uint8Array, offset: number, length: number, destination: number): number {
    if (buf !== this.#buf) {
      this.#buf = buf;
      this.#base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    }
    writeIpv4(destination, this.#structs.bytes, 4); // sin_addr, network order
    writeAddress(this.#words, 4, this.#base + offset); // iov_base
    this.#words[6] = length; // iov_len
    const n = this.#lib.symbols.sendmsg(this.fd, this.#msghdr, 0);
    return n >= 0 ? n : -this.#errno();
  }

  /** The fd belongs to the thread that opened it: nothing to do here. */
  close(): void {}
}
