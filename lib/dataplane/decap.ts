/**
 * Ingress: IPv4 protocol-41 packets received on the raw socket, filtered, decapsulated and
 * written into the TUN.
 *
 * Stages, in the order of the functions below:
 * 1. receive — one whole IPv4 packet (header included) from the link into the buffer.
 * 2. filter — `policy.ingress`: a reason code (FILTER_RULES.md, IN), the inner packet's offset
 *    and length, and RFC 6040 §4.2 ECN decapsulation applied in place on success.
 * 3. write — the inner IPv6 packet into the TUN, straight from the receive buffer (no copy).
 * 4. count — one counter per reason; forwarded packets and bytes. Drops are silent on the
 *    wire (RFC 4213 §3.6, RFC 3056 §9).
 *
 * Everything is allocated in the constructor; a packet allocates nothing.
 *
 * @module
 */
import {
  compilePolicy,
  IngressResult,
  type Policy,
  type PolicySettings,
  Reason,
} from "../filter/mod.ts";
import { Counters, SLOT_BYTES, SLOT_IO_ERRORS, SLOTS } from "./counters.ts";
import type { DropListener } from "./encap.ts";
import { MAX_PACKET } from "./encap.ts";
import { RateLimiter } from "./rate_limit.ts";
import type { Link, TunDevice } from "./types.ts";

/** Options of {@link IngressPath}. */
export interface IngressPathOptions {
  /** Called (rate-limited) with each drop, for debug logs. */
  readonly onDrop?: DropListener;
}

/** The ingress path: link → filter → decapsulate → TUN. */
export class IngressPath {
  readonly #tun: TunDevice;
  readonly #link: Link;
  #policy: Policy;
  #options: IngressPathOptions;
  readonly #values: Float64Array;
  readonly #buf = new Uint8Array(MAX_PACKET);
  readonly #result = new IngressResult();
  readonly #dropLimit = new RateLimiter(10);

  /**
   * Creates the path and compiles its policy; all buffers are allocated here.
   *
   * @param devices the TUN and the link
   * @param settings the policy settings
   * @param counters where to count (the ingress half is used)
   * @param options drop listener
   */
  constructor(
    devices: { tun: TunDevice; link: Link },
    settings: PolicySettings,
    counters: Counters,
    options: IngressPathOptions = {},
  ) {
    this.#tun = devices.tun;
    this.#link = devices.link;
    this.#policy = compilePolicy(settings);
    this.#options = options;
    this.#values = counters.values.subarray(SLOTS, 2 * SLOTS);
  }

  /**
   * Replaces the policy (SIGHUP); the devices stay.
   *
   * @throws {PolicyError} when the settings do not compile (the old policy stays)
   */
  reload(settings: PolicySettings, options: IngressPathOptions = this.#options): void {
    this.#policy = compilePolicy(settings);
    this.#options = options;
  }

  /**
   * Receives and handles up to `budget` packets; returns how many were received.
   *
   * @param budget the most packets to handle now
   */
  pump(budget: number): number {
    let handled = 0;
    while (handled < budget) {
      const n = this.#link.recv(this.#buf, 0, MAX_PACKET);
      if (n <= 0) break;
      handled++;
      this.handle(n);
    }
    return handled;
  }

  /**
   * Handles one packet already in the buffer at offset 0 (stages 2 to 4).
   *
   * @param length the IPv4 packet's length
   */
  handle(length: number): void {
    const result = this.#result;
    const values = this.#values;
    const reason = this.#policy.ingress(this.#buf, 0, length, result);
    if (reason !== Reason.Forwarded) {
      values[reason]++;
      if (this.#options.onDrop && this.#dropLimit.take()) {
        this.#options.onDrop(reason, this.#buf, 0, length);
      }
      return;
    }
    const written = this.#tun.write(this.#buf, result.innerOffset, result.innerLength);
    if (written < 0) {
      values[SLOT_IO_ERRORS]++;
      return;
    }
    values[Reason.Forwarded]++;
    values[SLOT_BYTES] += result.innerLength;
  }
}
