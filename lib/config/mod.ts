/**
 * The configuration of stf: one YAML file for `stf up` and `stf run`, checked by a strict zod
 * schema with every problem reported as `file:line:col: path: message`; flags merged over it;
 * the JSON Schema and the reference generated from the same schema.
 *
 * @example
 * ```ts
 * import { loadConfig, mergeConfig } from "./lib/config/mod.ts";
 *
 * const config = mergeConfig(await loadConfig("stf.yaml"), { interface: { mtu: 1400 } });
 * ```
 *
 * @module
 */

export type {
  Dscp,
  InterfaceConfig,
  Ipv4Source,
  LogConfig,
  LogFormat,
  LogLevel,
  Mode,
  SixRdConfig,
  StfConfig,
} from "./schema.ts";
export { CONFIG_SCHEMA } from "./schema.ts";
export {
  DEFAULT_CONFIG,
  loadConfig,
  MAX_CONFIG_BYTES,
  parseConfig,
  type ParseConfigOptions,
} from "./parse.ts";
export {
  type ConfigOverrides,
  configToDocument,
  configToYaml,
  flagName,
  ipv4SourceFromFlag,
  mergeConfig,
} from "./merge.ts";
export { configJsonSchema, configReferenceMarkdown } from "./reference.ts";
