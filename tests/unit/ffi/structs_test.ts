import assert from "node:assert/strict";
import {
  AF_INET,
  encodeIfreq,
  encodeIn6Ifreq,
  encodeIn6Rtmsg,
  IFREQ,
  IN6_IFREQ,
  IN6_RTMSG,
  IOVEC,
  MMSGHDR,
  MSGHDR,
  POLLFD,
  RTF_UP,
  SIOCADDRT,
  SIOCDELRT,
  SIOCDIFADDR,
  SIOCGIFFLAGS,
  SIOCGIFINDEX,
  SIOCGIFMTU,
  SIOCSIFADDR,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  SOCKADDR_IN,
  SOCKADDR_IN6,
  TUNGETIFF,
  TUNSETIFF,
  TUNSETOWNER,
  TUNSETPERSIST,
  VIRTIO_NET_HDR,
  writeSockaddrIn,
} from "../../../ffi/mod.ts";
import {
  encodeSockaddrNl,
  IFA_ADDRESS,
  IFA_LOCAL,
  IFADDRMSG,
  NETLINK_ROUTE,
  NLMSGHDR,
  RTATTR,
  RTM_DELADDR,
  RTM_NEWADDR,
  RTMGRP_IPV4_IFADDR,
  SOCKADDR_NL,
} from "../../../ffi/mod.ts";

// The numbers below were printed by a C program (sizeof/offsetof) compiled with gcc 12 on
// x86_64 against glibc 2.36 and the Linux UAPI headers; LP64 aarch64 has the same layouts.

Deno.test("struct ifreq is 40 bytes with the union at offset 16", () => {
  assert.equal(IFREQ.SIZE, 40);
  assert.equal(IFREQ.NAME, 0);
  assert.equal(IFREQ.FLAGS, 16);
  assert.equal(IFREQ.MTU, 16);
  assert.equal(IFREQ.IFINDEX, 16);
});

Deno.test("struct in6_ifreq is 24 bytes: address, prefixlen at 16, ifindex at 20", () => {
  assert.equal(IN6_IFREQ.SIZE, 24);
  assert.equal(IN6_IFREQ.ADDR, 0);
  assert.equal(IN6_IFREQ.PREFIXLEN, 16);
  assert.equal(IN6_IFREQ.IFINDEX, 20);
});

Deno.test("struct in6_rtmsg is 80 bytes with rtmsg_info aligned at 64", () => {
  assert.deepEqual(
    { ...IN6_RTMSG },
    {
      SIZE: 80,
      DST: 0,
      SRC: 16,
      GATEWAY: 32,
      TYPE: 48,
      DST_LEN: 52,
      SRC_LEN: 54,
      METRIC: 56,
      INFO: 64,
      FLAGS: 72,
      IFINDEX: 76,
    },
  );
});

Deno.test("struct sockaddr_in is 16 bytes and sockaddr_in6 28", () => {
  assert.equal(SOCKADDR_IN.SIZE, 16);
  assert.equal(SOCKADDR_IN.PORT, 2);
  assert.equal(SOCKADDR_IN.ADDR, 4);
  assert.equal(SOCKADDR_IN6.SIZE, 28);
});

Deno.test("struct iovec is 16, msghdr 56 and mmsghdr 64 bytes", () => {
  assert.equal(IOVEC.SIZE, 16);
  assert.equal(IOVEC.LEN, 8);
  assert.deepEqual(
    { ...MSGHDR },
    { SIZE: 56, NAME: 0, NAMELEN: 8, IOV: 16, IOVLEN: 24, CONTROL: 32, CONTROLLEN: 40, FLAGS: 48 },
  );
  assert.equal(MMSGHDR.SIZE, 64);
  assert.equal(MMSGHDR.LEN, 56);
});

Deno.test("struct pollfd is 8 bytes and virtio_net_hdr 10", () => {
  assert.deepEqual({ ...POLLFD }, { SIZE: 8, FD: 0, EVENTS: 4, REVENTS: 6 });
  assert.equal(VIRTIO_NET_HDR.SIZE, 10);
});

