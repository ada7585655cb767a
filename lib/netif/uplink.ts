/**
 * What the interface holding our outer source address (the uplink) will do to the tunnel: an
 * MTU too small for a full-size packet of the tunnel (its MTU + 20, RFC 4213 §3.2), and
 * receive offloads that merge protocol-41 packets in ways a raw socket cannot undo. `run`
 * warns about them at start and `doctor` lists them; both read them here.
 *
 * @module
 */
import { type Ipv4Address } from "../addr/mod.ts";
import { interfaceFeatures } from "./ethtool.ts";
import type { HostIpv4Address } from "./host.ts";
import { readMtu } from "./link.ts";

/**
 * Receive offloads that merge packets in ways stf cannot undo from a raw socket: fraglist GRO
 * keeps the first segment's checksum, UDP GRO loses where datagrams began (README, "The
 * uplink's receive offloads"). Plain GRO, the default, is undone.
 */
export const UNRECOVERABLE_UPLINK_FEATURES: readonly string[] = Object.freeze([
  "rx-gro-list",
  "rx-udp-gro-forwarding",
]);

/** What the uplink looks like to the tunnel. */
export interface UplinkFacts {
  /** The interface holding the source address, or `undefined` when none does. */
  readonly uplink?: string;
  /** Its MTU, when it could be read. */
  readonly uplinkMtu?: number;
  /** The MTU a full-size tunnel packet needs (tunnel MTU + 20). */
  readonly neededMtu: number;
  /** The MTU to give the tunnel so that it fits (at least 1280), when it does not. */
  readonly advisedMtu?: number;
  /** The unrecoverable receive offloads that are on. */
  readonly badFeatures: readonly string[];
}

/**
 * Reads the uplink's MTU and offloads for a source address and a tunnel MTU. An interface
 * gone meanwhile, or without ethtool support, simply gives less to say.
 *
 * @param source the outer source address (own IPv4, or the bind address behind NAT)
 * @param tunnelMtu the stf interface's MTU
 * @param host the host's IPv4 addresses
 */
export function readUplinkFacts(
  source: Ipv4Address,
  tunnelMtu: number,
  host: readonly HostIpv4Address[],
): UplinkFacts {
  const neededMtu = tunnelMtu + 20;
  const uplink = host.find((a) => a.address === source)?.interface;
  if (uplink === undefined) return { neededMtu, badFeatures: [] };
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
  const uplinkMtu = attempt(() => readMtu(uplink));
  const features = attempt(() => interfaceFeatures(uplink));
  const badFeatures = UNRECOVERABLE_UPLINK_FEATURES.filter((f) => features?.get(f) === true);
  const tooSmall = uplinkMtu !== undefined && neededMtu > uplinkMtu;
  return {
    uplink,
    neededMtu,
    badFeatures,
    ...(uplinkMtu === undefined ? {} : { uplinkMtu }),
    ...(tooSmall ? { advisedMtu: Math.max(1280, uplinkMtu - 20) } : {}),
  };
}
