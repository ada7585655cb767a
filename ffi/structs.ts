/**
 * Byte layouts of the C structs stf passes to the kernel, with encoders.
 *
 * The offsets and sizes are those of the LP64 Linux ABIs, and they are the same on x86_64 and
 * aarch64: both are little-endian with 8-byte pointers and `long`, 4-byte `int`, and natural
 * alignment, and none of these structs has architecture-specific fields. The numbers were
 * checked with `sizeof`/`offsetof` compiled by gcc against glibc and the kernel UAPI headers
 * (`tests/unit/ffi/structs_test.ts` writes them down).
 *
 * Host-order fields are little-endian; addresses and ports are in network order.
 *
 * @module
 */
import { AF_INET, IFNAMSIZ } from "./constants.ts";

/** `struct ifreq` (`<net/if.h>`): a name, then a union (flags, MTU, index, pointer, …). */
export const IFREQ = Object.freeze({
  SIZE: 40,
  /** `ifr_name`, 16 bytes, NUL-terminated. */
  NAME: 0,
  /** `ifr_flags` (`short`). */
  FLAGS: 16,
  /** `ifr_mtu` (`int`). */
  MTU: 16,
  /** `ifr_ifindex` (`int`). */
  IFINDEX: 16,
  /** `ifr_data` (`char *`). */
  DATA: 16,
});

/** `struct ethtool_sset_info` (`<linux/ethtool.h>`): one `u32` size per requested set. */
export const ETHTOOL_SSET_INFO = Object.freeze({
  /** `cmd`. */
  CMD: 0,
  /** `sset_mask` (`u64`): the sets asked for, then those the device has. */
  MASK: 8,
  /** `data[0]`: the size of the first set in the mask. */
  DATA: 16,
  SIZE: 24,
});

/** `struct ethtool_gstrings`: `len` names of `ETH_GSTRING_LEN` bytes from `DATA`. */
export const ETHTOOL_GSTRINGS_LAYOUT = Object.freeze({
  CMD: 0,
  /** `string_set`. */
  SET: 4,
  /** `len`: the number of names. */
  LEN: 8,
  /** `data`. */
  DATA: 12,
});

/** `struct ethtool_gfeatures`: `size` blocks of 32 feature bits, 16 bytes each, from `BLOCKS`. */
export const ETHTOOL_GFEATURES_LAYOUT = Object.freeze({
  CMD: 0,
  /** `size`: the number of blocks. */
  SIZE: 4,
  /** `features[]`: `{ available, requested, active, never_changed }`. */
  BLOCKS: 8,
  BLOCK_SIZE: 16,
  /** `active` within a block. */
  ACTIVE: 8,
});

/** `struct in6_ifreq` (`<linux/ipv6.h>`): an IPv6 address for SIOCSIFADDR/SIOCDIFADDR. */
export const IN6_IFREQ = Object.freeze({
  SIZE: 24,
  /** `ifr6_addr` (`struct in6_addr`). */
  ADDR: 0,
  /** `ifr6_prefixlen` (`__u32`). */
  PREFIXLEN: 16,
  /** `ifr6_ifindex` (`int`). */
  IFINDEX: 20,
});

/** `struct in6_rtmsg` (`<linux/ipv6_route.h>`): an IPv6 route for SIOCADDRT/SIOCDELRT. */
export const IN6_RTMSG = Object.freeze({
  SIZE: 80,
  /** `rtmsg_dst` (`struct in6_addr`). */
  DST: 0,
  /** `rtmsg_src`. */
  SRC: 16,
  /** `rtmsg_gateway`. */
  GATEWAY: 32,
  /** `rtmsg_type` (`__u32`). */
  TYPE: 48,
  /** `rtmsg_dst_len` (`__u16`). */
  DST_LEN: 52,
  /** `rtmsg_src_len` (`__u16`). */
  SRC_LEN: 54,
  /** `rtmsg_metric` (`__u32`). */
  METRIC: 56,
  /** `rtmsg_info` (`unsigned long`, 8 bytes, aligned to 8: hence the gap at 60). */
  INFO: 64,
  /** `rtmsg_flags` (`__u32`). */
  FLAGS: 72,
  /** `rtmsg_ifindex` (`int`). */
  IFINDEX: 76,
});

/** `struct sockaddr_in` (`<netinet/in.h>`). */
export const SOCKADDR_IN = Object.freeze({
  SIZE: 16,
  /** `sin_family` (`sa_family_t`, host order). */
  FAMILY: 0,
  /** `sin_port` (network order). */
  PORT: 2,
  /** `sin_addr` (network order). */
  ADDR: 4,
});

/** `struct sockaddr_in6` (`<netinet/in.h>`). */
export const SOCKADDR_IN6 = Object.freeze({
  SIZE: 28,
  FAMILY: 0,
  PORT: 2,
  FLOWINFO: 4,
  ADDR: 8,
  SCOPE_ID: 24,
});

/** `struct iovec` (`<sys/uio.h>`). */
export const IOVEC = Object.freeze({
  SIZE: 16,
  /** `iov_base` (pointer). */
  BASE: 0,
  /** `iov_len` (`size_t`). */
  LEN: 8,
});

/** `struct msghdr` (`<sys/socket.h>`). */
export const MSGHDR = Object.freeze({
  SIZE: 56,
  /** `msg_name` (pointer). */
  NAME: 0,
  /** `msg_namelen` (`socklen_t`, 4 bytes, then 4 bytes of padding). */
  NAMELEN: 8,
  /** `msg_iov` (pointer). */
  IOV: 16,
  /** `msg_iovlen` (`size_t`). */
  IOVLEN: 24,
  /** `msg_control` (pointer). */
  CONTROL: 32,
  /** `msg_controllen` (`size_t`). */
  CONTROLLEN: 40,
  /** `msg_flags` (`int`). */
  FLAGS: 48,
});

