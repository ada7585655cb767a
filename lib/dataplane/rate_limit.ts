/**
 * A token bucket refilled continuously: at most `rate` events per second, bursts of `rate`.
 * Allocation-free, for the per-packet path (ICMPv6 errors, debug logs of drops).
 *
 * @module
 */

/** A token bucket of `rate` tokens per second. */
export class RateLimiter {
  readonly #rate: number;
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  /**
   * Creates a full bucket.
   *
   * @param rate tokens per second (and the burst size)
   * @param now the clock in milliseconds (for tests)
   */
  constructor(rate: number, now: () => number = () => performance.now()) {
    this.#rate = rate;
    this.#tokens = rate;
    this.#now = now;
    this.#last = now();
  }

  /** Takes a token; returns false when none is left. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
