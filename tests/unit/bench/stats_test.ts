import assert from "node:assert/strict";
import {
  cpuMsPerSecondIntervals,
  cpuPerPacketIntervals,
  formatNumber,
  formatOrdinaryRatioTable,
  formatOrdinaryTable,
  formatRatioTable,
  formatResultTable,
  median,
  type OrdinaryRow,
  parseIperfTcp,
  parseIperfUdp,
  parsePing,
  parseProcStat,
  parseSchedstat,
  parseSnmp6,
  parseStatusKb,
  percentile,
  quantiles,
  ratio,
  runtimeSince,
  type SummaryRow,
} from "../../../bench/_stats.ts";

// Summaries cut from real `iperf3 -J` runs (iperf 3.12) through a cfwd pair.
const TCP_JSON = {
  end: {
    sum_sent: {
      start: 0,
      end: 3.001013,
      seconds: 3.001013,
      bytes: 134859648,
      bits_per_second: 359504335.3694236,
      retransmits: 20442,
      sender: true,
    },
    sum_received: {
      start: 0,
      end: 3.003125,
      seconds: 3.003125,
      bytes: 132288640,
      bits_per_second: 352402620.603538,
      sender: true,
    },
  },
};

const UDP_JSON = {
  end: {
    sum: {
      seconds: 3.208721,
      bytes: 18762240,
      lost_packets: 188588,
      packets: 293160,
      lost_percent: 64.3293764497203,
    },
    sum_sent: {
      seconds: 3.000285,
      bytes: 18762240,
      lost_packets: 0,
      packets: 293160,
      lost_percent: 0,
    },
    sum_received: {
      seconds: 3.208721,
      bytes: 6647232,
      lost_packets: 188588,
      packets: 292451,
      lost_percent: 64.3293764497203,
    },
  },
};

Deno.test("median() takes the middle value of an odd count", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([5]), 5);
});

