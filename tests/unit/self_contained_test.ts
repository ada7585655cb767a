/**
 * The repository explains itself: no tracked file points to a document or file outside it
 * (the hand-over documents the project started from, or the folder beside the checkout that
 * held them). Their content lives in docs/filtering.md, docs/architecture.md and
 * docs/performance.md. `.ci/` is left out: it is the CI's own folder.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

// Written in pieces so that this file does not name them itself.
const OUTSIDE = new RegExp(
  `(${["FILTER_RULES", "DESIGN", "PERF_NOTES", "STYLE"].join("|")})\\.md|\\.\\./shared/`,
);

/** The tracked files, relative to the repository root. */
function trackedFiles(): string[] {
  const out = new Deno.Command("git", { args: ["ls-files", "-z"], cwd: ROOT }).outputSync();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\0").filter((f) => f !== "");
}

/** `file:line: text` for every line of the tracked files that matches `pattern`. */
function findings(pattern: RegExp): string[] {
  const found: string[] = [];
  const decoder = new TextDecoder();
  for (const file of trackedFiles()) {
    if (file.startsWith(".ci/")) continue;
    let text: string;
    try {
      text = decoder.decode(Deno.readFileSync(`${ROOT}${file}`));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // deleted in the work tree
      throw e;
    }
    text.split("\n").forEach((line, i) => {
      if (pattern.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

Deno.test("the pattern catches each outside document and the folder beside the checkout", () => {
  for (const name of ["FILTER_RULES", "DESIGN", "PERF_NOTES", "STYLE"]) {
    assert.ok(OUTSIDE.test(`see ${name}.md`), name);
  }
  assert.ok(OUTSIDE.test(`new URL("../../${"shared"}/bench/cfwd.c")`));
  assert.ok(!OUTSIDE.test("docs/filtering.md docs/architecture.md docs/performance.md"));
});

Deno.test("no tracked file names a document or file outside the repository", () => {
  const found = findings(OUTSIDE);
  assert.deepEqual(found, [], `point to docs/ instead:\n${found.join("\n")}`);
});
