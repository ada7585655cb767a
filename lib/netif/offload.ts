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
import { STF_TUN_FLAGS } from "./tun.ts";

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
