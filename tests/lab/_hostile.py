"""Hostile traffic for the stf lab tests, built with scapy (an encoder independent of stf).

Subcommands (run inside a lab namespace only; documentation addresses only):

  listen OUT [PROTO]
      Open an AF_INET raw socket for PROTO (default 41), like stf's, and append every packet
      the kernel delivers to it to OUT as records (4-byte big-endian length, then the bytes)
      until SIGTERM/SIGINT. Prints "listening" on stderr when ready. This is the oracle of what
      reached stf's own raw socket: the kernel hands a copy of each local protocol-41 packet to
      every raw socket of that protocol, after its own checks (checksum, lengths, options,
      reassembly).

  ingress IFACE DST_MAC SEED COUNT PROFILE
      Build COUNT random, hostile protocol-41 packets (PROFILE: "router", "allow", "relay",
      "return-path" choose the address pools) and send them as Ethernet frames on IFACE to
      DST_MAC through an AF_PACKET socket, paced. Prints one JSON line: packets and frames
      sent, and counts per kind.

  egress IFACE SEED COUNT [6rd]
      Build COUNT random, hostile IPv6 packets and write them into the TUN IFACE (an AF_PACKET
      socket: the kernel hands them to the TUN's reader, stf, without looking at them), paced.
      Prints one JSON line like ingress.
"""

import json
import random
import signal
import socket
import struct
import sys
import time

from scapy.all import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    IP,
    IPOption_NOP,
    IPOption_RR,
    IPOption_Timestamp,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    Raw,
    TCP,
    UDP,
    Ether,
    fragment,
    raw,
)

OWN4 = "198.51.100.1"
WAN_PEER4 = "198.51.100.2"
OTHER_LOCAL4 = "203.0.113.200"
FOREIGN4 = ["203.0.113.7", "203.0.113.99", "192.0.2.99", "198.51.100.2", "8.8.4.4"]
MARTIAN4 = [
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.1.1",
    "240.0.0.1",
    "198.51.100.255",
    "127.0.0.1",
    "0.1.2.3",
    "224.0.0.1",
    "255.255.255.255",
]
C6 = [
    "::",
    "::1",
    "::1.2.3.4",
    "::ffff:1.2.3.4",
    "fe80::1",
    "febf::99",
    "fec0::1",
    "ff02::1",
    "ff0e::1:2",
    "0:1::1",
]


def six_to_four(ipv4, rng, host=None):
    a = socket.inet_aton(ipv4)
    subnet = rng.choice([0, 1, rng.randrange(65536)])
    iid = host if host is not None else rng.choice([1, 0x10, rng.randrange(1 << 64)])
    return socket.inet_ntop(
        socket.AF_INET6, b"\x20\x02" + a + struct.pack(">HQ", subnet, iid)
    )


def six_rd(ipv4, rng):
    """An address of the lab's 6rd domain 2001:db8:6000::/40 (IPv4 mask length 8, RFC 5969)."""
    low = socket.inet_aton(ipv4)[1:]
    iid = rng.choice([1, rng.randrange(1 << 64)])
    return socket.inet_ntop(socket.AF_INET6, b"\x20\x01\x0d\xb8\x60" + low + struct.pack(">Q", iid))


def random4(rng):
    return socket.inet_ntoa(struct.pack(">I", rng.randrange(1 << 32)))


def random6(rng):
    return socket.inet_ntop(socket.AF_INET6, bytes(rng.randrange(256) for _ in range(16)))


def pick_src4(rng, profile):
    r = rng.random()
    if r < 0.55:
        return rng.choice(FOREIGN4)
    if r < 0.85:
        return rng.choice(MARTIAN4)
    return random4(rng)


def pick_dst4(rng):
    r = rng.random()
    if r < 0.8:
        return OWN4
    return rng.choice(
        ["198.51.100.255", "255.255.255.255", "224.0.0.1", OTHER_LOCAL4, "198.51.100.3", random4(rng)]
    )


def pick_src6(rng, src4):
    r = rng.random()
    if r < 0.35:
        return six_to_four(src4, rng), "6to4-matching"
    if r < 0.45:
        return six_to_four(rng.choice(FOREIGN4 + [random4(rng)]), rng), "6to4-foreign"
    if r < 0.52:
        return six_to_four(OWN4, rng), "6to4-own"
    if r < 0.57:
        return six_to_four(rng.choice(MARTIAN4), rng), "6to4-martian"
    if r < 0.72:
        return "2001:db8:ff::%x" % rng.randrange(1, 65536), "native-foreign"
    if r < 0.77:
        return "2001:db8:1::%x" % rng.randrange(1, 65536), "native-site"
    if r < 0.92:
        return rng.choice(C6), "c6"
    return random6(rng), "random"


