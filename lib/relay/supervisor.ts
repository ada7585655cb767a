/**
 * The relays' supervision in `stf run`: when to probe each relay (every interval, ±10 %
 * jitter, never more than {@link MAX_PROBES_PER_SECOND} probes a second in all), the replies
 * and timeouts fed to {@link RelayHealth}, and its events handed to the caller (which logs
 * them and switches the egress path). Clock and randomness are parameters; the only I/O is
 * the {@link ProbeLink}'s.
 *
 * @module
 */
import { type HealthEvent, RelayHealth, type RelayView } from "./health.ts";
import { type ProbeLink, Prober, probeTimeoutMs, wallClockMs } from "./prober.ts";

/** The most probes sent in one second, whatever the interval and the number of relays. */
export const MAX_PROBES_PER_SECOND = 10;
/** The jitter of the interval: each wait is the interval × (1 ± this). */
export const PROBE_JITTER = 0.1;

/** The relays and how to probe them (the part a reload may change). */
export interface RelayProbeSettings {
  /** The relays in order of preference. */
  readonly relays: readonly string[];
  /** Seconds between two probes of a relay. */
  readonly intervalSeconds: number;
  /** Probes lost in a row after which a relay is down. */
  readonly failures: number;
  /** A native target (16 bytes), or `undefined` for each relay's 2002:V4::. */
  readonly target6?: Uint8Array;
}

/** What the supervisor needs besides the settings. */
export interface RelaySupervisorOptions extends RelayProbeSettings {
  /** Where probes go and replies come from. */
  readonly link: ProbeLink;
  /** Our outer source address (own IPv4, or bind-ipv4). */
  readonly source4: string;
  /** Our 6to4 address (16 bytes). */
  readonly source6: Uint8Array;
  /** The probes' identifier (the link's filter must let it in). */
  readonly identifier: number;
  /** The outer TTL. */
  readonly ttl?: number;
  /** Called with each health event, in order. */
  readonly onEvent: (event: HealthEvent) => void;
  /** Called when a probe cannot be sent (the kernel refused it); it then counts as lost. */
  readonly onSendError?: (relay: string, error: unknown) => void;
  /** A number in [0, 1) (default `Math.random`). */
  readonly random?: () => number;
  /** The wall clock in milliseconds (default {@link wallClockMs}). */
  readonly now?: () => number;
}

/** Probes the relays on schedule; see the module comment. */
export class RelaySupervisor {
  #options: RelaySupervisorOptions;
  #settings: RelayProbeSettings;
  #health: RelayHealth;
  #prober: Prober;
  #due = new Map<string, number>();
  #lastSendMs = -Infinity;
  #now: () => number;
  #random: () => number;
  #sent = 0;

  /**
   * Creates the supervisor; each relay's first probe goes out at a random point of the first
   * interval.
   *
   * @param options the link, addresses, settings and event handler
   */
  constructor(options: RelaySupervisorOptions) {
    this.#options = options;
    this.#settings = options;
    this.#now = options.now ?? wallClockMs;
    this.#random = options.random ?? Math.random;
    this.#health = new RelayHealth(options.relays, options.failures);
    this.#prober = this.#newProber(options);
    // The first probe of each relay goes out at a random point of the first interval: sites
    // that start together (a power cut, a fleet) do not probe a relay in step.
    const start = this.#now();
    for (const relay of options.relays) {
      this.#due.set(relay, start + options.intervalSeconds * 1000 * this.#random());
    }
  }

  #newProber(settings: RelayProbeSettings): Prober {
    return new Prober(this.#options.link, {
      source4: this.#options.source4,
      source6: this.#options.source6,
      identifier: this.#options.identifier,
      timeoutMs: probeTimeoutMs(settings.intervalSeconds),
      ...(settings.target6 === undefined ? {} : { target6: settings.target6 }),
      ...(this.#options.ttl === undefined ? {} : { ttl: this.#options.ttl }),
    });
  }

  /** The relay carrying the traffic, or `null` when none is configured. */
  get active(): string | null {
    return this.#health.active;
  }

  /** Whether every relay is down. */
  get allDown(): boolean {
    return this.#health.allDown;
  }

  /** The probes' identifier. */
  get identifier(): number {
    return this.#options.identifier;
  }

  /**
   * Probes from other addresses from now on (the own IPv4 address changed).
   *
   * @param source4 the outer source
   * @param source6 the inner source (our 6to4 address)
   */
  setSources(source4: string, source6: Uint8Array): void {
    this.#options = { ...this.#options, source4, source6 };
    this.#prober.setSources(source4, source6);
  }

  /** Probes sent so far (probe traffic, counted apart from forwarded traffic). */
  get probesSent(): number {
    return this.#sent;
  }

  /** The relays in order of preference, with their state. */
  view(): RelayView[] {
    return this.#health.view();
  }

  /**
   * Does what is due: reads the replies, counts the probes whose time is up as lost, and sends
   * the probes due (at most one per 1/{@link MAX_PROBES_PER_SECOND} s). Call it often (every
   * 100 ms or so): RTTs come from the kernel's receive stamps, not from this call.
   */
  tick(): void {
    for (const outcome of this.#prober.collect()) {
      this.#emit(
        outcome.answered
          ? this.#health.answered(outcome.relay, outcome.rttMs ?? 0)
          : this.#health.lost(outcome.relay),
      );
    }
    const now = this.#now();
    for (const outcome of this.#prober.expire(now)) {
      this.#emit(this.#health.lost(outcome.relay));
    }
    const spacing = 1000 / MAX_PROBES_PER_SECOND;
    for (const relay of this.#settings.relays) {
      const due = this.#due.get(relay) ?? now;
      if (due > now || now - this.#lastSendMs < spacing) continue;
      this.#lastSendMs = now;
      const jitter = 1 + PROBE_JITTER * (2 * this.#random() - 1);
      this.#due.set(relay, now + this.#settings.intervalSeconds * 1000 * jitter);
      this.#sent++;
      try {
        this.#prober.send(relay, now);
      } catch (error) {
        // The probe stays pending and counts as lost at its timeout.
        this.#options.onSendError?.(relay, error);
      }
    }
  }

  /**
   * Applies new settings (SIGHUP): relays still listed keep their state, new ones are probed
   * at once, removed ones are forgotten with their pending probes.
   *
   * @param settings the relays, interval, threshold and target
   */
  reload(settings: RelayProbeSettings): void {
    const now = this.#now();
    const intervalChanged = settings.intervalSeconds !== this.#settings.intervalSeconds;
    const targetChanged = !sameBytes(settings.target6, this.#settings.target6);
    this.#settings = settings;
    if (intervalChanged || targetChanged) this.#prober = this.#newProber(settings);
    else this.#prober.forgetOthers(settings.relays);
    const due = new Map<string, number>();
    for (const relay of settings.relays) due.set(relay, this.#due.get(relay) ?? now);
    this.#due = due;
    this.#emit(this.#health.reload(settings.relays, settings.failures));
  }

  #emit(events: HealthEvent[]): void {
    for (const event of events) this.#options.onEvent(event);
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