Deno.test("median() averages the two middle values of an even count", () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("median() ignores missing and non-finite values and is undefined when none is left", () => {
  assert.equal(median([undefined, 7, Number.NaN, 1, Infinity]), 4);
  assert.equal(median([]), undefined);
  assert.equal(median([undefined]), undefined);
});

Deno.test("median() does not reorder its input", () => {
  const values = [3, 1, 2];
  median(values);
  assert.deepEqual(values, [3, 1, 2]);
});

Deno.test("parseIperfTcp() reads the receiver's rate and the sender's retransmits", () => {
  const r = parseIperfTcp(TCP_JSON);
  assert.equal(r.gbps, 352402620.603538 / 1e9);
  assert.equal(r.retransmits, 20442);
});

Deno.test("parseIperfTcp() leaves retransmits undefined when iperf3 does not report them", () => {
  const json = structuredClone(TCP_JSON) as { end: { sum_sent: Record<string, unknown> } };
  delete json.end.sum_sent.retransmits;
  assert.equal(parseIperfTcp(json).retransmits, undefined);
});

Deno.test("parseIperfTcp() turns iperf3's error into a SyntaxError with its message", () => {
  const json = { start: {}, end: {}, error: "unable to connect to server: Connection refused" };
  assert.throws(() => parseIperfTcp(json), {
    name: "SyntaxError",
    message: "iperf3 failed: unable to connect to server: Connection refused",
  });
});

Deno.test("parseIperfTcp() refuses a document without a summary", () => {
  assert.throws(() => parseIperfTcp({ end: {} }), SyntaxError);
  assert.throws(() => parseIperfTcp(null), SyntaxError);
});

Deno.test("parseIperfUdp() counts received datagrams as packets minus lost over the receiver's time", () => {
  const r = parseIperfUdp(UDP_JSON);
  // The receiver's bytes are an independent count: 64 bytes per datagram.
  assert.equal(r.packetsReceived, 6647232 / 64);
  assert.equal(r.pps, (292451 - 188588) / 3.208721);
  assert.equal(r.packetsSent, 293160);
  assert.equal(r.lossPercent, 64.3293764497203);
});

Deno.test("parseIperfUdp() falls back to end.sum for iperf3 without sum_received", () => {
  const r = parseIperfUdp({ end: { sum: UDP_JSON.end.sum } });
  assert.equal(r.packetsReceived, 293160 - 188588);
  assert.equal(r.packetsSent, 293160);
});

Deno.test("parsePing() reads counts and the average round-trip time of iputils ping", () => {
  const text = [
    "PING 2002:c633:6402::1(2002:c633:6402::1) 56 data bytes",
    "64 bytes from 2002:c633:6402::1: icmp_seq=1 ttl=64 time=0.307 ms",
    "64 bytes from 2002:c633:6402::1: icmp_seq=2 ttl=64 time=0.430 ms",
    "64 bytes from 2002:c633:6402::1: icmp_seq=3 ttl=64 time=0.373 ms",
    "",
    "--- 2002:c633:6402::1 ping statistics ---",
    "3 packets transmitted, 3 received, 0% packet loss, time 404ms",
    "rtt min/avg/max/mdev = 0.307/0.370/0.430/0.050 ms",
  ].join("\n");
  assert.deepEqual(parsePing(text), {
    transmitted: 3,
    received: 3,
    avgMs: 0.37,
    medianMs: 0.373,
    p90Ms: 0.43,
  });
});

Deno.test("parsePing() takes the median and the 90th percentile (nearest rank) of the replies", () => {
  // 20 replies: 0.1, 0.2, … 2.0 ms, out of order; one slow reply moves the mean, not the median.
  const times = Array.from({ length: 20 }, (_, i) => ((i * 7) % 20 + 1) / 10);
  const text = [
    ...times.map((t, i) => `64 bytes from 2002::1: icmp_seq=${i + 1} ttl=64 time=${t} ms`),
    "20 packets transmitted, 20 received, 0% packet loss, time 1000ms",
    "rtt min/avg/max/mdev = 0.100/1.050/2.000/0.577 ms",
  ].join("\n");
  const r = parsePing(text);
  assert.equal(r.medianMs, 1.05);
  assert.equal(r.p90Ms, 1.8, "the 18th of 20");
  // ping prints "time<1 ms"-style lines on some systems for very short times.
  assert.equal(parsePing(text.replace("time=0.1 ms", "time<0.1 ms")).medianMs, 1.05);
});

Deno.test("parsePing() has no average when nothing came back", () => {
  const text = "1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n";
  assert.deepEqual(parsePing(text), {
    transmitted: 1,
    received: 0,
    avgMs: undefined,
    medianMs: undefined,
    p90Ms: undefined,
  });
  assert.throws(() => parsePing("connect: Network is unreachable"), SyntaxError);
});

Deno.test("parseProcStat() counts fields after the last parenthesis of the command name", () => {
  const line = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 321 654 0 0 20 0 3 0 1 2 3\n";
  assert.deepEqual(parseProcStat(line), { ppid: 17, utime: 321, stime: 654 });
});

Deno.test("parseProcStat() reads this process's parent id as the kernel reports it", () => {
  const stat = parseProcStat(Deno.readTextFileSync("/proc/self/stat"));
  assert.equal(stat.ppid, Deno.ppid);
  assert.ok(stat.utime + stat.stime >= 0);
});

Deno.test("parseProcStat() refuses a line that is not from /proc/<pid>/stat", () => {
  assert.throws(() => parseProcStat("hello"), SyntaxError);
  assert.throws(() => parseProcStat("1 (x) S"), SyntaxError);
});

Deno.test("parseStatusKb() reads a kB field of /proc/<pid>/status", () => {
  const text = "Name:\tdeno\nVmPeak:\t  999 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   80000 kB\n";
  assert.equal(parseStatusKb(text, "VmHWM"), 81234);
  assert.equal(parseStatusKb(text, "VmRSS"), 80000);
  assert.equal(parseStatusKb(text, "VmSwap"), undefined);
});

Deno.test("parseStatusKb() agrees with this process's VmRSS order of magnitude", () => {
  const kb = parseStatusKb(Deno.readTextFileSync("/proc/self/status"), "VmHWM");
  assert.ok(kb !== undefined && kb * 1024 >= Deno.memoryUsage().rss / 4);
});

Deno.test("parseSnmp6() reads one counter by its whole name", () => {
  const text = "Udp6InErrors                    \t7\nUdp6RcvbufErrors                \t25870\n" +
    "UdpLite6RcvbufErrors            \t0\n";
  assert.equal(parseSnmp6(text, "Udp6RcvbufErrors"), 25870);
  assert.equal(parseSnmp6(text, "Udp6InErrors"), 7);
  assert.throws(() => parseSnmp6(text, "Udp6InDatagrams"), {
    name: "SyntaxError",
    message: "Cannot read Udp6InDatagrams from /proc/net/snmp6",
  });
});

Deno.test("parseSnmp6() reads this host's file as nstat does", async () => {
  const nstat = await new Deno.Command("nstat", { args: ["-asz", "Udp6RcvbufErrors"] }).output()
    .catch(() => undefined);
  const value = parseSnmp6(Deno.readTextFileSync("/proc/net/snmp6"), "Udp6RcvbufErrors");
  assert.ok(Number.isSafeInteger(value) && value >= 0);
  if (nstat?.success) {
    const line = new TextDecoder().decode(nstat.stdout).split("\n")
      .find((l) => l.startsWith("Udp6RcvbufErrors"));
    // The counter only grows: nstat ran first.
    assert.ok(line !== undefined && Number(line.split(/\s+/)[1]) <= value);
  }
});

Deno.test("ratio() is undefined when a side is missing or the base is zero", () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(undefined, 2), undefined);
  assert.equal(ratio(3, undefined), undefined);
  assert.equal(ratio(3, 0), undefined);
});

