/**
 * An uplink whose MTU is below 1500 (PPPoE: 1492) under stf's default MTU 1480: a full-size
 * IPv6 packet becomes a 1500-byte IPv4 packet, and Linux refuses raw sends larger than the
 * route's device MTU (EMSGSIZE) instead of fragmenting them. Without an answer the IPv6 source
 * never learns and TCP stalls on its first full segment (a black hole). stf reads the route's
 * MTU from the send socket's error queue (`IP_RECVERR`), remembers it as the peer's path MTU
 * and answers with ICMPv6 Packet Too Big (RFC 4213 §3.4), so TCP's path MTU discovery adapts;
 * at start it warns which MTU would avoid that.
 *
 * @module
 */
import assert from "node:assert/strict";
import { labTest } from "./_lab.ts";
import { buildTwoSites, randomFile, sha256, startBoth, transferFromA } from "./_two_sites.ts";

labTest(
  "over an uplink with MTU 1492, TCP through stf0 (MTU 1480) learns the path MTU from Packet Too Big and completes",
  async (t) => {
    await using sites = await buildTwoSites();
    await sites.a.run`ip link set eth0 mtu 1492`;
    await sites.b.run`ip link set eth0 mtu 1492`;
    const source = await randomFile(sites, 4 * 1024 * 1024);
    const expected = await sha256(source);
    // The batched send path, and the one packet at a time path (no batch, no offload).
    for (const flags of [[], ["--batch", "1", "--no-offload"]]) {
      await t.step(`stf run ${flags.join(" ") || "(defaults)"}`, async () => {
        const [a, b] = await startBoth(sites, {
          a: [...flags, "--control-socket", `${sites.dir}/a.sock`],
          b: [...flags, "--control-socket", `${sites.dir}/b.sock`],
        });
        try {
          // stf says at start which MTU would avoid the round trip.
          const warning = a.logRecords().find((e) => e.level === "WARN" && "uplinkMtu" in e);
          assert.deepEqual(
            [warning?.uplink, warning?.uplinkMtu, warning?.needed, warning?.advised],
            ["eth0", 1492, 1500, 1472],
            a.stderr,
          );
          const copy = await transferFromA(sites, source, `copy${flags.join("")}`);
          assert.equal(await sha256(copy), expected, "the copy differs from the source");
          const egress = (await a.counters()).egress;
          assert.ok(egress.dropped["too-big"] >= 1, JSON.stringify(egress));
          assert.ok(egress.icmpSent >= 1, "Packet Too Big sent");
          assert.ok(egress.pathMtuUpdates >= 1, "the route's MTU learnt");
          assert.equal(egress.ioErrors, 0, "no send counted as an I/O error");
        } finally {
          await a.stop("SIGTERM", 5_000);
          await b.stop("SIGTERM", 5_000);
        }
      });
    }
  },
);
