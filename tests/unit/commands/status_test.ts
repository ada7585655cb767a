import assert from "node:assert/strict";
import { controlSocketPath, type ForwarderStatus, serveControl } from "../../../lib/control/mod.ts";
import { Counters } from "../../../lib/dataplane/counters.ts";
import { formatStatus, readStatus, runStatus } from "../../../lib/commands/status.ts";

const STATUS_FIELDS = [
  "name",
  "exists",
  "madeByStf",
  "up",
  "mtu",
  "address",
  "addresses",
  "routes",
  "controlSocket",
  "forwarder",
];

function forwarder(): ForwarderStatus {
  const counters = new Counters();
  counters.values[0] = 5;
  return {
    name: "lo",
    pid: 4242,
    version: "0.1.0",
    mode: "return-path",
    ipv4: "203.0.113.80",
    address: "2002:cb00:7150::1/16",
    prefix: "2002:cb00:7150::/48",
    ownIpv4Unavailable: null,
    addressChanges: 0,
    prefixHookFailures: 0,
    startedAt: "2026-11-26T15:00:00.000Z",
    counters: counters.snapshot(),
    queues: counters.perQueue(),
  };
}

async function captured(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    const code = await fn();
    return { code, out: lines.join("\n") };
  } finally {
    console.log = original;
  }
}

async function withDirectory(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "stf-status-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("runStatus() exits 1 and says so when the interface does not exist", async () => {
  await withDirectory(async (dir) => {
    const socket = `${dir}/none.sock`;
    const text = await captured(() => runStatus({ name: "stfnone9", controlSocket: socket }));
    assert.equal(text.code, 1);
    assert.match(text.out, /^Interface stfnone9: does not exist/);
    assert.match(text.out, /No forwarder running \(nothing answers on .*none\.sock\)/);
    const json = await captured(() =>
      runStatus({ name: "stfnone9", json: true, controlSocket: socket })
    );
    assert.equal(json.code, 1);
    const doc = JSON.parse(json.out);
    assert.deepEqual(Object.keys(doc), STATUS_FIELDS);
    assert.deepEqual(doc, {
      name: "stfnone9",
      exists: false,
      madeByStf: false,
      up: false,
      mtu: null,
      address: null,
      addresses: [],
      routes: [],
      controlSocket: socket,
      forwarder: null,
    });
  });
});

Deno.test("readStatus() reads an existing interface as ip -j shows it (lo)", async () => {
  const doc = await readStatus({ name: "lo", controlSocket: "/nonexistent/lo.sock" });
  const out = new Deno.Command("ip", { args: ["-j", "link", "show", "dev", "lo"] }).outputSync();
  const [link] = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(doc.exists, true);
  assert.equal(doc.madeByStf, false);
  assert.equal(doc.mtu, link.mtu);
  assert.equal(doc.up, link.flags.includes("UP"));
  assert.equal(doc.forwarder, null);
});

Deno.test("runStatus() shows the forwarder's mode and counters from its control socket", async () => {
  await withDirectory(async (dir) => {
    const socket = controlSocketPath("lo", dir);
    const server = await serveControl(socket, forwarder);
    try {
      const json = await captured(() =>
        runStatus({ name: "lo", json: true, controlSocket: socket })
      );
      assert.equal(json.code, 0);
      const doc = JSON.parse(json.out);
      assert.deepEqual(Object.keys(doc), STATUS_FIELDS);
      assert.deepEqual(Object.keys(doc.forwarder), [
        "pid",
        "version",
        "mode",
        "ipv4",
        "address",
        "prefix",
        "ownIpv4Unavailable",
        "addressChanges",
        "prefixHookFailures",
        "startedAt",
        "counters",
        "queues",
      ]);
      assert.equal(doc.forwarder.mode, "return-path");
      assert.equal(doc.forwarder.counters.egress.packets, 5);
      const text = await captured(() => runStatus({ name: "lo", controlSocket: socket }));
      assert.match(text.out, /^Interface lo: (up|down), MTU \d+, not made by stf/);
      assert.match(text.out, /Forwarder: running, pid 4242, stf 0\.1\.0/);
      assert.match(text.out, /mode return-path, own IPv4 203\.0\.113\.80/);
      assert.match(text.out, /egress: 5 packets/);
    } finally {
      await server.close();
    }
  });
});

