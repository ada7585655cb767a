import assert from "node:assert/strict";
import { policyWith } from "./_policy.ts";
import { egress, ingress } from "./_policy.ts";

// docs/filtering.md "Known answers" (the first rows): own4 = 9.0.0.2, own6to4 = 2002:900:2::/48,
// relay = 192.88.99.1, router mode.
const IN: [string, string, string, string, string][] = [
  ["8.0.0.1", "9.0.0.2", "2002:800:1::1", "2002:900:2::1", "forwarded"],
  ["8.0.0.1", "9.0.0.2", "2002:800:99::1", "2002:900:2::1", "inner-src-spoofed"],
  ["8.0.0.1", "9.0.0.2", "2001:db8::1", "2002:900:2::1", "forwarded"],
  ["8.0.0.1", "9.0.0.2", "2001:db8::1", "2001:db8::2", "native-to-native"],
  ["10.0.0.1", "9.0.0.2", "2002:a00:1::1", "2002:900:2::1", "outer-src-invalid"],
  ["8.0.0.1", "9.0.0.2", "fe80::1", "2002:900:2::1", "inner-src-invalid"],
];
const OUT: [string, string, string][] = [
  ["2002:900:2::1", "2002:800:1::1", "sent to 8.0.0.1"],
  ["2002:900:2::1", "2001:db8::1", "sent to 192.88.99.1"],
  ["2001:db8:1::1", "2002:800:1::1", "sent to 8.0.0.1"],
  ["2002:800:1::1", "2001:db8::1", "src-not-own"],
  ["2002:900:2::1", "2002:e000:1::1", "dst-invalid"],
  ["2001:db8::1", "2001:db8::2", "native-to-native"],
];

const policy = policyWith();

for (const [src4, dst4, src6, dst6, expected] of IN) {
  Deno.test(`known answer: IN ${src4} → ${dst4}, ${src6} → ${dst6} is ${expected}`, () => {
    assert.equal(ingress(policy, [src4, dst4], [src6, dst6]), expected);
  });
}

for (const [src6, dst6, expected] of OUT) {
  Deno.test(`known answer: OUT ${src6} → ${dst6} is ${expected}`, () => {
    const out = egress(policy, src6, dst6);
    const got = out.reason === "forwarded" ? `sent to ${out.to}` : out.reason;
    assert.equal(got, expected);
  });
}
