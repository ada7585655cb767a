/**
 * Shell completions end to end, with an `stf` on PATH (a wrapper that runs main.ts): the bash
 * script is sourced in a real bash and its function called as readline calls it; fish answers
 * `complete -C` with its own engine; zsh's function is called with the completion widget's
 * variables. Optique's scripts call back into the program (`stf completions SHELL WORDS…`), so
 * this covers both halves.
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
  name: "bash completes the relay probe flags of `stf run` and `stf doctor --pe`",
  ignore: noBash !== undefined,
  ...sanitize,
  fn: () => {
    assert.deepEqual(completeBash("stf run --relay-probe-f"), ["--relay-probe-failures"]);
    assert.deepEqual(completeBash("stf doctor --pe"), ["--peer"]);
  },
});

Deno.test({
  name: "bash completes `stf run --on-p` to `--on-prefix-change`",
  ignore: noBash !== undefined,
  ...sanitize,
  fn: () => {
    assert.deepEqual(completeBash("stf run --on-p"), ["--on-prefix-change"]);
  },
});

Deno.test({
  name: "bash completes the subcommands from `stf ` (one CLI definition)",
  ignore: noBash !== undefined,
  ...sanitize,
  fn: () => {
    const commands = completeBash("stf ");
    for (const c of ["prefix", "decode", "up", "down", "run", "check-config", "doctor"]) {
      assert.ok(commands.includes(c), `${c} in ${commands.join(" ")}`);
    }
  },
});

function shellUnavailable(shell: string): string | undefined {
  try {
    return new Deno.Command(shell, { args: ["-c", "true"] }).outputSync().success
      ? undefined
      : `${shell} -c true failed`;
  } catch {
    return `${shell} is not installed (Debian package ${shell})`;
  }
}

const noFish = shellUnavailable("fish");
const noZsh = shellUnavailable("zsh");
for (const reason of [noBash, noFish, noZsh]) {
  if (reason !== undefined) {
    console.error(`%cSkipping completion tests: ${reason}`, "color: yellow");
  }
}

function runShell(shell: string, script: string): string[] {
  const out = new Deno.Command(shell, {
    args: shell === "zsh" ? ["-f", "-c", script] : ["-c", script],
    env: { PATH: `${stfOnPath()}:${Deno.env.get("PATH") ?? ""}`, NO_COLOR: "1" },
  }).outputSync();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

Deno.test({
  name: "fish completes `stf pr` to `prefix` and `stf run --mo` to `--mode` (complete -C)",
  ignore: noFish !== undefined,
  ...sanitize,
  fn: () => {
    // fish's own completion engine, asked as the command line would: `complete -C LINE`.
    const lines = runShell(
      "fish",
      [
        "stf completions fish | source",
        'complete -C "stf pr"',
        "echo ---",
        'complete -C "stf run --mo"',
      ].join("; "),
    );
    const cut = lines.indexOf("---");
    const first = lines.slice(0, cut).map((l) => l.split("\t")[0]);
    const second = lines.slice(cut + 1).map((l) => l.split("\t")[0]);
    assert.deepEqual(first, ["prefix"]);
    assert.deepEqual(second, ["--mode"]);
  },
});

Deno.test({
  name: "zsh's _stf offers `prefix` for `stf pr` and `--mode` for `stf run --mo`",
  ignore: noZsh !== undefined,
  ...sanitize,
  fn: () => {
    // Outside an interactive shell there is no completion widget: the script's _stf is called
    // with the widget's variables set (words, CURRENT, PREFIX) and zsh's _describe replaced by
    // a function that prints the candidates it is given.
    const call = (words: string[]) =>
      `words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; ` +
      `PREFIX='${words.at(-1)}'; _stf; print -- ---`;
    const lines = runShell(
      "zsh",
      [
        '_describe() { local -a arr; arr=("${(@P)2}"); print -rl -- "${arr[@]%%:*}"; }',
        "source <(stf completions zsh)",
        call(["stf", "pr"]),
        call(["stf", "run", "--mo"]),
        call(["stf", "run", "--mode", "r"]),
      ].join("\n"),
    );
    assert.deepEqual(lines, [
      "prefix",
      "---",
      "--mode",
      "---",
      "router",
      "return-path",
      "relay",
      "---",
    ]);
  },
});
