#!/usr/bin/env python3
"""A raw generic-netlink fuzzer for the xfrm_nat family.

  genl_fuzz.py SECONDS [--seed N] [--spid N]... [--addr ADDR]... [--mcast N]
                       [--min N]

For SECONDS, and at least N messages (--min, default 0), sends random and
mutated requests to the family: every operation (map-new, map-del, map-get
do and dump, flush) with valid, out-of-range and missing attributes;
attributes of wrong lengths, nested garbage, unknown attribute types,
attribute lengths that overrun the message; random netlink flags
(NLM_F_DUMP, ACK, REPLACE, CREATE, EXCL, ECHO...), unknown commands and
versions, truncated netlink and genetlink headers, several messages in one
datagram, and byte-level mutations of valid requests.  Socket options
(extended ack, strict checking, capped acks) change now and then.  At the
same time a thread subscribes sockets to, and unsubscribes them from, the
family's `events` multicast group (and a few other group ids), reads some
notifications, lets others overflow a tiny receive buffer, and closes
sockets while they are subscribed.  Every so often a valid map-get dump
checks that the family still answers.

The family, its commands and attribute types come from the module's
generated uapi (module/logic/src/uapi.rs, made from the spec), parsed as
tests/tools/genl_race.py does; the multicast group id from the controller.
Only the family's own message type is ever sent (no other family gets
garbage), apart from the controller lookups.

--spid and --addr give values the generator prefers (e.g. a real policy's
index and the address its selector admits, so that some requests create
working mappings); --mcast the number of multicast sockets kept open.

Prints, at the end, one figure a line:
  seconds S              how long it ran
  sent N                 messages sent (datagrams; a batch counts once)
  send_error ERRNO N     send() refused with ERRNO
  reply ack N            NLMSG_ERROR with error 0
  reply ERRNO N          NLMSG_ERROR with that error
  reply data N           messages of the family (do replies, dump parts)
  reply done N           NLMSG_DONE
  reply other N          anything else
  noreply N              requests that got nothing back (no ACK asked, or
                         ignored by the netlink core)
  write_ok N             map-new, map-del or flush acknowledged with 0
  health ok N fail N     valid dumps that completed / did not
  mcast joins N join_refused N leaves N closed_subscribed N
  mcast notifications N overruns N
Exits 1 if the family cannot be resolved or a health check failed, 2 on
an unexpected exception.
"""
import argparse
import errno
import os
import random
import re
import select
import socket
import struct
import sys
import threading
import time
from collections import Counter

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_DROP_MEMBERSHIP = 2
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12

GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_ECHO = 0x8
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP_FILTERED = 0x20
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_ATOMIC = 0x400
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
NLM_F_BULK = 0x200
NLM_F_NONREC = 0x100
FLAG_BITS = [NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO, NLM_F_DUMP_INTR, NLM_F_DUMP_FILTERED,
             NLM_F_ROOT, NLM_F_MATCH, NLM_F_ATOMIC, NLM_F_APPEND, 0x1000, 0x2000, 0x4000, 0x8000]
FLAG_SETS = [NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP | NLM_F_ACK, NLM_F_REPLACE | NLM_F_ACK,
             NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, NLM_F_CREATE | NLM_F_REPLACE, NLM_F_APPEND | NLM_F_ACK,
             NLM_F_ECHO | NLM_F_ACK, NLM_F_ATOMIC | NLM_F_DUMP, NLM_F_BULK | NLM_F_NONREC, 0]

NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000


