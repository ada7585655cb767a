import assert from "node:assert/strict";
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
// A strict parser of the text exposition format 0.0.4, written from the specification
// (prometheus.io/docs/instrumenting/exposition_formats), independent of the renderer.

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Family {
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the exposition must end with a line feed");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: string | undefined;
  const family = (name: string) => {
    let f = families.get(name);
    if (f === undefined) {
      assert.ok(!seen.has(name), `family ${name} is not contiguous`);
      f = { samples: [] };
      families.set(name, f);
      seen.add(name);
    }
    if (current !== name) assert.ok(f.samples.length === 0, `family ${name} is interleaved`);
    current = name;
    return f;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    assert.ok(line.length > 0, "no empty lines expected");
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      assert.ok(m !== null, `bad comment line: ${line}`);
      const f = family(m[2]);
      if (m[1] === "HELP") {
        assert.equal(f.help, undefined, `second HELP for ${m[2]}`);
        assert.ok(!/\\[^\\n]/.test(m[3]), `bad escape in HELP: ${line}`);
        f.help = m[3];
      } else {
        assert.equal(f.type, undefined, `second TYPE for ${m[2]}`);
        assert.equal(f.samples.length, 0, `TYPE after samples for ${m[2]}`);
        assert.ok(
          ["counter", "gauge", "histogram", "summary", "untyped"].includes(m[3]),
          `bad type: ${line}`,
        );
        f.type = m[3];
      }
      continue;
    }
    const nameMatch = METRIC_NAME.exec(line);
    assert.ok(nameMatch !== null, `bad sample line: ${line}`);
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      while (!rest.startsWith("}")) {
        const ln = LABEL_NAME.exec(rest);
        assert.ok(ln !== null, `bad label name in: ${line}`);
        rest = rest.slice(ln[0].length);
        assert.ok(rest.startsWith('="'), `expected =" in: ${line}`);
        rest = rest.slice(2);
        let value = "";
        for (;;) {
          const c = rest[0];
          assert.ok(c !== undefined && c !== "\n", `unterminated label value in: ${line}`);
          rest = rest.slice(1);
          if (c === '"') break;
          if (c === "\\") {
            const e = rest[0];
            rest = rest.slice(1);
            if (e === "\\") value += "\\";
            else if (e === '"') value += '"';
            else if (e === "n") value += "\n";
            else assert.fail(`bad escape \\${e} in: ${line}`);
          } else value += c;
        }
        assert.ok(!(ln[0] in labels), `duplicate label ${ln[0]} in: ${line}`);
        labels[ln[0]] = value;
        if (rest.startsWith(",")) rest = rest.slice(1);
        else assert.ok(rest.startsWith("}"), `expected , or } in: ${line}`);
      }
      rest = rest.slice(1);
    }
    const vm = /^ (\S+)(?: (-?[0-9]+))?$/.exec(rest);
    assert.ok(vm !== null, `bad value in: ${line}`);
    const raw = vm[1];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    assert.ok(raw === "NaN" || !Number.isNaN(value), `bad number in: ${line}`);
    const base = families.has(name) ? name : name.replace(/_(total|sum|count|bucket)$/, "");
    const f = family(families.has(name) || !families.has(base) ? name : base);
    f.samples.push({ name, labels, value });
  }
  const keys = new Set<string>();
  for (const f of families.values()) {
    for (const s of f.samples) {
      const key = s.name + JSON.stringify(Object.entries(s.labels).sort());
      assert.ok(!keys.has(key), `duplicate series ${key}`);
      keys.add(key);
    }
  }
  return families;
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const f = families.get(name);
  assert.ok(f !== undefined, `no family ${name}`);
  const s = f.samples.find((s) =>
    Object.keys(labels).length === Object.keys(s.labels).length &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(s !== undefined, `no sample ${name}${JSON.stringify(labels)}`);
  return s.value;
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

function promtoolUnavailable(): string | undefined {
  try {
    const out = new Deno.Command("promtool", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return out.success ? undefined : "promtool --version failed";
  } catch {
    return "promtool is not installed (Debian package prometheus)";
  }
}

const noPromtool = promtoolUnavailable();
const requireLab = Deno.env.get("STF_REQUIRE_LAB") === "1";
if (noPromtool !== undefined && !requireLab) {
  console.error(`%cSkipping promtool checks: ${noPromtool}`, "color: yellow");
}

async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
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
