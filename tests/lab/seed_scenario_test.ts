/**
 * The seed's scenario in network namespaces (issue 4, "Tests → Lab"): a 6to4 site reaches a
 * native IPv6 server through a relay, and the server's stf in return-path mode sends the replies
 * straight back over IPv4. Then: the relay refusing to relay towards 6to4, two 6to4 sites talking
 * directly, hostile protocol-41 input, and the tunnel MTU. Topology: `_seed.ts`.
 */
import assert from "node:assert/strict";
import { labTest } from "./_lab.ts";
import {
  buildSeedLab,
  type CapturedLine,
  type CraftedPackets,
  SEED,
  sendCrafted,
} from "./_seed.ts";

/** Lines of a `tcpdump -n` reading whose IPv4 header goes from `src` to `dst`. */
function ipv4Between(lines: readonly CapturedLine[], src: string, dst: string): CapturedLine[] {
  return lines.filter((l) => l.startsWith(`IP ${src} > ${dst}:`));
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
    assert.ok(requests.length >= 3 + 3, `requests seen on the relay:\n${show(wan)}`);
    assert.ok(
      v6.some((l) => l.startsWith(`IP6 ${SEED.lanHost} > ${SEED.serverNative}:`)),
      `the relay forwarded no request natively:\n${show(v6)}`,
    );
    // The reply: never on the relay, in neither form.
    assert.deepEqual(ipv4Between(wan, SEED.relayIpv4, SEED.siteIpv4), [], show(wan));
    assert.deepEqual(v6.filter((l) => l.includes(`> ${SEED.lanHost}`)), [], show(v6));
    // ... but straight from the server's IPv4 to the site.
    const replies = ipv4Between(site, SEED.serverIpv4, SEED.siteIpv4);
    assert.ok(replies.length >= 3 + 3, `replies from the server at the site:\n${show(site)}`);
    assert.ok(
      replies.some((l) => l.includes(`${SEED.serverNative} > ${SEED.lanHost}`)),
      show(replies),
    );

    const server = await lab.stf.server!.finish();
    assert.ok(server.egress.packets >= 6, `server egress: ${JSON.stringify(server.egress)}`);
    assert.equal(server.ingress.packets, 0);
    const siteCounters = await lab.stf.site!.finish();
    assert.ok(siteCounters.ingress.packets >= 6, JSON.stringify(siteCounters.ingress));
    assert.ok(siteCounters.egress.packets >= 6, JSON.stringify(siteCounters.egress));
  },
);
