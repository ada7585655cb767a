/**
 * Linux constants for the calls stf makes: TUN ioctls, socket ioctls, flags and errno values.
 *
 * Every value was checked against the C headers with gcc on x86_64 (glibc 2.36, Linux UAPI
 * headers). They are the same on aarch64: both use the generic ioctl encoding
 * (`asm-generic/ioctl.h`) and the generic errno numbers (`asm-generic/errno.h`).
 *
 * @module
 */

// <linux/if_tun.h>

/** `TUNSETIFF`: create or attach to a TUN/TAP device (`_IOW('T', 202, int)`). */
export const TUNSETIFF = 0x400454ca;
/** `TUNSETPERSIST`: keep the device when the last fd closes (argument is a value). */
export const TUNSETPERSIST = 0x400454cb;
/** `TUNSETOWNER`: the uid allowed to attach without CAP_NET_ADMIN (argument is a value). */
export const TUNSETOWNER = 0x400454cc;
/** `TUNSETGROUP`: the gid allowed to attach without CAP_NET_ADMIN (argument is a value). */
export const TUNSETGROUP = 0x400454ce;
/** `TUNGETIFF`: read the name and flags of the attached device into an `ifreq`. */
export const TUNGETIFF = 0x800454d2;
/** `TUNSETOFFLOAD`: enable offloads (`TUN_F_*`, argument is a value). */
export const TUNSETOFFLOAD = 0x400454d0;
/** `TUNSETVNETHDRSZ`: the size of the virtio-net header in front of each packet. */
export const TUNSETVNETHDRSZ = 0x400454d8;

/** `IFF_TUN`: a layer-3 device (IP packets). */
export const IFF_TUN = 0x0001;
/** `IFF_TAP`: a layer-2 device (Ethernet frames). */
export const IFF_TAP = 0x0002;
/** `IFF_NO_PI`: no 4-byte packet information header in front of each packet. */
export const IFF_NO_PI = 0x1000;
/** `IFF_VNET_HDR`: a `virtio_net_hdr` in front of each packet (offloads). */
export const IFF_VNET_HDR = 0x4000;
/** `IFF_MULTI_QUEUE`: one queue per attached fd. */
export const IFF_MULTI_QUEUE = 0x0100;
/** `IFF_TUN_EXCL`: fail with EBUSY when the device already exists. */
export const IFF_TUN_EXCL = 0x8000;

/** `TUN_F_CSUM`: the reader accepts packets with partial checksums. */
export const TUN_F_CSUM = 0x01;
/** `TUN_F_TSO4`: the reader accepts TSO for IPv4. */
export const TUN_F_TSO4 = 0x02;
/** `TUN_F_TSO6`: the reader accepts TSO for IPv6. */
export const TUN_F_TSO6 = 0x04;
/** `TUN_F_USO4`: the reader accepts UDP segmentation offload for IPv4. */
export const TUN_F_USO4 = 0x20;
/** `TUN_F_USO6`: the reader accepts UDP segmentation offload for IPv6. */
export const TUN_F_USO6 = 0x40;

// <linux/sockios.h>

/** `SIOCADDRT`: add a route (`in6_rtmsg` on an AF_INET6 socket). */
export const SIOCADDRT = 0x890b;
/** `SIOCDELRT`: delete a route (`in6_rtmsg` on an AF_INET6 socket). */
export const SIOCDELRT = 0x890c;
/** `SIOCGIFFLAGS`: read interface flags (`ifreq.ifr_flags`). */
export const SIOCGIFFLAGS = 0x8913;
/** `SIOCSIFFLAGS`: set interface flags. */
export const SIOCSIFFLAGS = 0x8914;
/** `SIOCSIFADDR`: add an address (`in6_ifreq` on an AF_INET6 socket). */
export const SIOCSIFADDR = 0x8916;
/** `SIOCGSTAMP` (`SIOCGSTAMP_OLD`): the receive time of the last packet read, a `struct timeval`. */
export const SIOCGSTAMP = 0x8906;
/** `SIOCETHTOOL`: an ethtool command (`ifreq.ifr_data` points at its struct). */
export const SIOCETHTOOL = 0x8946;
/** `ETHTOOL_GSTRINGS`: the names of a string set (`struct ethtool_gstrings`). */
export const ETHTOOL_GSTRINGS = 0x1b;
/** `ETHTOOL_GSSET_INFO`: the sizes of string sets (`struct ethtool_sset_info`). */
export const ETHTOOL_GSSET_INFO = 0x37;
/** `ETHTOOL_GFEATURES`: the device's features (`struct ethtool_gfeatures`). */
export const ETHTOOL_GFEATURES = 0x3a;
/** `ETH_SS_FEATURES`: the string set naming the feature bits. */
export const ETH_SS_FEATURES = 4;
/** `ETH_GSTRING_LEN`: bytes per name in a string set. */
export const ETH_GSTRING_LEN = 32;
/** `SIOCGIFMTU`: read the MTU (`ifreq.ifr_mtu`). */
export const SIOCGIFMTU = 0x8921;
/** `SIOCSIFMTU`: set the MTU. */
export const SIOCSIFMTU = 0x8922;
/** `SIOCSIFNAME`: rename an interface. */
export const SIOCSIFNAME = 0x8923;
/** `SIOCGIFINDEX`: read the interface index (`ifreq.ifr_ifindex`). */
export const SIOCGIFINDEX = 0x8933;
/** `SIOCDIFADDR`: delete an address (`in6_ifreq` on an AF_INET6 socket). */
export const SIOCDIFADDR = 0x8936;

