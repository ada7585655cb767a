/**
 * A data-plane Worker: one per direction and queue. It opens its own libc binding, wraps the
 * fds it is given (`linux.ts`: the TUN, the link, the ICMPv4 socket, a {@link FdPoller} over
 * them and the doorbell) and runs a {@link DirectionLoop} on synchronous calls.
 *
 * Messages in: `start`, `reload`, `stop` (`WorkerMessage`, `types.ts`).
 * Messages out: `ready`, `drop` (sampled, for debug logs), `error`, `stopped` (`WorkerEvent`).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { openFastPath } from "../../ffi/fastpath.ts";
import { DirectionLoop } from "./direction.ts";
import { FdLink, FdPoller, FdTunDevice, linuxWakeUpFunctions } from "./linux.ts";
import type { WorkerEvent, WorkerMessage, WorkerStart } from "./types.ts";

let current: DirectionLoop | undefined;

const emit = (event: WorkerEvent) => self.postMessage(event);

self.onmessage = (event: MessageEvent<WorkerMessage>) => {
  const message = event.data;
  try {
    if (message.kind === "start") start(message);
    else current?.receive(message);
  } catch (e) {
    emit({ kind: "error", message: e instanceof Error ? e.message : String(e) });
  }
};

/** Wraps the fds of a start message and runs its direction until it stops. */
function start(message: WorkerStart): void {
  const lib = openFastPath();
  const egress = message.direction === "egress";
  const tun = new FdTunDevice(lib, message.tunFd, message.tunName);
  const link = new FdLink(lib, egress ? message.sendFd ?? message.linkFd : message.linkFd);
  const icmp = egress && message.icmpFd >= 0 ? new FdLink(lib, message.icmpFd) : undefined;
  // Entry 0 the data fd, entry 1 the ICMPv4 socket when there is one, the doorbell last.
  const fds = egress ? [message.tunFd, ...(icmp ? [message.icmpFd] : [])] : [message.linkFd];
  const poller = new FdPoller(lib, fds, message.wakeFd);
  try {
    current = new DirectionLoop(message, { tun, link, icmp, poller }, emit, {
      wakeUpFunctions: linuxWakeUpFunctions(),
    });
  } catch (e) {
    lib.close();
    throw e;
  }
  current.run()
    .catch((e) => emit({ kind: "error", message: String(e?.stack ?? e) }))
    .finally(() => {
      lib.close();
      emit({ kind: "stopped", direction: message.direction });
    });
}