Deno.test("ioctl request numbers match <linux/if_tun.h> and <linux/sockios.h>", () => {
  assert.equal(TUNSETIFF, 1074025674);
  assert.equal(TUNSETPERSIST, 1074025675);
  assert.equal(TUNSETOWNER, 1074025676);
  assert.equal(TUNGETIFF, 2147767506);
  assert.deepEqual(
    [
      SIOCGIFFLAGS,
      SIOCSIFFLAGS,
      SIOCGIFMTU,
      SIOCSIFMTU,
      SIOCGIFINDEX,
      SIOCSIFADDR,
      SIOCDIFADDR,
      SIOCADDRT,
      SIOCDELRT,
    ],
    [35091, 35092, 35105, 35106, 35123, 35094, 35126, 35083, 35084],
  );
});

Deno.test("encodeIfreq() writes the name NUL-padded into 40 bytes", () => {
  const ifreq = encodeIfreq("stf0");
  assert.equal(ifreq.length, 40);
  assert.deepEqual([...ifreq.subarray(0, 5)], [0x73, 0x74, 0x66, 0x30, 0]);
  assert.ok(ifreq.subarray(4).every((b) => b === 0));
});

Deno.test("encodeIfreq() refuses a name of 16 bytes and an empty name", () => {
  assert.throws(() => encodeIfreq("a".repeat(16)), RangeError);
  assert.throws(() => encodeIfreq(""), RangeError);
  assert.equal(encodeIfreq("a".repeat(15)).length, 40);
});

Deno.test("encodeIn6Ifreq() lays out 2002:c633:640a::1/16 on ifindex 7", () => {
  const address = new Uint8Array(16);
  address.set([0x20, 0x02, 0xc6, 0x33, 0x64, 0x0a]);
  address[15] = 1;
  const bytes = encodeIn6Ifreq(address, { prefixLength: 16, ifindex: 7 });
  assert.deepEqual([...bytes.subarray(0, 16)], [...address]);
  assert.deepEqual([...bytes.subarray(16)], [16, 0, 0, 0, 7, 0, 0, 0]);
});

Deno.test("encodeIn6Rtmsg() lays out ::/0 via ifindex 3 with metric 1024 and RTF_UP", () => {
  const bytes = encodeIn6Rtmsg({
    destination: new Uint8Array(16),
    destinationLength: 0,
    metric: 1024,
    flags: RTF_UP,
    ifindex: 3,
  });
  assert.equal(bytes.length, 80);
  assert.deepEqual([...bytes.subarray(52, 54)], [0, 0]);
  assert.deepEqual([...bytes.subarray(56, 60)], [0x00, 0x04, 0, 0]);
  assert.deepEqual([...bytes.subarray(72, 80)], [1, 0, 0, 0, 3, 0, 0, 0]);
});

Deno.test("writeSockaddrIn() puts family in host order and address in network order", () => {
  const bytes = writeSockaddrIn(0xc0000263); // 192.0.2.99
  assert.deepEqual([...bytes], [AF_INET, 0, 0, 0, 192, 0, 2, 99, 0, 0, 0, 0, 0, 0, 0, 0]);
});