Deno.test("formatNumber() rounds to the given decimals and shows an en dash when missing", () => {
  assert.equal(formatNumber(1.23456, 2), "1.23");
  assert.equal(formatNumber(undefined, 2), "–");
  assert.equal(formatNumber(Number.NaN, 2), "–");
});

const ROWS: SummaryRow[] = [
  {
    name: "native",
    tcp1Gbps: 18,
    tcp4Gbps: 20,
    tcp1Retransmits: 0,
    tcp4Retransmits: 2,
    udpKpps: 400,
    udpLossPercent: 1,
    rttMs: 0.04,
  },
  {
    name: "socat",
    tcp1Gbps: 0.2,
    tcp4Gbps: 0.4,
    tcp1Retransmits: 5000,
    tcp4Retransmits: 9000,
    udpKpps: 20,
    udpLossPercent: 85,
    rttMs: 0.4,
    rttP90Ms: 0.9,
    cpuSeconds: 10,
    cpuUsPerPacket: 30,
    peakRssMb: 2.5,
  },
  { name: "stf", tcp1Gbps: 1, tcp4Gbps: 1.2, udpKpps: 50, rttMs: 0.2, cpuSeconds: 5 },
  { name: "stf-no-batch", note: "failed to start: main.ts not found" },
];

Deno.test("formatResultTable() prints one Markdown row per forwarder with dashes for gaps", () => {
  const lines = formatResultTable(ROWS).split("\n");
  assert.equal(lines.length, 2 + ROWS.length);
  assert.match(lines[0], /^\| forwarder \| TCP×1 Gbit\/s \| TCP×4 Gbit\/s \|/);
  assert.match(lines[1], /^\| --- \|( ---: \|)+$/);
  assert.equal(
    lines[3],
    "| socat | 0.20 | 0.40 | 5000 / 9000 | 20.0 | 85.0 | 0.400 / 0.900 | 10.00 | 30.00 | 2.5 |",
  );
  assert.equal(lines[4], "| stf | 1.00 | 1.20 | – | 50.0 | – | 0.200 / – | 5.00 | – | – |");
  assert.equal(
    lines[5],
    "| stf-no-batch (failed to start: main.ts not found) | – | – | – | – | – | – | – | – | – |",
  );
  // Every row has as many cells as the header.
  const cells = (l: string) => l.split(" | ").length;
  for (const l of lines) assert.equal(cells(l), cells(lines[0]));
});

