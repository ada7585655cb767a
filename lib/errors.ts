/**
 * Error classes that carry what `main.ts` needs to choose an exit code and print one line.
 *
 * - `SyntaxError`, `RangeError` (bad input) and {@link ConfigError}, {@link PolicyError}:
 *   the user's mistake, exit 2.
 * - {@link OperationError} and `SyscallError` (from `ffi/`): the operation failed, exit 1.
 * - Anything else is a bug and propagates with its stack.
 *
 * @module
 */

/** A runtime failure that is not a bug: exit 1, one line, no stack. */
export class OperationError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OperationError";
  }
}

/** A configuration-time filter check failed (docs/filtering.md, "Configuration time"): exit 2, nothing changed. */
export class PolicyError extends RangeError {
  /** The reason name, as in docs/filtering.md (`own-ipv4-not-global`, …). */
  readonly reason: string;
  /** Creates the error. */
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PolicyError";
    this.reason = reason;
  }
}

/** A configuration file is wrong: exit 2, printed as `file:line:col: path: message`. */
export class ConfigError extends Error {
  /** The file, or `undefined` for flags. */
  readonly file?: string;
  /** The 1-based line, when known. */
  readonly line?: number;
  /** The 1-based column, when known. */
  readonly column?: number;
  /** Creates the error; `message` is the whole formatted line. */
  constructor(
    message: string,
    position: { file?: string; line?: number; column?: number } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ConfigError";
    this.file = position.file;
    this.line = position.line;
    this.column = position.column;
  }
}
