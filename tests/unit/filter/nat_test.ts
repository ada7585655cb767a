/**
 * Behind a 1:1 NAT (`bind-ipv4`): own4 is the public address in the 6to4 prefix, the bind
 * address is what the host really has. Outer source sent = bind; a packet the NAT delivers to
 * the bind address is treated as sent to own4 (RFC 3056 §3, RFC 3964 §5.2).
 */
import assert from "node:assert/strict";
import { EgressResult, readIpv4 } from "../../../mod.ts";
import { ipv6Packet } from "../packet/_build.ts";
import { encapsulate, ingress, policyWith } from "./_policy.ts";

const NAT = { ipv4: "9.0.0.2", bindIpv4: "192.0.2.10", localIpv4: ["192.0.2.10"] };

Deno.test("behind a NAT, encapsulated packets leave from the bind address", () => {
  const policy = policyWith(NAT);
  const buf = ipv6Packet("2002:900:2::1", "2002:800:1::1", { headroom: 20 });
  const result = new EgressResult();
  assert.equal(policy.egress(buf, 20, buf.length - 20, result), 0);
  encapsulate(policy, buf, 20, result);
  assert.equal(readIpv4(buf, 12), 0xc000020a, "outer source 192.0.2.10");
  assert.equal(readIpv4(buf, 16), 0x08000001, "outer destination 8.0.0.1");
});

Deno.test("behind a NAT, a packet to the bind address for own6to4 is forwarded", () => {
  const policy = policyWith(NAT);
  assert.equal(
    ingress(policy, ["8.0.0.1", "192.0.2.10"], ["2002:800:1::1", "2002:900:2::1"]),
    "forwarded",
  );
  // The same packet addressed to own4 (no NAT in between) is ours too.
  assert.equal(
    ingress(policy, ["8.0.0.1", "9.0.0.2"], ["2002:800:1::1", "2002:900:2::1"]),
    "forwarded",
  );
});

Deno.test("behind a NAT, the inner destination must still embed own4, not the bind address", () => {
  const policy = policyWith({ ...NAT, allowNonGlobal: true });
  assert.equal(
    ingress(policy, ["8.0.0.1", "192.0.2.10"], ["2002:800:1::1", "2002:c000:20a::1"]),
    "inner-dst-mismatch",
  );
  assert.equal(
    ingress(policy, ["8.0.0.1", "192.0.2.11"], ["2002:800:1::1", "2002:900:2::1"]),
    "outer-dst-not-own",
  );
});

Deno.test("without a NAT, a packet to another local address is not ours", () => {
  const policy = policyWith({ ipv4: "9.0.0.2", localIpv4: ["192.0.2.10"] });
  assert.equal(
    ingress(policy, ["8.0.0.1", "192.0.2.10"], ["2002:800:1::1", "2002:900:2::1"]),
    "outer-dst-not-own",
  );
});
