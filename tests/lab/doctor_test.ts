/**
 * `stf doctor` in the two-relay lab: a healthy site passes; a protocol-41 drop rule and a
 * dead relay are each a `fail` with the advice that fits.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DoctorCheck, DoctorDocument } from "../../lib/commands/doctor.ts";
import { labTest, type Netns, stfArgv } from "./_lab.ts";
import { buildRelayLab, RELAYS } from "./_relays.ts";

async function doctor(
  ns: Netns,
  ...args: string[]
): Promise<{ code: number; doc: DoctorDocument }> {
  const [program, ...rest] = ns.exec(...stfArgv("doctor", ...args, "--json"));
  const out = await new Deno.Command(program, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  try {
    return { code: out.code, doc: JSON.parse(text) as DoctorDocument };
  } catch {
    throw new Error(
      `doctor printed no JSON (code ${out.code}):\n${text}\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

function find(doc: DoctorDocument, check: string, subject: string | null = null): DoctorCheck {
  const found = doc.checks.find((c) => c.check === check && c.subject === subject);
  assert.ok(found !== undefined, `no check ${check} ${subject ?? ""}: ${JSON.stringify(doc)}`);
  return found;
}

const SITE_ARGS = [
  "--ipv4",
  RELAYS.siteIpv4,
  "--relay",
  RELAYS.relayA,
  "--relay",
  RELAYS.relayB,
  "--peer",
  RELAYS.serverIpv4,
  "--timeout",
  "3",
];

labTest(
  "stf doctor passes a healthy site, and fails a protocol-41 drop rule and a dead relay with advice",
  async () => {
    await using lab = await buildRelayLab();

    const healthy = await doctor(lab.site, ...SITE_ARGS);
    assert.equal(healthy.code, 0, JSON.stringify(healthy.doc, null, 2));
    assert.equal(healthy.doc.ok, true);
    for (const relay of [RELAYS.relayA, RELAYS.relayB]) {
      const c = find(healthy.doc, "relay", relay);
      assert.equal(c.status, "ok");
      assert.match(c.message, /answered in [\d.]+ ms/);
    }
    assert.equal(find(healthy.doc, "peer", RELAYS.serverIpv4).status, "ok");
    assert.equal(find(healthy.doc, "firewall").status, "ok");
    assert.equal(find(healthy.doc, "tun").status, "ok");
    assert.equal(find(healthy.doc, "ipv4").status, "ok");

    // With a forwarder running on the site (and probing the relays itself), the same.
    const site = await lab.startSite([
      "--ipv4",
      RELAYS.siteIpv4,
      "--relay",
      RELAYS.relayA,
    ]);
    const running = await doctor(lab.site, ...SITE_ARGS);
    assert.equal(running.code, 0, JSON.stringify(running.doc, null, 2));
    // Found where stf status finds it: the control socket of this network namespace.
    assert.match(
      find(running.doc, "forwarder").message,
      /^Forwarder running, pid \d+, mode router, own IPv4 198\.51\.100\.1, relay 192\.0\.2\.99$/,
    );
    assert.equal(find(running.doc, "relay", RELAYS.relayA).status, "ok");
    assert.equal(find(running.doc, "6to4-route").status, "ok");
    await site.stop("SIGTERM", 5_000);

    // A firewall rule on the site that drops protocol 41 coming in.
    await lab.site.run`nft -f -`.stdinText(
      "table inet stfdoctor {\n chain in {\n  type filter hook input priority 0; policy accept;\n" +
        "  ip protocol 41 drop\n }\n}\n",
    );
    const dropped = await doctor(lab.site, ...SITE_ARGS);
    assert.equal(dropped.code, 1);
    assert.equal(dropped.doc.ok, false);
    const firewall = find(dropped.doc, "firewall");
    assert.equal(firewall.status, "fail");
    assert.match(firewall.message, /inet stfdoctor in/);
    assert.match(firewall.advice ?? "", /accept IP protocol 41/);
    assert.equal(find(dropped.doc, "relay", RELAYS.relayA).status, "fail");
    await lab.site.run`nft delete table inet stfdoctor`;

    // Relay B dies: its probe fails, relay A still answers.
    await lab.stf.relayB?.stop("SIGTERM", 5_000);
    const dead = await doctor(lab.site, ...SITE_ARGS);
    assert.equal(dead.code, 1);
    const b = find(dead.doc, "relay", RELAYS.relayB);
    assert.equal(b.status, "fail");
    assert.match(b.message, /did not answer [1-9]\d* probes? in 3 s/);
    assert.match(
      b.advice ?? "",
      /relay is down or protocol 41 is dropped.*list another relay first/,
    );
    assert.equal(find(dead.doc, "relay", RELAYS.relayA).status, "ok");
    assert.equal(find(dead.doc, "firewall").status, "ok");
  },
);