Deno.test("formatRatioTable() divides metric by metric and skips pairs with a missing row", () => {
  const table = formatRatioTable(ROWS, [
    { numerator: "stf", denominator: "socat" },
    { numerator: "stf", denominator: "cfwd" },
    { numerator: "stf", denominator: "native" },
  ]);
  const lines = table.split("\n");
  assert.equal(lines.length, 4);
  assert.equal(lines[0], "| ratio | TCP×1 | TCP×4 | UDP-64 pps | RTT | CPU s | CPU/pkt |");
  assert.equal(lines[2], "| stf / socat | 5.00× | 3.00× | 2.50× | 0.50× | 0.50× | – |");
  assert.equal(lines[3], "| stf / native | 0.06× | 0.06× | 0.13× | 5.00× | – | – |");
});

Deno.test("percentile() takes the nearest rank and always returns one of the values", () => {
  const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  assert.equal(percentile(ten, 90), 9);
  assert.equal(percentile(ten, 50), 5);
  assert.equal(percentile(ten, 100), 10);
  assert.equal(percentile(ten, 1), 1);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([undefined, NaN, 4], 90), 4);
  assert.equal(percentile([], 50), undefined);
  assert.deepEqual(quantiles([3, 1, 2]), { n: 3, p50: 2, p90: 3 });
  assert.deepEqual(quantiles([]), { n: 0, p50: undefined, p90: undefined });
});

Deno.test("parseSchedstat() reads the runtime in ns, the first of three fields", () => {
  assert.equal(parseSchedstat("123456789 2000 17\n"), 123456789);
  assert.throws(() => parseSchedstat(""), SyntaxError);
  assert.throws(() => parseSchedstat("x 1 2"), SyntaxError);
});

