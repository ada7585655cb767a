/**
 * docs/filtering.md against the code: the reason names of its egress and ingress tables are
 * those of `lib/filter/reasons.ts` and of the metrics, per direction and in order; its
 * configuration-time reasons are those the code throws; its known answers hold.
 */
import assert from "node:assert/strict";
import { Counters } from "../../lib/dataplane/counters.ts";
import {
  EGRESS_REASONS,
  INGRESS_REASONS,
  REASON_DOCS,
  REASON_NAMES,
} from "../../lib/filter/reasons.ts";
import { renderMetrics } from "../../lib/metrics/render.ts";
import { egress, ingress, policyWith } from "./filter/_policy.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOC = Deno.readTextFileSync(`${ROOT}docs/filtering.md`);

/** The text of the `## …` section whose heading starts with `title`, up to the next one. */
function section(title: string): string {
  const found = DOC.split("\n## ").filter((s) => s.startsWith(title));
  assert.equal(found.length, 1, `one section "${title}" in docs/filtering.md`);
  return found[0];
}

/** The reason names of a section's rule table: rows `| N | \`name\` | …`, in order. */
function ruleTable(title: string): string[] {
  return [...section(title).matchAll(/^\|\s*\d+\s*\|\s*`([a-z0-9-]+)`\s*\|/gm)].map((m) => m[1]);
}

/** The table rows of a section as cells (header and separator rows left out). */
function tableRows(title: string): string[][] {
  return section(title)
    .split("\n")
    .filter((line) => line.startsWith("|") && !/^\|\s*-/.test(line))
    .slice(1)
    .map((line) => line.slice(1, -1).split("|").map((c) => c.trim()));
}

/** The `reason` label values of `stf_packets_dropped_total` for a direction, in order. */
function metricReasons(direction: string): string[] {
  const text = renderMetrics(new Counters().snapshot(), {
    version: "0",
    mode: "router",
    ipv4: "192.0.2.1",
    prefix: "2002:c000:201::/48",
    up: true,
  });
  const pattern = new RegExp(
    `^stf_packets_dropped_total\\{direction="${direction}",reason="([^"]+)"\\} `,
    "gm",
  );
  return [...text.matchAll(pattern)].map((m) => m[1]);
}

const names = (codes: readonly number[]) => codes.map((c) => REASON_NAMES[c]);

Deno.test("docs/filtering.md lists the egress reasons of reasons.ts and the metrics, in order", () => {
  const doc = ruleTable("Egress (OUT)");
  assert.ok(doc.length > 0, "no rule rows found in the egress section");
  assert.deepEqual(doc, names(EGRESS_REASONS), "docs/filtering.md vs EGRESS_REASONS");
  assert.deepEqual(metricReasons("egress"), doc, "metrics vs docs/filtering.md");
});

Deno.test("docs/filtering.md lists the ingress reasons of reasons.ts and the metrics, in order", () => {
  const doc = ruleTable("Ingress (IN)");
  assert.ok(doc.length > 0, "no rule rows found in the ingress section");
  assert.deepEqual(doc, names(INGRESS_REASONS), "docs/filtering.md vs INGRESS_REASONS");
  assert.deepEqual(metricReasons("ingress"), doc, "metrics vs docs/filtering.md");
});

Deno.test("every drop reason of reasons.ts is in a table of docs/filtering.md, of its direction", () => {
  const egressDoc = new Set(ruleTable("Egress (OUT)"));
  const ingressDoc = new Set(ruleTable("Ingress (IN)"));
  for (const name of REASON_NAMES.slice(1)) {
    assert.ok(egressDoc.has(name) || ingressDoc.has(name), `"${name}" is not in docs/filtering.md`);
  }
  assert.equal(REASON_DOCS.length, REASON_NAMES.length, "REASON_DOCS documents every reason");
  for (const doc of REASON_DOCS.slice(1)) {
    const inEgress = egressDoc.has(doc.name);
    const inIngress = ingressDoc.has(doc.name);
    const expected = inEgress && inIngress ? "both" : inEgress ? "egress" : "ingress";
    assert.ok(inEgress || inIngress, `"${doc.name}" is in no table of docs/filtering.md`);
    assert.equal(doc.direction, expected, `REASON_DOCS direction of "${doc.name}"`);
  }
});

Deno.test("docs/filtering.md names the configuration-time reasons that lib/ throws", async () => {
  const doc = new Set(tableRows("Configuration time").map((cells) => cells[0].replaceAll("`", "")));
  const thrown = new Set<string>();
  for await (const file of walkTs(`${ROOT}lib`)) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(/new PolicyError\(\s*"([a-z0-9-]+)"/g)) thrown.add(m[1]);
  }
  assert.ok(thrown.size > 0);
  assert.deepEqual([...doc].sort(), [...thrown].sort());
});

async function* walkTs(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walkTs(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("docs/filtering.md's known answers hold", () => {
  const policy = policyWith();
  const rows = tableRows("Known answers");
  assert.ok(rows.length >= 12, `${rows.length} known answers`);
  for (const cells of rows) {
    const [dir, src4, dst4, src6, dst6, expected] = cells.map((c) => c.replaceAll("`", ""));
    if (dir === "IN") {
      assert.equal(ingress(policy, [src4, dst4], [src6, dst6]), expected, cells.join(" | "));
    } else {
      assert.equal(dir, "OUT");
      const out = egress(policy, src6, dst6);
      const got = out.reason === "forwarded" ? `sent to ${out.to}` : out.reason;
      assert.equal(got, expected, cells.join(" | "));
    }
  }
});
