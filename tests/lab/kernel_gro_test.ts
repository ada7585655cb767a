/**
 * Receive coalescing by the kernel in front of stf: on a real uplink (a NIC with GRO, the
 * default), Linux merges consecutive 6in4 TCP segments of a flow before the raw socket sees
 * them (the `sit` GRO offload is built into IPv6, whether or not the `sit` driver exists). The
 * raw socket then hands stf one large packet whose inner TCP checksum holds only the
 * pseudo-header sum (CHECKSUM_PARTIAL, as `tcp6_gro_complete` leaves it). Written into the TUN
 * as it is, the receiving TCP drops every such packet and the transfer stalls.
 *
 * The lab makes B's veth behave like such a NIC (`mergeLikeNic`). The test checks that the
 * kernel did merge (else it proves nothing), then that a file crosses intact to B itself and to
 * a LAN host behind B (B forwards the GSO packets stf writes, as a home router does), with no
 * TCP checksum error at B, with offloads on, off, without batches, and with two queues.
 *
 * @module
 */
import assert from "node:assert/strict";
import { labTest, mergeLikeNic, Netns, vethPair } from "./_lab.ts";
import {
  buildTwoSites,
  randomFile,
  sha256,
  startBoth,
  transferFromA,
  type TwoSites,
} from "./_two_sites.ts";

const LAN_HOST = "2002:c633:6402:1::10";

/** A counter of `nstat` in a namespace (absolute, not reset). */
async function nstat(sites: TwoSites, site: "a" | "b", name: string): Promise<number> {
  const text = await sites[site].run`nstat -az ${name}`.text();
  const m = new RegExp(`^${name}\\s+(\\d+)`, "m").exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function rxPackets(sites: TwoSites, site: "a" | "b"): Promise<number> {
  type Link = { stats64: { rx: { packets: number } } };
  const links = await sites[site].json<Link[]>`ip -s -j link show dev eth0`;
  return links[0].stats64.rx.packets;
}

labTest(
  "TCP segments the uplink's kernel coalesced (GRO) before the raw socket cross intact",
  async (t) => {
    await using sites = await buildTwoSites();
    await mergeLikeNic({ ns: sites.a, dev: "eth0" }, { ns: sites.b, dev: "eth0" }, true);
    // A LAN host behind B, in B's 6to4 site (2002:c633:6402:1::/64).
    await using lan = await Netns.create("stfgc");
    await vethPair(sites.b, "lan0", lan, "eth0");
    await sites.b.run`sysctl -qw net.ipv6.conf.all.forwarding=1`;
    await sites.b.run`ip -6 addr add 2002:c633:6402:1::1/64 dev lan0 nodad`;
    await lan.run`ip -6 addr add ${LAN_HOST}/64 dev eth0 nodad`;
    await lan.run`ip -6 route add default via 2002:c633:6402:1::1`;
    const source = await randomFile(sites, 8 * 1024 * 1024);
    const expected = await sha256(source);

    for (const flags of [[], ["--no-offload"], ["--batch", "1"], ["--queues", "2"]]) {
      await t.step(`stf run ${flags.join(" ") || "(defaults)"}`, async () => {
        const [a, b] = await startBoth(sites, {
          a: [...flags, "--control-socket", `${sites.dir}/a.sock`],
          b: [...flags, "--control-socket", `${sites.dir}/b.sock`],
        });
        try {
          const rx0 = await rxPackets(sites, "b");
          const ip0 = await nstat(sites, "b", "IpInReceives");
          const csum0 = await nstat(sites, "b", "TcpInCsumErrors");
          const copy = await transferFromA(sites, source, `copy${flags.join("")}`);
          const forwarded = await transferFromA(sites, source, `lan${flags.join("")}`, {
            ns: lan,
            address: LAN_HOST,
          });
          const merged = (await rxPackets(sites, "b") - rx0) -
            (await nstat(sites, "b", "IpInReceives") - ip0);
          // Without merges at B's eth0 this test would prove nothing.
          assert.ok(merged > 100, `B's kernel merged only ${merged} packets`);
          assert.equal(await nstat(sites, "b", "TcpInCsumErrors") - csum0, 0);
          assert.equal(await sha256(copy), expected, "B's copy differs from the source");
          assert.equal(await sha256(forwarded), expected, "the LAN host's copy differs");
          const counters = await b.counters();
          assert.equal(counters.ingress.dropped.malformed, 0);
          assert.ok(counters.ingress.packets > 0);
        } finally {
          await a.stop("SIGTERM", 5_000);
          await b.stop("SIGTERM", 5_000);
        }
      });
    }
  },
);
