"""Sends crafted IPv6-in-IPv4 (protocol 41) packets with scapy, an encoder independent of stf.

Usage: _scapy_send.py JSON, where JSON is a list of
{"src4", "dst4", "src6", "dst6", "count"}: each batch is `count` ICMPv6 echo requests
(sequence numbers 1..count) from src6 to dst6 inside IPv4 from src4 to dst4. With
"frag_needed_mtu": N, each packet is instead an ICMPv4 "fragmentation needed" (RFC 1191) from
src4 to dst4 with next-hop MTU N, quoting a 1500-byte protocol-41 packet from dst4 to
"quoted_dst4" that carries an IPv6 header from src6 to dst6.
Run inside a lab namespace only; the addresses are the test's (documentation ranges).
"""

import json
import sys

from scapy.all import ICMP, IP, IPv6, ICMPv6EchoRequest, conf, send

conf.verb = 0


def main() -> int:
    batches = json.loads(sys.argv[1])
    for batch in batches:
        if "frag_needed_mtu" in batch:
            quoted = IP(src=batch["dst4"], dst=batch["quoted_dst4"], proto=41, len=1500) / IPv6(
                src=batch["src6"], dst=batch["dst6"], plen=1460, nh=58, hlim=64
            )
            error = IP(src=batch["src4"], dst=batch["dst4"]) / ICMP(
                type=3, code=4, nexthopmtu=batch["frag_needed_mtu"]
            )
            send([error / bytes(quoted) for _ in range(batch["count"])], verbose=False)
            continue
        packets = [
            IP(src=batch["src4"], dst=batch["dst4"], proto=41)
            / IPv6(src=batch["src6"], dst=batch["dst6"], hlim=64)
            / ICMPv6EchoRequest(id=0x5173, seq=seq, data=b"stf-lab-hostile")
            for seq in range(1, batch["count"] + 1)
        ]
        send(packets, verbose=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
