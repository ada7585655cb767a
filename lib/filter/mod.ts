/**
 * The filter of docs/filtering.md: reason codes and names, one predicate per rule, and the
 * policy compiled from settings that applies them in order. It decides and never acts: the
 * data-plane paths encapsulate, rewrite ECN and send.
 *
 * @example
 * ```ts
 * const policy = compilePolicy({
 *   mode: "router", ipv4: "9.0.0.2", localIpv4: [], localBroadcasts: [], relay: "192.88.99.1",
 *   sitePrefixes: [], strictBogons: false, mtu: 1480, ttl: 64, dscp: "copy",
 * });
 * const result = new EgressResult();
 * const reason = policy.egress(buf, 20, n, result);
 * if (reason === Reason.Forwarded) encapsulateAndSend(buf, 20, result.outerDst);
 * else counters[reason]++;
 * ```
 * @module
 */
export * from "./reasons.ts";
export * from "./rules.ts";
export * from "./policy.ts";
