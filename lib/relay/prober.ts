/**
 * Sending probes and matching their replies, over any {@link ProbeLink} (the raw socket of
 * `lib/netif/probe_socket.ts`, or a fake in tests). Each probe gets the next sequence number
 * of this process's identifier; a reply is matched by identifier and sequence and timed
 * against the send; a probe not answered within the timeout is lost, and a late reply to it
 * is ignored. Times are wall-clock milliseconds (the kernel's receive stamps are).
 *
 * @module
 */
import { parseIpv4 } from "../addr/mod.ts";
import { PROBE_LENGTH, readProbeReply, relaySixToFourAddress, writeProbe } from "./probe.ts";

/** A packet read from a probe link, with its receive time. */
export interface ReceivedProbe {
  /** Bytes read into the buffer. */
  readonly length: number;
  /** When the kernel received it, wall-clock milliseconds. */
  readonly timeMs: number;
}

/** Where probes go out and replies come in. */
export interface ProbeLink {
  /** Sends a whole protocol-41 packet (outer header included) to the relay. */
  send(packet: Uint8Array, length: number, relay4: number): void;
  /** Reads one waiting packet into `buf`, or returns `undefined` when none waits. */
  receive(buf: Uint8Array): ReceivedProbe | undefined;
}

/** The outcome of one probe. */
export interface ProbeOutcome {
  /** The relay probed. */
  readonly relay: string;
  /** The probe's sequence number. */
  readonly sequence: number;
  /** Answered in time, or lost. */
  readonly answered: boolean;
  /** The round-trip time of an answered probe, in milliseconds. */
  readonly rttMs?: number;
}

/** What the prober needs to know. */
export interface ProberOptions {
  /** Our outer source address (own IPv4, or the bind address behind NAT). */
  readonly source4: string;
  /** Our 6to4 address, the inner source (16 bytes). */
  readonly source6: Uint8Array;
  /** The probes' identifier. */
  readonly identifier: number;
  /** The native probe target (16 bytes), or `undefined` for each relay's 2002:V4::. */
  readonly target6?: Uint8Array;
  /** How long a probe may wait for its answer, in milliseconds. */
  readonly timeoutMs: number;
  /** The outer TTL (default 64). */
  readonly ttl?: number;
}

/** Wall-clock milliseconds with sub-millisecond precision. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The probe timeout for an interval: half of it, at most 2 s — ample for a relay's round trip,
 * and failover stays within failures × interval × 1.1 + the timeout.
 */
export function probeTimeoutMs(intervalSeconds: number): number {
  return Math.min(intervalSeconds * 500, 2000);
}

interface Pending {
  readonly relay: string;
  readonly sentMs: number;
}

/** Sends probes and matches replies; see the module comment. */
export class Prober {
  #link: ProbeLink;
  #options: ProberOptions;
  #source4: number;
  #sequence = Math.floor(Math.random() * 0x10000);
  #pending = new Map<number, Pending>();
  #out = new Uint8Array(PROBE_LENGTH);
  #in = new Uint8Array(2048);
  /** Probes sent, for the counters of probe traffic. */
  sent = 0;

  /**
   * Creates a prober; nothing is sent until {@link Prober.send}.
   *
   * @param link where probes go and replies come from
   * @param options addresses, identifier, target, timeout
   */
  constructor(link: ProbeLink, options: ProberOptions) {
    this.#link = link;
    this.#options = options;
    this.#source4 = parseIpv4(options.source4);
  }

  /** The probes' identifier. */
  get identifier(): number {
    return this.#options.identifier;
  }

  /**
   * Sends the next probes from other addresses (the own IPv4 address changed). Probes in
   * flight keep their match: replies are matched by identifier and sequence.
   *
   * @param source4 the outer source
   * @param source6 the inner source (our 6to4 address)
   */
  setSources(source4: string, source6: Uint8Array): void {
    this.#source4 = parseIpv4(source4);
    this.#options = { ...this.#options, source4, source6 };
  }

  /** Probes waiting for an answer. */
  get outstanding(): number {
    return this.#pending.size;
  }

  /**
   * Sends one probe to a relay.
   *
   * @param relay the relay's IPv4 address (or a 6to4 peer's)
   * @param nowMs the send time (wall clock)
   * @param target6 the target for this probe only (default: the prober's, else 2002:V4::)
   * @returns the probe's sequence number
   * @throws {SyscallError} when the kernel refuses the send (the probe also counts as lost at
   *   its timeout)
   */
  send(relay: string, nowMs: number = wallClockMs(), target6?: Uint8Array): number {
    this.#sequence = (this.#sequence + 1) & 0xffff;
    const sequence = this.#sequence;
    const relay4 = parseIpv4(relay);
    const length = writeProbe(this.#out, {
      source4: this.#source4,
      relay4,
      source6: this.#options.source6,
      target6: target6 ?? this.#options.target6 ?? relaySixToFourAddress(relay4),
      identifier: this.#options.identifier,
      sequence,
      ...(this.#options.ttl === undefined ? {} : { ttl: this.#options.ttl }),
    });
    this.#pending.set(sequence, { relay, sentMs: nowMs });
    this.sent++;
    this.#link.send(this.#out, length, relay4);
    return sequence;
  }

  /** Reads every waiting reply and returns the probes they answer (late ones as lost). */
  collect(): ProbeOutcome[] {
    const out: ProbeOutcome[] = [];
    for (;;) {
      const received = this.#link.receive(this.#in);
      if (received === undefined) return out;
      const reply = readProbeReply(this.#in, 0, received.length, this.#options.identifier);
      if (reply === undefined) continue;
      const pending = this.#pending.get(reply.sequence);
      if (pending === undefined) continue; // late, or a duplicate
      this.#pending.delete(reply.sequence);
      const rttMs = Math.max(0, received.timeMs - pending.sentMs);
      if (rttMs > this.#options.timeoutMs) {
        out.push({ relay: pending.relay, sequence: reply.sequence, answered: false });
      } else {
        out.push({ relay: pending.relay, sequence: reply.sequence, answered: true, rttMs });
      }
    }
  }

  /**
   * Returns the probes whose time is up as lost, and forgets them.
   *
   * @param nowMs the current time (wall clock)
   */
  expire(nowMs: number = wallClockMs()): ProbeOutcome[] {
    const out: ProbeOutcome[] = [];
    for (const [sequence, pending] of this.#pending) {
      if (nowMs - pending.sentMs <= this.#options.timeoutMs) continue;
      this.#pending.delete(sequence);
      out.push({ relay: pending.relay, sequence, answered: false });
    }
    return out;
  }

  /**
   * Forgets the probes of relays no longer listed (after a reload): they count neither way.
   *
   * @param relays the relays still probed
   */
  forgetOthers(relays: readonly string[]): void {
    for (const [sequence, pending] of this.#pending) {
      if (!relays.includes(pending.relay)) this.#pending.delete(sequence);
    }
  }
}
