/**
 * Independent readers of the Prometheus text exposition format for the tests: a strict parser
 * written from the specification (prometheus.io/docs/instrumenting/exposition_formats, format
 * 0.0.4) without the renderer's code, and `promtool check metrics` from Debian's prometheus.
 *
 * @module
 */
import assert from "node:assert/strict";

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A metric family: its HELP, TYPE and samples. */
export interface Family {
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses an exposition strictly; an assertion fails on anything the format forbids. */
export function parseExposition(text: string): Map<string, Family> {
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

/** The value of the one sample of `name` with exactly these labels. */
export function value(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
) {
  const f = families.get(name);
  assert.ok(f !== undefined, `no family ${name}`);
  const s = f.samples.find((s) =>
    Object.keys(labels).length === Object.keys(s.labels).length &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(s !== undefined, `no sample ${name}${JSON.stringify(labels)}`);
  return s.value;
}

/** Why promtool cannot run here, or `undefined`. */
export function promtoolUnavailable(): string | undefined {
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

/** Runs `promtool check metrics` on a text: its exit code and output. */
export async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
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
