/**
 * One data-plane direction run on a poll loop: what a Worker does, over any devices and any
 * {@link Poller}, so that stop, reload and failures are tested without root (`FakePoller`,
 * `MemoryTun`, `MemoryLink`); `worker.ts` only wires the fds to it.
 *
 * The loop: wait in the poller, then pump the paths whose fds are readable. Messages (`reload`,
 * `stop`) are delivered by the thread's event loop, which the loop turns only when the parent
 * has rung the doorbell (one ring per message posted) and more rings than deliveries were
 * counted, and about once a second for V8's own tasks while packets come; a turn costs ~2 ms in
 * which nothing is polled (`wake.ts`). A loop that has not woken since its last turn waits
 * without a timeout: an idle Worker uses no CPU at all. The shared stop flag ends the loop as soon as the doorbell wakes the
 * wait. Error events on any fd (a TUN deleted under us, a socket error) or a failing wait end
 * it with an `error` event rather than spinning.
 *
 * @module
 */
import { Counters } from "./counters.ts";
import { buildPaths, type Paths, type PathsOptions, reloadPaths } from "./paths.ts";
import { dropSampler } from "./sample.ts";
import { type Optimizer, requestTurbofan, type WakeUpFunction } from "./tier.ts";
import type {
  IcmpSource,
  Link,
  Poller,
  TunDevice,
  WorkerEvent,
  WorkerReload,
  WorkerStart,
  WorkerStop,
} from "./types.ts";

/**
 * How often the loop turns its event loop without a message (V8's own tasks run there) while
 * it has work, and its longest wait then. It used to be 50 ms, which put a turn's delay on ~4 %
 * of the packets through an idle hop. A Worker that has woken for nothing since its last turn
 * waits without a timeout (see {@link DirectionLoop.run}).
 */
export const YIELD_INTERVAL_MS = 1000;
/**
 * Wake-ups between two reads of the clock while the waits do not time out. Packets just under
 * {@link YIELD_INTERVAL_MS} apart delay a turn by up to this many intervals (16 s); a turn only
 * runs V8's own tasks then, as messages ring the doorbell.
 */
const CLOCK_EVERY = 16;
/**
 * The event-loop turns with packets behind them (about one a second while they come) at which
 * the loop asks V8 for TurboFan code for its wake-up path (`tier.ts`): the 2nd, 4th, 8th … up to
 * the {@link TIER_UP_EVERY}th, then every {@link TIER_UP_EVERY}th. The first request has a
 * second of traffic's type feedback behind it; the later ones re-optimise, with the feedback of
 * the traffic of the moment, what V8 has deoptimised since (traffic took a branch the code had no
 * feedback for). They are spaced out because each costs a few hundred microseconds with the
 * caches cold, which at one packet in 30 ms cost as much as the request saved (`bench/lone.ts`).
 */
export const TIER_UP_FIRST = 2;
/** The longest interval between two requests for TurboFan, in turns with packets behind them. */
export const TIER_UP_EVERY = 64;

/** Whether the `n`-th busy turn asks for TurboFan ({@link TIER_UP_FIRST}). */
export function tierUpAt(n: number): boolean {
  return n >= TIER_UP_FIRST && (n < TIER_UP_EVERY ? (n & (n - 1)) === 0 : n % TIER_UP_EVERY === 0);
}

/** Packets handled per pump call at least (the batch size when larger). */
const MIN_BUDGET = 64;

/** The devices of a direction, as objects (`FdTunDevice` … in a Worker, fakes in tests). */
export interface DirectionDevices {
  /** The TUN device. */
  readonly tun: TunDevice;
  /** The link this direction uses (egress: the sending socket; ingress: the receiving one). */
  readonly link: Link;
  /** ICMPv4 errors (egress only): poller entry 1 when present. */
  readonly icmp?: IcmpSource;
  /** Entry 0: the data fd (egress: the TUN; ingress: the link); then the ICMPv4 socket; the doorbell last. */
  readonly poller: Poller;
}

/** Options of {@link DirectionLoop} that tests change. */
export interface DirectionLoopOptions {
  /** The longest wait and the interval of event-loop turns (default {@link YIELD_INTERVAL_MS}). */
  readonly yieldInterval?: number;
  /** Turns the event loop, where messages are delivered (default a `setTimeout(0)`). */
  readonly turn?: () => Promise<void>;
  /** The devices' functions a wake-up runs (`linuxWakeUpFunctions`), for {@link optimize}. */
  readonly wakeUpFunctions?: readonly WakeUpFunction[];
  /** Asks V8 for TurboFan code for the wake-up path (default {@link requestTurbofan}). */
  readonly optimize?: Optimizer;
}

