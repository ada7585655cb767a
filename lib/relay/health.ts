/**
 * The health of the relays, in order of preference: a pure state machine fed with probe
 * results (answered with an RTT, or lost), which says when a relay goes up or down and which
 * relay carries the traffic. No clock, no I/O: `run` and `doctor` feed it.
 *
 * - A relay starts `unknown`. It is `down` after `failures` probes lost in a row, and `up`
 *   after one answer when it was `unknown`, after {@link ANSWERS_TO_COME_BACK} answers in a
 *   row when it was `down` (hysteresis: one lucky probe does not bring a flapping relay back).
 * - The active relay is the first one in the list that is not `down` (`unknown` counts as
 *   usable, so that traffic flows from the start, to the first relay, as without probing).
 *   When every relay is down, the first one stays active — a probe can fail while the data
 *   path works — and {@link RelayHealth.allDown} says so.
 *
 * @module
 */

/** What the probes say of a relay. */
export type RelayState = "unknown" | "up" | "down";

/** Answers in a row that bring a `down` relay back `up`. */
export const ANSWERS_TO_COME_BACK = 2;

/** One relay as the probes see it. */
export interface RelayView {
  /** The relay's IPv4 address (canonical dotted quad). */
  readonly address: string;
  /** Up, down, or not known yet. */
  readonly state: RelayState;
  /** Whether it carries the traffic to native IPv6 now. */
  readonly active: boolean;
  /** The RTT of the last answered probe in milliseconds, or `null` before any. */
  readonly rttMs: number | null;
  /** Probes lost since the last answer. */
  readonly lostInARow: number;
  /** Probes answered since it was created (for `stf_relay_probes_total{result="answered"}`). */
  readonly answered: number;
  /** Probes lost since it was created (for `stf_relay_probes_total{result="lost"}`). */
  readonly lost: number;
}

/** A relay changed state. */
export interface RelayTransition {
  /** `relay`. */
  readonly kind: "relay";
  /** The relay. */
  readonly address: string;
  /** Its state before. */
  readonly from: RelayState;
  /** Its state now. */
  readonly to: RelayState;
  /** The RTT of the answer that brought it up, or `null`. */
  readonly rttMs: number | null;
  /** The probes lost in a row that took it down (0 when it came up). */
  readonly lostInARow: number;
}

/** The traffic moved to another relay, or every relay is down. */
export interface ActiveChange {
  /** `active`. */
  readonly kind: "active";
  /** The relay that carried the traffic, or `null` when there was none. */
  readonly from: string | null;
  /** The relay that carries it now, or `null` when the list is empty. */
  readonly to: string | null;
  /** Every relay is down: `to` is the first one, kept for lack of a better one. */
  readonly allDown: boolean;
}

/** What a probe result or a reload changed. */
export type HealthEvent = RelayTransition | ActiveChange;

interface Entry {
  address: string;
  state: RelayState;
  rttMs: number | null;
  lostInARow: number;
  answeredInARow: number;
  answered: number;
  lost: number;
}

function entry(address: string): Entry {
  return {
    address,
    state: "unknown",
    rttMs: null,
    lostInARow: 0,
    answeredInARow: 0,
    answered: 0,
    lost: 0,
  };
}

/**
 * The relays and their health. Mutable, owned by one caller; each method returns the events
 * it caused, in order (relay transitions first, then the change of active relay).
 *
 * @example
 * ```ts
 * const health = new RelayHealth(["192.0.2.1", "198.51.100.9"], 3);
 * health.lost("192.0.2.1"); health.lost("192.0.2.1");
 * health.lost("192.0.2.1"); // → [{kind: "relay", to: "down", …}, {kind: "active", to: "198.51.100.9", …}]
 * ```
 */
export class RelayHealth {
  #entries: Entry[];
  #failures: number;
  #active: string | null;
  #lastAllDown = false;

