/**
 * A lab with two relays for the relay health tests: a 6to4 site (router mode) with a LAN host,
 * two relays (`stf run --mode relay`) each with a native link to the same server, and the
 * server, which runs stf as a 6to4 router with its native prefix as a site prefix: its replies
 * go straight back to the site over IPv4 (as the seed's return-path server's do), and it is
 * also a 6to4 peer (2002:cb00:7150::1) for `stf doctor --peer`. Each relay also holds its own 6to4 address `2002:V4::` (RFC 3068
 * §2.5), the default target of the site's probes. Documentation addresses only.
 *
 * ```
 *  lan ── site (198.51.100.1) ── inet ──┬── relay A (192.0.2.99) ── 2001:db8:aaaa::/64 ──┐
 *                                       ├── relay B (192.0.2.98) ── 2001:db8:bbbb::/64 ──┤
 *                                       └── server (203.0.113.80) ──────────────── server
 *                                                                   (2001:db8:ffff::80 on lo)
 * ```
 *
 * @module
 */
import { Netns, vethPair } from "./_lab.ts";
import { LabProcess, StfProcess } from "./_seed.ts";

/** The addresses of the lab. */
export const RELAYS = {
  siteIpv4: "198.51.100.1",
  siteLan: "2002:c633:6401:1::1",
  lanHost: "2002:c633:6401:1::10",
  relayA: "192.0.2.99",
  relayA6: "2002:c000:263::",
  relayANative: "2001:db8:aaaa::1",
  relayB: "192.0.2.98",
  relayB6: "2002:c000:262::",
  relayBNative: "2001:db8:bbbb::1",
  serverIpv4: "203.0.113.80",
  server: "2001:db8:ffff::80",
  serverPort: 8080,
} as const;

/** The two-relay lab, removed by `await using`. */
export interface RelayLab extends AsyncDisposable {
  readonly inet: Netns;
  readonly site: Netns;
  readonly lan: Netns;
  readonly relayA: Netns;
  readonly relayB: Netns;
  readonly server: Netns;
  /** stf of the relays and the server (started by {@link buildRelayLab}). */
  readonly stf: { relayA?: StfProcess; relayB?: StfProcess; server?: StfProcess };
  /** Starts the site's `stf run` with these arguments (stopped with the lab). */
  startSite(args: readonly string[]): Promise<StfProcess>;
  /** Starts a process in a namespace of the lab; stopped with the lab. */
  spawn(ns: Netns, argv: readonly string[], label?: string): LabProcess;
  /** Starts the stf of relay A or B again (after a test stopped it). */
  startRelay(which: "A" | "B"): Promise<StfProcess>;
}

/**
 * Builds the lab and starts stf on both relays and the server (the site is left to the test).
 *
 * @param options `startStf: false` leaves every stf to the test
 */
