/**
 * The relays' metrics, appended to the forwarder's exposition: `stf_relay_up{relay}` (1 up,
 * 0 down or not known yet), `stf_relay_rtt_seconds{relay}` (the last answered probe; absent
 * before any), `stf_relay_probes_total{relay,result="answered|lost"}` and
 * `stf_relay_active{relay}` (1 for the relay carrying the traffic). Nothing when no relay is
 * configured.
 *
 * @module
 */
import type { RelayView } from "../relay/health.ts";
import { escapeLabelValue } from "./render.ts";

/**
 * Renders the relay families in the Prometheus text format (each line ends with a line feed).
 *
 * @param relays the relays in order of preference
 */
export function renderRelayMetrics(relays: readonly RelayView[]): string {
  if (relays.length === 0) return "";
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const label = (r: RelayView) => `relay="${escapeLabelValue(r.address)}"`;
  family(
    "stf_relay_up",
    "gauge",
    "1 while the relay answers its probes, 0 when down or not known yet",
  );
  for (const r of relays) lines.push(`stf_relay_up{${label(r)}} ${r.state === "up" ? 1 : 0}`);
  family("stf_relay_rtt_seconds", "gauge", "Round-trip time of the relay's last answered probe");
  for (const r of relays) {
    if (r.rttMs !== null) lines.push(`stf_relay_rtt_seconds{${label(r)}} ${r.rttMs / 1000}`);
  }
  family("stf_relay_probes_total", "counter", "Probes sent to the relay, by result");
  for (const r of relays) {
    lines.push(`stf_relay_probes_total{${label(r)},result="answered"} ${r.answered}`);
    lines.push(`stf_relay_probes_total{${label(r)},result="lost"} ${r.lost}`);
  }
  family("stf_relay_active", "gauge", "1 for the relay that carries the traffic to native IPv6");
  for (const r of relays) lines.push(`stf_relay_active{${label(r)}} ${r.active ? 1 : 0}`);
  return lines.join("\n") + "\n";
}
