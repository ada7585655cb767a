/**
 * The Prometheus text exposition format (version 0.0.4) of the forwarder's counters: one
 * `# HELP` and one `# TYPE` line per metric family, then its samples. Every drop reason of each
 * direction is present from the start, at 0, so that `rate()` and alerts see the series before
 * the first drop.
 *
 * @module
 */
import type { CounterSnapshot } from "../dataplane/counters.ts";
import type { Direction } from "../dataplane/types.ts";
import { EGRESS_REASONS, INGRESS_REASONS, REASON_NAMES } from "../filter/reasons.ts";
import type { RelayView } from "../relay/health.ts";
import { renderRelayMetrics } from "./relays.ts";

/** What the metrics say about the forwarder besides its counters. */
export interface MetricsInfo {
  /** The stf version (`stf_info{version}`). */
  readonly version: string;
  /** The mode: `router`, `return-path` or `relay` (`stf_info{mode}`). */
  readonly mode: string;
  /** The own IPv4 address (`stf_info{ipv4}`). */
  readonly ipv4: string;
  /** The site's 6to4 or 6rd prefix, e.g. `2002:c633:640a::/48` (`stf_info{prefix}`). */
  readonly prefix: string;
  /** Whether the forwarder is forwarding (`stf_up` 1) or has failed or is stopping (0). */
  readonly up: boolean;
  /** Entries in the path MTU table (`stf_path_mtu_entries`); the family is left out when unknown. */
  readonly pathMtuEntries?: number;
  /** The relays and their probes (`stf_relay_*`); nothing when absent or empty. */
  readonly relays?: readonly RelayView[];
  /** Times the own IPv4 address changed while running (`stf_address_changes_total`). */
  readonly addressChanges?: number;
  /** Runs of the prefix hook that failed (`stf_prefix_hook_failures_total`). */
  readonly prefixHookFailures?: number;
}

/** The content type of {@link renderMetrics}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const DIRECTIONS: readonly Direction[] = ["egress", "ingress"];

/**
 * Escapes a label value: backslash, double quote and line feed (the exposition format's only
 * escapes).
 *
 * @param value the label value
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** Escapes a HELP text: backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/** Formats a sample value: integers as such, the rest as Go's ParseFloat reads them. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labels(pairs: Readonly<Record<string, string>>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: "counter" | "gauge", help: string): this {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, pairs: Readonly<Record<string, string>>, value: number): this {
    this.#lines.push(`${name}${labels(pairs)} ${formatValue(value)}`);
    return this;
  }

  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/**
 * Renders the counters and the forwarder's facts in the Prometheus text format (each line ends
 * with a line feed, as the format requires).
 *
 * @param snapshot the counters
 * @param info the version, mode, addresses and state
 */
export function renderMetrics(snapshot: CounterSnapshot, info: MetricsInfo): string {
  const out = new Exposition();
  out.family("stf_up", "gauge", "1 while the forwarder is forwarding, 0 when it failed");
  out.sample("stf_up", {}, info.up ? 1 : 0);
  out.family("stf_info", "gauge", "The forwarder's version, mode, own IPv4 and site prefix");
  out.sample("stf_info", {
    version: info.version,
    mode: info.mode,
    ipv4: info.ipv4,
    prefix: info.prefix,
  }, 1);

  // The own IPv4 address follows the uplink (README, "A changing public IPv4"): a series of its
  // own, so that an alert or a graph sees the change without joining on stf_info's version.
  out.family("stf_own_ipv4_info", "gauge", "The own IPv4 address in force and its site prefix");
  out.sample("stf_own_ipv4_info", { ipv4: info.ipv4, prefix: info.prefix }, 1);
  out.family(
    "stf_address_changes_total",
    "counter",
    "Changes of the own IPv4 address (and so of the site prefix) followed while running",
  );
  out.sample("stf_address_changes_total", {}, info.addressChanges ?? 0);
  out.family(
    "stf_prefix_hook_failures_total",
    "counter",
    "Runs of the on-prefix-change hook that failed, timed out or could not start",
  );
  out.sample("stf_prefix_hook_failures_total", {}, info.prefixHookFailures ?? 0);

  out.family(
    "stf_packets_forwarded_total",
    "counter",
    "Packets forwarded: egress encapsulated from the TUN, ingress decapsulated into it",
  );
  for (const d of DIRECTIONS) {
    out.sample("stf_packets_forwarded_total", { direction: d }, snapshot[d].packets);
  }
  out.family("stf_bytes_forwarded_total", "counter", "Inner IPv6 bytes forwarded");
  for (const d of DIRECTIONS) {
    out.sample("stf_bytes_forwarded_total", { direction: d }, snapshot[d].bytes);
  }
  out.family(
    "stf_packets_dropped_total",
    "counter",
    "Packets dropped by the filter rules, by reason (docs/filtering.md)",
  );
  for (const d of DIRECTIONS) {
    const reasons = d === "egress" ? EGRESS_REASONS : INGRESS_REASONS;
    for (const code of reasons) {
      const reason = REASON_NAMES[code];
      out.sample(
        "stf_packets_dropped_total",
        { direction: d, reason },
        snapshot[d].dropped[reason] ?? 0,
      );
    }
  }
  out.family(
    "stf_io_errors_total",
    "counter",
    "Packets accepted by the rules but refused by the kernel on send or write",
  );
  for (const d of DIRECTIONS) {
    out.sample("stf_io_errors_total", { direction: d }, snapshot[d].ioErrors);
  }
  out.family(
    "stf_icmp_sent_total",
    "counter",
    "ICMPv6 errors generated (Packet Too Big, destination unreachable)",
  );
  out.sample("stf_icmp_sent_total", {}, snapshot.egress.icmpSent + snapshot.ingress.icmpSent);
  out.family(
    "stf_path_mtu_updates_total",
    "counter",
    "ICMPv4 fragmentation-needed messages that lowered a path MTU",
  );
  out.sample(
    "stf_path_mtu_updates_total",
    {},
    snapshot.egress.pathMtuUpdates + snapshot.ingress.pathMtuUpdates,
  );
  if (info.pathMtuEntries !== undefined) {
    out.family("stf_path_mtu_entries", "gauge", "Entries in the path MTU table");
    out.sample("stf_path_mtu_entries", {}, info.pathMtuEntries);
  }
  return out.toString() + renderRelayMetrics(info.relays ?? []);
}