  /**
   * Creates the table, every relay `unknown`, the first one active.
   *
   * @param addresses the relays in order of preference (no duplicates)
   * @param failures probes lost in a row after which a relay is down (≥ 1)
   */
  constructor(addresses: readonly string[], failures: number) {
    this.#failures = checkFailures(failures);
    this.#entries = unique(addresses).map(entry);
    this.#active = this.#choose();
  }

  /** The relay that carries the traffic, or `null` when there is none. */
  get active(): string | null {
    return this.#active;
  }

  /** Whether every relay is down (the first one is then kept active). */
  get allDown(): boolean {
    return this.#entries.length > 0 && this.#entries.every((e) => e.state === "down");
  }

  /** Probes lost in a row after which a relay is down. */
  get failures(): number {
    return this.#failures;
  }

  /** The relays in order of preference, as plain data. */
  view(): RelayView[] {
    return this.#entries.map((e) => ({
      address: e.address,
      state: e.state,
      active: e.address === this.#active,
      rttMs: e.rttMs,
      lostInARow: e.lostInARow,
      answered: e.answered,
      lost: e.lost,
    }));
  }

  /**
   * Records an answered probe.
   *
   * @param address the relay probed
   * @param rttMs the round-trip time in milliseconds
   * @returns the events caused (none for a relay not in the list)
   */
  answered(address: string, rttMs: number): HealthEvent[] {
    const e = this.#entries.find((x) => x.address === address);
    if (e === undefined) return [];
    e.answered++;
    e.answeredInARow++;
    e.lostInARow = 0;
    e.rttMs = rttMs;
    const needed = e.state === "down" ? ANSWERS_TO_COME_BACK : 1;
    if (e.state === "up" || e.answeredInARow < needed) return [];
    return this.#move(e, "up");
  }

  /**
   * Records a lost probe (no answer in time).
   *
   * @param address the relay probed
   * @returns the events caused (none for a relay not in the list)
   */
  lost(address: string): HealthEvent[] {
    const e = this.#entries.find((x) => x.address === address);
    if (e === undefined) return [];
    e.lost++;
    e.lostInARow++;
    e.answeredInARow = 0;
    if (e.state === "down" || e.lostInARow < this.#failures) return [];
    return this.#move(e, "down");
  }

  /**
   * Applies a new list (SIGHUP): relays still listed keep their state and counts, new ones
   * start `unknown`, removed ones are forgotten; the order is the new one.
   *
   * @param addresses the relays in order of preference
   * @param failures the new threshold (a relay already past it is not re-judged until its
   *   next probe)
   * @returns the change of active relay, if any
   */
  reload(addresses: readonly string[], failures: number): HealthEvent[] {
    this.#failures = checkFailures(failures);
    const old = new Map(this.#entries.map((e) => [e.address, e]));
    this.#entries = unique(addresses).map((a) => old.get(a) ?? entry(a));
    return this.#reconsider();
  }

  #move(e: Entry, to: RelayState): HealthEvent[] {
    const from = e.state;
    e.state = to;
    const transition: RelayTransition = {
      kind: "relay",
      address: e.address,
      from,
      to,
      rttMs: to === "up" ? e.rttMs : null,
      lostInARow: to === "down" ? e.lostInARow : 0,
    };
    return [transition, ...this.#reconsider()];
  }

  #reconsider(): HealthEvent[] {
    const before = this.#active;
    const wasAllDown = this.#lastAllDown;
    this.#active = this.#choose();
    this.#lastAllDown = this.allDown;
    if (before === this.#active && wasAllDown === this.#lastAllDown) return [];
    return [{ kind: "active", from: before, to: this.#active, allDown: this.#lastAllDown }];
  }

  #choose(): string | null {
    const usable = this.#entries.find((e) => e.state !== "down");
    return (usable ?? this.#entries[0])?.address ?? null;
  }
}

function unique(addresses: readonly string[]): string[] {
  return [...new Set(addresses)];
}

function checkFailures(failures: number): number {
  if (!Number.isInteger(failures) || failures < 1) {
    throw new RangeError(`Cannot use ${failures} probe failures: expected an integer ≥ 1`);
  }
  return failures;
}
