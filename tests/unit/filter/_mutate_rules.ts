/**
 * Mutation check: removes each rule predicate of `lib/filter/rules.ts` in turn (it then always
 * answers `false`) in a copy of the repository, runs `tests/unit/filter/`, and reports the rules
 * whose removal no test notices. Exits 1 when a mutation survives. Slow (one test run per rule),
 * so it is a script rather than a test:
 *
 * ```sh
 * deno run -A tests/unit/filter/_mutate_rules.ts
 * ```
 *
 * @module
 */

const root = new URL("../../../", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "stf-mutate-" });
try {
  for (const entry of ["lib", "tests", "deno.json", "deno.lock"]) {
    const copy = new Deno.Command("cp", { args: ["-r", `${root}${entry}`, `${work}/`] });
    if (!(await copy.output()).success) throw new Error(`Cannot copy "${entry}" to "${work}"`);
  }
  const path = `${work}/lib/filter/rules.ts`;
  const original = await Deno.readTextFile(path);
  const predicates = [...original.matchAll(/export function (is\w+)\([^{]*\): boolean \{\n/g)];
  const survivors: string[] = [];
  for (const match of predicates) {
    const end = match.index! + match[0].length;
    // `if (true)` would be flagged as unreachable code by the type checker; this is not.
    const mutated = original.slice(0, end) + "  if (Math.random() < 2) return false;\n" +
      original.slice(end);
    await Deno.writeTextFile(path, mutated);
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--no-check", "tests/unit/filter/"],
      cwd: work,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(run.stdout);
    const failed = Number(/(\d+) failed/.exec(text)?.[1] ?? 0);
    console.log(`${match[1].padEnd(28)} ${failed > 0 ? `caught by ${failed} tests` : "SURVIVED"}`);
    if (failed === 0) survivors.push(match[1]);
  }
  await Deno.writeTextFile(path, original);
  if (survivors.length > 0) {
    console.error(`No test fails when these rules are removed: ${survivors.join(", ")}`);
    Deno.exitCode = 1;
  }
} finally {
  await Deno.remove(work, { recursive: true });
}
