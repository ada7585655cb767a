/**
 * `stf doctor`: a checklist of what makes 6to4 fail on this host, one line per check (ok,
 * warn or fail) with what to do. It reads, never changes: `/dev/net/tun` and the capabilities,
 * the own IPv4 (global, or private behind a NAT), the uplink's MTU and receive offloads, the
 * kernel's own tunnel modules, firewall rules dropping protocol 41 (`nft -j list ruleset`,
 * `iptables-save`), another interface claiming `2002::/16`, the forwarder (through its
 * control socket), and whether each relay — and each `--peer` — answers a probe: the same
 * ICMPv6 Echo in protocol 41 as `run` sends, from doctor's own raw socket, within
 * `--timeout` seconds. It works with or without a forwarder running.
 *
 * `--json` prints `{ "ok": boolean, "checks": [{ "check", "subject", "status", "message",
 * "advice" }] }` (docs/json-output.md). Exit 0 when no check fails, else 1.
 *
 * @module
 */
import {
  classifyIpv4,
  formatIpv4,
  formatIpv6,
  type Ipv4Address,
  isNonGlobalSixToFourIpv4,
  parseIpv4,
  parseIpv6,
} from "../addr/mod.ts";
import type { ConfigOverrides, StfConfig } from "../config/mod.ts";
import { defaultControlSocketPaths, queryControl } from "../control/mod.ts";
import {
  type HostIpv4Address,
  ipv4AddressesOfHost,
  loadedKernelTunnelModules,
  planInterface,
  readIpv6Addresses,
  readIpv6Routes,
  userIdOf,
} from "../netif/mod.ts";
import { readFirewallFindings } from "../netif/firewall.ts";
import { openProbeSocket, type ProbeSocket } from "../netif/probe_socket.ts";
import { readUplinkFacts } from "../netif/uplink.ts";
import { newProbeIdentifier, relaySixToFourAddress } from "../relay/probe.ts";
import { Prober, wallClockMs } from "../relay/prober.ts";
import { effectiveConfig, interfaceAddressOf, interfaceRequestOf } from "./settings.ts";

/** Options of `stf doctor`, as parsed from the command line. */
export interface DoctorOptions {
  /** The configuration file, if any. */
  readonly config?: string;
  /** The flags over it (`--name`, `--ipv4`, `--bind-ipv4`, `--relay`, …). */
  readonly overrides: ConfigOverrides;
  /** 6to4 peers to probe (`--peer`). */
  readonly peers: readonly string[];
  /** How long the probes may take in all, in seconds (`--timeout`). */
  readonly timeoutSeconds: number;
  /** Print JSON. */
  readonly json: boolean;
  /** The forwarder's control socket (default `/run/stf/NAME.sock`). */
  readonly controlSocket?: string;
}

/** The verdict of one check. */
export type CheckStatus = "ok" | "warn" | "fail";

/** One line of the checklist. */
export interface DoctorCheck {
  /** Which check: `tun`, `capabilities`, `ipv4`, `uplink-mtu`, `uplink-offloads`, … */
  readonly check: string;
  /** What it is about (a relay's or a peer's address), or `null`. */
  readonly subject: string | null;
  /** ok, warn or fail. */
  readonly status: CheckStatus;
  /** What was found. */
  readonly message: string;
  /** What to do, or `null` when nothing is needed. */
  readonly advice: string | null;
}

/** The `--json` document of `stf doctor`. */
export interface DoctorDocument {
  /** No check failed. */
  readonly ok: boolean;
  /** Every check, in the order run. */
  readonly checks: readonly DoctorCheck[];
}

const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;

function check(
  name: string,
  status: CheckStatus,
  message: string,
  advice: string | null = null,
  subject: string | null = null,
): DoctorCheck {
  return { check: name, subject, status, message, advice };
}

