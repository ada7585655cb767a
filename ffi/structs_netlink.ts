/**
 * Byte layouts of the rtnetlink structs stf reads and writes to follow its IPv4 address
 * (`<linux/netlink.h>`, `<linux/rtnetlink.h>`, `<linux/if_addr.h>`): the socket address it
 * binds, the message header, the address message and its attributes. Same on x86_64 and
 * aarch64 Linux (fixed-size fields, no pointers); checked with `sizeof`/`offsetof` from gcc 12
 * against the kernel UAPI headers (`tests/unit/ffi/structs_test.ts`).
 *
 * Every field is in host order (little-endian on both), except the addresses inside
 * attributes, which are in network order.
 *
 * @module
 */
import { AF_NETLINK } from "./constants.ts";
import { view } from "./structs.ts";

/** `struct sockaddr_nl`: family, padding, port ID, multicast groups. */
export const SOCKADDR_NL = Object.freeze({
  SIZE: 12,
  /** `nl_family` (`sa_family_t`). */
  FAMILY: 0,
  /** `nl_pid` (`__u32`): 0 lets the kernel choose. */
  PID: 4,
  /** `nl_groups` (`__u32`): a bit mask of `RTMGRP_*`. */
  GROUPS: 8,
});

/** `struct nlmsghdr`: the header of every netlink message. */
export const NLMSGHDR = Object.freeze({
  SIZE: 16,
  /** `nlmsg_len` (`__u32`): the length including this header. */
  LEN: 0,
  /** `nlmsg_type` (`__u16`): `RTM_NEWADDR`, `NLMSG_DONE`, … */
  TYPE: 4,
  /** `nlmsg_flags` (`__u16`). */
  FLAGS: 6,
  /** `nlmsg_seq` (`__u32`). */
  SEQ: 8,
  /** `nlmsg_pid` (`__u32`). */
  PID: 12,
});

/** `struct ifaddrmsg`: the body of `RTM_NEWADDR`/`RTM_DELADDR`, before the attributes. */
export const IFADDRMSG = Object.freeze({
  SIZE: 8,
  /** `ifa_family` (`__u8`): `AF_INET` or `AF_INET6`. */
  FAMILY: 0,
  /** `ifa_prefixlen` (`__u8`). */
  PREFIXLEN: 1,
  /** `ifa_flags` (`__u8`): the low 8 bits of the flags (`IFA_FLAGS` has all 32). */
  FLAGS: 2,
  /** `ifa_scope` (`__u8`): 0 universe, 200 site, 253 link, 254 host. */
  SCOPE: 3,
  /** `ifa_index` (`__u32`): the interface index. */
  INDEX: 4,
});

/** `struct rtattr`: the header of one attribute; its value follows. */
export const RTATTR = Object.freeze({
  SIZE: 4,
  /** `rta_len` (`unsigned short`): the length including this header. */
  LEN: 0,
  /** `rta_type` (`unsigned short`): `IFA_ADDRESS`, `IFA_LOCAL`, … */
  TYPE: 2,
});

/**
 * Encodes the `struct sockaddr_nl` to bind a netlink socket to multicast groups.
 *
 * @param groups the `RTMGRP_*` bit mask
 */
export function encodeSockaddrNl(groups: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(SOCKADDR_NL.SIZE);
  const v = view(bytes);
  v.setUint16(SOCKADDR_NL.FAMILY, AF_NETLINK, true);
  v.setUint32(SOCKADDR_NL.PID, 0, true);
  v.setUint32(SOCKADDR_NL.GROUPS, groups >>> 0, true);
  return bytes;
}
