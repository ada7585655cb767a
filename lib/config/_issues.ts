/**
 * zod issues as flat `{ path, message }` problems with Deno-style messages: unions resolved to
 * the branch the value was meant for, unknown keys one by one (with a suggestion).
 *
 * @module
 */

import type { z } from "zod";
import { KNOWN_KEYS } from "./schema.ts";

/** A key path in the YAML document: keys and list indexes. */
export type KeyPath = readonly (string | number)[];

/** One problem found in a configuration. */
export interface Problem {
  /** Where, in the YAML document (kebab-case keys). */
  readonly path: KeyPath;
  /** What, Deno style. */
  readonly message: string;
  /** Whether the position is the key itself (unknown keys) rather than its value. */
  readonly atKey: boolean;
  /** Other dotted paths that take part in a cross-field check. */
  readonly related: readonly string[];
}

/** Formats a path as `interface.mtu` or `routes[1]`; the top level is `(top level)`. */
export function formatPath(path: KeyPath): string {
  if (path.length === 0) return "(top level)";
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text === "" ? part : `.${part}`;
  }
  return text;
}

/** Describes a value for a message: strings quoted, lists and mappings named. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

const EXPECTED: Record<string, string> = {
  int: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  null: "null",
};

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** Suggests a known key close to an unknown one (`site_prefixes` → `site-prefixes`). */
function suggest(key: string, known: readonly string[]): string | undefined {
  const normal = key.toLowerCase().replaceAll("_", "-");
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = candidate === normal ? 0 : editDistance(normal, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function knownKeysAt(path: KeyPath): readonly string[] {
  return KNOWN_KEYS[path.filter((p) => typeof p === "string").join(".")] ?? [];
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Whether a union branch's issues say "wrong type for this whole branch". */
function rejectsType(issues: readonly z.core.$ZodIssue[]): boolean {
  return issues.length === 1 && issues[0].code === "invalid_type" && issues[0].path.length === 0;
}

function union(
  issue: z.core.$ZodIssueInvalidUnion,
  base: KeyPath,
  out: Problem[],
): void {
  const meant = issue.errors.filter((branch) => !rejectsType(branch));
  if (meant.length === 1) {
    for (const inner of meant[0]) flatten(inner, base, out);
    return;
  }
  const expected = issue.errors.flatMap((branch) =>
    branch.length === 1 && branch[0].code === "invalid_type"
      ? [EXPECTED[branch[0].expected] ?? branch[0].expected]
      : []
  );
  const input = issue.input;
  out.push({
    path: base,
    message: `Expected ${[...new Set(expected)].join(" or ")}, got ${describeValue(input)}`,
    atKey: false,
    related: [],
  });
}

/**
 * Adds the problems of one zod issue.
 *
 * @param issue the issue
 * @param base the path of the value the issue's path is relative to
 * @param out where to add them
 */
export function flatten(issue: z.core.$ZodIssue, base: KeyPath, out: Problem[]): void {
  const path = [...base, ...issue.path.filter((p) => typeof p !== "symbol")];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_union":
      union(issue, path, out);
      return;
    case "unrecognized_keys":
      for (const key of issue.keys) {
        const hint = suggest(key, knownKeysAt(path));
        out.push({
          path: [...path, key],
          message: `Unknown key "${key}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}`,
          atKey: true,
          related: [],
        });
      }
      return;
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const message = input === undefined && typeOf(input) === "undefined"
        ? `Missing key: expected ${expected}`
        : `Expected ${expected}, got ${describeValue(input)}`;
      out.push({ path, message, atKey: false, related: [] });
      return;
    }
    case "invalid_value":
      out.push({
        path,
        message: `Cannot use ${describeValue(input)}: expected one of ${
          issue.values.map((v) => String(v)).join(", ")
        }`,
        atKey: false,
        related: [],
      });
      return;
    case "custom": {
      const related = (issue.params?.related as string[] | undefined) ?? [];
      out.push({ path, message: issue.message, atKey: false, related });
      return;
    }
    default:
      out.push({ path, message: issue.message, atKey: false, related: [] });
  }
}

/** Flattens all issues of a failed parse. */
export function problemsOf(error: z.ZodError): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) flatten(issue, [], out);
  return out;
}
