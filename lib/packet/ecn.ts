/**
 * ECN across the tunnel (RFC 6040): the outer ECN on encapsulation (§4.1, normal mode) and the
 * inner ECN on decapsulation (§4.2, Figure 4).
 *
 * @module
 */

import { ipv6Ecn, setIpv6Ecn } from "./headers.ts";

/** ECN codepoint Not-ECT (RFC 3168 §5). */
export const ECN_NOT_ECT = 0;
/** ECN codepoint ECT(1). */
export const ECN_ECT1 = 1;
/** ECN codepoint ECT(0). */
export const ECN_ECT0 = 2;
/** ECN codepoint CE (Congestion Experienced). */
export const ECN_CE = 3;
/** What {@link decapsulateEcn} returns when the packet must be dropped. */
export const ECN_DROP = -1;

/**
 * Returns the outer ECN for an inner ECN in RFC 6040 §4.1 normal mode: a copy of the inner
 * field, CE included.
 *
 * @param innerEcn the inner ECN codepoint
 */
export function encapsulateEcn(innerEcn: number): number {
  return innerEcn & 3;
}

// RFC 6040 §4.2 Figure 4, indexed by inner * 4 + outer.
// deno-fmt-ignore
const DECAP_TABLE = new Int8Array([
  // inner Not-ECT: outer Not-ECT, ECT(1), ECT(0), CE
  ECN_NOT_ECT, ECN_NOT_ECT, ECN_NOT_ECT, ECN_DROP,
  // inner ECT(1)
  ECN_ECT1, ECN_ECT1, ECN_ECT1, ECN_CE,
  // inner ECT(0)
  ECN_ECT0, ECN_ECT1, ECN_ECT0, ECN_CE,
  // inner CE
  ECN_CE, ECN_CE, ECN_CE, ECN_CE,
]);

/**
 * Returns the inner ECN after decapsulation (RFC 6040 §4.2, Figure 4), or {@link ECN_DROP}
 * when the outer header is CE and the inner Not-ECT. The combinations marked "(!!!)"
 * (currently unused) are forwarded as the table says; the caller may log them.
 *
 * @param outerEcn the outer ECN codepoint
 * @param innerEcn the inner ECN codepoint
 */
export function decapsulateEcn(outerEcn: number, innerEcn: number): number {
  return DECAP_TABLE[((innerEcn & 3) << 2) | (outerEcn & 3)];
}

/**
 * Applies RFC 6040 §4.2 decapsulation to the inner IPv6 header in place. Returns `false`
 * (and changes nothing) when the packet must be dropped (outer CE, inner Not-ECT).
 *
 * @param outerEcn the outer ECN codepoint
 * @param buf the packet
 * @param ipv6Offset where the inner IPv6 header starts
 */
export function applyDecapsulationEcn(
  outerEcn: number,
  buf: Uint8Array,
  ipv6Offset: number,
): boolean {
  const inner = ipv6Ecn(buf, ipv6Offset);
  const result = decapsulateEcn(outerEcn, inner);
  if (result < 0) return false;
  if (result !== inner) setIpv6Ecn(buf, ipv6Offset, result);
  return true;
}
