/**
 * Verdict reasons: one numeric code per reason name of docs/filtering.md. The code is what the
 * data plane returns and counts (an index into a counter array); the name is what counters,
 * logs and docs show. `malformed` and `native-to-native` exist in both directions and share
 * one code.
 *
 * @module
 */

/** Numeric reason codes; 0 is `forwarded`, every other code is a drop. */
export const Reason = Object.freeze(
  {
    /** The packet passed every rule. */
    Forwarded: 0,
    /** Truncated or inconsistent headers (both directions). */
    Malformed: 1,
    /** OUT: src6 in C6. */
    SrcInvalid: 2,
    /** OUT: dst6 in C6. */
    DstInvalid: 3,
    /** OUT: a 6to4/6rd src6 that does not embed own4. */
    SrcNotOwn: 4,
    /** OUT: a 6to4 dst6 that embeds an address of this host. */
    DstOwnIpv4: 5,
    /** OUT: the outer destination is in C4. */
    DstIpv4Invalid: 6,
    /** Neither address is 6to4 (both directions). */
    NativeToNative: 7,
    /** OUT: a native destination and no relay. */
    NoRelay: 8,
    /** OUT: longer than the tunnel MTU. */
    TooBig: 9,
    /** IN: return-path mode decapsulates nothing. */
    DecapDisabled: 10,
    /** IN: src4 in C4. */
    OuterSrcInvalid: 11,
    /** IN: dst4 is not own4. */
    OuterDstNotOwn: 12,
    /** IN: src6 in C6 or C6src. */
    InnerSrcInvalid: 13,
    /** IN: dst6 in C6. */
    InnerDstInvalid: 14,
    /** IN: emb(dst6) ≠ dst4. */
    InnerDstMismatch: 15,
    /** IN: emb(src6) ≠ src4. */
    InnerSrcSpoofed: 16,
    /** IN: router mode and dst6 not in the site. */
    InnerDstNotOurs: 17,
    /** IN: src6 in the site. */
    InnerSrcOwnPrefix: 18,
    /** IN: relay mode and the packet would loop. */
    RelayLoop: 19,
    /** IN: src4 not in the peer allow list. */
    PeerNotAllowed: 20,
    /** IN: native src6 and src4 not in the relay allow list. */
    RelayNotAllowed: 21,
    /** IN: outer CE with inner Not-ECT. */
    EcnCeNotEct: 22,
    /** OUT: own4 (or the bind address) is not on this host now: egress is paused. */
    OwnIpv4Unavailable: 23,
  } as const,
);

/** A reason code (a value of {@link Reason}). */
export type ReasonCode = typeof Reason[keyof typeof Reason];

/** The name of each reason code, indexed by code, exactly as spelled in docs/filtering.md. */
export const REASON_NAMES: readonly string[] = Object.freeze([
  "forwarded",
  "malformed",
  "src-invalid",
  "dst-invalid",
  "src-not-own",
  "dst-own-ipv4",
  "dst-ipv4-invalid",
  "native-to-native",
  "no-relay",
  "too-big",
  "decap-disabled",
  "outer-src-invalid",
  "outer-dst-not-own",
  "inner-src-invalid",
  "inner-dst-invalid",
  "inner-dst-mismatch",
  "inner-src-spoofed",
  "inner-dst-not-ours",
  "inner-src-own-prefix",
  "relay-loop",
  "peer-not-allowed",
  "relay-not-allowed",
  "ecn-ce-not-ect",
  "own-ipv4-unavailable",
]);

/** How many reason codes there are (the size of a per-reason counter array). */
export const REASON_COUNT: number = REASON_NAMES.length;

/** The drop reasons that egress (OUT) can return, in the order the rules are checked. */
export const EGRESS_REASONS: readonly ReasonCode[] = Object.freeze([
  Reason.OwnIpv4Unavailable,
  Reason.Malformed,
  Reason.SrcInvalid,
  Reason.DstInvalid,
  Reason.SrcNotOwn,
  Reason.DstOwnIpv4,
  Reason.DstIpv4Invalid,
  Reason.NativeToNative,
  Reason.NoRelay,
  Reason.TooBig,
]);

/** The drop reasons that ingress (IN) can return, in the order the rules are checked. */
export const INGRESS_REASONS: readonly ReasonCode[] = Object.freeze([
  Reason.DecapDisabled,
  Reason.Malformed,
  Reason.OuterSrcInvalid,
  Reason.OuterDstNotOwn,
  Reason.InnerSrcInvalid,
  Reason.InnerDstInvalid,
  Reason.InnerDstMismatch,
  Reason.InnerSrcSpoofed,
  Reason.NativeToNative,
  Reason.InnerDstNotOurs,
  Reason.InnerSrcOwnPrefix,
  Reason.RelayLoop,
  Reason.PeerNotAllowed,
  Reason.RelayNotAllowed,
  Reason.EcnCeNotEct,
]);

/** The documentation of one reason: a one-line summary and its source. */
export interface ReasonDoc {
  /** The reason name. */
  readonly name: string;
  /** `"egress"`, `"ingress"` or `"both"`. */
  readonly direction: "egress" | "ingress" | "both";
  /** One line: the condition and the action. */
  readonly summary: string;
  /** The RFC sections (or other source) the rule comes from. */
  readonly source: string;
}

