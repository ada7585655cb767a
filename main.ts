/**
 * The stf command: argv → command, exit codes, top-level error printing. The only module that
 * reads `Deno.args` and calls `Deno.exit` (STYLE.md habit 1).
 *
 * @module
 */
import { parseArgs } from "./lib/cli.ts";
import { runDecode } from "./lib/commands/decode.ts";
import { runPrefix } from "./lib/commands/prefix.ts";
import { ConfigError, OperationError } from "./lib/errors.ts";

/**
 * Runs stf with the given arguments and returns the exit code. User mistakes print one line
 * and give 2, failures give 1; anything else is a bug and propagates with its stack.
 *
 * @param args the arguments after the program name
 */
export async function main(args: readonly string[]): Promise<number> {
  try {
    const invocation = parseArgs(args);
    switch (invocation.command) {
      case "prefix":
        return runPrefix(invocation);
      case "decode":
        return runDecode(invocation);
    }
  } catch (error) {
    return await Promise.resolve(reportError(error));
  }
}

/**
 * Prints an expected error on one line and returns its exit code; rethrows a bug.
 *
 * @param error what was thrown
 */
export function reportError(error: unknown): number {
  if (error instanceof ConfigError) {
    console.error(error.message);
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

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
