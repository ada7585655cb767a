import assert from "node:assert/strict";
import { parseIpv4 } from "../../../lib/addr/mod.ts";
import { queryControl, sitePrefixText, startOperations } from "../../../lib/control/mod.ts";
import { Counters } from "../../../lib/dataplane/counters.ts";
import { abstractName, Receiver } from "../systemd/_receiver.ts";

const FACTS = {
  mode: "router",
  ipv4: "198.51.100.10",
  address: "2002:c633:640a::1/16",
  prefix: "2002:c633:640a::/48",
};

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return await response.text();
}

Deno.test("sitePrefixText() gives the 6to4 /48 or the 6rd delegated prefix", () => {
  assert.equal(sitePrefixText(parseIpv4("198.51.100.10")), "2002:c633:640a::/48");
  assert.equal(
    sitePrefixText(parseIpv4("10.100.100.1"), {
      prefix: {
        address: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)]),
        length: 32,
      },
      ipv4MaskLength: 8,
      ipv4CommonPrefix: parseIpv4("10.0.0.0"),
    }),
    "2001:db8:6464:100::/56",
  );
});

Deno.test("startOperations() serves metrics and status, says READY=1, then STOPPING=1", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-operations-" });
  const notifySocket = abstractName();
  using receiver = new Receiver(notifySocket);
  const counters = new Counters();
  counters.values[0] = 3;
  const warnings: string[] = [];
  const ops = await startOperations({
    name: "stf0",
    facts: FACTS,
    counters: () => counters.snapshot(),
    metrics: "127.0.0.1:0",
    controlSocket: `${dir}/stf0.sock`,
    notifySocket,
    onWarning: (m) => warnings.push(m),
  });
  try {
    assert.deepEqual(receiver.drain(), [
      "READY=1\nSTATUS=Forwarding on stf0: 2002:c633:640a::1/16, own IPv4 198.51.100.10, mode router",
    ]);
    assert.ok(ops.metricsPort !== undefined);
    let text = await scrape(ops.metricsPort);
    assert.match(text, /^stf_up 1$/m);
    assert.match(text, /^stf_packets_forwarded_total\{direction="egress"\} 3$/m);
    assert.match(
      text,
      /^stf_info\{version="[^"]+",mode="router",ipv4="198\.51\.100\.10",prefix="2002:c633:640a::\/48"\} 1$/m,
    );
    const status = await queryControl(`${dir}/stf0.sock`);
    assert.equal(status?.pid, Deno.pid);
    assert.equal(status?.mode, "router");
    assert.equal(status?.counters.egress.packets, 3);

    ops.reloaded({ ...FACTS, mode: "relay" });
    assert.deepEqual(receiver.drain(), [
      "STATUS=Forwarding on stf0: 2002:c633:640a::1/16, own IPv4 198.51.100.10, mode relay",
    ]);
    assert.equal((await queryControl(`${dir}/stf0.sock`))?.mode, "relay");

    ops.stopping();
    assert.deepEqual(receiver.drain(), ["STOPPING=1\nSTATUS=Stopping"]);
    text = await scrape(ops.metricsPort);
    assert.match(text, /^stf_up 0$/m);
    assert.deepEqual(warnings, []);
  } finally {
    await ops.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("startOperations() pings the watchdog only while the forwarder is healthy", async () => {
  const notifySocket = abstractName();
  using receiver = new Receiver(notifySocket);
  let healthy = true;
  const ops = await startOperations({
    name: "stf0",
    facts: FACTS,
    counters: () => new Counters().snapshot(),
    controlSocket: null,
    notifySocket,
    watchdogUsec: 40_000,
    healthy: () => healthy,
  });
  try {
    assert.equal(ops.metricsPort, undefined);
    assert.equal(ops.controlSocket, undefined);
    await new Promise((r) => setTimeout(r, 100));
    const pings = receiver.drain().filter((m) => m === "WATCHDOG=1");
    assert.ok(pings.length >= 2, `${pings.length} pings`);
    healthy = false;
    receiver.drain();
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(receiver.drain(), []);
  } finally {
    await ops.close();
  }
});

Deno.test("startOperations() warns and goes on when the control socket cannot be made", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-operations-" });
  try {
    Deno.writeTextFileSync(`${dir}/stf0.sock`, "not a socket");
    const warnings: string[] = [];
    const ops = await startOperations({
      name: "stf0",
      facts: FACTS,
      counters: () => new Counters().snapshot(),
      controlSocket: `${dir}/stf0.sock`,
      notifySocket: "/nonexistent/notify",
      onWarning: (m) => warnings.push(m),
    });
    await ops.close();
    assert.equal(ops.controlSocket, undefined);
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[0], /stf status will not see this forwarder: .*is not a socket/);
    assert.match(warnings[1], /Cannot notify systemd \(READY=1\): .*ENOENT/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("startOperations() fails when the metrics address is taken (it was asked for)", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      () =>
        startOperations({
          name: "stf0",
          facts: FACTS,
          counters: () => new Counters().snapshot(),
          metrics: `127.0.0.1:${blocker.addr.port}`,
          controlSocket: null,
          notifySocket: "",
        }),
      (e: Error) => e.name === "OperationError" && /Cannot serve metrics/.test(e.message),
    );
  } finally {
    blocker.close();
  }
});

Deno.test("startOperations() names the active relay in STATUS=, and lists the relays in status and metrics", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-operations-" });
  const notifySocket = abstractName();
  using receiver = new Receiver(notifySocket);
  const relays = [
    {
      address: "192.0.2.99",
      state: "down" as const,
      active: false,
      rttMs: 0.412345,
      lostInARow: 3,
      answered: 4,
      lost: 3,
    },
    {
      address: "192.0.2.98",
      state: "up" as const,
      active: true,
      rttMs: 0.5,
      lostInARow: 0,
      answered: 7,
      lost: 0,
    },
  ];
  const ops = await startOperations({
    name: "stf0",
    facts: { ...FACTS, relay: "192.0.2.99" },
    counters: () => new Counters().snapshot(),
    relays: () => relays,
    metrics: "127.0.0.1:0",
    controlSocket: `${dir}/stf0.sock`,
    notifySocket,
  });
  try {
    assert.deepEqual(receiver.drain(), [
      "READY=1\nSTATUS=Forwarding on stf0: 2002:c633:640a::1/16, own IPv4 198.51.100.10, mode router, relay 192.0.2.99",
    ]);
    ops.reloaded({ ...FACTS, relay: "192.0.2.98" });
    assert.deepEqual(receiver.drain(), [
      "STATUS=Forwarding on stf0: 2002:c633:640a::1/16, own IPv4 198.51.100.10, mode router, relay 192.0.2.98",
    ]);
    const status = await queryControl(`${dir}/stf0.sock`);
    assert.equal(status?.relay, "192.0.2.98");
    assert.deepEqual(status?.relays, [
      { address: "192.0.2.99", state: "down", active: false, rttMs: 0.412, lostInARow: 3 },
      { address: "192.0.2.98", state: "up", active: true, rttMs: 0.5, lostInARow: 0 },
    ]);
    const text = await scrape(ops.metricsPort!);
    assert.match(text, /^stf_relay_active\{relay="192\.0\.2\.98"\} 1$/m);
    assert.match(text, /^stf_relay_probes_total\{relay="192\.0\.2\.99",result="lost"\} 3$/m);
  } finally {
    await ops.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("after an address change the metrics, the status and STATUS= carry the new facts, and say a pause", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stf-operations-" });
  const notifySocket = abstractName();
  using receiver = new Receiver(notifySocket);
  const ops = await startOperations({
    name: "stf0",
    facts: FACTS,
    counters: () => new Counters().snapshot(),
    metrics: "127.0.0.1:0",
    controlSocket: `${dir}/stf0.sock`,
    notifySocket,
  });
  try {
    receiver.drain();
    const changed = {
      ...FACTS,
      ipv4: "198.51.100.20",
      address: "2002:c633:6414::1/16",
      prefix: "2002:c633:6414::/48",
      addressChanges: 1,
      prefixHookFailures: 1,
    };
    ops.reloaded(changed);
    assert.deepEqual(receiver.drain(), [
      "STATUS=Forwarding on stf0: 2002:c633:6414::1/16, own IPv4 198.51.100.20, mode router",
    ]);
    const text = await scrape(ops.metricsPort!);
    assert.match(
      text,
      /^stf_own_ipv4_info\{ipv4="198\.51\.100\.20",prefix="2002:c633:6414::\/48"\} 1$/m,
    );
    assert.match(text, /^stf_address_changes_total 1$/m);
    assert.match(text, /^stf_prefix_hook_failures_total 1$/m);
    let status = await queryControl(`${dir}/stf0.sock`);
    assert.equal(status?.prefix, "2002:c633:6414::/48");
    assert.equal(status?.addressChanges, 1);
    assert.equal(status?.ownIpv4Unavailable, null);

    ops.reloaded({
      ...changed,
      ownIpv4Unavailable: 'Cannot find an IPv4 address on interface "eth0"',
    });
    assert.deepEqual(receiver.drain(), [
      "STATUS=Egress paused on stf0: own IPv4 198.51.100.20 unavailable (Cannot find an IPv4 " +
      'address on interface "eth0")',
    ]);
    status = await queryControl(`${dir}/stf0.sock`);
    assert.match(String(status?.ownIpv4Unavailable), /^Cannot find an IPv4 address/);
  } finally {
    await ops.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