/** Documentation of every reason code, indexed by code, for `--help` and README generation. */
export const REASON_DOCS: readonly ReasonDoc[] = Object.freeze([
  doc("forwarded", "both", "the packet passed every rule", "docs/filtering.md"),
  doc(
    "malformed",
    "both",
    "a header is truncated or inconsistent (not IPv4/IPv6, wrong lengths, not protocol 41, a fragment)",
    "RFC 4213 §3.6",
  ),
  doc("src-invalid", "egress", "src6 in C6 → drop", "RFC 3964 §5.1, §5.3.2"),
  doc("dst-invalid", "egress", "dst6 in C6 → drop", "RFC 3964 §5.1, §5.3.2"),
  doc(
    "src-not-own",
    "egress",
    "src6 in 2002::/16 (or the 6rd prefix) does not embed own4 → drop",
    "RFC 3964 §5.1",
  ),
  doc(
    "dst-own-ipv4",
    "egress",
    "dst6 in 2002::/16 embeds an address of this host → drop (loop)",
    "RFC 3964 §5.1",
  ),
  doc(
    "dst-ipv4-invalid",
    "egress",
    "the outer destination (embedded or relay) is in C4 → drop",
    "RFC 3056 §9, RFC 3964 §4.1.4",
  ),
  doc(
    "native-to-native",
    "both",
    "neither src6 nor dst6 is 6to4 → drop (OUT: except router mode with a relay and src6 in the site)",
    "RFC 3964 §5.1, §5.2, RFC 3056 §5.3",
  ),
  doc(
    "no-relay",
    "egress",
    "a native destination and no relay configured → drop, ICMPv6 unreachable",
    "RFC 7526",
  ),
  doc(
    "too-big",
    "egress",
    "longer than the tunnel MTU (or the path MTU − 20) → drop, ICMPv6 Packet Too Big",
    "RFC 4213 §3.2, §3.4",
  ),
  doc(
    "decap-disabled",
    "ingress",
    "return-path mode decapsulates nothing unless an allow list names the peer",
    "RFC 6343 §4.5",
  ),
  doc("outer-src-invalid", "ingress", "src4 in C4 → drop", "RFC 3964 §5.2, §5.3.1"),
  doc("outer-dst-not-own", "ingress", "dst4 is not own4 → drop", "RFC 3964 §5.2, §5.3.4"),
  doc(
    "inner-src-invalid",
    "ingress",
    "src6 in C6 or C6src → drop",
    "RFC 3964 §5.3.2, RFC 4213 §3.6",
  ),
  doc("inner-dst-invalid", "ingress", "dst6 in C6 → drop", "RFC 3964 §5.3.2"),
  doc(
    "inner-dst-mismatch",
    "ingress",
    "dst6 in 2002::/16 does not embed dst4 → drop",
    "RFC 3964 §5.2",
  ),
  doc(
    "inner-src-spoofed",
    "ingress",
    "src6 in 2002::/16 (or the 6rd prefix) does not embed src4 → drop",
    "RFC 3964 §5.2, RFC 5969 §9.2",
  ),
  doc(
    "inner-dst-not-ours",
    "ingress",
    "router mode and dst6 not in the site → drop",
    "RFC 3964 §3.1, RFC 5969 §9.2",
  ),
  doc(
    "inner-src-own-prefix",
    "ingress",
    "src6 in the site (own6to4 or our native prefixes) → drop",
    "RFC 4213 §3.6, RFC 3964 §5.3.3",
  ),
  doc(
    "relay-loop",
    "ingress",
    "relay mode, dst6 in 2002::/16 and a 6to4 source (or back into the tunnel) → drop; " +
      "not dst6 = the relay's own 2002:V4::, which sites probe",
    "RFC 3964 §3.2, RFC 6324, RFC 3068 §2.5",
  ),
  doc(
    "peer-not-allowed",
    "ingress",
    "a peer allow list is configured and src4 is not in it → drop",
    "RFC 3056 §5.2",
  ),
  doc(
    "relay-not-allowed",
    "ingress",
    "a relay allow list is configured, src6 is native and src4 is not in it → drop",
    "RFC 3056 §9, RFC 7526 §6",
  ),
  doc(
    "ecn-ce-not-ect",
    "ingress",
    "outer CE with inner Not-ECT → drop",
    "RFC 6040 §4.2",
  ),
  doc(
    "own-ipv4-unavailable",
    "egress",
    "own4 (or the bind address) is not on this host now (gone, not global, ambiguous) → drop " +
      "every packet until it is back or stf follows a new one",
    "RFC 3056 §2, §3",
  ),
]);

function doc(
  name: string,
  direction: ReasonDoc["direction"],
  summary: string,
  source: string,
): ReasonDoc {
  return Object.freeze({ name, direction, summary, source });
}

/**
 * Returns the name of a reason code (`"forwarded"`, `"too-big"`, …).
 *
 * @param code the code
 * @throws {RangeError} when the code is unknown
 */
export function reasonName(code: number): string {
  const name = REASON_NAMES[code];
  if (name === undefined) throw new RangeError(`Cannot name reason code ${code}: unknown code`);
  return name;
}

/**
 * Returns the code of a reason name, or `undefined` when there is no such reason.
 *
 * @param name the name, as in docs/filtering.md
 */
export function reasonCode(name: string): ReasonCode | undefined {
  const i = REASON_NAMES.indexOf(name);
  return i < 0 ? undefined : i as ReasonCode;
}
