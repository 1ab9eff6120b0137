#!/usr/bin/env python3
"""Send xfrm_nat requests as fast as one socket can, across module reloads.

  genl_race.py SECONDS SPID ADDR STOPFILE

Resolves the family, then loops map-new (replace), map-get, map-get dump
and map-del of SPID -> ADDR until the family goes (an rmmod), resolves it
again once it is back (an insmod), and so on, until SECONDS pass or
STOPFILE exists.  The command numbers and attribute types come from the
module's generated uapi (module/logic/src/uapi.rs, made from the spec).

Prints one line per module lifetime it saw:
  "life N answered A last_ok_to_gone_ms G"
where A counts the requests the module answered (any reply of the family,
success or a refusal) and G is the time from the last answer to the first
sign that the family was gone, and at the end "total answered T lives L".
"""
import errno
import os
import re
import socket
import struct
import sys
import time

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3


def uapi():
    """Command and attribute numbers from the generated uapi."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    text = open(os.path.join(top, "module/logic/src/uapi.rs")).read()
    consts = {}
    for mod, body in re.findall(r"pub mod (\w+) \{(.*?)\n\}", text, re.S):
        for name, value in re.findall(r"pub const (\w+): u\d+ = (\d+);", body):
            consts[f"{mod}.{name}"] = int(value)
    name = re.search(r'pub const FAMILY_NAME: &str = "([^"]+)";', text).group(1)
    return name, consts


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


class Genl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.settimeout(5)
        self.seq = 0

    def request(self, family, cmd, attrs=b"", flags=NLM_F_ACK):
        """Sends one request; returns the error of its ack (0 for success),
        or 0 at the end of a dump."""
        self.seq += 1
        payload = struct.pack("BBH", cmd, 1, 0) + attrs
        self.sock.send(struct.pack("IHHII", 16 + len(payload), family, NLM_F_REQUEST | flags, self.seq, 0) + payload)
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("IHHII", data, off)
                if seq == self.seq:
                    if kind == NLMSG_ERROR:
                        return -struct.unpack_from("i", data, off + 16)[0]
                    if kind == NLMSG_DONE:
                        return 0
                    if not flags & NLM_F_DUMP and kind == family:
                        pass  # a do-reply; its ack follows
                off += (length + 3) & ~3

    def resolve(self, name):
        """The family's id, or None if it is not registered."""
        self.seq += 1
        payload = struct.pack("BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
        self.sock.send(struct.pack("IHHII", 16 + len(payload), GENL_ID_CTRL, NLM_F_REQUEST, self.seq, 0) + payload)
        data = self.sock.recv(65536)
        length, kind = struct.unpack_from("IH", data, 0)
        if kind == NLMSG_ERROR:
            return None
        off = 20
        while off + 4 <= length:
            alen, akind = struct.unpack_from("HH", data, off)
            if akind == CTRL_ATTR_FAMILY_ID:
                return struct.unpack_from("H", data, off + 4)[0]
            off += (alen + 3) & ~3
        return None


def main():
    seconds, spid, addr, stopfile = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    name, c = uapi()
    af = socket.AF_INET6 if ":" in addr else socket.AF_INET
    spid_attr = attr(c["map_attr.SPID"], struct.pack("I", spid))
    new_attrs = spid_attr + attr(c["map_attr.ADDR"], socket.inet_pton(af, addr)) + attr(c["map_attr.REPLACE"], b"")
    ops = [
        (c["cmd.MAP_NEW"], new_attrs, NLM_F_ACK),
        (c["cmd.MAP_GET"], spid_attr, NLM_F_ACK),
        (c["cmd.MAP_GET"], b"", NLM_F_DUMP),
        (c["cmd.MAP_DEL"], spid_attr, NLM_F_ACK),
    ]
    nl = Genl()
    end = time.monotonic() + seconds
    lives = total = 0
    family = None
    answered = 0
    last_ok = 0.0
    while time.monotonic() < end and not os.path.exists(stopfile):
        if family is None:
            family = nl.resolve(name)
            if family is None:
                time.sleep(0.001)
                continue
            lives += 1
            answered = 0
        gone = False
        for cmd, attrs, flags in ops:
            try:
                err = nl.request(family, cmd, attrs, flags)
            except OSError:
                err = errno.ENOENT
                nl = Genl()
            # An unknown family id is ENOENT from the core; the module's own
            # refusals of these requests are EEXIST, ENOENT (map-del of
            # nothing), EINVAL and ENODEV.  Tell them apart by resolving.
            if err in (0, errno.EEXIST, errno.EINVAL, errno.ENODEV, errno.EOPNOTSUPP):
                answered += 1
                last_ok = time.monotonic()
            elif nl.resolve(name) != family:
                gone = True
                break
            else:
                answered += 1
                last_ok = time.monotonic()
        if gone:
            gap = (time.monotonic() - last_ok) * 1000 if answered else -1
            print(f"life {lives} answered {answered} last_ok_to_gone_ms {gap:.1f}", flush=True)
            total += answered
            family = None
    if family is not None:
        print(f"life {lives} answered {answered} last_ok_to_gone_ms -1 (still loaded)", flush=True)
        total += answered
    print(f"total answered {total} lives {lives}", flush=True)


if __name__ == "__main__":
    main()
