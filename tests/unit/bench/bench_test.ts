import assert from "node:assert/strict";
import {
  parseBenchArgs,
  type RunRecord,
  summarize,
  summarizeOrdinary,
  variantSpecs,
} from "../../../bench/bench.ts";

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
    tests: ["tcp", "udp", "cpu", "hop", "ping", "idle"],
    testsGiven: false,
    cpuKpps: [1, 10, 50],
    hopPings: 200,
    idleSeconds: 20,
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
    "--tests",
    "idle, hop",
    "--cpu-kpps",
    "50,1,1",
    "--hop-pings",
    "50",
    "--idle-seconds=5",
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
    // In the benchmark's order, whatever the command line's; rates ascending, once each.
    tests: ["hop", "idle"],
    testsGiven: true,
    cpuKpps: [1, 50],
    hopPings: 50,
    idleSeconds: 5,
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
  assert.throws(() => parseBenchArgs(["--tests", "tcp,latency"]), {
    name: "RangeError",
    message:
      'Cannot use "tcp,latency" for --tests: expected some of tcp, udp, cpu, hop, ping, idle',
  });
  assert.throws(() => parseBenchArgs(["--tests", ","]), RangeError);
  assert.throws(() => parseBenchArgs(["--cpu-kpps", "1,0"]), RangeError);
  assert.throws(() => parseBenchArgs(["--cpu-kpps", "1,x"]), RangeError);
  assert.throws(() => parseBenchArgs(["--hop-pings", "0"]), RangeError);
  assert.throws(() => parseBenchArgs(["--idle-seconds", "0"]), RangeError);
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
  const other = variantSpecs('[{"name":"stf-before","flags":[],"main":"/tmp/b/main.ts"}]');
  assert.deepEqual(other.at(-1), {
    name: "stf-before",
    kind: "stf",
    flags: [],
    main: "/tmp/b/main.ts",
  });
  const flagged = variantSpecs('[{"name":"stf-st","flags":[],"v8Flags":["--single-threaded"]}]');
  assert.deepEqual(flagged.at(-1), {
    name: "stf-st",
    kind: "stf",
    flags: [],
    v8Flags: ["--single-threaded"],
  });
});

Deno.test("variantSpecs() refuses a variable that is not an array of { name, flags }", () => {
  assert.throws(() => variantSpecs('{"name":"x"}'), SyntaxError);
  assert.throws(() => variantSpecs('[{"name":"x","flags":[1]}]'), SyntaxError);
  assert.throws(() => variantSpecs("not json"), SyntaxError);
  assert.throws(() => variantSpecs('[{"name":"x","flags":[],"main":1}]'), SyntaxError);
  assert.throws(() => variantSpecs('[{"name":"x","flags":[],"v8Flags":"--a"}]'), SyntaxError);
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

function ordinaryRun(n: number, extra: Partial<RunRecord> = {}): RunRecord {
  const fixed = (kpps: number, intervals: number[], lossPercent = 0) => ({
    pps: kpps * 1000,
    packetsReceived: kpps * 5000,
    packetsSent: kpps * 5000,
    lossPercent,
    kpps,
    usPerPacketIntervals: intervals,
    loadAverage: 1 + n,
  });
  return {
    forwarder: "stf",
    run: n,
    startedAt: "2026-01-01T00:00:00Z",
    rssKbAfterTests: [],
    cpuAt: [fixed(1, [10 * n, 10 * n + 1]), fixed(10, [n], n === 3 ? 2 : 0)],
    hopIdle: {
      delaysUs: [100 * n, 100 * n + 10],
      reverseDelaysUs: [],
      unmatched: 0,
      captureDrops: 0,
      ping: { transmitted: 2, received: 2, avgMs: 1, medianMs: 0.1 * n, p90Ms: 0.2 * n },
      loadAverage: 0.5,
    },
    hop1k: { error: "tcpdump did not start" },
    idleCpu: {
      seconds: 20,
      cpuMs: 10 * n,
      msPerSecondIntervals: [n / 2, n / 2],
      loadAverage: 7,
    },
    ...extra,
  };
}

Deno.test("summarizeOrdinary() pools every run's samples before taking p50 and p90", () => {
  const row = summarizeOrdinary("stf", [ordinaryRun(1), ordinaryRun(2), ordinaryRun(3)]);
  // Delays 100, 110, 200, 210, 300, 310: nearest-rank p50 is the 3rd, p90 the 6th.
  assert.deepEqual(row.hopIdleUs, { n: 6, p50: 200, p90: 310 });
  assert.equal(row.hop1kUs, undefined, "every run's test failed");
  assert.deepEqual(row.hopPingMs, { n: 6, p50: 0.2, p90: 0.4 });
  assert.deepEqual(row.cpuUsPerPacket, [
    { kpps: 1, us: { n: 6, p50: 20, p90: 31 }, lossPercent: 0 },
    { kpps: 10, us: { n: 3, p50: 2, p90: 3 }, lossPercent: 0 },
  ]);
  assert.deepEqual(row.idleCpuMsPerSecond, { n: 6, p50: 1, p90: 1.5 });
  assert.equal(row.idleCpuMs, 20, "the median of the runs' totals");
  assert.equal(row.idleSeconds, 20);
  assert.deepEqual(row.loadAverage, { min: 0.5, max: 7 });
});

Deno.test("summarizeOrdinary() leaves out runs that did not start and gives empty rows", () => {
  const notStarted = { ...ordinaryRun(9), startError: "stf@A exited (code 1)" };
  const row = summarizeOrdinary("stf", [ordinaryRun(1), notStarted]);
  assert.deepEqual(row.hopIdleUs, { n: 2, p50: 100, p90: 110 });
  assert.deepEqual(summarizeOrdinary("cfwd", []), {
    name: "cfwd",
    hopIdleUs: undefined,
    hop1kUs: undefined,
    hopPingMs: undefined,
    cpuUsPerPacket: [],
    idleCpuMsPerSecond: undefined,
    idleCpuMs: undefined,
    idleSeconds: undefined,
    loadAverage: undefined,
  });
});
