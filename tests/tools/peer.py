#!/usr/bin/env python3
"""Traffic ends for the VM tests: servers that record who talked to them,
and clients that report the exact errno of a failed call.

  peer.py udp-server PORT LOG       echo datagrams, log "udp SRC MSG" per datagram
  peer.py tcp-server PORT LOG       echo one message per connection, log "tcp SRC MSG"
                                    (both create LOG.ready-{udp,tcp}PORT once bound)
  peer.py udp-send HOST PORT MSG [--timeout S] [--count N] [--interval S] [--nonblock]
                    [--no-reply] [--keep-going] [--numbered] [--trace] [--stay S]
                    [--bind ADDR:PORT] [--xfrm-bypass]
  peer.py tcp-send HOST PORT MSG [--timeout S] [--nonblock] [--trace]
  peer.py stamp OUT CMD [ARG...]    run CMD, append each line of its output
                                    to OUT after the wall-clock time it came

Clients print "ok <reply>" and exit 0, or "errno <NAME> <seconds>" and exit 2
(the call failed with that errno after that many seconds), or "timeout" and
exit 3.  With --keep-going, udp-send goes on after a failed send, prints
"errno NAME" the first time each errno occurs, and ends with
"sent N failed M [ERRNO...]".  Servers run until killed; each log line
is flushed at once.

--numbered sends "MSG-1", "MSG-2", ... instead of MSG every time.  --trace
prints, flushed as they happen, "start T" before the first send or the
connect, "sent MSG T" after each send that succeeded, "connected T" when a
connect completed and "reply T" when the reply came (T: time.time(), the
clock of `date +%s.%N`).  --stay S keeps the UDP socket open S seconds after
the last line (after "port N", its local port), e.g. while the test looks at
what it has in flight.  --bind binds the UDP socket first (an IPv6 ADDR in
brackets); --xfrm-bypass gives it the allow policy IKE daemons put on their
IKE sockets (xfrm_bypass.py).  stamp ends CMD when it is terminated.
"""
import errno
import signal
import socket
import subprocess
import sys
import time
import argparse
import select


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def log_line(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def udp_server(port, log):
    fam = socket.AF_INET6
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    open(log + f".ready-udp{port}", "w").close()
    while True:
        data, addr = s.recvfrom(65535)
        src = addr[0].removeprefix("::ffff:")
        log_line(log, f"udp {src} {data.decode(errors='replace')}")
        s.sendto(data, addr)


def tcp_server(port, log):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(16)
    open(log + f".ready-tcp{port}", "w").close()
    while True:
        c, addr = s.accept()
        c.settimeout(5)
        try:
            data = c.recv(65535)
            src = addr[0].removeprefix("::ffff:")
            log_line(log, f"tcp {src} {data.decode(errors='replace')}")
            c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()


def trace(a, what):
    if a.trace:
        print(f"{what} {time.time():.6f}", flush=True)


def report_errno(e, start):
    name = errno.errorcode.get(e.errno, str(e.errno))
    print(f"errno {name} {time.monotonic() - start:.3f}")
    sys.exit(2)


def udp_send(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    if a.xfrm_bypass:
        import xfrm_bypass

        xfrm_bypass.bypass(s)
    if a.bind:
        addr, _, port = a.bind.rpartition(":")
        s.bind((addr.strip("[]"), int(port)))
    # Sends on a blocking socket unless --nonblock: with a timeout set,
    # Python treats EAGAIN as "buffer full" and polls and resends until the
    # timeout.
    if a.nonblock:
        s.setblocking(False)
    reply = None
    sent, errors = 0, []
    trace(a, "start")
    for i in range(a.count):
        start = time.monotonic()
        msg = f"{a.msg}-{i + 1}" if a.numbered else a.msg
        try:
            s.sendto(msg.encode(), (a.host, a.port))
            sent += 1
            trace(a, f"sent {msg}")
        except OSError as e:
            if not a.keep_going:
                report_errno(e, start)
            name = errno.errorcode.get(e.errno, str(e.errno))
            if name not in errors:
                # At once: the caller may stop a long sender early.
                print(f"errno {name}", flush=True)
            errors.append(name)
        if i + 1 < a.count:
            time.sleep(a.interval)
    if a.no_reply or a.keep_going:
        print(f"sent {sent} failed {len(errors)}", " ".join(sorted(set(errors))))
        if a.stay:
            print(f"port {s.getsockname()[1]}", flush=True)
            time.sleep(a.stay)
        return
    s.settimeout(a.timeout)
    try:
        reply, _ = s.recvfrom(65535)
        trace(a, "reply")
    except socket.timeout:
        print("timeout")
        sys.exit(3)
    except OSError as e:
        report_errno(e, start)
    print("ok", reply.decode(errors="replace"))


def tcp_send(a):
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    trace(a, "start")
    start = time.monotonic()
    try:
        if a.nonblock:
            s.setblocking(False)
            rc = s.connect_ex((a.host, a.port))
            if rc not in (0, errno.EINPROGRESS):
                raise OSError(rc, "connect")
            _, w, _ = select.select([], [s], [], a.timeout)
            if not w:
                print("timeout")
                sys.exit(3)
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc:
                raise OSError(rc, "connect")
            s.setblocking(True)
        else:
            # --timeout 0: a truly blocking connect, no poll behind it.
            if a.timeout > 0:
                s.settimeout(a.timeout)
            s.connect((a.host, a.port))
        trace(a, "connected")
        if a.timeout > 0:
            s.settimeout(a.timeout)
        s.sendall(a.msg.encode())
        reply = s.recv(65535)
        trace(a, "reply")
    except socket.timeout:
        print("timeout")
        sys.exit(3)
    except OSError as e:
        report_errno(e, start)
    print("ok", reply.decode(errors="replace"), f"{time.monotonic() - start:.3f}")


def stamp(a):
    child = subprocess.Popen(a.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop(*_):
        child.terminate()
        child.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(a.out, "a") as f:
        for line in child.stdout:
            f.write(f"{time.time():.6f} {line.decode(errors='replace').rstrip()}\n")
            f.flush()
    sys.exit(child.wait())


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("udp-server", "tcp-server"):
        sp = sub.add_parser(name)
        sp.add_argument("port", type=int)
        sp.add_argument("log")
    for name in ("udp-send", "tcp-send"):
        sp = sub.add_parser(name)
        sp.add_argument("host")
        sp.add_argument("port", type=int)
        sp.add_argument("msg")
        sp.add_argument("--timeout", type=float, default=5)
        sp.add_argument("--nonblock", action="store_true")
        sp.add_argument("--count", type=int, default=1)
        sp.add_argument("--interval", type=float, default=0.1)
        sp.add_argument("--no-reply", action="store_true")
        sp.add_argument("--keep-going", action="store_true")
        sp.add_argument("--numbered", action="store_true")
        sp.add_argument("--trace", action="store_true")
        sp.add_argument("--stay", type=float, default=0)
        sp.add_argument("--bind")
        sp.add_argument("--xfrm-bypass", action="store_true")
    sp = sub.add_parser("stamp")
    sp.add_argument("out")
    sp.add_argument("argv", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.cmd == "udp-server":
        udp_server(a.port, a.log)
    elif a.cmd == "tcp-server":
        tcp_server(a.port, a.log)
    elif a.cmd == "udp-send":
        udp_send(a)
    elif a.cmd == "stamp":
        stamp(a)
    else:
        tcp_send(a)


if __name__ == "__main__":
    main()
