import assert from "node:assert/strict";
import { parseIpv4 } from "../../../lib/addr/mod.ts";
import {
  type DoctorCheck,
  effectiveCapabilities,
  formatChecks,
  judgeIpv4,
} from "../../../lib/commands/doctor.ts";
import { DEFAULT_CONFIG, mergeConfig } from "../../../lib/config/mod.ts";
import type { HostIpv4Address } from "../../../lib/netif/mod.ts";

function host(...entries: [string, string][]): HostIpv4Address[] {
  return entries.map(([iface, address]) => ({
    interface: iface,
    address: parseIpv4(address),
    prefixLength: 24,
    broadcast: (parseIpv4(address) | 0xff) >>> 0,
  }));
}

Deno.test("effectiveCapabilities() reads CapEff from /proc/self/status", () => {
  const caps = effectiveCapabilities("Name:\tstf\nCapInh:\t0\nCapEff:\t0000000000003000\n");
  assert.equal(caps, 0x3000n); // CAP_NET_ADMIN (12) and CAP_NET_RAW (13)
  assert.equal(effectiveCapabilities("Name:\tstf\n"), undefined);
});

Deno.test("judgeIpv4(): a single global address is ok", () => {
  const c = judgeIpv4(DEFAULT_CONFIG, host(["lo", "127.0.0.1"], ["eth0", "198.51.100.7"]));
  assert.equal(c.status, "ok");
  assert.match(c.message, /198\.51\.100\.7 on eth0 is global/);
});

Deno.test("judgeIpv4(): only a private address means NAT, and the advice names --bind-ipv4", () => {
  const c = judgeIpv4(DEFAULT_CONFIG, host(["lo", "127.0.0.1"], ["eth0", "10.0.0.5"]));
  assert.equal(c.status, "warn");
  assert.match(c.message, /behind a NAT/);
  assert.match(c.advice ?? "", /--ipv4 PUBLIC --bind-ipv4 10\.0\.0\.5/);
});

Deno.test("judgeIpv4(): a public --ipv4 that is not here fails with the NAT advice, unless bound", () => {
  const config = mergeConfig(DEFAULT_CONFIG, { ipv4: "198.51.100.7" });
  const c = judgeIpv4(config, host(["eth0", "10.0.0.5"]));
  assert.equal(c.status, "fail");
  assert.match(c.advice ?? "", /--bind-ipv4 10\.0\.0\.5/);
  const bound = mergeConfig(DEFAULT_CONFIG, { ipv4: "198.51.100.7", bindIpv4: "10.0.0.5" });
  assert.equal(judgeIpv4(bound, host(["eth0", "10.0.0.5"])).status, "ok");
  assert.equal(judgeIpv4(bound, host(["eth0", "10.0.0.6"])).status, "fail");
});

Deno.test("judgeIpv4(): no address at all fails", () => {
  assert.equal(judgeIpv4(DEFAULT_CONFIG, host(["lo", "127.0.0.1"])).status, "fail");
});

Deno.test("formatChecks() prints one line per check, advice under warnings and failures, a summary", () => {
  const checks: DoctorCheck[] = [
    { check: "tun", subject: null, status: "ok", message: "there", advice: null },
    { check: "firewall", subject: null, status: "fail", message: "drop", advice: "accept 41" },
    { check: "relay", subject: "192.0.2.1", status: "warn", message: "slow", advice: "wait" },
  ];
  assert.equal(
    formatChecks(checks),
    [
      "ok    tun: there",
      "FAIL  firewall: drop",
      "      → accept 41",
      "warn  relay 192.0.2.1: slow",
      "      → wait",
      "1 check failed",
    ].join("\n"),
  );
  assert.equal(formatChecks([checks[0]]), "ok    tun: there\nNo check failed");
});
