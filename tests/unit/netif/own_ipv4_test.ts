import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6Prefix } from "../../../lib/addr/mod.ts";
import type { HostIpv4Address } from "../../../lib/netif/host.ts";
import { type OwnIpv4State, type OwnIpv4Step, planOwnIpv4 } from "../../../lib/netif/own_ipv4.ts";
import { type InterfaceRequest, planInterface } from "../../../lib/netif/plan.ts";

function on(iface: string, ...addresses: string[]): HostIpv4Address[] {
  return addresses.map((a) => ({
    interface: iface,
    address: parseIpv4(a),
    prefixLength: 24,
    broadcast: (parseIpv4(a) | 0xff) >>> 0,
  }));
}

const LAN = on("lan0", "192.168.1.1"); // a private LAN address never taken by `auto`

function host(...uplink: string[]) {
  return { ipv4Addresses: [...on("lo", "127.0.0.1"), ...LAN, ...on("eth0", ...uplink)] };
}

const REQUEST: InterfaceRequest = {
  ipv4: "eth0",
  name: "stf0",
  mtu: 1480,
  subnet: 0,
  interfaceId: "::1",
  relay: "192.0.2.99",
  defaultRoute: true,
  routes: ["2001:db8:1::/48"],
  allowNonGlobal: false,
};

function start(ipv4: string, request = REQUEST): OwnIpv4State {
  return { plan: planInterface(request, host(ipv4)) };
}

function kinds(step: OwnIpv4Step): string[] {
  return step.kind === "change" ? step.changes.map((c) => c.kind) : [];
}

Deno.test("a new address on the uplink moves the address, keeps the routes and names both prefixes", () => {
  const step = planOwnIpv4(start("198.51.100.10"), REQUEST, host("198.51.100.20"));
  assert.equal(step.kind, "change");
  if (step.kind !== "change") return;
  // The prefixes as the issue writes them (stf prefix 198.51.100.10 / .20).
  assert.equal(step.oldPrefix, "2002:c633:640a::/48");
  assert.equal(step.newPrefix, "2002:c633:6414::/48");
  assert.equal(formatIpv4(step.next.ipv4), "198.51.100.20");
  assert.equal(formatIpv6(step.next.address), "2002:c633:6414::1");
  assert.deepEqual(kinds(step), ["alias", "address-delete", "address-add"]);
  assert.deepEqual(
    step.changes.map((c) => c.command),
    [
      "ip link set dev stf0 alias 'stf 6to4 198.51.100.20 relay 192.0.2.99'",
      "ip -6 addr del 2002:c633:640a::1/16 dev stf0",
      "ip -6 addr add 2002:c633:6414::1/16 dev stf0",
    ],
  );
  // ::/0 towards the relay and the native site route do not depend on the IPv4 address.
  assert.deepEqual(step.next.routes, step.old.routes);
  assert.equal(step.state.paused, undefined);
});

Deno.test("a 6rd site's new address gives the new delegated prefix", () => {
  const request: InterfaceRequest = {
    ...REQUEST,
    domain: {
      prefix: parseIpv6Prefix("2001:db8::/32"),
      ipv4MaskLength: 8,
      ipv4CommonPrefix: parseIpv4("198.0.0.0"),
    },
  };
  const step = planOwnIpv4(start("198.51.100.10", request), request, host("198.51.100.20"));
  assert.equal(step.kind, "change");
  if (step.kind !== "change") return;
  assert.equal(step.oldPrefix, "2001:db8:3364:a00::/56");
  assert.equal(step.newPrefix, "2001:db8:3364:1400::/56");
});

Deno.test("a second address beside the one in force changes nothing; the old one leaving does", () => {
  const before = start("198.51.100.10");
  const both = planOwnIpv4(before, REQUEST, host("198.51.100.10", "198.51.100.20"));
  assert.equal(both.kind, "none");
  const after = planOwnIpv4(both.state, REQUEST, host("198.51.100.20"));
  assert.equal(after.kind, "change");
});

Deno.test("a new address that is not global is refused: egress pauses, naming allow-non-global", () => {
  const step = planOwnIpv4(start("198.51.100.10"), REQUEST, host("10.1.2.3"));
  assert.equal(step.kind, "pause");
  if (step.kind !== "pause") return;
  assert.match(step.why, /"10\.1\.2\.3".*private.*--allow-non-global/);
  // The interface keeps the plan in force; nothing is re-addressed.
  assert.equal(formatIpv4(step.state.plan.ipv4), "198.51.100.10");
  assert.equal(step.state.paused, step.why);
  // The same reading again: already paused for that reason, nothing to do.
  assert.equal(planOwnIpv4(step.state, REQUEST, host("10.1.2.3")).kind, "none");
});

