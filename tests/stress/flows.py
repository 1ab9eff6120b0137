#!/usr/bin/env python3
"""New flows, one after another, from one process (no interpreter start per
flow, which under TCG would take most of the CPU the stress is about).

  flows.py HOST TAG STOPFILE [--udp-port P] [--tcp-port P] [--timeout S]
           [--interval S] [--proto udp|tcp|both]

Until STOPFILE exists: a UDP exchange (new socket, so a new source port and
flow) with HOST's echo server, then a TCP one, each sending "TAG-udp-N" /
"TAG-tcp-N" (tests/tools/peer.py's servers log them), each waiting TIMEOUT
seconds for the echo.  At the end prints "ok N failed M" and one
"errno NAME N" line per errno seen.
"""
import argparse
import errno
import os
import socket
import sys
import time
from collections import Counter


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp(a, msg):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    try:
        s.settimeout(a.timeout)
        s.sendto(msg, (a.host, a.udp_port))
        return s.recv(65535) == msg
    finally:
        s.close()


def tcp(a, msg):
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    try:
        s.settimeout(a.timeout)
        s.connect((a.host, a.tcp_port))
        s.sendall(msg)
        return s.recv(65535) == msg
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("tag")
    p.add_argument("stopfile")
    p.add_argument("--udp-port", type=int, default=5001)
    p.add_argument("--tcp-port", type=int, default=5002)
    p.add_argument("--timeout", type=float, default=1)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--proto", choices=["udp", "tcp", "both"], default="both")
    a = p.parse_args()
    kinds = [("udp", udp), ("tcp", tcp)]
    if a.proto != "both":
        kinds = [k for k in kinds if k[0] == a.proto]
    ok = failed = i = 0
    errs = Counter()
    while not os.path.exists(a.stopfile):
        i += 1
        for name, fn in kinds:
            try:
                good = fn(a, f"{a.tag}-{name}-{i}".encode())
            except socket.timeout:
                good = False
                errs["timeout"] += 1
            except OSError as e:
                good = False
                errs[errno.errorcode.get(e.errno, str(e.errno))] += 1
            if good:
                ok += 1
            else:
                failed += 1
        time.sleep(a.interval)
    print(f"ok {ok} failed {failed}")
    for k, n in sorted(errs.items()):
        print(f"errno {k} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
