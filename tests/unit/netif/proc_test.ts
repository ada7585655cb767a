import assert from "node:assert/strict";
import { formatIpv6, formatIpv6Prefix } from "../../../lib/addr/mod.ts";
import { parseIfInet6 } from "../../../lib/netif/address.ts";
import { isStfAlias } from "../../../lib/netif/marker.ts";
import { parseIpv6RouteTable } from "../../../lib/netif/route.ts";

// Lines as the kernel prints them (captured from a namespace after `stf up --relay … --default-route`).
const IF_INET6 = `2002c633640a00000000000000000001 04 10 00 80     stf0
fe80000000000000d8a94c8c2d3e4a1b 04 40 20 80     stf0
00000000000000000000000000000001 01 80 10 80       lo
`;

const IPV6_ROUTE =
  `20020000000000000000000000000000 10 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     stf0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001     stf0
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     stf0
2002c633640a00000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001     stf0
`;

Deno.test("parseIfInet6() reads address, index, prefix length, scope and name", () => {
  const rows = parseIfInet6(IF_INET6);
  assert.equal(rows.length, 3);
  assert.equal(formatIpv6(rows[0].address), "2002:c633:640a::1");
  assert.deepEqual(
    [rows[0].ifindex, rows[0].prefixLength, rows[0].scope, rows[0].flags, rows[0].name],
    [4, 16, 0, 0x80, "stf0"],
  );
  assert.equal(rows[1].scope, 0x20);
  assert.equal(rows[2].name, "lo");
});

Deno.test("parseIpv6RouteTable() reads destination, metric, flags and device", () => {
  const rows = parseIpv6RouteTable(IPV6_ROUTE);
  assert.deepEqual(
    rows.map((r) => [formatIpv6Prefix(r.destination), r.metric, r.flags, r.device]),
    [
      ["2002::/16", 256, 1, "stf0"],
      ["::/0", 1024, 1, "stf0"],
      ["ff00::/8", 256, 1, "stf0"],
      ["2002:c633:640a::1/128", 0, 0x80200001, "stf0"],
    ],
  );
});

Deno.test("isStfAlias() accepts stf and stf followed by a space only", () => {
  assert.ok(isStfAlias("stf"));
  assert.ok(isStfAlias("stf 6to4 198.51.100.10"));
  assert.ok(!isStfAlias("stfx"));
  assert.ok(!isStfAlias(""));
  assert.ok(!isStfAlias("wireguard"));
});
