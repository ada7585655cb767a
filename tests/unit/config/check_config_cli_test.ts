/**
 * The command line end to end (issue 6, "Bad configuration"): `stf check-config FILE` on every
 * broken fixture exits with status 2, prints nothing on standard output, and prints the
 * `file:line:col: path: message` lines on standard error; a missing file or a directory gives
 * the file and the reason.
 */
import assert from "node:assert/strict";
import { CASES } from "./_cases.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

async function checkConfig(file: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}main.ts`, "check-config", file],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** Runs `work` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

Deno.test("stf check-config exits 2 with file:line:col on every broken fixture", async () => {
  const cases = Object.entries(CASES);
  const results = await pool(cases, 4, ([name]) => checkConfig(`${FIXTURES}bad/${name}.conf`));
  cases.forEach(([name, [line, column, path, text]], i) => {
    const { code, stdout, stderr } = results[i];
    assert.equal(code, 2, `${name}: exit ${code}, stderr ${stderr}`);
    assert.equal(stdout, "", name);
    const prefix = `${FIXTURES}bad/${name}.conf:${line}:${column}: ${
      path === undefined ? "" : `${path}: `
    }`;
    const first = stderr.split("\n").find((l) => l.includes(`${name}.conf:`)) ?? "";
    assert.ok(first.includes(prefix), `${name}: ${JSON.stringify(stderr)} lacks ${prefix}`);
    assert.ok(first.includes(text), `${name}: ${JSON.stringify(stderr)} lacks ${text}`);
  });
});

Deno.test("stf check-config exits 2 with the file and the reason when it cannot read it", async () => {
  const missing = await checkConfig(`${FIXTURES}no-such-file.yaml`);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no-such-file\.yaml: Cannot read configuration: no such file/);
  const directory = await checkConfig(`${FIXTURES}bad`);
  assert.equal(directory.code, 2);
  assert.match(directory.stderr, /bad: Cannot read configuration: it is a directory/);
});

Deno.test("stf check-config prints the example's effective configuration and exits 0", async () => {
  const { code, stdout } = await checkConfig(`${ROOT}stf.example.yaml`);
  assert.equal(code, 0);
  assert.match(stdout, /^relays: \[\]$/m);
  assert.match(stdout, /^ {2}mtu: 1480$/m);
});
