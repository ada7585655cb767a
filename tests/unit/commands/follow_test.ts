import assert from "node:assert/strict";
import { formatIpv4, parseIpv4 } from "../../../lib/addr/mod.ts";
import { type FollowFacts, OwnIpv4Follower } from "../../../lib/commands/_follow.ts";
import type { PrefixChange } from "../../../lib/commands/_prefix_hook.ts";
import { interfaceRequestOf } from "../../../lib/commands/settings.ts";
import { mergeConfig, parseConfig, type StfConfig } from "../../../lib/config/mod.ts";
import type { PolicySettings } from "../../../lib/filter/mod.ts";
import type { AddressWatchOptions } from "../../../lib/netif/address_watch.ts";
import type { AddressEvent } from "../../../lib/netif/address_events.ts";
import { type HostIpv4Address, type InterfacePlan, planInterface } from "../../../lib/netif/mod.ts";

const CONFIG: StfConfig = mergeConfig(parseConfig(""), {
  ipv4: { interface: "eth0" },
  relays: ["192.0.2.99"],
  defaultRoute: true,
  onPrefixChange: "/etc/stf/hook",
});

function on(...addresses: string[]): HostIpv4Address[] {
  return addresses.map((a) => ({
    interface: "eth0",
    address: parseIpv4(a),
    prefixLength: 24,
    broadcast: (parseIpv4(a) | 0xff) >>> 0,
  }));
}

type Call =
  | { kind: "swap"; ipv4: string; paused: boolean; icmp: string; mtu: number }
  | { kind: "apply"; ipv4: string; mtu: number }
  | { kind: "publish"; facts: FollowFacts };

/** A follower over fakes: a mutable host, a watcher the test drives, recorded effects. */
function harness(options: { hookFails?: boolean; refuse?: (s: PolicySettings) => boolean } = {}) {
  let host = on("198.51.100.10");
  const calls: Call[] = [];
  const hooks: PrefixChange[] = [];
  let watch: AddressWatchOptions | undefined;
  const plan = planInterface(interfaceRequestOf(CONFIG), { ipv4Addresses: host });
  const follower = new OwnIpv4Follower({
    config: CONFIG,
    plan,
    readHost: () => host,
    watch: (o) => {
      watch = o;
      return { close: () => Promise.resolve(), [Symbol.asyncDispose]: () => Promise.resolve() };
    },
    runHook: (_path, change) => {
      hooks.push(change);
      return Promise.resolve(
        options.hookFails
          ? { ok: false, code: 1, timedOut: false, error: "exited with status 1" }
          : { ok: true, code: 0, timedOut: false },
      );
    },
    effects: {
      swapPolicy(settings, icmp) {
        if (options.refuse?.(settings)) throw new RangeError(`refused ${settings.ipv4}`);
        calls.push({
          kind: "swap",
          ipv4: settings.ipv4,
          paused: settings.ownIpv4Unavailable === true,
          icmp,
          mtu: settings.mtu,
        });
      },
      applyPlan(p: InterfacePlan) {
        calls.push({ kind: "apply", ipv4: formatIpv4(p.ipv4), mtu: p.mtu });
        return [];
      },
      publish(facts) {
        calls.push({ kind: "publish", facts });
      },
    },
  });
  follower.start();
  return {
    follower,
    calls,
    hooks,
    setHost(...addresses: string[]) {
      host = on(...addresses);
    },
    /** The watcher reports a settled burst. */
    settle() {
      watch!.onChange({ events: [], lost: false, host });
    },
    /** The watcher reports raw events at once. */
    events(...events: Partial<AddressEvent>[]) {
      watch!.onEvents!(events.map((e) => ({
        kind: "removed",
        ifindex: 2,
        address: 0,
        prefixLength: 24,
        scope: 0,
        flags: 0,
        ...e,
      })));
    },
    kinds: () => calls.map((c) => c.kind === "swap" && c.paused ? "swap-paused" : c.kind),
  };
}

Deno.test("a new address: the policy is swapped before the interface is re-addressed, the hook runs once", async () => {
  const h = harness();
  await h.follower.settled();
  assert.deepEqual(h.calls, [], "the start's reading changes nothing");
  h.setHost("198.51.100.20");
  h.settle();
  await h.follower.settled();
  await h.follower.hooksDone();
  assert.deepEqual(h.kinds(), ["swap", "apply", "publish"]);
  assert.deepEqual(h.calls[0], {
    kind: "swap",
    ipv4: "198.51.100.20",
    paused: false,
    icmp: "2002:c633:6414::1",
    mtu: 1480,
  });
  assert.deepEqual(h.hooks, [{
    oldPrefix: "2002:c633:640a::/48",
    newPrefix: "2002:c633:6414::/48",
    oldIpv4: "198.51.100.10",
    newIpv4: "198.51.100.20",
    interface: "stf0",
  }]);
  assert.equal(h.follower.facts.addressChanges, 1);
  assert.equal(h.follower.facts.prefix, "2002:c633:6414::/48");
});

