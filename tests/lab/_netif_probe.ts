/**
 * Exercises the pieces of `lib/netif` that `stf run` uses, inside a namespace, and prints
 * what it saw as JSON (for netif_test.ts).
 *
 * @module
 */
import { check, IP_HDRINCL, IPPROTO_IP, openLibc } from "../../ffi/mod.ts";
import {
  applyInterfacePlan,
  createOrAttachTun,
  ipv4AddressesOfHost,
  openRawLink,
  planInterface,
  readInterfaceState,
} from "../../lib/netif/mod.ts";

function exists(name: string): boolean {
  return readInterfaceState(name) !== undefined;
}

const mode = Deno.args[0];
const report: Record<string, unknown> = {};
if (mode === "run") {
  // As `stf run` without `stf up`: a TUN that lives as long as the fd, configured by the plan.
  const plan = planInterface({
    ipv4: "198.51.100.10",
    name: "stfr0",
    mtu: 1400,
    subnet: 0,
    interfaceId: "::1",
    relay: "192.0.2.99",
    defaultRoute: true,
    routes: [],
    allowNonGlobal: false,
  }, { ipv4Addresses: ipv4AddressesOfHost() });
  {
    using tun = createOrAttachTun("stfr0", { persist: false });
    report.fd = tun.fd;
    report.created = tun.created;
    const result = applyInterfacePlan(plan, { tun });
    report.changes = result.changes.map((c) => c.kind);
    report.state = {
      mtu: result.state?.mtu,
      up: result.state?.up,
      routes: result.state?.routes.length,
    };
    report.existsWhileOpen = exists("stfr0");
    try {
      createOrAttachTun("stfr0");
      report.secondAttach = "ok";
    } catch (e) {
      report.secondAttach = (e as Error).message;
    }
  }
  report.existsAfterClose = exists("stfr0");
} else if (mode === "raw") {
  using link = openRawLink();
  const value = new Uint8Array(4);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, 4, true);
  check(
    openLibc().symbols.getsockopt(link.fd, IPPROTO_IP, IP_HDRINCL, value, length),
    "getsockopt",
    "read IP_HDRINCL",
  );
  report.fd = link.fd;
  report.hdrincl = new DataView(value.buffer).getInt32(0, true);
  report.procNetRaw = Deno.readTextFileSync("/proc/net/raw").split("\n")
    .filter((l) => / 00000000:0029 /.test(l)).length;
}
console.log(JSON.stringify(report));
