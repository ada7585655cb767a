/**
 * A changing public IPv4 (issue 16): a 6to4 site router runs `stf run --ipv4 eth0` with a
 * prefix hook; its LAN host pings a 6to4 peer and sends it a file over TCP. The uplink's
 * address is changed with `ip addr` (198.51.100.10 → .20, prefix 2002:c633:640a::/48 →
 * 2002:c633:6414::/48). The peer learns the new address by 6to4 itself: the new prefix embeds
 * it, so the peer's replies go to 198.51.100.20 with no change on its side. The hook renumbers
 * the LAN (what radvd would do, README), so the LAN host's traffic uses the new prefix.
 *
 * Also: the address removed and restored (egress paused with `own-ipv4-unavailable`, then
 * resumed), and SIGHUP with a changed file at the same moment as an address change.
 */
import assert from "node:assert/strict";
import { labTest, Netns, vethPair } from "./_lab.ts";
import { Capture, sendCrafted, StfProcess, waitUntil } from "./_seed.ts";
import { sha256, sleep } from "./_two_sites.ts";
import $ from "dax";

const OLD4 = "198.51.100.10";
const NEW4 = "198.51.100.20";
const PEER4 = "198.51.100.2";
const OLD_PREFIX = "2002:c633:640a::/48";
const NEW_PREFIX = "2002:c633:6414::/48";
const PEER_STF = "2002:c633:6402::1";
const OLD_HOST = "2002:c633:640a:1::10";
const NEW_HOST = "2002:c633:6414:1::10";
const PORT = 5001;

interface Lab extends AsyncDisposable {
  readonly site: Netns;
  readonly peer: Netns;
  readonly lan: Netns;
  readonly dir: string;
  readonly hookLog: string;
  readonly hook: string;
}

/**
 * The site (uplink eth0 198.51.100.10, LAN lan0), the peer (198.51.100.2) and a LAN host
 * (OLD_HOST, default route via fe80::1 on the site), and the hook script.
 */