Deno.test("the address in force removed pauses egress at once; the settled reading then changes it", async () => {
  const h = harness();
  await h.follower.settled();
  h.setHost(); // `ip addr del` has run, the add not yet
  h.events({ kind: "removed", address: parseIpv4("198.51.100.10") });
  await h.follower.settled();
  assert.deepEqual(h.kinds(), ["swap-paused", "publish"]);
  // Another address's removal does not matter.
  h.events({ kind: "removed", address: parseIpv4("198.51.100.99") });
  await h.follower.settled();
  assert.equal(h.calls.length, 2);
  h.setHost("198.51.100.20");
  h.settle();
  await h.follower.settled();
  await h.follower.hooksDone();
  assert.deepEqual(h.kinds(), ["swap-paused", "publish", "swap", "apply", "publish"]);
  assert.equal(h.hooks.length, 1, "one hook run for the whole change");
  assert.equal(h.hooks[0].oldIpv4, "198.51.100.10");
  assert.equal(h.follower.facts.paused, undefined);
});

Deno.test("the address gone pauses egress, back resumes it, and no hook runs", async () => {
  const h = harness();
  h.setHost();
  h.settle();
  await h.follower.settled();
  assert.match(h.follower.facts.paused!, /Cannot find an IPv4 address on interface "eth0"/);
  h.setHost("198.51.100.10");
  h.settle();
  await h.follower.settled();
  await h.follower.hooksDone();
  assert.deepEqual(h.kinds(), ["swap-paused", "publish", "swap", "publish"]);
  assert.equal(h.follower.facts.paused, undefined);
  assert.deepEqual(h.hooks, []);
  assert.equal(h.follower.facts.addressChanges, 0);
});

Deno.test("a new address the policy refuses pauses egress instead", async () => {
  const h = harness({ refuse: (s) => s.ipv4 === "198.51.100.20" && !s.ownIpv4Unavailable });
  h.setHost("198.51.100.20");
  h.settle();
  await h.follower.settled();
  assert.deepEqual(h.kinds(), ["swap-paused", "publish"]);
  assert.equal(h.follower.facts.paused, "refused 198.51.100.20");
  assert.equal(formatIpv4(h.follower.facts.plan.ipv4), "198.51.100.10");
});

Deno.test("a failing hook is counted and forwarding goes on", async () => {
  const h = harness({ hookFails: true });
  h.setHost("198.51.100.20");
  h.settle();
  await h.follower.settled();
  await h.follower.hooksDone();
  assert.equal(h.follower.facts.prefixHookFailures, 1);
  assert.equal(h.follower.facts.paused, undefined);
});

Deno.test("SIGHUP and an address change at the same moment end in one consistent state", async () => {
  const h = harness();
  await h.follower.settled();
  h.setHost("198.51.100.20");
  const next = mergeConfig(CONFIG, { interface: { mtu: 1400 } });
  // Both at once: the watcher's reading and the reload.
  h.settle();
  const reloaded = h.follower.reload(next);
  await reloaded;
  await h.follower.settled();
  await h.follower.hooksDone();
  const facts = h.follower.facts;
  assert.equal(formatIpv4(facts.plan.ipv4), "198.51.100.20");
  assert.equal(facts.plan.mtu, 1400);
  assert.equal(h.follower.config.interface.mtu, 1400);
  assert.equal(facts.addressChanges, 1);
  assert.equal(h.hooks.length, 1);
  // The last swap and the last apply carry both: the new address and the new MTU.
  const swaps = h.calls.filter((c) => c.kind === "swap");
  assert.deepEqual(swaps.at(-1), {
    kind: "swap",
    ipv4: "198.51.100.20",
    paused: false,
    icmp: "2002:c633:6414::1",
    mtu: 1400,
  });
  assert.deepEqual(h.calls.filter((c) => c.kind === "apply").at(-1), {
    kind: "apply",
    ipv4: "198.51.100.20",
    mtu: 1400,
  });
});

Deno.test("a reload that renames the interface is refused and changes nothing", async () => {
  const h = harness();
  await h.follower.settled();
  await assert.rejects(
    h.follower.reload(mergeConfig(CONFIG, { interface: { name: "stf9" } })),
    /Cannot rename the interface from "stf0" to "stf9" on reload/,
  );
  assert.deepEqual(h.calls, []);
  assert.equal(h.follower.config.interface.name, "stf0");
});

Deno.test("a reload with a new literal address follows it like an event (the way behind a 1:1 NAT)", async () => {
  const h = harness();
  await h.follower.settled();
  const nat = mergeConfig(CONFIG, { ipv4: "203.0.113.80", bindIpv4: "198.51.100.10" });
  await h.follower.reload(nat);
  await h.follower.hooksDone();
  assert.equal(formatIpv4(h.follower.facts.plan.ipv4), "203.0.113.80");
  assert.equal(h.hooks.length, 1);
  assert.equal(h.hooks[0].newPrefix, "2002:cb00:7150::/48");
});