// An independent oracle where gcc is installed: compile the C headers' own sizeof/offsetof.
const gcc = (() => {
  try {
    return new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "the layouts equal sizeof/offsetof computed by gcc from the C headers",
  ignore: !gcc || Deno.build.os !== "linux",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "stf_structs_" });
    try {
      const source = `#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <poll.h>
#include <linux/virtio_net.h>
struct in6_ifreq { struct in6_addr ifr6_addr; unsigned int ifr6_prefixlen; int ifr6_ifindex; };
int main(void) {
  printf("%zu %zu %zu %zu\\n", sizeof(struct ifreq), offsetof(struct ifreq, ifr_flags),
         offsetof(struct ifreq, ifr_mtu), offsetof(struct ifreq, ifr_ifindex));
  printf("%zu %zu %zu\\n", sizeof(struct in6_ifreq), offsetof(struct in6_ifreq, ifr6_prefixlen),
         offsetof(struct in6_ifreq, ifr6_ifindex));
  printf("%zu %zu %zu %zu %zu %zu %zu %zu\\n", sizeof(struct in6_rtmsg),
         offsetof(struct in6_rtmsg, rtmsg_gateway), offsetof(struct in6_rtmsg, rtmsg_dst_len),
         offsetof(struct in6_rtmsg, rtmsg_metric), offsetof(struct in6_rtmsg, rtmsg_info),
         offsetof(struct in6_rtmsg, rtmsg_flags), offsetof(struct in6_rtmsg, rtmsg_ifindex),
         offsetof(struct in6_rtmsg, rtmsg_type));
  printf("%zu %zu %zu %zu %zu %zu\\n", sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6),
         sizeof(struct iovec), sizeof(struct msghdr), sizeof(struct mmsghdr),
         offsetof(struct mmsghdr, msg_len));
  printf("%zu %zu\\n", sizeof(struct pollfd), sizeof(struct virtio_net_hdr));
  return 0;
}
`;
      await Deno.writeTextFile(`${dir}/s.c`, source);
      const cc = await new Deno.Command("gcc", { args: ["-o", `${dir}/s`, `${dir}/s.c`] })
        .output();
      assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
      const out = await new Deno.Command(`${dir}/s`).output();
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n")
        .map((l) => l.split(" ").map(Number));
      assert.deepEqual(lines, [
        [IFREQ.SIZE, IFREQ.FLAGS, IFREQ.MTU, IFREQ.IFINDEX],
        [IN6_IFREQ.SIZE, IN6_IFREQ.PREFIXLEN, IN6_IFREQ.IFINDEX],
        [
          IN6_RTMSG.SIZE,
          IN6_RTMSG.GATEWAY,
          IN6_RTMSG.DST_LEN,
          IN6_RTMSG.METRIC,
          IN6_RTMSG.INFO,
          IN6_RTMSG.FLAGS,
          IN6_RTMSG.IFINDEX,
          IN6_RTMSG.TYPE,
        ],
        [SOCKADDR_IN.SIZE, SOCKADDR_IN6.SIZE, IOVEC.SIZE, MSGHDR.SIZE, MMSGHDR.SIZE, MMSGHDR.LEN],
        [POLLFD.SIZE, VIRTIO_NET_HDR.SIZE],
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// rtnetlink (printed by gcc 12 against the UAPI headers <linux/netlink.h>, <linux/rtnetlink.h>,
// <linux/if_addr.h>: sockaddr_nl 12, nlmsghdr 16, ifaddrmsg 8, rtattr 4).
Deno.test("struct sockaddr_nl is 12 bytes: family, pad, pid at 4, groups at 8", () => {
  assert.deepEqual({ ...SOCKADDR_NL }, { SIZE: 12, FAMILY: 0, PID: 4, GROUPS: 8 });
  const bytes = encodeSockaddrNl(RTMGRP_IPV4_IFADDR);
  assert.deepEqual([...bytes], [16, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]);
});

Deno.test("struct nlmsghdr, ifaddrmsg and rtattr have the kernel's offsets", () => {
  assert.deepEqual({ ...NLMSGHDR }, { SIZE: 16, LEN: 0, TYPE: 4, FLAGS: 6, SEQ: 8, PID: 12 });
  assert.deepEqual({ ...IFADDRMSG }, {
    SIZE: 8,
    FAMILY: 0,
    PREFIXLEN: 1,
    FLAGS: 2,
    SCOPE: 3,
    INDEX: 4,
  });
  assert.deepEqual({ ...RTATTR }, { SIZE: 4, LEN: 0, TYPE: 2 });
  assert.deepEqual(
    [NETLINK_ROUTE, RTMGRP_IPV4_IFADDR, RTM_NEWADDR, RTM_DELADDR, IFA_ADDRESS, IFA_LOCAL],
    [0, 16, 20, 21, 1, 2],
  );
});
