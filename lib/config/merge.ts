/**
 * Flags over the file: {@link mergeConfig} applies the keys given on the command line to a
 * configuration and checks the result with the same schema, naming the flag in its messages.
 * Also the way back: {@link configToDocument} and {@link configToYaml}.
 *
 * @module
 */

import { stringify } from "yaml";
import { ConfigError } from "../errors.ts";
import { formatPath, problemsOf } from "./_issues.ts";
import {
  CONFIG_SCHEMA,
  type InterfaceConfig,
  type Ipv4Source,
  kebabKey,
  type LogConfig,
  type SixRdConfig,
  type StfConfig,
} from "./schema.ts";

/**
 * Values given on the command line, in the shape of {@link StfConfig}; `undefined` (or absent)
 * means "not given". Sections merge key by key; lists and `ipv4` replace the file's value.
 * `relays` is the list of `--relay` (empty for `--relay none`).
 */
export interface ConfigOverrides {
  /** `--name`, `--mtu`, `--subnet`, `--interface-id`, `--owner`. */
  readonly interface?: Partial<InterfaceConfig>;
  /** `--ipv4` (see {@link ipv4SourceFromFlag}). */
  readonly ipv4?: Ipv4Source;
  /** `--allow-non-global`. */
  readonly allowNonGlobal?: boolean;
  /** `--bind-ipv4`. */
  readonly bindIpv4?: string | null;
  /** `--mode`. */
  readonly mode?: StfConfig["mode"];
  /** `--relay`, repeated; empty for `--relay none`. */
  readonly relays?: readonly string[];
  /** `--relay-probe-interval`. */
  readonly relayProbeInterval?: number;
  /** `--relay-probe-failures`. */
  readonly relayProbeFailures?: number;
  /** `--relay-probe-target`. */
  readonly relayProbeTarget?: string | null;
  /** `--default-route`. */
  readonly defaultRoute?: boolean;
  /** `--route`, repeated. */
  readonly routes?: readonly string[];
  /** `--site-prefix`, repeated. */
  readonly sitePrefixes?: readonly string[];
  /** `--allow-peer`, repeated. */
  readonly allowPeers?: readonly string[] | null;
  /** `--allow-relay`, repeated. */
  readonly allowRelays?: readonly string[] | null;
  /** `--strict-bogons`. */
  readonly strictBogons?: boolean;
  /** `--ttl`. */
  readonly ttl?: number;
  /** `--dscp`. */
  readonly dscp?: StfConfig["dscp"];
  /** `--6rd-prefix`, `--6rd-ipv4-mask-len`, `--6rd-ipv4-common-prefix`; `null` for none. */
  readonly sixRd?: Partial<SixRdConfig> | null;
  /** `--log-level`, `--log-format`. */
  readonly log?: Partial<LogConfig>;
  /** `--stats-interval`. */
  readonly statsInterval?: number;
  /** `--metrics`. */
  readonly metrics?: string | null;
  /** `--user`. */
  readonly user?: string | number | null;
  /** `--on-prefix-change`. */
  readonly onPrefixChange?: string | null;
}

/** Flags whose name is not `--` followed by the last key. */
const FLAG_NAMES: Readonly<Record<string, string>> = Object.freeze({
  "site-prefixes": "--site-prefix",
  "allow-peers": "--allow-peer",
  "allow-relays": "--allow-relay",
  routes: "--route",
  relays: "--relay",
  "6rd": "--6rd-prefix",
  "log.level": "--log-level",
  "log.format": "--log-format",
});

/**
 * Returns the command-line flag of a configuration key, so that both say one name for one
 * thing: `interface.mtu` → `--mtu`, `site-prefixes` → `--site-prefix`, `6rd.prefix` →
 * `--6rd-prefix`.
 *
 * @param key the dotted kebab-case key
 */
export function flagName(key: string): string {
  const named = FLAG_NAMES[key];
  if (named !== undefined) return named;
  if (key.startsWith("6rd.")) return `--6rd-${key.slice(4)}`;
  return `--${key.slice(key.lastIndexOf(".") + 1)}`;
}

/**
 * Reads the value of `--ipv4`: `auto`, an IPv4 address (anything that starts with a digit and
 * has a dot, so that `0x7f.0.0.1` is refused as an address rather than taken for a name), or
 * an interface name.
 *
 * @param text the flag's value
 */
export function ipv4SourceFromFlag(text: string): Ipv4Source {
  if (text === "auto" || (/^[0-9]/.test(text) && text.includes("."))) return text;
  return { interface: text };
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kebabObject(value: unknown): unknown {
  if (Array.isArray(value)) return [...value];
  if (!isPlain(value)) return value;
  const out: Plain = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== undefined) out[kebabKey(key)] = kebabObject(inner);
  }
  return out;
}

/**
 * Returns the configuration as its YAML document (kebab-case keys, `relays: []` for none): plain data
 * that {@link parseConfig} reads back to the same configuration.
 *
 * @param config the configuration
 */
export function configToDocument(config: StfConfig): Record<string, unknown> {
  return kebabObject(config) as Plain;
}

/**
 * Returns the configuration as YAML, for `stf check-config`; it parses back to the same.
 *
 * @param config the configuration
 */
export function configToYaml(config: StfConfig): string {
  return stringify(configToDocument(config), { lineWidth: 0 });
}

/**
 * Rewrites a schema message's advice for a user of flags: "set allow-non-global: true" (the
 * file's words) becomes "use --allow-non-global".
 *
 * @param message the schema's message
 */
export function inFlagWords(message: string): string {
  return message.replace(
    /\bset ([a-z0-9][a-z0-9.-]*): true\b/g,
    (_, key) => `use ${flagName(key)}`,
  );
}

/**
 * Applies command-line values over a configuration and checks the result as a whole.
 *
 * @example
 * ```ts
 * const config = mergeConfig(DEFAULT_CONFIG, { interface: { mtu: 1400 }, mode: "relay" });
 * ```
 * @param base the configuration from the file (or {@link DEFAULT_CONFIG})
 * @param overrides the values given on the command line
 * @throws {ConfigError} listing each problem as `--flag: message` (or `key: message` for a
 *   key of the file that the flags made wrong)
 */
export function mergeConfig(base: StfConfig, overrides: ConfigOverrides): StfConfig {
  const document = configToDocument(base);
  const given = new Set<string>();
  for (const [camel, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const key = kebabKey(camel);
    const current = document[key];
    if (isPlain(value) && key !== "ipv4") {
      const section = isPlain(current) ? { ...current } : {};
      for (const [innerCamel, inner] of Object.entries(value)) {
        if (inner === undefined) continue;
        const innerKey = kebabKey(innerCamel);
        section[innerKey] = kebabObject(inner);
        given.add(`${key}.${innerKey}`);
      }
      document[key] = section;
    } else {
      document[key] = kebabObject(value);
      given.add(key);
    }
  }
  const result = CONFIG_SCHEMA.safeParse(document, { reportInput: true });
  if (result.success) return result.data;
  const lines = problemsOf(result.error).map((problem) => {
    const keys = problem.path.filter((p): p is string => typeof p === "string");
    for (let n = keys.length; n > 0; n--) {
      const key = keys.slice(0, n).join(".");
      if (given.has(key)) return `${flagName(key)}: ${inFlagWords(problem.message)}`;
    }
    const related = problem.related.find((key) =>
      given.has(key) || [...given].some((g) => g.startsWith(`${key}.`))
    );
    const where = `${formatPath(problem.path)}: ${problem.message}`;
    return related === undefined ? where : `${flagName(related)}: ${where}`;
  });
  throw new ConfigError(lines.join("\n"));
}
