/**
 * The relay failover time for `deno task bench`: in the two-relay lab of the tests
 * (`tests/lab/_relays.ts`), a site probing every second (3 lost: down) has relay A's return
 * path cut with nftables, `repeats` times; the time from the cut to the site's switch to relay
 * B is measured (A is restored in between). The bound with the defaults (10 s, 3 lost) is
 * computed rather than waited for: failures × interval × 1.1 (jitter) + the probe timeout.
 *
 * @module
 */
import { probeTimeoutMs } from "../lib/relay/prober.ts";
import { PROBE_JITTER } from "../lib/relay/supervisor.ts";
import {
  buildRelayLab,
  FAILOVER_SITE_ARGS,
  measureFailover,
  RELAYS,
  waitForRecord,
} from "../tests/lab/_relays.ts";

/** What the failover measurement found. */
export interface FailoverResult {
  /** Each measured failover, in milliseconds. */
  readonly runsMs: readonly number[];
  /** Their median. */
  readonly medianMs: number;
  /** The probe interval measured with, in seconds. */
  readonly intervalSeconds: number;
  /** The probes lost in a row for down, measured with. */
  readonly failures: number;
  /** The computed worst case with those settings, in milliseconds. */
  readonly boundMs: number;
  /** The computed worst case with the defaults (10 s, 3), in milliseconds. */
  readonly defaultBoundMs: number;
}

/**
 * The worst-case failover for an interval and a failure count: the last lost probe leaves at
 * most failures × interval × (1 + jitter) after the break and is judged after the timeout.
 *
 * @param intervalSeconds the probe interval
 * @param failures probes lost in a row for down
 */
export function failoverBoundMs(intervalSeconds: number, failures: number): number {
  return failures * intervalSeconds * 1000 * (1 + PROBE_JITTER) + probeTimeoutMs(intervalSeconds);
}

/**
 * Measures the failover `repeats` times in a fresh lab.
 *
 * @param repeats how many cuts
 * @param onProgress a line per step
 */
export async function benchFailover(
  repeats: number,
  onProgress: (message: string) => void,
): Promise<FailoverResult> {
  await using lab = await buildRelayLab();
  const site = await lab.startSite(FAILOVER_SITE_ARGS);
  await waitForRecord(site, { relay: RELAYS.relayA, state: "up" });
  await waitForRecord(site, { relay: RELAYS.relayB, state: "up" });
  const runsMs: number[] = [];
  for (let i = 1; i <= repeats; i++) {
    const ms = await measureFailover(lab, site);
    runsMs.push(ms);
    onProgress(`[failover ${i}/${repeats}] relay A cut: traffic on relay B after ${ms} ms`);
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const medianMs = sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
  return {
    runsMs,
    medianMs,
    intervalSeconds: 1,
    failures: 3,
    boundMs: failoverBoundMs(1, 3),
    defaultBoundMs: failoverBoundMs(10, 3),
  };
}

/**
 * The report's line about the failover.
 *
 * @param r the result
 */
export function failoverLine(r: FailoverResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `Relay failover (--relay-probe-interval ${r.intervalSeconds} --relay-probe-failures ` +
    `${r.failures}, relay A's return path cut with nftables): median ${s(r.medianMs)} of ` +
    `${r.runsMs.length} (${r.runsMs.map(s).join(", ")}); worst case ${s(r.boundMs)}; with the ` +
    `defaults (10 s, 3) ${s(r.defaultBoundMs)}, computed.`;
}
