import assert from "node:assert/strict";
import {
  formatIpv6,
  formatIpv6Prefix,
  parseIpv4,
  parseIpv6,
  parseIpv6Prefix,
} from "../../../lib/addr/mod.ts";
import { OperationError, PolicyError } from "../../../lib/errors.ts";
import type { HostIpv4Address } from "../../../lib/netif/host.ts";
import {
  diffInterface,
  diffRemoval,
  type HostFacts,
  type InterfaceRequest,
  type InterfaceState,
  planInterface,
  resolveOwnIpv4,
  stateToJson,
} from "../../../lib/netif/plan.ts";

function hostAddress(iface: string, cidr: string): HostIpv4Address {
  const [a, len] = cidr.split("/");
  return { interface: iface, address: parseIpv4(a), prefixLength: Number(len), broadcast: 0 };
}

const LAB_HOST: HostFacts = {
  ipv4Addresses: [
    hostAddress("lo", "127.0.0.1/8"),
    hostAddress("veth0", "198.51.100.10/24"),
    hostAddress("eth1", "10.0.0.1/8"),
  ],
  userIdOf: (user) => user === "alice" ? 1000 : /^\d+$/.test(user) ? Number(user) : undefined,
};

const BASE: InterfaceRequest = {
  ipv4: "198.51.100.10",
  name: "stf0",
  mtu: 1480,
  subnet: 0,
  interfaceId: "::1",
  defaultRoute: false,
  routes: [],
  allowNonGlobal: false,
};

function plan(changes: Partial<InterfaceRequest> = {}, host = LAB_HOST) {
  return planInterface({ ...BASE, ...changes }, host);
}