def uapi():
    """Family name and numbers from the generated uapi, as genl_race.py."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    text = open(os.path.join(top, "module/logic/src/uapi.rs")).read()
    consts = {}
    for mod, body in re.findall(r"pub mod (\w+) \{(.*?)\n\}", text, re.S):
        for name, value in re.findall(r"pub const (\w+): u\d+ = (\d+);", body):
            consts[f"{mod}.{name}"] = int(value)
    name = re.search(r'pub const FAMILY_NAME: &str = "([^"]+)";', text).group(1)
    group = re.search(r'pub const MCGRP_EVENTS: &str = "([^"]+)";', text).group(1)
    return name, group, consts


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def nlmsg(kind, flags, seq, payload, length=None):
    if length is None:
        length = 16 + len(payload)
    return struct.pack("IHHII", length & 0xFFFFFFFF, kind, flags & 0xFFFF, seq & 0xFFFFFFFF, 0) + payload


def genl_hdr(cmd, version=1, reserved=0):
    return struct.pack("BBH", cmd & 0xFF, version & 0xFF, reserved & 0xFFFF)


def parse_attrs(data, off, end):
    out = {}
    while off + 4 <= end:
        alen, akind = struct.unpack_from("HH", data, off)
        if alen < 4:
            break
        out.setdefault(akind & 0x3FFF, data[off + 4:off + alen])
        off += (alen + 3) & ~3
    return out


def resolve(name, group):
    """The family id and the id of its multicast group `group`."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.settimeout(5)
    payload = genl_hdr(CTRL_CMD_GETFAMILY) + attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    s.send(nlmsg(GENL_ID_CTRL, NLM_F_REQUEST, 1, payload))
    data = s.recv(65536)
    s.close()
    length, kind = struct.unpack_from("IH", data, 0)
    if kind == NLMSG_ERROR:
        return None, None
    attrs = parse_attrs(data, 20, length)
    fid = struct.unpack("H", attrs[CTRL_ATTR_FAMILY_ID][:2])[0]
    gid = None
    groups = attrs.get(CTRL_ATTR_MCAST_GROUPS, b"")
    off = 0
    while off + 4 <= len(groups):
        glen, _ = struct.unpack_from("HH", groups, off)
        if glen < 4:
            break
        g = parse_attrs(groups, off + 4, off + glen)
        if g.get(CTRL_ATTR_MCAST_GRP_NAME, b"").rstrip(b"\0").decode() == group:
            gid = struct.unpack("I", g[CTRL_ATTR_MCAST_GRP_ID][:4])[0]
        off += (glen + 3) & ~3
    return fid, gid


def ename(e):
    if e == errno.EOPNOTSUPP:  # errorcode says ENOTSUP, the same number
        return "EOPNOTSUPP"
    return errno.errorcode.get(e, f"E{e}")


