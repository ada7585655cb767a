/**
 * The forwarder's lifecycle: start, reload, stop, counters. It is handed its devices and never
 * opens one itself (DESIGN.md). Two engines:
 * - threaded: devices given as fds run in one Worker per direction, on synchronous FFI calls;
 * - in-process: any {@link TunDevice}/{@link Link} (the in-memory fakes) pumped on the main
 *   thread's event loop, so the data plane is tested without root.
 *
 * @module
 */
import { compilePolicy, type PolicySettings } from "../filter/mod.ts";
import { configureTunOffload } from "../netif/offload.ts";
import { openLibc, SO_RCVBUFFORCE, SO_SNDBUFFORCE, SOL_SOCKET } from "../../ffi/mod.ts";
import { Counters, type CounterSnapshot, type Direction, type QueueCounters } from "./counters.ts";
import { IngressPath } from "./ingress.ts";
import { EgressPath } from "./egress.ts";
import type { IcmpSource, Link, TunDevice } from "./types.ts";
import { type DropSample, dropSampler } from "./sample.ts";
import type { WorkerReload, WorkerStart } from "./worker.ts";
import { WakeFd } from "./wake.ts";

/** Options common to both engines. */
export interface ForwarderOptions {
  /** The policy settings (validated by compiling them before anything starts). */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from (the stf interface's address). */
  readonly icmpSource: string;
  /** Called with sampled drops (rate-limited), for debug logs; none when absent. */
  readonly onDrop?: (sample: DropSample) => void;
  /** Called when a path fails for good (the TUN deleted, a socket error). */
  readonly onFatal?: (message: string) => void;
  /** Data-plane tuning (threaded engine); defaults when absent. */
  readonly tuning?: Partial<DataplaneTuning>;
}

/**
 * Switches of the data plane's optimisations, so that each one's worth can be measured
 * (`deno task bench` runs stf with each off) and one can be turned off should it misbehave.
 */
export interface DataplaneTuning {
  /** Packets per batch syscall (`recvmmsg`/`sendmmsg`); 1 means one syscall per packet. */
  readonly batch: number;
  /**
   * TUN offloads: with a TUN fd opened with `IFF_VNET_HDR`, `TUNSETOFFLOAD` (checksum, TSO6,
   * USO) so egress segments super-packets itself, and TCP coalescing (GRO) on ingress.
   * Off: `TUNSETOFFLOAD` 0 and no coalescing (a `virtio_net_hdr`, if the fd has one, is still
   * read and written).
   */
  readonly offload: boolean;
  /**
   * TUN queues (`IFF_MULTI_QUEUE`), each with its own Worker pair; the caller opens the fds
   * (`FdDevices.moreQueues`). 1: one queue.
   */
  readonly queues: number;
}

/**
 * The protocol-41 socket's buffers: a TSO super-packet leaves as a burst of ~45 segments, and
 * the peer's receive buffer must hold a few such bursts while its ingress Worker catches up
 * (the kernel default, ~200 KiB, holds about 90 packets).
 */
export const LINK_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Sets the socket's send and receive buffers (`SO_SNDBUFFORCE`/`SO_RCVBUFFORCE`, which need
 * CAP_NET_ADMIN); returns false when the kernel refused (the defaults stay).
 *
 * @param fd the socket
 * @param bytes the size of each buffer
 */
export function setLinkBuffers(fd: number, bytes: number): boolean {
  const value = new Uint8Array(4);
  new DataView(value.buffer).setInt32(0, bytes, true);
  const { setsockopt } = openLibc().symbols;
  const a = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, value, 4);
  const b = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, value, 4);
  return a === 0 && b === 0;
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
  /**
   * The fds of further queues (`--queues`): one more Worker pair each. The TUN fds are
   * queues of one `IFF_MULTI_QUEUE` device (the kernel spreads flows over them); each
   * protocol-41 socket must carry a filter that accepts its share of the packets only
   * (`attachQueueFilter`), since every raw socket receives every packet.
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
  /** Applies new settings to both directions; throws and keeps the old ones when invalid. */
  reload(settings: PolicySettings): void;
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
  const queues: QueueFds[] = [devices, ...(devices.moreQueues ?? [])];
  // The offloads are the device's (TUNSETOFFLOAD on any queue applies to all).
  const { vnetHeader, offloads } = configureTunOffload(devices.tunFd, tuning.offload);
  if (tuning.batch > 1 || vnetHeader) {
    for (const q of queues) {
      setLinkBuffers(q.linkFd, LINK_BUFFER_BYTES);
      if (q.sendFd !== undefined) setLinkBuffers(q.sendFd, LINK_BUFFER_BYTES);
    }
  }
  const counters = new Counters(undefined, { queues: queues.length });
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  let settings = options.settings;
  /** Each Worker with its doorbell, by direction and queue. */
  const workers = new Map<string, { worker: Worker; wake: WakeFd }>();
  const stopped = new Map<string, () => void>();
  const ready: Promise<void>[] = [];
  // Every message to a Worker rings its doorbell, so it turns its event loop to take it.
  const post = (to: { worker: Worker; wake: WakeFd }, message: unknown) => {
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
          worker.onmessage = (event) => {
            const m = event.data;
            if (m.kind === "ready") resolve();
            else if (m.kind === "drop") options.onDrop?.(m);
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
      post(
        entry,
        {
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
          control,
          sampleDrops: options.onDrop !== undefined,
          tuning,
          vnetHeader,
          offloads,
        } satisfies WorkerStart,
      );
    }
  });
  const stop = async () => {
    Atomics.store(flags, 0, 1);
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
    reload(next: PolicySettings) {
      compilePolicy(next);
      settings = next;
      for (const entry of workers.values()) {
        post(
          entry,
          {
            kind: "reload",
            settings: next,
            icmpSource: options.icmpSource,
            sampleDrops: options.onDrop !== undefined,
          } satisfies WorkerReload,
        );
      }
    },
    stop,
    counters: () => counters.snapshot(),
    queueCounters: () => counters.perQueue(),
  };
}

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
  const sample = (direction: Direction) =>
    options.onDrop === undefined ? undefined : dropSampler(direction, options.onDrop);
  const egress = new EgressPath(devices, options.settings, counters, {
    icmpSource: options.icmpSource,
    onDrop: sample("egress"),
    batch: tuning.batch,
    vnetHeader,
  });
  const ingress = new IngressPath(devices, options.settings, counters, {
    onDrop: sample("ingress"),
    batch: tuning.batch,
    vnetHeader,
    coalesce: vnetHeader && tuning.offload,
    coalesceUdp: vnetHeader && tuning.offload,
  });
  let settings = options.settings;
  const pumpNow = () => {
    let total = 0;
    for (;;) {
      const n = egress.pump(256) + ingress.pump(256) +
        (devices.icmp ? egress.pumpIcmp(devices.icmp, 256) : 0);
      total += n;
      if (n === 0) return total;
    }
  };
  const timer = options.manual ? undefined : setInterval(pumpNow, 1);
  return {
    get settings() {
      return settings;
    },
    reload(next: PolicySettings) {
      compilePolicy(next); // throws before either path changes
      egress.reload(next);
      ingress.reload(next);
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
