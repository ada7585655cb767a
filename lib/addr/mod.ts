/**
 * Address math: IPv4/IPv6 parsing and formatting, prefixes, 6to4 and 6rd mapping, address
 * classes.
 *
 * @module
 */
export * from "./ipv4.ts";
export * from "./ipv6.ts";
export * from "./sixtofour.ts";
export * from "./classes.ts";
