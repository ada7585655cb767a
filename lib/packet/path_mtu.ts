/**
 * A bounded table of IPv4 path MTUs per tunnel peer (RFC 4213 §3.4, RFC 1191). Pure: time is a
 * parameter. Open addressing over typed arrays, so lookups allocate nothing and cost O(1);
 * inserting into a full table evicts the oldest entry (a scan, but inserts are rare: one per
 * ICMPv4 "fragmentation needed").
 *
 * @module
 */

import { IPV6_MINIMUM_MTU } from "./icmpv6.ts";

/** The smallest tunnel MTU: the IPv6 minimum (RFC 4213 §3.2). */
export const MIN_TUNNEL_MTU = IPV6_MINIMUM_MTU;
/** The largest tunnel MTU: an IPv4 MTU of 1500 less the 20-byte outer header (RFC 4213 §3.2). */
export const MAX_TUNNEL_MTU = 1480;

/** Options of {@link PathMtuTable}. */
export interface PathMtuTableOptions {
  /** The most entries kept (default 1024). */
  readonly maxEntries?: number;
  /** How long an entry lives, in the unit of `now` (default 600 000: 10 minutes in ms, RFC 1191 §6.3). */
  readonly lifetime?: number;
}

/**
 * Path MTUs towards IPv4 peers, learnt from ICMPv4 "fragmentation needed". Entries expire after
 * `lifetime`; when full, the oldest entry is evicted. A report never raises an unexpired
 * entry (RFC 1191 §6.3: increases are found by expiry).
 */
export class PathMtuTable {
  readonly #capacity: number;
  readonly #mask: number;
  readonly #maxEntries: number;
  readonly #lifetime: number;
  readonly #keys: Uint32Array;
  readonly #mtus: Uint16Array;
  readonly #times: Float64Array;
  #size = 0;

  /**
   * Creates an empty table.
   *
   * @param options size and lifetime
   * @throws {RangeError} when an option is out of range
   */
  constructor(options: PathMtuTableOptions = {}) {
    const maxEntries = options.maxEntries ?? 1024;
    const lifetime = options.lifetime ?? 600_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 1 << 20) {
      throw new RangeError(`Cannot use ${maxEntries} path MTU entries: expected 1..1048576`);
    }
    if (!(lifetime > 0)) {
      throw new RangeError(`Cannot use path MTU lifetime ${lifetime}: expected more than 0`);
    }
    let capacity = 2;
    while (capacity < maxEntries * 2) capacity *= 2;
    this.#capacity = capacity;
    this.#mask = capacity - 1;
    this.#maxEntries = maxEntries;
    this.#lifetime = lifetime;
    this.#keys = new Uint32Array(capacity);
    this.#mtus = new Uint16Array(capacity); // 0 marks an empty slot
    this.#times = new Float64Array(capacity);
  }

  /** How many entries the table holds (expired ones included until they are touched). */
  get size(): number {
    return this.#size;
  }

  /**
   * Records the path MTU towards an IPv4 peer.
   *
   * @param ipv4 the peer
   * @param mtu the IPv4 path MTU (68..65535)
   * @param now the current time
   */
  update(ipv4: number, mtu: number, now: number): void {
    if (!(mtu >= 68 && mtu <= 0xffff)) return;
    const key = ipv4 >>> 0;
    let slot = this.#find(key);
    if (slot >= 0) {
      const expired = now - this.#times[slot] >= this.#lifetime;
      if (!expired && mtu >= this.#mtus[slot]) return;
      this.#mtus[slot] = mtu;
      this.#times[slot] = now;
      return;
    }
    if (this.#size >= this.#maxEntries) this.#evictOldest(now);
    slot = this.#home(key);
    while (this.#mtus[slot] !== 0) slot = (slot + 1) & this.#mask;
    this.#keys[slot] = key;
    this.#mtus[slot] = mtu;
    this.#times[slot] = now;
    this.#size++;
  }

  /**
   * Returns the IPv4 path MTU towards a peer, or 0 when none is known or it expired.
   *
   * @param ipv4 the peer
   * @param now the current time
   */
  get(ipv4: number, now: number): number {
    if (this.#size === 0) return 0;
    const slot = this.#find(ipv4 >>> 0);
    if (slot < 0) return 0;
    if (now - this.#times[slot] >= this.#lifetime) {
      this.#remove(slot);
      return 0;
    }
    return this.#mtus[slot];
  }

  /**
   * Returns the inner (IPv6) MTU towards a peer (RFC 4213 §3.4): `linkMtu` when no path MTU is
   * known, else the path MTU − 20, never above `linkMtu` nor below 1280.
   *
   * @param ipv4 the peer
   * @param now the current time
   * @param linkMtu the tunnel's configured MTU
   */
  innerMtu(ipv4: number, now: number, linkMtu: number): number {
    const path = this.get(ipv4, now);
    if (path === 0) return linkMtu;
    return Math.max(IPV6_MINIMUM_MTU, Math.min(linkMtu, path - 20));
  }

  /**
   * Forgets a peer.
   *
   * @param ipv4 the peer
   */
  delete(ipv4: number): boolean {
    const slot = this.#find(ipv4 >>> 0);
    if (slot < 0) return false;
    this.#remove(slot);
    return true;
  }

  /** Forgets every peer. */
  clear(): void {
    this.#mtus.fill(0);
    this.#size = 0;
  }

  #home(key: number): number {
    // Fibonacci hashing spreads neighbouring addresses.
    return (Math.imul(key, 0x9e3779b1) >>> 0) & this.#mask;
  }

  #find(key: number): number {
    let slot = this.#home(key);
    while (this.#mtus[slot] !== 0) {
      if (this.#keys[slot] === key) return slot;
      slot = (slot + 1) & this.#mask;
    }
    return -1;
  }

  #evictOldest(now: number): void {
    let oldest = -1;
    for (let i = 0; i < this.#capacity; i++) {
      if (this.#mtus[i] === 0) continue;
      if (now - this.#times[i] >= this.#lifetime) {
        this.#remove(i);
        return;
      }
      if (oldest < 0 || this.#times[i] < this.#times[oldest]) oldest = i;
    }
    if (oldest >= 0) this.#remove(oldest);
  }

  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  #remove(slot: number): void {
    const mask = this.#mask;
    let hole = slot;
    let next = (hole + 1) & mask;
    while (this.#mtus[next] !== 0) {
      const home = this.#home(this.#keys[next]);
      // Move `next` into the hole when its home is not within (hole, next].
      const distanceNext = (next - home) & mask;
      const distanceHole = (hole - home) & mask;
      if (distanceHole < distanceNext) {
        this.#keys[hole] = this.#keys[next];
        this.#mtus[hole] = this.#mtus[next];
        this.#times[hole] = this.#times[next];
        hole = next;
      }
      next = (next + 1) & mask;
    }
    this.#mtus[hole] = 0;
    this.#size--;
  }
}