export async function buildRelayLab(options: { startStf?: boolean } = {}): Promise<RelayLab> {
  const namespaces: Netns[] = [];
  const processes: LabProcess[] = [];
  const stf: RelayLab["stf"] = {};
  const dispose = async () => {
    for (const p of processes.reverse()) await p.stop("SIGTERM", 3_000);
    for (const p of [stf.relayA, stf.relayB, stf.server]) await p?.stop("SIGTERM", 3_000);
    for (const ns of namespaces.reverse()) await ns[Symbol.asyncDispose]();
  };
  const create = async (prefix: string) => {
    const ns = await Netns.create(prefix);
    namespaces.push(ns);
    return ns;
  };
  try {
    const inet = await create("rlI");
    const site = await create("rlS");
    const lan = await create("rlL");
    const relayA = await create("rlA");
    const relayB = await create("rlB");
    const server = await create("rlV");

    // IPv4: the site on 198.51.100.0/24, both relays on a bridge in 192.0.2.0/24, the server.
    await inet.run`ip link add br0 type bridge`;
    await inet.run`ip link set br0 up`;
    await inet.run`ip addr add 192.0.2.254/24 dev br0`;
    await vethPair(inet, "a0", site, "wan");
    await vethPair(inet, "ra", relayA, "wan");
    await vethPair(inet, "rb", relayB, "wan");
    await vethPair(inet, "v0", server, "wan");
    await inet.run`ip link set ra master br0`;
    await inet.run`ip link set rb master br0`;
    await inet.run`ip addr add 198.51.100.254/24 dev a0`;
    await inet.run`ip addr add 203.0.113.254/24 dev v0`;
    await inet.run`sysctl -qw net.ipv4.ip_forward=1`;
    const host = async (ns: Netns, address: string, gateway: string) => {
      await ns.run`ip addr add ${address}/24 dev wan`;
      await ns.run`ip route add default via ${gateway}`;
    };
    await host(site, RELAYS.siteIpv4, "198.51.100.254");
    await host(relayA, RELAYS.relayA, "192.0.2.254");
    await host(relayB, RELAYS.relayB, "192.0.2.254");
    await host(server, RELAYS.serverIpv4, "203.0.113.254");

    // The LAN behind the site.
    await vethPair(site, "lan", lan, "eth0");
    await site.run`ip -6 addr add ${RELAYS.siteLan}/64 dev lan`;
    await site.run`sysctl -qw net.ipv6.conf.all.forwarding=1`;
    await lan.run`ip -6 addr add ${RELAYS.lanHost}/64 dev eth0`;
    await lan.run`ip -6 route add default via ${RELAYS.siteLan}`;

    // Native IPv6: each relay has its own link to the server; the server's address is on lo.
    await server.run`ip -6 addr add ${RELAYS.server}/128 dev lo`;
    for (
      const [relay, dev, native, serverSide, own6] of [
        [relayA, "va", RELAYS.relayANative, "2001:db8:aaaa::80", RELAYS.relayA6],
        [relayB, "vb", RELAYS.relayBNative, "2001:db8:bbbb::80", RELAYS.relayB6],
      ] as const
    ) {
      await vethPair(relay, "v6", server, dev);
      await relay.run`ip -6 addr add ${native}/64 dev v6`;
      await relay.run`sysctl -qw net.ipv6.conf.all.forwarding=1`;
      await relay.run`ip -6 route add ${RELAYS.server}/128 via ${serverSide}`;
      // The relay's own 6to4 address (RFC 3068 §2.5): what the site's probes ask.
      await relay.run`ip -6 addr add ${own6}/128 dev lo`;
      await server.run`ip -6 addr add ${serverSide}/64 dev ${dev}`;
    }

    const startRelay = async (which: "A" | "B") => {
      const ns = which === "A" ? relayA : relayB;
      const ipv4 = which === "A" ? RELAYS.relayA : RELAYS.relayB;
      const process = await StfProcess.start(ns, ["--mode", "relay", "--ipv4", ipv4]);
      if (which === "A") stf.relayA = process;
      else stf.relayB = process;
      return process;
    };
    const lab: RelayLab = {
      inet,
      site,
      lan,
      relayA,
      relayB,
      server,
      stf,
      async startSite(args) {
        const process = await StfProcess.start(site, args, `stf in site ${site.name}`);
        processes.push(process);
        return process;
      },
      spawn(ns, argv, label) {
        const process = new LabProcess(ns, argv, { label });
        processes.push(process);
        return process;
      },
      startRelay,
      [Symbol.asyncDispose]: dispose,
    };
    if (options.startStf ?? true) {
      await startRelay("A");
      await startRelay("B");
      stf.server = await StfProcess.start(server, [
        "--ipv4",
        RELAYS.serverIpv4,
        "--site-prefix",
        "2001:db8:ffff::/48",
      ]);
    }
    return lab;
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** A JSON log record of `stf run --log-format json`. */
export type LogRecord = Record<string, unknown>;

/**
 * Waits (bounded) for a JSON log record of the `stf.relay` logger with these fields.
 *
 * @param site the stf process
 * @param fields fields the record must have, with these values
 * @param options records to skip, the bound, a pattern of the message
 * @returns the record
 */
export async function waitForRecord(
  site: StfProcess,
  fields: Readonly<Record<string, unknown>>,
  options: { readonly after?: number; readonly timeoutMs?: number; readonly text?: RegExp } = {},
): Promise<LogRecord> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const found = site.logRecords().slice(options.after ?? 0).find((r) =>
      r.logger === "stf.relay" && Object.entries(fields).every(([k, v]) => r[k] === v) &&
      (options.text === undefined || options.text.test(String(r.message)))
    );
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`no stf.relay record ${JSON.stringify(fields)}:\n${site.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Cuts a relay's return path: its protocol 41 to the site is dropped (nftables output hook).
 *
 * @param relay the relay's namespace
 * @returns a function that restores it
 */
export async function breakReturnPath(relay: Netns): Promise<() => Promise<void>> {
  await relay.run`nft -f -`.stdinText(
    "table ip stfbreak {\n chain out {\n  type filter hook output priority 0;\n" +
      `  ip daddr ${RELAYS.siteIpv4} ip protocol 41 drop\n }\n}\n`,
  );
  return async () => {
    await relay.run`nft delete table ip stfbreak`;
  };
}

/** Site arguments for a failover measurement: two relays, probed every second. */
export const FAILOVER_SITE_ARGS: readonly string[] = [
  "--ipv4",
  RELAYS.siteIpv4,
  "--relay",
  RELAYS.relayA,
  "--relay",
  RELAYS.relayB,
  "--default-route",
  "--relay-probe-interval",
  "1",
  "--relay-probe-failures",
  "3",
];

/**
 * Breaks relay A's return path and returns how long the site takes to move native IPv6 to
 * relay B (from the break to the log line), in milliseconds; then restores A and waits until
 * the traffic is back on it.
 *
 * @param lab the lab
 * @param site the site's stf, started with {@link FAILOVER_SITE_ARGS} and both relays up
 * @param timeoutMs the bound of each wait
 */
export async function measureFailover(
  lab: RelayLab,
  site: StfProcess,
  timeoutMs = 15_000,
): Promise<number> {
  const restore = await breakReturnPath(lab.relayA);
  const broken = Date.now();
  const after = site.logRecords().length;
  try {
    await waitForRecord(site, { relay: RELAYS.relayB, from: RELAYS.relayA }, {
      after,
      timeoutMs,
      text: /^Native IPv6 now goes through relay/,
    });
  } finally {
    await restore();
  }
  const failoverMs = Date.now() - broken;
  await waitForRecord(site, { relay: RELAYS.relayA, from: RELAYS.relayB }, {
    after,
    timeoutMs,
    text: /^Native IPv6 now goes through relay/,
  });
  return failoverMs;
}
