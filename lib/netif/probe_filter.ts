/**
 * The classic BPF programs (`SO_ATTACH_FILTER`) around the relay probes (`lib/relay`): the
 * probe socket's, which takes only the Echo Replies carrying our identifier, and the head of
 * the forwarder's receiving sockets' program, which drops them, so they never reach the
 * ingress path. Pure: instructions as bytes, like `queue_filter.ts`. The programs see a packet
 * from its outer IPv4 header on and assume the 20-byte header a reply has.
 *
 * @module
 */
import { type BpfInstruction, encodeBpf } from "./queue_filter.ts";

/** Where the inner IPv6 header starts (after a 20-byte IPv4 header). */
const V6 = 20;
/** Where the ICMPv6 header starts. */
const ICMP = V6 + 40;
/** ICMPv6's next-header number. */
const NEXT_HEADER_ICMPV6 = 58;
/** ICMPv6 Echo Reply (RFC 4443 §4.2). */
const ECHO_REPLY = 129;

/**
 * A classic BPF program (`SO_ATTACH_FILTER`) for a protocol-41 raw socket that takes only
 * Echo Replies with our identifier, so a probe socket gets no copy of the forwarded traffic.
 * Offsets assume a 20-byte outer header and no IPv6 extension headers, as a reply has.
 *
 * @param identifier our probes' identifier
 * @returns the instructions, 8 bytes each
 */
export function probeReplyFilterProgram(identifier: number): Uint8Array<ArrayBuffer> {
  const LD_B_ABS = 0x30;
  const LD_H_ABS = 0x28;
  const JMP_JEQ_K = 0x15;
  const RET_K = 0x06;
  const program: BpfInstruction[] = [
    /* 0 */ { code: LD_B_ABS, k: 0 },
    /* 1 */ { code: JMP_JEQ_K, k: 0x45, jt: 0, jf: 7 }, // IPv4, IHL 5
    /* 2 */ { code: LD_B_ABS, k: V6 + 6 },
    /* 3 */ { code: JMP_JEQ_K, k: NEXT_HEADER_ICMPV6, jt: 0, jf: 5 },
    /* 4 */ { code: LD_B_ABS, k: ICMP },
    /* 5 */ { code: JMP_JEQ_K, k: ECHO_REPLY, jt: 0, jf: 3 },
    /* 6 */ { code: LD_H_ABS, k: ICMP + 4 },
    /* 7 */ { code: JMP_JEQ_K, k: identifier & 0xffff, jt: 0, jf: 1 },
    /* 8 */ { code: RET_K, k: 0x40000 },
    /* 9 */ { code: RET_K, k: 0 },
  ];
  return encodeBpf(program);
}

/**
 * The head of a classic BPF program for the forwarder's receiving protocol-41 sockets: it
 * drops our probes' Echo Replies (identifier and destination ours), which the probe socket
 * reads, so that the ingress path never writes them into the TUN nor counts them; every other
 * packet — short or odd ones included, for the rules to judge — falls through to the
 * instructions appended after it (the queue filter, or an accept).
 *
 * @param identifier our probes' identifier
 * @param destination6 our 6to4 address (16 bytes)
 * @returns the instructions, 8 bytes each
 */
export function probeReplyDropPrefix(
  identifier: number,
  destination6: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const LD_W_LEN = 0x80;
  const LD_W_ABS = 0x20;
  const LD_H_ABS = 0x28;
  const LD_B_ABS = 0x30;
  const JMP_JGE_K = 0x35;
  const JMP_JEQ_K = 0x15;
  const RET_K = 0x06;
  const dst = V6 + 24;
  const icmp = ICMP;
  const word = (i: number) =>
    ((destination6[i] << 24) | (destination6[i + 1] << 16) | (destination6[i + 2] << 8) |
      destination6[i + 3]) >>> 0;
  // [load, test] pairs; a failed test jumps past the prefix. Loads beyond the packet would end
  // the program with "drop", so the length is tested first.
  const tests: { load: number; at: number; jump: number; k: number }[] = [
    { load: LD_W_LEN, at: 0, jump: JMP_JGE_K, k: icmp + 8 },
    { load: LD_B_ABS, at: 0, jump: JMP_JEQ_K, k: 0x45 },
    { load: LD_B_ABS, at: V6 + 6, jump: JMP_JEQ_K, k: NEXT_HEADER_ICMPV6 },
    { load: LD_B_ABS, at: icmp, jump: JMP_JEQ_K, k: ECHO_REPLY },
    { load: LD_H_ABS, at: icmp + 4, jump: JMP_JEQ_K, k: identifier & 0xffff },
    ...[0, 4, 8, 12].map((i) => ({ load: LD_W_ABS, at: dst + i, jump: JMP_JEQ_K, k: word(i) })),
  ];
  const count = tests.length * 2 + 1;
  const bytes = new Uint8Array(count * 8);
  const view = new DataView(bytes.buffer);
  const put = (i: number, code: number, jt: number, jf: number, k: number) => {
    view.setUint16(8 * i, code, true);
    view.setUint8(8 * i + 2, jt);
    view.setUint8(8 * i + 3, jf);
    view.setUint32(8 * i + 4, k, true);
  };
  tests.forEach((t, n) => {
    put(2 * n, t.load, 0, 0, t.at);
    put(2 * n + 1, t.jump, 0, count - (2 * n + 2), t.k);
  });
  put(count - 1, RET_K, 0, 0, 0); // a probe reply: not for the ingress path
  return bytes;
}

/** The classic BPF "accept the whole packet" instruction, to end a program. */
export function acceptAllInstruction(): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0x06, true);
  view.setUint32(4, 0x40000, true);
  return bytes;
}
