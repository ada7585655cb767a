/**
 * Logging: LogTape configured once (by `main.ts`) with a synchronous stderr sink, text or JSON
 * lines. Elsewhere: `getLogger(["stf", area])`.
 *
 * @module
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

export { getLogger } from "@logtape/logtape";

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** The lowest level logged. */
  readonly level: LogLevel;
  /** Text lines for people, JSON lines for log collectors. */
  readonly format: "text" | "json";
}

/**
 * Configures LogTape for the `stf` category (replacing any earlier configuration).
 *
 * @param options level and format
 */
export function configureLogging(options: LoggingOptions): void {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter({ properties: "flatten", message: "rendered" })
    : getTextFormatter({ timestamp: "date-time-tz", category: ".", value: "bare" });
  const encoder = new TextEncoder();
  const sink = (record: LogRecord) => {
    Deno.stderr.writeSync(encoder.encode(formatter(record)));
  };
  resetSync();
  configureSync({
    sinks: { stderr: sink },
    loggers: [
      { category: ["stf"], lowestLevel: options.level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
