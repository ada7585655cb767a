/**
 * Keeps the V8 inspector of a privileged stf closed.
 *
 * Since 2.9.2 Deno starts its inspector on 127.0.0.1:9229 when the process receives SIGUSR1
 * (as Node does), with no authentication: whoever can connect to that port can run code inside
 * the process, and a running stf is root or holds CAP_NET_ADMIN and CAP_NET_RAW with a raw
 * socket and the TUN open. Deno 2.9 has no flag or variable to turn that off, so stf closes it
 * itself:
 *
 * 1. at start SIGUSR1 is set to `SIG_IGN` (so a SIGUSR1 in the first half second, before Deno
 *    installs its handler, neither kills stf nor does anything else);
 * 2. Deno installs its handler about 500 ms after start, over ours: {@link disarmInspectorSignal}
 *    watches the caught-signal mask in `/proc/self/status` and sets `SIG_IGN` again as soon as
 *    it appears. The kernel then discards SIGUSR1 for the life of the process (Deno installs the
 *    handler once, for the main thread; Workers do not install it again);
 * 3. an inspector that a SIGUSR1 opened in the few milliseconds in between is closed at once
 *    (`node:inspector`'s `close()`) and reported.
 *
 * An inspector opened on purpose (`--inspect`, `--inspect-brk`, `--inspect-wait`) is refused
 * for a privileged process by {@link refuseInspectorWhenPrivileged}. Counters are printed on
 * SIGUSR2, which opens nothing.
 *
 * @module
 */
import inspector from "node:inspector";
import { openLibc, SIG_IGN, SIGUSR1 } from "../ffi/mod.ts";

/** How often the signal mask is read while waiting for Deno's handler, in ms. */
const WATCH_INTERVAL_MS = 5;
/** How long after start to wait for Deno's handler before giving up (a Deno without it). */
const WATCH_LIMIT_MS = 5000;

/**
 * Whether a signal's bit is set in one of the masks of `/proc/<pid>/status` (`SigCgt`:
 * caught, `SigIgn`: ignored, `SigBlk`: blocked).
 *
 * @param status the text of `/proc/<pid>/status`
 * @param field the mask's name
 * @param signo the signal number (1-based: bit `signo - 1`)
 * @throws {SyntaxError} when the mask is missing
 */
export function signalMaskHas(
  status: string,
  field: "SigCgt" | "SigIgn" | "SigBlk" | "SigPnd" | "ShdPnd",
  signo: number,
): boolean {
  const match = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)\\s*$`, "m").exec(status);
  if (match === null) throw new SyntaxError(`Cannot find "${field}" in the process status`);
  return ((BigInt(`0x${match[1]}`) >> BigInt(signo - 1)) & 1n) === 1n;
}

/**
 * Whether the process holds privileges worth protecting: root, or any effective capability
 * (`CapEff` of `/proc/<pid>/status`, e.g. CAP_NET_ADMIN from systemd's AmbientCapabilities).
 *
 * @param status the text of `/proc/<pid>/status`
 */
export function isPrivileged(status: string): boolean {
  const uid = /^Uid:\s*(\d+)\s+(\d+)/m.exec(status);
  if (uid !== null && (uid[1] === "0" || uid[2] === "0")) return true;
  const caps = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status);
  return caps !== null && BigInt(`0x${caps[1]}`) !== 0n;
}

function ownStatus(): string {
  return Deno.readTextFileSync("/proc/self/status");
}

function ignoreSigusr1(): void {
  openLibc().symbols.signal(SIGUSR1, Deno.UnsafePointer.create(SIG_IGN));
}

/**
 * Refuses to go on when the inspector is open (an `--inspect*` flag) and the process is root or
 * holds capabilities: anyone able to connect to it could run code with those privileges.
 *
 * @throws {RangeError} naming the inspector's URL and what to do (a usage error: exit 2)
 */
export function refuseInspectorWhenPrivileged(): void {
  const url = inspector.url();
  if (url === undefined || !isPrivileged(ownStatus())) return;
  throw new RangeError(
    `Refusing to run with privileges while the V8 inspector listens (${url}): anyone who can ` +
      `connect to it can run code as this process; remove the --inspect flag, or debug without ` +
      `root and capabilities`,
  );
}

/** What {@link disarmInspectorSignal} did. */
export interface DisarmResult {
  /** `disarmed`: Deno's handler was replaced by SIG_IGN; `not-armed`: none appeared in time. */
  readonly outcome: "disarmed" | "not-armed";
  /** The inspector URL closed because a SIGUSR1 opened it before the handler was replaced. */
  readonly closed?: string;
}

/**
 * Ignores SIGUSR1 now and again once Deno has installed its inspector handler, and closes an
 * inspector that a SIGUSR1 opened in between. The watch uses unref'd timers: it never keeps a
 * short command alive. Call it once, at start, from `main.ts`.
 */
export function disarmInspectorSignal(): Promise<DisarmResult> {
  ignoreSigusr1();
  const openAtStart = inspector.url() !== undefined;
  const started = performance.now();
  return new Promise((resolve) => {
    const watch = () => {
      let status: string;
      try {
        status = ownStatus();
      } catch {
        return resolve({ outcome: "not-armed" });
      }
      if (!signalMaskHas(status, "SigCgt", SIGUSR1)) {
        if (performance.now() - started > WATCH_LIMIT_MS) return resolve({ outcome: "not-armed" });
        return void Deno.unrefTimer(setTimeout(watch, WATCH_INTERVAL_MS));
      }
      ignoreSigusr1();
      const url = inspector.url();
      if (url !== undefined && !openAtStart) {
        inspector.close();
        return resolve({ outcome: "disarmed", closed: url });
      }
      resolve({ outcome: "disarmed" });
    };
    watch();
  });
}
