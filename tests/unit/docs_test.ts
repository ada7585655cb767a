/**
 * docs/json-output.md and docs/freebsd-linux-mapping.md against the program: every field a
 * command prints with `--json` is documented in its section, and the mapping's examples are
 * valid configuration and correct 6to4 arithmetic (checked with ipv6calc).
 */
import assert from "node:assert/strict";
import { readStatus } from "../../lib/commands/status.ts";
import type { ForwarderStatus, RelayStatus } from "../../lib/control/mod.ts";
import { Counters } from "../../lib/dataplane/counters.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const JSON_DOC = Deno.readTextFileSync(`${ROOT}docs/json-output.md`);
const MAPPING_DOC = Deno.readTextFileSync(`${ROOT}docs/freebsd-linux-mapping.md`);

async function stfJson(...args: string[]): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.ok(stdout.trim().startsWith("{") || stdout.trim().startsWith("["), stdout);
  return JSON.parse(stdout);
}

/** The text of the `## …` section whose heading contains `title`, up to the next one. */
function section(title: string): string {
  const start = JSON_DOC.split("\n## ").find((s) => s.startsWith(title));
  assert.ok(start !== undefined, `no section "${title}" in docs/json-output.md`);
  return start;
}

function assertDocumented(title: string, value: unknown): void {
  const text = section(title);
  for (const key of Object.keys(value as Record<string, unknown>)) {
    assert.ok(text.includes(`| \`${key}\``), `${title}: field "${key}" is not documented`);
  }
}

Deno.test("docs/json-output.md documents every field of stf prefix --json", async () => {
  assertDocumented(
    "`stf prefix",
    await stfJson("prefix", "192.0.2.1", "--subnet", "1", "--interface-id", "::1", "--json"),
  );
});

Deno.test("docs/json-output.md documents every field of stf decode --json", async () => {
  assertDocumented("`stf decode", await stfJson("decode", "2002:c000:201:1::1", "--json"));
});

Deno.test("docs/json-output.md documents every field of stf down --dry-run --json", async () => {
  assertDocumented("`stf down", await stfJson("down", "--name", "stfdocs9", "--dry-run", "--json"));
});

Deno.test("docs/json-output.md documents every field of stf status --json", async () => {
  // Through the module until `stf status` is wired into the CLI.
  const doc = await readStatus({ name: "stfdocs9", controlSocket: "/nonexistent/x.sock" });
  assertDocumented("`stf status", doc);
  assertDocumented(
    "`stf status",
    {
      pid: 1,
      version: "",
      mode: "",
      ipv4: "",
      address: "",
      prefix: "",
      ownIpv4Unavailable: null,
      addressChanges: 0,
      prefixHookFailures: 0,
      startedAt: "",
      counters: new Counters().snapshot(),
      queues: new Counters().perQueue(),
      relay: null,
      relays: [],
    } satisfies Omit<ForwarderStatus, "name">,
  );
  assertDocumented(
    "`stf status",
    { address: "", state: "up", active: true, rttMs: 1, lostInARow: 0 } satisfies RelayStatus,
  );
});

Deno.test("docs/json-output.md documents every counter field", () => {
  const counters = new Counters().snapshot();
  const text = section("`stf status");
  for (const key of Object.keys(counters.egress)) {
    assert.ok(text.includes(`| \`${key}\``), `counter field "${key}" is not documented`);
  }
});

Deno.test("docs/freebsd-linux-mapping.md names the rc.conf variables and flags of stf(4)", () => {
  for (
    const name of [
      "stf_interface_ipv4addr",
      "stf_interface_ipv4plen",
      "stf_interface_ipv6_ifid",
      "stf_interface_ipv6_slaid",
      "ipv6_gateway_enable",
      "link0",
      "link1",
      "link2",
      "mode sit remote any local",
      "ip -6 route add 2002::/16 dev",
    ]
  ) {
    assert.ok(MAPPING_DOC.includes(name), name);
  }
});

Deno.test("docs/freebsd-linux-mapping.md: the stf.yaml example is a valid configuration", async () => {
  const yaml = /```yaml\n([\s\S]*?)```/.exec(MAPPING_DOC)?.[1];
  assert.ok(yaml !== undefined);
  const file = Deno.makeTempFileSync({ suffix: ".yaml" });
  try {
    Deno.writeTextFileSync(file, yaml);
    const config = await stfJson("check-config", file, "--json") as Record<string, unknown>;
    assert.deepEqual(config.relays, ["192.0.2.99"]);
    assert.equal((config.interface as Record<string, unknown>).subnet, 1);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("docs/freebsd-linux-mapping.md: the 6to4 addresses in the examples are right (ipv6calc)", () => {
  const conv = (ipv4: string) => {
    const out = new Deno.Command("ipv6calc", {
      args: ["-q", "--action", "conv6to4", "--in", "ipv4", ipv4, "--out", "ipv6"],
    }).outputSync();
    return new TextDecoder().decode(out.stdout).trim().replace(/\/\d+$/, "");
  };
  // The relay as FreeBSD's ipv6_defaultrouter, and the own prefix.
  assert.ok(MAPPING_DOC.includes(`ipv6_defaultrouter="${conv("192.0.2.99")}"`));
  assert.ok(
    MAPPING_DOC.replace(/\s+/g, " ").includes(`6to4 prefix \`${conv("198.51.100.10")}/48\``),
  );
});

Deno.test("docs/json-output.md documents every field of stf doctor --json", async () => {
  // No relay, no peer: doctor sends nothing, it only reads this host.
  const doc = await stfJson(
    "doctor",
    "--name",
    "stfdocs9",
    "--control-socket",
    "/nonexistent/x.sock",
    "--json",
  ) as { checks: Record<string, unknown>[] };
  assertDocumented("`stf doctor", doc);
  assert.ok(doc.checks.length >= 9);
  for (const check of doc.checks) assertDocumented("`stf doctor", check);
});