function ipv6calc6to4(ipv4: string): string | undefined {
  try {
    const out = new Deno.Command("ipv6calc", {
      args: ["--quiet", "--action", "conv6to4", ipv4],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

Deno.test("planInterface() gives 2002:c633:640a::1/16, MTU 1480 for 198.51.100.10", () => {
  const p = plan();
  assert.equal(formatIpv6(p.address), "2002:c633:640a::1");
  assert.equal(p.prefixLength, 16);
  assert.equal(p.mtu, 1480);
  assert.deepEqual(p.routes, []);
  assert.equal(p.alias, "stf 6to4 198.51.100.10");
  assert.equal(p.relay, undefined);
});

Deno.test("planInterface() agrees with ipv6calc on the 6to4 prefix of 198.51.100.10", {
  ignore: ipv6calc6to4("192.0.2.1") === undefined,
}, () => {
  const prefix = ipv6calc6to4("198.51.100.10")!;
  const address = plan({ interfaceId: "::" }).address;
  assert.equal(formatIpv6(address), prefix);
});

Deno.test("planInterface() puts the subnet ID and interface ID in place", () => {
  assert.equal(
    formatIpv6(plan({ subnet: 1, interfaceId: "::5" }).address),
    "2002:c633:640a:1::5",
  );
  assert.equal(
    formatIpv6(plan({ subnet: 0xffff, interfaceId: "::1:2:3:4" }).address),
    "2002:c633:640a:ffff:1:2:3:4",
  );
  assert.equal(formatIpv6(plan({ interfaceId: "a" }).address), "2002:c633:640a::a");
});

Deno.test("planInterface() refuses a subnet ID beyond 16 bits and an interface ID above 64", () => {
  assert.throws(() => plan({ subnet: 0x10000 }), RangeError);
  assert.throws(() => plan({ interfaceId: "1::1" }), RangeError);
});

Deno.test("planInterface() routes ::/0 with a relay and --default-route", () => {
  const p = plan({ relay: "192.0.2.99", defaultRoute: true });
  assert.deepEqual(p.routes.map(formatIpv6Prefix), ["::/0"]);
  assert.equal(p.relay, parseIpv4("192.0.2.99"));
  assert.equal(p.alias, "stf 6to4 198.51.100.10 relay 192.0.2.99");
});

Deno.test("planInterface() refuses --default-route without a relay (RFC 7526 §5)", () => {
  assert.throws(() => plan({ defaultRoute: true }), {
    name: "RangeError",
    message: /without a relay: add --relay IPV4/,
  });
});

Deno.test("planInterface() refuses a relay in C4", () => {
  assert.throws(
    () => plan({ relay: "10.1.2.3" }),
    (e: unknown) => e instanceof PolicyError && e.reason === "dst-ipv4-invalid",
  );
});

Deno.test("planInterface() keeps --route prefixes once and skips the on-link 2002::/16", () => {
  const p = plan({ routes: ["2001:db8:1::/48", "2002::/16", "2001:db8:1::/48", "::/0"] });
  assert.deepEqual(p.routes.map(formatIpv6Prefix), ["2001:db8:1::/48", "::/0"]);
});

Deno.test("planInterface() refuses a --route with host bits", () => {
  assert.throws(() => plan({ routes: ["2001:db8::1/48"] }), SyntaxError);
});

Deno.test("planInterface() refuses 10.0.0.1 as own-ipv4-not-global unless allowed", () => {
  assert.throws(
    () => plan({ ipv4: "10.0.0.1" }),
    (e: unknown) =>
      e instanceof PolicyError && e.reason === "own-ipv4-not-global" &&
      e.message ===
        'Cannot use "10.0.0.1" for 6to4: it is a private address (RFC 1918), not reachable ' +
          "from the IPv4 Internet (RFC 3056 §2); use --allow-non-global for a lab",
  );
  assert.equal(
    formatIpv6(plan({ ipv4: "10.0.0.1", allowNonGlobal: true }).address),
    "2002:a00:1::1",
  );
});

Deno.test("planInterface() refuses 100.64.0.1 (shared address space) as not global", () => {
  const host = { ipv4Addresses: [hostAddress("wan", "100.64.0.1/10")] };
  assert.throws(
    () => plan({ ipv4: "100.64.0.1" }, host),
    (e: unknown) => e instanceof PolicyError && e.reason === "own-ipv4-not-global",
  );
});

Deno.test("planInterface() refuses an IPv4 that is not on this host (own-ipv4-not-local)", () => {
  assert.throws(
    () => plan({ ipv4: "203.0.113.5" }),
    (e: unknown) =>
      e instanceof PolicyError && e.reason === "own-ipv4-not-local" &&
      /^Cannot use "203\.0\.113\.5" as this host's IPv4 address: it is not an address of this host \(RFC 3056 §3\); this host has 198\.51\.100\.10 on veth0/
        .test(e.message),
  );
});

Deno.test("planInterface() refuses MTU 9000 and 1279 as mtu-out-of-range", () => {
  assert.throws(
    () => plan({ mtu: 9000 }),
    (e: unknown) =>
      e instanceof PolicyError && e.reason === "mtu-out-of-range" &&
      e.message === 'Cannot set MTU of "stf0" to 9000: maximum is 1480 (RFC 4213 §3.2)',
  );
  assert.throws(() => plan({ mtu: 1279 }), { message: /minimum is 1280/ });
  assert.equal(plan({ mtu: 1280 }).mtu, 1280);
});

Deno.test("planInterface() refuses a name longer than 15 bytes", () => {
  assert.throws(() => plan({ name: "stf-very-long-name" }), {
    name: "RangeError",
    message: 'Cannot use interface name "stf-very-long-name": it is 18 bytes long, the maximum ' +
      "is 15",
  });
  assert.throws(() => plan({ name: "a/b" }), RangeError);
  assert.equal(plan({ name: "a".repeat(15) }).name, "a".repeat(15));
});

Deno.test("planInterface() resolves --owner by name or uid", () => {
  assert.equal(plan({ owner: "alice" }).owner, 1000);
  assert.equal(plan({ owner: "65534" }).owner, 65534);
  assert.throws(() => plan({ owner: "nosuchuser" }), { message: /no such user/ });
});

Deno.test("resolveOwnIpv4() picks the single global address for auto, skipping 10/8 and lo", () => {
  assert.equal(
    resolveOwnIpv4("auto", LAB_HOST, { allowNonGlobal: false }),
    parseIpv4("198.51.100.10"),
  );
});

Deno.test("resolveOwnIpv4() refuses auto with two global addresses, listing them", () => {
  const host = {
    ipv4Addresses: [hostAddress("a", "192.0.2.1/24"), hostAddress("b", "203.0.113.1/24")],
  };
  assert.throws(() => resolveOwnIpv4("auto", host, { allowNonGlobal: false }), {
    name: "RangeError",
    message: /has 2 \(192\.0\.2\.1 on a, 203\.0\.113\.1 on b\); give one with --ipv4/,
  });
});

Deno.test("resolveOwnIpv4() fails for auto without any global address", () => {
  const host = { ipv4Addresses: [hostAddress("lo", "127.0.0.1/8")] };
  assert.throws(() => resolveOwnIpv4("auto", host, { allowNonGlobal: false }), OperationError);
});

Deno.test("resolveOwnIpv4() takes an interface's address and names interfaces when absent", () => {
  assert.equal(
    resolveOwnIpv4("veth0", LAB_HOST, { allowNonGlobal: false }),
    parseIpv4("198.51.100.10"),
  );
  assert.throws(() => resolveOwnIpv4("eth9", LAB_HOST, { allowNonGlobal: false }), {
    message: /interfaces with IPv4 are lo, veth0, eth1/,
  });
  assert.throws(
    () => resolveOwnIpv4("eth1", LAB_HOST, { allowNonGlobal: false }),
    (e: unknown) => e instanceof PolicyError && e.reason === "own-ipv4-not-global",
  );
  assert.throws(
    () => resolveOwnIpv4("198.51.100", LAB_HOST, { allowNonGlobal: false }),
    SyntaxError,
  );
});

function stateOf(
  p: ReturnType<typeof plan>,
  changes: Partial<InterfaceState> = {},
): InterfaceState {
  return {
    name: p.name,
    ifindex: 4,
    tunFlags: 0x1001,
    alias: p.alias,
    madeByStf: true,
    up: true,
    mtu: p.mtu,
    addresses: [{ address: p.address, prefixLength: p.prefixLength }],
    routes: p.routes,
    ...changes,
  };
}

Deno.test("diffInterface() on no interface gives the iproute2 commands of a fresh stf0", () => {
  const p = plan({ relay: "192.0.2.99", defaultRoute: true, owner: "alice" });
  assert.deepEqual(diffInterface(p, undefined).map((c) => c.command), [
    "ip tuntap add dev stf0 mode tun user 1000",
    "ip link set dev stf0 alias 'stf 6to4 198.51.100.10 relay 192.0.2.99'",
    "ip link set dev stf0 mtu 1480",
    "ip link set dev stf0 up",
    "ip -6 addr add 2002:c633:640a::1/16 dev stf0",
    "ip -6 route add ::/0 dev stf0 metric 1024",
  ]);
});

Deno.test("diffInterface() finds nothing to do when the state matches the plan", () => {
  const p = plan({ relay: "192.0.2.99", defaultRoute: true });
  assert.deepEqual(diffInterface(p, stateOf(p)), []);
});

Deno.test("diffInterface() reconciles MTU, address and routes, in order", () => {
  const before = plan({ relay: "192.0.2.99", defaultRoute: true });
  const after = plan({ mtu: 1280, subnet: 1, routes: ["2001:db8::/32"] });
  const changes = diffInterface(after, stateOf(before));
  assert.deepEqual(changes.map((c) => c.description), [
    'set the alias of "stf0" to "stf 6to4 198.51.100.10"',
    'set MTU of "stf0" to 1280 (was 1480)',
    'deleted address 2002:c633:640a::1/16 from "stf0"',
    'added address 2002:c633:640a:1::1/16 to "stf0"',
    'deleted route ::/0 from "stf0"',
    'added route 2001:db8::/32 through "stf0"',
  ]);
});

Deno.test("diffInterface() brings a down interface up and sets a new owner", () => {
  const p = plan({ owner: "alice" });
  assert.deepEqual(
    diffInterface(p, stateOf(p, { up: false })).map((c) => c.kind),
    ["owner", "up"],
  );
});

Deno.test("diffRemoval() deletes routes, then addresses, then the device", () => {
  const p = plan({ relay: "192.0.2.99", defaultRoute: true });
  assert.deepEqual(diffRemoval(stateOf(p)).map((c) => c.command), [
    "ip -6 route del ::/0 dev stf0 metric 1024",
    "ip -6 addr del 2002:c633:640a::1/16 dev stf0",
    "ip tuntap del dev stf0 mode tun",
  ]);
});

Deno.test("stateToJson() lists the on-link prefix and the routes", () => {
  const p = plan({ relay: "192.0.2.99", defaultRoute: true });
  const json = stateToJson(stateOf(p), []);
  assert.deepEqual(json, {
    name: "stf0",
    ifindex: 4,
    address: "2002:c633:640a::1/16",
    addresses: ["2002:c633:640a::1/16"],
    mtu: 1480,
    up: true,
    routes: ["2002::/16", "::/0"],
    changed: [],
  });
});

Deno.test("parseIpv6Prefix() and the plan agree on ::/0 as the default route", () => {
  assert.deepEqual(plan({ routes: ["::/0"] }).routes, [parseIpv6Prefix("::/0")]);
  assert.deepEqual(parseIpv6("::"), new Uint8Array(16));
});
