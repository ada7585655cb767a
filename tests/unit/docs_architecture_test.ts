/**
 * docs/architecture.md against the code: every room whose "may import" cell names its
 * neighbours imports nothing else (its own files and the small shared modules `lib/errors.ts`,
 * `lib/log.ts`, `lib/version.ts` are always allowed).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOC = Deno.readTextFileSync(`${ROOT}docs/architecture.md`);
const SHARED = ["lib/errors.ts", "lib/log.ts", "lib/version.ts"];

/** A room of the doc's table: its folder and the places it may import (folders or files). */
interface Room {
  readonly place: string;
  readonly allowed: readonly string[];
}

/** The rows of "The rooms" whose place is a folder of ffi/ or lib/ with a checkable cell. */
function rooms(): Room[] {
  const text = DOC.split("\n## ").find((s) => s.startsWith("The rooms"));
  assert.ok(text !== undefined, 'no section "The rooms" in docs/architecture.md');
  const out: Room[] = [];
  for (const line of text.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const place = /^`((?:ffi|lib\/[a-z]+)\/)`$/.exec(cells[1] ?? "")?.[1];
    const cell = cells[3];
    if (place === undefined || cell === undefined || /^(everything|anything)/.test(cell)) continue;
    const allowed = cell.startsWith("nothing")
      ? []
      : [...cell.matchAll(/`([^`]+)`/g)].map((m) =>
        m[1].includes("/") ? m[1] : m[1] === "ffi" ? "ffi/" : `lib/${m[1]}/`
      );
    out.push({ place, allowed });
  }
  return out;
}

/** The repository paths that the `.ts` files of a folder import (relative specifiers only). */
function importsOf(place: string): Map<string, string> {
  const found = new Map<string, string>(); // target → first importing file
  for (const entry of Deno.readDirSync(`${ROOT}${place}`)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const file = `${place}${entry.name}`;
    const text = Deno.readTextFileSync(`${ROOT}${file}`);
    for (const m of text.matchAll(/(?:from|import)\s+"(\.{1,2}\/[^"]+)"/g)) {
      const target = new URL(m[1], `file://${ROOT}${file}`).pathname.slice(ROOT.length);
      if (!found.has(target)) found.set(target, file);
    }
  }
  return found;
}

Deno.test("docs/architecture.md's rooms table names the rooms it checks", () => {
  const places = rooms().map((r) => r.place);
  for (const place of ["ffi/", "lib/addr/", "lib/packet/", "lib/filter/", "lib/config/"]) {
    assert.ok(places.includes(place), place);
  }
});

Deno.test("each room imports only what docs/architecture.md says it may", () => {
  const problems: string[] = [];
  for (const { place, allowed } of rooms()) {
    for (const [target, file] of importsOf(place)) {
      const ok = target.startsWith(place) || SHARED.includes(target) ||
        allowed.some((a) => a.endsWith("/") ? target.startsWith(a) : target === a);
      if (!ok) problems.push(`${file} imports ${target} (allowed: ${allowed.join(", ")})`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("the import check sees a room's imports", () => {
  // An oracle for the parser above: lib/filter/ does import lib/addr/ and lib/packet/.
  const targets = [...importsOf("lib/filter/").keys()];
  assert.ok(targets.some((t) => t.startsWith("lib/addr/")), targets.join(", "));
  assert.ok(targets.some((t) => t.startsWith("lib/packet/")), targets.join(", "));
});