Deno.test("parseSchedstat() agrees with this thread's utime + stime within a clock tick", () => {
  // Burn some CPU, then compare the two views of the same runtime.
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += i % 7;
  assert.ok(x > 0);
  const ns = parseSchedstat(Deno.readTextFileSync("/proc/thread-self/schedstat"));
  const stat = Deno.readTextFileSync("/proc/thread-self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 1).trim().split(/\s+/);
  const ticks = Number(fields[11]) + Number(fields[12]);
  // The two are read a moment apart, and the ticks are truncated: a few ticks of slack.
  assert.ok(Math.abs(ns / 1e7 - ticks) <= 3, `${ns} ns against ${ticks} ticks`);
});

Deno.test("cpuPerPacketIntervals() divides each interval's CPU by its packets", () => {
  const samples = [
    { atMs: 0, cpuNs: 0, packets: 0 },
    // The sender had not begun: 10 packets of the 1000 expected, left out.
    { atMs: 1000, cpuNs: 1_000_000, packets: 10 },
    { atMs: 2000, cpuNs: 21_000_000, packets: 1010 },
    { atMs: 3000, cpuNs: 36_000_000, packets: 2010 },
    // Half a second at the end, 500 packets: kept (half the expected is enough).
    { atMs: 3500, cpuNs: 46_000_000, packets: 2510 },
    { atMs: 4500, cpuNs: 47_000_000, packets: 2510 },
  ];
  assert.deepEqual(cpuPerPacketIntervals(samples, 1000), [20, 15, 20]);
  assert.deepEqual(cpuPerPacketIntervals([samples[0]], 1000), []);
});

Deno.test("cpuMsPerSecondIntervals() gives CPU ms per second of each interval", () => {
  const samples = [
    { atMs: 0, cpuNs: 0, packets: 0 },
    { atMs: 500, cpuNs: 1_000_000, packets: 0 },
    { atMs: 500, cpuNs: 1_000_000, packets: 0 },
    { atMs: 2500, cpuNs: 5_000_000, packets: 0 },
  ];
  assert.deepEqual(cpuMsPerSecondIntervals(samples), [2, 2]);
});

const ORDINARY: OrdinaryRow[] = [
  {
    name: "cfwd",
    hopIdleUs: { n: 10, p50: 50, p90: 100 },
    hop1kUs: { n: 10, p50: 40, p90: 80 },
    hopPingMs: { n: 10, p50: 0.2, p90: 0.3 },
    cpuUsPerPacket: [{ kpps: 1, us: { n: 5, p50: 20, p90: 25 }, lossPercent: 0 }],
    idleCpuMsPerSecond: { n: 20, p50: 0, p90: 0 },
    idleCpuMs: 0,
    loadAverage: { min: 0.5, max: 2.25 },
  },
  {
    name: "stf",
    hopIdleUs: { n: 10, p50: 100, p90: 120 },
    cpuUsPerPacket: [{ kpps: 1, us: { n: 5, p50: 30, p90: 35 }, lossPercent: 3 }],
    idleCpuMs: 2,
  },
];

Deno.test("formatOrdinaryTable() prints p50 / p90 cells, loss and the load averages", () => {
  const table = formatOrdinaryTable(ORDINARY, [1]).split("\n");
  assert.equal(table.length, 4);
  assert.match(table[0], /\| hop idle µs p50 \/ p90 \|.*\| CPU µs\/pkt @1 kpps p50 \/ p90 \|/);
  assert.equal(
    table[2],
    "| cfwd | 50.0 / 100.0 | 40.0 / 80.0 | 0.200 / 0.300 | 20.00 / 25.00 | 0.00 / 0.00 | 0.5–2.3 |",
  );
  assert.equal(table[3], "| stf | 100.0 / 120.0 | – | – | 30.00 / 35.00 (3.0 % lost) | – | – |");
});

Deno.test("formatOrdinaryRatioTable() divides the medians and skips a zero base", () => {
  const table = formatOrdinaryRatioTable(ORDINARY, [
    { numerator: "stf", denominator: "cfwd" },
    { numerator: "stf", denominator: "socat" },
  ], [1]).split("\n");
  assert.equal(table.length, 3, "stf / socat has no socat row");
  // hop idle 100/50 and 120/100, hop @1k missing on stf's side, CPU 30/20, idle CPU 2/0.
  assert.equal(table[2], "| stf / cfwd | 2.00× | 1.20× | – | – | 1.50× | – |");
});

Deno.test("runtimeSince counts what each thread ran since the last reading; an ended thread takes nothing away", () => {
  const last = new Map<string, number>();
  assert.equal(runtimeSince(last, [{ key: "1/1", ns: 100 }, { key: "1/2", ns: 5000 }]), 5100);
  // 1/2 (a pool thread with 5000 ns behind it) ends; 1/1 runs 20 more; 1/3 is new with 7.
  assert.equal(runtimeSince(last, [{ key: "1/1", ns: 120 }, { key: "1/3", ns: 7 }]), 27);
  assert.deepEqual([...last.keys()].sort(), ["1/1", "1/3"]);
  // A new thread that reuses an ended one's id starts from nothing.
  assert.equal(
    runtimeSince(last, [{ key: "1/1", ns: 120 }, { key: "1/3", ns: 7 }, { key: "1/2", ns: 3 }]),
    3,
  );
});
