/**
 * Hostile egress: random IPv6 packets built by scapy (`_hostile.py egress`) written into stf0
 * from the host side through an AF_PACKET socket, so the kernel hands them to the TUN's reader
 * (stf) without checking them: truncated, wrong versions and lengths, martian and foreign
 * sources, own and martian 6to4 and 6rd destinations, native ones with and without a relay, extension
 * headers, ICMPv6, nested tunnels, and packets over the tunnel MTU (stf0's MTU is raised to
 * 1500 behind stf's back, so the `too-big` rule is the only guard).
 *
 * Accounting: `tcpdump -Q out` on stf0 records everything the kernel queued to the TUN (the
 * generator's packets and the kernel's own, e.g. MLD); with no TUN queue drop (`tx dropped`
 * of stf0), stf must count each exactly once, per reason as the reference (`_reference.ts`)
 * says. On the IPv4 side (`tcpdump -Q out` of eth0, protocol 41) exactly the reference's
 * forwarded packets leave, each to the outer destination the reference names, from own4, with
 * a well-formed outer header: nothing forbidden leaves.
 */
import assert from "node:assert/strict";
import { labTest } from "./_lab.ts";
import { StfProcess } from "./_seed.ts";
import {
  assertCaptureComplete,
  buildHostileLab,
  handled,
  HOSTILE,
  nonZero,
  runGenerator,
  settle,
  sortedObject,
  startTcpdump,
  tally,
  waitForPcap,
  withCaptureRetries,
} from "./_hostile.ts";
import {
  ipv4Of,
  ipv4Text,
  OUT_REASONS,
  packetKey,
  readPcapPackets,
  Reference,
  type ReferenceSettings,
} from "./_reference.ts";

interface Phase {
  readonly name: string;
  readonly count: number;
  readonly args: readonly string[];
  readonly settings: Pick<ReferenceSettings, "mode" | "relay" | "sitePrefixes" | "sixRd">;
  readonly sixRd?: boolean;
}

// The lab's 6rd domain: 2001:db8:6000::/40 with 8 common IPv4 bits (198/8), so own4's
// delegated prefix is 2001:db8:6033:6401::/64 (RFC 5969 §7.1.1).
const SIX_RD = {
  prefix: "2001:db8:6000::/40",
  ipv4MaskLength: 8,
  ipv4CommonPrefix: "198.0.0.0",
};

const ONLY = Deno.env.get("STF_HOSTILE_PHASE");

const ALL_PHASES: readonly Phase[] = [
  {
    name: "router",
    count: 5000,
    args: [],
    settings: { mode: "router", sitePrefixes: [HOSTILE.sitePrefix] },
  },
  {
    name: "router-relay",
    count: 4000,
    // No relay probe during the phase: the capture must hold forwarded packets only.
    args: ["--relay", "192.0.2.99", "--relay-probe-interval", "3600"],
    settings: { mode: "router", relay: "192.0.2.99", sitePrefixes: [HOSTILE.sitePrefix] },
  },
  {
    name: "return-path",
    count: 1500,
    args: ["--mode", "return-path"],
    settings: { mode: "return-path", sitePrefixes: [HOSTILE.sitePrefix] },
  },
  {
    name: "6rd",
    count: 2000,
    args: [
      "--6rd-prefix",
      SIX_RD.prefix,
      "--6rd-ipv4-mask-len",
      `${SIX_RD.ipv4MaskLength}`,
      "--6rd-ipv4-common-prefix",
      SIX_RD.ipv4CommonPrefix,
      "--relay",
      "192.0.2.99",
      "--relay-probe-interval",
      "3600",
    ],
    settings: {
      mode: "router",
      relay: "192.0.2.99",
      sitePrefixes: [HOSTILE.sitePrefix],
      sixRd: SIX_RD,
    },
    sixRd: true,
  },
];
// STF_HOSTILE_PHASE=name runs one phase only (for debugging).
const PHASES = ALL_PHASES.filter((p) => ONLY === undefined || p.name === ONLY);

// `dst-ipv4-invalid` needs the 6rd phase: a 6to4 destination embedding a C4 address is in C6
// (2002:V::/48, V in C4) and is `dst-invalid` first, and a relay in C4 is refused at
// configuration time; a 6rd destination embedding a C4 address (198.51.100.255, our subnet's
// broadcast) is not in C6.

interface LinkStats {
  stats64: { tx: { dropped: number } };
}

