/**
 * Faults under a running `stf run`: the TUN deleted, the IPv4 address removed and restored, a
 * firewall refusing our sends, a SIGHUP storm alternating good and broken configuration files
 * under load, and SIGTERM under load. Two sites (A and B) ping each other through the tunnel.
 */
import assert from "node:assert/strict";
import { labTest } from "./_lab.ts";
import { LabProcess, StfProcess } from "./_seed.ts";
import {
  A_IPV4,
  B_IPV4,
  B_STF,
  buildTwoSites,
  floodPing,
  pingReplies,
  sleep,
  startBoth,
} from "./_two_sites.ts";

async function stopAll(...stfs: StfProcess[]): Promise<void> {
  for (const stf of stfs) await stf.stop("SIGKILL", 2_000);
}

labTest("stf run exits 1 with a clear message when its TUN is deleted under it", async () => {
  await using sites = await buildTwoSites();
  const [a, b] = await startBoth(sites);
  try {
    assert.ok(await pingReplies(sites.a, B_STF, 3) > 0, "the tunnel works before");
    const started = performance.now();
    await sites.a.run`ip link del stf0`;
    const { status, killed } = await a.stop("SIGCONT", 10_000); // SIGCONT: no-op, just wait
    const elapsed = performance.now() - started;
    assert.equal(killed, false, `stf exits by itself:\n${a.output()}`);
    assert.equal(status.code, 1, a.output());
    assert.match(a.stderr, /Error: Forwarding stopped: The TUN device "stf0" is gone/);
    console.log(`TUN deleted: exit ${status.code} after ${elapsed.toFixed(0)} ms`);
    // B is unaffected.
    assert.equal(b.status, undefined);
  } finally {
    await stopAll(a, b);
  }
});

labTest(
  "stf run pauses egress (counted as own-ipv4-unavailable) while its IPv4 address is gone and recovers by itself",
  async () => {
    await using sites = await buildTwoSites();
    const [a, b] = await startBoth(sites);
    try {
      assert.equal(await pingReplies(sites.a, B_STF, 3), 3, "before: the tunnel works");
      const before = await a.counters();
      const logFrom = a.stderr.length;
      await sites.a.run`ip addr del ${A_IPV4}/24 dev eth0`;
      assert.equal(await pingReplies(sites.a, B_STF, 5), 0, "during: no reply");
      const during = await a.counters();
      // Issue 16: stf follows its address over rtnetlink and pauses egress at once, so the
      // packets are counted under a named reason instead of failing in the kernel.
      const paused = (c: typeof during) => c.egress.dropped["own-ipv4-unavailable"];
      assert.ok(
        paused(during) - paused(before) >= 5,
        `drops counted as own-ipv4-unavailable: ${JSON.stringify(during.egress)}`,
      );
      await sites.a.run`ip addr add ${A_IPV4}/24 dev eth0`;
      await sleep(500);
      assert.equal(await pingReplies(sites.a, B_STF, 5), 5, "after: the tunnel works again");
      assert.equal(a.status, undefined, "stf A stays up");
      const after = await a.counters();
      assert.ok(after.egress.packets > during.egress.packets);
      const logged = a.stderr.slice(logFrom);
      console.log(
        `address removed: ${paused(during) - paused(before)} drops as own-ipv4-unavailable, ` +
          `${during.egress.ioErrors - before.egress.ioErrors} send errors; log lines ` +
          `meanwhile: ${logged.trim().split("\n").filter(Boolean).length}`,
      );
      // "Counted and logged": a warning while egress is paused.
      assert.match(logged, /"level":"(WARN|WARNING|ERROR)"/, `no warning logged:\n${logged}`);
    } finally {
      await stopAll(a, b);
    }
  },
);

labTest(
  "stf run counts EPERM from a firewall rule as I/O errors, never crashes, and flows again",
  async () => {
    await using sites = await buildTwoSites();
    const [a, b] = await startBoth(sites);
    try {
      assert.equal(await pingReplies(sites.a, B_STF, 3), 3);
      const before = await a.counters();
      const logFrom = a.stderr.length;
      await sites.a.run`nft add table ip stffault`;
      await sites.a
        .run`nft add chain ip stffault out ${"{ type filter hook output priority 0; }"}`;
      await sites.a.run`nft add rule ip stffault out ip protocol 41 drop`;
      assert.equal(await pingReplies(sites.a, B_STF, 10), 0, "the firewall drops everything");
      const during = await a.counters();
      const errors = during.egress.ioErrors - before.egress.ioErrors;
      assert.ok(errors >= 10, `each refused send counted (${errors})`);
      assert.equal(during.egress.packets, before.egress.packets, "none counted as forwarded");
      // Logged too: the egress Worker tells of them at its next event-loop turn (within ~1 s).
      await a.waitFor(/"message":"\d+ \\"egress\\" packets refused by the kernel/, {
        from: logFrom,
        timeoutMs: 10_000,
      });
      await sites.a.run`nft delete table ip stffault`;
      assert.equal(await pingReplies(sites.a, B_STF, 5), 5, "flows again");
      assert.equal(a.status, undefined);
      console.log(`firewall EPERM: ${errors} send errors counted, process up`);
      const final = await a.finish();
      assert.ok(final.egress.ioErrors >= errors);
    } finally {
      await stopAll(a, b);
    }
  },
);

