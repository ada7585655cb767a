/**
 * Relays that break, end to end: a site with two relays (`--relay A --relay B`, probed every
 * second, down after 3 lost) sends its LAN's traffic to native IPv6 through A; A's return path
 * is cut with nftables; the site notices, logs it, counts it, and moves the traffic (ping and
 * a TCP transfer) to B within 5 s; A restored, the traffic goes back to it. Probe replies never
 * reach the site's TUN.
 *
 * @module
 */
import assert from "node:assert/strict";
import { labTest, type Netns, stfArgv } from "./_lab.ts";
import {
  breakReturnPath,
  buildRelayLab,
  FAILOVER_SITE_ARGS,
  measureFailover,
  RELAYS,
  waitForRecord,
} from "./_relays.ts";
import { Capture } from "./_seed.ts";

const CONTROL = `/run/stf/relay-failover-${Deno.pid}.sock`;

/** A counter on a relay of protocol-41 packets from the site carrying data to the server. */
async function countData(relay: Netns): Promise<() => Promise<number>> {
  // The inner destination (IPv6 header at byte 20, destination at 24): 2001:db8:ffff::80.
  await relay.run`nft -f -`.stdinText(
    "table ip stfcount {\n chain in {\n  type filter hook input priority -10;\n" +
      `  ip saddr ${RELAYS.siteIpv4} ip protocol 41 @nh,352,64 0x20010db8ffff0000 counter\n` +
      " }\n}\n",
  );
  return async () => {
    const text = await relay.run`nft -j list table ip stfcount`.text();
    const found = /"counter":\s*\{\s*"packets":\s*(\d+)/.exec(text);
    assert.ok(found !== null, text);
    return Number(found[1]);
  };
}

async function ping(lan: Netns): Promise<void> {
  const out = await lan.run`ping -6 -c 3 -i 0.2 -W 2 ${RELAYS.server}`.noThrow().quiet()
    .captureCombined();
  assert.equal(out.code, 0, `ping from the LAN to the server failed:\n${out.combined}`);
}

async function tcp(lan: Netns): Promise<void> {
  // 200 kB to the server, which counts them back.
  const out = await lan
    .run`sh -c ${`head -c 200000 /dev/zero | timeout 10 socat -T 5 - TCP6:[${RELAYS.server}]:${RELAYS.serverPort}`}`
    .noThrow().quiet().captureCombined();
  assert.equal(out.code, 0, `TCP from the LAN to the server failed:\n${out.combined}`);
  assert.equal(out.stdout.trim(), "200000", out.combined);
}

async function status(
  site: Netns,
): Promise<
  { address: string; state: string; active: boolean; lostInARow: number; rttMs: number | null }[]
> {
  const text = await site.run`${stfArgv("status", "--control-socket", CONTROL, "--json")}`.noThrow()
    .text();
  const doc = JSON.parse(text) as { forwarder: { relays: [] } | null };
  assert.ok(doc.forwarder !== null, text);
  return doc.forwarder.relays;
}

labTest(
  "a LAN flow moves to the second relay within 5 s when the first one's return path breaks, and back",
  async () => {
    await using lab = await buildRelayLab();
    const service = lab.spawn(lab.server, [
      "socat",
      `TCP6-LISTEN:${RELAYS.serverPort},bind=[${RELAYS.server}],reuseaddr,fork`,
      "SYSTEM:wc -c",
    ], "socat server");
    const viaA = await countData(lab.relayA);
    const viaB = await countData(lab.relayB);
    const site = await lab.startSite([
      ...FAILOVER_SITE_ARGS,
      "--control-socket",
      CONTROL,
      "--metrics",
      "127.0.0.1:9641",
    ]);
    // What reaches the site's TUN from the relays' own addresses: never a probe reply.
    const tunCapture = await Capture.start(lab.site, "stf0", {
      path: `${await Deno.makeTempDir()}/stf0.pcap`,
      filter: `icmp6 and (src ${RELAYS.relayA6} or src ${RELAYS.relayB6})`,
    });
    await waitForRecord(site, { relay: RELAYS.relayA, state: "up" }, { timeoutMs: 5_000 });
    await waitForRecord(site, { relay: RELAYS.relayB, state: "up" }, { timeoutMs: 5_000 });
    await lab.server
      .run`sh -c ${`for i in $(seq 50); do ss -Hltn | grep -q :${RELAYS.serverPort} && exit 0; sleep 0.1; done; exit 1`}`;

    // 1. Both up: the flow goes through A, the first one.
    await ping(lab.lan);
    await tcp(lab.lan);
    const a1 = await viaA();
    assert.ok(a1 >= 3 + 5, `relay A carried ${a1} data packets`);
    assert.equal(await viaB(), 0, "relay B carried data while A was up");
    assert.deepEqual((await status(lab.site)).map((r) => [r.address, r.state, r.active]), [
      [RELAYS.relayA, "up", true],
      [RELAYS.relayB, "up", false],
    ]);

    // 2. A's return path breaks: what it sends back to the site is dropped.
    const restore = await breakReturnPath(lab.relayA);
    const broken = Date.now();
    const after = site.logRecords().length;
    await waitForRecord(site, { relay: RELAYS.relayB, from: RELAYS.relayA }, {
      after,
      timeoutMs: 15_000,
      text: /^Native IPv6 now goes through relay/,
    });
    const failoverMs = Date.now() - broken;
    console.log(
      `failover with --relay-probe-interval 1 --relay-probe-failures 3: ${failoverMs} ms`,
    );
    assert.ok(failoverMs <= 5_000, `failover took ${failoverMs} ms`);
    const down = await waitForRecord(site, { relay: RELAYS.relayA, state: "down" }, { after });
    assert.equal(down.level, "WARN");
    assert.equal(down.lostInARow, 3);
    assert.match(String(down.message), /3 probes lost in a row/);
    const switched = site.logRecords().slice(after).filter((r) =>
      String(r.message).startsWith("Native IPv6 now goes through relay")
    );
    assert.equal(switched.length, 1, "the switch was logged more than once");
    assert.equal(switched[0].level, "WARN");

    const a2 = await viaA();
    await ping(lab.lan);
    await tcp(lab.lan);
    assert.equal(await viaA(), a2, "data still went to relay A after the failover");
    assert.ok(await viaB() >= 3 + 5, "the flow did not move to relay B");
    const relays = await status(lab.site);
    assert.deepEqual(relays.map((r) => [r.address, r.state, r.active]), [
      [RELAYS.relayA, "down", false],
      [RELAYS.relayB, "up", true],
    ]);
    assert.ok(relays[0].lostInARow >= 3);
    assert.ok(relays[1].rttMs !== null && relays[1].rttMs > 0);
    const metrics = await lab.site.run`curl -s http://127.0.0.1:9641/metrics`.text();
    assert.match(metrics, new RegExp(`^stf_relay_active\\{relay="${RELAYS.relayB}"\\} 1$`, "m"));
    assert.match(metrics, new RegExp(`^stf_relay_up\\{relay="${RELAYS.relayA}"\\} 0$`, "m"));
    const lost = new RegExp(
      `^stf_relay_probes_total\\{relay="${RELAYS.relayA}",result="lost"\\} (\\d+)$`,
      "m",
    )
      .exec(metrics);
    assert.ok(lost !== null && Number(lost[1]) >= 3, metrics);
    assert.match(
      metrics,
      new RegExp(`^stf_relay_rtt_seconds\\{relay="${RELAYS.relayB}"\\} 0\\.\\d+`, "m"),
    );

    // 3. A restored: two answers bring it back, and the traffic with it.
    const restoredAfter = site.logRecords().length;
    await restore();
    const up = await waitForRecord(site, { relay: RELAYS.relayA, state: "up" }, {
      after: restoredAfter,
    });
    assert.equal(typeof up.rttMs, "number");
    await waitForRecord(site, { relay: RELAYS.relayA, from: RELAYS.relayB }, {
      after: restoredAfter,
      text: /^Native IPv6 now goes through relay/,
    });
    const b3 = await viaB();
    await ping(lab.lan);
    await tcp(lab.lan);
    assert.ok(await viaA() >= a2 + 3 + 5, "the flow did not come back to relay A");
    assert.equal(await viaB(), b3, "data still went to relay B after A came back");

    // Probes were answered all along, and no reply reached the TUN.
    const answered = new RegExp(
      `^stf_relay_probes_total\\{relay="${RELAYS.relayB}",result="answered"\\} (\\d+)$`,
      "m",
    )
      .exec(await lab.site.run`curl -s http://127.0.0.1:9641/metrics`.text());
    assert.ok(answered !== null && Number(answered[1]) >= 5);
    assert.deepEqual(await tunCapture.stop(), [], "a probe reply reached the site's TUN");
    await service.stop();
  },
);

labTest(
  "SIGHUP applies a changed relay list: the new first relay takes the traffic, known states stay",
  async () => {
    await using lab = await buildRelayLab();
    const dir = await Deno.makeTempDir({ prefix: "stf-relays-" });
    const file = `${dir}/stf.yaml`;
    const write = (relays: string[]) =>
      Deno.writeTextFile(
        file,
        [
          `ipv4: ${RELAYS.siteIpv4}`,
          `relays: [${relays.join(", ")}]`,
          "default-route: true",
          "relay-probe-interval: 1",
          "",
        ].join("\n"),
      );
    try {
      await write([RELAYS.relayA]);
      const viaB = await countData(lab.relayB);
      const site = await lab.startSite(["--config", file, "--control-socket", `${CONTROL}.hup`]);
      await waitForRecord(site, { relay: RELAYS.relayA, state: "up" }, { timeoutMs: 5_000 });

      const after = site.logRecords().length;
      await write([RELAYS.relayB, RELAYS.relayA]);
      site.signal("SIGHUP");
      await waitForRecord(site, { relay: RELAYS.relayB, from: RELAYS.relayA }, {
        after,
        text: /^Native IPv6 now goes through relay/,
      });
      await waitForRecord(site, { relay: RELAYS.relayB, state: "up" }, { after, timeoutMs: 5_000 });
      const relays = await lab.site.run`${
        stfArgv("status", "--control-socket", `${CONTROL}.hup`, "--json")
      }`.json<{ forwarder: { relay: string; relays: { address: string; state: string }[] } }>();
      assert.equal(relays.forwarder.relay, RELAYS.relayB);
      assert.deepEqual(relays.forwarder.relays.map((r) => [r.address, r.state]), [
        [RELAYS.relayB, "up"],
        [RELAYS.relayA, "up"], // known before the reload: not probed from scratch
      ]);
      await ping(lab.lan);
      assert.ok(await viaB() >= 3, "the LAN's traffic did not follow the new first relay");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

labTest(
  "after an own-IPv4 change the probes follow the new address and the relay failover chose stays",
  async () => {
    await using lab = await buildRelayLab();
    const control = `/run/stf/relay-follow-${Deno.pid}.sock`;
    // The failover site, but following its uplink interface instead of a fixed address.
    const [ipv4Flag, , ...relayArgs] = FAILOVER_SITE_ARGS;
    assert.equal(ipv4Flag, "--ipv4");
    const site = await lab.startSite([
      "--ipv4",
      "wan",
      ...relayArgs,
      "--control-socket",
      control,
    ]);
    const forwarder = async () => {
      const text = await lab.site.run`${stfArgv("status", "--control-socket", control, "--json")}`
        .noThrow().text();
      const doc = JSON.parse(text) as {
        forwarder: {
          ipv4: string;
          relay: string | null;
          addressChanges: number;
          relays: { address: string; state: string; active: boolean; lostInARow: number }[];
        } | null;
      };
      assert.ok(doc.forwarder !== null, text);
      return doc.forwarder;
    };
    await waitForRecord(site, { relay: RELAYS.relayB, state: "up" }, { timeoutMs: 5_000 });
    // Relay A answers neither the old nor the new site address.
    await lab.relayA.run`nft -f -`.stdinText(
      "table ip stfbreak {\n chain out {\n  type filter hook output priority 0;\n" +
        "  ip daddr 198.51.100.0/24 ip protocol 41 drop\n }\n}\n",
    );
    await waitForRecord(site, { relay: RELAYS.relayB, from: RELAYS.relayA }, {
      timeoutMs: 15_000,
      text: /^Native IPv6 now goes through relay/,
    });
    assert.equal((await forwarder()).relay, RELAYS.relayB);

    // The uplink gets another address: the follower swaps the policy in both Workers. The
    // settings it swaps in must keep relay B (the configuration's first relay is A, down).
    const NEW4 = "198.51.100.2";
    await lab.site.run`ip addr del ${RELAYS.siteIpv4}/24 dev wan`;
    await lab.site.run`ip addr add ${NEW4}/24 dev wan`;
    await lab.site.run`ip route replace default via 198.51.100.254`;
    const deadline = Date.now() + 5_000;
    while ((await forwarder()).addressChanges < 1) {
      assert.ok(Date.now() < deadline, "the address change was not followed");
      await new Promise((r) => setTimeout(r, 100));
    }
    const changed = await forwarder();
    assert.equal(changed.ipv4, NEW4);
    assert.equal(changed.relay, RELAYS.relayB, "the follower put the configuration's relay back");
    // Probes from the old address would go unanswered: B would be down after 3 s.
    await new Promise((r) => setTimeout(r, 4_500));
    const after = await forwarder();
    assert.deepEqual(after.relays.map((r) => [r.address, r.state, r.active]), [
      [RELAYS.relayA, "down", false],
      [RELAYS.relayB, "up", true],
    ]);
    assert.ok(after.relays[1].lostInARow < 3, JSON.stringify(after.relays));
    assert.equal(after.relay, RELAYS.relayB);
  },
);

labTest(
  "with the default probe settings (10 s, 3 lost) native IPv6 moves to the second relay within 40 s",
  async () => {
    await using lab = await buildRelayLab();
    const site = await lab.startSite([
      "--ipv4",
      RELAYS.siteIpv4,
      "--relay",
      RELAYS.relayA,
      "--relay",
      RELAYS.relayB,
      "--default-route",
    ]);
    // The first probe of each relay goes out at a random point of the first 10 s; up after 2.
    await waitForRecord(site, { relay: RELAYS.relayA, state: "up" }, { timeoutMs: 30_000 });
    const failoverMs = await measureFailover(lab, site, 45_000);
    console.log(`failover with the default probe settings: ${failoverMs} ms`);
    assert.ok(failoverMs <= 40_000, `failover took ${failoverMs} ms`);
  },
);
