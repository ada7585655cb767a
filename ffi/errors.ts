/**
 * A failed libc call as a typed error: the call, the errno value and its name, and a message
 * naming the operation and its object, as
 * `Cannot create TUN device "stf0": EPERM (needs root or CAP_NET_ADMIN)`.
 *
 * @module
 */
import { ERRNO_NAMES } from "./constants.ts";
import { errno as readErrno, strerror } from "./libc.ts";

/** A libc call failed; exit 1 (`main.ts` recognises it by `name === "SyscallError"`). */
export class SyscallError extends Error {
  /** The errno value. */
  readonly errno: number;
  /** The errno name, e.g. `EPERM`. */
  readonly code: string;
  /** The libc call, e.g. `ioctl(TUNSETIFF)`. */
  readonly call: string;
  /** Creates the error; `message` is the whole line. */
  constructor(call: string, errno: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SyscallError";
    this.errno = errno;
    this.code = errnoName(errno);
    this.call = call;
  }
}

/**
 * Returns the name of an errno value, `EPERM` for 1, or `errno N` when unknown.
 *
 * @param code the errno value
 */
export function errnoName(code: number): string {
  return ERRNO_NAMES[code] ?? `errno ${code}`;
}

/** Options of {@link syscallError} and {@link check}. */
export interface SyscallErrorOptions {
  /**
   * What to say after the errno name, in parentheses, by errno name; the default says
   * `needs root or CAP_NET_ADMIN` for EPERM and EACCES, else libc's `strerror` text.
   */
  readonly hints?: Readonly<Record<string, string>>;
  /** The errno value, when already read; else it is read now. */
  readonly errno?: number;
}

const DEFAULT_HINTS: Readonly<Record<string, string>> = Object.freeze({
  EPERM: "needs root or CAP_NET_ADMIN",
  EACCES: "needs root or CAP_NET_ADMIN",
});

/**
 * Builds the error of a failed call, reading errno unless given: `Cannot ${what}: CODE (hint)`.
 *
 * @param call the libc call, e.g. `ioctl(SIOCSIFMTU)`
 * @param what what was being done, e.g. `set MTU of "stf0" to 1480`
 * @param options hints and errno
 */
export function syscallError(
  call: string,
  what: string,
  options: SyscallErrorOptions = {},
): SyscallError {
  const code = options.errno ?? readErrno();
  const name = errnoName(code);
  const hint = options.hints?.[name] ?? DEFAULT_HINTS[name] ?? strerror(code);
  return new SyscallError(call, code, `Cannot ${what}: ${name} (${hint})`);
}

/**
 * Returns `result` when it is not negative; else throws the call's {@link SyscallError}.
 * errno is read at once, before anything else can change it.
 *
 * @param result what the call returned
 * @param call the libc call
 * @param what what was being done
 * @param options hints
 * @throws {SyscallError} when `result < 0`
 */
export function check(
  result: number,
  call: string,
  what: string,
  options: SyscallErrorOptions = {},
): number {
  if (result >= 0) return result;
  const code = options.errno ?? readErrno();
  throw syscallError(call, what, { ...options, errno: code });
}
