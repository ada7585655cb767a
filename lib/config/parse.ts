/**
 * Reading a configuration: YAML (`parseDocument` with a `LineCounter`) then the zod schema,
 * every problem reported as `file:line:col: path: message`.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLError,
} from "yaml";
import { ConfigError } from "../errors.ts";
import { formatPath, type KeyPath, type Problem, problemsOf } from "./_issues.ts";
import { CONFIG_SCHEMA, type StfConfig } from "./schema.ts";

/** Largest configuration file read, in bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Most alias expansions in one file: more is a resource-exhaustion attempt ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** The file name used in messages (default `<config>`). */
  readonly file?: string;
}

/** A problem with its place in the file. */
interface Located {
  readonly line: number;
  readonly column: number;
  readonly path?: string;
  readonly message: string;
}

/** Capitalises and drops a trailing period: Deno style for messages from the YAML parser. */
function denoStyle(message: string): string {
  const text = message.trim().replace(/\.$/, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null)?.range?.[0];
}

/**
 * Finds where a path's value (or its key, with `atKey`) starts in the document. Where the path
 * leaves what the document holds (a missing key, a default), the last key found is the place.
 */
function locate(doc: Document, path: KeyPath, atKey: boolean): number {
  let node: unknown = doc.contents;
  let fallback = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const part = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(part));
      if (pair === undefined) return fallback;
      const keyOffset = rangeStart(pair.key) ?? fallback;
      if (atKey && i === path.length - 1) return keyOffset;
      fallback = keyOffset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === "number" && part < node.items.length) {
      node = node.items[part];
      fallback = rangeStart(node) ?? fallback;
    } else {
      return fallback;
    }
  }
  const range = (node as { range?: [number, number, number] } | null)?.range;
  // An empty value (`interface:` alone) has no text of its own: point at its key.
  if (range === undefined || range[0] === range[1]) return fallback;
  return range[0];
}

/** Finds the path of the deepest pair around an offset (at most 16 levels), for syntax errors. */
function pathAt(doc: Document, offset: number): string | undefined {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  while (path.length < 16) {
    let next: unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        const start = rangeStart(pair.key);
        const value = pair.value as Node | null;
        const end = value?.range?.[1] ?? (pair.key as Node | null)?.range?.[1];
        const key = keyText(pair.key);
        if (start !== undefined && end !== undefined && key !== undefined) {
          if (offset >= start && offset <= end) {
            path.push(key);
            next = pair.value;
            break;
          }
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const range = (item as Node | null)?.range;
        if (range && offset >= range[0] && offset <= range[2]) {
          path.push(index);
          next = item;
        }
      });
    }
    if (next === undefined || isPair(next)) break;
    node = next;
  }
  return path.length === 0 ? undefined : formatPath(path);
}

function formatLocated(file: string, problems: readonly Located[]): ConfigError {
  const lines = problems.map((p) =>
    `${file}:${p.line}:${p.column}: ${p.path === undefined ? "" : `${p.path}: `}${p.message}`
  );
  const first = problems[0];
  return new ConfigError(lines.join("\n"), { file, line: first?.line, column: first?.column });
}

function yamlProblem(
  doc: Document,
  lineCounter: LineCounter,
  error: YAMLError,
): Located {
  const offset = error.pos[0];
  const { line, col } = lineCounter.linePos(offset);
  const message = error.code === "MULTIPLE_DOCS"
    ? "Cannot use several YAML documents in one configuration file: remove this '---'"
    : denoStyle(error.message);
  return { line, column: col, path: pathAt(doc, offset), message };
}

/** The first alias node of the document, where an alias bomb is reported. */
function firstAlias(doc: Document): number {
  let found: number | undefined;
  const walk = (node: unknown) => {
    if (found !== undefined) return;
    if (isAlias(node)) found = rangeStart(node);
    else if (isMap(node)) {
      for (const pair of node.items) {
        walk(pair.key);
        walk(pair.value);
      }
    } else if (isSeq(node)) node.items.forEach(walk);
  };
  walk(doc.contents);
  return found ?? 0;
}

