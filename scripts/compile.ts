/**
 * `deno task compile`: builds the single executable `dist/stf` with `deno compile`.
 *
 * `deno compile` joins the program to `denort`, Deno's runtime without the CLI, which it
 * downloads for the running Deno version — or takes from `DENORT_BIN` when set (a machine
 * without that download: fetch `denort-<target>.zip` of the same Deno release elsewhere,
 * unzip it, and point `DENORT_BIN` at the file). The data-plane Worker is loaded by URL, so it
 * is included explicitly. The result is smoke-tested (`dist/stf --version`): a `DENORT_BIN`
 * that is the full `deno` CLI instead of `denort` builds a binary that ignores the program.
 *
 * Usage: deno task compile [--output PATH] [--target TRIPLE]
 *
 * @module
 */
import { VERSION } from "../lib/version.ts";
import { STF_V8_FLAGS_ARGUMENT } from "../lib/v8_flags.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The `deno compile` arguments for an output path and an optional target. */
export function compileArgs(output: string, target?: string): string[] {
  return [
    "compile",
    "--allow-all",
    STF_V8_FLAGS_ARGUMENT,
    "--include",
    "lib/dataplane/worker.ts",
    ...(target === undefined ? [] : ["--target", target]),
    "--output",
    output,
    "main.ts",
  ];
}

/** What to tell when `deno compile` could not get its runtime, or `undefined` otherwise. */
export function denortAdvice(stderr: string, denortBin: string | undefined): string | undefined {
  if (denortBin !== undefined) {
    if (/Could not find denort|denort/i.test(stderr) && /No such file|not found/i.test(stderr)) {
      return `DENORT_BIN="${denortBin}" does not name a file: point it at the unzipped denort ` +
        `of Deno ${Deno.version.deno}`;
    }
    return undefined;
  }
  if (!/Setting up base binary|denort|dns error|error sending request/i.test(stderr)) {
    return undefined;
  }
  return [
    `deno compile could not download denort (Deno's runtime for single executables).`,
    `Set DENORT_BIN to a denort binary of Deno ${Deno.version.deno} for ${Deno.build.target}:`,
    `  the file in denort-${Deno.build.target}.zip of that Deno release, fetched on a machine`,
    `  that can, then: DENORT_BIN=/path/to/denort deno task compile`,
    `Without it, install stf with \`deno task install\` (deno install -g; needs Deno on the host).`,
  ].join("\n");
}

const decoder = new TextDecoder();

/** The directory part of a path (`dist` of `dist/stf`). */
export function directoryOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes a directory that a failed build left empty (`dist/`); leaves anything else. */
function removeIfEmpty(path: string): void {
  try {
    Deno.removeSync(path); // not recursive: fails on a directory with files in it
  } catch { /* not empty, or not there */ }
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: readonly string[]): Promise<number> {
  const output = option(args, "--output") ?? "dist/stf";
  const target = option(args, "--target");
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;
  if (denortBin !== undefined) console.error(`Using DENORT_BIN=${denortBin}`);
  const outputDirectory = directoryOf(output.startsWith("/") ? output : `${ROOT}${output}`);
  const directoryExisted = exists(outputDirectory);
  // Deno's messages are kept, not passed through: on failure the project's advice comes first
  // and Deno's own error (a DNS failure with a backtrace, typically) after it, under a heading.
  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(output, target),
    cwd: ROOT,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = decoder.decode(result.stderr);
  if (!result.success) {
    if (!directoryExisted) removeIfEmpty(outputDirectory);
    const advice = denortAdvice(stderr, denortBin);
    console.error(advice ?? `Error: deno compile failed (exit ${result.code})`);
    console.error(`\nWhat deno compile said:\n${stderr.trimEnd()}`);
    return 1;
  }
  if (stderr.trim() !== "") console.error(stderr.trimEnd());
  if (target !== undefined && target !== Deno.build.target) {
    console.error(`Built ${output} for ${target} (not run: another target)`);
    return 0;
  }
  const path = output.startsWith("/") ? output : `${ROOT}${output}`;
  const check = await new Deno.Command(path, {
    args: ["--version"],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const said = decoder.decode(check.stdout).trim();
  if (!check.success || !said.includes(VERSION)) {
    Deno.removeSync(path);
    console.error(
      `Error: ${output} does not run stf (\`--version\` said "${
        said || decoder.decode(check.stderr).trim()
      }"); ` +
        (denortBin === undefined
          ? "removed"
          : `DENORT_BIN="${denortBin}" is probably the deno CLI, not denort; removed`),
    );
    return 1;
  }
  console.error(`Built ${output}: ${said}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
