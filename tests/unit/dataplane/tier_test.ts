/**
 * `tier.ts`: without `--allow-natives-syntax` a request does nothing; with it, V8 compiles the
 * requested function with TurboFan (seen in V8's own `--trace-opt` output of a child process).
 */
import assert from "node:assert/strict";
import { requestTurbofan, turbofanRequestsAvailable } from "../../../lib/dataplane/tier.ts";

const TIER = new URL("../../../lib/dataplane/tier.ts", import.meta.url).href;

/** A child Deno that requests TurboFan for a function it has called a few times. */
async function child(v8Flags: string[]): Promise<{ stdout: string; asked: number }> {
  const script = `
    import { requestTurbofan } from ${JSON.stringify(TIER)};
    function tierProbe(x) { return (x * 3) ^ 5; }
    let sum = 0;
    for (let i = 0; i < 5; i++) sum += tierProbe(i);
    const asked = requestTurbofan([tierProbe, tierProbe]);
    // Concurrent: compiled on a V8 thread, installed at a later call.
    for (let i = 0; i < 50; i++) {
      sum += tierProbe(i);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(JSON.stringify({ asked, sum }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", `--v8-flags=${["--trace-opt", ...v8Flags].join(",")}`, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const result = stdout.split("\n").find((line) => line.startsWith('{"asked"'));
  assert.ok(result !== undefined, stdout);
  return { stdout, asked: JSON.parse(result).asked };
}

Deno.test("without --allow-natives-syntax, requestTurbofan() asks for nothing", () => {
  // `deno test` runs without stf's V8 flags.
  assert.equal(turbofanRequestsAvailable(), false);
  assert.equal(requestTurbofan([() => 1]), 0);
});

Deno.test("with --allow-natives-syntax, a requested function is compiled by TurboFan, once", async () => {
  const withFlag = await child(["--allow-natives-syntax"]);
  assert.equal(withFlag.asked, 1, "the same function twice is asked for once");
  assert.match(
    withFlag.stdout,
    /completed optimizing (0x[0-9a-f]+ )?<JSFunction tierProbe[^>]*> \(target TURBOFAN/,
    withFlag.stdout,
  );
  // Without the request, five calls are far below V8's own threshold for TurboFan.
  const without = await child([]);
  assert.equal(without.asked, 0);
  assert.doesNotMatch(without.stdout, /JSFunction tierProbe[^>]*> \(target TURBOFAN/);
});
