#!/usr/bin/env python3
"""Traffic ends for the VM tests: servers that record who talked to them,
and clients that report the exact errno of a failed call.

  peer.py udp-server PORT LOG       echo datagrams, log "udp SRC MSG" per datagram
  peer.py tcp-server PORT LOG       echo one message per connection, log "tcp SRC MSG"
                                    (both create LOG.ready-{udp,tcp}PORT once bound)
  peer.py udp-send HOST PORT MSG [--timeout S] [--count N] [--interval S]
                    [--no-reply] [--keep-going]
  peer.py tcp-send HOST PORT MSG [--timeout S] [--nonblock]

Clients print "ok <reply>" and exit 0, or "errno <NAME> <seconds>" and exit 2
(the call failed with that errno after that many seconds), or "timeout" and
exit 3.  With --keep-going, udp-send goes on after a failed send, prints
"errno NAME" the first time each errno occurs, and ends with
"sent N failed M [ERRNO...]".  Servers run until killed; each log line
is flushed at once.
"""
import errno
import socket
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


def report_errno(e, start):
    name = errno.errorcode.get(e.errno, str(e.errno))
    print(f"errno {name} {time.monotonic() - start:.3f}")
    sys.exit(2)


def udp_send(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    # Sends on a blocking socket: with a timeout set, Python treats EAGAIN
    # as "buffer full" and polls and resends until the timeout.
    reply = None
    sent, errors = 0, []
    for i in range(a.count):
        start = time.monotonic()
        try:
            s.sendto(f"{a.msg}".encode(), (a.host, a.port))
            sent += 1
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
        return
    s.settimeout(a.timeout)
    try:
        reply, _ = s.recvfrom(65535)
    except socket.timeout:
        print("timeout")
        sys.exit(3)
    except OSError as e:
        report_errno(e, start)
    print("ok", reply.decode(errors="replace"))


def tcp_send(a):
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
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
        if a.timeout > 0:
            s.settimeout(a.timeout)
        s.sendall(a.msg.encode())
        reply = s.recv(65535)
    except socket.timeout:
        print("timeout")
        sys.exit(3)
    except OSError as e:
        report_errno(e, start)
    print("ok", reply.decode(errors="replace"), f"{time.monotonic() - start:.3f}")


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
    a = p.parse_args()
    if a.cmd == "udp-server":
        udp_server(a.port, a.log)
    elif a.cmd == "tcp-server":
        tcp_server(a.port, a.log)
    elif a.cmd == "udp-send":
        udp_send(a)
    else:
        tcp_send(a)


if __name__ == "__main__":
    main()
