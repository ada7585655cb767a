/**
 * Packet codec for the data plane: IPv4/IPv6 header views, checksums, encapsulation in place,
 * RFC 6040 ECN, ICMPv6 errors, ICMPv4 "fragmentation needed" and the path MTU table. Pure code,
 * nothing allocated per packet.
 *
 * @module
 */
export * from "./headers.ts";
export * from "./checksum.ts";
export * from "./ecn.ts";
export * from "./encapsulate.ts";
export * from "./icmpv6.ts";
export * from "./icmpv4.ts";
export * from "./path_mtu.ts";
