import assert from "node:assert/strict";
import { parseAddressMessages } from "../../../lib/netif/address_events.ts";
import { formatIpv4, parseIpv4 } from "../../../lib/addr/mod.ts";
import {
  AF_INET,
  AF_INET6,
  IFA_ADDRESS,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  NLMSG_DONE,
  NLMSG_OVERRUN,
  RTM_DELADDR,
  RTM_NEWADDR,
} from "../../../ffi/mod.ts";

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
}

// Captured from an rtnetlink socket bound to RTMGRP_IPV4_IFADDR in a network namespace, for
// `ip addr add 198.51.100.7/24 brd + dev va` and `ip addr del 198.51.100.7/24 dev va` (ifindex
// 3); `ip -j addr show dev va` printed local 198.51.100.7, prefixlen 24, broadcast
// 198.51.100.255, scope global, label va.
const CAPTURED_NEW = hex(
  "5400000014000000c821116b14200000021880000300000008000100c633640708000200c6336407" +
    "08000400c63364ff0700030076610000080008008000000014000600ffffffffffffffff9a1d0100" +
    "9a1d0100",
);
const CAPTURED_DEL = hex(
  "5400000015000000c821116b17200000021880000300000008000100c633640708000200c6336407" +
    "08000400c63364ff0700030076610000080008008000000014000600ffffffffffffffff9a1d0100" +
    "9a1d0100",
);

/** Builds one netlink message: header, ifaddrmsg, attributes (each padded to 4 bytes). */
function message(
  type: number,
  body: { family?: number; prefixLength?: number; flags?: number; scope?: number; index?: number },
  attributes: [number, Uint8Array][],
): Uint8Array {
  const parts: number[] = [];
  const ifa = [body.family ?? AF_INET, body.prefixLength ?? 24, body.flags ?? 0, body.scope ?? 0];
  const index = body.index ?? 2;
  ifa.push(index & 255, (index >> 8) & 255, (index >> 16) & 255, index >>> 24);
  parts.push(...ifa);
  for (const [kind, value] of attributes) {
    const length = 4 + value.length;
    parts.push(length & 255, length >> 8, kind & 255, kind >> 8, ...value);
    while (parts.length % 4 !== 0) parts.push(0);
  }
  const total = 16 + parts.length;
  const header = [total & 255, (total >> 8) & 255, 0, 0, type & 255, type >> 8, 0, 0];
  header.push(...new Array(8).fill(0));
  return Uint8Array.from([...header, ...parts]);
}

function ipv4Bytes(text: string): Uint8Array {
  const a = parseIpv4(text);
  return Uint8Array.of(a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255);
}

