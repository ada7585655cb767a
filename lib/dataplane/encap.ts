/**
 * Egress: IPv6 packets read from the TUN, filtered, encapsulated in IPv4 protocol 41 and sent.
 *
 * Stages, in the order of the functions below:
 * 1. read — one packet from the TUN into the buffer at offset {@link HEADROOM} (20), so the
 *    outer header can be written in front of it without copying.
 * 2. filter — `policy.egress`: a reason code (FILTER_RULES.md, OUT) and the outer destination:
 *    the IPv4 embedded in a 6to4/6rd destination, or the relay.
 * 3. path MTU — a path MTU learnt from ICMPv4 for that destination (RFC 4213 §3.4) may make the
 *    packet `too-big` although it fits the tunnel MTU.
 * 4. encapsulate — the outer IPv4 header written into the headroom (RFC 4213 §3.5, RFC 6040).
 * 5. send — the whole IPv4 packet on the protocol-41 link (IP_HDRINCL).
 * 6. answer — `too-big` gets an ICMPv6 Packet Too Big, `no-relay` an ICMPv6 unreachable,
 *    written back into the TUN, rate-limited (RFC 4443 §2.4 f).
 * 7. count — one counter per reason; forwarded packets and bytes.
 *
 * Everything is allocated in the constructor; a packet allocates nothing.
 *
 * @module
 */
import { parseIpv6 } from "../addr/mod.ts";
import {
  compilePolicy,
  EgressResult,
  type Policy,
  type PolicySettings,
  Reason,
} from "../filter/mod.ts";
import {
  EncapsulationState,
  FragmentationNeeded,
  parseFragmentationNeeded,
  PathMtuTable,
  UNREACHABLE_NO_ROUTE,
  writeDestinationUnreachable,
  writePacketTooBig,
} from "../packet/mod.ts";
import {
  Counters,
  SLOT_BYTES,
  SLOT_ICMP_SENT,
  SLOT_IO_ERRORS,
  SLOT_PMTU_UPDATES,
} from "./counters.ts";
import { RateLimiter } from "./rate_limit.ts";
import type { IcmpSource, Link, TunDevice } from "./types.ts";

/** Bytes kept free in front of each IPv6 packet for the outer IPv4 header. */
export const HEADROOM = 20;
/** The largest packet handled (an IPv4 datagram). */
export const MAX_PACKET = 65535;

/** Options of {@link EgressPath} besides the policy settings. */
export interface EgressPathOptions {
  /** The source of our ICMPv6 errors: the stf interface's address. */
  readonly icmpSource: string;
  /** ICMPv6 errors per second at most (RFC 4443 §2.4 f); default 100. */
  readonly icmpRate?: number;
  /** Called (rate-limited) with each drop, for debug logs. */
  readonly onDrop?: DropListener;
}

/** Receives a sample of drops: direction, reason code, and the packet's bytes. */
export type DropListener = (
  reason: number,
  buf: Uint8Array,
  offset: number,
  length: number,
) => void;

/** The egress path: TUN → filter → encapsulate → link. */
export class EgressPath {
  readonly #tun: TunDevice;
  readonly #link: Link;
  #policy: Policy;
  #options: EgressPathOptions;
  readonly #values: Float64Array;
  readonly #buf = new Uint8Array(HEADROOM + MAX_PACKET);
  readonly #icmpBuf = new Uint8Array(1280);
  readonly #icmpIn = new Uint8Array(MAX_PACKET);
  readonly #result = new EgressResult();
  // Kept across reloads: the IPv4 ID sequence and what ICMPv4 taught us.
  readonly #state = new EncapsulationState(Math.floor(Math.random() * 0x10000));
  readonly #pathMtu = new PathMtuTable({ maxEntries: 4096 });
  readonly #tooBig = { mtu: 1280, source: new Uint8Array(16) };
  readonly #unreachable = { code: UNREACHABLE_NO_ROUTE, source: new Uint8Array(16) };
  readonly #fragNeeded = new FragmentationNeeded();
  readonly #icmpLimit: RateLimiter;
  readonly #dropLimit = new RateLimiter(10);

  /**
   * Creates the path and compiles its policy; all buffers are allocated here.
   *
   * @param devices the TUN and the link
   * @param settings the policy settings
   * @param counters where to count (the egress half is used)
   * @param options the source of ICMPv6 errors, the drop sampler
   * @throws {PolicyError} when the settings do not compile
   */
  constructor(
    devices: { tun: TunDevice; link: Link },
    settings: PolicySettings,
    counters: Counters,
    options: EgressPathOptions,
  ) {
    this.#tun = devices.tun;
    this.#link = devices.link;
    this.#values = counters.values;
    this.#icmpLimit = new RateLimiter(options.icmpRate ?? 100);
    this.#policy = this.#compile(settings);
    this.#options = options;
    this.#configure(options);
  }

