/**
 * The README against the program: the packages `deno task test` installs are the ones it names.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const README = Deno.readTextFileSync(`${ROOT}README.md`);

Deno.test("the README names every Debian package deno task test installs, and no other", () => {
  // tests/run_tests.ts runs the tests when imported: its list is read as text.
  const script = Deno.readTextFileSync(`${ROOT}tests/run_tests.ts`);
  const installed = [...script.matchAll(/\{ pkg: "([^"]+)"/g)].map((m) => m[1]).sort();
  assert.ok(installed.length >= 10, `found ${installed.length} packages in tests/run_tests.ts`);
  const start = README.indexOf("`deno task test` installs the Debian packages");
  assert.ok(start >= 0, "the README's paragraph on the test packages");
  const paragraph = README.slice(start, README.indexOf("\n\n", start));
  const named = [...paragraph.matchAll(/`([a-z0-9][a-z0-9.+-]*)`/g)].map((m) => m[1])
    .filter((word) => !["deno", "setpriv", "setcap"].includes(word) && !word.includes(" "));
  assert.deepEqual([...new Set(named)].sort(), installed);
});
