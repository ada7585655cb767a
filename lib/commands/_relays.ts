/**
 * The relays' side of `stf run`: the probe socket, the {@link RelaySupervisor} and what its
 * events do — a warning per transition (relay, state, last RTT or probes lost) and, when the
 * active relay changes, a call that switches the egress path (through the forwarder's reload).
 * A router probes the relays it has; return-path and relay modes send nothing to a relay, so
 * they probe nothing.
 *
 * @module
 */
import { parseIpv6 } from "../addr/mod.ts";
import type { StfConfig } from "../config/mod.ts";
import { getLogger } from "../log.ts";
import { openProbeSocket, type ProbeSocket } from "../netif/probe_socket.ts";
import type { HealthEvent, RelayView } from "../relay/health.ts";
import { type RelayProbeSettings, RelaySupervisor } from "../relay/supervisor.ts";

const log = getLogger(["stf", "relay"]);

/** How often `run`'s supervision loop calls {@link RelaySupervision.tick}. */
export const RELAY_TICK_MS = 100;

/** The relays as `run` sees them. */
export interface RelaySupervision extends Disposable {
  /** Our probes' identifier (the ingress sockets' filter drops their replies). */
  readonly identifier: number;
  /** The relay carrying the traffic now, or `null` for none. */
  readonly active: string | null;
  /** The relays, in order of preference, with their state. */
  view(): RelayView[];
  /** Probes sent so far. */
  probesSent(): number;
  /** Whether there are relays to probe (else {@link RelaySupervision.tick} has nothing to do). */
  readonly probing: boolean;
  /**
   * Reads the replies, judges the late probes lost and sends the probes due; `run`'s one
   * supervision loop calls it every {@link RELAY_TICK_MS}.
   */
  tick(): void;
  /** Applies a reloaded configuration's relays (SIGHUP). */
  reload(config: StfConfig): void;
  /** Probes from our new addresses (the own IPv4 address changed). */
  setSources(source4: string, source6: string): void;
  /** Stops probing and closes the probe socket. */
  close(): void;
}

/** What {@link startRelaySupervision} needs. */
export interface RelaySupervisionOptions {
  /** The effective configuration (relays, probe settings, mode, TTL). */
  readonly config: StfConfig;
  /** Our outer source address (bind-ipv4, else the own IPv4). */
  readonly source4: string;
  /** Our 6to4 address, the probes' source (the interface address). */
  readonly source6: string;
  /** Our probes' identifier (chosen before the ingress sockets were given their filter). */
  readonly identifier: number;
  /** Called when the active relay changes: switch the egress path to it. */
  readonly onActive: (relay: string | null) => void;
}

function settingsOf(config: StfConfig): RelayProbeSettings {
  // Only a router sends to a relay (RFC 6343 §4.5 for return-path; a relay has none).
  const relays = config.mode === "router" ? config.relays : [];
  return {
    relays,
    intervalSeconds: config.relayProbeInterval,
    failures: config.relayProbeFailures,
    ...(config.relayProbeTarget === null ? {} : { target6: parseIpv6(config.relayProbeTarget) }),
  };
}

/**
 * Logs one health event at warning level: each transition once, naming the relay, its state
 * and the last RTT or the probes lost; a change of active relay says where traffic goes.
 *
 * @param event the event
 */
export function logHealthEvent(event: HealthEvent): void {
  if (event.kind === "relay") {
    if (event.to === "up") {
      log.warn("Relay {relay} is up: it answered a probe in {rttMs} ms", {
        relay: event.address,
        state: event.to,
        rttMs: Number((event.rttMs ?? 0).toFixed(2)),
      });
    } else {
      log.warn("Relay {relay} is down: {lostInARow} probes lost in a row", {
        relay: event.address,
        state: event.to,
        lostInARow: event.lostInARow,
      });
    }
    return;
  }
  if (event.allDown) {
    log.warn(
      "Every relay is down: native IPv6 still goes to {relay}, the first one (a probe can fail " +
        "while the data path works)",
      { relay: event.to, from: event.from },
    );
  } else if (event.to === null) {
    log.warn("No relay left: native IPv6 destinations are unreachable", { from: event.from });
  } else {
    log.warn("Native IPv6 now goes through relay {relay} (was {from})", {
      relay: event.to,
      from: event.from ?? "none",
    });
  }
}

/**
 * Prepares the probing of the relays (each {@link RelaySupervision.tick} does the work). The
 * probe socket is opened only
 * when there is a relay to probe (a router with relays): at start, so before privileges are
 * dropped; or on the reload that brings the first relays, which fails (logged, nothing
 * probed, traffic still to the first relay) once root or CAP_NET_RAW is gone.
 *
 * @param options the configuration, our addresses, the switch
 * @throws {SyscallError} when the probe socket cannot be opened at start
 */
export function startRelaySupervision(options: RelaySupervisionOptions): RelaySupervision {
  const identifier = options.identifier;
  let socket: ProbeSocket | undefined;
  let supervisor: RelaySupervisor | undefined;
  let active: string | null = null;
  let closed = false;
  let sources = { source4: options.source4, source6: parseIpv6(options.source6) };
  const start = (settings: RelayProbeSettings) => {
    socket = openProbeSocket(identifier);
    supervisor = new RelaySupervisor({
      ...settings,
      link: socket,
      ...sources,
      identifier,
      ttl: options.config.ttl,
      onEvent: (event) => {
        logHealthEvent(event);
        if (event.kind === "active" && event.to !== active) {
          active = event.to;
          options.onActive(active);
        }
      },
      onSendError: (relay, error) =>
        log.debug("Cannot send a probe to relay {relay}: {error}", {
          relay,
          error: error instanceof Error ? error.message : String(error),
        }),
    });
    active = supervisor.active;
  };
  const initial = settingsOf(options.config);
  if (initial.relays.length > 0) start(initial);
  const close = () => {
    if (closed) return;
    closed = true;
    supervisor = undefined;
    socket?.close();
  };
  return {
    identifier,
    get active() {
      return active;
    },
    view: () => supervisor?.view() ?? [],
    get probing() {
      return !closed && supervisor !== undefined && supervisor.view().length > 0;
    },
    probesSent: () => supervisor?.probesSent ?? 0,
    tick: () => supervisor?.tick(),
    reload(config) {
      const settings = settingsOf(config);
      if (supervisor !== undefined) {
        supervisor.reload(settings);
      } else if (settings.relays.length > 0 && !closed) {
        try {
          start(settings);
        } catch (error) {
          log.error("Cannot probe the relays (restart stf to probe them): {error}", {
            error: error instanceof Error ? error.message : String(error),
          });
          active = settings.relays[0];
        }
      }
    },
    setSources(source4, source6) {
      sources = { source4, source6: parseIpv6(source6) };
      supervisor?.setSources(sources.source4, sources.source6);
    },
    close,
    [Symbol.dispose]: close,
  };
}