class Fuzzer:
    def __init__(self, args, family, c):
        self.rng = random.Random(args.seed)
        self.family = family
        self.c = c
        self.spids = args.spid or [305]
        self.addrs = [socket.inet_pton(socket.AF_INET6 if ":" in a else socket.AF_INET, a)
                      for a in (args.addr or ["10.20.30.2"])]
        self.ops = [
            ("map-new", c["cmd.MAP_NEW"], NLM_F_ACK),
            ("map-del", c["cmd.MAP_DEL"], NLM_F_ACK),
            ("map-get", c["cmd.MAP_GET"], NLM_F_ACK),
            ("map-dump", c["cmd.MAP_GET"], NLM_F_DUMP),
            ("flush", c["cmd.FLUSH"], NLM_F_ACK),
        ]
        self.writes = {c["cmd.MAP_NEW"], c["cmd.MAP_DEL"], c["cmd.FLUSH"]}
        self.maxattr = c["map_attr.MAX"]
        self.seq = 0
        self.stats = Counter()
        self.sock = None
        self.new_socket()

    # ------------------------------------------------------------ sockets

    def new_socket(self):
        if self.sock is not None:
            self.sock.close()
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for opt in (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_CAP_ACK):
            if self.rng.random() < 0.5:
                s.setsockopt(SOL_NETLINK, opt, 1)
        s.setblocking(False)
        self.sock = s

    # ------------------------------------------------------------ values

    def u32(self):
        r = self.rng
        return r.choice([0, 1, 7, 8, 9, 17, 100, 255, 256, 10000, 10001, 65535, 65536, 16777216, 16777217,
                         0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, r.getrandbits(32)])

    def spid(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(self.spids)
        if r < 0.8:
            return self.rng.choice([1, 9, 17, 25, 33, 305, 313, 321, 8 * self.rng.randrange(64) + 1])
        return self.u32()

    def addr(self):
        r = self.rng
        x = r.random()
        if x < 0.4:
            return r.choice(self.addrs)
        if x < 0.6:
            return bytes([10, 99, r.randrange(4), r.randrange(1, 255)])
        if x < 0.7:
            return bytes(16)
        if x < 0.8:
            return bytes([0xfd, 0]) + bytes(r.getrandbits(8) for _ in range(14))
        return bytes(r.getrandbits(8) for _ in range(r.choice([0, 1, 3, 4, 5, 8, 15, 16, 17, 32])))

    def valid_attrs(self, op):
        """Attributes as a well-behaved client sends them (values may still
        be refused: out of range, a policy that does not exist...)."""
        c, r = self.c, self.rng
        if op == "map-new":
            a = attr(c["map_attr.SPID"], struct.pack("I", self.spid()))
            a += attr(c["map_attr.ADDR"], self.addr())
            if r.random() < 0.5:
                a += attr(c["map_attr.REPLACE"], b"")
            if r.random() < 0.5:
                mode = r.choice([0, 1, 2, 2, 3, 255])
                a += attr(c["map_attr.PENDING"], struct.pack("B", mode))
                if mode == 2 or r.random() < 0.2:
                    if r.random() < 0.6:
                        a += attr(c["map_attr.HOLD_PACKETS"], struct.pack("I", r.choice([1, 8, 100, 10000, 10001, 0, self.u32()])))
                    if r.random() < 0.6:
                        a += attr(c["map_attr.HOLD_BYTES"], struct.pack("I", r.choice([1, 2048, 262144, 16777216, 16777217, 0, self.u32()])))
            return a
        if op in ("map-del", "map-get"):
            return attr(c["map_attr.SPID"], struct.pack("I", self.spid())) if r.random() < 0.9 else b""
        return b""

    def bad_attr(self):
        """One malformed or unexpected attribute."""
        c, r = self.c, self.rng
        kind = r.randrange(9)
        if kind == 0:  # a known attribute with a wrong payload length
            t = r.choice([c["map_attr.SPID"], c["map_attr.PENDING"], c["map_attr.HOLD_PACKETS"],
                          c["map_attr.HOLD_BYTES"], c["map_attr.REPLACE"], c["map_attr.ADDR"]])
            return attr(t, bytes(r.getrandbits(8) for _ in range(r.choice([0, 1, 2, 3, 5, 6, 8, 17, 64]))))
        if kind == 1:  # nested garbage, under a known or unknown type
            inner = b"".join(attr(r.randrange(0x4000), bytes(r.getrandbits(8) for _ in range(r.randrange(12))))
                             for _ in range(r.randrange(4)))
            if r.random() < 0.5:
                inner += bytes(r.getrandbits(8) for _ in range(r.randrange(1, 9)))
            return attr(r.choice([c["map_attr.SELECTOR"], c["map_attr.STATS"], c["map_attr.SPID"],
                                  r.randrange(self.maxattr + 1)]) | NLA_F_NESTED, inner)
        if kind == 2:  # unknown attribute types
            return attr(r.choice([0, self.maxattr + 1, self.maxattr + 2, 100, 0x3FFF, r.randrange(0x4000)]),
                        bytes(r.getrandbits(8) for _ in range(r.randrange(9))))
        if kind == 3:  # reply-only attributes in a request
            return attr(r.choice([c["map_attr.STATE"], c["map_attr.SELECTOR"], c["map_attr.STATS"],
                                  c["map_attr.SA_STATE"]]), bytes(r.getrandbits(8) for _ in range(r.choice([1, 4, 8]))))
        if kind == 4:  # byte-order and nested bits on scalars
            return attr(c["map_attr.SPID"] | r.choice([NLA_F_NET_BYTEORDER, NLA_F_NESTED]), struct.pack("I", self.spid()))
        if kind == 5:  # nla_len past the end of the message
            return struct.pack("HH", r.choice([8, 64, 0xFFFF]), c["map_attr.SPID"]) + struct.pack("I", self.spid())
        if kind == 6:  # nla_len below the header
            return struct.pack("HH", r.randrange(4), r.randrange(self.maxattr + 2)) + bytes(4)
        if kind == 7:  # the same attribute twice
            a = attr(c["map_attr.SPID"], struct.pack("I", self.spid()))
            return a + attr(c["map_attr.SPID"], struct.pack("I", self.spid()))
        return bytes(r.getrandbits(8) for _ in range(r.randrange(1, 24)))  # trailing junk

    def flags(self, base):
        r = self.rng
        x = r.random()
        if x < 0.5:
            f = base
        elif x < 0.8:
            f = r.choice(FLAG_SETS)
        else:
            f = 0
            for b in FLAG_BITS:
                if r.random() < 0.25:
                    f |= b
        if r.random() < 0.95:
            f |= NLM_F_REQUEST
        else:
            f &= ~NLM_F_REQUEST
        return f

    # ------------------------------------------------------------ messages

    def message(self):
        """One datagram."""
        r = self.rng
        name, cmd, base = r.choice(self.ops)
        flags = self.flags(base)
        version = 1 if r.random() < 0.9 else r.choice([0, 2, 255])
        attrs = self.valid_attrs(name)
        kind = r.randrange(10)
        if kind in (0, 1):  # well-formed
            pass
        elif kind == 2:  # extra malformed attributes
            pieces = [attrs] + [self.bad_attr() for _ in range(r.randrange(1, 4))]
            r.shuffle(pieces)
            attrs = b"".join(pieces)
        elif kind == 3:  # only garbage
            attrs = b"".join(self.bad_attr() for _ in range(r.randrange(0, 5)))
        elif kind == 4:  # unknown or notification commands
            cmd = r.choice([0, self.c["cmd.MAP_CHANGE_NTF"], self.c["cmd.MAP_DEL_NTF"], self.c["cmd.SA_NTF"],
                            self.c["cmd.MAX"] + 1, 128, 255, r.randrange(256)])
        elif kind == 5:  # truncated headers, wrong nlmsg_len
            self.seq += 1
            full = genl_hdr(cmd, version) + attrs
            cut = r.choice(["nl", "genl", "attrs", "long", "short"])
            if cut == "nl":
                raw = nlmsg(self.family, flags, self.seq, b"")[: r.randrange(1, 16)]
            elif cut == "genl":
                raw = nlmsg(self.family, flags, self.seq, full[: r.randrange(4)])
            elif cut == "attrs" and len(attrs) > 1:
                raw = nlmsg(self.family, flags, self.seq, full[: 4 + r.randrange(1, len(attrs))])
            elif cut == "long":
                raw = nlmsg(self.family, flags, self.seq, full, length=16 + len(full) + r.choice([1, 4, 64, 4096]))
            else:
                raw = nlmsg(self.family, flags, self.seq, full, length=r.choice([0, 4, 15, 16, 17, 19]))
            return raw
        elif kind == 6:  # several messages in one datagram
            raws = []
            for _ in range(r.randrange(2, 5)):
                n, c2, b2 = r.choice(self.ops)
                self.seq += 1
                raws.append(nlmsg(self.family, self.flags(b2), self.seq, genl_hdr(c2) + self.valid_attrs(n)))
            return b"".join(raws)
        elif kind == 7:  # reserved field set
            self.seq += 1
            return nlmsg(self.family, flags, self.seq, genl_hdr(cmd, version, r.getrandbits(16)) + attrs)
        else:  # byte-level mutations of a valid request
            self.seq += 1
            raw = bytearray(nlmsg(self.family, flags, self.seq, genl_hdr(cmd, version) + attrs))
            for _ in range(r.randrange(1, 5)):
                m = r.randrange(4)
                # Keep nlmsg_type: only this family gets garbage.
                if m == 0 and len(raw) > 20:
                    raw[r.randrange(20, len(raw))] = r.getrandbits(8)
                elif m == 1 and len(raw) > 20:
                    i = r.randrange(20, len(raw))
                    raw[i] ^= 1 << r.randrange(8)
                elif m == 2:
                    raw += bytes(r.getrandbits(8) for _ in range(r.randrange(1, 9)))
                    struct.pack_into("I", raw, 0, len(raw))
                elif len(raw) > 20:
                    del raw[r.randrange(20, len(raw)):]
                    struct.pack_into("I", raw, 0, len(raw))
            if r.random() < 0.5:
                struct.pack_into("H", raw, 6, self.flags(base))
            return bytes(raw)
        self.seq += 1
        return nlmsg(self.family, flags, self.seq, genl_hdr(cmd, version) + attrs)

    # ------------------------------------------------------------ replies

    def writes_in(self, raw):
        """The sequence numbers of the write requests (map-new, map-del,
        flush) in a datagram that the netlink core would pass to a
        handler: a complete header, NLM_F_REQUEST, not a dump."""
        seqs = set()
        off = 0
        while off + 16 <= len(raw):
            length, _, flags, seq, _ = struct.unpack_from("IHHII", raw, off)
            if length < 16 or off + length > len(raw):
                break
            if length >= 17 and flags & NLM_F_REQUEST and flags & NLM_F_DUMP != NLM_F_DUMP and raw[off + 16] in self.writes:
                seqs.add(seq)
            off += (length + 3) & ~3
        return seqs

    def drain(self, writes):
        """Reads what the kernel queued for the request (it handles it
        within send(); later dump parts come on recv()).  An ack of 0 to
        one of `writes` (sequence numbers) is a write that succeeded."""
        got = 0
        deadline = time.monotonic() + 2
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                # A dump may still be producing its next part.
                if got and time.monotonic() < deadline and select.select([self.sock], [], [], 0.001)[0]:
                    continue
                break
            except OSError as e:
                self.stats[f"recv_error {ename(e.errno)}"] += 1
                break
            off = 0
            while off + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, off)
                got += 1
                if kind == NLMSG_ERROR:
                    err = -struct.unpack_from("i", data, off + 16)[0]
                    if err == 0:
                        self.stats["reply ack"] += 1
                        if seq in writes:
                            self.stats["write_ok"] += 1
                    else:
                        self.stats[f"reply {ename(err)}"] += 1
                elif kind == NLMSG_DONE:
                    self.stats["reply done"] += 1
                elif kind == self.family:
                    self.stats["reply data"] += 1
                else:
                    self.stats["reply other"] += 1
                if length < 16:
                    break
                off += (length + 3) & ~3
        if not got:
            self.stats["noreply"] += 1

    def health(self):
        """A valid map-get dump on a fresh socket must end with DONE."""
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        s.settimeout(10)
        try:
            s.send(nlmsg(self.family, NLM_F_REQUEST | NLM_F_DUMP, 1, genl_hdr(self.c["cmd.MAP_GET"])))
            while True:
                data = s.recv(1 << 16)
                off = 0
                while off + 16 <= len(data):
                    length, kind = struct.unpack_from("IH", data, off)
                    if kind == NLMSG_DONE:
                        self.stats["health ok"] += 1
                        return
                    if kind == NLMSG_ERROR:
                        err = -struct.unpack_from("i", data, off + 16)[0]
                        print(f"health: dump answered {ename(err)}", flush=True)
                        self.stats["health fail"] += 1
                        return
                    off += (length + 3) & ~3
        except OSError as e:
            print(f"health: {e}", flush=True)
            self.stats["health fail"] += 1
        finally:
            s.close()

    def step(self):
        raw = self.message()
        try:
            self.sock.send(raw)
            self.stats["sent"] += 1
        except OSError as e:
            self.stats[f"send_error {ename(e.errno)}"] += 1
            return
        self.drain(self.writes_in(raw))