// <net/if.h>

/** `IFF_UP`: administratively up. */
export const IFF_UP = 0x1;
/** `IFF_POINTOPOINT`: a point-to-point link. */
export const IFF_POINTOPOINT = 0x10;
/** `IFF_RUNNING`: operationally up (carrier). */
export const IFF_RUNNING = 0x40;
/** `IFF_NOARP`: no ARP/neighbour discovery. */
export const IFF_NOARP = 0x80;
/** `IFF_MULTICAST`: supports multicast. */
export const IFF_MULTICAST = 0x1000;
/** `IFNAMSIZ`: the size of an interface name buffer, NUL included (names are ≤ 15 bytes). */
export const IFNAMSIZ = 16;

// <net/route.h>, <linux/ipv6_route.h>

/** `RTF_UP`: the route is usable. */
export const RTF_UP = 0x0001;
/** `RTF_GATEWAY`: the route has a next hop. */
export const RTF_GATEWAY = 0x0002;
/** `RTF_HOST`: a host route. */
export const RTF_HOST = 0x0004;
/** `RTF_ADDRCONF`: made by address autoconfiguration. */
export const RTF_ADDRCONF = 0x00040000;
/** `RTF_CACHE`: a cached clone. */
export const RTF_CACHE = 0x01000000;
/** `RTF_LOCAL`: a local address route (table local). */
export const RTF_LOCAL = 0x80000000;
/** `IP6_RT_PRIO_USER`: the metric the kernel gives user routes without one. */
export const IP6_RT_PRIO_USER = 1024;

