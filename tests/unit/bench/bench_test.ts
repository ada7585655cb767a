import assert from "node:assert/strict";
import { parseBenchArgs, type RunRecord, summarize, variantSpecs } from "../../../bench/bench.ts";

Deno.test("parseBenchArgs() gives the documented defaults", () => {
  assert.deepEqual(parseBenchArgs([]), {
    runs: 3,
    durationSeconds: 5,
    warmUpSeconds: 1,
    only: undefined,
    out: "bench-results.json",
    udpBitrate: "0",
    udpBuffer: "2M",
    udpFixedPps: 10_000,
  });
});

Deno.test("parseBenchArgs() reads every option and splits --only on commas", () => {
  const o = parseBenchArgs([
    "--runs",
    "5",
    "--duration=2",
    "--warm-up",
    "0",
    "--only",
    "native, socat,cfwd",
    "--out",
    "x.json",
    "--udp-bitrate",
    "500M",
    "--udp-fixed-kpps",
    "2.5",
    "--udp-buffer=0",
  ]);
  assert.deepEqual(o, {
    runs: 5,
    durationSeconds: 2,
    warmUpSeconds: 0,
    only: ["native", "socat", "cfwd"],
    out: "x.json",
    udpBitrate: "500M",
    udpBuffer: "0",
    udpFixedPps: 2500,
  });
  assert.equal(parseBenchArgs(["-h"]), "help");
});

Deno.test("parseBenchArgs() refuses bad numbers and unknown options", () => {
  assert.throws(() => parseBenchArgs(["--runs", "0"]), {
    name: "RangeError",
    message: 'Cannot use "0" for --runs: expected a positive integer',
  });
  assert.throws(() => parseBenchArgs(["--duration", "1.5"]), RangeError);
  assert.throws(() => parseBenchArgs(["--warm-up=-1"]), {
    name: "RangeError",
    message: 'Cannot use "-1" for --warm-up: expected an integer ≥ 0',
  });
  assert.throws(() => parseBenchArgs(["--udp-bitrate", "fast"]), RangeError);
  assert.throws(() => parseBenchArgs(["--udp-fixed-kpps=-1"]), RangeError);
  assert.throws(() => parseBenchArgs(["--udp-buffer", "1.5M"]), {
    name: "RangeError",
    message: 'Cannot use "1.5M" for --udp-buffer: expected e.g. 0, 512K, 2M',
  });
  assert.throws(() => parseBenchArgs(["--bogus"]), TypeError);
});

Deno.test("variantSpecs() adds the variants of STF_BENCH_VARIANTS as stf rows", () => {
  const specs = variantSpecs('[{"name":"stf-no-batch","flags":["--no-batch"]}]');
  assert.deepEqual(specs.at(-1), { name: "stf-no-batch", kind: "stf", flags: ["--no-batch"] });
  assert.ok(specs.every((s) => s.kind === "stf"));
});

Deno.test("variantSpecs() refuses a variable that is not an array of { name, flags }", () => {
  assert.throws(() => variantSpecs('{"name":"x"}'), SyntaxError);
  assert.throws(() => variantSpecs('[{"name":"x","flags":[1]}]'), SyntaxError);
  assert.throws(() => variantSpecs("not json"), SyntaxError);
});

function run(n: number, gbps: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    forwarder: "stf",
    run: n,
    startedAt: "2026-01-01T00:00:00Z",
    rssKbAfterTests: [],
    tcp1: { gbps, retransmits: n * 10, cpuSeconds: 1 },
    tcp4: { gbps: gbps * 2, retransmits: 0, cpuSeconds: 1 },
    udp: { pps: 50_000, packetsReceived: 250_000, packetsSent: 300_000, lossPercent: 10 },
    udpFixed: {
      pps: 10_000,
      packetsReceived: 50_000,
      packetsSent: 50_000,
      lossPercent: 0,
      cpuSeconds: 0.5,
    },
    ping: {
      transmitted: 20,
      received: 20,
      avgMs: 0.5 * n,
      medianMs: 0.1 * n,
      p90Ms: 0.3 * n,
      cpuSeconds: 0,
    },
    peakRssKb: 1024 * 10 * n,
    ...extra,
  };
}

Deno.test("summarize() takes medians over runs and the largest peak RSS", () => {
  const row = summarize("stf", [run(1, 1), run(2, 3), run(3, 2)]);
  assert.equal(row.tcp1Gbps, 2);
  assert.equal(row.tcp4Gbps, 4);
  assert.equal(row.tcp1Retransmits, 20);
  assert.equal(row.udpKpps, 50);
  assert.equal(row.rttMs, 0.2, "the median of the runs' medians, not of their averages");
  assert.ok(Math.abs((row.rttP90Ms ?? 0) - 0.6) < 1e-9);
  assert.equal(row.peakRssMb, 30);
  assert.equal(row.cpuUsPerPacket, 10);
  // One run's CPU is undefined (udp has none), so the total is missing rather than too small.
  assert.equal(row.cpuSeconds, undefined);
  // No run read the receiving socket's counter.
  assert.equal(row.udpSinkDropPercent, undefined);
  assert.equal(row.note, undefined);
});

Deno.test("summarize() says when the receiving socket, not the tunnel, dropped UDP datagrams", () => {
  const udp = (drops: number) => ({
    udp: {
      pps: 50_000,
      packetsReceived: 240_000,
      packetsSent: 300_000,
      lossPercent: 20,
      receiverSocketDrops: drops,
    },
  });
  // 60 000 of the 300 000 that reached the socket: 20 %; the median of 0, 20 and 20 % is 20 %.
  const row = summarize("stf", [run(1, 1, udp(0)), run(2, 1, udp(60_000)), run(3, 1, udp(60_000))]);
  assert.equal(row.udpSinkDropPercent, 20);
  assert.equal(row.note, "UDP-64: 20.0 % dropped by the receiving socket");
  // Up to 1 % is not worth a note.
  const small = summarize("stf", [run(1, 1, udp(2_000))]);
  assert.ok(Math.abs(small.udpSinkDropPercent! - (2_000 / 242_000) * 100) < 1e-9);
  assert.equal(small.note, undefined);
});

Deno.test("summarize() notes failed tests and runs that did not start", () => {
  const failed = run(2, 9, { tcp1: { error: "iperf3 client timed out" } });
  const notStarted: RunRecord = { ...run(3, 9), startError: "stf@A exited (code 1)" };
  const row = summarize("stf", [run(1, 1), failed, notStarted]);
  assert.equal(row.tcp1Gbps, 1);
  assert.equal(row.note, "2/3 runs; 1 failed tests");
  assert.deepEqual(summarize("stf", [], "skipped: gcc not found"), {
    name: "stf",
    note: "skipped: gcc not found",
  });
});
