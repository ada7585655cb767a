/**
 * TUN devices: create or attach (`TUNSETIFF`), persist, owner; delete a persistent one.
 *
 * @module
 */
import {
  check,
  cString,
  decodeIfreqName,
  encodeIfreq,
  FdHandle,
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_TAP,
  IFF_TUN,
  IFF_VNET_HDR,
  IFREQ,
  O_CLOEXEC,
  O_RDWR,
  openLibc,
  TUNSETGROUP,
  TUNSETIFF,
  TUNSETOWNER,
  TUNSETPERSIST,
  view,
} from "../../ffi/mod.ts";
import { interfaceIndex } from "./link.ts";

/**
 * The flags of the TUN devices stf makes: layer 3, no packet-information header, and
 * multi-queue, so that `stf run --queues N` can attach N fds to a device `stf up` made (one
 * queue behaves as a single-queue device).
 */
export const STF_TUN_FLAGS = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;

/** The TUN clone device. */
export const TUN_CLONE_PATH = "/dev/net/tun";

/** Options of {@link createOrAttachTun}. */
export interface TunOptions {
  /** `IFF_*` flags for `TUNSETIFF` (default `IFF_TUN | IFF_NO_PI`). */
  readonly flags?: number;
  /** Set (true) or clear (false) `TUNSETPERSIST`; unchanged when undefined. */
  readonly persist?: boolean;
  /** The uid that may attach without CAP_NET_ADMIN (`TUNSETOWNER`). */
  readonly owner?: number;
  /** The gid that may attach without CAP_NET_ADMIN (`TUNSETGROUP`). */
  readonly group?: number;
  /** What the caller is doing, for error messages (default `create` or `attach to`). */
  readonly purpose?: string;
}

/** An open TUN fd; closing it removes a device that is not persistent. */
export class TunHandle extends FdHandle {
  /** The device's name as the kernel gave it. */
  readonly name: string;
  /** The `IFF_*` flags it was attached with. */
  readonly flags: number;
  /** Whether this call created the device (it did not exist before). */
  readonly created: boolean;

  /** Wraps an fd; use {@link createOrAttachTun}. */
  constructor(fd: number, name: string, flags: number, created: boolean) {
    super(fd);
    this.name = name;
    this.flags = flags;
    this.created = created;
  }
}

const TUN_HINTS = Object.freeze({
  EBUSY: "a running program holds it; stop `stf run` first",
  EINVAL: "an interface of that name exists and is not a TUN device with these flags",
  ENOENT: `${TUN_CLONE_PATH} is missing: load the tun module (modprobe tun)`,
});

/**
 * Creates a TUN device, or attaches to the existing one of that name, and returns its fd.
 *
 * @param name the device name (at most 15 bytes)
 * @param options flags, persistence and owner
 * @throws {SyscallError} EPERM (needs root or CAP_NET_ADMIN), EBUSY, …
 */
export function createOrAttachTun(name: string, options: TunOptions = {}): TunHandle {
  const flags = options.flags === undefined ? IFF_TUN | IFF_NO_PI : attachFlags(options.flags);
  const created = interfaceIndex(name) === undefined;
  const what = `${options.purpose ?? (created ? "create" : "attach to")} TUN device "${name}"`;
  const { open, close, ioctl, ioctlValue } = openLibc().symbols;
  const fd = check(open(cString(TUN_CLONE_PATH), O_RDWR | O_CLOEXEC, 0), "open", what, {
    hints: TUN_HINTS,
  });
  try {
    const ifreq = encodeIfreq(name);
    view(ifreq).setUint16(IFREQ.FLAGS, flags, true);
    check(ioctl(fd, BigInt(TUNSETIFF), ifreq), "ioctl(TUNSETIFF)", what, { hints: TUN_HINTS });
    const actual = decodeIfreqName(ifreq);
    if (options.owner !== undefined) {
      check(
        ioctlValue(fd, BigInt(TUNSETOWNER), BigInt(options.owner)),
        "ioctl(TUNSETOWNER)",
        `set the owner of "${actual}" to uid ${options.owner}`,
      );
    }
    if (options.group !== undefined) {
      check(
        ioctlValue(fd, BigInt(TUNSETGROUP), BigInt(options.group)),
        "ioctl(TUNSETGROUP)",
        `set the group of "${actual}" to gid ${options.group}`,
      );
    }
    const tun = new TunHandle(fd, actual, flags, created);
    if (options.persist !== undefined) setTunPersist(tun, options.persist);
    return tun;
  } catch (e) {
    close(fd);
    throw e;
  }
}

/** The flags that attaching must repeat to keep an existing device as it is. */
const FEATURE_FLAGS = IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;

/**
 * Returns the `TUNSETIFF` flags that attach to a device without changing its features.
 *
 * @param tunFlags the device's `tun_flags` (sysfs)
 */
export function attachFlags(tunFlags: number): number {
  return tunFlags & FEATURE_FLAGS;
}

/**
 * Sets or clears the persistence of the TUN device behind an fd.
 *
 * @param tun the attached device
 * @param persist keep the device after the last close
 * @throws {SyscallError} when the kernel refuses
 */
export function setTunPersist(tun: TunHandle, persist: boolean): void {
  check(
    openLibc().symbols.ioctlValue(tun.fd, BigInt(TUNSETPERSIST), persist ? 1n : 0n),
    "ioctl(TUNSETPERSIST)",
    `make "${tun.name}" ${persist ? "persistent" : "not persistent"}`,
  );
}
