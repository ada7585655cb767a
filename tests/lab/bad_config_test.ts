/**
 * Every broken configuration file (tests/unit/config/fixtures/bad) given to `stf up` and
 * `stf run` in a namespace: exit 2, the `file:line:col` message of the fixture, and the
 * interfaces, addresses and routes untouched (issue: bad configuration, least surprise).
 */
import assert from "node:assert/strict";
import { CASES } from "../unit/config/_cases.ts";
import { labTest, Netns, stfArgv } from "./_lab.ts";

const FIXTURES = new URL("../unit/config/fixtures/bad/", import.meta.url).pathname;

async function snapshot(ns: Netns): Promise<string> {
  const parts = await Promise.all([
    ns.run`ip -j link`.text(),
    ns.run`ip -j addr`.text(),
    ns.run`ip -j -6 route`.text(),
  ]);
  return parts.join("\n");
}

labTest(
  "stf up and stf run refuse every broken configuration with exit 2 and touch nothing",
  async () => {
    await using ns = await Netns.create("stfbad");
    await ns.run`ip link add wan0 type veth peer name wan1`;
    await ns.run`ip link set wan0 up`;
    await ns.run`ip addr add 198.51.100.10/24 dev wan0`;
    const before = await snapshot(ns);
    const names = Object.keys(CASES);
    assert.ok(names.length >= 30, `${names.length} broken files`);
    for (const name of names) {
      const [line, column] = CASES[name];
      const file = `${FIXTURES}${name}.conf`;
      // `run` for a third of them: it would start the forwarder if the file were accepted.
      const command = names.indexOf(name) % 3 === 0 ? "run" : "up";
      const result = await ns.run`${stfArgv(command, "--config", file)}`.noThrow().quiet();
      assert.equal(result.code, 2, `${command} ${name}: ${result.stderr}`);
      assert.ok(
        result.stderr.includes(`${file}:${line}:${column}:`),
        `${command} ${name} names ${line}:${column}: ${result.stderr}`,
      );
      assert.equal(result.stdout, "", `${command} ${name} prints nothing on stdout`);
    }
    for (const missing of [`${FIXTURES}no-such-file.yaml`, FIXTURES]) {
      const result = await ns.run`${stfArgv("up", "--config", missing)}`.noThrow().quiet();
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(missing), result.stderr);
    }
    assert.equal(await snapshot(ns), before, "the namespace is untouched");
  },
);
