/**
 * Shell completions end to end: the bash script `stf completions bash` prints is sourced in a
 * real bash with an `stf` on PATH (a wrapper that runs main.ts), and its completion function
 * is called as readline would call it. Optique's script calls back into the program
 * (`stf completions bash WORDS… CURRENT`), so this covers both halves.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function bashUnavailable(): string | undefined {
  try {
    return new Deno.Command("bash", { args: ["-c", "true"] }).outputSync().success
      ? undefined
      : "bash -c true failed";
  } catch {
    return "bash is not installed";
  }
}

const noBash = bashUnavailable();

let binDirectory: string | undefined;

/** A temp directory holding `stf`: `deno run -A main.ts "$@"`. */
function stfOnPath(): string {
  if (binDirectory !== undefined) return binDirectory;
  binDirectory = Deno.makeTempDirSync({ prefix: "stf-completions-" });
  const wrapper = `${binDirectory}/stf`;
  Deno.writeTextFileSync(
    wrapper,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${MAIN}" "$@"\n`,
  );
  Deno.chmodSync(wrapper, 0o755);
  return binDirectory;
}

globalThis.addEventListener("unload", () => {
  if (binDirectory !== undefined) Deno.removeSync(binDirectory, { recursive: true });
});

/**
 * Completes a command line the way bash's programmable completion does: COMP_WORDS split on
 * blanks, the cursor at the end, `_stf COMMAND CURRENT PREVIOUS`.
 */
function completeBash(line: string): string[] {
  const words = line.split(" ");
  const cword = words.length - 1;
  const script = [
    "set -e",
    "source <(stf completions bash)",
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${cword}`,
    `COMP_LINE='${line}'`,
    `COMP_POINT=${line.length}`,
    `_stf stf '${words[cword]}' '${words[cword - 1]}'`,
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const out = new Deno.Command("bash", {
    args: ["-c", script],
    env: { PATH: `${stfOnPath()}:${Deno.env.get("PATH") ?? ""}`, NO_COLOR: "1" },
  }).outputSync();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, stderr);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

const sanitize = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "bash completes `stf pr` to `stf prefix`",
  ignore: noBash !== undefined,
  ...sanitize,
  fn: () => {
    assert.deepEqual(completeBash("stf pr"), ["prefix"]);
  },
});

Deno.test({
  name: "bash completes `stf run --mo` to `--mode` and then its choices",
  ignore: noBash !== undefined,
  ...sanitize,
  fn: () => {
    assert.deepEqual(completeBash("stf run --mo"), ["--mode"]);
    assert.deepEqual(completeBash("stf run --mode r"), ["router", "return-path", "relay"]);
  },
});

Deno.test({
  name: "bash completes the subcommands from `stf ` (one CLI definition)",
  ignore: noBash !== undefined,
  ...sanitize,
  fn: () => {
    const commands = completeBash("stf ");
    for (const c of ["prefix", "decode", "up", "down", "run", "check-config"]) {
      assert.ok(commands.includes(c), `${c} in ${commands.join(" ")}`);
    }
  },
});

Deno.test("stf completions zsh and fish print scripts that call back into stf", async () => {
  for (const shell of ["zsh", "fish"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "completions", shell],
    }).output();
    assert.ok(out.success, shell);
    const text = new TextDecoder().decode(out.stdout);
    assert.match(text, /stf.*completions/, `${shell} script calls stf completions`);
  }
  // The callback itself, as zsh uses it: candidates NUL-separated from their descriptions.
  const zsh = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "completions", "zsh", "pr"],
  }).output();
  assert.equal(new TextDecoder().decode(zsh.stdout).split("\0")[0], "prefix");
});