function checkTun(): DoctorCheck {
  try {
    const info = Deno.statSync("/dev/net/tun");
    if (info.isCharDevice) return check("tun", "ok", "/dev/net/tun is there");
    return check(
      "tun",
      "fail",
      "/dev/net/tun is not a character device",
      "recreate it: mknod /dev/net/tun c 10 200",
    );
  } catch {
    return check(
      "tun",
      "fail",
      "/dev/net/tun is missing",
      "load the tun module (modprobe tun); in a container, pass the device " +
        "(docker run --device /dev/net/tun)",
    );
  }
}

/**
 * Reads the effective capabilities of this process from `/proc/self/status`.
 *
 * @param status the file's text (for tests)
 * @returns the capability bits, or `undefined` when the line is missing
 */
export function effectiveCapabilities(status: string): bigint | undefined {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return line === null ? undefined : BigInt(`0x${line[1]}`);
}

function checkCapabilities(): DoctorCheck {
  let caps: bigint | undefined;
  try {
    caps = effectiveCapabilities(Deno.readTextFileSync("/proc/self/status"));
  } catch { /* no /proc */ }
  if (caps === undefined) {
    return check("capabilities", "warn", "Cannot read the capabilities (/proc/self/status)");
  }
  const missing = [[CAP_NET_ADMIN, "CAP_NET_ADMIN"], [CAP_NET_RAW, "CAP_NET_RAW"]]
    .filter(([bit]) => (caps & (1n << BigInt(bit))) === 0n).map(([, name]) => name);
  if (missing.length === 0) {
    return check("capabilities", "ok", "CAP_NET_ADMIN and CAP_NET_RAW are held");
  }
  return check(
    "capabilities",
    "fail",
    `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not held`,
    "run as root, or grant them (systemd: AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW)",
  );
}

function blockText(address: Ipv4Address): string {
  const block = classifyIpv4(address);
  return block === undefined ? "" : ` (${block.name}, ${block.rfc})`;
}

/**
 * Judges the own IPv4: a global address of this host; or a public one mapped by a 1:1 NAT to
 * `bind-ipv4`; or only private addresses here, which means a NAT and needs `--bind-ipv4`.
 *
 * @param config the configuration
 * @param host the host's IPv4 addresses
 */
export function judgeIpv4(config: StfConfig, host: readonly HostIpv4Address[]): DoctorCheck {
  const usable = host.filter((a) => a.address >>> 24 !== 127);
  const list = (as: readonly HostIpv4Address[]) =>
    as.map((a) => `${formatIpv4(a.address)} on ${a.interface}`).join(", ");
  const natAdvice = (local: HostIpv4Address) =>
    `behind a 1:1 NAT, give the public address and this one: --ipv4 PUBLIC --bind-ipv4 ` +
    `${formatIpv4(local.address)} (ipv4:, bind-ipv4:); the NAT must forward protocol 41`;
  const source = config.ipv4;
  if (typeof source === "string" && source !== "auto") {
    const own = parseIpv4(source);
    if (config.bindIpv4 !== null) {
      const bind = parseIpv4(config.bindIpv4);
      if (!usable.some((a) => a.address === bind)) {
        return check(
          "ipv4",
          "fail",
          `bind-ipv4 ${config.bindIpv4} is not an address of this host`,
          `give one of ${list(usable) || "its addresses"}`,
        );
      }
      return check("ipv4", "ok", `${source} (public, behind a NAT) mapped to ${config.bindIpv4}`);
    }
    const here = usable.find((a) => a.address === own);
    if (here === undefined) {
      const local = usable[0];
      return check(
        "ipv4",
        "fail",
        `${source} is not an address of this host`,
        local === undefined ? "give an address of this host with --ipv4" : natAdvice(local),
      );
    }
    if (isNonGlobalSixToFourIpv4(own) && !config.allowNonGlobal) {
      return check(
        "ipv4",
        "warn",
        `${source} on ${here.interface} is not global${blockText(own)}: 6to4 peers cannot ` +
          "reach it",
        natAdvice(here),
      );
    }
    return check("ipv4", "ok", `${source} on ${here.interface}`);
  }
  const candidates = typeof source === "string"
    ? usable
    : usable.filter((a) => a.interface === source.interface);
  const global = candidates.filter((a) => !isNonGlobalSixToFourIpv4(a.address));
  if (global.length === 1) {
    return check(
      "ipv4",
      "ok",
      `${formatIpv4(global[0].address)} on ${global[0].interface} is global`,
    );
  }
  if (global.length > 1) {
    return check(
      "ipv4",
      "warn",
      `Several global IPv4 addresses: ${list(global)}`,
      "choose one: --ipv4 ADDRESS (ipv4:)",
    );
  }
  if (candidates.length === 0) {
    return check("ipv4", "fail", "No IPv4 address on this host", "connect the uplink");
  }
  if (config.allowNonGlobal) {
    return check("ipv4", "ok", `${list(candidates)}: not global, allowed (allow-non-global)`);
  }
  return check(
    "ipv4",
    "warn",
    `Only non-global IPv4 here: ${list(candidates)}${blockText(candidates[0].address)}; this ` +
      "host is behind a NAT",
    natAdvice(candidates[0]),
  );
}