/** One direction of one queue: its path, its poll loop, its message handling. */
export class DirectionLoop {
  readonly #start: WorkerStart;
  readonly #devices: DirectionDevices;
  readonly #emit: (event: WorkerEvent) => void;
  readonly #paths: Paths;
  readonly #counters: Counters;
  readonly #stopFlag: Int32Array;
  readonly #yieldInterval: number;
  readonly #turn: () => Promise<void>;
  readonly #wakeUpFunctions: readonly WakeUpFunction[];
  readonly #optimize: Optimizer;
  /** The functions a wake-up runs, once listed (`#tierUp`). */
  #hot: WakeUpFunction[] | undefined;
  /** Messages delivered so far, the start included (the doorbell counts those posted). */
  #delivered = 1;
  /** Messages posted, as far as the doorbell has told. */
  #posted = 0;
  #stopRequested = false;
  /**
   * Whether the loop has woken since its last turn. A Worker with nothing to do neither turns
   * nor wakes: it waits without a timeout until a packet or a message. The turn it skips only
   * ran V8's own tasks, and on these VMs each wake-up of an idle thread costs ~200 µs of CPU
   * (docs/performance.md).
   */
  #busy = false;
  /** When the event loop last turned (`performance.now()`). */
  #lastTurn = 0;
  /** An fd reported error events: the loop ends. */
  #broken = false;
  /** This direction's I/O errors when the parent was last told of them. */
  #ioErrorsTold = 0;

  /**
   * Builds the direction's path from the start message (`buildPaths`).
   *
   * @param start the start message (settings, tuning, shared counters and stop flag)
   * @param devices the devices and the poller over them
   * @param emit receives `ready`, `drop` and `error`
   * @param options the turn and its interval
   * @throws {PolicyError} when the settings do not compile
   */
  constructor(
    start: WorkerStart,
    devices: DirectionDevices,
    emit: (event: WorkerEvent) => void,
    options: DirectionLoopOptions = {},
  ) {
    this.#start = start;
    this.#devices = devices;
    this.#emit = emit;
    this.#counters = new Counters(start.counters, { queue: start.queue });
    this.#stopFlag = new Int32Array(start.stopFlag);
    this.#yieldInterval = options.yieldInterval ?? YIELD_INTERVAL_MS;
    this.#turn = options.turn ?? (() => new Promise((resolve) => setTimeout(resolve, 0)));
    this.#wakeUpFunctions = options.wakeUpFunctions ?? [];
    this.#optimize = options.optimize ?? requestTurbofan;
    this.#paths = buildPaths(devices, this.#options(start), [start.direction]);
  }

