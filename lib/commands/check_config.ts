/**
 * `stf check-config FILE`: reads and checks a configuration file and prints the effective
 * configuration (every default filled in, addresses in canonical form), as YAML or JSON.
 *
 * @module
 */

import { configToDocument, configToYaml, loadConfig } from "../config/mod.ts";

/** Options of {@link runCheckConfig}. */
export interface CheckConfigOptions {
  /** The configuration file. */
  readonly file: string;
  /** Print JSON instead of YAML. */
  readonly json: boolean;
  /** Where the output goes (default: standard output). */
  readonly write?: (text: string) => void;
}

function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Checks a configuration file and prints the effective configuration.
 *
 * @param options the file and the output format
 * @returns the exit status, 0
 * @throws {ConfigError} when the file cannot be read or is not valid (exit 2)
 */
export async function runCheckConfig(options: CheckConfigOptions): Promise<number> {
  const config = await loadConfig(options.file);
  const write = options.write ?? writeStdout;
  write(
    options.json ? `${JSON.stringify(configToDocument(config), null, 2)}\n` : configToYaml(config),
  );
  return 0;
}
