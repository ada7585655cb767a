/**
 * Writes the generated configuration files: `schema/stf.schema.json` and
 * `docs/configuration.md`, formatted as `deno fmt` would. Run from the repository root:
 *
 * ```sh
 * deno run -A lib/config/generate.ts
 * ```
 *
 * `tests/unit/config/generated_test.ts` fails when the committed files differ from what this
 * produces.
 *
 * @module
 */

import { configJsonSchema, configReferenceMarkdown } from "./reference.ts";

/** A generated file: its path from the repository root and its text. */
export interface GeneratedFile {
  /** Path from the repository root. */
  readonly path: string;
  /** The whole text. */
  readonly text: string;
}

/** The repository root, found from this file's place (`lib/config/`). */
export const REPOSITORY_ROOT: string = new URL("../../", import.meta.url).pathname;

/**
 * Formats text with `deno fmt` (the repository's settings), so the files pass `deno fmt --check`.
 *
 * @param text the text
 * @param extension `json` or `md`
 * @throws {Error} when `deno fmt` fails
 */
export async function formatText(text: string, extension: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", `--ext=${extension}`, "-"],
    cwd: REPOSITORY_ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  if (!output.success) {
    throw new Error(`Cannot format text with deno fmt: ${new TextDecoder().decode(output.stderr)}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** Returns the generated files, formatted. */
export async function generatedFiles(): Promise<GeneratedFile[]> {
  return [
    {
      path: "schema/stf.schema.json",
      text: await formatText(JSON.stringify(configJsonSchema(), null, 2) + "\n", "json"),
    },
    {
      path: "docs/configuration.md",
      text: await formatText(configReferenceMarkdown(), "md"),
    },
  ];
}

if (import.meta.main) {
  for (const file of await generatedFiles()) {
    const path = `${REPOSITORY_ROOT}${file.path}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, file.text);
    console.log(`Wrote ${file.path}`);
  }
}
