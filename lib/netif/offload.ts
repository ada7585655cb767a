/**
 * TUN offloads for the data plane: whether a TUN fd carries a `virtio_net_hdr`
 * (`IFF_VNET_HDR`, chosen when the device is attached) and which super-packets the kernel may
 * hand us (`TUNSETOFFLOAD`: checksum, TSO for IPv6, USO where the kernel has it).
 *
 * `IFF_VNET_HDR` can only be set by `TUNSETIFF`, and attaching to an existing single-queue
 * device replaces its feature flags with the ones given (checked on Linux 6.18): so `stf run`
 * can add or drop `IFF_VNET_HDR` on a device `stf up` made without it, and a later run without
 * offloads attaches without it again. `TUNSETOFFLOAD` is always applied (0 when off), so a
 * device left with offloads by an earlier run never hands super-packets to a reader that
 * does not expect them.
 *
 * {@link openDataplaneTun} opens the TUN queues of `stf run` with all of that applied, so the
 * data plane is handed devices ready to use.
 *
 * @module
 */
import {
  IFF_VNET_HDR,
  IFREQ,
  openLibc,
  TUN_F_CSUM,
  TUN_F_TSO6,
  TUN_F_USO4,
  TUN_F_USO6,
  TUNGETIFF,
  TUNSETOFFLOAD,
  view,
} from "../../ffi/mod.ts";
import { setNonBlocking } from "./icmp_socket.ts";
import { createOrAttachTun, STF_TUN_FLAGS, TunHandle } from "./tun.ts";

/** What a TUN fd was set up for. */
export interface TunOffloadState {
  /** Each packet read or written has a `virtio_net_hdr` in front. */
  readonly vnetHeader: boolean;
  /** The `TUN_F_*` offloads in force (0: plain packets only). */
  readonly offloads: number;
}

/**
 * The `TUNSETIFF` flags for `stf run`: the device's own feature flags (when it exists) with
 * `IFF_VNET_HDR` added when offloads are on and removed when off.
 *
 * @param existing the device's `tun_flags` when it exists (`readInterfaceState`)
 * @param offload whether the data plane uses offloads
 */
export function tunFlagsForRun(existing: number | undefined, offload: boolean): number {
  const flags = existing ?? STF_TUN_FLAGS;
  return offload ? flags | IFF_VNET_HDR : flags & ~IFF_VNET_HDR;
}

/**
 * Reads the `IFF_*` flags of the device behind a TUN fd (`TUNGETIFF`); undefined when the fd
 * is not a TUN device.
 *
 * @param fd the fd
 */
export function readTunFdFlags(fd: number): number | undefined {
  const ifreq = new Uint8Array(IFREQ.SIZE);
  if (openLibc().symbols.ioctl(fd, BigInt(TUNGETIFF), ifreq) < 0) return undefined;
  return view(ifreq).getUint16(IFREQ.FLAGS, true);
}

/**
 * Applies `TUNSETOFFLOAD` to a TUN fd: with `enable` and `IFF_VNET_HDR`, checksum offload and
 * TSO for IPv6, plus USO when the kernel accepts it; otherwise none. Never throws: an fd that
 * is not a TUN device gets nothing.
 *
 * @param fd the TUN fd
 * @param enable whether offloads are wanted
 */
export function configureTunOffload(fd: number, enable: boolean): TunOffloadState {
  const flags = readTunFdFlags(fd);
  if (flags === undefined) return { vnetHeader: false, offloads: 0 };
  const vnetHeader = (flags & IFF_VNET_HDR) !== 0;
  const { ioctlValue } = openLibc().symbols;
  const request = BigInt(TUNSETOFFLOAD);
  if (enable && vnetHeader) {
    // USO needs both USO4 and USO6 (Linux 6.2+); older kernels refuse them with EINVAL.
    for (
      const offloads of [TUN_F_CSUM | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6, TUN_F_CSUM | TUN_F_TSO6]
    ) {
      if (ioctlValue(fd, request, BigInt(offloads)) === 0) return { vnetHeader, offloads };
    }
  }
  ioctlValue(fd, request, 0n);
  return { vnetHeader, offloads: 0 };
}

/** The TUN queues of the data plane, open and set up. */
export interface DataplaneTun {
  /** The first queue (the device itself when this opening created it). */
  readonly tun: TunHandle;
  /** The further queues (`--queues`). */
  readonly more: readonly TunHandle[];
  /** What the device was set up with. */
  readonly features: TunOffloadState;
}

/** Options of {@link openDataplaneTun}. */
export interface DataplaneTunOptions {
  /** The device's `tun_flags` when it exists (`readInterfaceState`); undefined: create it. */
  readonly existingFlags: number | undefined;
  /** Whether the data plane uses offloads (`IFF_VNET_HDR`, `TUNSETOFFLOAD`). */
  readonly offload: boolean;
  /** The queues to attach (≥ 1). */
  readonly queues: number;
}

/**
 * Opens the TUN device for the data plane: creates it or attaches to it with
 * {@link tunFlagsForRun}, attaches the further queues of the same device (the kernel spreads
 * flows over them), makes every fd non-blocking (the data plane waits in `poll`), and applies
 * `TUNSETOFFLOAD` (the offloads are the device's: one queue sets them for all). Closes what it
 * opened on failure.
 *
 * @param name the device name
 * @param options existing flags, offloads, queues
 * @throws {SyscallError} when the device cannot be opened (EPERM: needs CAP_NET_ADMIN)
 */
export function openDataplaneTun(name: string, options: DataplaneTunOptions): DataplaneTun {
  const flags = tunFlagsForRun(options.existingFlags, options.offload);
  const tun = createOrAttachTun(name, {
    // IFF_VNET_HDR when offloads are on: the kernel then hands us TCP/UDP super-packets and
    // takes coalesced ones (attaching may change it on a single-queue TUN made by stf up).
    flags,
    purpose: options.existingFlags === undefined ? "create" : "attach to",
  });
  const more: TunHandle[] = [];
  try {
    for (let q = 1; q < options.queues; q++) {
      more.push(createOrAttachTun(tun.name, { flags, purpose: `attach queue ${q} to` }));
    }
    for (const t of [tun, ...more]) setNonBlocking(t.fd, `TUN device "${tun.name}"`);
    return { tun, more, features: configureTunOffload(tun.fd, options.offload) };
  } catch (e) {
    for (const t of more) t.close();
    tun.close();
    throw e;
  }
}