function checkUplink(config: StfConfig, source: Ipv4Address | undefined): DoctorCheck[] {
  if (source === undefined) {
    return [check("uplink-mtu", "warn", "No uplink: the own IPv4 is unknown", "see ipv4 above")];
  }
  const facts = readUplinkFacts(source, config.interface.mtu, ipv4AddressesOfHost());
  if (facts.uplink === undefined) {
    return [check("uplink-mtu", "warn", `No interface holds ${formatIpv4(source)}`)];
  }
  const out: DoctorCheck[] = [];
  if (facts.uplinkMtu === undefined) {
    out.push(check("uplink-mtu", "warn", `Cannot read the MTU of ${facts.uplink}`));
  } else if (facts.advisedMtu !== undefined) {
    out.push(check(
      "uplink-mtu",
      "warn",
      `MTU ${config.interface.mtu} of the stf interface needs ${facts.neededMtu} on ` +
        `${facts.uplink}, which has ${facts.uplinkMtu}: larger packets cost a Packet Too Big ` +
        "round trip",
      `set mtu: ${facts.advisedMtu} (--mtu ${facts.advisedMtu})`,
    ));
  } else {
    out.push(check(
      "uplink-mtu",
      "ok",
      `${facts.uplink} has MTU ${facts.uplinkMtu}, enough for ${config.interface.mtu} + 20`,
    ));
  }
  if (facts.badFeatures.length > 0) {
    out.push(check(
      "uplink-offloads",
      "warn",
      `${facts.uplink} has ${facts.badFeatures.join(" and ")} on: such merged protocol-41 ` +
        "packets are lost",
      `ethtool -K ${facts.uplink} ${facts.badFeatures.map((f) => `${f} off`).join(" ")}`,
    ));
  } else {
    out.push(check("uplink-offloads", "ok", `${facts.uplink}: no receive offload stf cannot undo`));
  }
  return out;
}

function checkKernelModules(): DoctorCheck {
  const loaded = loadedKernelTunnelModules();
  if (loaded.length === 0) return check("kernel-modules", "ok", "sit and tunnel4 are not loaded");
  return check(
    "kernel-modules",
    "warn",
    `The kernel module${loaded.length > 1 ? "s" : ""} ${loaded.join(" and ")} ` +
      `${loaded.length > 1 ? "are" : "is"} loaded: it may claim protocol 41 before stf`,
    "remove the ip tunnel set-ups, then modprobe -r sit",
  );
}