// <sys/socket.h>, <netinet/in.h>

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6`. */
export const AF_INET6 = 10;
/** `AF_NETLINK`. */
export const AF_NETLINK = 16;

// <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_addr.h>: the address events stf follows

/** `NETLINK_ROUTE`: the rtnetlink protocol of an `AF_NETLINK` socket. */
export const NETLINK_ROUTE = 0;
/** `RTMGRP_IPV4_IFADDR`: the multicast group of IPv4 address changes (bind's `nl_groups`). */
export const RTMGRP_IPV4_IFADDR = 0x10;
/** `NLMSG_NOOP`: a message to skip. */
export const NLMSG_NOOP = 1;
/** `NLMSG_ERROR`: an error (or acknowledgement) message. */
export const NLMSG_ERROR = 2;
/** `NLMSG_DONE`: the end of a multipart message. */
export const NLMSG_DONE = 3;
/** `NLMSG_OVERRUN`: data lost. */
export const NLMSG_OVERRUN = 4;
/** `RTM_NEWADDR`: an address was added (or changed). */
export const RTM_NEWADDR = 20;
/** `RTM_DELADDR`: an address was removed. */
export const RTM_DELADDR = 21;
/** `IFA_ADDRESS`: the (peer) address attribute of an `ifaddrmsg`. */
export const IFA_ADDRESS = 1;
/** `IFA_LOCAL`: the local address attribute (differs from `IFA_ADDRESS` on point-to-point). */
export const IFA_LOCAL = 2;
/** `IFA_LABEL`: the interface name (label) attribute, NUL-terminated. */
export const IFA_LABEL = 3;
/** `IFA_BROADCAST`: the broadcast address attribute. */
export const IFA_BROADCAST = 4;
/** `IFA_FLAGS`: the 32-bit flags attribute (`ifa_flags` holds only the low 8 bits). */
export const IFA_FLAGS = 8;
/** `NLMSG_ALIGNTO` and `RTA_ALIGNTO`: netlink messages and attributes are 4-byte aligned. */
export const NETLINK_ALIGN = 4;
/** `SOCK_DGRAM`. */
export const SOCK_DGRAM = 2;
/** `SOCK_RAW`. */
export const SOCK_RAW = 3;
/** `SOCK_NONBLOCK` (or-ed into the socket type). */
export const SOCK_NONBLOCK = 0x800;
/** `SOCK_CLOEXEC` (or-ed into the socket type). */
export const SOCK_CLOEXEC = 0x80000;
/** `IPPROTO_IP`: the socket level of IPv4 options. */
export const IPPROTO_IP = 0;
/** `IPPROTO_IPV6`, also the IPv4 protocol number of IPv6-in-IPv4 (41, RFC 4213 §3.5). */
export const IPPROTO_IPV6 = 41;
/** `IP_HDRINCL`: the application writes the IPv4 header. */
export const IP_HDRINCL = 3;
/** `SOL_SOCKET`. */
export const SOL_SOCKET = 1;
/** `SO_SNDBUF`. */
export const SO_SNDBUF = 7;
/** `SO_RCVBUF`. */
export const SO_RCVBUF = 8;
/** `SO_SNDBUFFORCE` (CAP_NET_ADMIN: beyond `wmem_max`). */
export const SO_SNDBUFFORCE = 32;
/** `SO_RCVBUFFORCE` (CAP_NET_ADMIN: beyond `rmem_max`). */
export const SO_RCVBUFFORCE = 33;
/** `SO_ATTACH_FILTER`: a classic BPF program (`struct sock_fprog`) that filters what arrives. */
export const SO_ATTACH_FILTER = 26;
/** `MSG_TRUNC`. */
export const MSG_TRUNC = 0x20;
/** `MSG_DONTWAIT`. */
export const MSG_DONTWAIT = 0x40;
/** `MSG_WAITFORONE` (recvmmsg: block for the first message only). */
export const MSG_WAITFORONE = 0x10000;
/** `MSG_ERRQUEUE`: read the socket's error queue (`IP_RECVERR`). */
export const MSG_ERRQUEUE = 0x2000;
/** `IP_RECVERR` (level `IPPROTO_IP`): queue errors with details; also its cmsg type. */
export const IP_RECVERR = 11;
/** `SO_EE_ORIGIN_LOCAL`: `sock_extended_err.ee_origin` of an error raised by this host. */
export const SO_EE_ORIGIN_LOCAL = 1;

// <fcntl.h>, <poll.h>, <sys/eventfd.h>

/** `O_RDWR`. */
export const O_RDWR = 2;
/** `O_NONBLOCK`. */
export const O_NONBLOCK = 0x800;
/** `O_CLOEXEC`. */
export const O_CLOEXEC = 0x80000;
/** `F_GETFD`. */
export const F_GETFD = 1;
/** `F_SETFD`. */
export const F_SETFD = 2;
/** `F_GETFL`. */
export const F_GETFL = 3;
/** `F_SETFL`. */
export const F_SETFL = 4;
/** `FD_CLOEXEC`. */
export const FD_CLOEXEC = 1;
/** `POLLIN`. */
export const POLLIN = 0x1;
/** `POLLOUT`. */
export const POLLOUT = 0x4;
/** `POLLERR`. */
export const POLLERR = 0x8;
/** `POLLHUP`. */
export const POLLHUP = 0x10;
/** `POLLNVAL`. */
export const POLLNVAL = 0x20;
/** `EFD_SEMAPHORE`. */
export const EFD_SEMAPHORE = 1;
/** `EFD_NONBLOCK`. */
export const EFD_NONBLOCK = 0x800;
/** `EFD_CLOEXEC`. */
export const EFD_CLOEXEC = 0x80000;

/** errno names by number (`asm-generic/errno-base.h`, `asm-generic/errno.h`). */
export const ERRNO_NAMES: Readonly<Record<number, string>> = Object.freeze({
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  15: "ENOTBLK",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  32: "EPIPE",
  33: "EDOM",
  34: "ERANGE",
  35: "EDEADLK",
  36: "ENAMETOOLONG",
  37: "ENOLCK",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  42: "ENOMSG",
  43: "EIDRM",
  61: "ENODATA",
  62: "ETIME",
  71: "EPROTO",
  74: "EBADMSG",
  75: "EOVERFLOW",
  84: "EILSEQ",
  87: "EUSERS",
  88: "ENOTSOCK",
  89: "EDESTADDRREQ",
  90: "EMSGSIZE",
  91: "EPROTOTYPE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  94: "ESOCKTNOSUPPORT",
  95: "EOPNOTSUPP",
  96: "EPFNOSUPPORT",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  102: "ENETRESET",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  105: "ENOBUFS",
  106: "EISCONN",
  107: "ENOTCONN",
  108: "ESHUTDOWN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  112: "EHOSTDOWN",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
  116: "ESTALE",
  122: "EDQUOT",
  125: "ECANCELED",
  130: "EOWNERDEAD",
  131: "ENOTRECOVERABLE",
  132: "ERFKILL",
  133: "EHWPOISON",
});

/** `EPERM`. */
export const EPERM = 1;
/** `ENOENT`. */
export const ENOENT = 2;
/** `EINTR`. */
export const EINTR = 4;
/** `EBADF`. */
export const EBADF = 9;
/** `EAGAIN` (also `EWOULDBLOCK`). */
export const EAGAIN = 11;
/** `EACCES`. */
export const EACCES = 13;
/** `EBUSY`. */
export const EBUSY = 16;
/** `EEXIST`. */
export const EEXIST = 17;
/** `ENODEV`. */
export const ENODEV = 19;
/** `EINVAL`. */
export const EINVAL = 22;
/** `ENOBUFS`. */
export const ENOBUFS = 105;
/** `EMSGSIZE`. */
export const EMSGSIZE = 90;
/** `EADDRNOTAVAIL`. */
export const EADDRNOTAVAIL = 99;
/** `ESRCH`. */
export const ESRCH = 3;

/** `SIGUSR1`: since Deno 2.9.2 it opens the V8 inspector; stf ignores it (lib/inspector_guard.ts). */
export const SIGUSR1 = 10;
/** `SIG_IGN`: the handler value that makes the kernel discard a signal. */
export const SIG_IGN = 1n;
