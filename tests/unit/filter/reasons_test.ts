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

// Every reason name of FILTER_RULES.md, copied from its tables.
const OUT = [
  "src-invalid",
  "dst-invalid",
  "src-not-own",
  "dst-own-ipv4",
  "dst-ipv4-invalid",
  "native-to-native",
  "no-relay",
  "too-big",
];
const IN = [
  "decap-disabled",
  "malformed",
  "outer-src-invalid",
  "outer-dst-not-own",
  "inner-src-invalid",
  "inner-dst-invalid",
  "inner-dst-mismatch",
  "inner-src-spoofed",
  "native-to-native",
  "inner-dst-not-ours",
  "inner-src-own-prefix",
  "relay-loop",
  "peer-not-allowed",
  "relay-not-allowed",
  "ecn-ce-not-ect",
];

Deno.test("REASON_NAMES holds forwarded and exactly the drop reasons of FILTER_RULES.md", () => {
  const expected = new Set(["forwarded", ...OUT, ...IN, "malformed"]);
  assert.deepEqual(new Set(REASON_NAMES), expected);
  assert.equal(REASON_NAMES.length, expected.size, "no name twice");
  assert.equal(REASON_COUNT, REASON_NAMES.length);
  assert.equal(REASON_NAMES[Reason.Forwarded], "forwarded");
});

Deno.test("EGRESS_REASONS and INGRESS_REASONS list each direction's drops in table order", () => {
  assert.deepEqual(EGRESS_REASONS.map(reasonName), ["malformed", ...OUT]);
  assert.deepEqual(INGRESS_REASONS.map(reasonName), IN);
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
