/**
 * `deno task install`: installs the `stf` launcher with `deno install --global`, from a copy of
 * the program in a stable place instead of the checkout, so that the launcher keeps working
 * when the checkout is moved or removed.
 *
 * The copy is `ROOT/share/stf/VERSION/` (the program's files: `main.ts`, `mod.ts`, `lib/`,
 * `ffi/`, `deno.json`, `deno.lock`), where ROOT is `deno install`'s own root:
 * `DENO_INSTALL_ROOT`, else `$HOME/.deno`; the launcher is `ROOT/bin/stf`. `deno install`
 * caches the npm packages the program imports, so the launcher then runs offline. It still
 * needs Deno itself on the host (the single executable of `deno task compile` does not).
 *
 * Usage: deno task install
 *
 * @module
 */
import { VERSION } from "../lib/version.ts";
import { STF_V8_FLAGS_ARGUMENT } from "../lib/v8_flags.ts";

const CHECKOUT = new URL("../", import.meta.url).pathname;

/** What the program needs at run time, relative to the checkout. */
export const PROGRAM_FILES: readonly string[] = [
  "main.ts",
  "mod.ts",
  "deno.json",
  "deno.lock",
  "lib",
  "ffi",
];

/** `deno install`'s root: `DENO_INSTALL_ROOT`, else `$HOME/.deno`. */
export function installRoot(env: { get(name: string): string | undefined }): string {
  const root = env.get("DENO_INSTALL_ROOT");
  if (root !== undefined && root !== "") return root.replace(/\/+$/, "");
  const home = env.get("HOME");
  if (home === undefined || home === "") {
    throw new Error("Cannot choose where to install: set HOME or DENO_INSTALL_ROOT");
  }
  return `${home.replace(/\/+$/, "")}/.deno`;
}

/** The `deno install` arguments for the copy at `copy`. */
export function installArgs(copy: string): string[] {
  return [
    "install",
    "--global",
    "--force",
    "--allow-all",
    STF_V8_FLAGS_ARGUMENT,
    "--name",
    "stf",
    "--config",
    `${copy}/deno.json`,
    `${copy}/main.ts`,
  ];
}

function copyTree(from: string, to: string): void {
  const info = Deno.statSync(from);
  if (info.isDirectory) {
    Deno.mkdirSync(to, { recursive: true });
    for (const entry of Deno.readDirSync(from)) {
      // Tests stay in the checkout; only the program is copied.
      if (entry.name.endsWith("_test.ts")) continue;
      copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  } else {
    Deno.mkdirSync(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    Deno.copyFileSync(from, to);
  }
}

async function main(): Promise<number> {
  const root = installRoot(Deno.env);
  const copy = `${root}/share/stf/${VERSION}`;
  const staging = `${copy}.new-${Deno.pid}`;
  // Copy next to the final place, then swap, so that a running launcher never sees half a copy.
  for (const file of PROGRAM_FILES) copyTree(`${CHECKOUT}${file}`, `${staging}/${file}`);
  try {
    Deno.removeSync(copy, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  Deno.renameSync(staging, copy);
  const status = await new Deno.Command(Deno.execPath(), {
    args: installArgs(copy),
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) return 1;
  console.error(`Installed ${root}/bin/stf, running stf ${VERSION} from ${copy}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
