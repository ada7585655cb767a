/**
 * The one way to build the paths of a queue, for the Workers (one direction each) and the
 * in-process engine (both) alike, so that they cannot drift apart.
 *
 * Coalescing on ingress needs a TUN with a `virtio_net_hdr` and offloads on. TCP super-packets
 * (`VIRTIO_NET_HDR_GSO_TCPV6`) have been accepted by every TUN that takes the header; UDP ones
 * (`GSO_UDP_L4`) only by kernels with USO (Linux 6.2+), which an older kernel refuses whole
 * with EINVAL. `TUNSETOFFLOAD` accepting `TUN_F_USO6` is the evidence that the kernel has it,
 * so UDP is coalesced only then (as wireguard-go gates UDP GRO on the same ioctl).
 *
 * @module
 */
import { compilePolicy, type PolicySettings } from "../filter/mod.ts";
import { TUN_F_USO6 } from "../../ffi/constants.ts";
import type { Counters } from "./counters.ts";
import { EgressPath, type EgressPathOptions } from "./egress.ts";
import { IngressPath, type IngressPathOptions } from "./ingress.ts";
import type {
  DataplaneTuning,
  Direction,
  DropListener,
  IcmpSource,
  Link,
  TunDevice,
  TunFeatures,
} from "./types.ts";

/** What the paths of a queue are built from (the devices aside). */
export interface PathsOptions {
  /** The policy settings. */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from (the stf interface's address). */
  readonly icmpSource: string;
  /** Where to count (this queue's view). */
  readonly counters: Counters;
  /** Makes the drop listener of a direction (sampled drops for debug logs); none when absent. */
  readonly onDrop?: (direction: Direction) => DropListener | undefined;
  /** Which optimisations are on. */
  readonly tuning: DataplaneTuning;
  /** What the TUN device was opened with. */
  readonly tunFeatures: TunFeatures;
}

/** The devices of a queue. */
export interface PathDevices {
  /** The TUN device. */
  readonly tun: TunDevice;
  /** The protocol-41 link (the ingress path receives on it; egress sends on it). */
  readonly link: Link;
  /** ICMPv4 errors for path MTU, read by the egress path; none when absent. */
  readonly icmp?: IcmpSource;
}

/** The paths of a queue: the directions asked for. */
export interface Paths {
  /** TUN → link. */
  readonly egress?: EgressPath;
  /** Link → TUN. */
  readonly ingress?: IngressPath;
}

/** Both directions. */
export const BOTH_DIRECTIONS: readonly Direction[] = Object.freeze(["egress", "ingress"]);

/** The egress path's options for a set-up (construction or reload). */
function egressOptions(options: PathsOptions): EgressPathOptions {
  return {
    icmpSource: options.icmpSource,
    onDrop: options.onDrop?.("egress"),
    batch: options.tuning.batch,
    vnetHeader: options.tunFeatures.vnetHeader,
  };
}

/** The ingress path's options for a set-up (construction or reload). */
function ingressOptions(options: PathsOptions): IngressPathOptions {
  const { vnetHeader, offloads } = options.tunFeatures;
  const coalesce = vnetHeader && options.tuning.offload;
  return {
    onDrop: options.onDrop?.("ingress"),
    batch: options.tuning.batch,
    vnetHeader,
    coalesce,
    coalesceUdp: coalesce && (offloads & TUN_F_USO6) !== 0,
  };
}

/**
 * Builds the paths of a queue for the directions asked for.
 *
 * @param devices the queue's TUN and link (and ICMPv4 source)
 * @param options settings, counters, tuning, what the TUN supports
 * @param directions which paths (both by default)
 * @throws {PolicyError} when the settings do not compile
 */
export function buildPaths(
  devices: PathDevices,
  options: PathsOptions,
  directions: readonly Direction[] = BOTH_DIRECTIONS,
): Paths {
  const { settings, counters } = options;
  return {
    egress: directions.includes("egress")
      ? new EgressPath(devices, settings, counters, egressOptions(options))
      : undefined,
    ingress: directions.includes("ingress")
      ? new IngressPath(devices, settings, counters, ingressOptions(options))
      : undefined,
  };
}

/**
 * Applies new settings (and drop listeners, ICMPv6 source) to built paths: all of them or,
 * when the settings do not compile, none.
 *
 * @param paths the paths
 * @param options the new set-up (batch, offloads and counters are fixed at construction)
 * @throws {PolicyError} when the settings do not compile (nothing changed)
 */
export function reloadPaths(paths: Paths, options: PathsOptions): void {
  compilePolicy(options.settings);
  paths.egress?.reload(options.settings, egressOptions(options));
  paths.ingress?.reload(options.settings, ingressOptions(options));
}
