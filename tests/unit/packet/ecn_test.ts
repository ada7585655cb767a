import assert from "node:assert/strict";
import {
  applyDecapsulationEcn,
  decapsulateEcn,
  ECN_CE,
  ECN_DROP,
  ECN_ECT0,
  ECN_ECT1,
  ECN_NOT_ECT,
  encapsulateEcn,
  ipv6Ecn,
} from "../../../lib/packet/mod.ts";
import { ipv6Packet } from "./_build.ts";

// RFC 6040 §4.2 Figure 4, transcribed row by row: [inner, outer, result].
const N = "Not-ECT", E0 = "ECT(0)", E1 = "ECT(1)", CE = "CE", DROP = "drop";
const FIGURE_4: [string, string, string][] = [
  [N, N, N],
  [N, E0, N],
  [N, E1, N],
  [N, CE, DROP],
  [E0, N, E0],
  [E0, E0, E0],
  [E0, E1, E1],
  [E0, CE, CE],
  [E1, N, E1],
  [E1, E0, E1],
  [E1, E1, E1],
  [E1, CE, CE],
  [CE, N, CE],
  [CE, E0, CE],
  [CE, E1, CE],
  [CE, CE, CE],
]; // deno-fmt-ignore
const CODE: Record<string, number> = {
  [N]: 0b00,
  [E1]: 0b01,
  [E0]: 0b10,
  [CE]: 0b11,
  [DROP]: ECN_DROP,
};

Deno.test("the ECN constants are the RFC 3168 §5 codepoints", () => {
  assert.deepEqual([ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE], [0, 1, 2, 3]);
});

for (const [inner, outer, expected] of FIGURE_4) {
  Deno.test(`decapsulateEcn() gives ${expected} for outer ${outer} and inner ${inner} (RFC 6040 §4.2)`, () => {
    assert.equal(decapsulateEcn(CODE[outer], CODE[inner]), CODE[expected]);
  });
}

Deno.test("the RFC 6040 §4.2 table has 16 rows and exactly one drop", () => {
  assert.equal(FIGURE_4.length, 16);
  let drops = 0;
  for (let outer = 0; outer < 4; outer++) {
    for (let inner = 0; inner < 4; inner++) if (decapsulateEcn(outer, inner) === ECN_DROP) drops++;
  }
  assert.equal(drops, 1);
});

Deno.test("applyDecapsulationEcn() rewrites the inner traffic class in place for all 16 cases", () => {
  for (const [inner, outer, expected] of FIGURE_4) {
    const tc = (0x2c << 2) | CODE[inner];
    const p = ipv6Packet("2002:800:1::1", "2002:900:2::1", {
      trafficClass: tc,
      flowLabel: 0x12345,
    });
    const before = p.slice();
    const ok = applyDecapsulationEcn(CODE[outer], p, 0);
    if (expected === DROP) {
      assert.equal(ok, false);
      assert.deepEqual(p, before);
    } else {
      assert.equal(ok, true);
      assert.equal(ipv6Ecn(p, 0), CODE[expected]);
      // Only the ECN bits may change: version, DSCP, flow label and the rest stay.
      const mask = p.slice();
      mask[1] &= 0xcf;
      const beforeMasked = before.slice();
      beforeMasked[1] &= 0xcf;
      assert.deepEqual(mask, beforeMasked);
    }
  }
});

Deno.test("encapsulateEcn() copies the inner ECN, CE included (RFC 6040 §4.1 normal mode)", () => {
  for (const ecn of [0, 1, 2, 3]) assert.equal(encapsulateEcn(ecn), ecn);
});
