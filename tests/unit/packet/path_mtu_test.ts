import assert from "node:assert/strict";
import fc from "fast-check";
import { PathMtuTable } from "../../../lib/packet/mod.ts";

Deno.test("PathMtuTable returns 0 for an unknown peer and the MTU for a known one", () => {
  const t = new PathMtuTable();
  assert.equal(t.get(1, 0), 0);
  t.update(1, 1400, 0);
  assert.equal(t.get(1, 10), 1400);
  assert.equal(t.size, 1);
});

Deno.test("PathMtuTable entries expire after their lifetime", () => {
  const t = new PathMtuTable({ lifetime: 1000 });
  t.update(0xcb007109, 1400, 5000);
  assert.equal(t.get(0xcb007109, 5999), 1400);
  assert.equal(t.get(0xcb007109, 6000), 0);
  assert.equal(t.size, 0);
});

Deno.test("PathMtuTable never raises an unexpired entry but lowers it", () => {
  const t = new PathMtuTable({ lifetime: 1000 });
  t.update(7, 1400, 0);
  t.update(7, 1450, 10);
  assert.equal(t.get(7, 20), 1400);
  t.update(7, 1300, 30);
  assert.equal(t.get(7, 40), 1300);
  t.update(7, 1450, 2000); // expired: a new report stands
  assert.equal(t.get(7, 2001), 1450);
});

Deno.test("PathMtuTable evicts the oldest entry when full", () => {
  const t = new PathMtuTable({ maxEntries: 3 });
  t.update(1, 1300, 1);
  t.update(2, 1300, 2);
  t.update(3, 1300, 3);
  t.update(4, 1300, 4);
  assert.equal(t.size, 3);
  assert.equal(t.get(1, 5), 0);
  for (const k of [2, 3, 4]) assert.equal(t.get(k, 5), 1300);
});

Deno.test("innerMtu() is the path MTU − 20, capped by the link MTU and never below 1280 (RFC 4213 §3.4)", () => {
  const t = new PathMtuTable();
  assert.equal(t.innerMtu(9, 0, 1480), 1480);
  t.update(9, 1400, 0);
  assert.equal(t.innerMtu(9, 0, 1480), 1380);
  assert.equal(t.innerMtu(9, 0, 1300), 1300);
  t.update(9, 576, 0);
  assert.equal(t.innerMtu(9, 0, 1480), 1280);
});

Deno.test("PathMtuTable behaves like a simple map model under random operations", () => {
  const op = fc.record({
    kind: fc.constantFrom("update", "get", "delete"),
    key: fc.integer({ min: 0, max: 40 }).map((k) => (k * 0x01010101) >>> 0),
    mtu: fc.integer({ min: 68, max: 1500 }),
    dt: fc.integer({ min: 0, max: 300 }),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const max = 16;
      const lifetime = 1000;
      const t = new PathMtuTable({ maxEntries: max, lifetime });
      const model = new Map<number, { mtu: number; time: number }>();
      let now = 0;
      for (const o of ops) {
        now += o.dt;
        // Expired entries are gone in the model.
        for (const [k, v] of model) if (now - v.time >= lifetime) model.delete(k);
        if (o.kind === "update") {
          const e = model.get(o.key);
          if (e !== undefined) {
            if (o.mtu < e.mtu) model.set(o.key, { mtu: o.mtu, time: now });
          } else {
            if (model.size >= max) {
              let oldest: number | undefined;
              for (const [k, v] of model) {
                if (oldest === undefined || v.time < model.get(oldest)!.time) oldest = k;
              }
              model.delete(oldest!);
            }
            model.set(o.key, { mtu: o.mtu, time: now });
          }
          t.update(o.key, o.mtu, now);
        } else if (o.kind === "get") {
          assert.equal(t.get(o.key, now), model.get(o.key)?.mtu ?? 0);
        } else {
          t.delete(o.key);
          model.delete(o.key);
        }
      }
      for (let k = 0; k <= 40; k++) {
        const key = (k * 0x01010101) >>> 0;
        assert.equal(t.get(key, now), model.get(key)?.mtu ?? 0);
      }
    }),
    { numRuns: 500 },
  );
});
