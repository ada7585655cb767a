/**
 * Drop samples for debug logs: the reason and the addresses of a dropped packet, made only for
 * the few drops that pass the rate limit.
 *
 * @module
 */
import { formatIpv4, formatIpv6, readIpv4 } from "../addr/mod.ts";
import { REASON_NAMES } from "../filter/mod.ts";
import type { Direction, DropListener } from "./types.ts";

/** A drop sample: what a debug log line says about a dropped packet. */
export interface DropSample {
  /** Always `drop`. */
  readonly kind: "drop";
  /** The direction. */
  readonly direction: Direction;
  /** The reason name (docs/filtering.md). */
  readonly reason: string;
  /** Outer source (ingress only). */
  readonly src4?: string;
  /** Outer destination (ingress only). */
  readonly dst4?: string;
  /** Inner source, when the packet is long enough. */
  readonly src6?: string;
  /** Inner destination, when the packet is long enough. */
  readonly dst6?: string;
}

/**
 * Returns a drop listener for a path that describes each sampled drop and hands it on.
 *
 * @param direction the path's direction
 * @param emit receives the samples
 */
export function dropSampler(
  direction: Direction,
  emit: (sample: DropSample) => void,
): DropListener {
  return (reason, buf, offset, length) => {
    let inner = offset;
    let src4: string | undefined;
    let dst4: string | undefined;
    if (direction === "ingress" && length >= 20) {
      src4 = formatIpv4(readIpv4(buf, offset + 12));
      dst4 = formatIpv4(readIpv4(buf, offset + 16));
      inner = offset + (buf[offset] & 15) * 4;
    }
    const hasInner = inner + 40 <= offset + length;
    emit({
      kind: "drop",
      direction,
      reason: REASON_NAMES[reason] ?? String(reason),
      src4,
      dst4,
      src6: hasInner ? formatIpv6(buf, inner + 8) : undefined,
      dst6: hasInner ? formatIpv6(buf, inner + 24) : undefined,
    });
  };
}
