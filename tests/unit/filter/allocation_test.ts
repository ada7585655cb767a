import assert from "node:assert/strict";

Deno.test("the per-packet paths allocate nothing: no garbage collection in a million packets", async () => {
  const probe = new URL("./_alloc_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--trace-gc", probe],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const measured = text.slice(text.indexOf("probe start"), text.indexOf("probe done"));
  assert.ok(text.includes("probe done"), text);
  const collections = measured.split("\n").filter((line) =>
    /Scavenge|Mark-Compact|Mark-sweep/i.test(line)
  );
  assert.deepEqual(collections, []);
});