async function checkFirewall(): Promise<DoctorCheck> {
  const report = await readFirewallFindings();
  if (report.read.length === 0) {
    return check(
      "firewall",
      "warn",
      "Cannot read the firewall: neither nft nor iptables-save answered",
      "check by hand that protocol 41 is accepted in and out",
    );
  }
  const all = report.findings.filter((f) => f.all);
  const some = report.findings.filter((f) => !f.all);
  const where = (fs: typeof report.findings) =>
    fs.map((f) => `${f.source} ${f.where}: ${f.rule}`).join("; ");
  if (all.length > 0) {
    return check(
      "firewall",
      "fail",
      `A rule drops protocol 41: ${where(all)}`,
      "accept IP protocol 41 from and to the relays and 6to4 peers (nft: ip protocol 41 " +
        "accept) before that rule, or remove it",
    );
  }
  if (some.length > 0) {
    return check(
      "firewall",
      "warn",
      `Rules drop some protocol 41: ${where(some)}`,
      "make sure the relays and 6to4 peers are not among what they drop",
    );
  }
  return check("firewall", "ok", `No rule drops protocol 41 (read with ${report.read.join(", ")})`);
}

/**
 * Finds interfaces other than stf's that claim `2002::/16`: a route for `2002::/16` itself
 * (fail: the kernel would send 6to4 traffic there), or a 6to4 route or address outside our own
 * 6to4 prefix (warn: another 6to4 set-up). Our own prefix on a LAN is how a site is built.
 *
 * @param name stf's interface name
 * @param ownPrefix our 6to4 /48 (its first 6 bytes), when the own IPv4 is known
 */
function checkSixToFourClaims(name: string, ownPrefix: Uint8Array | undefined): DoctorCheck {
  const whole: string[] = [];
  const other: string[] = [];
  const inSixToFour = (a: Uint8Array) => a[0] === 0x20 && a[1] === 0x02;
  const ours = (a: Uint8Array) => ownPrefix !== undefined && ownPrefix.every((b, i) => a[i] === b);
  try {
    for (const route of readIpv6Routes()) {
      const d = route.destination;
      if (route.device === name || route.device === "lo" || !inSixToFour(d.address)) continue;
      const text = `route ${formatIpv6(d.address)}/${d.length} on ${route.device}`;
      if (d.length <= 16) whole.push(text);
      else if (!ours(d.address)) other.push(text);
    }
    for (const a of readIpv6Addresses()) {
      if (a.name === name || a.name === "lo" || !inSixToFour(a.address) || ours(a.address)) {
        continue;
      }
      other.push(`address ${formatIpv6(a.address)}/${a.prefixLength} on ${a.name}`);
    }
  } catch {
    return check("6to4-route", "warn", "Cannot read the IPv6 routes and addresses");
  }
  const advice = "remove the other 6to4 set-up (ip tunnel del …, ip -6 route del 2002::/16 …)";
  if (whole.length > 0) {
    return check(
      "6to4-route",
      "fail",
      `Another interface claims 2002::/16: ${[...new Set([...whole, ...other])].join("; ")}`,
      advice,
    );
  }
  if (other.length > 0) {
    return check(
      "6to4-route",
      "warn",
      `Another 6to4 set-up outside our prefix: ${[...new Set(other)].join("; ")}`,
      advice,
    );
  }
  return check("6to4-route", "ok", `No interface but ${name} claims 2002::/16`);
}

async function checkForwarder(name: string, socket: string | undefined): Promise<DoctorCheck> {
  // The same rule as `stf status`: the socket `stf run` listens on in this network namespace.
  const candidates = socket === undefined ? defaultControlSocketPaths(name) : [socket];
  try {
    for (const path of candidates) {
      const status = await queryControl(path, { timeoutMs: 1000 });
      if (status === undefined) continue;
      const relay = status.relay == null ? "" : `, relay ${status.relay}`;
      return check(
        "forwarder",
        "ok",
        `Forwarder running, pid ${status.pid}, mode ${status.mode}, own IPv4 ${status.ipv4}` +
          relay,
      );
    }
    return check(
      "forwarder",
      "ok",
      `No forwarder running on ${name} (nothing answers on ${candidates[0]})`,
    );
  } catch (e) {
    return check("forwarder", "warn", e instanceof Error ? e.message : String(e));
  }
}

