/**
 * A data-plane Worker: one per direction. It opens its own libc binding, wraps the fds it is
 * given, and loops on synchronous calls: `poll`, then a batch of packets. Messages (`reload`,
 * `stop`) are delivered by the Worker's event loop, which the loop turns only when the parent
 * has rung the Worker's doorbell (`wake.ts`: an eventfd in the poll set, one count per
 * message) and once a second; a stop flag in shared memory (`Atomics`) ends the loop as soon
 * as the doorbell wakes the poll.
 *
 * Messages in: `start` ({@link WorkerStart}), `reload` ({@link WorkerReload}), `stop`.
 * Messages out: `ready`, `drop` (sampled, for debug logs), `error`, `stopped`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { PolicySettings } from "../filter/mod.ts";
import { dropSampler } from "./sample.ts";
import { errnoReader, openFastPath, pinnedBuffer } from "../../ffi/fastpath.ts";
import { Counters } from "./counters.ts";
import type { DataplaneTuning } from "./forwarder.ts";
import { EgressPath } from "./egress.ts";
import { IngressPath } from "./ingress.ts";
import { FdLink, FdTunDevice } from "./linux.ts";
import { TUN_F_USO6 } from "../../ffi/constants.ts";
import type { Direction } from "./counters.ts";

/** The message that starts a Worker. */
export interface WorkerStart {
  /** Always `start`. */
  readonly kind: "start";
  /** Which path this Worker runs. */
  readonly direction: Direction;
  /** Which queue (0 without `--queues`): its block of the counters. */
  readonly queue: number;
  /** The TUN fd (non-blocking). */
  readonly tunFd: number;
  /** The interface name. */
  readonly tunName: string;
  /** The protocol-41 raw socket fd (non-blocking). */
  readonly linkFd: number;
  /** The send-only raw socket fd, when there is one (egress sends on it). */
  readonly sendFd?: number;
  /** An ICMPv4 raw socket fd for path MTU (egress only), or -1. */
  readonly icmpFd: number;
  /** The doorbell: an eventfd the parent adds one to after each message it posts. */
  readonly wakeFd: number;
  /** The policy settings, compiled in the Worker. */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from. */
  readonly icmpSource: string;
  /** The shared counters. */
  readonly counters: SharedArrayBuffer;
  /** Shared control words: [0] = stop flag. */
  readonly control: SharedArrayBuffer;
  /** Whether to post sampled drops (debug logging on). */
  readonly sampleDrops: boolean;
  /** Which optimisations are on. */
  readonly tuning: DataplaneTuning;
  /** The TUN fd carries a `virtio_net_hdr` before each packet (`IFF_VNET_HDR`). */
  readonly vnetHeader: boolean;
  /** The `TUN_F_*` offloads in force on the TUN (USO means UDP super-packets are accepted). */
  readonly offloads: number;
}

/** The message that reloads the policy. */
export interface WorkerReload {
  /** Always `reload`. */
  readonly kind: "reload";
  /** The new settings. */
  readonly settings: PolicySettings;
  /** The address our ICMPv6 errors come from. */
  readonly icmpSource: string;
  /** Whether to post sampled drops. */
  readonly sampleDrops: boolean;
}

/**
 * How often the loop turns its event loop without a message (V8's own tasks run there), and
 * the longest `poll` wait. A turn costs ~2 ms in which nothing is polled (`wake.ts`); it used
 * to come every 50 ms, which put that delay on ~4 % of the packets through an idle hop.
 */
const YIELD_INTERVAL_MS = 1000;
const POLLIN = 1;
/** Packets handled per pump call at least (the batch size when larger). */
const MIN_BUDGET = 64;

let stopRequested = false;
let current: { reload(message: WorkerReload): void } | undefined;
/** Messages delivered so far (the doorbell counts those posted). */
let delivered = 0;

self.onmessage = (event: MessageEvent<WorkerStart | WorkerReload | { kind: "stop" }>) => {
  const message = event.data;
  delivered++;
  try {
    if (message.kind === "start") {
      run(message).catch((e) =>
        self.postMessage({ kind: "error", message: String(e?.stack ?? e) })
      );
    } else if (message.kind === "reload") {
      current?.reload(message);
    } else if (message.kind === "stop") {
      stopRequested = true;
    }
  } catch (e) {
    self.postMessage({ kind: "error", message: e instanceof Error ? e.message : String(e) });
  }
};

function sampler(direction: Direction) {
  return dropSampler(direction, (sample) => self.postMessage(sample));
}

