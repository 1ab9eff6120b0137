#!/usr/bin/env python3
"""A per-socket IPsec bypass, as IKE daemons put on their IKE sockets.

charon (strongSwan's kernel-netlink bypass_socket()) and pluto set an
"allow" policy on each IKE socket, out and in, with
setsockopt(SOL_IP, IP_XFRM_POLICY) (SOL_IPV6, IPV6_XFRM_POLICY): a socket
policy wins over the SPD's, so the IKE packets leave in plaintext even
where a tunnel policy covers them (a full tunnel, 0.0.0.0/0).

The option's value is a struct xfrm_userpolicy_info (include/uapi/linux/
xfrm.h) with no templates; xfrm_compile_policy() (net/xfrm/xfrm_user.c)
refuses one shorter than sizeof(struct xfrm_userpolicy_info), 168 bytes on
64-bit, and verify_newpolicy_info() one whose selector family is neither
AF_INET nor AF_INET6 (charon sets it; the rest of the selector is zero:
every flow).

  xfrm_bypass.py size    print the struct's size and field offsets
"""
import ctypes
import socket
import sys

IP_XFRM_POLICY = 17
IPV6_XFRM_POLICY = 35
XFRM_POLICY_IN = 0
XFRM_POLICY_OUT = 1
XFRM_POLICY_ALLOW = 0
XFRM_INF = 0xFFFFFFFFFFFFFFFF


class XfrmSelector(ctypes.Structure):
    _fields_ = [
        ("daddr", ctypes.c_uint8 * 16),
        ("saddr", ctypes.c_uint8 * 16),
        ("dport", ctypes.c_uint16),
        ("dport_mask", ctypes.c_uint16),
        ("sport", ctypes.c_uint16),
        ("sport_mask", ctypes.c_uint16),
        ("family", ctypes.c_uint16),
        ("prefixlen_d", ctypes.c_uint8),
        ("prefixlen_s", ctypes.c_uint8),
        ("proto", ctypes.c_uint8),
        ("ifindex", ctypes.c_int),
        ("user", ctypes.c_uint32),
    ]


class XfrmLifetimeCfg(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "soft_byte_limit", "hard_byte_limit", "soft_packet_limit", "hard_packet_limit",
        "soft_add_expires_seconds", "hard_add_expires_seconds",
        "soft_use_expires_seconds", "hard_use_expires_seconds")]


class XfrmLifetimeCur(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("bytes", "packets", "add_time", "use_time")]


class XfrmUserpolicyInfo(ctypes.Structure):
    _fields_ = [
        ("sel", XfrmSelector),
        ("lft", XfrmLifetimeCfg),
        ("curlft", XfrmLifetimeCur),
        ("priority", ctypes.c_uint32),
        ("index", ctypes.c_uint32),
        ("dir", ctypes.c_uint8),
        ("action", ctypes.c_uint8),
        ("flags", ctypes.c_uint8),
        ("share", ctypes.c_uint8),
    ]


# The layout the kernel expects (x86-64, checked against the uapi header).
assert ctypes.sizeof(XfrmSelector) == 56
assert ctypes.sizeof(XfrmUserpolicyInfo) == 168
assert XfrmUserpolicyInfo.priority.offset == 152 and XfrmUserpolicyInfo.dir.offset == 160


def allow_policy(family, direction):
    """An allow policy for every flow of FAMILY in DIRECTION, no templates."""
    p = XfrmUserpolicyInfo()
    p.sel.family = family
    # No limits, as `ip xfrm policy` sets them; zero (charon's memset)
    # means none as well.
    for f in ("soft_byte_limit", "hard_byte_limit", "soft_packet_limit", "hard_packet_limit"):
        setattr(p.lft, f, XFRM_INF)
    p.dir = direction
    p.action = XFRM_POLICY_ALLOW
    return bytes(p)


def bypass(sock):
    """Put the IKE daemons' bypass on SOCK: allow out and in."""
    if sock.family == socket.AF_INET6:
        level, opt = socket.IPPROTO_IPV6, IPV6_XFRM_POLICY
    else:
        level, opt = socket.IPPROTO_IP, IP_XFRM_POLICY
    for d in (XFRM_POLICY_OUT, XFRM_POLICY_IN):
        sock.setsockopt(level, opt, allow_policy(sock.family, d))


if __name__ == "__main__":
    if sys.argv[1:] != ["size"]:
        sys.exit(__doc__)
    print(ctypes.sizeof(XfrmUserpolicyInfo),
          " ".join(f"{n}@{getattr(XfrmUserpolicyInfo, n).offset}" for n, _ in XfrmUserpolicyInfo._fields_))