labTest(
  "stf run counts the packets its kernel drops at a full queue (ENOBUFS) as send errors",
  async () => {
    await using sites = await buildTwoSites();
    const [a, b] = await startBoth(sites);
    try {
      // 1 Mbit/s on A's uplink: a flood of 1248-byte packets overflows the queue at once.
      await sites.a.run`tc qdisc replace dev eth0 root tbf rate 1mbit burst 3000 limit 3000`;
      const before = await a.counters();
      const load = new LabProcess(sites.a, [
        "ping",
        "-q",
        "-f",
        "-s",
        "1200",
        "-l",
        "64",
        "-w",
        "3",
        B_STF,
      ], { label: "ping -f" });
      await load.stop("SIGCONT", 10_000); // runs for 3 s
      await sleep(500);
      const after = await a.counters();
      const stats = await sites.a.run`tc -s qdisc show dev eth0`.text();
      const m = /Sent \d+ bytes (\d+) pkt \(dropped (\d+)/.exec(stats)!;
      const [sent, dropped] = [Number(m[1]), Number(m[2])];
      const forwarded = after.egress.packets - before.egress.packets;
      const errors = after.egress.ioErrors - before.egress.ioErrors;
      console.log(
        `full queue: qdisc sent ${sent}, dropped ${dropped}; stf counted ${forwarded} ` +
          `forwarded, ${errors} send errors`,
      );
      assert.ok(dropped > 100, "the queue overflowed");
      assert.equal(a.status, undefined, "no crash");
      // Without IP_RECVERR the kernel hides ENOBUFS from raw sends (raw_send_hdrinc) and the
      // drops would count as forwarded: stf sends on an IPPROTO_RAW socket with IP_RECVERR.
      assert.ok(forwarded <= sent, `forwarded ${forwarded} > left the host ${sent}`);
      // A sendmmsg that stops at a dropped packet returns the packets sent before it and loses
      // its error (sendmmsg(2)); stf sends that packet again in the next call. When the retry
      // passes, the packet counts once as forwarded while the qdisc counted the first attempt
      // as a drop; when it fails again, one send error stands for two qdisc drops. So the
      // errors are at most the drops, and most of them.
      assert.ok(errors <= dropped, `send errors ${errors} > dropped ${dropped}`);
      assert.ok(errors >= dropped * 0.9, `send errors ${errors} < 90% of dropped ${dropped}`);
    } finally {
      await stopAll(a, b);
    }
  },
);

labTest(
  "stf run counts sends to an unreachable IPv4 neighbour once each and never crashes",
  async () => {
    await using sites = await buildTwoSites();
    const [a, b] = await startBoth(sites);
    try {
      const before = await a.counters();
      // 2002:c633:644d::1 embeds 198.51.100.77: on A's link, but nobody answers ARP, so the
      // kernel fails the neighbour (sends then get EHOSTUNREACH, or vanish in its queue).
      const replies = await pingReplies(sites.a, "2002:c633:644d::1", 10);
      assert.equal(replies, 0);
      await sleep(3_000);
      await pingReplies(sites.a, "2002:c633:644d::1", 10);
      const after = await a.counters();
      const forwarded = after.egress.packets - before.egress.packets;
      const errors = after.egress.ioErrors - before.egress.ioErrors;
      assert.equal(forwarded + errors, 20, `each echo counted once: ${forwarded} + ${errors}`);
      console.log(`unreachable neighbour: ${forwarded} sent, ${errors} send errors counted`);
      assert.equal(await pingReplies(sites.a, B_STF, 3), 3, "other peers unaffected");
      assert.equal(a.status, undefined);
    } finally {
      await stopAll(a, b);
    }
  },
);

labTest(
  "stf run survives 50 SIGHUPs under load, alternating good and broken files, and keeps the last good one",
  async () => {
    await using sites = await buildTwoSites();
    const allowB = `${sites.dir}/allow-b.yaml`;
    const allowOther = `${sites.dir}/allow-other.yaml`;
    const config = `${sites.dir}/stf.yaml`;
    await Deno.writeTextFile(allowB, `ipv4: ${A_IPV4}\nallow-peers: [${B_IPV4}]\n`);
    await Deno.writeTextFile(allowOther, `ipv4: ${A_IPV4}\nallow-peers: [203.0.113.1]\n`);
    const broken = [
      "ipv4: [unclosed\n",
      "ipv4: 198.51.100.1\nmtu: 9000\n",
      "ipv4: 198.51.100.1\nunknown-key: 1\n",
      "ipv4: 10.0.0.1\n",
      "",
    ];
    await Deno.copyFile(allowB, config);
    const a = await StfProcess.start(sites.a, ["--config", config], "stf A");
    const b = await StfProcess.start(sites.b, ["--ipv4", B_IPV4], "stf B").catch(async (e) => {
      await a.stop("SIGKILL", 2_000);
      throw e;
    });
    try {
      assert.ok(await pingReplies(sites.b, "2002:c633:6401::1", 3) > 0);
      const load = floodPing(sites.b, "2002:c633:6401::1", 60);
      try {
        const start = await a.counters();
        for (let i = 0; i < 50; i++) {
          // Good (B allowed), broken, other good (B refused), broken, …; ends on a good file
          // that allows B, then a broken one.
          const step = i % 4;
          if (step === 0) await Deno.copyFile(allowB, config);
          else if (step === 2) await Deno.copyFile(allowOther, config);
          else await Deno.writeTextFile(config, broken[i % broken.length]);
          a.signal("SIGHUP");
          await sleep(40);
        }
        // The storm ends: the last good file (i = 48) allows B; i = 49 was broken.
        await sleep(1_000);
        const mid = await a.counters();
        await sleep(1_000);
        const end = await a.counters();
        assert.equal(a.status, undefined, `stf stays up:\n${a.output()}`);
        assert.ok(end.ingress.packets > mid.ingress.packets, "B's packets still forwarded");
        assert.equal(
          end.ingress.dropped["peer-not-allowed"],
          mid.ingress.dropped["peer-not-allowed"],
          "the last good configuration (B allowed) is in force",
        );
        const reloaded = (a.stderr.match(/Configuration reloaded/g) ?? []).length;
        const refused = (a.stderr.match(/Configuration not reloaded/g) ?? []).length;
        console.log(
          `SIGHUP storm: 50 signals, ${reloaded} reloads, ${refused} refused, ` +
            `${end.ingress.packets - start.ingress.packets} packets forwarded meanwhile, ` +
            `${end.ingress.dropped["peer-not-allowed"]} peer-not-allowed`,
        );
        assert.ok(reloaded >= 10 && refused >= 10, `both kinds seen: ${reloaded}/${refused}`);
        // And a reload still works after the storm: B refused now.
        await Deno.copyFile(allowOther, config);
        a.signal("SIGHUP");
        await a.waitFor(/Configuration reloaded/, { from: a.stderr.length - 1 });
        await sleep(500);
        const x = await a.counters();
        await sleep(500);
        const y = await a.counters();
        assert.ok(y.ingress.dropped["peer-not-allowed"] > x.ingress.dropped["peer-not-allowed"]);
      } finally {
        await load.stop("SIGINT", 3_000);
      }
      const final = await a.finish();
      assert.ok(final.ingress.packets > 0);
    } finally {
      await stopAll(a, b);
    }
  },
);

labTest(
  "stf run exits within a second of SIGTERM under load and leaves the interfaces as before",
  async () => {
    await using sites = await buildTwoSites();
    const state = async () => {
      const link = await sites.a.json`ip -j link show`;
      const addr = await sites.a.json`ip -j addr show`;
      const route4 = await sites.a.json`ip -j -4 route show table all`;
      const route6 = await sites.a.json`ip -j -6 route show table all`;
      return JSON.stringify({ link, addr, route4, route6 });
    };
    const before = await state();
    const [a, b] = await startBoth(sites);
    const times: number[] = [];
    try {
      const load = floodPing(sites.a, B_STF, 30);
      try {
        await sleep(2_000);
        const c = await a.counters();
        assert.ok(c.egress.packets > 100, `under load: ${c.egress.packets} packets`);
        const t0 = performance.now();
        const { status, killed } = await a.stop("SIGTERM", 5_000);
        times.push(performance.now() - t0);
        assert.equal(killed, false);
        assert.equal(status.code, 0, a.output());
      } finally {
        await load.stop("SIGINT", 3_000);
      }
      console.log(`SIGTERM under load: exit after ${times[0].toFixed(0)} ms`);
      assert.ok(times[0] < 1_000, `exit within a second (${times[0].toFixed(0)} ms)`);
      assert.match(a.stdout, /"event":"counters.final"/);
      assert.equal(await state(), before, "links, addresses and routes as before run");
    } finally {
      await stopAll(a, b);
    }
  },
);
