/**
 * rtnetlink address messages (`RTM_NEWADDR`, `RTM_DELADDR`) as the kernel sends them to a
 * socket bound to `RTMGRP_IPV4_IFADDR`, parsed into plain events. Pure: bytes in, events out,
 * so the layout is tested without a socket (rtnetlink(7), netlink(7)).
 *
 * One `recv` may hold several messages, each `nlmsghdr` followed by an `ifaddrmsg` and its
 * attributes, every item padded to 4 bytes. A message that is cut short or inconsistent ends
 * the parse of that datagram: what came before is kept, the rest is reported as `truncated`,
 * and the reader re-reads the interface's addresses anyway (the event is only a trigger).
 *
 * @module
 */
import type { Ipv4Address } from "../addr/mod.ts";
import {
  AF_INET,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  IFADDRMSG,
  NETLINK_ALIGN,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_OVERRUN,
  NLMSGHDR,
  RTATTR,
  RTM_DELADDR,
  RTM_NEWADDR,
} from "../../ffi/mod.ts";

/** One IPv4 address added to or removed from an interface. */
export interface AddressEvent {
  /** `added` (`RTM_NEWADDR`, also sent when an address's flags change) or `removed`. */
  readonly kind: "added" | "removed";
  /** The interface index. */
  readonly ifindex: number;
  /** The interface name (`IFA_LABEL`; an alias label such as `eth0:1` for labelled ones). */
  readonly label?: string;
  /** The address (`IFA_LOCAL`, else `IFA_ADDRESS`). */
  readonly address: Ipv4Address;
  /** Its prefix length. */
  readonly prefixLength: number;
  /** The broadcast address, when the kernel sent one. */
  readonly broadcast?: Ipv4Address;
  /** The scope: 0 universe (global), 253 link, 254 host. */
  readonly scope: number;
  /** `IFA_F_*` flags (all 32 bits when `IFA_FLAGS` is present). */
  readonly flags: number;
}

/** What one datagram of the address socket held. */
export interface AddressMessages {
  /** The IPv4 address events, in order. */
  readonly events: readonly AddressEvent[];
  /** Messages of other kinds or families, skipped. */
  readonly skipped: number;
  /** Whether the kernel said it lost messages (`NLMSG_OVERRUN`) or reported an error. */
  readonly lost: boolean;
  /** Whether a message was cut short or inconsistent (the rest of the datagram ignored). */
  readonly truncated: boolean;
}

/**
 * Rounds a length up to the netlink alignment (`NLMSG_ALIGN`, `RTA_ALIGN`: 4 bytes).
 *
 * @param length a length in bytes
 */
export function netlinkAlign(length: number): number {
  return (length + NETLINK_ALIGN - 1) & ~(NETLINK_ALIGN - 1);
}

function readIpv4(v: DataView, offset: number): Ipv4Address {
  // Network order: big-endian.
  return v.getUint32(offset, false);
}

function readLabel(bytes: Uint8Array, start: number, end: number): string {
  let stop = start;
  while (stop < end && bytes[stop] !== 0) stop++;
  return new TextDecoder().decode(bytes.subarray(start, stop));
}

/**
 * Parses one datagram read from a socket bound to `RTMGRP_IPV4_IFADDR`.
 *
 * @param bytes the buffer
 * @param length how many bytes `recv` returned (default: the whole buffer)
 */
export function parseAddressMessages(
  bytes: Uint8Array,
  length: number = bytes.length,
): AddressMessages {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(length, bytes.length);
  const events: AddressEvent[] = [];
  let skipped = 0;
  let lost = false;
  let truncated = false;
  let offset = 0;
  while (offset + NLMSGHDR.SIZE <= end) {
    const messageLength = v.getUint32(offset + NLMSGHDR.LEN, true);
    const type = v.getUint16(offset + NLMSGHDR.TYPE, true);
    if (messageLength < NLMSGHDR.SIZE || offset + messageLength > end) {
      truncated = true;
      break;
    }
    const body = offset + NLMSGHDR.SIZE;
    const messageEnd = offset + messageLength;
    offset += netlinkAlign(messageLength);
    if (type === NLMSG_DONE) break;
    if (type === NLMSG_OVERRUN || type === NLMSG_ERROR) {
      lost = true;
      continue;
    }
    if (type !== RTM_NEWADDR && type !== RTM_DELADDR) {
      skipped++;
      continue;
    }
    if (body + IFADDRMSG.SIZE > messageEnd) {
      truncated = true;
      break;
    }
    if (v.getUint8(body + IFADDRMSG.FAMILY) !== AF_INET) {
      skipped++;
      continue;
    }
    let local: Ipv4Address | undefined;
    let address: Ipv4Address | undefined;
    let broadcast: Ipv4Address | undefined;
    let label: string | undefined;
    let flags = v.getUint8(body + IFADDRMSG.FLAGS);
    let at = body + IFADDRMSG.SIZE;
    let broken = false;
    while (at + RTATTR.SIZE <= messageEnd) {
      const attributeLength = v.getUint16(at + RTATTR.LEN, true);
      const attributeType = v.getUint16(at + RTATTR.TYPE, true);
      if (attributeLength < RTATTR.SIZE || at + attributeLength > messageEnd) {
        broken = true;
        break;
      }
      const value = at + RTATTR.SIZE;
      const size = attributeLength - RTATTR.SIZE;
      if (attributeType === IFA_LOCAL && size === 4) local = readIpv4(v, value);
      else if (attributeType === IFA_ADDRESS && size === 4) address = readIpv4(v, value);
      else if (attributeType === IFA_BROADCAST && size === 4) broadcast = readIpv4(v, value);
      else if (attributeType === IFA_LABEL) label = readLabel(bytes, value, value + size);
      else if (attributeType === IFA_FLAGS && size === 4) flags = v.getUint32(value, true);
      at += netlinkAlign(attributeLength);
    }
    const chosen = local ?? address;
    if (broken || chosen === undefined) {
      truncated = true;
      break;
    }
    events.push({
      kind: type === RTM_NEWADDR ? "added" : "removed",
      ifindex: v.getUint32(body + IFADDRMSG.INDEX, true),
      ...(label === undefined ? {} : { label }),
      address: chosen,
      prefixLength: v.getUint8(body + IFADDRMSG.PREFIXLEN),
      ...(broadcast === undefined ? {} : { broadcast }),
      scope: v.getUint8(body + IFADDRMSG.SCOPE),
      flags,
    });
  }
  return { events, skipped, lost, truncated };
}
