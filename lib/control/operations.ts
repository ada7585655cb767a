/**
 * What `stf run` offers operators besides forwarding, started and stopped together: the
 * Prometheus endpoint (when `metrics` is configured), the control socket of `stf status`, and
 * systemd's notifications (`READY=1` and `STATUS=` once everything listens, `STOPPING=1`, the
 * watchdog while the forwarder is healthy). Each is a no-op where it does not apply: no
 * `metrics` key, no `NOTIFY_SOCKET`, no `WATCHDOG_USEC`.
 *
 * @module
 */
import { formatIpv6Prefix, type Ipv4Address, type SixRdDomain, sixRdPrefix } from "../addr/mod.ts";
import type { CounterSnapshot, QueueCounters } from "../dataplane/counters.ts";
import { type MetricsServer, serveMetrics } from "../metrics/mod.ts";
import { notify, startWatchdog, type Watchdog } from "../systemd/mod.ts";
import type { RelayView } from "../relay/health.ts";
import { VERSION } from "../version.ts";
import { type ControlServer, defaultControlSocketPaths, serveControl } from "./socket.ts";

/** What the forwarder is, for the status, the metrics and systemd's STATUS line. */
export interface ForwarderFacts {
  /** `router`, `return-path` or `relay`. */
  readonly mode: string;
  /** The own IPv4 address. */
  readonly ipv4: string;
  /** The interface address with its length (`2002:c633:640a::1/16`). */
  readonly address: string;
  /** The site prefix (`2002:c633:640a::/48`, or the 6rd delegated prefix). */
  readonly prefix: string;
  /** The relay carrying native IPv6 now, or `null`/absent for none. */
  readonly relay?: string | null;
  /** Why egress is paused (`own-ipv4-unavailable`); absent while forwarding. */
  readonly ownIpv4Unavailable?: string;
  /** Changes of the own IPv4 address followed since the start (default 0). */
  readonly addressChanges?: number;
  /** Runs of the on-prefix-change hook that failed (default 0). */
  readonly prefixHookFailures?: number;
}

/** Options of {@link startOperations}. */
export interface OperationsOptions {
  /** The interface name. */
  readonly name: string;
  /** The forwarder's facts at start. */
  readonly facts: ForwarderFacts;
  /** Reads the counters (the forwarder's `counters()`). */
  readonly counters: () => CounterSnapshot;
  /** Reads the packets forwarded per queue (the forwarder's `queueCounters()`). */
  readonly queueCounters?: () => QueueCounters[];
  /** The relays as the probes see them (status, metrics); absent: none. */
  readonly relays?: () => readonly RelayView[];
  /** Whether the forwarding threads are alive (watchdog pings and `stf_up`); default true. */
  readonly healthy?: () => boolean;
  /** `ADDR:PORT` of the metrics endpoint (the config's `metrics`), or null/absent for none. */
  readonly metrics?: string | null;
  /** The control socket; absent: `/run/stf/<name>.sock`; null: none. */
  readonly controlSocket?: string | null;
  /** The notify socket; absent: `NOTIFY_SOCKET`. */
  readonly notifySocket?: string;
  /** The watchdog interval in µs; absent: `WATCHDOG_USEC`. */
  readonly watchdogUsec?: number;
  /** Told about what could not be started but does not stop forwarding (the control socket). */
  readonly onWarning?: (message: string) => void;
}

/** The running operations side of `stf run`. */
export interface Operations {
  /** The metrics port listened on, or `undefined` without metrics. */
  readonly metricsPort: number | undefined;
  /** The control socket listened on, or `undefined` when there is none. */
  readonly controlSocket: string | undefined;
  /** After a reload: new facts for the status, metrics and systemd's STATUS line. */
  reloaded(facts: ForwarderFacts): void;
  /** Says the forwarder is stopping: `STOPPING=1`, `stf_up` 0, the watchdog stopped. */
  stopping(): void;
  /** Stops the endpoint and the control socket (removed). */
  close(): Promise<void>;
}

/**
 * The site prefix as text: `2002:V4::/48` for 6to4, or the 6rd delegated prefix.
 *
 * @param ipv4 the own IPv4 address
 * @param domain the 6rd domain, absent for 6to4
 */
