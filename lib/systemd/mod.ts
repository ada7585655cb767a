/**
 * systemd integration: the sd_notify protocol and its watchdog.
 *
 * @module
 */
export {
  notify,
  type NotifyOptions,
  startWatchdog,
  type Watchdog,
  watchdogIntervalUsec,
  type WatchdogOptions,
} from "./notify.ts";
