/**
 * `stf down`: removes what `stf up` made — its routes, its address and the persistent TUN —
 * and refuses to delete an interface stf did not make.
 *
 * @module
 */
import { removeInterface, validateInterfaceName } from "../netif/mod.ts";

/** Options of `stf down`, as parsed from the command line. */
export interface DownOptions {
  /** The interface name (default `stf0`). */
  readonly name: string;
  /** Print the equivalent iproute2 commands and change nothing. */
  readonly dryRun?: boolean;
  /** Print what was removed as JSON. */
  readonly json?: boolean;
}

/**
 * Runs `stf down`. A second `down` finds nothing to do and exits 0.
 *
 * @param options the command's options
 * @returns the exit code (0); errors are thrown for `main.ts` to report
 * @throws {OperationError} the interface exists and stf did not make it (exit 1)
 * @throws {SyscallError} the kernel refused, or a running `stf run` holds it (EBUSY, exit 1)
 */
export function runDown(options: DownOptions): Promise<number> {
  // Synchronous work (FFI) reported through a promise, as other commands' actions are.
  try {
    return Promise.resolve(runDownNow(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function runDownNow(options: DownOptions): number {
  validateInterfaceName(options.name);
  const result = removeInterface(options.name, { dryRun: options.dryRun });
  if (options.json) {
    console.log(JSON.stringify(
      {
        name: options.name,
        dryRun: options.dryRun ?? false,
        changed: result.changes.map((c) => c.description),
        ...(options.dryRun ? { commands: result.changes.map((c) => c.command) } : {}),
      },
      null,
      2,
    ));
  } else if (result.changes.length === 0) {
    console.log(`Nothing to do: there is no interface "${options.name}"`);
  } else if (options.dryRun) {
    for (const c of result.changes) console.log(c.command);
  } else {
    for (const c of result.changes) console.log(c.description);
  }
  return 0;
}
