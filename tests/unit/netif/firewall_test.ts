import assert from "node:assert/strict";
import { iptablesProtocol41Drops, nftablesProtocol41Drops } from "../../../lib/netif/firewall.ts";

/** What `nft -j list ruleset` printed (nftables 1.0.6) for a few protocol-41 rules. */
const RULESET = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6", json_schema_version: 1 } },
    { table: { family: "inet", name: "f", handle: 1 } },
    {
      chain: {
        family: "inet",
        table: "f",
        name: "in",
        type: "filter",
        hook: "input",
        prio: 0,
        policy: "accept",
      },
    },
    {
      rule: {
        family: "inet",
        table: "f",
        chain: "in",
        expr: [
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "protocol" } },
              right: "ipv6",
            },
          },
          { drop: null },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "f",
        chain: "in",
        expr: [
          { match: { op: "==", left: { meta: { key: "l4proto" } }, right: 41 } },
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "saddr" } },
              right: "192.0.2.9",
            },
          },
          { counter: { packets: 0, bytes: 0 } },
          { reject: { type: "icmpx", expr: "port-unreachable" } },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "f",
        chain: "in",
        expr: [
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "protocol" } },
              right: "tcp",
            },
          },
          { drop: null },
        ],
      },
    },
    {
      chain: {
        family: "ip",
        table: "g",
        name: "out",
        type: "filter",
        hook: "output",
        prio: 0,
        policy: "drop",
      },
    },
    {
      rule: {
        family: "ip",
        table: "g",
        chain: "out",
        expr: [
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "protocol" } },
              right: { set: ["tcp", "ipv6"] },
            },
          },
          { accept: null },
        ],
      },
    },
    {
      chain: {
        family: "ip6",
        table: "h",
        name: "in",
        type: "filter",
        hook: "input",
        prio: 0,
        policy: "drop",
      },
    },
  ],
});

Deno.test("nftables: a rule that drops all protocol 41 and one that rejects some are found", () => {
  const found = nftablesProtocol41Drops(RULESET);
  assert.deepEqual(found.map((f) => [f.where, f.all]), [
    ["inet f in", true],
    ["inet f in", false],
  ]);
  assert.match(found[0].rule, /"drop"/);
});

Deno.test("nftables: a policy drop on input or output counts unless a rule accepts protocol 41", () => {
  const noAccept = JSON.parse(RULESET);
  noAccept.nftables = noAccept.nftables.filter((i: Record<string, unknown>) =>
    !("rule" in i) || (i.rule as { chain: string }).chain !== "out"
  );
  const found = nftablesProtocol41Drops(JSON.stringify(noAccept));
  assert.ok(found.some((f) => f.where === "ip g out" && f.rule === "policy drop" && !f.all));
  // With the accept rule in place (RULESET), no policy finding; ip6 tables never matter.
  assert.ok(!nftablesProtocol41Drops(RULESET).some((f) => f.rule === "policy drop"));
});

Deno.test("nftables: an empty ruleset drops nothing, and non-JSON is a SyntaxError", () => {
  assert.deepEqual(nftablesProtocol41Drops('{"nftables":[{"metainfo":{}}]}'), []);
  assert.throws(() => nftablesProtocol41Drops("table inet f"), SyntaxError);
});

Deno.test("iptables-save: -p 41 / -p ipv6 with DROP or REJECT are found, narrowed ones as partial", () => {
  const text = [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    "-A PREROUTING -p 41 -j DROP",
    "COMMIT",
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT DROP [0:0]",
    "-A INPUT -p ipv6 -j DROP",
    "-A INPUT -s 192.0.2.9/32 -p 41 -j REJECT --reject-with icmp-host-prohibited",
    "-A INPUT ! -p 41 -j DROP",
    "-A INPUT -p tcp -j DROP",
    "COMMIT",
  ].join("\n");
  const found = iptablesProtocol41Drops(text);
  assert.deepEqual(found.map((f) => [f.where, f.all, f.rule]), [
    ["INPUT", true, "-A INPUT -p ipv6 -j DROP"],
    [
      "INPUT",
      false,
      "-A INPUT -s 192.0.2.9/32 -p 41 -j REJECT --reject-with icmp-host-prohibited",
    ],
    ["OUTPUT", false, "policy DROP"],
  ]);
});
