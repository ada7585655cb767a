/**
 * The Linux implementations of {@link TunDevice}, {@link Link} and {@link Poller} over file
 * descriptors, through the fast-path libc binding (`ffi/fastpath.ts`): `read` into pointers
 * computed once per buffer, `writev`/`sendmsg` with lengths written into preallocated structs.
 * The fds are non-blocking: "nothing waiting" is 0, not a blocked thread; the Worker waits in
 * `poll` ({@link FdPoller}).
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
import type { PacketBatch } from "./batch.ts";
import type { IcmpSource, Link, Poller, SendError, TunDevice } from "./types.ts";
import type { WakeUpFunction } from "./tier.ts";
import { POLLFD } from "../../ffi/structs.ts";
import {
  EAGAIN,
  EINTR,
  EINVAL,
  EMSGSIZE,
  IP_RECVERR,
  IPPROTO_IP,
  MSG_DONTWAIT,
  MSG_ERRQUEUE,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  SO_EE_ORIGIN_LOCAL,
} from "../../ffi/constants.ts";
/** The most ranges one gathered write takes (a coalesced packet: 64 KiB of ≥ 536-byte MSS). */
const MAX_WRITE_PARTS = 128;
/** `sizeof(struct mmsghdr)` on 64-bit Linux: a 56-byte msghdr, msg_len, padding. */
const MMSGHDR_SIZE = 64;

