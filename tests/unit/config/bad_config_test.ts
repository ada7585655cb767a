/**
 * Broken configuration files (tests/unit/config/fixtures/bad/*.conf, named .conf so that
 * `deno fmt` leaves the broken YAML alone): each must be refused with a `ConfigError` whose
 * first line is `file:line:col: path: message`, at the exact place of the mistake.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/errors.ts";
import { loadConfig } from "../../../lib/config/mod.ts";
import { CASES } from "./_cases.ts";

const FIXTURES = new URL("./fixtures/bad/", import.meta.url).pathname;

Deno.test("every fixture of a broken configuration has a case, and there are at least 30", () => {
  const files = [...Deno.readDirSync(FIXTURES)].map((e) => e.name.replace(/\.conf$/, "")).sort();
  assert.deepEqual(files, Object.keys(CASES).sort());
  assert.ok(files.length >= 30);
});

for (const [name, [line, column, path, text]] of Object.entries(CASES)) {
  Deno.test(`loadConfig() refuses ${name}.conf at ${line}:${column}${path ? ` (${path})` : ""}`, async () => {
    const file = `${FIXTURES}${name}.conf`;
    const error = await loadConfig(file).then(
      () => assert.fail(`${name}.conf was accepted`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.file, file);
    assert.equal(error.line, line);
    assert.equal(error.column, column);
    const first = error.message.split("\n")[0];
    const prefix = `${file}:${line}:${column}: ${path === undefined ? "" : `${path}: `}`;
    assert.ok(first.startsWith(prefix), `${JSON.stringify(first)} should start with ${prefix}`);
    assert.ok(first.includes(text), `${JSON.stringify(first)} should include ${text}`);
    // Deno style: no trailing period.
    assert.ok(!first.endsWith("."), first);
  });
}

Deno.test("loadConfig() lists every problem of a file, one line each, in file order", async () => {
  const file = `${FIXTURES}several_problems.conf`;
  const error = await loadConfig(file).catch((e: unknown) => e);
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.message.split("\n").map((l) => l.slice(file.length + 1).split(": ")[0]), [
    "2:8",
    "3:9",
    "4:7",
    "5:6",
  ]);
  assert.match(error.message, /:3:9: interface\.name: Cannot use "" as an interface name/);
  assert.match(error.message, /:4:7: mode: Cannot use "bridge"/);
  assert.match(error.message, /:5:6: ttl: Cannot use 0: expected 1\.\.255/);
});

/**
 * Cases whose place is a node of a well-formed document, checked against PyYAML. Not those
 * where stf deliberately points elsewhere: a missing key or an empty value (at its key).
 */
const NODE_CASES = Object.entries(CASES).filter(([name, [, , path]]) =>
  path !== undefined && path !== "(top level)" &&
  ![
    "syntax_unclosed_flow",
    "duplicate_keys",
    "unknown_tag",
    "sixrd_missing_prefix",
    "interface_null",
  ].includes(name)
);

const PYYAML_MARKS = `
import json, sys, yaml
out = []
for file, path, at_key in json.load(sys.stdin):
    node = yaml.compose(open(file))
    mark = node.start_mark
    for i, part in enumerate(path):
        if isinstance(node, yaml.MappingNode):
            key, value = next((k, v) for k, v in node.value if k.value == part)
            node, mark = value, (key.start_mark if at_key and i == len(path) - 1 else value.start_mark)
        else:
            node = node.value[part]
            mark = node.start_mark
    out.append([mark.line + 1, mark.column + 1])
print(json.dumps(out))
`;

Deno.test("the positions of problems agree with PyYAML's node marks (an independent parser)", async (t) => {
  const python = "/usr/bin/python3";
  const probe = await new Deno.Command(python, { args: ["-c", "import yaml"], stderr: "null" })
    .output().catch(() => undefined);
  if (probe === undefined || !probe.success) {
    await t.step({ name: "skipped: python3 with PyYAML is not installed", ignore: true, fn() {} });
    return;
  }
  const queries = NODE_CASES.map(([name, [, , path, text]]) => [
    `${FIXTURES}${name}.conf`,
    path!.split(/\.|(?=\[)/).map((p) => p.startsWith("[") ? Number(p.slice(1, -1)) : p),
    text.startsWith("Unknown key"),
  ]);
  const child = new Deno.Command(python, {
    args: ["-c", PYYAML_MARKS],
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(queries)));
  await writer.close();
  const output = await child.output();
  assert.ok(output.success);
  const marks = JSON.parse(new TextDecoder().decode(output.stdout)) as [number, number][];
  assert.ok(marks.length >= 30, `only ${marks.length} cases compared`);
  NODE_CASES.forEach(([name, [line, column]], i) => {
    assert.deepEqual([line, column], marks[i], name);
  });
});
