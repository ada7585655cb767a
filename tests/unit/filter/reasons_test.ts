import assert from "node:assert/strict";
import {
  EGRESS_REASONS,
  INGRESS_REASONS,
  Reason,
  REASON_COUNT,
  REASON_DOCS,
  REASON_NAMES,
  reasonCode,
  reasonName,
} from "../../../lib/filter/mod.ts";
import { IN_REASONS, OUT_REASONS } from "../../lab/_reference.ts";

Deno.test("REASON_NAMES holds forwarded and exactly the drop reasons of docs/filtering.md", () => {
  const expected = new Set(["forwarded", ...OUT_REASONS, ...IN_REASONS]);
  assert.deepEqual(new Set(REASON_NAMES), expected);
  assert.equal(REASON_NAMES.length, expected.size, "no name twice");
  assert.equal(REASON_COUNT, REASON_NAMES.length);
  assert.equal(REASON_NAMES[Reason.Forwarded], "forwarded");
});

Deno.test("EGRESS_REASONS and INGRESS_REASONS list each direction's drops in table order", () => {
  assert.deepEqual(EGRESS_REASONS.map(reasonName), OUT_REASONS);
  assert.deepEqual(INGRESS_REASONS.map(reasonName), IN_REASONS);
});

Deno.test("every Reason constant names its code", () => {
  for (const [key, code] of Object.entries(Reason)) {
    const kebab = key.replace(/[A-Z]/g, (c, i) => (i === 0 ? "" : "-") + c.toLowerCase());
    assert.equal(REASON_NAMES[code], kebab, key);
  }
});

Deno.test("REASON_DOCS documents every reason with a one-line summary and an RFC", () => {
  assert.equal(REASON_DOCS.length, REASON_NAMES.length);
  REASON_DOCS.forEach((doc, code) => {
    assert.equal(doc.name, REASON_NAMES[code]);
    assert.ok(!doc.summary.includes("\n"));
    if (code !== Reason.Forwarded) assert.match(doc.source, /RFC \d+/);
  });
});

Deno.test("reasonName() and reasonCode() are inverse, and unknowns are refused", () => {
  REASON_NAMES.forEach((name, code) => {
    assert.equal(reasonName(code), name);
    assert.equal(reasonCode(name), code);
  });
  assert.throws(() => reasonName(99), RangeError);
  assert.equal(reasonCode("nope"), undefined);
});
