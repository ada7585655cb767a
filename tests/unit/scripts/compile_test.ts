import assert from "node:assert/strict";
import { compileArgs, denortAdvice } from "../../../scripts/compile.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

Deno.test("compileArgs() includes the data-plane Worker, which is loaded by URL, and stf's V8 flags", () => {
  assert.deepEqual(compileArgs("dist/stf"), [
    "compile",
    "--allow-all",
    "--v8-flags=--max-semi-space-size=1,--allow-natives-syntax",
    "--include",
    "lib/dataplane/worker.ts",
    "--output",
    "dist/stf",
    "main.ts",
  ]);
  assert.deepEqual(
    compileArgs("out", "aarch64-unknown-linux-gnu").slice(5, 7),
    ["--target", "aarch64-unknown-linux-gnu"],
  );
});

Deno.test("denortAdvice() says to set DENORT_BIN when the download failed and it is unset", () => {
  const stderr = "error: Writing deno compile executable\n    0: Setting up base binary.\n" +
    "    1: error sending request for url: dns error";
  const advice = denortAdvice(stderr, undefined);
  assert.ok(advice !== undefined);
  assert.match(advice, /Set DENORT_BIN to a denort binary of Deno \d+\.\d+\.\d+/);
  assert.match(advice, /deno task install/);
  assert.equal(denortAdvice("error: Type error in main.ts", undefined), undefined);
  assert.match(
    denortAdvice("0: Could not find denort at '/x'\n1: No such file or directory", "/x") ?? "",
    /DENORT_BIN="\/x" does not name a file/,
  );
});

async function runCompile(env: Record<string, string>, output: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/compile.ts`, "--output", output],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("deno task compile refuses a DENORT_BIN that is the deno CLI and leaves no binary", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-compile-" });
  try {
    const output = `${dir}/stf`;
    const result = await runCompile({ DENORT_BIN: Deno.execPath() }, output);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /is probably the deno CLI, not denort; removed/);
    assert.throws(() => Deno.statSync(output), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a failed deno task compile prints the advice first, Deno's error after, and leaves no directory", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-compile-" });
  try {
    const output = `${dir}/dist/stf`;
    const result = await runCompile({ DENORT_BIN: `${dir}/no-denort`, NO_COLOR: "1" }, output);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.split("\n");
    const advice = lines.findIndex((l) => l.startsWith(`DENORT_BIN="${dir}/no-denort" does not`));
    const heading = lines.indexOf("What deno compile said:");
    assert.ok(advice >= 0 && heading > advice, result.stderr);
    // Deno's own error lines come only after the heading.
    assert.ok(lines.slice(0, heading).every((l) => !/^error:/.test(l)), result.stderr);
    assert.throws(() => Deno.statSync(`${dir}/dist`), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

const denort = Deno.env.get("DENORT_BIN");

Deno.test({
  name: "deno task compile builds a dist/stf that runs (with DENORT_BIN)",
  ignore: denort === undefined || denort === "",
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "stf-compile-" });
    try {
      const output = `${dir}/stf`;
      const result = await runCompile({ DENORT_BIN: denort! }, output);
      assert.equal(result.code, 0, result.stderr);
      const prefix = await new Deno.Command(output, { args: ["prefix", "192.0.2.1"] }).output();
      assert.equal(new TextDecoder().decode(prefix.stdout).trim(), "2002:c000:201::/48");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("deno.json's stf task and the install script run with stf's V8 flags (lib/v8_flags.ts)", async () => {
  const { STF_V8_FLAGS_ARGUMENT } = await import("../../../lib/v8_flags.ts");
  const { installArgs } = await import("../../../scripts/install.ts");
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = (config.tasks.stf as string).split(/\s+/);
  assert.ok(words.includes(STF_V8_FLAGS_ARGUMENT), `task stf: ${config.tasks.stf}`);
  assert.ok(words.indexOf(STF_V8_FLAGS_ARGUMENT) < words.indexOf("main.ts"), "task stf");
  const install = installArgs("/opt/stf");
  assert.ok(install.indexOf(STF_V8_FLAGS_ARGUMENT) >= 0, install.join(" "));
  assert.ok(install.indexOf(STF_V8_FLAGS_ARGUMENT) < install.indexOf("/opt/stf/main.ts"));
  assert.equal(config.tasks.install, "deno run --allow-all scripts/install.ts");
});
