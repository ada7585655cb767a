/**
 * The seed's scenario in network namespaces (issue 4, "Tests → Lab"): a 6to4 site reaches a
 * native IPv6 server through a relay, and the server's stf in return-path mode sends the replies
 * straight back over IPv4. Then: the relay refusing to relay towards 6to4, two 6to4 sites talking
 * directly, hostile protocol-41 input, and the tunnel MTU. Topology: `_seed.ts`.
 */
import assert from "node:assert/strict";
import { labTest, type Netns } from "./_lab.ts";
import {
  buildSeedLab,
  type CapturedLine,
  type CraftedPackets,
  SEED,
  sendCrafted,
  waitUntil,
} from "./_seed.ts";

/** Lines of a `tcpdump -n` reading whose IPv4 header goes from `src` to `dst`. */
function ipv4Between(lines: readonly CapturedLine[], src: string, dst: string): CapturedLine[] {
  return lines.filter((l) => l.startsWith(`IP ${src} > ${dst}:`));
}

/** How many lines contain `text`. */
function count(lines: readonly CapturedLine[], text: string): number {
  return lines.filter((l) => l.includes(text)).length;
}

function show(lines: readonly CapturedLine[]): string {
  return lines.length === 0 ? "(no packets)" : lines.join("\n");
}

labTest(
  "the LAN host of a 6to4 site reaches a native server by ping and TCP; the reply bypasses the relay",
  async () => {
    await using lab = await buildSeedLab();
    const relayWan = await lab.capture(lab.relay, "wan", "ip proto 41");
    const relayV6 = await lab.capture(lab.relay, "v6", "ip6");
    const siteWan = await lab.capture(lab.site, "wan", "ip proto 41");

    const ping = await lab.lan.run`ping -6 -c 3 -i 0.2 -W 2 ${SEED.serverNative}`.noThrow()
      .quiet().captureCombined();
    assert.equal(ping.code, 0, `ping from the LAN to the server failed:\n${ping.combined}`);

    const service = lab.spawn(lab.server, [
      "socat",
      `TCP6-LISTEN:${SEED.serverPort},bind=[${SEED.serverNative}],reuseaddr,fork`,
      "SYSTEM:echo hello from the server",
    ], "socat server");
    await lab.server
      .run`sh -c ${`for i in $(seq 50); do ss -Hltn | grep -q :${SEED.serverPort} && exit 0; sleep 0.1; done; exit 1`}`;
    const tcp = await lab.lan
      .run`timeout 10 socat -T 5 - TCP6:[${SEED.serverNative}]:${SEED.serverPort}`.stdinText("")
      .noThrow().quiet().captureCombined();
    assert.equal(tcp.code, 0, `TCP from the LAN to the server failed:\n${tcp.combined}`);
    assert.match(tcp.stdout, /hello from the server/);
    await service.stop();

    const wan = await relayWan.stop();
    const v6 = await relayV6.stop();
    const site = await siteWan.stop();
    // The request: site → relay as protocol 41, then native from the relay to the server.
    const requests = ipv4Between(wan, SEED.siteIpv4, SEED.relayIpv4);
    const lan = SEED.lanHost;
    const srv = SEED.serverNative;
    const port = SEED.serverPort;
    assert.equal(count(requests, `IP6 ${lan} > ${srv}: ICMP6, echo request`), 3, show(wan));
    assert.ok(
      count(requests, `IP6 ${lan}.`) >= 3,
      `no TCP request via the relay:
${show(wan)}`,
    );
    assert.ok(count(v6, `IP6 ${lan} > ${srv}: ICMP6, echo request`) === 3, show(v6));
    assert.ok(
      count(v6, `IP6 ${lan}.`) >= 3,
      `the relay forwarded no TCP natively:
${show(v6)}`,
    );
    // The reply: never on the relay, in neither form.
    assert.deepEqual(ipv4Between(wan, SEED.relayIpv4, SEED.siteIpv4), [], show(wan));
    assert.deepEqual(v6.filter((l) => l.includes(`> ${lan}`)), [], show(v6));
    // ... but straight from the server's IPv4 to the site.
    const replies = ipv4Between(site, SEED.serverIpv4, SEED.siteIpv4);
    assert.equal(count(replies, `IP6 ${srv} > ${lan}: ICMP6, echo reply`), 3, show(site));
    assert.ok(count(replies, `IP6 ${srv}.${port} > ${lan}.`) >= 2, show(site));

    const server = await lab.stf.server!.finish();
    assert.ok(server.egress.packets >= 6, `server egress: ${JSON.stringify(server.egress)}`);
    assert.equal(server.ingress.packets, 0);
    const siteCounters = await lab.stf.site!.finish();
    assert.ok(siteCounters.ingress.packets >= 6, JSON.stringify(siteCounters.ingress));
    assert.ok(siteCounters.egress.packets >= 6, JSON.stringify(siteCounters.egress));
  },
);