  /**
   * Replaces the policy (SIGHUP); the devices, the ID sequence and path MTUs stay.
   *
   * @throws {PolicyError} when the settings do not compile (the old policy stays)
   */
  reload(settings: PolicySettings, options: EgressPathOptions = this.#options): void {
    this.#policy = this.#compile(settings);
    this.#options = options;
    this.#configure(options);
  }

  #compile(settings: PolicySettings): Policy {
    return compilePolicy(settings, { pathMtu: this.#pathMtu, encapsulation: this.#state });
  }

  #configure(options: EgressPathOptions): void {
    const source = parseIpv6(options.icmpSource);
    this.#tooBig.source.set(source);
    this.#unreachable.source.set(source);
  }

  /** The compiled policy in force. */
  get policy(): Policy {
    return this.#policy;
  }

  /**
   * Reads and handles up to `budget` packets from the TUN; returns how many were read
   * (fewer means the TUN is drained).
   *
   * @param budget the most packets to handle now
   */
  pump(budget: number): number {
    const buf = this.#buf;
    let handled = 0;
    while (handled < budget) {
      const n = this.#tun.read(buf, HEADROOM, MAX_PACKET);
      if (n <= 0) break;
      handled++;
      this.handle(n);
    }
    return handled;
  }

  /**
   * Handles one packet already in the buffer at {@link HEADROOM} (stages 2 to 7).
   *
   * @param length the bytes read from the TUN
   */
  handle(length: number): void {
    const buf = this.#buf;
    const result = this.#result;
    const values = this.#values;
    result.now = performance.now();
    const reason = this.#policy.egress(buf, HEADROOM, length, result);
    if (reason !== Reason.Forwarded) {
      values[reason]++;
      if (reason === Reason.TooBig) this.#answerTooBig(length, result.mtu);
      else if (reason === Reason.NoRelay) this.#answerUnreachable(length);
      if (this.#options.onDrop && this.#dropLimit.take()) {
        this.#options.onDrop(reason, buf, HEADROOM, length);
      }
      return;
    }
    const total = this.#policy.encapsulate(buf, HEADROOM, result);
    const sent = this.#link.send(buf, 0, total, result.outerDst);
    if (sent < 0) {
      values[SLOT_IO_ERRORS]++;
      return;
    }
    values[Reason.Forwarded]++;
    values[SLOT_BYTES] += result.innerLength;
  }

  #answerTooBig(length: number, mtu: number): void {
    if (!this.#icmpLimit.take()) return;
    this.#tooBig.mtu = mtu;
    const n = writePacketTooBig(this.#icmpBuf, 0, this.#buf, HEADROOM, length, this.#tooBig);
    if (n > 0 && this.#tun.write(this.#icmpBuf, 0, n) > 0) this.#values[SLOT_ICMP_SENT]++;
  }

  #answerUnreachable(length: number): void {
    if (!this.#icmpLimit.take()) return;
    const n = writeDestinationUnreachable(
      this.#icmpBuf,
      0,
      this.#buf,
      HEADROOM,
      length,
      this.#unreachable,
    );
    if (n > 0 && this.#tun.write(this.#icmpBuf, 0, n) > 0) this.#values[SLOT_ICMP_SENT]++;
  }

  /**
   * Reads ICMPv4 errors and remembers the path MTUs of "fragmentation needed" about our
   * packets (RFC 4213 §3.4); returns how many messages were read.
   *
   * @param icmp the ICMPv4 socket
   * @param budget the most messages to read now
   */
  pumpIcmp(icmp: IcmpSource, budget: number): number {
    let handled = 0;
    while (handled < budget) {
      const n = icmp.recv(this.#icmpIn, 0, MAX_PACKET);
      if (n <= 0) break;
      handled++;
      const f = this.#fragNeeded;
      if (parseFragmentationNeeded(this.#icmpIn, 0, n, this.#policy.rules.own4, f)) {
        this.#pathMtu.update(f.peer, f.mtu, performance.now());
        this.#values[SLOT_PMTU_UPDATES]++;
      }
    }
    return handled;
  }

  /** The number of peers with a remembered path MTU. */
  get pathMtuEntries(): number {
    return this.#pathMtu.size;
  }
}
