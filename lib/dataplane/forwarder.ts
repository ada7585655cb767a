/**
 * The forwarder's lifecycle: start, reload, stop, counters. It is handed its devices, opened
 * and set up (TUN offloads, socket buffers: `lib/netif`), and never opens one itself
 * (docs/architecture.md). Two engines, whose paths `buildPaths` builds alike:
 * - threaded: devices given as fds run in one Worker per direction and queue, each a
 *   `DirectionLoop` on synchronous FFI calls (`worker.ts`);
 * - in-process: any {@link TunDevice}/{@link Link} (the in-memory fakes) pumped on the main
 *   thread's event loop, so the data plane is tested without root.
 *
 * @module
 */
import { compilePolicy, type PolicySettings } from "../filter/mod.ts";
import { TUN_F_CSUM, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 } from "../../ffi/constants.ts";
import { Counters, type CounterSnapshot, type QueueCounters } from "./counters.ts";
import { buildPaths, type PathsOptions, reloadPaths } from "./paths.ts";
import type {
  DataplaneTuning,
  Direction,
  IcmpSource,
  Link,
  TunDevice,
  TunFeatures,
  WorkerEvent,
  WorkerMessage,
} from "./types.ts";
import { type DropSample, dropSampler } from "./sample.ts";
import { WakeFd } from "./wake.ts";

