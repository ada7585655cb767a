/**
 * denofwd: the naive forwarder of `bench/cfwd.c`, line for line, in Deno — the same design in the
 * same runtime as stf, with none of stf's work. `deno task bench` measures it beside cfwd and stf
 * to split stf's distance from C in two: what Deno and V8 cost per packet by themselves
 * (denofwd against cfwd) and what stf's own code adds (stf against denofwd).
 *
 *   deno run --allow-ffi --allow-read bench/denofwd.ts IFNAME PEER_V4
 *
 * It opens the TUN device IFNAME (IFF_TUN | IFF_NO_PI) and one raw IPv4 socket of protocol 41
 * (not IP_HDRINCL: the kernel writes the outer header), then moves packets in two Workers, one per
 * direction, one blocking system call per packet and per step, as cfwd's threads do:
 *
 *   egress:  read() one IPv6 packet from the TUN; sendto() it to the IPv4 address embedded in a
 *            2002::/16 destination (RFC 3056 §2), else to PEER_V4.
 *   ingress: recv() one IPv4 packet from the raw socket; write() what follows its header to the
 *            TUN.
 *
 * The calls are synchronous FFI calls on V8's fast path with preallocated buffers, and nothing is
 * allocated per packet: the lengths travel in a preallocated `msghdr`/`iovec` (so `sendmsg` and
 * `writev` stand in for `sendto` and `write`, the same kernel paths), since a length parameter
 * would need a BigInt per packet. It filters nothing and configures nothing (the caller gives the TUN its
 * address, MTU and link state with `ip`, as for cfwd), and runs until killed. It is a benchmark
 * baseline, not part of stf.
 *
 * @module
 */

import { pinnedBuffer, writeAddress } from "../ffi/fastpath.ts";

/** `struct ifreq` is 40 bytes on 64-bit Linux; `ifr_flags` is at offset 16. */
const IFREQ_SIZE = 40;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
/** `_IOW('T', 202, int)`. */
const TUNSETIFF = 0x400454can;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const AF_INET = 2;
const SOCK_RAW = 3;
const IPPROTO_IPV6 = 41;
/** Large enough for any IPv4 datagram and any TUN read, as cfwd's buffer. */
const BUFFER_SIZE = 65536;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // Results as i32 (a packet is at most 64 KiB): a 64-bit result would be a BigInt per call.
  read: { parameters: ["i32", "buffer", "u64"], result: "i32" },
  writev: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
} as const;

/** What the main thread posts to each Worker. */
interface Start {
  readonly tun: number;
  readonly raw: number;
  /** PEER_V4's four bytes. */
  readonly peer: readonly number[];
}

/** TUN → raw socket: one read() and one sendmsg() per packet. */
function egress(libc: Deno.DynamicLibrary<typeof SYMBOLS>, start: Start): never {
  const { read, sendmsg } = libc.symbols;
  const { bytes: buf, address: data } = pinnedBuffer(BUFFER_SIZE);
  const size = BigInt(BUFFER_SIZE);
  // sockaddr_in at 0 (family, port 0, the address written per packet), iovec at 16, msghdr
  // at 32 (msg_name, msg_namelen, msg_iov, msg_iovlen).
  const { bytes: structs, address: base } = pinnedBuffer(96);
  const words = new Uint32Array(structs.buffer);
  structs[0] = AF_INET;
  writeAddress(words, 4, data); // iov_base
  writeAddress(words, 8, base); // msg_name
  words[10] = 16; // msg_namelen
  writeAddress(words, 12, base + 16); // msg_iov
  words[14] = 1; // msg_iovlen
  const msghdr = structs.subarray(32);
  for (;;) {
    const n = read(start.tun, buf, size);
    if (n <= 0) continue; // EINTR or an empty read: try the next one
    // A 2002::/16 destination (bytes 24..25) embeds its site's IPv4 address in bytes 26..29.
    if (n >= 40 && buf[0] >> 4 === 6 && buf[24] === 0x20 && buf[25] === 0x02) {
      structs[4] = buf[26];
      structs[5] = buf[27];
      structs[6] = buf[28];
      structs[7] = buf[29];
    } else {
      structs[4] = start.peer[0];
      structs[5] = start.peer[1];
      structs[6] = start.peer[2];
      structs[7] = start.peer[3];
    }
    words[6] = n; // iov_len
    sendmsg(start.raw, msghdr, 0);
  }
}

/** Raw socket → TUN: one recv() (a read() on the socket) and one writev() per packet. */
function ingress(libc: Deno.DynamicLibrary<typeof SYMBOLS>, start: Start): never {
  const { read, writev } = libc.symbols;
  const { bytes: buf, address: data } = pinnedBuffer(BUFFER_SIZE);
  const size = BigInt(BUFFER_SIZE);
  const iov = new Uint8Array(16);
  const words = new Uint32Array(iov.buffer);
  for (;;) {
    const n = read(start.raw, buf, size);
    if (n < 20) continue;
    const headerLength = (buf[0] & 0x0f) * 4;
    if (n <= headerLength) continue;
    writeAddress(words, 0, data + headerLength); // iov_base: the inner packet
    words[2] = n - headerLength; // iov_len
    writev(start.tun, iov, 1);
  }
}

/** Opens the TUN device and the raw socket; posts their fds to one Worker per direction. */
function main(args: readonly string[]): void {
  const [name, peerText] = args;
  const peer = peerText?.split(".").map(Number) ?? [];
  if (name === undefined || peer.length !== 4 || peer.some((b) => !(b >= 0 && b <= 255))) {
    console.error("usage: denofwd IFNAME PEER_V4");
    Deno.exit(2);
  }
  const libc = Deno.dlopen("libc.so.6", SYMBOLS);
  const tun = libc.symbols.open(new TextEncoder().encode("/dev/net/tun\0"), O_RDWR | O_CLOEXEC);
  if (tun < 0) throw new Error("denofwd: cannot open /dev/net/tun");
  const ifr = new Uint8Array(IFREQ_SIZE);
  ifr.set(new TextEncoder().encode(name).subarray(0, 15));
  new DataView(ifr.buffer).setUint16(16, IFF_TUN | IFF_NO_PI, true);
  if (libc.symbols.ioctl(tun, TUNSETIFF, ifr) < 0) throw new Error("denofwd: TUNSETIFF failed");
  const raw = libc.symbols.socket(AF_INET, SOCK_RAW, IPPROTO_IPV6);
  if (raw < 0) throw new Error("denofwd: cannot open a raw socket of protocol 41");
  for (const direction of ["egress", "ingress"]) {
    const worker = new Worker(import.meta.url, { type: "module", name: `denofwd-${direction}` });
    worker.postMessage({ tun, raw, peer } satisfies Start);
  }
}

// A Worker runs this module as its own main module too: its name tells it apart.
if (typeof self.name === "string" && self.name.startsWith("denofwd-")) {
  const worker = self as unknown as { onmessage: (e: MessageEvent<Start>) => void };
  worker.onmessage = (e) => {
    const libc = Deno.dlopen("libc.so.6", SYMBOLS);
    if (self.name === "denofwd-egress") egress(libc, e.data);
    else ingress(libc, e.data);
  };
} else if (import.meta.main) {
  main(Deno.args);
}
