import assert from "node:assert/strict";
import fc from "fast-check";
import { ANSWERS_TO_COME_BACK, type HealthEvent, RelayHealth } from "../../../lib/relay/health.ts";

const A = "192.0.2.1";
const B = "198.51.100.9";
const C = "203.0.113.7";

function loseTimes(health: RelayHealth, address: string, n: number): HealthEvent[] {
  const events: HealthEvent[] = [];
  for (let i = 0; i < n; i++) events.push(...health.lost(address));
  return events;
}

Deno.test("a new table has every relay unknown and the first one active", () => {
  const health = new RelayHealth([A, B], 3);
  assert.equal(health.active, A);
  assert.equal(health.allDown, false);
  assert.deepEqual(health.view().map((r) => [r.address, r.state, r.active]), [
    [A, "unknown", true],
    [B, "unknown", false],
  ]);
  assert.equal(new RelayHealth([], 3).active, null);
});

Deno.test("a relay goes down only after N probes lost in a row, and says how many", () => {
  const health = new RelayHealth([A, B], 3);
  assert.deepEqual(health.answered(A, 12.5), [
    { kind: "relay", address: A, from: "unknown", to: "up", rttMs: 12.5, lostInARow: 0 },
  ]);
  assert.deepEqual(loseTimes(health, A, 2), []);
  // An answer in between resets the count: hysteresis.
  assert.deepEqual(health.answered(A, 13), []);
  assert.deepEqual(loseTimes(health, A, 2), []);
  assert.deepEqual(health.lost(A), [
    { kind: "relay", address: A, from: "up", to: "down", rttMs: null, lostInARow: 3 },
    { kind: "active", from: A, to: B, allDown: false },
  ]);
  const a = health.view()[0];
  assert.equal(a.lostInARow, 3);
  assert.equal(a.answered, 2);
  assert.equal(a.lost, 5);
  assert.equal(a.rttMs, 13);
  // Further losses change nothing more.
  assert.deepEqual(loseTimes(health, A, 5), []);
});

Deno.test("a down relay needs two answers in a row to come back and take the traffic again", () => {
  assert.equal(ANSWERS_TO_COME_BACK, 2);
  const health = new RelayHealth([A, B], 1);
  health.answered(B, 5);
  health.lost(A);
  assert.equal(health.active, B);
  assert.deepEqual(health.answered(A, 20), []);
  assert.deepEqual(health.lost(A), []); // the lone answer is forgotten
  assert.deepEqual(health.answered(A, 21), []);
  assert.deepEqual(health.answered(A, 22), [
    { kind: "relay", address: A, from: "down", to: "up", rttMs: 22, lostInARow: 0 },
    { kind: "active", from: B, to: A, allDown: false },
  ]);
});

Deno.test("the active relay is the first one not down, in the order given", () => {
  const health = new RelayHealth([A, B, C], 1);
  health.answered(C, 1);
  health.answered(B, 1);
  assert.equal(health.active, A); // unknown still counts as usable
  health.lost(A);
  assert.equal(health.active, B);
  health.lost(B);
  assert.equal(health.active, C);
  health.answered(B, 1);
  assert.equal(health.active, C);
  health.answered(B, 1);
  assert.equal(health.active, B);
});

Deno.test("when every relay is down the first one stays active and it is said once", () => {
  const health = new RelayHealth([A, B], 2);
  const events = [...loseTimes(health, A, 2), ...loseTimes(health, B, 2)];
  assert.deepEqual(events.filter((e) => e.kind === "active"), [
    { kind: "active", from: A, to: B, allDown: false },
    { kind: "active", from: B, to: A, allDown: true },
  ]);
  assert.equal(health.active, A);
  assert.equal(health.allDown, true);
  assert.deepEqual(loseTimes(health, B, 3), []);
  // B coming back ends "all down" and takes the traffic.
  health.answered(B, 3);
  assert.deepEqual(health.answered(B, 3).at(-1), {
    kind: "active",
    from: A,
    to: B,
    allDown: false,
  });
  assert.equal(health.allDown, false);
});

Deno.test("a single relay that goes down stays active, flagged all down, and comes back", () => {
  const health = new RelayHealth([A], 3);
  const events = loseTimes(health, A, 3);
  assert.deepEqual(events.at(-1), { kind: "active", from: A, to: A, allDown: true });
  health.answered(A, 1);
  assert.deepEqual(health.answered(A, 1).at(-1), {
    kind: "active",
    from: A,
    to: A,
    allDown: false,
  });
});

Deno.test("reload keeps the state of relays still listed, adds new ones unknown, takes the new order", () => {
  const health = new RelayHealth([A, B], 1);
  health.answered(A, 1);
  health.lost(B);
  assert.deepEqual(health.reload([B, C, A], 1), [
    { kind: "active", from: A, to: C, allDown: false },
  ]);
  assert.deepEqual(health.view().map((r) => [r.address, r.state, r.active]), [
    [B, "down", false],
    [C, "unknown", true],
    [A, "up", false],
  ]);
  assert.deepEqual(health.reload([A], 1), [{ kind: "active", from: C, to: A, allDown: false }]);
  assert.deepEqual(health.view().map((r) => r.address), [A]);
  assert.deepEqual(health.reload([], 1), [{ kind: "active", from: A, to: null, allDown: false }]);
  assert.equal(health.active, null);
  assert.deepEqual(health.answered(A, 1), []); // forgotten
});

Deno.test("results for relays not in the list are ignored, and a bad threshold is refused", () => {
  const health = new RelayHealth([A], 3);
  assert.deepEqual(health.lost(B), []);
  assert.deepEqual(health.answered(B, 1), []);
  assert.throws(() => new RelayHealth([A], 0), RangeError);
  assert.throws(() => health.reload([A], 1.5), RangeError);
});

Deno.test("whatever the probe results, the active relay is the first not down, or the first (fast-check)", () => {
  const relays = [A, B, C];
  const step = fc.record({
    relay: fc.constantFrom(...relays),
    answered: fc.boolean(),
  });
  fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(step), (failures, steps) => {
    const health = new RelayHealth(relays, failures);
    let active = health.active;
    for (const s of steps) {
      const events = s.answered ? health.answered(s.relay, 1) : health.lost(s.relay);
      for (const e of events) if (e.kind === "active") active = e.to;
      const view = health.view();
      const expected = view.find((r) => r.state !== "down")?.address ?? A;
      assert.equal(health.active, expected);
      assert.equal(active, expected, "the events tell every change of active relay");
      for (const r of view) {
        if (r.lostInARow >= failures) assert.equal(r.state, "down");
      }
    }
  }));
});
