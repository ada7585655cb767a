import assert from "node:assert/strict";
import { type PrefixChange, runPrefixHook } from "../../../lib/commands/_prefix_hook.ts";

const CHANGE: PrefixChange = {
  oldPrefix: "2002:c633:640a::/48",
  newPrefix: "2002:c633:6414::/48",
  oldIpv4: "198.51.100.10",
  newIpv4: "198.51.100.20",
  interface: "stf0",
};

async function script(body: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "stf-hook-", suffix: ".sh" });
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("the hook gets OLD_PREFIX NEW_PREFIX as arguments and the STF_* environment", async () => {
  const out = await Deno.makeTempFile();
  const hook = await script(
    `printf '%s|%s|%s|%s|%s|%s|%s|%s\\n' "$#" "$1" "$2" "$STF_OLD_PREFIX" "$STF_NEW_PREFIX" ` +
      `"$STF_OLD_IPV4" "$STF_NEW_IPV4" "$STF_INTERFACE" > ${out}`,
  );
  try {
    const result = await runPrefixHook(hook, CHANGE);
    assert.deepEqual(result, { ok: true, code: 0, timedOut: false });
    assert.equal(
      (await Deno.readTextFile(out)).trim(),
      "2|2002:c633:640a::/48|2002:c633:6414::/48|2002:c633:640a::/48|2002:c633:6414::/48|" +
        "198.51.100.10|198.51.100.20|stf0",
    );
  } finally {
    await Deno.remove(hook);
    await Deno.remove(out);
  }
});

Deno.test("the hook's output reaches the caller line by line, from both streams", async () => {
  const hook = await script(`echo one; echo two >&2; printf 'three'`);
  const lines: string[] = [];
  try {
    const result = await runPrefixHook(hook, CHANGE, {
      onOutput: (line, stream) => lines.push(`${stream}:${line}`),
    });
    assert.equal(result.ok, true);
    assert.deepEqual(lines.sort(), ["stderr:two", "stdout:one", "stdout:three"]);
  } finally {
    await Deno.remove(hook);
  }
});

Deno.test("a failing hook is a result with its status, not an exception", async () => {
  const hook = await script(`exit 3`);
  try {
    const result = await runPrefixHook(hook, CHANGE);
    assert.deepEqual(result, {
      ok: false,
      code: 3,
      timedOut: false,
      error: "exited with status 3",
    });
  } finally {
    await Deno.remove(hook);
  }
});

Deno.test("a hook that hangs is killed after the timeout", async () => {
  const hook = await script(`exec sleep 30`);
  try {
    const result = await runPrefixHook(hook, CHANGE, { timeoutMs: 200 });
    assert.equal(result.ok, false);
    assert.equal(result.timedOut, true);
    assert.match(result.error!, /killed after 200 ms/);
  } finally {
    await Deno.remove(hook);
  }
});

Deno.test("a hook that does not exist is reported", async () => {
  const result = await runPrefixHook("/nonexistent/stf-hook", CHANGE);
  assert.equal(result.ok, false);
  assert.match(result.error!, /^cannot run it: /);
});

Deno.test({
  name: "a hook that leaves a daemon holding its output open is done when it exits",
  // The daemon's pipe is still open when the test ends, by design.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const hook = await script(`echo starting; sleep 5 & exit 0`);
    const lines: string[] = [];
    try {
      const started = performance.now();
      const result = await runPrefixHook(hook, CHANGE, { onOutput: (l) => lines.push(l) });
      assert.equal(result.ok, true);
      assert.deepEqual(lines, ["starting"]);
      assert.ok(performance.now() - started < 4000, "did not wait for the daemon");
    } finally {
      await Deno.remove(hook);
    }
  },
});