Deno.test("with allow-non-global a private new address is taken", () => {
  const request = { ...REQUEST, allowNonGlobal: true };
  const step = planOwnIpv4(start("198.51.100.10", request), request, host("10.1.2.3"));
  assert.equal(step.kind, "change");
  if (step.kind === "change") assert.equal(step.newPrefix, "2002:a01:203::/48");
});

Deno.test("the address gone pauses egress; the same address back resumes it", () => {
  const gone = planOwnIpv4(start("198.51.100.10"), REQUEST, host());
  assert.equal(gone.kind, "pause");
  if (gone.kind === "pause") {
    assert.match(gone.why, /Cannot find an IPv4 address on interface "eth0"/);
  }
  const back = planOwnIpv4(gone.state, REQUEST, host("198.51.100.10"));
  assert.equal(back.kind, "resume");
  assert.equal(back.state.paused, undefined);
});

Deno.test("two new addresses and the old one gone: stf cannot choose, egress pauses", () => {
  const step = planOwnIpv4(start("198.51.100.10"), REQUEST, host("198.51.100.20", "198.51.100.30"));
  assert.equal(step.kind, "pause");
  if (step.kind === "pause") assert.match(step.why, /it has 2/);
});

Deno.test("a literal --ipv4 never changes by itself: gone pauses, back resumes", () => {
  const request = { ...REQUEST, ipv4: "198.51.100.10" };
  const state = start("198.51.100.10", request);
  const moved = planOwnIpv4(state, request, host("198.51.100.20"));
  assert.equal(moved.kind, "pause");
  if (moved.kind === "pause") assert.match(moved.why, /not an address of this host/);
  assert.equal(planOwnIpv4(moved.state, request, host("198.51.100.10")).kind, "resume");
});

Deno.test("behind a 1:1 NAT only the bind address is watched: gone pauses, back resumes", () => {
  const request = { ...REQUEST, ipv4: "203.0.113.80", bindIpv4: "198.51.100.10" };
  const state = start("198.51.100.10", request);
  assert.equal(formatIpv4(state.plan.ipv4), "203.0.113.80");
  assert.equal(planOwnIpv4(state, request, host("198.51.100.10", "198.51.100.20")).kind, "none");
  const gone = planOwnIpv4(state, request, host("198.51.100.20"));
  assert.equal(gone.kind, "pause");
  if (gone.kind === "pause") assert.match(gone.why, /Cannot bind to "198\.51\.100\.10"/);
  assert.equal(planOwnIpv4(gone.state, request, host("198.51.100.10")).kind, "resume");
});

Deno.test("flapping: three changes in a row end in the last one's state", () => {
  let state = start("198.51.100.10");
  const steps = ["198.51.100.20", "", "198.51.100.30"].map((a) => {
    const step = planOwnIpv4(state, REQUEST, a === "" ? host() : host(a));
    state = step.state;
    return step.kind;
  });
  assert.deepEqual(steps, ["change", "pause", "change"]);
  const direct = planOwnIpv4(start("198.51.100.10"), REQUEST, host("198.51.100.30"));
  assert.deepEqual(state, direct.state);
  assert.equal(formatIpv6(state.plan.address), "2002:c633:641e::1");
});

Deno.test("any sequence of single-address readings ends in the state the last reading gives", () => {
  const reading = fc.option(fc.integer({ min: 1, max: 254 }).map((n) => `198.51.100.${n}`), {
    nil: undefined,
  });
  fc.assert(
    fc.property(fc.array(reading, { minLength: 1, maxLength: 6 }), (readings) => {
      const initial = start("198.51.100.10");
      let state = initial;
      let applied = initial.plan; // the last plan a change applied
      for (const a of readings) {
        const step = planOwnIpv4(state, REQUEST, a === undefined ? host() : host(a));
        if (step.kind === "change") {
          // Each change starts from the plan applied last, never from a paused guess.
          assert.deepEqual(step.old, applied);
          applied = step.next;
        }
        state = step.state;
      }
      const last = readings[readings.length - 1];
      if (last === undefined) {
        assert.ok(state.paused !== undefined);
        assert.deepEqual(state.plan, applied);
      } else {
        assert.equal(state.paused, undefined);
        assert.equal(formatIpv4(state.plan.ipv4), last);
        assert.deepEqual(state.plan, planInterface(REQUEST, host(last)));
      }
    }),
  );
});