def pick_dst6(rng, dst4):
    r = rng.random()
    if r < 0.5:
        return six_to_four(dst4, rng, host=rng.choice([None, 1])), "6to4-matching"
    if r < 0.62:
        return "2001:db8:1::%x" % rng.randrange(1, 65536), "native-site"
    if r < 0.7:
        return "2001:db8:ff::%x" % rng.randrange(1, 65536), "native-foreign"
    if r < 0.8:
        return six_to_four(rng.choice(FOREIGN4 + [OWN4]), rng), "6to4-other"
    if r < 0.92:
        return rng.choice(C6), "c6"
    return random6(rng), "random"


def upper(rng, depth=0):
    """An IPv6 payload: extension headers, ICMPv6, nested tunnels, transport, random bytes."""
    kind = rng.randrange(11 if depth == 0 else 7)
    size = rng.choice([0, 1, 8, 64, rng.randrange(0, 1400)])
    data = bytes(rng.randrange(256) for _ in range(min(size, 64))) * (size // 64 + 1)
    data = data[:size]
    if kind == 0:
        return UDP(sport=rng.randrange(65536), dport=rng.randrange(65536)) / Raw(data), "udp"
    if kind == 1:
        return ICMPv6EchoRequest(id=rng.randrange(65536), seq=rng.randrange(65536), data=data), "icmpv6-echo"
    if kind == 2:
        return ICMPv6EchoReply(id=1, seq=2, data=data[:100]), "icmpv6-echo-reply"
    if kind == 3:
        quoted = IPv6(src=random6(rng), dst=random6(rng)) / UDP() / Raw(data[:200])
        err = rng.choice([ICMPv6DestUnreach(code=rng.randrange(8)), ICMPv6PacketTooBig(mtu=rng.randrange(1 << 32))])
        return err / quoted, "icmpv6-error"
    if kind == 4:
        return TCP(sport=rng.randrange(65536), dport=rng.randrange(65536), flags=rng.choice(["S", "SA", "R", "FPU"])) / Raw(data[:200]), "tcp"
    if kind == 5:
        return Raw(data), "raw"
    if kind == 6:
        return None, "no-next-header"
    if kind == 7:
        inner, _ = upper(rng, depth + 1)
        chain = rng.choice(
            [
                IPv6ExtHdrHopByHop(),
                IPv6ExtHdrDestOpt(),
                IPv6ExtHdrRouting(addresses=[random6(rng)]),
                IPv6ExtHdrFragment(offset=rng.randrange(8192), m=rng.randrange(2), id=rng.randrange(1 << 32)),
                IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() / IPv6ExtHdrDestOpt(),
            ]
        )
        return (chain / inner) if inner is not None else chain, "extension-headers"
    if kind == 8:
        # IPv6 in IPv6 (next header 41).
        inner, _ = upper(rng, depth + 1)
        nested = IPv6(src=random6(rng), dst=random6(rng))
        return (nested / inner) if inner is not None else nested, "ipv6-in-ipv6"
    if kind == 9:
        # Protocol 41 nested in protocol 41: IPv4 (proto 41, IPv6 inside) in the inner IPv6.
        nested = IP(src=random4(rng), dst=OWN4, proto=41) / IPv6(src=six_to_four(random4(rng), rng), dst=six_to_four(OWN4, rng)) / UDP() / Raw(data[:100])
        return nested, "41-in-41"
    return Raw(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))), "garbage"


def ipv6_packet(rng, src6, dst6):
    payload, kind = upper(rng)
    tc = rng.randrange(256)
    pkt = IPv6(src=src6, dst=dst6, tc=tc, fl=rng.randrange(1 << 20), hlim=rng.randrange(256))
    if payload is not None:
        pkt = pkt / payload
    else:
        pkt.nh = 59
    b = bytearray(raw(pkt))
    if kind == "raw":
        b[6] = rng.randrange(256)
    return b, kind


