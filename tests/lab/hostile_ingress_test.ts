/**
 * Hostile ingress: 12 000 random protocol-41 packets built by scapy (`_hostile.py ingress`)
 * sent from a WAN namespace to `stf run` in four configurations, covering every IN rule of
 * docs/filtering.md: truncated and over-long headers, wrong lengths and versions, IPv4 options,
 * fragments (reassembled or lone), bad checksums, IPv6 extension headers, ICMPv6, IPv6 and
 * protocol 41 nested in the inner packet, own/foreign/martian 6to4 and native addresses.
 *
 * Accounting. The kernel checks the outer header before any raw socket sees it: a bad checksum,
 * a total length beyond the frame, IHL < 5, version ≠ 4, bad options, martian sources
 * (0/8, 127/8, multicast, 255.255.255.255) and a destination that is not local are dropped;
 * fragments are reassembled (a lone one never arrives); trailing bytes past the total length
 * are trimmed. So "sent" cannot be compared with stf's counters directly. Instead a second raw
 * socket of protocol 41 in the site (`_hostile.py listen`) records exactly what the kernel
 * delivered: it gets a copy of every packet stf's socket gets (neither is bound). With no
 * receive-buffer drop on either socket (`/proc/net/raw`), stf must account for each delivered
 * packet exactly once: forwarded + drops by reason + I/O errors = delivered, and per reason
 * the counts equal those of the reference (`_reference.ts`, written from docs/filtering.md)
 * applied to the delivered packets. What stf wrote into stf0 (`tcpdump -Q in`) must be
 * exactly the multiset of inner packets the reference forwards: nothing forbidden reaches the
 * LAN side, nothing allowed is lost.
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
  rawSocketDrops,
  runGenerator,
  settle,
  sortedObject,
  startListener,
  startTcpdump,
  tally,
  waitForPcap,
  waitForRecords,
  withCaptureRetries,
} from "./_hostile.ts";
import {
  IN_REASONS,
  packetKey,
  readPcapPackets,
  readRecords,
  Reference,
  type ReferenceSettings,
} from "./_reference.ts";

interface Phase {
  readonly name: string;
  readonly count: number;
  readonly args: readonly string[];
  readonly settings: Omit<ReferenceSettings, "own4" | "local" | "broadcasts" | "mtu">;
}

const PHASES: readonly Phase[] = [
  {
    name: "router",
    count: 6000,
    args: [],
    settings: { mode: "router", sitePrefixes: [HOSTILE.sitePrefix] },
  },
  {
    name: "allow",
    count: 2500,
    args: [
      "--allow-peer",
      "203.0.113.0/24",
      "--allow-peer",
      "198.51.100.2",
      "--allow-relay",
      "192.0.2.99",
    ],
    settings: {
      mode: "router",
      sitePrefixes: [HOSTILE.sitePrefix],
      allowPeers: ["203.0.113.0/24", "198.51.100.2"],
      allowRelays: ["192.0.2.99"],
    },
  },
  {
    name: "relay",
    count: 2000,
    args: ["--mode", "relay"],
    settings: { mode: "relay", sitePrefixes: [HOSTILE.sitePrefix] },
  },
  {
    name: "return-path",
    count: 1500,
    args: ["--mode", "return-path", "--allow-peer", "203.0.113.7"],
    settings: {
      mode: "return-path",
      sitePrefixes: [HOSTILE.sitePrefix],
      allowPeers: ["203.0.113.7"],
    },
  },
];

labTest(
  "stf run accounts for 12 000 hostile protocol-41 packets exactly and forwards only what the rules allow",
  async () => {
    await using lab = await buildHostileLab();
    const seen = new Set<string>();
    const totals = { sent: 0, frames: 0, delivered: 0, forwarded: 0 };
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
          const pcap = `${lab.dir}/${phase.name}.pcap`;
          const records = `${lab.dir}/${phase.name}.rec`;
          const lanSide = await startTcpdump(lab.site, "stf0", { path: pcap, direction: "in" });
          const oracle = await startListener(lab.site, records);
          const sent = await runGenerator(lab.wan, [
            "ingress",
            "eth0",
            lab.siteMac,
            `${5173 + index}`,
            `${phase.count}`,
            phase.name,
          ]);
          const counters = await settle(() => stf.counters(), "ingress");
          const drops = await rawSocketDrops(lab.site);
          await waitForRecords(records, handled(counters.ingress));
          await oracle.stop("SIGTERM", 5_000);
          await waitForPcap(pcap, counters.ingress.packets);
          await lanSide.stop("SIGINT", 5_000);
          assertCaptureComplete(lanSide);
          assert.equal(stf.status, undefined, `stf (${phase.name}) stays up:\n${stf.output()}`);
          const final = await stf.finish();

          // No receive-buffer overflow: both sockets saw the same packets.
          assert.deepEqual(drops.filter((d) => d !== 0), [], `raw socket drops ${drops}`);
          assert.equal(drops.length, 2, "stf's socket and the oracle's");

          const delivered = readRecords(await Deno.readFile(records));
          const reference = new Reference({
            ...phase.settings,
            own4: HOSTILE.own4,
            local: HOSTILE.local,
            broadcasts: HOSTILE.broadcasts,
            mtu: 1480,
          });
          const verdicts = delivered.map((p) => reference.ingress(p));
          const expectedReasons = tally(verdicts.map((v) => v.reason));
          const ingress = final.ingress;
          // Exactly once: every delivered packet is forwarded or dropped for one reason.
          assert.equal(handled(ingress), delivered.length, "stf counted every delivered packet");
          assert.equal(handled(counters.ingress), delivered.length);
          assert.equal(ingress.ioErrors, 0, "no TUN write failed");
          const got = nonZero({ ...ingress.dropped, forwarded: ingress.packets });
          assert.deepEqual(got, sortedObject(expectedReasons), `per-reason counts (${phase.name})`);

          // The LAN side: exactly the reference's forwarded inner packets, byte for byte.
          const written = tally(readPcapPackets(await Deno.readFile(pcap)).map(packetKey));
          const allowed = tally(verdicts.flatMap((v) => (v.inner ? [packetKey(v.inner)] : [])));
          const unexpected = [...written.keys()].filter((k) => !allowed.has(k));
          assert.deepEqual(unexpected.slice(0, 3), [], "nothing a rule forbids reaches stf0");
          assert.deepEqual(sortedObject(written), sortedObject(allowed), "nothing allowed is lost");

          for (const r of expectedReasons.keys()) seen.add(r);
          totals.sent += sent.packets;
          totals.frames += sent.frames;
          totals.delivered += delivered.length;
          totals.forwarded += ingress.packets;
          console.log(
            `hostile ingress (${phase.name}): ${sent.packets} packets (${sent.frames} frames) sent, ` +
              `${delivered.length} delivered by the kernel, ${ingress.packets} forwarded, ` +
              JSON.stringify(nonZero(ingress.dropped)),
          );
        } finally {
          await stf.stop("SIGKILL", 2_000);
        }
      });
    }
    console.log(`hostile ingress totals: ${JSON.stringify(totals)}`);
    assert.ok(totals.sent >= 10_000);
    // Every IN rule was exercised (and matched the reference).
    assert.deepEqual(IN_REASONS.filter((r) => !seen.has(r)), [], "every IN reason was reached");
    assert.ok(seen.has("forwarded"));
  },
);