/** Pings from `ns` (count `n`, 1 s per reply); returns the exit code and the output. */
async function ping(ns: Netns, target: string, ...args: string[]) {
  const out = await ns.run`ping -6 -c 3 -i 0.2 -W 1 ${args} ${target}`.noThrow().quiet()
    .captureCombined();
  return { code: out.code, text: out.combined };
}

const RELAY_FIREWALL = `
table ip6 stflab {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip6 daddr 2002::/16 counter drop
  }
}
`;

/** Packets the relay's firewall dropped so far. */
async function firewallDrops(ns: Netns): Promise<number> {
  const text = await ns.run`nft list chain ip6 stflab forward`.text();
  const match = text.match(/counter packets (\d+)/);
  assert.ok(match !== null, text);
  return Number(match[1]);
}

labTest(
  "with the relay refusing traffic towards 6to4, replies arrive while the server runs stf and stop without it",
  async () => {
    await using lab = await buildSeedLab();
    await lab.relay.run`nft -f -`.stdinText(RELAY_FIREWALL);

    const withStf = await ping(lab.lan, SEED.serverNative);
    assert.equal(withStf.code, 0, `ping failed although the server runs stf:\n${withStf.text}`);
    assert.equal(await firewallDrops(lab.relay), 0, "a reply went through the relay");

    await lab.stf.server!.finish();
    const routes = await lab.server.run`ip -6 route show 2002::/16`.text();
    assert.equal(routes.trim(), "", "the server kept its 2002::/16 route after stf stopped");
    const withoutStf = await ping(lab.lan, SEED.serverNative);
    assert.notEqual(
      withoutStf.code,
      0,
      `ping succeeded without the server's stf:\n${withoutStf.text}`,
    );
    assert.match(withoutStf.text, / 0 received/);
    assert.ok(
      await firewallDrops(lab.relay) >= 3,
      "the replies did not reach the relay's firewall",
    );

    // The control: the same path works once the relay relays towards 6to4 again.
    await lab.relay.run`nft delete table ip6 stflab`;
    const viaRelay = await ping(lab.lan, SEED.serverNative);
    assert.equal(viaRelay.code, 0, `ping through the relay failed:\n${viaRelay.text}`);
  },
);

labTest("two 6to4 sites talk directly, never through the relay", async () => {
  await using lab = await buildSeedLab({ siteB: true });
  const relayWan = await lab.capture(lab.relay, "wan");
  const relayV6 = await lab.capture(lab.relay, "v6");
  const siteWan = await lab.capture(lab.site, "wan", "ip proto 41");

  const fromLan = await ping(lab.lan, SEED.siteBStf);
  assert.equal(fromLan.code, 0, `ping from site A's LAN to site B failed:\n${fromLan.text}`);
  const fromB = await ping(lab.siteB!, SEED.lanHost);
  assert.equal(fromB.code, 0, `ping from site B to site A's LAN failed:\n${fromB.text}`);

  const relayLines = [...await relayWan.stop(), ...await relayV6.stop()];
  const theirs = relayLines.filter((l) =>
    [SEED.siteIpv4, SEED.siteBIpv4, "2002:c633:6401", "2002:cb00:7114"].some((a) => l.includes(a))
  );
  assert.deepEqual(theirs, [], "the relay saw packets of the two sites");
  const site = await siteWan.stop();
  assert.ok(ipv4Between(site, SEED.siteIpv4, SEED.siteBIpv4).length >= 6, show(site));
  assert.ok(ipv4Between(site, SEED.siteBIpv4, SEED.siteIpv4).length >= 6, show(site));

  const b = await lab.stf.siteB!.finish();
  assert.ok(b.ingress.packets >= 6 && b.egress.packets >= 6, JSON.stringify(b));
  const relay = await lab.stf.relay!.finish();
  assert.equal(relay.ingress.packets + relay.egress.packets, 0, JSON.stringify(relay));
});