interface ProbeTarget {
  readonly kind: "relay" | "peer";
  readonly address: string;
  readonly target6: Uint8Array;
}

interface ProbeResult {
  readonly sent: number;
  readonly rttMs?: number;
  readonly error?: string;
}

/**
 * Probes each target, one probe a second until it answers or the time is up.
 *
 * @returns per target address: the probes sent and the first RTT
 */
function probeTargets(
  socket: ProbeSocket,
  prober: Prober,
  targets: readonly ProbeTarget[],
  timeoutMs: number,
): Map<string, ProbeResult> {
  const results = new Map<string, { sent: number; rttMs?: number; error?: string }>();
  for (const t of targets) results.set(t.address, { sent: 0 });
  const start = wallClockMs();
  const deadline = start + timeoutMs;
  let nextSend = start;
  while (wallClockMs() < deadline) {
    const now = wallClockMs();
    if (now >= nextSend) {
      for (const t of targets) {
        const r = results.get(t.address)!;
        if (r.rttMs !== undefined) continue;
        try {
          prober.send(t.address, now, t.target6);
          r.sent++;
        } catch (e) {
          r.error = e instanceof Error ? e.message : String(e);
        }
      }
      nextSend = now + 1000;
    }
    socket.wait(Math.min(nextSend, deadline) - wallClockMs());
    for (const outcome of prober.collect()) {
      const r = results.get(outcome.relay);
      if (r !== undefined && outcome.answered && r.rttMs === undefined) r.rttMs = outcome.rttMs;
    }
    if ([...results.values()].every((r) => r.rttMs !== undefined)) break;
  }
  return results;
}

function probeChecks(
  config: StfConfig,
  options: DoctorOptions,
  source: { source4: string; source6: Uint8Array } | string,
): DoctorCheck[] {
  const targets: ProbeTarget[] = [
    ...config.relays.map((address) => ({
      kind: "relay" as const,
      address,
      target6: config.relayProbeTarget === null
        ? relaySixToFourAddress(parseIpv4(address))
        : parseIpv6(config.relayProbeTarget),
    })),
    ...options.peers.map((address) => {
      // A 6to4 peer's router is conventionally 2002:V4::1 (stf's default interface ID).
      const target6 = relaySixToFourAddress(parseIpv4(address));
      target6[15] = 1;
      return { kind: "peer" as const, address, target6 };
    }),
  ];
  if (targets.length === 0) {
    return [check(
      "relay",
      "ok",
      "No relay configured: only 6to4 destinations (2002::/16) are reachable",
      null,
    )];
  }
  if (typeof source === "string") {
    return targets.map((t) =>
      check(
        t.kind,
        "fail",
        `Cannot probe ${t.address}: ${source}`,
        "see the checks above",
        t.address,
      )
    );
  }
  const identifier = newProbeIdentifier();
  let socket: ProbeSocket;
  try {
    // The socket's filter lets in replies with this identifier only.
    socket = openProbeSocket(identifier);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return targets.map((t) =>
      check(t.kind, "fail", `Cannot probe ${t.address}: ${why}`, "run as root", t.address)
    );
  }
  using _socket = socket;
  const timeoutMs = options.timeoutSeconds * 1000;
  const prober = new Prober(socket, {
    source4: source.source4,
    source6: source.source6,
    identifier,
    timeoutMs,
    ttl: config.ttl,
  });
  const results = probeTargets(socket, prober, targets, timeoutMs);
  return targets.map((t) => {
    const r = results.get(t.address)!;
    const what = `${t.kind === "relay" ? "Relay" : "6to4 peer"} ${t.address} (probe to ` +
      `${formatIpv6(t.target6)})`;
    if (r.rttMs !== undefined) {
      return check(t.kind, "ok", `${what} answered in ${r.rttMs.toFixed(1)} ms`, null, t.address);
    }
    const advice = t.kind === "relay"
      ? "the relay is down or protocol 41 is dropped on the way; list another relay first " +
        "(relays:, --relay) and check the firewall above"
      : "the peer is down, not a 6to4 site, or protocol 41 is dropped on the way";
    return check(
      t.kind,
      "fail",
      `${what} did not answer ${r.sent} probe${r.sent === 1 ? "" : "s"} in ` +
        `${options.timeoutSeconds} s${r.error === undefined ? "" : ` (${r.error})`}`,
      advice,
      t.address,
    );
  });
}

