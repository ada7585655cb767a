import assert from "node:assert/strict";
import { generatedFiles, REPOSITORY_ROOT } from "../../../lib/config/generate.ts";
import { configJsonSchema } from "../../../lib/config/mod.ts";

Deno.test("schema/stf.schema.json and docs/configuration.md are what generate.ts writes", async () => {
  for (const file of await generatedFiles()) {
    const committed = await Deno.readTextFile(`${REPOSITORY_ROOT}${file.path}`);
    assert.equal(
      committed,
      file.text,
      `${file.path} is stale: run \`deno run -A lib/config/generate.ts\``,
    );
  }
});

Deno.test("configJsonSchema() is strict and carries the defaults", () => {
  const schema = configJsonSchema() as {
    additionalProperties: boolean;
    properties: Record<string, { default?: unknown; properties?: Record<string, unknown> }>;
  };
  assert.equal(schema.additionalProperties, false);
  assert.equal(schema.properties.relay.default, "none");
  assert.deepEqual(schema.properties.relays.default, []);
  assert.equal(schema.properties.ipv4.default, "auto");
  assert.deepEqual(schema.properties.interface.properties?.mtu, {
    default: 1480,
    description: "Tunnel MTU: 1280..1480, the IPv4 MTU of 1500 less 20 bytes (RFC 4213 §3.2)",
    type: "integer",
    minimum: 1280,
    maximum: 1480,
  });
});

Deno.test("docs/configuration.md has a row for every key of the schema", async () => {
  const text = await Deno.readTextFile(`${REPOSITORY_ROOT}docs/configuration.md`);
  for (
    const key of [
      "interface.mtu",
      "ipv4",
      "relay",
      "relays",
      "relay-probe-interval",
      "6rd.ipv4-mask-len",
      "log.level",
      "user",
    ]
  ) {
    assert.match(text, new RegExp(`^\\| \`${key.replaceAll(".", "\\.")}\` +\\|`, "m"), key);
  }
});
