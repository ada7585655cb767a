import assert from "node:assert/strict";
import fc from "fast-check";
import { internetChecksum } from "../../../lib/packet/checksum.ts";
import { wasmBuffer, wasmSumOf } from "../../../lib/packet/wasm_sum.ts";
import {
  completeChecksum,
  onesComplementSum,
  readVirtioNetHeader,
  Segmenter,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VirtioNetHeader,
  writeVirtioNetHeader,
} from "../../../lib/packet/gso.ts";
import { hex, scapyJson, skipWithoutScapy, unhex } from "./_scapy.ts";

const python = scapyJson;

/**
 * scapy builds a super-packet (one IPv6 packet with the whole payload) and, independently,
 * the segments the kernel's GSO would make of it: the payload cut at `gso`, the sequence
 * number advanced, FIN and PSH on the last segment only, CWR on the first only, lengths and
 * checksums computed by scapy.
 */
const SEGMENTS_PY = `
import random
random.seed(args["seed"])
payload = bytes(random.randrange(256) for _ in range(args["length"]))
ip = dict(src="2002:c633:6401::5", dst="2002:cb00:7105::9", tc=args["tc"], fl=0x12345, hlim=61)
def l4(chunk, k, last):
    if args["proto"] == "udp":
        return UDP(sport=40000, dport=5201) / chunk
    flags = args["flags"]
    if not last:
        flags = flags.replace("F", "").replace("P", "")
    if k > 0:
        flags = flags.replace("C", "")
    return TCP(sport=40000, dport=5201, seq=(args["seq"] + k * args["gso"]) % 2**32, ack=777,
               flags=flags, window=501, options=[("NOP", None), ("NOP", None), ("Timestamp", (11, 22))]) / chunk
whole = raw(IPv6(**ip) / l4(payload, 0, True))
chunks = [payload[i:i + args["gso"]] for i in range(0, len(payload), args["gso"])] or [b""]
segs = [raw(IPv6(**ip) / l4(c, k, k == len(chunks) - 1)).hex() for k, c in enumerate(chunks)]
print(json.dumps({"whole": whole.hex(), "segments": segs}))
`;

interface Case {
  readonly name: string;
  readonly proto: "tcp" | "udp";
  readonly length: number;
  readonly gso: number;
  readonly flags: string;
  readonly seq: number;
  readonly tc: number;
}

const CASES: readonly Case[] = [
  {
    name: "TCP, 20 000 bytes at 1408",
    proto: "tcp",
    length: 20000,
    gso: 1408,
    flags: "PA",
    seq: 1000,
    tc: 0,
  },
  {
    name: "TCP with FIN, CWR and a sequence number that wraps",
    proto: "tcp",
    length: 5000,
    gso: 1400,
    flags: "FPAC",
    seq: 0xffff_f000,
    tc: 2,
  },
  {
    name: "TCP, 64 KiB less headers, odd gso size",
    proto: "tcp",
    length: 65443,
    gso: 1397,
    flags: "A",
    seq: 7,
    tc: 0,
  },
  {
    name: "TCP, payload a whole multiple of gso",
    proto: "tcp",
    length: 4224,
    gso: 1408,
    flags: "PA",
    seq: 1,
    tc: 0,
  },
  {
    name: "UDP (USO), 9 000 bytes at 1232",
    proto: "udp",
    length: 9000,
    gso: 1232,
    flags: "",
    seq: 0,
    tc: 0,
  },
  {
    name: "UDP (USO), odd payload",
    proto: "udp",
    length: 3001,
    gso: 1000,
    flags: "",
    seq: 0,
    tc: 0,
  },
];