export function sitePrefixText(ipv4: Ipv4Address, domain?: SixRdDomain): string {
  return formatIpv6Prefix(domain === undefined ? sixRdPrefix(ipv4) : sixRdPrefix(ipv4, domain));
}

function statusLine(name: string, facts: ForwarderFacts): string {
  if (facts.ownIpv4Unavailable !== undefined) {
    return `Egress paused on ${name}: own IPv4 ${facts.ipv4} unavailable ` +
      `(${facts.ownIpv4Unavailable.split("\n")[0]})`;
  }
  const relay = facts.relay == null ? "" : `, relay ${facts.relay}`;
  return `Forwarding on ${name}: ${facts.address}, own IPv4 ${facts.ipv4}, mode ${facts.mode}` +
    relay;
}

function safeNotify(state: string, socket: string | undefined, warn: (m: string) => void): void {
  try {
    notify(state, socket === undefined ? {} : { socket });
  } catch (error) {
    warn(`Cannot notify systemd (${state.split("\n")[0]}): ${(error as Error).message}`);
  }
}

/**
 * Starts the metrics endpoint, the control socket and systemd's notifications, then says
 * `READY=1`. Call it once the forwarder forwards.
 *
 * @param options the interface, its facts, the counters and where to listen
 * @throws {OperationError} when the metrics address cannot be listened on (asked for, so fatal)
 */
export async function startOperations(options: OperationsOptions): Promise<Operations> {
  const warn = options.onWarning ?? (() => {});
  const startedAt = new Date().toISOString();
  let facts = options.facts;
  let stopping = false;
  const healthy = () => !stopping && (options.healthy?.() ?? true);

  const metrics: MetricsServer | undefined = options.metrics == null
    ? undefined
    : serveMetrics(options.metrics, () => {
      const snapshot = options.counters();
      return {
        snapshot,
        info: {
          version: VERSION,
          ...facts,
          up: healthy(),
          pathMtuEntries: snapshot.egress.pathMtuEntries,
          relays: options.relays?.() ?? [],
        },
      };
    });

  let control: ControlServer | undefined;
  const controlPath = options.controlSocket === undefined
    ? defaultControlSocketPaths(options.name)[0]
    : options.controlSocket;
  if (controlPath !== null) {
    try {
      control = await serveControl(controlPath, () => ({
        name: options.name,
        pid: Deno.pid,
        version: VERSION,
        ...facts,
        ownIpv4Unavailable: facts.ownIpv4Unavailable ?? null,
        addressChanges: facts.addressChanges ?? 0,
        prefixHookFailures: facts.prefixHookFailures ?? 0,
        startedAt,
        counters: options.counters(),
        queues: options.queueCounters?.() ?? [],
        relay: facts.relay ?? null,
        relays: (options.relays?.() ?? []).map((r) => ({
          address: r.address,
          state: r.state,
          active: r.active,
          rttMs: r.rttMs === null ? null : Number(r.rttMs.toFixed(3)),
          lostInARow: r.lostInARow,
        })),
      }));
    } catch (error) {
      warn(`stf status will not see this forwarder: ${(error as Error).message}`);
    }
  }

  safeNotify(`READY=1\nSTATUS=${statusLine(options.name, facts)}`, options.notifySocket, warn);
  const watchdog: Watchdog | undefined = startWatchdog({
    ...(options.notifySocket === undefined ? {} : { socket: options.notifySocket }),
    ...(options.watchdogUsec === undefined ? {} : { intervalUsec: options.watchdogUsec }),
    healthy,
    onError: (error) => warn(`Cannot ping the systemd watchdog: ${error.message}`),
  });

  return {
    metricsPort: metrics?.port,
    controlSocket: control?.path,
    reloaded(next) {
      facts = next;
      safeNotify(`STATUS=${statusLine(options.name, facts)}`, options.notifySocket, warn);
    },
    stopping() {
      if (stopping) return;
      stopping = true;
      watchdog?.stop();
      safeNotify(`STOPPING=1\nSTATUS=Stopping`, options.notifySocket, warn);
    },
    async close() {
      stopping = true;
      watchdog?.stop();
      await Promise.all([metrics?.close(), control?.close()]);
    },
  };
}
