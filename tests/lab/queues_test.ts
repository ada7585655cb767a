/**
 * `stf run --queues N`: a multi-queue TUN with a Worker pair per queue. Two sites, each with
 * two queues; UDP flows from A to B. Checks what the kernel does with the fds stf attached and
 * the filter programs it gave the protocol-41 sockets: every packet forwarded once (no copy,
 * none lost), B's ingress split between its queues exactly as `queueOfPacket` says, A's
 * egress flows spread by the kernel over both TUN queues.
 */
import assert from "node:assert/strict";
import { labTest, stfArgv } from "./_lab.ts";
import { A_STF, B_STF, buildTwoSites, sleep, startBoth } from "./_two_sites.ts";
import { parseIpv6 } from "../../lib/addr/mod.ts";
import { queueOfPacket } from "../../lib/netif/queue_filter.ts";

const FLOWS = 24;
const PER_FLOW = 40;
const FIRST_PORT = 40000;

/** The protocol-41 packet B receives for a flow, as far as the queue filter reads it. */
function outerPacket(sourcePort: number, destinationPort: number): Uint8Array {
  const p = new Uint8Array(20 + 40 + 8 + 16);
  p[0] = 0x45;
  p[9] = 41;
  p[20] = 0x60;
  p[26] = 17; // UDP
  p.set(parseIpv6(A_STF), 28);
  p.set(parseIpv6(B_STF), 44);
  p[60] = sourcePort >> 8;
  p[61] = sourcePort & 0xff;
  p[62] = destinationPort >> 8;
  p[63] = destinationPort & 0xff;
  return p;
}

interface Status {
  readonly forwarder: {
    readonly counters: { readonly ingress: { readonly packets: number } };
    readonly queues: readonly { readonly egress: number; readonly ingress: number }[];
  };
}

labTest(
  "stf run --queues 2 forwards every packet once, each flow through the queue its filter names",
  async () => {
    await using sites = await buildTwoSites();
    const sockets = { a: `${sites.dir}/a.sock`, b: `${sites.dir}/b.sock` };
    const [a, b] = await startBoth(sites, {
      a: ["--queues", "2", "--control-socket", sockets.a],
      b: ["--queues", "2", "--control-socket", sockets.b],
    });
    try {
      // The kernel sees two queues on each stf0.
      for (const ns of [sites.a, sites.b]) {
        const queues = (await ns.run`ls /sys/class/net/stf0/queues`.text()).split(/\s+/);
        assert.ok(queues.includes("tx-0") && queues.includes("tx-1"), `queues: ${queues}`);
      }
      // FLOWS UDP flows (one source port each) of PER_FLOW datagrams, from A to B's address.
      const send = `
import socket, time
for i in range(${FLOWS}):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("${A_STF}", ${FIRST_PORT} + i))
    for k in range(${PER_FLOW}):
        s.sendto(b"x" * 100, ("${B_STF}", 9))
        if k % 10 == 9:
            time.sleep(0.002)  # paced: a burst beyond the TUN's queue would be dropped there
    s.close()
`;
      await sites.a.run`/usr/bin/python3 -c ${send}`;
      await sleep(1000);
      const status = async (ns: typeof sites.a, socket: string) =>
        JSON.parse(
          await ns.run`${stfArgv("status", "--json", "--control-socket", socket)}`.text(),
        ) as Status;
      const sb = await status(sites.b, sockets.b);
      const expected = [0, 0];
      for (let i = 0; i < FLOWS; i++) {
        expected[queueOfPacket(outerPacket(FIRST_PORT + i, 9), 2)] += PER_FLOW;
      }
      assert.equal(sb.forwarder.counters.ingress.packets, FLOWS * PER_FLOW, "each packet once");
      assert.deepEqual(
        sb.forwarder.queues.map((q) => q.ingress),
        expected,
        "B's ingress per queue, as the filter programs say",
      );
      assert.ok(expected[0] > 0 && expected[1] > 0, "the flows use both queues");
      // A's egress: the kernel spread the flows over the two TUN queues (by flow hash).
      const sa = await status(sites.a, sockets.a);
      const egress = sa.forwarder.queues.map((q) => q.egress);
      assert.ok(egress.every((n) => n > 0), `A's egress per queue: ${egress}`);
      assert.ok(
        egress.reduce((x, y) => x + y) >= FLOWS * PER_FLOW,
        `A's egress per queue: ${egress}`,
      );
      // Both still stop cleanly with their final counters.
      const finalB = await b.finish();
      assert.equal(finalB.ingress.packets, FLOWS * PER_FLOW);
      await a.finish();
    } finally {
      await a.stop("SIGKILL", 2_000);
      await b.stop("SIGKILL", 2_000);
    }
  },
);

labTest(
  "stf run --queues 2 refuses a single-queue TUN made by an older stf, saying what to do",
  async () => {
    await using sites = await buildTwoSites();
    // What an stf without multi-queue devices left: a persistent single-queue TUN, marked.
    await sites.a.run`ip tuntap add dev stf0 mode tun`;
    await sites.a.run`ip link set stf0 alias ${"stf 6to4 198.51.100.1"}`;
    const r = await sites.a.run`${stfArgv("run", "--ipv4", "198.51.100.1", "--queues", "2")}`
      .noThrow().stderr("piped").stdout("piped");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /single-queue TUN device/);
    assert.match(r.stderr, /stf down/);
    // Untouched: still there, still single-queue.
    const flags = parseInt(await sites.a.run`cat /sys/class/net/stf0/tun_flags`.text(), 16);
    assert.equal(flags & 0x0100, 0);
  },
);
