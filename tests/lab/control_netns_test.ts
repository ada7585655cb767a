/**
 * The default control socket is distinct per network namespace: two `stf run` of the same
 * interface name in two namespaces both serve one (before, the second found the first's
 * `/run/stf/stf0.sock` answering and went without), and `stf status` in each namespace finds
 * its own forwarder by the same rule, without `--control-socket`.
 */
import assert from "node:assert/strict";
import { labTest, stfArgv } from "./_lab.ts";
import { A_IPV4, B_IPV4, buildTwoSites, startBoth } from "./_two_sites.ts";

labTest("two stf run named stf0 in two namespaces each answer stf status by default", async () => {
  await using sites = await buildTwoSites();
  const [a, b] = await startBoth(sites);
  try {
    const sockets: string[] = [];
    for (const [ns, stf, ipv4] of [[sites.a, a, A_IPV4], [sites.b, b, B_IPV4]] as const) {
      const inode = /\d+/.exec(await ns.run`readlink /proc/self/ns/net`.text())![0];
      const status = JSON.parse(
        await ns.run`${stfArgv("status", "--name", "stf0", "--json")}`.text(),
      );
      assert.equal(status.controlSocket, `/run/stf/netns-${inode}/stf0.sock`, stf.output());
      assert.equal(status.forwarder?.ipv4, ipv4, stf.output());
      assert.doesNotMatch(stf.stderr, /control socket/i, "no warning about the control socket");
      sockets.push(status.controlSocket);
    }
    assert.notEqual(sockets[0], sockets[1]);
  } finally {
    await a.stop();
    await b.stop();
  }
  // Each removed its socket on the way out.
  for (const ns of [sites.a, sites.b]) {
    const inode = /\d+/.exec(await ns.run`readlink /proc/self/ns/net`.text())![0];
    await assert.rejects(Deno.lstat(`/run/stf/netns-${inode}/stf0.sock`), Deno.errors.NotFound);
  }
});