for (const c of CASES) {
  Deno.test(`Segmenter splits a super-packet as the kernel would (scapy builds the expected segments): ${c.name}`, async () => {
    if (skipWithoutScapy()) return;
    const r = await python(SEGMENTS_PY, { ...c, seed: c.length }) as {
      whole: string;
      segments: string[];
    };
    const whole = unhex(r.whole);
    // The super-packet as the kernel hands it: the checksum field holds anything (partial).
    const src = new Uint8Array(whole.length + 100);
    src.set(whole, 30);
    const seg = new Segmenter();
    assert.equal(seg.prepare(src, 30, whole.length, c.gso), r.segments.length);
    // Segments written at aligned and unaligned places of another buffer, and of the same one.
    for (const [out, base] of [[new Uint8Array(70000), 64], [new Uint8Array(70000), 3]] as const) {
      for (let k = 0; k < seg.count; k++) {
        const n = seg.write(k, out, base);
        assert.equal(hex(out.subarray(base, base + n)), r.segments[k], `segment ${k}`);
      }
    }
    // The same buffer, plain and WebAssembly memory (the payload copied and summed in SIMD).
    for (const memory of ["plain", "wasm"]) {
      const size = whole.length + 3000;
      const shared = new Uint8Array(memory === "wasm" ? wasmBuffer(size) : new ArrayBuffer(size));
      assert.equal(wasmSumOf(shared.buffer) !== undefined, memory === "wasm");
      shared.set(whole, 0);
      assert.equal(seg.prepare(shared, 0, whole.length, c.gso), r.segments.length);
      for (let k = 0; k < seg.count; k++) {
        const at = whole.length + 20;
        const n = seg.write(k, shared, at);
        assert.equal(
          hex(shared.subarray(at, at + n)),
          r.segments[k],
          `segment ${k} (same ${memory} buffer)`,
        );
      }
    }
  });
}

Deno.test("Segmenter refuses what it cannot segment: not TCP/UDP, headers past the end, no gso size", () => {
  const seg = new Segmenter();
  const p = new Uint8Array(100);
  p[0] = 0x60;
  p[6] = 58; // ICMPv6
  assert.equal(seg.prepare(p, 0, 100, 1000), 0);
  p[6] = 6;
  p[40 + 12] = 0xf0; // a 60-byte TCP header in a 100-byte packet
  assert.equal(seg.prepare(p, 0, 90, 1000), 0);
  p[40 + 12] = 0x50;
  assert.equal(seg.prepare(p, 0, 100, 0), 0);
  assert.equal(seg.prepare(p, 0, 100, 1000), 1);
});

Deno.test("completeChecksum() finishes a partial TCP checksum as scapy computes the full one", async () => {
  if (skipWithoutScapy()) return;
  const r = await python(
    `
p = IPv6(src="2002:c633:6401::5", dst="2001:db8::9") / TCP(sport=1, dport=2, flags="PA") / (b"x" * 777)
full = raw(p)
# The partial checksum Linux leaves with CHECKSUM_PARTIAL: the folded pseudo-header sum.
s = sum(int.from_bytes(full[i:i + 2], "big") for i in range(8, 40, 2)) + (len(full) - 40) + 6
while s > 0xffff: s = (s & 0xffff) + (s >> 16)
partial = bytearray(full); partial[56:58] = s.to_bytes(2, "big")
print(json.dumps({"full": full.hex(), "partial": bytes(partial).hex()}))
`,
    {},
  ) as { full: string; partial: string };
  const p = unhex(r.partial);
  const buf = new Uint8Array(p.length + 10);
  buf.set(p, 10);
  const h = new VirtioNetHeader();
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.checksumStart = 40;
  h.checksumOffset = 16;
  assert.equal(completeChecksum(buf, 10, p.length, h), true);
  assert.equal(hex(buf.subarray(10)), r.full);
  h.checksumStart = 30; // inside the IPv6 header: refused
  assert.equal(completeChecksum(buf, 10, p.length, h), false);
});

Deno.test("onesComplementSum() equals the byte-wise RFC 1071 sum at every alignment, in plain and WebAssembly memory", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.nat(7),
      fc.nat(7),
      (bytes, shift, cut) => {
        for (const buffer of [new ArrayBuffer(bytes.length + 16), wasmBuffer(bytes.length + 16)]) {
          const buf = new Uint8Array(buffer, 0, bytes.length + 16);
          buf.set(bytes, shift);
          const length = Math.max(0, bytes.length - cut);
          const view = buf.subarray(1); // a view whose byteOffset is odd
          const expected = ~internetChecksum(buf, shift, length) & 0xffff;
          assert.equal(onesComplementSum(buf, shift, length), expected);
          if (shift > 0) {
            assert.equal(onesComplementSum(view, shift - 1, length), expected);
          }
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("a virtio_net_hdr reads back what was written (little-endian fields)", () => {
  const h = new VirtioNetHeader();
  Object.assign(h, {
    flags: 1,
    gsoType: 4,
    headerLength: 72,
    gsoSize: 1408,
    checksumStart: 40,
    checksumOffset: 16,
  });
  const buf = new Uint8Array(12);
  writeVirtioNetHeader(buf, 1, h);
  assert.equal(hex(buf.subarray(1, 11)), "0104480080052800" + "1000");
  const back = new VirtioNetHeader();
  readVirtioNetHeader(buf, 1, back);
  assert.deepEqual({ ...back }, { ...h });
});