/** `struct mmsghdr` (`<sys/socket.h>`): a `msghdr` and the length transferred. */
export const MMSGHDR = Object.freeze({
  SIZE: 64,
  /** `msg_hdr`. */
  HDR: 0,
  /** `msg_len` (`unsigned int`, then 4 bytes of padding). */
  LEN: 56,
});

/** `struct pollfd` (`<poll.h>`). */
export const POLLFD = Object.freeze({
  SIZE: 8,
  FD: 0,
  EVENTS: 4,
  REVENTS: 6,
});

/** `struct virtio_net_hdr` (`<linux/virtio_net.h>`), in front of packets with IFF_VNET_HDR. */
export const VIRTIO_NET_HDR = Object.freeze({
  SIZE: 10,
  /** `flags` (`__u8`). */
  FLAGS: 0,
  /** `gso_type` (`__u8`). */
  GSO_TYPE: 1,
  /** `hdr_len` (`__u16`, little-endian). */
  HDR_LEN: 2,
  /** `gso_size` (`__u16`). */
  GSO_SIZE: 4,
  /** `csum_start` (`__u16`). */
  CSUM_START: 6,
  /** `csum_offset` (`__u16`). */
  CSUM_OFFSET: 8,
});

/**
 * Encodes an interface name into a fresh `struct ifreq` (the union zeroed).
 *
 * @param name the interface name, 1..15 bytes
 * @throws {RangeError} when the name is empty or longer than 15 bytes
 */
export function encodeIfreq(name: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || bytes.includes(0)) {
    throw new RangeError(
      `Cannot use interface name "${name}": expected 1..${IFNAMSIZ - 1} bytes without NUL`,
    );
  }
  const out = new Uint8Array(IFREQ.SIZE);
  out.set(bytes, IFREQ.NAME);
  return out;
}

/**
 * Reads the NUL-terminated name of a `struct ifreq`.
 *
 * @param ifreq the struct
 */
export function decodeIfreqName(ifreq: Uint8Array): string {
  const end = ifreq.subarray(0, IFNAMSIZ).indexOf(0);
  return new TextDecoder().decode(ifreq.subarray(0, end < 0 ? IFNAMSIZ : end));
}

/** A view for host-order fields of a struct buffer. */
export function view(buffer: Uint8Array): DataView {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Encodes a `struct in6_ifreq`.
 *
 * @param address the IPv6 address (16 bytes)
 * @param options the prefix length and the interface index
 */
export function encodeIn6Ifreq(
  address: Uint8Array,
  options: { readonly prefixLength: number; readonly ifindex: number },
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(IN6_IFREQ.SIZE);
  out.set(address.subarray(0, 16), IN6_IFREQ.ADDR);
  const v = view(out);
  v.setUint32(IN6_IFREQ.PREFIXLEN, options.prefixLength, true);
  v.setInt32(IN6_IFREQ.IFINDEX, options.ifindex, true);
  return out;
}

/** Fields of {@link encodeIn6Rtmsg}. */
export interface In6RtmsgFields {
  /** The destination prefix's address (16 bytes). */
  readonly destination: Uint8Array;
  /** The destination prefix length. */
  readonly destinationLength: number;
  /** The next hop, when the route has one (set `RTF_GATEWAY` in `flags`). */
  readonly gateway?: Uint8Array;
  /** The metric; 0 lets the kernel use 1024 (`IP6_RT_PRIO_USER`). */
  readonly metric?: number;
  /** `RTF_*` flags; `RTF_UP` at least. */
  readonly flags: number;
  /** The output interface. */
  readonly ifindex: number;
}

/**
 * Encodes a `struct in6_rtmsg`.
 *
 * @param fields the route
 */
export function encodeIn6Rtmsg(fields: In6RtmsgFields): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(IN6_RTMSG.SIZE);
  out.set(fields.destination.subarray(0, 16), IN6_RTMSG.DST);
  if (fields.gateway !== undefined) out.set(fields.gateway.subarray(0, 16), IN6_RTMSG.GATEWAY);
  const v = view(out);
  v.setUint16(IN6_RTMSG.DST_LEN, fields.destinationLength, true);
  v.setUint32(IN6_RTMSG.METRIC, fields.metric ?? 0, true);
  v.setUint32(IN6_RTMSG.FLAGS, fields.flags >>> 0, true);
  v.setInt32(IN6_RTMSG.IFINDEX, fields.ifindex, true);
  return out;
}

/**
 * Writes a `struct sockaddr_in` into a buffer (for `sendto`, `msghdr.msg_name`).
 *
 * @param address the IPv4 address as an unsigned 32-bit number
 * @param options where to write, and the port (0 for raw sockets)
 */
export function writeSockaddrIn(
  address: number,
  options: { readonly target?: Uint8Array; readonly offset?: number; readonly port?: number } = {},
): Uint8Array {
  const target = options.target ?? new Uint8Array(SOCKADDR_IN.SIZE);
  const offset = options.offset ?? 0;
  const v = view(target);
  v.setUint16(offset + SOCKADDR_IN.FAMILY, AF_INET, true);
  v.setUint16(offset + SOCKADDR_IN.PORT, options.port ?? 0, false);
  v.setUint32(offset + SOCKADDR_IN.ADDR, address >>> 0, false);
  target.fill(0, offset + 8, offset + SOCKADDR_IN.SIZE);
  return target;
}
