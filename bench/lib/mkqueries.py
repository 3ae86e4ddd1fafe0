#!/usr/bin/env python3
"""Write the dnsperf query mix as a -B (TCP-stream binary) data file.

dnsperf's -E adds one EDNS option to *every* query; to mix queries with and
without EDNS Client Subnet we build the wire packets ourselves.  Every query
carries an OPT RR (UDP size 1232, like modern resolvers); some carry ECS.

Usage: mkqueries.py OUT.bin [count] [mix]   (also writes OUT.txt, a readable list)

mix: "full" (default, below) or "steered-ecs" (repository copy: only A/AAAA
questions for the steered name, all with ECS: the geo-steered answers with
ECS that the project's performance bar is stated for).
"""
import ipaddress
import random
import struct
import sys

ZONE = "gslb.example."
# ECS client subnets (keep in sync with mkmmdb.py FIXED)
ECS_V4 = ["8.8.8.0/24", "193.0.6.0/24", "202.12.27.0/24", "1.1.1.0/24",
          "200.160.0.0/24", "41.0.0.0/24"]
ECS_V6 = ["2001:4860::/48", "2001:67c:2e8::/48", "2001:200::/48"]
QTYPE = {"A": 1, "NS": 2, "SOA": 6, "AAAA": 28}

# (weight, qname, qtype, ecs?)   ecs: None / "v4" / "v6"
MIX = [
    (20, "www", "A", None),
    (10, "www", "AAAA", None),
    (20, "www", "A", "v4"),
    (5, "www", "A", "v6"),
    (10, "www", "AAAA", "v4"),
    (5, "www", "AAAA", "v6"),
    (10, "nx", "A", None),      # NXDOMAIN
    (5, "nx", "AAAA", "v4"),    # NXDOMAIN with ECS
    (5, "nx", "A", "v4"),       # NXDOMAIN with ECS
    (5, "@", "SOA", None),
    (5, "ns1", "A", None),
]
MIXES = {
    "full": MIX,
    "steered-ecs": [(20, "www", "A", "v4"), (5, "www", "A", "v6"),
                    (10, "www", "AAAA", "v4"), (5, "www", "AAAA", "v6")],
}


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def ecs_option(cidr):
    net = ipaddress.ip_network(cidr)
    fam = 1 if net.version == 4 else 2
    plen = net.prefixlen
    addr = net.network_address.packed[: (plen + 7) // 8]
    body = struct.pack(">HBB", fam, plen, 0) + addr
    return struct.pack(">HH", 8, len(body)) + body


def query(qname, qtype, ecs):
    hdr = struct.pack(">HHHHHH", 0, 0x0000, 1, 0, 0, 1)
    q = wire_name(qname) + struct.pack(">HH", QTYPE[qtype], 1)
    opts = ecs_option(ecs) if ecs else b""
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, len(opts)) + opts
    return hdr + q + opt


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    mix = MIXES[sys.argv[3] if len(sys.argv) > 3 else "full"]
    rng = random.Random(53)
    weights = [m[0] for m in mix]
    with open(out, "wb") as fb, open(out.rsplit(".", 1)[0] + ".txt", "w") as ft:
        for i in range(count):
            _, name, qtype, ecs = rng.choices(mix, weights)[0]
            if name == "nx":
                qname = f"nx{rng.randrange(10**6)}.{ZONE}"
            elif name == "@":
                qname = ZONE
            else:
                qname = f"{name}.{ZONE}"
            subnet = None
            if ecs == "v4":
                subnet = rng.choice(ECS_V4)
            elif ecs == "v6":
                subnet = rng.choice(ECS_V6)
            pkt = query(qname, qtype, subnet)
            fb.write(struct.pack(">H", len(pkt)) + pkt)
            ft.write(f"{qname} {qtype}{' ecs=' + subnet if subnet else ''}\n")
    print(f"wrote {count} queries to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