/**
 * The probe's addresses: the outer source (bind-ipv4, else the own IPv4) and our 6to4 address
 * as `run` would configure it; or why they cannot be known.
 */
function probeSource(config: StfConfig): { source4: string; source6: Uint8Array } | string {
  try {
    const plan = planInterface(interfaceRequestOf(config), {
      ipv4Addresses: ipv4AddressesOfHost(),
      userIdOf,
    });
    return {
      source4: config.bindIpv4 ?? formatIpv4(plan.ipv4),
      source6: parseIpv6(interfaceAddressOf(plan)),
    };
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Runs every check in order.
 *
 * @param config the effective configuration
 * @param options the command's options
 */
export async function doctorChecks(
  config: StfConfig,
  options: DoctorOptions,
): Promise<DoctorCheck[]> {
  const host = ipv4AddressesOfHost();
  const checks: DoctorCheck[] = [checkTun(), checkCapabilities(), judgeIpv4(config, host)];
  const source = probeSource(config);
  const source4 = typeof source === "string" ? undefined : parseIpv4(source.source4);
  checks.push(...checkUplink(config, source4));
  checks.push(checkKernelModules());
  checks.push(await checkFirewall());
  const ownPrefix = typeof source === "string" ? undefined : source.source6.slice(0, 6);
  checks.push(checkSixToFourClaims(config.interface.name, ownPrefix));
  checks.push(await checkForwarder(config.interface.name, options.controlSocket));
  checks.push(...probeChecks(config, options, source));
  return checks;
}

/**
 * The checklist as text: one line per check, `ok`, `warn` or `FAIL`, then `→ advice`.
 *
 * @param checks the checks
 */
export function formatChecks(checks: readonly DoctorCheck[]): string {
  const label = { ok: "ok  ", warn: "warn", fail: "FAIL" } as const;
  const lines: string[] = [];
  for (const c of checks) {
    const name = c.subject === null ? c.check : `${c.check} ${c.subject}`;
    lines.push(`${label[c.status]}  ${name}: ${c.message}`);
    if (c.advice !== null && c.status !== "ok") lines.push(`      → ${c.advice}`);
  }
  const failed = checks.filter((c) => c.status === "fail").length;
  const warned = checks.filter((c) => c.status === "warn").length;
  lines.push(
    failed === 0
      ? `No check failed${warned > 0 ? ` (${warned} warning${warned > 1 ? "s" : ""})` : ""}`
      : `${failed} check${failed > 1 ? "s" : ""} failed`,
  );
  return lines.join("\n");
}

/**
 * Runs `stf doctor`: prints the checklist (or JSON) and returns 0 when no check failed, else 1.
 *
 * @param options the command's options
 * @throws {ConfigError} a broken configuration file or flag (exit 2)
 */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const config = await effectiveConfig(options.config, options.overrides);
  for (const peer of options.peers) parseIpv4(peer); // SyntaxError: exit 2
  if (!(options.timeoutSeconds > 0)) {
    throw new RangeError(`Cannot use --timeout ${options.timeoutSeconds}: expected more than 0`);
  }
  const checks = await doctorChecks(config, options);
  const ok = checks.every((c) => c.status !== "fail");
  if (options.json) {
    const document: DoctorDocument = { ok, checks };
    console.log(JSON.stringify(document, null, 2));
  } else {
    console.log(formatChecks(checks));
  }
  return ok ? 0 : 1;
}