Deno.test("readStatus() refuses an invalid interface name before touching a socket path", async () => {
  await assert.rejects(() => readStatus({ name: "../etc" }), RangeError);
});

Deno.test("formatStatus() lists addresses and routes of an existing interface", () => {
  const text = formatStatus({
    name: "stf0",
    exists: true,
    madeByStf: true,
    up: true,
    mtu: 1480,
    address: "2002:c633:640a::1/16",
    addresses: ["2002:c633:640a::1/16"],
    routes: ["2002::/16"],
    controlSocket: "/run/stf/stf0.sock",
    forwarder: null,
  });
  assert.equal(
    text,
    [
      "Interface stf0: up, MTU 1480, made by stf",
      "  address 2002:c633:640a::1/16",
      "  route 2002::/16",
      "No forwarder running (nothing answers on /run/stf/stf0.sock)",
    ].join("\n"),
  );
});

/** A status document of an stf-made stf0 with a running forwarder. */
function runningDoc(f: ForwarderStatus) {
  const { name: _, ...running } = f;
  return {
    name: "stf0",
    exists: true,
    madeByStf: true,
    up: true,
    mtu: 1480,
    address: null,
    addresses: [],
    routes: [],
    controlSocket: "/run/stf/stf0.sock",
    forwarder: running,
  };
}

Deno.test("formatStatus() shows the packets per queue when stf runs with --queues", () => {
  const counters = new Counters(undefined, { queues: 2 });
  new Counters(counters.buffer, { queue: 0 }).values[0] = 7;
  new Counters(counters.buffer, { queue: 1 }).values[0] = 3;
  const text = formatStatus(
    runningDoc({ ...forwarder(), counters: counters.snapshot(), queues: counters.perQueue() }),
  );
  assert.match(text, /egress: 10 packets/);
  assert.match(text, /2 queues, packets forwarded egress\/ingress: 0: 7\/0, 1: 3\/0$/m);
  // One queue: no such line.
  assert.doesNotMatch(formatStatus(runningDoc(forwarder())), /queues/);
});

Deno.test("formatStatus() lists the relays in order, the active one and their probes", () => {
  const text = formatStatus(runningDoc({
    ...forwarder(),
    relay: "192.0.2.98",
    relays: [
      { address: "192.0.2.99", state: "down", active: false, rttMs: 0.41, lostInARow: 4 },
      { address: "192.0.2.98", state: "up", active: true, rttMs: 0.38, lostInARow: 0 },
      { address: "203.0.113.7", state: "unknown", active: false, rttMs: null, lostInARow: 0 },
    ],
  }));
  const lines = text.split("\n").filter((l) => l.startsWith("  relay "));
  assert.deepEqual(lines, [
    "  relay 192.0.2.99: down, RTT 0.4 ms, 4 lost in a row",
    "  relay 192.0.2.98: up, active, RTT 0.4 ms",
    "  relay 203.0.113.7: unknown, no answer yet",
  ]);
  assert.doesNotMatch(formatStatus(runningDoc(forwarder())), /relay /);
});

Deno.test("formatStatus() says when egress is paused and how many address changes were followed", () => {
  const running = formatStatus(runningDoc(forwarder()));
  assert.doesNotMatch(running, /paused|changes followed/);
  const paused = formatStatus(runningDoc({
    ...forwarder(),
    ownIpv4Unavailable: 'Cannot find an IPv4 address on interface "eth0"',
    addressChanges: 2,
    prefixHookFailures: 1,
  }));
  assert.match(
    paused,
    /^ {2}egress paused \(own-ipv4-unavailable\): Cannot find an IPv4 address on interface "eth0"$/m,
  );
  assert.match(paused, /^ {2}own IPv4 changes followed: 2, prefix hook failures: 1$/m);
});