  #options(m: WorkerStart | WorkerReload): PathsOptions {
    const emit = this.#emit;
    return {
      settings: m.settings,
      icmpSource: m.icmpSource,
      counters: this.#counters,
      onDrop: m.sampleDrops ? (direction) => dropSampler(direction, emit) : undefined,
      tuning: this.#start.tuning,
      tunFeatures: this.#start.tunFeatures,
    };
  }

  /**
   * Takes a message the event loop delivered after the start.
   *
   * @throws {PolicyError} when a reload's settings do not compile (the old ones stay)
   */
  receive(message: WorkerReload | WorkerStop): void {
    this.#delivered++;
    if (message.kind === "reload") reloadPaths(this.#paths, this.#options(message));
    else if (message.kind === "stop") this.#stopRequested = true;
  }

  /**
   * Runs the loop: `ready`, then packets until stopped or failed (resolves then; the Worker
   * says `stopped` once it has released its binding).
   */
  async run(): Promise<void> {
    const pump = this.#pump();
    this.#emit({ kind: "ready", direction: this.#start.direction });
    this.#lastTurn = performance.now();
    /** Event-loop turns taken with packets behind them. */
    let busyTurns = 0;
    while (this.#spin(pump)) {
      this.#lastTurn = performance.now();
      if (this.#busy && tierUpAt(++busyTurns)) this.#tierUp(pump);
      this.#busy = false;
      this.#tellIoErrors();
      await this.#turn();
    }
    this.#tellIoErrors();
  }

  /**
   * Wakes and pumps until the event loop is due a turn (true) or the loop ends (false: stopped,
   * an fd failed, the wait failed). It is called once per turn, not entered once for the
   * Worker's life, so that the TurboFan code asked for it (`#tierUp`) runs from its next call;
   * a loop entered once is left to V8's on-stack replacement, which at low rates leaves it in
   * the baseline tier, each private field and `Atomics.load` a call into V8's builtins
   * (docs/performance.md).
   */
  #spin(pump: () => void): boolean {
    let wakes = 0;
    if (this.#stopped()) return false;
    while (!this.#stopRequested) {
      // A message rung but not yet delivered: only look, so the event loop gets its turn soon.
      const timeout = this.#delivered < this.#posted ? 0 : this.#busy ? this.#yieldInterval : -1;
      const ready = this.#step(pump, timeout);
      if (ready < 0) {
        this.#emit({ kind: "error", message: `poll failed: errno ${-ready}` });
        return false;
      }
      if (this.#broken) return false;
      if (ready > 0) this.#busy = true;
      // Let messages in when one is waiting, and V8's own tasks about once a second while busy.
      // The clock is read after a wait that timed out and every CLOCK_EVERY wake-ups, not on
      // each: a `performance.now()` is a call into the runtime, and at low rates, with the
      // caches cold, it was one of the larger costs of a wake-up (docs/performance.md).
      if (this.#delivered < this.#posted) return !this.#stopped();
      if (ready === 0 || ++wakes >= CLOCK_EVERY) {
        wakes = 0;
        if (this.#busy && performance.now() - this.#lastTurn > this.#yieldInterval) return true;
      }
    }
    return false;
  }

  /**
   * Whether the parent raised the shared stop flag. It is read when the doorbell has rung, not
   * at every wake-up: the parent raises it before it posts `stop`, whose ring wakes the wait,
   * and at low rates each `Atomics.load` was a call into a V8 builtin that the caches had lost
   * (docs/performance.md).
   */
  #stopped(): boolean {
    return Atomics.load(this.#stopFlag, 0) !== 0;
  }

  /**
   * One wake-up: the wait, then the pump of what is readable. Returns what the wait returned
   * (0: nothing within `timeout`; negative: an errno). It is its own small function, called
   * once per wake-up, so that V8 counts its calls and can take it to TurboFan, the only tier
   * whose calls into libc are fast ones, as traffic comes (docs/performance.md).
   */
  #step(pump: () => void, timeout: number): number {
    const poller = this.#devices.poller;
    const ready = poller.wait(timeout);
    if (ready <= 0) return ready;
    if (this.#failed(poller)) {
      this.#broken = true;
      return ready;
    }
    this.#posted += poller.takeRings();
    pump();
    return ready;
  }

  /**
   * Asks V8 for TurboFan code for every function a wake-up runs: this loop's, the paths' and
   * the devices' (`tier.ts`). At ordinary loads V8's own counters leave them at Maglev, where
   * each call into libc is a slow one (docs/performance.md).
   */
  #tierUp(pump: () => void): void {
    if (this.#hot === undefined) {
      // Built once: the paths list prototype methods and module functions, which a reload
      // does not replace. A function listed twice is asked for once (`requestTurbofan`).
      const { egress, ingress } = this.#paths;
      this.#hot = [
        this.#spin,
        this.#step,
        this.#failed,
        pump,
        ...this.#wakeUpFunctions,
        ...(egress?.wakeUpFunctions() ?? []),
        ...(ingress?.wakeUpFunctions() ?? []),
      ];
    }
    this.#optimize(this.#hot);
  }

  /**
   * Tells the parent of the packets the kernel refused since the last turn. The parent logs
   * them when told, instead of waking every second to look at the counters: an idle stf's
   * main thread then sleeps until something happens (docs/performance.md).
   */
  #tellIoErrors(): void {
    const direction = this.#start.direction;
    const errors = this.#counters.queueIoErrors(direction);
    if (errors === this.#ioErrorsTold) return;
    this.#emit({ kind: "io-errors", direction, count: errors - this.#ioErrorsTold });
    this.#ioErrorsTold = errors;
  }

  /** Reports every entry with error events; true when there was one. */
  #failed(poller: Poller): boolean {
    let failed = false;
    for (let i = 0; i < poller.size; i++) {
      const events = poller.failed(i);
      if (events === 0) continue;
      failed = true;
      const { direction, tunName } = this.#start;
      this.#emit({
        kind: "error",
        message: i === 0 && direction === "egress"
          ? `The TUN device "${tunName}" is gone`
          : `A socket of the ${direction} path failed (poll events 0x${events.toString(16)})`,
      });
    }
    return failed;
  }

  /** The pump of this direction: only the entries the wait found readable. */
  #pump(): () => void {
    const { poller, icmp } = this.#devices;
    const batch = Math.max(1, Math.floor(this.#start.tuning.batch));
    const budget = Math.max(MIN_BUDGET, batch);
    const egress = this.#paths.egress;
    if (egress !== undefined) {
      return () => {
        // An ICMPv4 socket read on every wake-up would be one more syscall (EAGAIN) per
        // packet at low rates.
        if (poller.readable(0)) {
          while (egress.pump(budget) === budget) { /* drain */ }
        }
        if (icmp !== undefined && poller.readable(1)) egress.pumpIcmp(icmp, MIN_BUDGET);
      };
    }
    const ingress = this.#paths.ingress!;
    const perCall = Math.min(budget, batch);
    return () => {
      if (poller.readable(0)) {
        while (ingress.pump(budget) >= perCall) { /* drain */ }
      }
    };
  }
}