async function buildLab(): Promise<Lab> {
  const site = await Netns.create("stfas");
  const peer = await Netns.create("stfap");
  const lan = await Netns.create("stfal");
  const dir = await Deno.makeTempDir({ prefix: "stf_address_" });
  await Deno.chmod(dir, 0o755);
  const lab: Lab = {
    site,
    peer,
    lan,
    dir,
    hookLog: `${dir}/hook.log`,
    hook: `${dir}/on-prefix-change`,
    async [Symbol.asyncDispose]() {
      for (const ns of [site, peer, lan]) await ns[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  try {
    await vethPair(site, "eth0", peer, "eth0");
    await vethPair(site, "lan0", lan, "eth0");
    await site.run`ip addr add ${OLD4}/24 dev eth0`;
    await peer.run`ip addr add ${PEER4}/24 dev eth0`;
    await site.run`sysctl -qw net.ipv6.conf.all.forwarding=1`;
    await site.run`ip -6 addr add fe80::1/64 dev lan0 nodad`;
    await site.run`ip -6 addr add 2002:c633:640a:1::1/64 dev lan0 nodad`;
    await lan.run`ip -6 addr add ${OLD_HOST}/64 dev eth0 nodad`;
    await lan.run`ip -6 route add default via fe80::1 dev eth0`;
    // The hook: record the arguments and environment, then renumber the LAN as radvd would
    // make its hosts do (README's hook rewrites radvd.conf instead).
    await Deno.writeTextFile(
      lab.hook,
      `#!/bin/sh
echo "$# $1 $2 $STF_OLD_PREFIX $STF_NEW_PREFIX $STF_OLD_IPV4 $STF_NEW_IPV4 $STF_INTERFACE" >> ${lab.hookLog}
old=\${1%::/48}; new=\${2%::/48}
ip -6 addr add $new:1::1/64 dev lan0 nodad
ip -6 addr del $old:1::1/64 dev lan0
ip netns exec ${lan.name} ip -6 addr add $new:1::10/64 dev eth0 nodad
ip netns exec ${lan.name} ip -6 addr del $old:1::10/64 dev eth0
echo "renumbered the LAN to $2"
`,
    );
    await Deno.chmod(lab.hook, 0o755);
    return lab;
  } catch (e) {
    await lab[Symbol.asyncDispose]();
    throw e;
  }
}

/** One ping from `ns` (optionally from `source`) to the peer's stf0; true on a reply. */
async function pingOnce(ns: Netns, source?: string): Promise<boolean> {
  const from = source === undefined ? [] : ["-I", source];
  const out = await ns.run`ping -n -c 1 -W 0.3 ${from} ${PEER_STF}`.noThrow().quiet();
  return out.code === 0;
}

/** Sends `bytes` random bytes from the LAN host to the peer over TCP; checks the copy. */
async function transfer(lab: Lab, name: string, bytes: number): Promise<void> {
  const source = `${lab.dir}/${name}.src`;
  const target = `${lab.dir}/${name}.dst`;
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(source, data);
  const server = lab.peer
    .run`timeout 30 socat -u TCP6-LISTEN:${PORT},reuseaddr OPEN:${target},creat,trunc`
    .noThrow().quiet().spawn();
  await waitUntil(
    async () => (await lab.peer.run`ss -Hltn sport = :${PORT}`.text()).trim() !== "",
    "the socat server did not listen",
  );
  const sent = await lab.lan.run`timeout 30 socat -u OPEN:${source} TCP6:[${PEER_STF}]:${PORT}`
    .noThrow().quiet();
  assert.equal(sent.code, 0, `socat client exit code ${sent.code}`);
  assert.equal((await server).code, 0);
  assert.equal(await sha256(target), await sha256(source), `${name}: the copy is whole`);
}

async function hookLines(lab: Lab): Promise<string[]> {
  const text = await Deno.readTextFile(lab.hookLog).catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}

/** Old-source protocol-41 packets in a pcap, with their capture time (seconds since 1970). */
async function oldSourcePackets(path: string): Promise<number[]> {
  const text = await $`tcpdump -n -tt -r ${path} ${`ip proto 41 and src host ${OLD4}`}`
    .quiet("stderr").text();
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => Number(l.split(" ")[0]));
}

async function startSite(lab: Lab, extra: readonly string[] = []): Promise<StfProcess> {
  return await StfProcess.start(lab.site, [
    "--ipv4",
    "eth0",
    "--on-prefix-change",
    lab.hook,
    "--control-socket",
    `${lab.dir}/site.sock`,
    ...extra,
  ], "stf site");
}

async function startPeer(lab: Lab): Promise<StfProcess> {
  return await StfProcess.start(lab.peer, [
    "--ipv4",
    PEER4,
    "--control-socket",
    `${lab.dir}/peer.sock`,
  ], "stf peer");
}

async function siteStatus(lab: Lab): Promise<Record<string, unknown>> {
  const out = await lab.site
    .run`${Deno.execPath()} run -A ${
    new URL("../../main.ts", import.meta.url).pathname
  } status --control-socket ${lab.dir}/site.sock --json`
    .noThrow().quiet().text();
  return JSON.parse(out).forwarder as Record<string, unknown>;
}

labTest(
  "a new uplink address: traffic resumes under the new prefix within 2 s, the old prefix is refused, the hook runs once, nothing leaves from the old address",
  async () => {
    await using lab = await buildLab();
    const site = await startSite(lab);
    const peer = await startPeer(lab);
    try {
      // Before: the LAN pings the peer and a TCP transfer runs, under the old prefix.
      assert.ok(await pingOnce(lab.lan, OLD_HOST), `before: the tunnel works\n${site.output()}`);
      await transfer(lab, "before", 2_000_000);

      // Keep the LAN talking across the change (ping keeps its old source address).
      const background = lab.lan.run`ping -n -q -i 0.05 -w 8 ${PEER_STF}`.noThrow().quiet()
        .spawn();
      const capture = await Capture.start(lab.peer, "eth0", {
        path: `${lab.dir}/uplink.pcap`,
        filter: "ip proto 41",
      });
      await sleep(500);
      const before = await site.counters();
      const changed = Date.now();
      await lab.site.run`ip addr del ${OLD4}/24 dev eth0`;
      await lab.site.run`ip addr add ${NEW4}/24 dev eth0`;
      const added = Date.now();

      // Traffic resumes under the new prefix (the hook renumbered the LAN host).
      await waitUntil(() => pingOnce(lab.lan, NEW_HOST), "no reply under the new prefix", 5_000);
      const resumedMs = Date.now() - changed;
      console.log(`address change: a reply under the new prefix ${resumedMs} ms after it`);
      assert.ok(resumedMs < 2_000, `resumed within 2 s (${resumedMs} ms)`);
      await background;
      await transfer(lab, "after", 2_000_000);

      // The old prefix is no longer ours: protocol 41 to 2002:OLD:: is dropped, named.
      const mid = await site.counters();
      await sendCrafted(lab.peer, [{
        src4: PEER4,
        dst4: NEW4,
        src6: PEER_STF,
        dst6: "2002:c633:640a::1",
        count: 3,
      }]);
      await sleep(300);
      const after = await site.counters();
      const ingressDrops = Object.entries(after.ingress.dropped)
        .map(([r, n]) => [r, n - (mid.ingress.dropped[r] ?? 0)] as const)
        .filter(([, n]) => n > 0);
      assert.deepEqual(ingressDrops, [["inner-dst-mismatch", 3]], "named and counted");
      // The LAN host's packets meanwhile: held while the address was gone, then (until the
      // hook removed its old address) refused as src-not-own. How many of each depends on
      // timing, so they are shown, not asserted.
      const drops = (r: string) => after.egress.dropped[r] - before.egress.dropped[r];
      console.log(
        `egress during the change: ${drops("own-ipv4-unavailable")} own-ipv4-unavailable, ` +
          `${drops("src-not-own")} src-not-own`,
      );

      // No packet left with the old outer source once the new address was in place.
      await capture.stop();
      const old = await oldSourcePackets(capture.path);
      const late = old.filter((t) => t * 1000 > added);
      console.log(
        `old outer source: ${old.length} packets before the change, ${late.length} after`,
      );
      assert.ok(old.length > 0, "the capture saw the old source before the change");
      assert.deepEqual(late, [], "no packet from the old address after the change");

      // The hook ran once, with the prefixes and the environment.
      await waitUntil(async () => (await hookLines(lab)).length > 0, "the hook did not run");
      assert.deepEqual(await hookLines(lab), [
        `2 ${OLD_PREFIX} ${NEW_PREFIX} ${OLD_PREFIX} ${NEW_PREFIX} ${OLD4} ${NEW4} stf0`,
      ]);

      // The interface, the log, the status, the metrics' source.
      type Link = { addr_info: { local: string }[] };
      const addresses = await lab.site.json<Link[]>`ip -j -6 addr show dev stf0 scope global`;
      assert.deepEqual(addresses[0].addr_info.map((a) => a.local), ["2002:c633:6414::1"]);
      const warnings = site.logRecords().filter((r) =>
        /own IPv4 address changed/.test(String(r.message))
      );
      assert.equal(warnings.length, 1, "logged once");
      assert.match(String(warnings[0].level), /WARN/);
      const status = await siteStatus(lab);
      assert.equal(status.ipv4, NEW4);
      assert.equal(status.prefix, NEW_PREFIX);
      assert.equal(status.address, "2002:c633:6414::1/16");
      assert.equal(status.addressChanges, 1);
      assert.equal(status.ownIpv4Unavailable, null);
      assert.match(site.stderr, /renumbered the LAN to 2002:c633:6414::\/48/, "hook output logged");
      assert.equal(site.status, undefined, "stf stays up");
    } finally {
      await site.stop("SIGKILL", 2_000);
      await peer.stop("SIGKILL", 2_000);
    }
  },
);

labTest(
  "the uplink address removed and restored: egress pauses with own-ipv4-unavailable, then resumes, and no hook runs",
  async () => {
    await using lab = await buildLab();
    const site = await startSite(lab);
    const peer = await startPeer(lab);
    try {
      assert.ok(await pingOnce(lab.lan, OLD_HOST), "before: the tunnel works");
      const before = await site.counters();
      await lab.site.run`ip addr del ${OLD4}/24 dev eth0`;
      await waitUntil(
        () => site.logRecords().some((r) => /Egress paused/.test(String(r.message))),
        `no pause logged:\n${site.output()}`,
      );
      for (let i = 0; i < 5; i++) assert.equal(await pingOnce(lab.lan), false, "no reply");
      const during = await site.counters();
      const paused = during.egress.dropped["own-ipv4-unavailable"] -
        before.egress.dropped["own-ipv4-unavailable"];
      assert.ok(paused >= 5, `each packet counted as own-ipv4-unavailable (${paused})`);
      assert.equal(during.egress.ioErrors, before.egress.ioErrors, "none tried and refused");
      const status = await siteStatus(lab);
      assert.match(
        String(status.ownIpv4Unavailable),
        /Cannot find an IPv4 address on interface "eth0"/,
      );

      await lab.site.run`ip addr add ${OLD4}/24 dev eth0`;
      await waitUntil(() => pingOnce(lab.lan, OLD_HOST), "no reply after the address came back");
      assert.equal((await siteStatus(lab)).ownIpv4Unavailable, null);
      assert.deepEqual(await hookLines(lab), [], "the same prefix: no hook");
      console.log(`address removed: ${paused} packets dropped as own-ipv4-unavailable`);
    } finally {
      await site.stop("SIGKILL", 2_000);
      await peer.stop("SIGKILL", 2_000);
    }
  },
);

labTest(
  "SIGHUP and an address change at the same moment end in one consistent state",
  async () => {
    await using lab = await buildLab();
    const config = `${lab.dir}/stf.yaml`;
    await Deno.writeTextFile(config, "ipv4: { interface: eth0 }\n");
    const site = await startSite(lab, ["--config", config]);
    const peer = await startPeer(lab);
    try {
      assert.ok(await pingOnce(lab.lan, OLD_HOST), "before: the tunnel works");
      await Deno.writeTextFile(config, "ipv4: { interface: eth0 }\ninterface: { mtu: 1400 }\n");
      // Both at once: the change and the reload race through stf's one queue.
      await Promise.all([
        lab.site.run`sh -c ${`ip addr del ${OLD4}/24 dev eth0; ip addr add ${NEW4}/24 dev eth0`}`,
        Promise.resolve().then(() => site.signal("SIGHUP")),
      ]);
      await waitUntil(() => pingOnce(lab.lan, NEW_HOST), "no reply under the new prefix", 5_000);
      await waitUntil(
        () => site.logRecords().some((r) => /Configuration reloaded/.test(String(r.message))),
        `the reload did not finish:\n${site.output()}`,
      );
      const link = (await lab.site.json<
        { mtu: number; addr_info: { local: string }[] }[]
      >`ip -j -6 addr show dev stf0 scope global`)[0];
      assert.equal(link.mtu, 1400, "the reloaded MTU");
      assert.deepEqual(link.addr_info.map((a) => a.local), ["2002:c633:6414::1"]);
      const status = await siteStatus(lab);
      assert.equal(status.ipv4, NEW4);
      assert.equal(status.address, "2002:c633:6414::1/16");
      assert.equal(status.addressChanges, 1);
      await waitUntil(async () => (await hookLines(lab)).length > 0, "the hook did not run");
      assert.equal((await hookLines(lab)).length, 1, "the hook ran once");
      assert.equal(site.status, undefined, "stf stays up");
    } finally {
      await site.stop("SIGKILL", 2_000);
      await peer.stop("SIGKILL", 2_000);
    }
  },
);

labTest(
  "a new uplink address that is not global is refused: egress pauses, naming allow-non-global",
  async () => {
    await using lab = await buildLab();
    const site = await startSite(lab);
    const peer = await startPeer(lab);
    try {
      assert.ok(await pingOnce(lab.lan, OLD_HOST), "before: the tunnel works");
      await lab.site.run`ip addr del ${OLD4}/24 dev eth0`;
      await lab.site.run`ip addr add 10.1.2.3/24 dev eth0`;
      await waitUntil(
        () => site.logRecords().some((r) => /Egress paused/.test(String(r.message))),
        `no pause logged:\n${site.output()}`,
      );
      const status = await siteStatus(lab);
      assert.match(String(status.ownIpv4Unavailable), /"10\.1\.2\.3".*--allow-non-global/);
      assert.equal(status.ipv4, OLD4, "the address in force stays");
      const before = await site.counters();
      assert.equal(await pingOnce(lab.lan), false);
      const after = await site.counters();
      assert.ok(
        after.egress.dropped["own-ipv4-unavailable"] >
          before.egress.dropped["own-ipv4-unavailable"],
      );
      assert.deepEqual(await hookLines(lab), [], "no new prefix: no hook");
    } finally {
      await site.stop("SIGKILL", 2_000);
      await peer.stop("SIGKILL", 2_000);
    }
  },
);
