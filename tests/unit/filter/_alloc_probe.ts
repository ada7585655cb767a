/**
 * Runs the per-packet paths (egress, encapsulate, ingress with ECN rewriting, Packet Too Big,
 * frag-needed parsing, path MTU lookups) a million times after a warm-up, printing "probe
 * done". Run under `--v8-flags=--trace-gc` by `allocation_test.ts`: any garbage collection
 * during the measured loop means something allocates per packet.
 *
 * @module
 */
import { parseIpv6 } from "../../../lib/addr/mod.ts";
import { compilePolicy, EgressResult, IngressResult } from "../../../lib/filter/mod.ts";
import { outerHeaderOf } from "../../../lib/dataplane/egress.ts";
import {
  applyDecapsulationEcn,
  encapsulateInPlace,
  EncapsulationState,
  ipv4Ecn,
  parseTunnelError,
  PathMtuTable,
  TunnelError,
  writePacketTooBig,
} from "../../../lib/packet/mod.ts";
import { ipv4Wrap, ipv6Packet } from "../packet/_build.ts";

const table = new PathMtuTable();
table.update(0x08000001, 1400, 0);
const policy = compilePolicy({
  mode: "router",
  ipv4: "9.0.0.2",
  localIpv4: ["9.0.0.3"],
  localBroadcasts: ["9.0.0.255"],
  relay: "192.88.99.1",
  sitePrefixes: ["2001:db8:5::/48"],
  allowPeers: ["8.0.0.0/8"],
  allowRelays: ["192.88.99.0/24"],
  strictBogons: true,
  mtu: 1480,
  ttl: 64,
  dscp: "copy",
  sixRd: { prefix: "2001:db8::/32", ipv4MaskLength: 8, ipv4CommonPrefix: "9.0.0.0" },
});
const outer = outerHeaderOf(policy, new EncapsulationState());
const toPeer = ipv6Packet("2002:900:2::1", "2002:800:1::1", {
  headroom: 20,
  payload: new Uint8Array(1000),
});
const to6rd = ipv6Packet("2001:db8:0:200::1", "2001:db8:5:600::1", {
  headroom: 20,
  payload: new Uint8Array(1000),
});
const tooBig = ipv6Packet("2002:900:2::1", "2002:800:1::1", {
  headroom: 20,
  payload: new Uint8Array(1400),
});
const inbound = ipv4Wrap(
  "8.0.0.1",
  "9.0.0.2",
  ipv6Packet("2002:800:1::1", "2002:900:2::1", { payload: new Uint8Array(1000), trafficClass: 2 }),
  { tos: 3 },
);
const icmp = new Uint8Array(8 + 68);
icmp[0] = 3;
icmp[1] = 4;
icmp[6] = 1400 >> 8;
icmp[7] = 1400 & 255;
icmp.set(ipv4Wrap("9.0.0.2", "8.0.0.1", toPeer.subarray(20)).subarray(0, 68), 8);
const fragNeeded = ipv4Wrap("198.51.100.254", "9.0.0.2", icmp, { protocol: 1 });
const e = new EgressResult();
const i = new IngressResult();
const t = new TunnelError();
const out = new Uint8Array(1280);
const ptb = { mtu: 1280, source: parseIpv6("2002:900:2::1") };

function loop(n: number): number {
  let s = 0;
  for (let k = 0; k < n; k++) {
    e.now = k;
    s += policy.egress(toPeer, 20, toPeer.length - 20, e, table);
    outer.destination = e.outerDst;
    s += encapsulateInPlace(toPeer, 20, e.innerLength, outer);
    s += policy.egress(to6rd, 20, to6rd.length - 20, e, table);
    s += policy.egress(tooBig, 20, tooBig.length - 20, e, table);
    ptb.mtu = e.mtu;
    s += writePacketTooBig(out, 0, tooBig, 20, tooBig.length - 20, ptb);
    inbound[21] = (inbound[21] & 0xcf) | 0x20; // back to ECT(0) for the next round
    s += policy.ingress(inbound, 0, inbound.length, i);
    applyDecapsulationEcn(ipv4Ecn(inbound, 0), inbound, i.innerOffset);
    s += parseTunnelError(fragNeeded, 0, fragNeeded.length, 0x09000002, t) ? 1 : 0;
    s += table.get(0x08000001 + (k & 7), k);
  }
  return s;
}

loop(100_000);
console.log("probe start");
const s = loop(1_000_000);
console.log(`probe done ${s}`);