/** Options common to both engines. */
export interface ForwarderOptions {
  /** The policy settings (validated by compiling them before anything starts). */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from (the stf interface's address). */
  readonly icmpSource: string;
  /** Called with sampled drops (rate-limited), for debug logs; none when absent. */
  readonly onDrop?: (sample: DropSample) => void;
  /**
   * Called with packets the kernel refused (I/O errors) in `direction`: by each Worker at its
   * next event-loop turn after them, about once a second while they go on; never when there
   * are none.
   */
  readonly onIoErrors?: (direction: Direction, count: number) => void;
  /** Called when a path fails for good (the TUN deleted, a socket error). */
  readonly onFatal?: (message: string) => void;
  /** Data-plane tuning (threaded engine); defaults when absent. */
  readonly tuning?: Partial<DataplaneTuning>;
}

/** The tuning used when none is given. */
export const DEFAULT_TUNING: DataplaneTuning = Object.freeze({
  batch: 64,
  offload: true,
  queues: 1,
});

/** The file descriptors of one queue: a Worker pair runs on them. */
export interface QueueFds {
  /** The TUN fd (one queue of an `IFF_MULTI_QUEUE` device, or the only one). */
  readonly tunFd: number;
  /** The protocol-41 raw socket fd (receives; sends too when there is no `sendFd`). */
  readonly linkFd: number;
  /**
   * A send-only raw socket (`IPPROTO_RAW` with `IP_RECVERR`), so that a full transmit queue
   * is reported (ENOBUFS) and counted, without ICMP errors queued on the receiving socket.
   */
  readonly sendFd?: number;
  /** An ICMPv4 raw socket fd for path MTU, or -1. */
  readonly icmpFd: number;
}

/** Devices as file descriptors, for the threaded engine. */
export interface FdDevices extends QueueFds {
  /** The interface name. */
  readonly tunName: string;
  /** What the TUN device was opened with (`openDataplaneTun`); plain packets when absent. */
  readonly tunFeatures?: TunFeatures;
  /**
   * The fds of further queues (`--queues`): one more Worker pair each. The TUN fds are
   * queues of one `IFF_MULTI_QUEUE` device (the kernel spreads flows over them); each
   * protocol-41 socket must carry a filter that accepts its share of the packets only
   * (`attachIngressFilter`), since every raw socket receives every packet.
   */
  readonly moreQueues?: readonly QueueFds[];
}

/** Devices as objects, for the in-process engine. */
export interface ObjectDevices {
  /** The TUN device. */
  readonly tun: TunDevice;
  /** The protocol-41 link. */
  readonly link: Link;
  /** ICMPv4 errors, if any. */
  readonly icmp?: IcmpSource;
}

/** A running forwarder. */
export interface Forwarder {
  /**
   * Applies new settings to both directions (and a new source for our ICMPv6 errors, when the
   * interface address changed); throws and keeps the old ones when invalid.
   */
  reload(settings: PolicySettings, icmpSource?: string): void;
  /** Stops both directions; resolves when they have stopped. */
  stop(): Promise<void>;
  /** The counters now. */
  counters(): CounterSnapshot;
  /** Packets forwarded per queue (one entry without `--queues`). */
  queueCounters(): QueueCounters[];
  /** The settings in force. */
  readonly settings: PolicySettings;
}

/**
 * Starts a forwarder on file descriptors, one Worker per direction. Resolves when both are
 * ready.
 *
 * @param devices the fds (non-blocking)
 * @param options settings and listeners
 * @throws {PolicyError} when the settings do not compile
 */
export async function startThreadedForwarder(
  devices: FdDevices,
  options: ForwarderOptions,
): Promise<Forwarder> {
  compilePolicy(options.settings); // Validate here: a bad policy never reaches a Worker.
  const tuning: DataplaneTuning = { ...DEFAULT_TUNING, ...options.tuning };
  const tunFeatures = devices.tunFeatures ?? { vnetHeader: false, offloads: 0 };
  const queues: QueueFds[] = [devices, ...(devices.moreQueues ?? [])];
  const counters = new Counters(undefined, { queues: queues.length });
  // One word every Worker reads between waits: 1 = stop.
  const stopFlag = new SharedArrayBuffer(8);
  const stopWord = new Int32Array(stopFlag);
  let settings = options.settings;
  let icmpSource = options.icmpSource;
  /** Each Worker with its doorbell, by direction and queue. */
  const workers = new Map<string, { worker: Worker; wake: WakeFd }>();
  const stopped = new Map<string, () => void>();
  const ready: Promise<void>[] = [];
  // Every message to a Worker rings its doorbell, so it turns its event loop to take it.
  const post = (to: { worker: Worker; wake: WakeFd }, message: WorkerMessage) => {
    to.worker.postMessage(message);
    to.wake.ring();
  };
  // Opened before any Worker starts, so that a failure leaves nothing running.
  const doorbells: WakeFd[] = [];
  try {
    for (let i = 0; i < 2 * queues.length; i++) doorbells.push(WakeFd.open());
  } catch (e) {
    for (const wake of doorbells) wake.close();
    throw e;
  }
  queues.forEach((fds, queue) => {
    for (const direction of ["egress", "ingress"] as const) {
      const key = `${direction}/${queue}`;
      const wake = doorbells[2 * queue + (direction === "egress" ? 0 : 1)];
      const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      const entry = { worker, wake };
      workers.set(key, entry);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (event: MessageEvent<WorkerEvent>) => {
            const m = event.data;
            if (m.kind === "ready") resolve();
            else if (m.kind === "drop") options.onDrop?.(m);
            else if (m.kind === "io-errors") options.onIoErrors?.(m.direction, m.count);
            else if (m.kind === "stopped") stopped.get(key)?.();
            else if (m.kind === "error") {
              reject(new Error(m.message));
              options.onFatal?.(m.message);
            }
          };
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(event.message));
            options.onFatal?.(event.message);
          };
        }),
      );
      post(entry, {
        kind: "start",
        direction,
        queue,
        tunFd: fds.tunFd,
        tunName: devices.tunName,
        linkFd: fds.linkFd,
        sendFd: fds.sendFd,
        icmpFd: direction === "egress" ? fds.icmpFd : -1,
        wakeFd: wake.fd,
        settings,
        icmpSource: options.icmpSource,
        counters: counters.buffer,
        stopFlag,
        sampleDrops: options.onDrop !== undefined,
        tuning,
        tunFeatures,
      });
    }
  });
  const stop = async () => {
    Atomics.store(stopWord, 0, 1);
    const done = [...workers.keys()].map((key) =>
      new Promise<void>((resolve) => {
        stopped.set(key, resolve);
        // A Worker stuck in a call still ends: terminate after a bound.
        setTimeout(resolve, 500);
      })
    );
    for (const entry of workers.values()) post(entry, { kind: "stop" });
    await Promise.all(done);
    for (const { worker, wake } of workers.values()) {
      worker.terminate();
      wake.close();
    }
  };
  try {
    await Promise.all(ready);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    get settings() {
      return settings;
    },
    reload(next: PolicySettings, source: string = icmpSource) {
      compilePolicy(next);
      settings = next;
      icmpSource = source;
      for (const entry of workers.values()) {
        post(entry, {
          kind: "reload",
          settings: next,
          icmpSource,
          sampleDrops: options.onDrop !== undefined,
        });
      }
    },
    stop,
    counters: () => counters.snapshot(),
    queueCounters: () => counters.perQueue(),
  };
}

