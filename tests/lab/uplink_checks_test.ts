/**
 * What `stf run` reads about its uplink at start: the interface's features through the ethtool
 * ioctl (checked against `ethtool -k`), and the warning about receive offloads that merge
 * protocol 41 in ways stf cannot undo (`rx-gro-list`, `rx-udp-gro-forwarding`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { labTest, Netns, vethPair } from "./_lab.ts";
import { A_IPV4, buildTwoSites } from "./_two_sites.ts";
import { StfProcess } from "./_seed.ts";

/** `ethtool -k` of an interface in a namespace, as name → on. */
async function ethtoolK(ns: Netns, name: string): Promise<Map<string, boolean>> {
  const text = await ns.run`ethtool -k ${name}`.text();
  const out = new Map<string, boolean>();
  for (const m of text.matchAll(/^\s*([a-z0-9-]+): (on|off)/gm)) out.set(m[1], m[2] === "on");
  return out;
}

/** interfaceFeatures() of an interface in a namespace (run there by a small script). */
async function featuresIn(ns: Netns, name: string): Promise<Map<string, boolean>> {
  const module = new URL("../../lib/netif/ethtool.ts", import.meta.url).href;
  const script = `import { interfaceFeatures } from "${module}";\n` +
    `console.log(JSON.stringify([...interfaceFeatures(${JSON.stringify(name)})]));`;
  const text = await ns.run`${Deno.execPath()} eval ${script}`.text();
  return new Map(JSON.parse(text) as [string, boolean][]);
}

labTest(
  "interfaceFeatures() reads what ethtool -k shows, before and after ethtool -K",
  async () => {
    await using a = await Netns.create("stfea");
    await using b = await Netns.create("stfeb");
    await vethPair(a, "eth0", b, "eth0");
    for (const step of ["defaults", "changed"]) {
      if (step === "changed") {
        await a.run`ethtool -K eth0 rx-gro-list on rx-udp-gro-forwarding on tso off`.quiet();
      }
      const ours = await featuresIn(a, "eth0");
      const theirs = await ethtoolK(a, "eth0");
      const common = [...theirs.keys()].filter((k) => ours.has(k));
      // ethtool prints the kernel's own names for most features (its legacy ones differ).
      assert.ok(common.length >= 20, `only ${common.length} names in common`);
      for (const k of common) assert.equal(ours.get(k), theirs.get(k), `${step}: ${k}`);
      const expected = step === "changed";
      assert.equal(ours.get("rx-gro-list"), expected);
      assert.equal(ours.get("rx-udp-gro-forwarding"), expected);
    }
  },
);

labTest(
  "stf run warns when its uplink has rx-gro-list on, and names the command that fixes it",
  async () => {
    await using sites = await buildTwoSites();
    await sites.a.run`ethtool -K eth0 rx-gro-list on`.quiet();
    const stf = await StfProcess.start(sites.a, [
      "--ipv4",
      A_IPV4,
      "--control-socket",
      `${sites.dir}/a.sock`,
    ]);
    try {
      const warnings = stf.logRecords().filter((e) => e.level === "WARN" && "feature" in e);
      assert.deepEqual(warnings.map((w) => [w.uplink, w.feature]), [["eth0", "rx-gro-list"]]);
      assert.match(String(warnings[0].message), /ethtool -K .*eth0.* .*rx-gro-list.* off/);
    } finally {
      await stf.stop("SIGTERM", 5_000);
    }
  },
);
