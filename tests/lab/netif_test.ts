/**
 * The `lib/netif` pieces that `stf run` uses, in a namespace: a non-persistent TUN configured
 * by a plan and gone with its fd, and the protocol-41 raw socket with IP_HDRINCL.
 */
import assert from "node:assert/strict";
import { labTest, Netns, ROOT } from "./_lab.ts";

async function probe(ns: Netns, mode: string): Promise<Record<string, unknown>> {
  const [program, ...args] = ns.exec(
    Deno.execPath(),
    "run",
    "-A",
    "--no-lock",
    `${ROOT}tests/lab/_netif_probe.ts`,
    mode,
  );
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.ok(out.success, decode(out.stderr));
  return JSON.parse(decode(out.stdout));
}

labTest(
  "createOrAttachTun() with applyInterfacePlan() serves stf run; the TUN goes with its fd",
  async () => {
    await using ns = await Netns.create("stfni");
    await ns.run`ip link add veth0 type veth peer name veth1`;
    await ns.run`ip addr add 198.51.100.10/24 dev veth0`;
    const before = await ns.run`ip -j link`.text();
    const report = await probe(ns, "run");
    assert.equal(report.created, true);
    assert.ok(typeof report.fd === "number" && report.fd > 2);
    assert.deepEqual(report.changes, ["alias", "mtu", "up", "address-add", "route-add"]);
    assert.deepEqual(report.state, { mtu: 1400, up: true, routes: 1 });
    assert.equal(report.existsWhileOpen, true);
    assert.match(String(report.secondAttach), /Cannot attach to TUN device "stfr0": EBUSY/);
    assert.equal(report.existsAfterClose, false);
    assert.equal(await ns.run`ip -j link`.text(), before);
  },
);

labTest("openRawLink() opens a protocol-41 raw socket with IP_HDRINCL set", async () => {
  await using ns = await Netns.create("stfnr");
  const report = await probe(ns, "raw");
  assert.equal(report.hdrincl, 1);
  assert.equal(report.procNetRaw, 1);
});
