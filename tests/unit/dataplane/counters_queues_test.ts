import assert from "node:assert/strict";
import { Counters, SLOT_BYTES, SLOT_PMTU_ENTRIES, SLOTS } from "../../../lib/dataplane/counters.ts";
import { Reason } from "../../../lib/filter/mod.ts";

Deno.test("Counters with queues: each view writes its own block; the snapshot sums them", () => {
  const main = new Counters(undefined, { queues: 3 });
  assert.equal(main.queues, 3);
  const views = [0, 1, 2].map((queue) => new Counters(main.buffer, { queue }));
  views.forEach((v, q) => {
    v.values[Reason.Forwarded] = 10 * (q + 1); // egress packets
    v.values[SLOT_BYTES] = 1000 * (q + 1);
    v.values[SLOTS + Reason.Forwarded] = q + 1; // ingress packets
    v.values[SLOTS + Reason.Malformed] = 1;
    v.values[SLOT_PMTU_ENTRIES] = [4, 7, 5][q]; // each egress Worker's own table
  });
  const s = main.snapshot();
  assert.equal(s.egress.packets, 60);
  assert.equal(s.egress.bytes, 6000);
  assert.equal(s.ingress.packets, 6);
  assert.equal(s.ingress.dropped["malformed"], 3);
  assert.equal(s.egress.pathMtuEntries, 7, "the largest table, not the sum");
  assert.deepEqual(main.perQueue(), [
    { egress: 10, ingress: 1 },
    { egress: 20, ingress: 2 },
    { egress: 30, ingress: 3 },
  ]);
  assert.throws(() => new Counters(main.buffer, { queue: 3 }), RangeError);
  assert.equal(new Counters().queues, 1);
});
