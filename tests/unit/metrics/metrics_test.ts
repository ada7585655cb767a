import assert from "node:assert/strict";
import { parseExposition, promtoolCheck, promtoolUnavailable, value } from "./_exposition.ts";
import { Counters, type CounterSnapshot } from "../../../lib/dataplane/counters.ts";
import {
  EGRESS_REASONS,
  INGRESS_REASONS,
  Reason,
  REASON_NAMES,
} from "../../../lib/filter/reasons.ts";
import {
  escapeLabelValue,
  METRICS_CONTENT_TYPE,
  type MetricsInfo,
  parseListenAddress,
  renderMetrics,
  serveMetrics,
} from "../../../lib/metrics/mod.ts";
import {
  SLOT_BYTES,
  SLOT_ICMP_SENT,
  SLOT_IO_ERRORS,
  SLOTS,
} from "../../../lib/dataplane/counters.ts";

const INFO: MetricsInfo = {
  version: "0.1.0",
  mode: "router",
  ipv4: "198.51.100.10",
  prefix: "2002:c633:640a::/48",
  up: true,
  pathMtuEntries: 2,
  addressChanges: 1,
  prefixHookFailures: 0,
};

function sampleSnapshot(): CounterSnapshot {
  const counters = new Counters();
  const v = counters.values;
  v[0] = 10; // egress forwarded
  v[SLOT_BYTES] = 1040;
  v[Reason.TooBig] = 3;
  v[SLOT_ICMP_SENT] = 3;
  v[SLOTS + 0] = 7; // ingress forwarded
  v[SLOTS + SLOT_BYTES] = 700;
  v[SLOTS + Reason.InnerSrcSpoofed] = 5;
  v[SLOTS + SLOT_IO_ERRORS] = 1;
  return counters.snapshot();
}

// ---------------------------------------------------------------------------------------------

Deno.test("renderMetrics() writes every family with HELP and TYPE and the counters' values", () => {
  const families = parseExposition(renderMetrics(sampleSnapshot(), INFO));
  for (
    const [name, type] of [
      ["stf_up", "gauge"],
      ["stf_info", "gauge"],
      ["stf_packets_forwarded_total", "counter"],
      ["stf_bytes_forwarded_total", "counter"],
      ["stf_packets_dropped_total", "counter"],
      ["stf_io_errors_total", "counter"],
      ["stf_icmp_sent_total", "counter"],
      ["stf_path_mtu_updates_total", "counter"],
      ["stf_path_mtu_entries", "gauge"],
      ["stf_own_ipv4_info", "gauge"],
      ["stf_address_changes_total", "counter"],
      ["stf_prefix_hook_failures_total", "counter"],
    ]
  ) {
    const f = families.get(name);
    assert.ok(f !== undefined, `missing ${name}`);
    assert.equal(f.type, type, name);
    assert.ok((f.help ?? "").length > 0, `no help for ${name}`);
  }
  assert.equal(value(families, "stf_up"), 1);
  assert.equal(
    value(families, "stf_info", {
      version: "0.1.0",
      mode: "router",
      ipv4: "198.51.100.10",
      prefix: "2002:c633:640a::/48",
    }),
    1,
  );
  assert.equal(value(families, "stf_packets_forwarded_total", { direction: "egress" }), 10);
  assert.equal(value(families, "stf_packets_forwarded_total", { direction: "ingress" }), 7);
  assert.equal(value(families, "stf_bytes_forwarded_total", { direction: "egress" }), 1040);
  assert.equal(value(families, "stf_bytes_forwarded_total", { direction: "ingress" }), 700);
  assert.equal(
    value(families, "stf_packets_dropped_total", { direction: "egress", reason: "too-big" }),
    3,
  );
  assert.equal(
    value(families, "stf_packets_dropped_total", {
      direction: "ingress",
      reason: "inner-src-spoofed",
    }),
    5,
  );
  assert.equal(value(families, "stf_io_errors_total", { direction: "ingress" }), 1);
  assert.equal(value(families, "stf_icmp_sent_total"), 3);
  assert.equal(value(families, "stf_path_mtu_entries"), 2);
  assert.equal(
    value(families, "stf_own_ipv4_info", { ipv4: "198.51.100.10", prefix: "2002:c633:640a::/48" }),
    1,
  );
  assert.equal(value(families, "stf_address_changes_total"), 1);
  assert.equal(value(families, "stf_prefix_hook_failures_total"), 0);
});

Deno.test("renderMetrics() lists every drop reason of each direction at 0 from the start", () => {
  const families = parseExposition(renderMetrics(new Counters().snapshot(), INFO));
  const dropped = families.get("stf_packets_dropped_total")!.samples;
  const expected = [
    ...EGRESS_REASONS.map((c) => `egress/${REASON_NAMES[c]}`),
    ...INGRESS_REASONS.map((c) => `ingress/${REASON_NAMES[c]}`),
  ];
  assert.deepEqual(dropped.map((s) => `${s.labels.direction}/${s.labels.reason}`), expected);
  assert.ok(dropped.every((s) => s.value === 0));
});