/** Deepest nesting of flow collections (`[`, `{`) read; the YAML parser is slow on more. */
const MAX_FLOW_DEPTH = 100;

/**
 * Returns the offset of the first `[` or `{` nested deeper than {@link MAX_FLOW_DEPTH}, or -1.
 * A rough scan (quotes and comments skipped) that spares the YAML parser seconds of work on a
 * file of a million brackets; a configuration never comes close.
 */
function tooDeep(text: string): number {
  let depth = 0;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== "") {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "[" || c === "{") {
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if ((c === "]" || c === "}") && depth > 0) {
      depth--;
    }
  }
  return -1;
}

/**
 * Parses and checks a configuration. An empty file (or one with only comments) is valid and
 * means every default.
 *
 * @example
 * ```ts
 * const config = parseConfig("mode: return-path\nipv4: 203.0.113.80\n", { file: "stf.yaml" });
 * config.mode; // "return-path"
 * ```
 * @param text the YAML text
 * @param options the file name for messages
 * @throws {ConfigError} listing every problem, one `file:line:col: path: message` per line
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): StfConfig {
  const file = options.file ?? "<config>";
  const lineCounter = new LineCounter();
  const deep = tooDeep(text);
  if (deep >= 0) {
    let line = 1;
    let start = 0;
    for (let i = text.indexOf("\n"); i >= 0 && i < deep; i = text.indexOf("\n", i + 1)) {
      line++;
      start = i + 1;
    }
    throw formatLocated(file, [{
      line,
      column: deep - start + 1,
      message: `Cannot read collections nested more than ${MAX_FLOW_DEPTH} deep`,
    }]);
  }
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
  });
  // Warnings too: an unknown tag, for instance, would otherwise become a string silently.
  const yamlErrors = [...doc.errors, ...doc.warnings];
  if (yamlErrors.length > 0) {
    throw formatLocated(file, yamlErrors.map((e) => yamlProblem(doc, lineCounter, e)));
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError || error instanceof TypeError)) throw error;
    const { line, col } = lineCounter.linePos(firstAlias(doc));
    throw formatLocated(file, [{
      line,
      column: col,
      message: `Cannot expand the aliases of this file: ${denoStyle(error.message)}`,
    }]);
  }
  // An empty document (or only comments) means all the defaults.
  const result = CONFIG_SCHEMA.safeParse(data ?? {}, { reportInput: true });
  if (result.success) return result.data;
  throw formatLocated(
    file,
    problemsOf(result.error)
      .map((problem: Problem) => ({ problem, offset: locate(doc, problem.path, problem.atKey) }))
      .sort((a, b) => a.offset - b.offset)
      .map(({ problem, offset }) => {
        const { line, col } = lineCounter.linePos(offset);
        return { line, column: col, path: formatPath(problem.path), message: problem.message };
      }),
  );
}

function readReason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Reads, parses and checks a configuration file.
 *
 * @param path the file
 * @throws {ConfigError} when the file cannot be read (`FILE: Cannot read configuration: …`),
 *   is over {@link MAX_CONFIG_BYTES}, is not UTF-8, or is not a valid configuration
 */
export async function loadConfig(path: string): Promise<StfConfig> {
  const fail = (reason: string, cause?: unknown) =>
    new ConfigError(`${path}: Cannot read configuration: ${reason}`, { file: path }, { cause });
  let bytes: Uint8Array;
  try {
    using file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (info.isDirectory) throw fail("it is a directory");
    // Read at most one byte more than allowed, whatever stat says (/dev/zero has size 0).
    const buffer = new Uint8Array(MAX_CONFIG_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = await file.read(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    if (length > MAX_CONFIG_BYTES) {
      throw fail(`larger than ${MAX_CONFIG_BYTES} bytes (1 MiB)`);
    }
    bytes = buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw fail(readReason(error), error);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw fail("it is not UTF-8 text", error);
  }
  return parseConfig(text, { file: path });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The configuration of an empty file: every default (deeply frozen). */
export const DEFAULT_CONFIG: StfConfig = deepFreeze(parseConfig(""));