function concat(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("a captured RTM_NEWADDR gives the address, length, broadcast, scope and label that ip printed", () => {
  const parsed = parseAddressMessages(CAPTURED_NEW);
  assert.equal(parsed.events.length, 1);
  const e = parsed.events[0];
  assert.equal(e.kind, "added");
  assert.equal(formatIpv4(e.address), "198.51.100.7");
  assert.equal(e.prefixLength, 24);
  assert.equal(formatIpv4(e.broadcast!), "198.51.100.255");
  assert.equal(e.scope, 0);
  assert.equal(e.label, "va");
  assert.equal(e.ifindex, 3);
  assert.equal(e.flags, 0x80, "IFA_F_PERMANENT, from IFA_FLAGS");
  assert.equal(parsed.lost, false);
  assert.equal(parsed.truncated, false);
});

Deno.test("a captured RTM_DELADDR is a removal of the same address", () => {
  const [e] = parseAddressMessages(CAPTURED_DEL).events;
  assert.equal(e.kind, "removed");
  assert.equal(formatIpv4(e.address), "198.51.100.7");
});

Deno.test("several messages in one datagram are all read, in order", () => {
  const bytes = concat(
    message(RTM_DELADDR, {}, [[IFA_LOCAL, ipv4Bytes("192.0.2.1")]]),
    message(RTM_NEWADDR, { prefixLength: 32 }, [[IFA_LOCAL, ipv4Bytes("192.0.2.2")]]),
  );
  const parsed = parseAddressMessages(bytes);
  assert.deepEqual(
    parsed.events.map((e) => [e.kind, formatIpv4(e.address), e.prefixLength]),
    [["removed", "192.0.2.1", 24], ["added", "192.0.2.2", 32]],
  );
});

Deno.test("IFA_LOCAL wins over IFA_ADDRESS, which on a point-to-point link is the peer", () => {
  const bytes = message(RTM_NEWADDR, {}, [
    [IFA_ADDRESS, ipv4Bytes("203.0.113.1")],
    [IFA_LOCAL, ipv4Bytes("203.0.113.2")],
  ]);
  assert.equal(formatIpv4(parseAddressMessages(bytes).events[0].address), "203.0.113.2");
  const addressOnly = message(RTM_NEWADDR, {}, [[IFA_ADDRESS, ipv4Bytes("203.0.113.9")]]);
  assert.equal(formatIpv4(parseAddressMessages(addressOnly).events[0].address), "203.0.113.9");
});

Deno.test("a label of odd length is padded and read without its NUL; IFA_FLAGS overrides ifa_flags", () => {
  const bytes = message(RTM_NEWADDR, { flags: 0x01 }, [
    [IFA_LABEL, new TextEncoder().encode("eth0:1\0")],
    [IFA_LOCAL, ipv4Bytes("198.51.100.1")],
    [IFA_FLAGS, Uint8Array.of(0x00, 0x02, 0x00, 0x00)],
  ]);
  const [e] = parseAddressMessages(bytes).events;
  assert.equal(e.label, "eth0:1");
  assert.equal(e.flags, 0x200);
  assert.equal(formatIpv4(e.address), "198.51.100.1");
});

Deno.test("IPv6 address messages and other types are skipped, NLMSG_DONE ends the datagram", () => {
  const bytes = concat(
    message(RTM_NEWADDR, { family: AF_INET6 }, [[IFA_ADDRESS, new Uint8Array(16)]]),
    message(16, /* RTM_NEWLINK */ {}, []),
    message(NLMSG_DONE, {}, []),
    message(RTM_NEWADDR, {}, [[IFA_LOCAL, ipv4Bytes("192.0.2.1")]]),
  );
  const parsed = parseAddressMessages(bytes);
  assert.equal(parsed.events.length, 0);
  assert.equal(parsed.skipped, 2);
});

Deno.test("NLMSG_OVERRUN is reported as lost messages", () => {
  const parsed = parseAddressMessages(message(NLMSG_OVERRUN, {}, []));
  assert.equal(parsed.lost, true);
});

Deno.test("a datagram cut short keeps the whole messages before the cut and reports it", () => {
  const whole = message(RTM_NEWADDR, {}, [[IFA_LOCAL, ipv4Bytes("192.0.2.1")]]);
  const bytes = concat(whole, whole);
  const parsed = parseAddressMessages(bytes, bytes.length - 3);
  assert.equal(parsed.events.length, 1);
  assert.equal(parsed.truncated, true);
  // An attribute longer than its message, and a message length below the header's.
  const badAttribute = message(RTM_NEWADDR, {}, [[IFA_LOCAL, ipv4Bytes("192.0.2.1")]]);
  badAttribute[24] = 0xff;
  assert.deepEqual(parseAddressMessages(badAttribute).events, []);
  assert.equal(parseAddressMessages(badAttribute).truncated, true);
  const tiny = Uint8Array.from(whole);
  tiny[0] = 8;
  assert.equal(parseAddressMessages(tiny).truncated, true);
});

Deno.test("an address message without an address attribute is inconsistent", () => {
  const parsed = parseAddressMessages(message(RTM_NEWADDR, {}, []));
  assert.deepEqual(parsed.events, []);
  assert.equal(parsed.truncated, true);
});

Deno.test("any bytes parse without throwing", () => {
  for (let n = 0; n < 2000; n++) {
    const bytes = new Uint8Array(Math.floor(Math.random() * 120));
    crypto.getRandomValues(bytes);
    if (bytes.length >= 8 && n % 2 === 0) {
      // Plausible headers more often: a length within the datagram, an address type.
      bytes[0] = bytes.length;
      bytes[1] = bytes[2] = bytes[3] = 0;
      bytes[4] = RTM_NEWADDR;
      bytes[5] = 0;
    }
    parseAddressMessages(bytes);
  }
});
