import assert from "node:assert/strict";
import { renderRelayMetrics } from "../../../lib/metrics/relays.ts";

Deno.test("relay metrics: up, RTT in seconds, probes by result and the active relay, per relay", () => {
  const text = renderRelayMetrics([
    {
      address: "192.0.2.99",
      state: "down",
      active: false,
      rttMs: 5.5,
      lostInARow: 3,
      answered: 10,
      lost: 3,
    },
    {
      address: "192.0.2.98",
      state: "up",
      active: true,
      rttMs: 12,
      lostInARow: 0,
      answered: 13,
      lost: 0,
    },
    {
      address: "192.0.2.97",
      state: "unknown",
      active: false,
      rttMs: null,
      lostInARow: 0,
      answered: 0,
      lost: 0,
    },
  ]);
  const samples = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  assert.deepEqual(samples, [
    'stf_relay_up{relay="192.0.2.99"} 0',
    'stf_relay_up{relay="192.0.2.98"} 1',
    'stf_relay_up{relay="192.0.2.97"} 0',
    'stf_relay_rtt_seconds{relay="192.0.2.99"} 0.0055',
    'stf_relay_rtt_seconds{relay="192.0.2.98"} 0.012',
    'stf_relay_probes_total{relay="192.0.2.99",result="answered"} 10',
    'stf_relay_probes_total{relay="192.0.2.99",result="lost"} 3',
    'stf_relay_probes_total{relay="192.0.2.98",result="answered"} 13',
    'stf_relay_probes_total{relay="192.0.2.98",result="lost"} 0',
    'stf_relay_probes_total{relay="192.0.2.97",result="answered"} 0',
    'stf_relay_probes_total{relay="192.0.2.97",result="lost"} 0',
    'stf_relay_active{relay="192.0.2.99"} 0',
    'stf_relay_active{relay="192.0.2.98"} 1',
    'stf_relay_active{relay="192.0.2.97"} 0',
  ]);
  assert.ok(text.endsWith("\n"));
  assert.match(text, /^# TYPE stf_relay_probes_total counter$/m);
  assert.equal(renderRelayMetrics([]), "");
});