def damage_inner(rng, b):
    """Malformed inner headers (RFC 4213 §3.6): lengths, versions, truncation."""
    r = rng.random()
    if r < 0.80:
        return b, None
    if r < 0.84 and len(b) >= 6:
        n = struct.unpack(">H", b[4:6])[0] + rng.randrange(1, 64)
        b[4:6] = struct.pack(">H", n & 0xFFFF)
        return b, "inner-length-long"
    if r < 0.88 and len(b) >= 6:
        n = struct.unpack(">H", b[4:6])[0]
        b[4:6] = struct.pack(">H", rng.randrange(0, n + 1))
        return b, "inner-length-short"
    if r < 0.92:
        b[0] = (rng.choice([0, 4, 5, 7, 15]) << 4) | (b[0] & 15)
        return b, "inner-version"
    if r < 0.97:
        return b[: rng.randrange(0, 40)], "inner-truncated"
    return b + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))), "inner-trailing"


def checksum(header):
    s = 0
    for i in range(0, len(header), 2):
        s += (header[i] << 8) + header[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def outer_frames(rng, src4, dst4, inner, dst_mac, src_mac):
    """The outer IPv4 (options, flags, damage, fragments) as Ethernet frames; and a kind."""
    eth = Ether(dst=dst_mac, src=src_mac, type=0x0800)
    r = rng.random()
    tos = rng.randrange(256)
    options = []
    kind = "plain"
    if r < 0.08:
        options = rng.choice([[IPOption_NOP()] * 4, [IPOption_RR()], [IPOption_Timestamp(flg=0)], [IPOption_NOP(), IPOption_RR(length=11)]])
        kind = "ipv4-options"
    ip = IP(src=src4, dst=dst4, proto=41, tos=tos, ttl=rng.choice([0, 1, 64, 255]), id=rng.randrange(65536), options=options)
    if rng.random() < 0.1:
        ip.flags = "DF"
    pkt = ip / Raw(bytes(inner))
    if len(pkt) > 1500 or (r >= 0.08 and r < 0.12):
        frags = fragment(pkt, fragsize=rng.choice([8, 512, 1400]))
        if rng.random() < 0.2 and len(frags) > 1:
            # A lone fragment: never reassembled, never delivered.
            return [raw(eth / rng.choice(frags))], "fragment-lone"
        if rng.random() < 0.3:
            rng.shuffle(frags)
        return [raw(eth / f) for f in frags], "fragments"
    b = bytearray(raw(pkt))
    if r < 0.14:
        b[10:12] = struct.pack(">H", (struct.unpack(">H", b[10:12])[0] + 1) & 0xFFFF)
        kind = "bad-checksum"
    elif r < 0.16:
        b[2:4] = struct.pack(">H", len(b) + rng.randrange(1, 100))
        b[10:12] = b"\0\0"
        ihl = (b[0] & 15) * 4
        b[10:12] = struct.pack(">H", checksum(b[:ihl]))
        kind = "total-length-long"
    elif r < 0.18:
        b = b + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        kind = "trailing-bytes"
    elif r < 0.19:
        b[0] = 0x40 | rng.randrange(0, 5)
        kind = "ihl-short"
    elif r < 0.20:
        b[0] = (6 << 4) | (b[0] & 15)
        kind = "outer-version"
    elif r < 0.21:
        # Options garbage (an unknown option of a bad length).
        body = bytes(b[20:])
        opt = bytes([rng.randrange(256), rng.randrange(256), 0, 0])
        b = bytearray(b[:20]) + opt + body
        b[0] = 0x46
        b[2:4] = struct.pack(">H", len(b))
        b[10:12] = b"\0\0"
        b[10:12] = struct.pack(">H", checksum(b[:24]))
        kind = "ipv4-options-garbage"
    elif r < 0.22:
        b = b[: rng.randrange(1, 20)]
        kind = "outer-truncated"
    return [raw(eth) + bytes(b)], kind


def profile_pools(profile):
    return profile


def ingress(iface, dst_mac, seed, count, profile):
    rng = random.Random(seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = ":".join("%02x" % b for b in s.getsockname()[4][:6])
    kinds = {}
    frames_sent = 0
    batch = []

    def flush():
        nonlocal frames_sent, batch
        for f in batch:
            s.send(f)
            frames_sent += 1
        batch = []
        time.sleep(0.02)

    for _ in range(count):
        src4 = pick_src4(rng, profile)
        dst4 = pick_dst4(rng)
        src6, ks = pick_src6(rng, src4)
        dst6, kd = pick_dst6(rng, dst4)
        inner, ku = ipv6_packet(rng, src6, dst6)
        inner, kdam = damage_inner(rng, inner)
        if rng.random() < 0.05:
            inner = bytearray(raw(IP(src=random4(rng), dst=OWN4) / UDP() / Raw(b"x" * 20)))
            kdam = "inner-is-ipv4"
        frames, ko = outer_frames(rng, src4, dst4, inner, dst_mac, src_mac)
        for k in (ks and "src6:" + ks, kd and "dst6:" + kd, "upper:" + ku, kdam and "inner:" + kdam, "outer:" + ko):
            if k:
                kinds[k] = kinds.get(k, 0) + 1
        batch.extend(frames)
        if len(batch) >= 64:
            flush()
    flush()
    print(json.dumps({"packets": count, "frames": frames_sent, "kinds": kinds}))


def egress(iface, seed, count, sixrd=False):
    """Hostile IPv6 packets into the TUN (the kernel side), for stf's egress path."""
    rng = random.Random(seed)
    own_rd = ["198.51.100.1", "198.51.100.255", "198.51.100.2", "198.18.0.1", "198.0.0.0"]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
    kinds = {}
    sent = 0
    refused = 0
    for i in range(count):
        src4 = rng.choice([OWN4, OWN4, OWN4] + FOREIGN4 + MARTIAN4)
        dst4 = rng.choice(FOREIGN4 + FOREIGN4 + MARTIAN4 + [OWN4, OTHER_LOCAL4, random4(rng)])
        r = rng.random()
        if r < 0.45:
            src6, ks = six_to_four(src4, rng), "6to4"
        elif r < 0.6:
            src6, ks = "2001:db8:1::%x" % rng.randrange(1, 65536), "native-site"
        elif r < 0.7:
            src6, ks = "2001:db8:ff::%x" % rng.randrange(1, 65536), "native-foreign"
        elif r < 0.88:
            src6, ks = rng.choice(C6), "c6"
        else:
            src6, ks = random6(rng), "random"
        r = rng.random()
        if r < 0.55:
            dst6, kd = six_to_four(dst4, rng), "6to4"
        elif r < 0.7:
            dst6, kd = "2001:db8:ff::%x" % rng.randrange(1, 65536), "native-foreign"
        elif r < 0.75:
            dst6, kd = "2001:db8:1::%x" % rng.randrange(1, 65536), "native-site"
        elif r < 0.9:
            dst6, kd = rng.choice(C6), "c6"
        else:
            dst6, kd = random6(rng), "random"
        if sixrd and rng.random() < 0.5:
            src6, ks = six_rd(rng.choice(own_rd[:1] * 3 + own_rd), rng), "6rd"
        if sixrd and rng.random() < 0.5:
            dst6, kd = six_rd(rng.choice(own_rd), rng), "6rd"
        b, ku = ipv6_packet(rng, src6, dst6)
        b, kdam = damage_inner(rng, b)
        if rng.random() < 0.04:
            b = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
            kdam = "garbage"
        if rng.random() < 0.05:
            # Larger than the tunnel MTU (1480) but within the interface's (raised) MTU.
            pad = 1481 + rng.randrange(0, 19) - len(b)
            if pad > 0 and len(b) >= 40:
                b = b + bytes(pad)
                b[4:6] = struct.pack(">H", len(b) - 40)
                kdam = "too-big"
        for k in ("src6:" + ks, "dst6:" + kd, "upper:" + ku, kdam and "inner:" + kdam):
            if k:
                kinds[k] = kinds.get(k, 0) + 1
        try:
            s.sendto(bytes(b), (iface, 0x86DD))
            sent += 1
        except OSError:
            refused += 1
        if i % 64 == 63:
            time.sleep(0.02)
    print(json.dumps({"packets": count, "frames": sent, "refused": refused, "kinds": kinds}))


def listen(out, proto):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    s.settimeout(0.2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    n = 0
    with open(out, "wb") as f:
        sys.stderr.write("listening\n")
        sys.stderr.flush()
        while not stop:
            try:
                data = s.recv(65535)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            f.write(struct.pack(">I", len(data)) + data)
            f.flush()
            n += 1
        f.flush()
    sys.stderr.write("received %d\n" % n)


def main():
    cmd = sys.argv[1]
    if cmd == "listen":
        listen(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 41)
    elif cmd == "ingress":
        ingress(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    elif cmd == "egress":
        egress(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), len(sys.argv) > 5 and sys.argv[5] == "6rd")
    else:
        raise SystemExit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