/** The address of a buffer's byte 0 as a number (once per buffer, never per packet). */
function addressOf(buf: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

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
  readonly #iov: PinnedBuffer = pinnedBuffer(16 * MAX_WRITE_PARTS);
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

  writeVector(buf: Uint8Array, parts: Int32Array, count: number): number {
    if (buf !== this.#buf) {
      this.#buf = buf;
      this.#base = addressOf(buf);
    }
    if (count > MAX_WRITE_PARTS) return -EINVAL;
    const words = this.#iovWords;
    for (let i = 0; i < count; i++) {
      writeAddress(words, 4 * i, this.#base + parts[2 * i]);
      words[4 * i + 2] = parts[2 * i + 1];
      words[4 * i + 3] = 0;
    }
    const n = this.#lib.symbols.writev(this.#fd, this.#iov.pointer, count);
    return n >= 0 ? n : -this.#errno();
  }
}

/**
 * `mmsghdr`/`iovec` arrays over the slots of one batch, built once: slot `i` has its iovec
 * pointing at the slot's start and (for sending) its own `sockaddr_in`. Per packet only
 * `iov_len` and `sin_addr` are written.
 */
class BatchStructs {
  readonly batch: PacketBatch;
  readonly #structs: PinnedBuffer;
  /** The structs as 32-bit words. */
  readonly words: Uint32Array;
  /** The structs as bytes. */
  readonly bytes: Uint8Array;
  /** Pointers to `mmsghdr[i]`, made once. */
  readonly headers: Deno.PointerValue[] = [];
  /** Word index of `iovec[i].iov_len`. */
  readonly iovLenWord: number;
  /** Byte offset of `sockaddr_in[i].sin_addr` (sending). */
  readonly addrByte: number;

  constructor(batch: PacketBatch, withAddresses: boolean) {
    this.batch = batch;
    const n = batch.capacity;
    const iovAt = n * MMSGHDR_SIZE;
    const addrAt = iovAt + n * 16;
    this.#structs = pinnedBuffer(addrAt + (withAddresses ? n * 16 : 0));
    this.words = new Uint32Array(this.#structs.bytes.buffer);
    this.bytes = this.#structs.bytes;
    this.iovLenWord = iovAt / 4 + 2;
    this.addrByte = addrAt + 4;
    const base = this.#structs.address;
    const data = addressOf(batch.bytes);
    const view = new DataView(this.#structs.bytes.buffer);
    for (let i = 0; i < n; i++) {
      const h = (i * MMSGHDR_SIZE) / 4;
      if (withAddresses) {
        view.setUint16(addrAt + 16 * i, 2, true); // sin_family = AF_INET
        writeAddress(this.words, h, base + addrAt + 16 * i); // msg_name
        this.words[h + 2] = 16; // msg_namelen
      }
      writeAddress(this.words, h + 4, base + iovAt + 16 * i); // msg_iov
      this.words[h + 6] = 1; // msg_iovlen
      writeAddress(this.words, (iovAt + 16 * i) / 4, data + batch.offset(i)); // iov_base
      this.words[(iovAt + 16 * i) / 4 + 2] = batch.slotSize; // iov_len
      this.headers.push(Deno.UnsafePointer.create(BigInt(base + i * MMSGHDR_SIZE)));
    }
  }

  /** `mmsghdr[i].msg_len`: the bytes received into slot `i`. */
  received(i: number): number {
    return this.words[(i * MMSGHDR_SIZE) / 4 + 14];
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

  /** Writes one packet gathered from ranges of a buffer. */
  writeVector(buf: Uint8Array, parts: Int32Array, count: number): number {
    return this.#writer.writeVector(buf, parts, count);
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
  #send?: BatchStructs;
  #recv?: BatchStructs;
  // recvmsg(MSG_ERRQUEUE): msghdr at 0, sockaddr_in at 64, iovec at 80, the quoted header at
  // 96 (64 bytes), control messages at 160 (96 bytes).
  readonly #errors: PinnedBuffer = pinnedBuffer(256);
  readonly #errorWords = new Uint32Array(this.#errors.bytes.buffer);
  readonly #errorView = new DataView(this.#errors.bytes.buffer);

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
    const e = this.#errors;
    writeAddress(this.#errorWords, 0, e.address + 64); // msg_name → sockaddr_in
    writeAddress(this.#errorWords, 4, e.address + 80); // msg_iov → iovec
    this.#errorWords[6] = 1; // msg_iovlen
    writeAddress(this.#errorWords, 8, e.address + 160); // msg_control
    writeAddress(this.#errorWords, 20, e.address + 96); // iov_base
    this.#errorWords[22] = 64; // iov_len
  }

  /**
   * Reads the socket's error queue (`IP_RECVERR`) until an EMSGSIZE raised by this host:
   * `sock_extended_err.ee_info` is the route's MTU, the message's address the destination.
   * Other queued errors are consumed and skipped.
   */
  nextSendError(out: SendError): boolean {
    const words = this.#errorWords;
    const view = this.#errorView;
    for (;;) {
      words[2] = 16; // msg_namelen
      words[10] = 96; // msg_controllen (low word; the high word stays 0)
      words[12] = 0; // msg_flags
      const n = this.#lib.symbols.recvmsg(
        this.fd,
        this.#errors.pointer,
        MSG_ERRQUEUE | MSG_DONTWAIT,
      );
      if (n < 0) return false; // EAGAIN: the queue is empty
      // cmsghdr: cmsg_len (8 bytes), cmsg_level, cmsg_type, then sock_extended_err.
      const controlLength = words[10];
      for (let c = 160; c + 32 <= 160 + controlLength;) {
        const length = view.getUint32(c, true);
        if (length < 16) break;
        const level = view.getInt32(c + 8, true);
        const type = view.getInt32(c + 12, true);
        if (
          level === IPPROTO_IP && type === IP_RECVERR &&
          view.getUint32(c + 16, true) === EMSGSIZE &&
          view.getUint8(c + 20) === SO_EE_ORIGIN_LOCAL
        ) {
          out.mtu = view.getUint32(c + 24, true);
          out.destination = view.getUint32(68, false); // sin_addr, network order
          return true;
        }
        c += (length + 7) & ~7;
      }
    }
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

  /** Sends batch slots with one `sendmmsg`. */
  sendBatch(batch: PacketBatch, start: number, count: number): number {
    let s = this.#send;
    if (s?.batch !== batch) s = this.#send = new BatchStructs(batch, true);
    const { words, bytes, iovLenWord, addrByte } = s;
    const lengths = batch.lengths;
    const destinations = batch.destinations;
    for (let i = start; i < start + count; i++) {
      words[iovLenWord + 4 * i] = lengths[i];
      const d = destinations[i];
      const a = addrByte + 16 * i;
      bytes[a] = d >>> 24;
      bytes[a + 1] = d >>> 16;
      bytes[a + 2] = d >>> 8;
      bytes[a + 3] = d;
    }
    const n = this.#lib.symbols.sendmmsg(this.fd, s.headers[start], count, 0);
    return n > 0 ? n : n === 0 ? -EAGAIN : -this.#errno();
  }

  /** Receives into batch slots with one `recvmmsg`. */
  recvBatch(batch: PacketBatch, count: number): number {
    let s = this.#recv;
    if (s?.batch !== batch) s = this.#recv = new BatchStructs(batch, false);
    // MSG_DONTWAIT: never block in `recvmmsg` (the fd is non-blocking too).
    const n = this.#lib.symbols.recvmmsg(this.fd, s.headers[0], count, MSG_DONTWAIT, null);
    if (n < 0) {
      const e = this.#errno();
      return e === EAGAIN || e === EINTR ? 0 : -e;
    }
    for (let i = 0; i < n; i++) batch.lengths[i] = s.received(i);
    return n;
  }

  /** The fd belongs to the thread that opened it: nothing to do here. */
  close(): void {}
}

/** The events that mean an fd is gone or broken. */
const POLL_FAILURES = POLLERR | POLLHUP | POLLNVAL;

/**
 * `poll(2)` over the data fds and a doorbell (an eventfd, `wake.ts`), with the `pollfd` array
 * and the doorbell's counter in pinned buffers made once: a wait allocates nothing.
 */
export class FdPoller implements Poller {
  /** How many entries are watched, the doorbell (last) included. */
  readonly size: number;
  readonly #lib: FastPath;
  readonly #errno: () => number;
  readonly #pollfds: PinnedBuffer;
  readonly #view: DataView;
  readonly #nfds: bigint;
  readonly #doorbell: number;
  readonly #counter: PinnedBuffer = pinnedBuffer(8);
  readonly #counterWords = new Uint32Array(this.#counter.bytes.buffer);

  /**
   * Watches `fds` for input, and `doorbell` after them.
   *
   * @param lib the fast-path binding of this thread
   * @param fds the data fds, in the order the loop asks about them
   * @param doorbell the eventfd the parent rings after each message
   */
  constructor(lib: FastPath, fds: readonly number[], doorbell: number) {
    this.#lib = lib;
    this.#errno = errnoReader(lib);
    this.#doorbell = doorbell;
    const all = [...fds, doorbell];
    this.size = all.length;
    this.#nfds = BigInt(all.length);
    this.#pollfds = pinnedBuffer(POLLFD.SIZE * all.length);
    this.#view = new DataView(this.#pollfds.bytes.buffer);
    all.forEach((fd, i) => {
      this.#view.setInt32(POLLFD.SIZE * i + POLLFD.FD, fd, true);
      this.#view.setInt16(POLLFD.SIZE * i + POLLFD.EVENTS, POLLIN, true);
    });
  }

  /** Waits in `poll`; an interrupted wait (EINTR) counts as a timeout. */
  wait(timeout: number): number {
    const ready = this.#lib.symbols.poll(this.#pollfds.pointer, this.#nfds, timeout);
    if (ready >= 0) return ready;
    const e = this.#errno();
    return e === EINTR ? 0 : -e;
  }

  /** Whether entry `i` was readable in the last wait. */
  readable(i: number): boolean {
    return (this.#revents(i) & POLLIN) !== 0;
  }

  /** The error events of entry `i` in the last wait. */
  failed(i: number): number {
    return this.#revents(i) & POLL_FAILURES;
  }

  /** Reads the doorbell's counter when it was readable (a native-endian u64, reset by the read). */
  takeRings(): number {
    if (!this.readable(this.size - 1)) return 0;
    // Never near 2^32 messages: the low word is the count.
    const n = this.#lib.symbols.read(this.#doorbell, this.#counter.pointer, 8n);
    return n === 8 ? this.#counterWords[0] : 0;
  }

  #revents(i: number): number {
    return this.#view.getInt16(POLLFD.SIZE * i + POLLFD.REVENTS, true);
  }
}

/**
 * The methods of this module a wake-up runs, the libc calls among them: for `tier.ts`, which asks
 * V8 for TurboFan code for them (the only tier whose calls into libc are direct ones).
 */
export function linuxWakeUpFunctions(): WakeUpFunction[] {
  return [
    FdPoller.prototype.wait,
    FdPoller.prototype.readable,
    FdPoller.prototype.failed,
    FdPoller.prototype.takeRings,
    Reader.prototype.read,
    Writer.prototype.write,
    Writer.prototype.writeVector,
    BatchStructs.prototype.received,
    FdTunDevice.prototype.read,
    FdTunDevice.prototype.write,
    FdTunDevice.prototype.writeVector,
    FdLink.prototype.recv,
    FdLink.prototype.send,
    FdLink.prototype.sendBatch,
    FdLink.prototype.recvBatch,
  ];
}
