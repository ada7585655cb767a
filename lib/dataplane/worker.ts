/**
 * A data-plane Worker: one per direction. It opens its own libc binding, wraps the fds it is
 * given, and loops on synchronous calls: `poll` with a short timeout, then a batch of packets.
 * Between polls it yields to its event loop so that `reload` and `stop` messages get in; a stop
 * flag in shared memory (`Atomics`) ends the loop within one poll timeout.
 *
 * Messages in: `start` ({@link WorkerStart}), `reload` ({@link WorkerReload}), `stop`.
 * Messages out: `ready`, `drop` (sampled, for debug logs), `error`, `stopped`, `status`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { PolicySettings } from "../filter/mod.ts";
import { dropSampler } from "./sample.ts";
import { errnoReader, openFastPath, pinnedBuffer } from "../../ffi/fastpath.ts";
import { Counters } from "./counters.ts";
import type { DataplaneTuning } from "./forwarder.ts";
import { EgressPath } from "./encap.ts";
import { IngressPath } from "./decap.ts";
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

const POLL_TIMEOUT_MS = 50;
const POLLIN = 1;
/** Packets handled per pump call at least (the batch size when larger). */
const MIN_BUDGET = 64;

let stopRequested = false;
let current: { reload(message: WorkerReload): void } | undefined;

self.onmessage = (event: MessageEvent<WorkerStart | WorkerReload | { kind: "stop" }>) => {
  const message = event.data;
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
  const fds = start.direction === "egress"
    ? [start.tunFd, ...(icmp ? [start.icmpFd] : [])]
    : [start.linkFd];
  fds.forEach((fd, i) => {
    pfdView.setInt32(8 * i, fd, true);
    pfdView.setInt16(8 * i + 4, POLLIN, true);
  });
  const nfds = BigInt(fds.length);
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
      while (path.pump(budget) >= perCall) { /* drain */ }
    };
  }
  self.postMessage({ kind: "ready", direction: start.direction });

  let lastYield = performance.now();
  while (!stopRequested && Atomics.load(control, 0) === 0) {
    const ready = lib.symbols.poll(pfd.pointer, nfds, POLL_TIMEOUT_MS);
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
      pump();
    } else if (ready < 0 && errno() !== 4) {
      self.postMessage({ kind: "error", message: `poll failed: errno ${errno()}` });
      break;
    }
    // Let reload/stop messages in, about every poll timeout, even under load.
    const now = performance.now();
    if (ready === 0 || now - lastYield > POLL_TIMEOUT_MS) {
      lastYield = now;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  lib.close();
  self.postMessage({ kind: "stopped", direction: start.direction });
}
