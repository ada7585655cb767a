import assert from "node:assert/strict";
import fc from "fast-check";
import { queueFilterProgram, queueOfPacket } from "../../../lib/netif/queue_filter.ts";

/**
 * A classic BPF interpreter for the instructions the program uses (linux/filter.h semantics:
 * big-endian loads, 32-bit unsigned ALU, a load past the end returns 0 = drop), written from
 * the kernel's documentation (Documentation/networking/filter.rst), to run the very bytes
 * stf attaches. The lab test (tests/lab/queues_test.ts) runs them in the kernel.
 */
function runFilter(program: Uint8Array, packet: Uint8Array): number {
  const view = new DataView(program.buffer, program.byteOffset, program.byteLength);
  let a = 0, x = 0, pc = 0;
  for (let steps = 0; steps < 4096; steps++) {
    const code = view.getUint16(8 * pc, true);
    const jt = view.getUint8(8 * pc + 2), jf = view.getUint8(8 * pc + 3);
    const k = view.getUint32(8 * pc + 4, true);
    pc++;
    switch (code) {
      case 0x80:
        a = packet.length;
        break;
      case 0x20:
        if (k + 4 > packet.length) return 0;
        a = new DataView(packet.buffer, packet.byteOffset).getUint32(k);
        break;
      case 0x30:
        if (k + 1 > packet.length) return 0;
        a = packet[k];
        break;
      case 0x07:
        x = a;
        break;
      case 0x87:
        a = x;
        break;
      case 0xac:
        a = (a ^ x) >>> 0;
        break;
      case 0x74:
        a = a >>> k;
        break;
      case 0x94:
        a = a % k;
        break;
      case 0x35:
        pc += a >= k ? jt : jf;
        break;
      case 0x15:
        pc += a === k ? jt : jf;
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`opcode 0x${code.toString(16)} not interpreted`);
    }
  }
  throw new Error("no return");
}

Deno.test("each packet is accepted by exactly one queue's filter, the one queueOfPacket() names", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 120 }),
      fc.integer({ min: 2, max: 8 }),
      fc.constantFrom(6, 17, 58, 0),
      (bytes, queues, next) => {
        const packet = Uint8Array.from(bytes);
        if (packet.length > 26) packet[26] = next;
        const accepted = [];
        for (let q = 0; q < queues; q++) {
          if (runFilter(queueFilterProgram(q, queues), packet) > 0) accepted.push(q);
        }
        assert.deepEqual(accepted, [queueOfPacket(packet, queues)]);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("the packets of one flow land on one queue; the flows spread over the queues", () => {
  const packet = new Uint8Array(100);
  packet[26] = 6; // TCP
  const seen = new Set<number>();
  for (let port = 40000; port < 40064; port++) {
    packet[60] = port >> 8;
    packet[61] = port & 0xff;
    const queue = queueOfPacket(packet, 4);
    // Another segment of the same flow (sequence number, payload differ): same queue.
    packet[64] = port & 0xff;
    packet[99] = 0x55;
    assert.equal(queueOfPacket(packet, 4), queue);
    seen.add(queue);
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
});

Deno.test("queueFilterProgram() refuses a queue outside 0..N-1 and fewer than 2 queues", () => {
  assert.throws(() => queueFilterProgram(2, 2), RangeError);
  assert.throws(() => queueFilterProgram(0, 1), RangeError);
  assert.equal(queueFilterProgram(1, 2).length % 8, 0);
});
