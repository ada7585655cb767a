/**
 * Relays that break: the probe packet (ICMPv6 Echo in protocol 41 through each relay), the
 * prober that sends probes and matches replies, and the health state machine that picks the
 * relay carrying the traffic. Pure except for what a {@link ProbeLink} does.
 *
 * @module
 */
export * from "./health.ts";
export * from "./probe.ts";
export * from "./prober.ts";
export * from "./supervisor.ts";