class McastChurn(threading.Thread):
    """Subscribes and unsubscribes sockets to the events group."""

    def __init__(self, gid, keep, seed, stop):
        super().__init__(daemon=True)
        self.gid, self.keep, self.stop = gid, keep, stop
        self.rng = random.Random(seed ^ 0x5A5A)
        self.stats = Counter()
        self.error = None

    def run(self):
        try:
            self.churn()
        except Exception as e:  # reported by the main thread
            self.error = e

    def churn(self):
        r = self.rng
        socks = []
        while not self.stop.is_set():
            x = r.random()
            if x < 0.4 or not socks:
                if len(socks) >= self.keep:
                    s = socks.pop(r.randrange(len(socks)))
                    self.stats["closed_subscribed"] += 1
                    s.close()
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
                # Bound (a port id): the kernel's multicasts skip sockets
                # without one.
                s.bind((0, 0))
                if r.random() < 0.3:
                    # A tiny buffer: notifications overflow it (ENOBUFS).
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256)
                s.setblocking(False)
                gid = self.gid if r.random() < 0.9 else r.choice([0, self.gid + 1, 0xFFFF, r.getrandbits(32)])
                try:
                    s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, struct.pack("I", gid))
                    self.stats["joins"] += 1
                except OSError:
                    self.stats["join_refused"] += 1
                socks.append(s)
            elif x < 0.7:
                s = r.choice(socks)
                while True:
                    try:
                        s.recv(1 << 16)
                        self.stats["notifications"] += 1
                    except BlockingIOError:
                        break
                    except OSError as e:
                        if e.errno == errno.ENOBUFS:
                            self.stats["overruns"] += 1
                            continue
                        raise
            elif x < 0.85:
                s = socks.pop(r.randrange(len(socks)))
                try:
                    s.setsockopt(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, struct.pack("I", self.gid))
                    self.stats["leaves"] += 1
                except OSError:
                    self.stats["leave_refused"] += 1
                s.close()
            else:
                s = r.choice(socks)
                try:
                    s.setsockopt(SOL_NETLINK, r.choice([NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP]), struct.pack("I", self.gid))
                except OSError:
                    pass
            time.sleep(0.002)
        for s in socks:
            s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seconds", type=float)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--spid", type=int, action="append")
    p.add_argument("--addr", action="append")
    p.add_argument("--mcast", type=int, default=6)
    p.add_argument("--min", type=int, default=0)
    args = p.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    name, group, c = uapi()
    family, gid = resolve(name, group)
    if family is None:
        print(f"family {name} is not registered", flush=True)
        return 1
    if gid is None:
        print(f"family {name} has no multicast group {group}", flush=True)
        return 1
    print(f"seed {args.seed} family {family} group {gid} uid {os.getuid()}", flush=True)

    fz = Fuzzer(args, family, c)
    stop = threading.Event()
    churn = McastChurn(gid, args.mcast, args.seed, stop)
    churn.start()
    start = time.monotonic()
    end = start + args.seconds
    n = 0
    while time.monotonic() < end or n < args.min:
        fz.step()
        n += 1
        if n % 200 == 0:
            fz.health()
        if n % 500 == 0:
            fz.new_socket()
    fz.health()
    stop.set()
    churn.join(10)
    if churn.error is not None:
        print(f"mcast thread: {churn.error!r}", flush=True)
        return 2

    s = fz.stats
    print(f"seconds {time.monotonic() - start:.1f}")
    print(f"sent {s['sent']}")
    for k in sorted(k for k in s if k.startswith("send_error ")):
        print(f"{k} {s[k]}")
    for k in sorted(k for k in s if k.startswith("reply ")):
        print(f"{k} {s[k]}")
    for k in sorted(k for k in s if k.startswith("recv_error ")):
        print(f"{k} {s[k]}")
    print(f"noreply {s['noreply']}")
    print(f"write_ok {s['write_ok']}")
    print(f"health ok {s['health ok']} fail {s['health fail']}")
    m = churn.stats
    print(f"mcast joins {m['joins']} join_refused {m['join_refused']} leaves {m['leaves']} "
          f"closed_subscribed {m['closed_subscribed']}")
    print(f"mcast notifications {m['notifications']} overruns {m['overruns']}", flush=True)
    return 1 if s["health fail"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - any crash of the fuzzer fails the section
        print(f"fuzzer crashed: {e!r}", flush=True)
        raise SystemExit(2)