async function run(start: WorkerStart): Promise<void> {
  const lib = openFastPath();
  const errno = errnoReader(lib);
  const counters = new Counters(start.counters, { queue: start.queue });
  const control = new Int32Array(start.control);
  const tun = new FdTunDevice(lib, start.tunFd, start.tunName);
  const link = new FdLink(
    lib,
    start.direction === "egress" ? start.sendFd ?? start.linkFd : start.linkFd,
  );
  const icmp = start.icmpFd >= 0 ? new FdLink(lib, start.icmpFd) : undefined;
  const onDrop = start.sampleDrops ? sampler(start.direction) : undefined;

  // pollfd array: { int fd; short events; short revents; } per entry.
  const pfd = pinnedBuffer(64);
  const pfdView = new DataView(pfd.bytes.buffer);
  // The data fd first (revents at byte 6), the ICMPv4 socket second when there is one, the
  // doorbell last.
  const fds = start.direction === "egress"
    ? [start.tunFd, ...(icmp ? [start.icmpFd] : [])]
    : [start.linkFd];
  fds.push(start.wakeFd);
  const wakeRevents = 8 * (fds.length - 1) + 6;
  fds.forEach((fd, i) => {
    pfdView.setInt32(8 * i, fd, true);
    pfdView.setInt16(8 * i + 4, POLLIN, true);
  });
  const nfds = BigInt(fds.length);
  const counter = pinnedBuffer(8);
  const counterWords = new Uint32Array(counter.bytes.buffer);
  const eight = 8n;
  /** Messages the parent has posted, as far as the doorbell has told. */
  let posted = 0;
  const batch = Math.max(1, Math.floor(start.tuning.batch));
  const budget = Math.max(MIN_BUDGET, batch);
  const vnetHeader = start.vnetHeader;

  let pump: () => void;
  if (start.direction === "egress") {
    const path = new EgressPath(
      { tun, link },
      start.settings,
      counters,
      { icmpSource: start.icmpSource, onDrop, batch, vnetHeader },
    );
    current = {
      reload(m) {
        path.reload(m.settings, {
          icmpSource: m.icmpSource,
          onDrop: m.sampleDrops ? sampler("egress") : undefined,
        });
      },
    };
    pump = () => {
      // Only the fds poll found readable: an ICMPv4 socket read on every wake-up would be one
      // more syscall (EAGAIN) per packet at low rates.
      if ((pfdView.getInt16(6, true) & POLLIN) !== 0) {
        while (path.pump(budget) === budget) { /* drain */ }
      }
      if (icmp && (pfdView.getInt16(14, true) & POLLIN) !== 0) path.pumpIcmp(icmp, MIN_BUDGET);
    };
  } else {
    const path = new IngressPath({ tun, link }, start.settings, counters, {
      onDrop,
      batch,
      vnetHeader,
      coalesce: vnetHeader && start.tuning.offload,
      coalesceUdp: (start.offloads & TUN_F_USO6) !== 0,
    });
    const perCall = Math.min(budget, batch);
    current = {
      reload(m) {
        path.reload(m.settings, {
          onDrop: m.sampleDrops ? sampler("ingress") : undefined,
        });
      },
    };
    pump = () => {
      if ((pfdView.getInt16(6, true) & POLLIN) !== 0) {
        while (path.pump(budget) >= perCall) { /* drain */ }
      }
    };
  }
  self.postMessage({ kind: "ready", direction: start.direction });

  let lastYield = performance.now();
  while (!stopRequested && Atomics.load(control, 0) === 0) {
    // A message rung but not yet delivered: only look, so the event loop gets its turn soon.
    const timeout = delivered < posted ? 0 : YIELD_INTERVAL_MS;
    const ready = lib.symbols.poll(pfd.pointer, nfds, timeout);
    if (ready > 0) {
      // POLLERR | POLLHUP | POLLNVAL on any fd: the device or socket is gone (a TUN deleted
      // under us); stop rather than spin.
      for (let i = 0; i < fds.length; i++) {
        const revents = pfdView.getInt16(8 * i + 6, true);
        if (revents & 0x38) {
          self.postMessage({
            kind: "error",
            message: i === 0 && start.direction === "egress"
              ? `The TUN device "${start.tunName}" is gone`
              : `A socket of the ${start.direction} path failed (poll events 0x${
                revents.toString(16)
              })`,
          });
          stopRequested = true;
        }
      }
      if (stopRequested) break;
      if ((pfdView.getInt16(wakeRevents, true) & POLLIN) !== 0) {
        // The counter (a native-endian u64; never near 2^32 messages) and reset it.
        if (lib.symbols.read(start.wakeFd, counter.pointer, eight) === 8) {
          posted += counterWords[0];
        }
      }
      pump();
    } else if (ready < 0 && errno() !== 4) {
      self.postMessage({ kind: "error", message: `poll failed: errno ${errno()}` });
      break;
    }
    // Let messages in when one is waiting, and V8's own tasks about once a second.
    const now = performance.now();
    if (delivered < posted || now - lastYield > YIELD_INTERVAL_MS) {
      lastYield = now;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  lib.close();
  self.postMessage({ kind: "stopped", direction: start.direction });
}
