/**
 * libc through `Deno.dlopen`: every call stf makes, all synchronous.
 *
 * The library is glibc's `libc.so.6`, else musl's (`libc.musl-<arch>.so.1`, Alpine), else
 * `libc.so`. Each thread (main or Worker) calls {@link openLibc} itself: a `Deno.DynamicLibrary`
 * cannot be posted to a Worker, and errno is per thread anyway.
 *
 * Declarations follow docs/performance.md ("FFI on the fast path") for the hot path:
 * - results of `read`, `write`, `recv`, `sendto` are declared `i32` although C returns
 *   `ssize_t`: no BigInt is allocated per call, -1 stays -1, and no single packet read is
 *   ≥ 2 GiB. The low 32 bits of the 64-bit register are exactly the `int` value on x86_64
 *   (`eax`) and aarch64 (`w0`).
 * - lengths (`size_t`) and `poll`'s `nfds_t` are 64-bit parameters: pass them as a BigInt
 *   computed once (`const len = BigInt(buf.length)`); a plain number also works but leaves
 *   V8's fast call path (about +100 ns).
 * - `recvmmsg`/`sendmmsg` take their lengths inside the structs (`iovec.iov_len`), so they
 *   need no BigInt at all.
 *
 * `ioctl`, `open` and `fcntl` are variadic in C; on the LP64 Linux ABIs of x86_64 and aarch64
 * the variadic argument is passed like a fixed one, so each use gets a fixed signature:
 * `ioctl` (pointer argument) and `ioctlValue` (integer argument, for `TUNSETPERSIST`,
 * `TUNSETOWNER`, `TUNSETOFFLOAD`).
 *
 * @module
 */

/** The symbols stf binds in libc. */
export const LIBC_SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctlValue: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // The same poll on Deno's blocking thread pool, returning a Promise: the main thread waits
  // for rtnetlink events without a timer and without blocking its event loop. errno of that
  // thread is not readable here: a -1 is only "try again".
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  setuid: { parameters: ["u32"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // `signal(signo, SIG_IGN)`: the handler argument and the previous handler are pointers.
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libc: `libc.symbols.read(fd, buf, len)` and so on. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;

/** The file names tried in order: glibc, then musl for this architecture, then `libc.so`. */
export function libcCandidates(): string[] {
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  return ["libc.so.6", `libc.musl-${arch}.so.1`, "libc.so"];
}

let cached: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

/**
 * Opens libc once per thread and returns its symbols. Call it again in each Worker.
 *
 * @throws {Error} when no libc can be loaded (with every name tried)
 */
export function openLibc(): Libc {
  if (cached !== undefined) return cached;
  const failures: string[] = [];
  for (const path of libcCandidates()) {
    try {
      cached = Deno.dlopen(path, LIBC_SYMBOLS);
      return cached;
    } catch (e) {
      failures.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(`Cannot load libc: ${failures.join("; ")}`);
}

/**
 * Reads `errno` of this thread. Call it right after the failing call, before any other call
 * that may change it.
 */
export function errno(): number {
  if (errnoView === undefined) {
    const pointer = openLibc().symbols.__errno_location();
    if (pointer === null) return 0;
    // errno's address is fixed for the life of the thread: make the view once.
    errnoView = new Deno.UnsafePointerView(pointer);
  }
  return errnoView.getInt32();
}

/**
 * Returns libc's description of an errno value (`strerror`), e.g. "Operation not permitted".
 *
 * @param code the errno value
 */
export function strerror(code: number): string {
  const pointer = openLibc().symbols.strerror(code);
  return pointer === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(pointer);
}

/**
 * Encodes a string as a NUL-terminated C string.
 *
 * @param text the string
 */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
