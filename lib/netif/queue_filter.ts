/**
 * The share of protocol-41 packets one queue's receiving socket takes (`stf run --queues N`).
 * Every raw socket of protocol 41 receives every protocol-41 packet (docs/performance.md, "Threads"), so with N
 * ingress Workers each socket carries a classic BPF filter (`SO_ATTACH_FILTER`) that accepts
 * the packets of its own flows only: a hash of the inner IPv6 source and destination (their
 * low 32 bits) and, for TCP and UDP, the ports, modulo N. A flow always lands on the same
 * queue, so its packets stay in order; a packet too short to hash goes to queue 0, so every
 * packet is taken by exactly one socket and the rules still see it (they count it `malformed`
 * if it is).
 *
 * The filter sees the packet from its IPv4 header on (raw sockets); offsets below assume the
 * 20-byte header without options, and a header with options (dropped by the rules as
 * `malformed`) still hashes to one queue.
 *
 * @module
 */

/** One `struct sock_filter` instruction: `{ u16 code; u8 jt; u8 jf; u32 k; }`. */
export interface BpfInstruction {
  readonly code: number;
  readonly jt?: number;
  readonly jf?: number;
  readonly k?: number;
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS = 0x20; // A = packet[k..k+4] (big-endian)
const LD_B_ABS = 0x30; // A = packet[k]
const LD_W_LEN = 0x80; // A = packet length
const TAX = 0x07; // X = A
const TXA = 0x87; // A = X
const ALU_XOR_X = 0xac; // A ^= X
const ALU_RSH_K = 0x74; // A >>= k
const ALU_MOD_K = 0x94; // A %= k
const JMP_JGE_K = 0x35; // if (A >= k) skip jt else skip jf
const JMP_JEQ_K = 0x15; // if (A == k) skip jt else skip jf
const RET_K = 0x06; // return k (bytes to keep; 0 drops)

/** Accept: keep the whole packet (more than any IPv4 datagram). */
const ACCEPT = 0x40000;
const DROP = 0;

/** Where the inner packet's fields are, from the outer IPv4 header's first byte. */
const INNER_NEXT_HEADER = 20 + 6;
const INNER_SOURCE_LOW = 20 + 8 + 12;
const INNER_DESTINATION_LOW = 20 + 24 + 12;
const INNER_PORTS = 20 + 40;

/**
 * The filter program of queue `queue` of `queues`: the instructions, 8 bytes each.
 *
 * @param queue this socket's queue, 0 ≤ queue < queues
 * @param queues the number of queues (≥ 2)
 */
export function queueFilterProgram(queue: number, queues: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(queues) || queues < 2 || queues > 256) {
    throw new RangeError(`Cannot split packets over ${queues} queues: expected 2 to 256`);
  }
  if (!Number.isInteger(queue) || queue < 0 || queue >= queues) {
    throw new RangeError(`Cannot filter for queue ${queue} of ${queues}`);
  }
  // Jump offsets count the instructions skipped after the jump.
  const program: BpfInstruction[] = [
    /* 0 */ { code: LD_W_LEN },
    /* 1 */ { code: JMP_JGE_K, k: INNER_PORTS + 4, jt: 0, jf: 16 }, // short → 18
    /* 2 */ { code: LD_W_ABS, k: INNER_SOURCE_LOW },
    /* 3 */ { code: TAX },
    /* 4 */ { code: LD_W_ABS, k: INNER_DESTINATION_LOW },
    /* 5 */ { code: ALU_XOR_X },
    /* 6 */ { code: TAX }, // X = source ^ destination
    /* 7 */ { code: LD_B_ABS, k: INNER_NEXT_HEADER },
    /* 8 */ { code: JMP_JEQ_K, k: 6, jt: 1, jf: 0 }, // TCP → 10
    /* 9 */ { code: JMP_JEQ_K, k: 17, jt: 0, jf: 3 }, // UDP → 10, else → 13
    /* 10 */ { code: LD_W_ABS, k: INNER_PORTS },
    /* 11 */ { code: ALU_XOR_X },
    /* 12 */ { code: TAX }, // X ^= ports
    /* 13 */ { code: TXA },
    /* 14 */ { code: ALU_RSH_K, k: 16 },
    /* 15 */ { code: ALU_XOR_X }, // A = X ^ (X >> 16)
    /* 16 */ { code: ALU_MOD_K, k: queues },
    /* 17 */ { code: JMP_JEQ_K, k: queue, jt: 1, jf: 2 }, // mine → 19, else → 20
    /* 18 */ { code: RET_K, k: queue === 0 ? ACCEPT : DROP }, // too short to hash
    /* 19 */ { code: RET_K, k: ACCEPT },
    /* 20 */ { code: RET_K, k: DROP },
  ];
  return encodeBpf(program);
}

/**
 * Encodes classic BPF instructions as the kernel's `struct sock_filter` array (8 bytes each,
 * host byte order: little-endian on the x86_64 and aarch64 stf runs on).
 *
 * @param program the instructions
 */
export function encodeBpf(program: readonly BpfInstruction[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(program.length * 8);
  const view = new DataView(bytes.buffer);
  program.forEach((insn, i) => {
    view.setUint16(8 * i, insn.code, true);
    view.setUint8(8 * i + 2, insn.jt ?? 0);
    view.setUint8(8 * i + 3, insn.jf ?? 0);
    view.setUint32(8 * i + 4, insn.k ?? 0, true);
  });
  return bytes;
}

/**
 * Which queue a protocol-41 packet goes to under {@link queueFilterProgram}: the same
 * function in TypeScript, for tests and for reading the program.
 *
 * @param packet the IPv4 packet, header included
 * @param queues the number of queues
 */
export function queueOfPacket(packet: Uint8Array, queues: number): number {
  if (packet.length < INNER_PORTS + 4) return 0;
  const word = (at: number) =>
    ((packet[at] << 24) | (packet[at + 1] << 16) | (packet[at + 2] << 8) | packet[at + 3]) >>> 0;
  let x = (word(INNER_SOURCE_LOW) ^ word(INNER_DESTINATION_LOW)) >>> 0;
  const next = packet[INNER_NEXT_HEADER];
  if (next === 6 || next === 17) x = (x ^ word(INNER_PORTS)) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) % queues;
}