Deno.test("renderMetrics() leaves stf_path_mtu_entries out when unknown and says stf_up 0", () => {
  const { pathMtuEntries: _, ...info } = INFO;
  const text = renderMetrics(new Counters().snapshot(), { ...info, up: false });
  const families = parseExposition(text);
  assert.equal(families.has("stf_path_mtu_entries"), false);
  assert.equal(value(families, "stf_up"), 0);
});

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed only", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
  assert.equal(escapeLabelValue("2002:c633:640a::/48"), "2002:c633:640a::/48");
});

Deno.test("renderMetrics() escapes stf_info label values so that a parser reads them back", () => {
  const odd = 'x"y\\z\nw';
  const families = parseExposition(
    renderMetrics(new Counters().snapshot(), { ...INFO, version: odd }),
  );
  assert.equal(families.get("stf_info")!.samples[0].labels.version, odd);
});

Deno.test("parseListenAddress() reads IPV4:PORT and [IPV6]:PORT and refuses the rest", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:9641"), { hostname: "127.0.0.1", port: 9641 });
  assert.deepEqual(parseListenAddress("[::1]:9641"), { hostname: "::1", port: 9641 });
  assert.throws(() => parseListenAddress("localhost:9641"), SyntaxError);
  assert.throws(() => parseListenAddress("::1:9641"), SyntaxError);
  assert.throws(() => parseListenAddress("127.0.0.1:70000"), RangeError);
});

// ---------------------------------------------------------------------------------------------
// promtool (Debian package prometheus) as the independent oracle.

const noPromtool = promtoolUnavailable();
const requireLab = Deno.env.get("STF_REQUIRE_LAB") === "1";
if (noPromtool !== undefined && !requireLab) {
  console.error(`%cSkipping promtool checks: ${noPromtool}`, "color: yellow");
}

Deno.test({
  name: "promtool check metrics accepts the exposition without a lint problem",
  ignore: noPromtool !== undefined && !requireLab,
  fn: async () => {
    if (noPromtool !== undefined) throw new Error(`Cannot run promtool: ${noPromtool}`);
    for (const snapshot of [new Counters().snapshot(), sampleSnapshot()]) {
      const result = await promtoolCheck(renderMetrics(snapshot, INFO));
      assert.equal(result.code, 0, result.output);
      assert.equal(result.output.trim(), "");
    }
  },
});

Deno.test({
  name: "promtool check metrics rejects a broken exposition (the oracle is awake)",
  ignore: noPromtool !== undefined && !requireLab,
  fn: async () => {
    if (noPromtool !== undefined) throw new Error(`Cannot run promtool: ${noPromtool}`);
    const broken = renderMetrics(new Counters().snapshot(), INFO).replace(
      'reason="too-big"',
      'reason="too"big"',
    );
    assert.notEqual((await promtoolCheck(broken)).code, 0);
  },
});

// ---------------------------------------------------------------------------------------------

Deno.test("serveMetrics() answers /metrics with the exposition and 404 elsewhere", async () => {
  let scrapes = 0;
  const server = serveMetrics("127.0.0.1:0", () => {
    scrapes++;
    return { snapshot: sampleSnapshot(), info: INFO };
  });
  try {
    assert.ok(server.port > 0);
    const base = `http://127.0.0.1:${server.port}`;
    const ok = await fetch(`${base}/metrics`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), METRICS_CONTENT_TYPE);
    const families = parseExposition(await ok.text());
    assert.equal(value(families, "stf_packets_forwarded_total", { direction: "egress" }), 10);
    const missing = await fetch(`${base}/`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    assert.equal(scrapes, 1);
  } finally {
    await server.close();
  }
});

Deno.test("serveMetrics() reports an address in use as an OperationError naming it", async () => {
  const first = serveMetrics("127.0.0.1:0", () => ({ snapshot: sampleSnapshot(), info: INFO }));
  try {
    const listen = `127.0.0.1:${first.port}`;
    assert.throws(
      () => serveMetrics(listen, () => ({ snapshot: sampleSnapshot(), info: INFO })),
      (e: Error) => e.name === "OperationError" && e.message.includes(`"${listen}"`),
    );
  } finally {
    await first.close();
  }
});

Deno.test("serveMetrics() refuses the address DENO_SERVE_ADDRESS forces on Deno.serve", async () => {
  const serve = new URL("../../../lib/metrics/serve.ts", import.meta.url).href;
  const code = `import { serveMetrics } from "${serve}";
    try { serveMetrics("127.0.0.1:0", () => { throw new Error("no scrape"); }); console.log("served"); }
    catch (e) { console.log(e.name + ": " + e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { DENO_SERVE_ADDRESS: "tcp:127.0.0.2:0", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(
    text,
    /^OperationError: Cannot serve metrics on "127\.0\.0\.1:0": Deno listened on 127\.0\.0\.2:\d+ instead \(DENO_SERVE_ADDRESS="tcp:127\.0\.0\.2:0"\); unset DENO_SERVE_ADDRESS/,
  );
});
