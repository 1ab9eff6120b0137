#!/usr/bin/env python3
"""pysend: one UDP request or one TCP connect from Python's socket module,
with or without a timeout, reporting what the sender saw and what it cost.

  pysend.py udp|tcp HOST PORT MSG [--timeout S] [--wait S]

Without --timeout the socket is blocking (Python's default): sendto() and
connect() are single system calls, and an EAGAIN is raised at once as
BlockingIOError.  With --timeout the socket has Python's timeout, which
makes it non-blocking underneath (O_NONBLOCK): Python then treats EAGAIN
from send/connect as "would block", polls and calls again until the
timeout.  --wait S bounds the wait for the reply of a blocking UDP socket
(select(), which leaves the socket blocking; default 2).

Prints "start T" (wall clock) at once, "connected T" when a TCP connect
completed, and at the end "result R elapsed S cpu C calls 1", as
tests/senders/csend.c does (R: ok, timeout, or the errno name); CPU is
the process's user+system time from the start line on.
"""
import argparse
import errno
import resource
import select
import socket
import sys
import time


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("proto", choices=("udp", "tcp"))
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("msg")
    p.add_argument("--timeout", type=float)
    p.add_argument("--wait", type=float, default=2)
    a = p.parse_args()

    c0, m0 = cpu(), time.monotonic()

    def result(r, rc):
        print(f"result {r} elapsed {time.monotonic() - m0:.3f} cpu {cpu() - c0:.3f} calls 1", flush=True)
        sys.exit(rc)

    print(f"start {time.time():.6f}", flush=True)
    kind = socket.SOCK_DGRAM if a.proto == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, kind)
    if a.timeout is not None:
        s.settimeout(a.timeout)
    try:
        if a.proto == "udp":
            s.sendto(a.msg.encode(), (a.host, a.port))
            if a.timeout is None:
                r, _, _ = select.select([s], [], [], a.wait)
                if not r:
                    result("timeout", 3)
            s.recv(65535)
        else:
            s.connect((a.host, a.port))
            print(f"connected {time.time():.6f}", flush=True)
            s.sendall(a.msg.encode())
            if a.timeout is None:
                s.settimeout(a.wait)
            s.recv(65535)
    except socket.timeout:
        result("timeout", 3)
    except OSError as e:
        result(errno.errorcode.get(e.errno, str(e.errno)), 2)
    result("ok", 0)


if __name__ == "__main__":
    main()