labTest(
  "stf run accounts for 12 000 hostile IPv6 packets from the TUN exactly and sends only what the rules allow",
  async () => {
    await using lab = await buildHostileLab();
    // Resolve the next hop first: packets queued behind ARP could be dropped by the kernel.
    await lab.site.run`ping -c 1 -W 2 ${HOSTILE.wan4}`.quiet();
    const seen = new Set<string>();
    const totals = { sent: 0, queued: 0, forwarded: 0 };
    for (const [index, phase] of PHASES.entries()) {
      await withCaptureRetries(phase.name, 3, async () => {
        const stf = await StfProcess.start(lab.site, [
          "--ipv4",
          HOSTILE.own4,
          "--site-prefix",
          HOSTILE.sitePrefix,
          ...phase.args,
        ], `stf (${phase.name})`);
        try {
          await lab.site.run`ip link set stf0 mtu 1500`;
          const tunPcap = `${lab.dir}/${phase.name}-tun.pcap`;
          const wanPcap = `${lab.dir}/${phase.name}-wan.pcap`;
          const tun = await startTcpdump(lab.site, "stf0", { path: tunPcap, direction: "out" });
          const wan = await startTcpdump(lab.site, "eth0", {
            path: wanPcap,
            direction: "out",
            filter: "ip proto 41",
          });
          const sent = await runGenerator(lab.site, [
            "egress",
            "stf0",
            `${7000 + index}`,
            `${phase.count}`,
            ...(phase.sixRd ? ["6rd"] : []),
          ]);
          const counters = await settle(() => stf.counters(), "egress");
          const stats = await lab.site.json<LinkStats[]>`ip -s -j link show stf0`;
          await waitForPcap(tunPcap, handled(counters.egress));
          await waitForPcap(wanPcap, counters.egress.packets);
          await tun.stop("SIGINT", 5_000);
          await wan.stop("SIGINT", 5_000);
          // The captures themselves lost nothing.
          assertCaptureComplete(tun);
          assertCaptureComplete(wan);
          assert.equal(stf.status, undefined, `stf (${phase.name}) stays up:\n${stf.output()}`);
          const final = await stf.finish();
          assert.equal(stats[0].stats64.tx.dropped, 0, "the TUN queue dropped nothing");

          const queued = readPcapPackets(await Deno.readFile(tunPcap));
          const reference = new Reference({
            ...phase.settings,
            own4: HOSTILE.own4,
            local: HOSTILE.local,
            broadcasts: HOSTILE.broadcasts,
            mtu: 1480,
          });
          const verdicts = queued.map((p) => ({ p, v: reference.egress(p) }));
          const egress = final.egress;
          assert.equal(handled(egress), queued.length, "stf counted every packet of the TUN");
          assert.equal(handled(counters.egress), queued.length);
          assert.equal(egress.ioErrors, 0, "no send failed");
          assert.deepEqual(
            nonZero({ ...egress.dropped, forwarded: egress.packets }),
            sortedObject(tally(verdicts.map(({ v }) => v.reason))),
            `per-reason counts (${phase.name})`,
          );

          // The IPv4 side: each packet well formed, from own4, to the reference's destination.
          const own4 = ipv4Of(HOSTILE.own4);
          const expected = tally(verdicts.flatMap(({ p, v }) => {
            if (v.outer === undefined) return [];
            const length = 40 + p[4] * 256 + p[5];
            return [`${ipv4Text(v.outer)} ${packetKey(p.subarray(0, length))}`];
          }));
          const left = readPcapPackets(await Deno.readFile(wanPcap)).map((o) => {
            const word = (i: number) => ((o[i] * 256 + o[i + 1]) * 256 + o[i + 2]) * 256 + o[i + 3];
            assert.equal(o[0], 0x45, "version 4, IHL 5");
            assert.equal(o[9], 41);
            assert.equal(o[6] & 0x3f, 0, "not a fragment (the TUN MTU allows 1480 inner bytes)");
            assert.equal(o[6] & 0x40, 0, "DF clear (RFC 4213 §3.2.1)");
            assert.equal(o[2] * 256 + o[3], o.length, "total length");
            assert.equal(word(12), own4, "source own4");
            assert.ok(!reference.c4(word(16)), `destination ${ipv4Text(word(16))} not in C4`);
            return `${ipv4Text(word(16))} ${packetKey(o.subarray(20))}`;
          });
          const leftTally = tally(left);
          const forbidden = [...leftTally.keys()].filter((k) => !expected.has(k));
          assert.deepEqual(forbidden.slice(0, 3), [], "nothing a rule forbids leaves");
          assert.deepEqual(sortedObject(leftTally), sortedObject(expected), "nothing allowed lost");

          for (const { v } of verdicts) seen.add(v.reason);
          totals.sent += sent.packets;
          totals.queued += queued.length;
          totals.forwarded += egress.packets;
          console.log(
            `hostile egress (${phase.name}): ${sent.packets} built, ${sent.frames} written, ` +
              `${queued.length} queued to the TUN, ${egress.packets} sent, ` +
              JSON.stringify(nonZero(egress.dropped)),
          );
        } finally {
          await stf.stop("SIGKILL", 2_000);
        }
      });
    }
    console.log(`hostile egress totals: ${JSON.stringify(totals)}`);
    if (ONLY !== undefined) return;
    assert.ok(totals.sent >= 10_000);
    // own-ipv4-unavailable is about the host, not the packet: address_change_test.ts reaches it.
    const reachable = OUT_REASONS.filter((r) => r !== "own-ipv4-unavailable");
    assert.deepEqual(reachable.filter((r) => !seen.has(r)), [], "every OUT reason was reached");
    assert.ok(seen.has("forwarded"));
  },
);
