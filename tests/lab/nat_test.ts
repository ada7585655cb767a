/**
 * A 6to4 site behind a 1:1 NAT (`--bind-ipv4`): its public address 198.51.100.10 is on the NAT
 * box (nftables), the host itself has 192.0.2.10. Both directions work with a 6to4 peer.
 */
import assert from "node:assert/strict";
import { labTest, Netns, stfArgv, vethPair } from "./_lab.ts";

async function waitForLog(child: Deno.ChildProcess, log: () => string, text: string) {
  const end = Date.now() + 15000;
  while (!log().includes(text)) {
    if (Date.now() > end) throw new Error(`Timed out waiting for "${text}" in:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

function startStf(ns: Netns, args: string[]) {
  const argv = ns.exec(...stfArgv("run", ...args));
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of child.stderr) log += decoder.decode(chunk, { stream: true });
  })();
  return { child, log: () => log, done };
}

labTest(
  "a site behind a 1:1 NAT (--bind-ipv4) reaches a 6to4 peer and is reached by it",
  async () => {
    await using site = await Netns.create("stfnats");
    await using nat = await Netns.create("stfnatn");
    await using peer = await Netns.create("stfnatp");
    await vethPair(site, "wan0", nat, "in0");
    await vethPair(nat, "out0", peer, "wan0");
    await site.run`ip addr add 192.0.2.10/24 dev wan0`;
    await site.run`ip route add default via 192.0.2.1`;
    await nat.run`ip addr add 192.0.2.1/24 dev in0`;
    await nat.run`ip addr add 203.0.113.1/24 dev out0`;
    await nat.run`sysctl -qw net.ipv4.ip_forward=1`;
    await nat.run`nft -f -`.stdinText(`
table ip nat {
  chain pre { type nat hook prerouting priority -100; ip daddr 198.51.100.10 dnat to 192.0.2.10; }
  chain post { type nat hook postrouting priority 100; ip saddr 192.0.2.10 snat to 198.51.100.10; }
}`);
    await peer.run`ip addr add 203.0.113.20/24 dev wan0`;
    await peer.run`ip route add 198.51.100.10/32 via 203.0.113.1`;

    // Without --bind-ipv4, the public address is refused: it is not on this host.
    const refused = await site.run`${stfArgv("up", "--ipv4", "198.51.100.10", "--dry-run")}`
      .noThrow().quiet();
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /not an address of this host/);

    const a = startStf(site, ["--ipv4", "198.51.100.10", "--bind-ipv4", "192.0.2.10"]);
    const b = startStf(peer, ["--ipv4", "203.0.113.20"]);
    try {
      await waitForLog(a.child, a.log, "Forwarding on");
      await waitForLog(b.child, b.log, "Forwarding on");
      const out = await site.run`ping -c 3 -i 0.2 -W 2 2002:cb00:7114::1`.noThrow().quiet();
      assert.equal(out.code, 0, `site → peer: ${out.stdout}${out.stderr}`);
      const back = await peer.run`ping -c 3 -i 0.2 -W 2 2002:c633:640a::1`.noThrow().quiet();
      assert.equal(back.code, 0, `peer → site: ${back.stdout}${back.stderr}`);
    } finally {
      a.child.kill("SIGTERM");
      b.child.kill("SIGTERM");
      await Promise.all([a.child.status, b.child.status, a.done, b.done]);
    }
  },
);
