/**
 * The stf command: argv → command, exit codes, top-level error printing, logging set-up and
 * signal handlers. The only module that reads `Deno.args`, calls `Deno.exit` and installs
 * signal handlers (docs/architecture.md, "Conventions").
 *
 * @module
 */
import { parseArgs } from "./lib/cli.ts";
import { effectiveConfig, interfaceRequestOf } from "./lib/commands/settings.ts";
import { runCheckConfig } from "./lib/commands/check_config.ts";
import { runDecode } from "./lib/commands/decode.ts";
import { runDoctor } from "./lib/commands/doctor.ts";
import { runDown } from "./lib/commands/down.ts";
import { runPrefix } from "./lib/commands/prefix.ts";
import { runStatus } from "./lib/commands/status.ts";
import { runForwarder, type RunSignals } from "./lib/commands/run.ts";
import { runUp } from "./lib/commands/up.ts";
import type { StfConfig } from "./lib/config/mod.ts";
import { ConfigError, OperationError } from "./lib/errors.ts";
import { disarmInspectorSignal, refuseInspectorWhenPrivileged } from "./lib/inspector_guard.ts";
import { configureLogging, getLogger } from "./lib/log.ts";

/**
 * Runs stf with the given arguments and returns the exit code. User mistakes print one line
 * and give 2, failures give 1; anything else is a bug and propagates with its stack.
 *
 * @param args the arguments after the program name
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    refuseInspectorWhenPrivileged();
    const invocation = parseArgs(args);
    switch (invocation.command) {
      case "prefix":
        return runPrefix(invocation);
      case "decode":
        return runDecode(invocation);
      case "check-config":
        return await runCheckConfig({ file: invocation.file, json: invocation.json });
      case "up": {
        const config = await effectiveConfig(invocation.config, invocation.overrides);
        return await runUp({
          ...interfaceRequestOf(config),
          dryRun: invocation.dryRun,
          json: invocation.json,
        });
      }
      case "down": {
        const config = await effectiveConfig(invocation.config, invocation.overrides);
        return await runDown({
          name: config.interface.name,
          dryRun: invocation.dryRun,
          json: invocation.json,
        });
      }
      case "run": {
        const config = await effectiveConfig(invocation.config, invocation.overrides);
        const control = signalControl(() =>
          effectiveConfig(invocation.config, invocation.overrides)
        );
        configureLogging(config.log);
        return await runForwarder(
          config,
          { ...control, controlSocket: invocation.controlSocket },
          invocation.tuning,
        );
      }
      case "doctor":
        return await runDoctor(invocation);
      case "status":
        return await runStatus({
          name: invocation.name ?? "stf0",
          json: invocation.json,
          ...(invocation.controlSocket === undefined
            ? {}
            : { controlSocket: invocation.controlSocket }),
        });
    }
  } catch (error) {
    return reportError(error);
  }
}

/**
 * Wires SIGINT/SIGTERM (stop), SIGHUP (reload) and SIGUSR2 (counters) to the forwarder. The
 * listeners are installed at once, before any device is opened, so that an early signal is
 * never fatal: a stop that arrives before the forwarder is ready is delivered when it is, a
 * reload or counters request before then has nothing to act on and is dropped.
 */
function signalControl(reloadConfig: () => Promise<StfConfig>): RunSignals {
  const handlers: Record<"stop" | "reload" | "stats", (() => void) | undefined> = {
    stop: undefined,
    reload: undefined,
    stats: undefined,
  };
  let stopPending = false;
  const listen = (signals: Deno.Signal[], kind: keyof typeof handlers) => {
    for (const signal of signals) {
      Deno.addSignalListener(signal, () => {
        const handler = handlers[kind];
        if (handler !== undefined) handler();
        else if (kind === "stop") stopPending = true;
      });
    }
  };
  listen(["SIGINT", "SIGTERM"], "stop");
  listen(["SIGHUP"], "reload");
  // Not SIGUSR1: Deno opens its inspector on it, and stf ignores it (lib/inspector_guard.ts).
  listen(["SIGUSR2"], "stats");
  return {
    onStop(handler) {
      handlers.stop = handler;
      if (stopPending) handler();
    },
    onReload(handler) {
      handlers.reload = handler;
    },
    onStats(handler) {
      handlers.stats = handler;
    },
    reloadConfig,
  };
}

/**
 * Prints an expected error on one line and returns its exit code; rethrows a bug.
 *
 * @param error what was thrown
 */
export function reportError(error: unknown): number {
  if (error instanceof ConfigError) {
    // A file's problems are `file:line:col: key: message`, as compilers print them; the
    // flags' are `--flag: message`, which the `Error:` prefix marks as stf's.
    const lines = error.message.split("\n");
    console.error(
      error.file === undefined ? lines.map((l) => `Error: ${l}`).join("\n") : error.message,
    );
    return 2;
  }
  if (error instanceof SyntaxError || error instanceof RangeError) {
    console.error(`Error: ${error.message}`);
    return 2;
  }
  if (
    error instanceof OperationError || (error instanceof Error && error.name === "SyscallError")
  ) {
    console.error(`Error: ${error.message}`);
    return 1;
  }
  throw error;
}

/**
 * Closes SIGUSR1's inspector for the life of the process (see lib/inspector_guard.ts) and logs
 * when a SIGUSR1 that arrived before the handler could be replaced had opened it.
 */
function guardInspector(): void {
  disarmInspectorSignal().then((result) => {
    if (result.closed !== undefined) {
      getLogger(["stf", "security"]).warn(
        "Closed the V8 inspector a SIGUSR1 opened at {url}: stf ignores SIGUSR1 (counters are on SIGUSR2)",
        { url: result.closed },
      );
    }
  });
}

if (import.meta.main) {
  guardInspector();
  Deno.exit(await main(Deno.args));
}