/** The offloads a fake TUN device with a `virtio_net_hdr` accepts (as Linux 6.2+ does). */
const FAKE_TUN_OFFLOADS = TUN_F_CSUM | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;

/** A forwarder on the main thread, with a method to pump synchronously (for tests). */
export interface InProcessForwarder extends Forwarder {
  /** Handles everything waiting in the devices now; returns the packets handled. */
  pumpNow(): number;
}

/** Options of {@link startInProcessForwarder}. */
export interface InProcessOptions extends ForwarderOptions {
  /** Pump only through `pumpNow` (no timer). */
  readonly manual?: boolean;
  /**
   * The fake TUN carries a `virtio_net_hdr` before each packet, as a TUN opened with
   * `IFF_VNET_HDR` does (default false).
   */
  readonly vnetHeader?: boolean;
}

/**
 * Starts a forwarder on device objects, pumped on the main thread every millisecond (or only
 * by `pumpNow` with `manual`).
 *
 * @param devices the TUN, the link, optionally an ICMPv4 source
 * @param options settings and listeners; `manual` disables the timer
 * @throws {PolicyError} when the settings do not compile
 */
export function startInProcessForwarder(
  devices: ObjectDevices,
  options: InProcessOptions,
): InProcessForwarder {
  const counters = new Counters();
  const tuning: DataplaneTuning = { ...DEFAULT_TUNING, ...options.tuning };
  const vnetHeader = options.vnetHeader ?? false;
  const { onDrop } = options;
  let icmpSource = options.icmpSource;
  const setUp = (settings: PolicySettings): PathsOptions => ({
    settings,
    icmpSource,
    counters,
    onDrop: onDrop === undefined ? undefined : (direction) => dropSampler(direction, onDrop),
    tuning,
    // A fake TUN with a virtio_net_hdr takes what a kernel with USO (Linux 6.2+) takes.
    tunFeatures: { vnetHeader, offloads: vnetHeader && tuning.offload ? FAKE_TUN_OFFLOADS : 0 },
  });
  const paths = buildPaths(devices, setUp(options.settings));
  const egress = paths.egress!;
  const ingress = paths.ingress!;
  let settings = options.settings;
  const told = { egress: 0, ingress: 0 };
  const tellIoErrors = () => {
    for (const direction of ["egress", "ingress"] as const) {
      const errors = counters.queueIoErrors(direction);
      if (errors !== told[direction]) options.onIoErrors?.(direction, errors - told[direction]);
      told[direction] = errors;
    }
  };
  const pumpNow = () => {
    let total = 0;
    for (;;) {
      const n = egress.pump(256) + ingress.pump(256) +
        (devices.icmp ? egress.pumpIcmp(devices.icmp, 256) : 0);
      total += n;
      if (n === 0) {
        tellIoErrors();
        return total;
      }
    }
  };
  const timer = options.manual ? undefined : setInterval(pumpNow, 1);
  return {
    get settings() {
      return settings;
    },
    reload(next: PolicySettings, source?: string) {
      const before = icmpSource;
      if (source !== undefined) icmpSource = source;
      try {
        reloadPaths(paths, setUp(next)); // throws before either path changes
      } catch (e) {
        icmpSource = before;
        throw e;
      }
      settings = next;
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      return Promise.resolve();
    },
    counters: () => counters.snapshot(),
    queueCounters: () => counters.perQueue(),
    pumpNow,
  };
}