/** A hostile batch and the one reason it must be counted under. */
interface Hostile extends CraftedPackets {
  readonly reason: string;
  /** Sent by the IPv4 router next to the site rather than by the attacker. */
  readonly fromRouter?: boolean;
}

labTest(
  "hostile protocol-41 input never reaches the LAN and each packet is counted under its reason",
  async () => {
    const n = 5;
    const site = SEED.siteIpv4;
    const attacker = SEED.attackerIpv4;
    const peer6 = "2002:cb00:7142::1"; // the attacker's own 6to4 address: not spoofed
    const lanHost = SEED.lanHost;
    const hostile: Hostile[] = [
      // The seed's rule: no unwrapped packet may claim an address of the home network.
      { reason: "inner-src-own-prefix", src4: attacker, src6: "2001:db8:5173::666", dst6: lanHost },
      // ... also when the outer source is forged as the site's own IPv4.
      { reason: "inner-src-own-prefix", src4: site, src6: "2002:c633:6401:1::666", dst6: lanHost },
      // A 6to4 source whose IPv4 is not the sender's, including the site's own prefix.
      { reason: "inner-src-spoofed", src4: attacker, src6: "2002:cb00:7163::1", dst6: lanHost },
      { reason: "inner-src-spoofed", src4: attacker, src6: "2002:c633:6401:1::666", dst6: lanHost },
      ...["10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.0.1"].map((src4) => ({
        reason: "outer-src-invalid",
        src4,
        src6: peer6,
        dst6: lanHost,
      })),
      // The lab's Linux router did not forward a loopback source even with route_localnet=1:
      // these come from the IPv4 router next to the site. (0/8, 224/4 and 255.255.255.255 are
      // dropped by the site's kernel before stf sees them.)
      ...["127.0.0.1", "240.0.0.1"].map((src4) => ({
        reason: "outer-src-invalid",
        src4,
        src6: peer6,
        dst6: lanHost,
        fromRouter: true,
      })),
      {
        reason: "native-to-native",
        src4: attacker,
        src6: "2001:db8:ffff::666",
        dst6: "2001:db8:5173::10",
      },
      // Using the site as an open relay towards a native destination.
      { reason: "inner-dst-not-ours", src4: attacker, src6: peer6, dst6: SEED.serverNative },
      { reason: "inner-dst-mismatch", src4: attacker, src6: peer6, dst6: "2002:c633:6402::10" },
      { reason: "inner-src-invalid", src4: attacker, src6: "fe80::666", dst6: lanHost },
      { reason: "inner-dst-invalid", src4: attacker, src6: peer6, dst6: "ff02::1" },
      {
        reason: "outer-dst-not-own",
        dst4: "198.51.100.3",
        src4: attacker,
        src6: peer6,
        dst6: lanHost,
      },
    ].map((h) => ({ dst4: site, count: n, ...h }));

    await using lab = await buildSeedLab({
      attacker: true,
      siteArgs: ["--site-prefix", SEED.siteNativePrefix, "--log-level", "debug"],
    });
    // A second address of the site (outer-dst-not-own) and its own address as a forged source.
    await lab.site.run`ip addr add 198.51.100.3/24 dev wan`;
    await lab.site
      .run`sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.wan.accept_local=1`;
    const lan = await lab.capture(lab.lan, "eth0", "ip6");

    await sendCrafted(lab.inet, hostile.filter((h) => h.fromRouter === true));
    // Last, the control: one valid packet from the attacker's own 6to4 address is forwarded.
    await sendCrafted(lab.attacker!, [
      ...hostile.filter((h) => h.fromRouter !== true),
      { src4: attacker, dst4: site, src6: peer6, dst6: lanHost, count: 1 },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const counters = await lab.stf.site!.counters();
    const lines = await lan.stop();
    const requests = lines.filter((l) => l.includes("echo request"));
    assert.deepEqual(
      requests.map((l) => l.slice(0, l.indexOf(" > "))),
      [`IP6 ${peer6}`],
      `the LAN saw other echo requests than the control:\n${show(lines)}`,
    );
    const expected: Record<string, number> = {};
    for (const reason of Object.keys(counters.ingress.dropped)) expected[reason] = 0;
    for (const h of hostile) expected[h.reason] += h.count;
    assert.deepEqual(counters.ingress.dropped, expected, "ingress drops per reason");
    assert.equal(counters.ingress.packets, 1, "ingress packets forwarded (the control)");

    // The debug log names each drop (rate-limited): its addresses and reason are the batch's.
    const designed = new Map(hostile.map((h) => [`${h.src4} ${h.dst4} ${h.src6} ${h.dst6}`, h]));
    const logged = lab.stf.site!.stderr.split("\n").filter((l) => l.includes('"reason":'))
      .map((l) => JSON.parse(l) as Record<string, string>)
      .filter((l) => l.direction === "ingress");
    assert.ok(logged.length > 0, `no drop logged:\n${lab.stf.site!.stderr}`);
    for (const l of logged) {
      const batch = designed.get(`${l.src4} ${l.dst4} ${l.src6} ${l.dst6}`);
      assert.equal(l.reason, batch?.reason, `logged drop ${JSON.stringify(l)}`);
    }
  },
);

labTest(
  "a 1480-byte packet crosses the tunnel; a 1481-byte one gets Packet Too Big with MTU 1480",
  async () => {
    await using lab = await buildSeedLab();
    const siteWan = await lab.capture(lab.site, "wan", "ip proto 41");
    const fits = await ping(lab.lan, SEED.serverNative, "-s", "1432", "-M", "do");
    assert.equal(fits.code, 0, `a 1480-byte packet did not pass:\n${fits.text}`);
    assert.match(fits.text, /1440 bytes from 2001:db8:ffff::80/);
    // Both stf encapsulate it whole: a 1500-byte IPv4 packet, DF clear (RFC 4213 §3.2).
    const outer = await siteWan.stop({ verbose: true });
    for (const [src, dst] of [[SEED.siteIpv4, SEED.relayIpv4], [SEED.serverIpv4, SEED.siteIpv4]]) {
      const big = outer.filter((l) => l.includes(`${src} > ${dst}:`) && l.includes("length 1500"));
      assert.equal(big.length, 3, `1500-byte packets ${src} > ${dst}:\n${show(outer)}`);
      for (const l of big) assert.match(l, /flags \[none\], proto IPv6 \(41\), length 1500/);
    }

    const big = await ping(lab.lan, SEED.serverNative, "-s", "1433", "-M", "do");
    assert.notEqual(big.code, 0, `a 1481-byte packet passed:\n${big.text}`);
    assert.match(big.text, /[Pp]acket too big: mtu=1480/);
    const route = await lab.lan.run`ip -6 route get ${SEED.serverNative}`.text();
    assert.match(route, /mtu 1480/, "the LAN host cached no path MTU");
  },
);

labTest(
  "an ICMPv4 fragmentation-needed about the site's packets makes stf answer larger ones with Packet Too Big",
  async () => {
    await using lab = await buildSeedLab();
    const big = ["-s", "1432", "-M", "do"];
    const before = await ping(lab.lan, SEED.serverNative, ...big);
    assert.equal(before.code, 0, `a 1480-byte packet did not pass:\n${before.text}`);

    // A router on the way to the relay says our 1500-byte packets need fragmenting (RFC 1191).
    await sendCrafted(lab.inet, [{
      src4: "198.51.100.254",
      dst4: SEED.siteIpv4,
      quotedDst4: SEED.relayIpv4,
      src6: SEED.lanHost,
      dst6: SEED.serverNative,
      count: 1,
      fragNeededMtu: 1400,
    }]);
    await waitUntil(
      async () => (await lab.stf.site!.counters()).egress.pathMtuUpdates >= 1,
      "stf did not take the fragmentation-needed into account",
    );
    const after = await ping(lab.lan, SEED.serverNative, ...big);
    assert.notEqual(after.code, 0, `a 1480-byte packet still passed:\n${after.text}`);
    assert.match(after.text, new RegExp(`From ${SEED.siteStf} .*Packet too big: mtu=1380`));
    const fits = await ping(lab.lan, SEED.serverNative, "-s", "1332", "-M", "do");
    assert.equal(fits.code, 0, `a 1380-byte packet did not pass:\n${fits.text}`);

    const counters = await lab.stf.site!.finish();
    assert.ok(counters.egress.dropped["too-big"] >= 1, JSON.stringify(counters.egress));
    assert.ok(counters.egress.icmpSent >= 1, JSON.stringify(counters.egress));
    assert.equal(counters.egress.pathMtuEntries, 1, "one peer (the relay) with a path MTU");
  },
);
