// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
// Generated from Documentation/netlink/specs/xfrm_nat.yaml by scripts/gen-uapi.py. Do not edit.

/// Source NAT of outgoing traffic into an IPsec (xfrm) policy.
/// A mapping names outbound SPD policies by a key, and an address (or a
/// prefix).  The key is a policy index (spid), or a reqid: then the mapping
/// binds every outbound main policy with a template of that reqid, and
/// follows them as the key manager deletes and re-adds them under new
/// indexes.  A new outgoing flow that a bound policy's selector would match
/// once its source is translated is source-NATed, and so enters that
/// policy's tunnel.  A prefix mapping (from and prefix-len) translates a
/// whole source prefix 1:1, each host keeping its host part, as iptables'
/// NETMAP does.
/// Precedence: among the bound policies whose selector matches a flow (and
/// whose mapping's from prefix contains the flow's source), the one with the
/// lowest policy priority wins, then the longest destination prefix, then a
/// spid mapping before a reqid mapping, then the lowest key, then the lowest
/// policy index.  So a spid mapping wins over a reqid mapping that binds the
/// same policy.
/// Write operations need CAP_NET_ADMIN in the user namespace that owns the
/// network namespace (uns-admin-perm, GENL_UNS_ADMIN_PERM).
/// Mappings and events are per network namespace.
pub const FAMILY_NAME: &str = "xfrm_nat";
/// Generic netlink family version (genlmsghdr.version).
pub const FAMILY_VERSION: u8 = 1;
/// Multicast group `events`.
pub const MCGRP_EVENTS: &str = "events";
/// The most mappings one network namespace may hold, and the default of
/// the max_mappings module parameter, which can only lower it.
pub const MAX_MAPPINGS: u64 = 65536;
/// Default of the max_hold_bytes module parameter: bytes the hold
/// queues of one network namespace may reserve (64 MiB).
pub const MAX_HOLD_BYTES_DEFAULT: u64 = 67108864;
/// Default of the max_hold_bytes_total module parameter: bytes the hold
/// queues of all network namespaces together may reserve (256 MiB).
pub const MAX_HOLD_BYTES_TOTAL_DEFAULT: u64 = 268435456;

/// Generic netlink commands (genlmsghdr.cmd).
pub mod cmd {
    /// Create a mapping.  Fails with EEXIST if one exists for the key,
    /// unless the replace flag is given.  Fails if policies of the key
    /// exist but none can carry the mapping's flows, unless it carries a
    /// name: then it is installed inactive, with the reason.  With a
    /// name, also deletes the other mapping of that name, atomically.
    pub const MAP_NEW: u8 = 1;
    /// Delete the mapping of a spid or reqid (ENOENT if there is none).
    pub const MAP_DEL: u8 = 2;
    /// Get one mapping, or dump all of the namespace's mappings.
    pub const MAP_GET: u8 = 3;
    /// Delete all mappings of the namespace.
    pub const FLUSH: u8 = 4;
    /// A mapping was created, replaced, activated or deactivated.
    pub const MAP_CHANGE_NTF: u8 = 5;
    /// A mapping was deleted (by map-del or flush).
    pub const MAP_DEL_NTF: u8 = 6;
    /// The SA of a bound policy (spid: its index) became pending (ACQUIRE
    /// sent) or was established (an SA the ACQUIRE asked for was
    /// installed).
    pub const SA_NTF: u8 = 7;
    /// Replace the namespace's whole set of mappings, atomically: the
    /// packet path sees the old set or the new one, never a mix.  The new
    /// set is the mapping attributes of the request (none: no mappings).
    /// Every entry is checked before anything changes; a refused entry
    /// refuses the request, and the extack message starts with "entry N: "
    /// (N counts mapping attributes from 1).  A mapping whose key,
    /// address, prefix, from, inbound flag, remote prefixes, zone,
    /// pending mode and hold limits stay the same keeps its counters and
    /// hold queue.  Duplicate keys and duplicate names are refused.
    pub const MAP_SET: u8 = 8;
    /// Highest command value.
    pub const MAX: u8 = 8;
}

/// Snapshot of the mapped policy's selector (struct xfrm_selector).
pub mod selector_attr {
    /// AF_INET or AF_INET6.
    pub const FAMILY: u16 = 1;
    /// Destination address, 4 or 16 bytes.
    pub const DADDR: u16 = 2;
    /// Source address, 4 or 16 bytes.
    pub const SADDR: u16 = 3;
    pub const PREFIXLEN_D: u16 = 4;
    pub const PREFIXLEN_S: u16 = 5;
    /// IP protocol, 0 for any.
    pub const PROTO: u16 = 6;
    pub const DPORT: u16 = 7;
    pub const DPORT_MASK: u16 = 8;
    pub const SPORT: u16 = 9;
    pub const SPORT_MASK: u16 = 10;
    /// Output interface, 0 for any.
    pub const IFINDEX: u16 = 11;
    /// The policy's priority; among mappings that match, the lowest wins.
    pub const PRIORITY: u16 = 12;
    /// The policy's index.
    pub const INDEX: u16 = 13;
    /// Highest attribute type.
    pub const MAX: u16 = 13;
}

/// Per-mapping counters, since the mapping was created.
pub mod stats_attr {
    /// New flows source-NATed by this mapping.
    pub const FLOWS: u16 = 1;
    /// New flows whose source the mapping admits and whose destination
    /// its policy selects, but which the SPD, asked as the packet will
    /// be asked after translation (its socket's policy, its mark, the
    /// xfrm interface it leaves by, a policy of higher precedence), does
    /// not give to a policy the mapping binds.  They are left
    /// untranslated: e.g. an IKE daemon's own packets on a full-tunnel
    /// policy, which its socket's bypass policy keeps out of the tunnel.
    pub const DECLINED: u16 = 12;
    /// Packets of a flow NATed to this mapping's address that were
    /// dropped because they would have left without IPsec.
    pub const FAIL_CLOSED_DROPS: u16 = 2;
    /// Packets of flows that conntrack confirmed before they could be
    /// translated (they began before the first mapping of the
    /// namespace, e.g. while a filter-only ruleset kept conntrack
    /// active).  Conntrack cannot translate a confirmed flow; its entry
    /// is removed and the packet dropped, so that the flow's next packet
    /// starts a new flow that is translated.
    pub const STALE_ENTRIES: u16 = 13;
    /// New flows refused (eagain mode) while the SA was pending.
    pub const PENDING_REFUSED: u16 = 3;
    /// New flows dropped (drop mode) while the SA was pending.
    pub const PENDING_DROPS: u16 = 4;
    /// New flows of non-blocking local senders (O_NONBLOCK, or kernel
    /// sockets, which nobody waits on) that met a pending SA in eagain
    /// mode.  EAGAIN would make such a sender spin, and a drop would
    /// cost it a retransmission timeout; instead its packet waits,
    /// translated, in the namespace's queue for such packets (64
    /// packets and 128 KiB per address family) and leaves as soon as
    /// the SA is installed.  It is dropped if that queue is full or no
    /// SA comes within net.core.xfrm_acq_expires.
    pub const PENDING_NONBLOCK_HELD: u16 = 11;
    /// Packets of non-blocking local senders (see pending-nonblock-held)
    /// dropped because the namespace's queue for such packets was full
    /// (64 packets or 128 KiB per address family), or because they
    /// could not be translated there.  The sender sees no error: a TCP
    /// connect waits for its SYN retransmission.  (Those dropped because
    /// no SA came within net.core.xfrm_acq_expires are not counted: the
    /// queue does not know their mapping then.)
    pub const PENDING_NONBLOCK_DROPS: u16 = 14;
    /// New flows that the remote side started towards the mapping's to
    /// prefix (inbound mappings only), which arrived decrypted by an SA
    /// of a bound policy's reqid and were destination-NATed into the
    /// from prefix.
    pub const INBOUND_FLOWS: u16 = 15;
    /// New flows towards the mapping's to prefix (inbound mappings
    /// only) that did not arrive through an SA of a bound policy's
    /// reqid (plaintext from the WAN, another tunnel, the LAN), or that
    /// came while the mapping bound no policy.  They are dropped, not
    /// translated.
    pub const INBOUND_REFUSED: u16 = 16;
    /// Packets queued (hold mode) while the SA was pending.
    pub const HELD: u16 = 5;
    /// Held packets sent, encrypted, once the SA was installed.
    pub const RELEASED: u16 = 6;
    /// Packets dropped because the hold queue was full.
    pub const HOLD_OVERFLOW_DROPS: u16 = 7;
    /// Held packets dropped when the ACQUIRE lifetime ran out.
    pub const HOLD_TIMEOUT_DROPS: u16 = 8;
    /// Held packets dropped on release for another reason (e.g. a
    /// duplicate TCP SYN whose connection the first one set up).
    pub const HOLD_ERROR_DROPS: u16 = 9;
    /// Packets in the hold queue now.
    pub const HOLD_QUEUED: u16 = 10;
    /// Highest attribute type.
    pub const MAX: u16 = 16;
}

/// Attributes of the `map` attribute set.
pub mod map_attr {
    /// Key: index of an outbound xfrm policy (ip xfrm policy prints it
    /// as index; setkey as spid).  spid & 7 must be 1 (XFRM_POLICY_OUT).
    /// A request names a mapping by spid or by reqid, not both.  In
    /// sa-ntf, the index of the policy whose SA changed.
    pub const SPID: u16 = 1;
    /// Address to translate the source to: 4 bytes (IPv4) or 16 bytes
    /// (IPv6), network byte order.  With prefix-len, the prefix to
    /// translate into (host bits must be clear).
    pub const ADDR: u16 = 2;
    pub const STATE: u16 = 3;
    /// In replies: the selector of the lowest-index bound policy (all
    /// bound policies are listed as policy attributes).
    pub const SELECTOR: u16 = 4;
    pub const STATS: u16 = 5;
    /// In map-new: replace the mapping of the spid if there is one.
    /// (Generic netlink refuses NLM_F_REPLACE and friends in new
    /// families, so the request carries it as an attribute.)
    pub const REPLACE: u16 = 6;
    /// What to do while the policy's SA is pending; default eagain.
    pub const PENDING: u16 = 7;
    /// Hold mode: the most packets the queue holds (default 100, at most
    /// 10000).  Only with pending hold.
    pub const HOLD_PACKETS: u16 = 8;
    /// Hold mode: the most memory (skb truesize) the queue holds (default
    /// 262144, at most 16777216).  Only with pending hold.
    pub const HOLD_BYTES: u16 = 9;
    /// In sa-ntf, what happened to the SA of the mapped policy.
    pub const SA_STATE: u16 = 10;
    /// In map-set: one mapping of the new set, with the attributes of a
    /// map-new request (spid or reqid, addr, and optionally prefix-len,
    /// from, from-prefix-len, pending, hold-packets, hold-bytes,
    /// inbound, remote, remote-alias, remote-prefix-len, zone,
    /// name).
    /// Repeated, once per mapping.
    pub const MAPPING: u16 = 11;
    /// Key: the reqid of the templates of the outbound policies to bind
    /// (swanctl.conf's reqid, libreswan's reqid=).  Not 0, which the
    /// kernel treats as "any".  Every outbound main policy with a
    /// template of this reqid (any of its templates) whose selector
    /// admits the mapping's address or prefix is bound; policies of the
    /// other family are skipped.
    pub const REQID: u16 = 12;
    /// Length of the prefix in addr.  Absent: the full length, a single
    /// address.  Shorter needs from, with the same length.
    pub const PREFIX_LEN: u16 = 13;
    /// Source prefix whose flows the mapping translates, 1:1 into the
    /// prefix of addr (host part kept).  Absent: any source (single
    /// address mappings only).
    pub const FROM: u16 = 14;
    /// Length of from's prefix; must equal prefix-len.
    pub const FROM_PREFIX_LEN: u16 = 15;
    /// In replies: the index of a policy the mapping binds now,
    /// repeated, in index order.
    pub const POLICY: u16 = 16;
    /// In replies, for an inactive mapping, why no policy is bound.
    pub const REASON: u16 = 17;
    /// A prefix mapping (from) also admits the flows the remote side
    /// starts towards its prefix (addr/prefix-len): a new flow whose
    /// destination is in addr's prefix, and which arrived decrypted by
    /// an inbound SA whose reqid is that of a template of a policy the
    /// mapping binds, is destination-NATed to the same host part in
    /// from; its replies leave through the tunnel with the mapped
    /// source, and are dropped if they would leave without IPsec.  Any
    /// other new flow towards the prefix is dropped (inbound-refused).
    /// Without it, the mapping translates locally started flows only.
    pub const INBOUND: u16 = 18;
    /// The remote prefix as the bound policies' destination selectors
    /// and the remote site name it (e.g. 192.168.1.0/24, a LAN that
    /// overlaps the local one), which local hosts address as
    /// remote-alias instead (twice NAT).  A new flow from a local host
    /// (or the gateway itself) to an address of remote-alias gets that
    /// address's host part in remote as its destination, before the
    /// route and policy lookup, and its source translated as any flow
    /// of the mapping (counted in flows); replies come back from the
    /// alias.  Such a mapping takes only the flows sent to its alias,
    /// not those sent to the remote prefix itself (which may be
    /// another site's, or the local LAN's).  A flow an inbound mapping
    /// admits whose source is in remote appears to the local host as
    /// coming from the alias.
    /// Every bound policy's destination selector must contain the whole
    /// remote prefix.  A packet whose destination was translated never
    /// leaves without IPsec: it is dropped (fail-closed-drops) instead.
    /// With remote-alias and remote-prefix-len.
    pub const REMOTE: u16 = 19;
    /// The prefix local hosts address the remote prefix by, of the same
    /// family and length.  The remote aliases of a namespace's mappings
    /// may not overlap.
    pub const REMOTE_ALIAS: u16 = 20;
    /// Length of the remote and remote-alias prefixes.
    pub const REMOTE_PREFIX_LEN: u16 = 21;
    /// The conntrack zone of the mapping's flows with its remote prefix
    /// (needs remote): those sent to its alias, and those that arrive
    /// decrypted by an SA of a policy it binds, from the remote prefix
    /// to its own.  Two sites with the same LAN, reached through the
    /// same mapped prefix (their policies told apart by a mark or an
    /// xfrm interface), can then have flows with identical addresses
    /// and ports at once: in different zones, conntrack keeps them
    /// apart.  The zone is attached just before conntrack (priority
    /// -201), to packets that have none yet: one set by a rule of the
    /// raw table (iptables' CT target, nftables' ct zone set) stands.
    /// Absent: the default zone.  Choose zones no other rule uses.  A
    /// kernel built without CONFIG_NF_CONNTRACK_ZONES, which would
    /// ignore the zone, refuses it with EOPNOTSUPP.
    pub const ZONE: u16 = 22;
    /// The name of the IKE child that a daemon keeps the mapping for
    /// (strongSwan's CONNECTION/CHILD, libreswan's connection name):
    /// 1 to 63 bytes, no whitespace.  A map-new carrying a name deletes,
    /// in the same atomic change, any other mapping of the namespace
    /// with that name (the child came back under another key): the
    /// packet path sees the old mapping or the new one, never neither
    /// or both, and the deleted key is announced in a map-del-ntf.  A
    /// named mapping whose key's policies exist but none can carry its
    /// flows is not refused, unlike an unnamed one: it is installed
    /// inactive, with the reason, so that the refusal stays visible
    /// where the mapping is listed.  Names are unique in a namespace;
    /// map-set refuses a duplicate.
    pub const NAME: u16 = 23;
    /// Highest attribute type.
    pub const MAX: u16 = 23;
}

/// Whether the mapped policy exists, so that the mapping translates.
pub mod map_state {
    /// No outbound policy of the key exists in the namespace, or none
    /// that can carry the mapping's flows (see reason).
    pub const INACTIVE: u8 = 0;
    /// At least one policy of the key is bound; its selector is used to
    /// pick flows.
    pub const ACTIVE: u8 = 1;
    /// Every value with its name in the spec, in value order; see
    /// [`super::name_of`] and [`super::value_of`].
    pub const NAMES: [(&str, u8); 2] = [
        ("inactive", INACTIVE),
        ("active", ACTIVE),
    ];
}

/// What happens to a new flow while the mapped policy's SA is pending.
pub mod pending_mode {
    /// Refuse the packet: a blocking local sender gets EAGAIN from the
    /// very call (a TCP connect fails with EAGAIN).  A non-blocking
    /// local sender (O_NONBLOCK, or a kernel socket, which nobody waits
    /// on) would take EAGAIN as "poll, then retry", find the socket
    /// writable and spin, and a drop would cost it a retransmission
    /// timeout; instead its packet waits, translated, in the
    /// namespace's queue for such packets (64 packets and 128 KiB per
    /// address family) and leaves as soon as the SA is installed
    /// (counted in pending-nonblock-held): its call succeeds, and a TCP
    /// connect completes then, not at a SYN retransmission.  It is
    /// dropped if that queue is full or no SA comes within
    /// net.core.xfrm_acq_expires.  Forwarded packets are dropped.
    pub const EAGAIN: u8 = 0;
    /// Drop the packet silently.
    pub const DROP: u8 = 1;
    /// Queue the packet, translated, in a bounded queue of the mapping
    /// (hold-packets, hold-bytes; and at most the ACQUIRE lifetime,
    /// sysctl net.core.xfrm_acq_expires).  When an SA is installed the
    /// queue is released in order, encrypted.  A local sender's call
    /// succeeds.
    pub const HOLD: u8 = 2;
    /// Every value with its name in the spec, in value order; see
    /// [`super::name_of`] and [`super::value_of`].
    pub const NAMES: [(&str, u8); 3] = [
        ("eagain", EAGAIN),
        ("drop", DROP),
        ("hold", HOLD),
    ];
}

/// The state of the SA of a mapped policy, as the key manager reports it.
pub mod sa_state {
    /// The kernel asked the key manager for an SA (ACQUIRE) for the
    /// policy; new flows meet the mapping's pending mode.
    pub const PENDING: u8 = 0;
    /// An SA that the pending request asked for was installed.
    pub const ESTABLISHED: u8 = 1;
    /// Every value with its name in the spec, in value order; see
    /// [`super::name_of`] and [`super::value_of`].
    pub const NAMES: [(&str, u8); 2] = [
        ("pending", PENDING),
        ("established", ESTABLISHED),
    ];
}

/// Bounds that the `checks` of the spec put on attributes of `map`.
pub mod map_checks {
    pub const ADDR_MIN_LEN: u16 = 4;
    pub const ADDR_MAX_LEN: u16 = 16;
    pub const HOLD_PACKETS_MIN: u32 = 1;
    pub const HOLD_PACKETS_MAX: u32 = 10000;
    pub const HOLD_BYTES_MIN: u32 = 1;
    pub const HOLD_BYTES_MAX: u32 = 16777216;
    pub const FROM_MIN_LEN: u16 = 4;
    pub const FROM_MAX_LEN: u16 = 16;
    pub const REMOTE_MIN_LEN: u16 = 4;
    pub const REMOTE_MAX_LEN: u16 = 16;
    pub const REMOTE_ALIAS_MIN_LEN: u16 = 4;
    pub const REMOTE_ALIAS_MAX_LEN: u16 = 16;
    pub const ZONE_MIN: u16 = 1;
    pub const NAME_MAX_LEN: u16 = 63;
}

/// Validation of the attributes of `map` that requests carry.
pub mod map_policy {
    pub const SPID: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::SPID,
        kind: super::AttrKind::U32,
        checks: super::Checks::NONE,
    };
    pub const ADDR: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::ADDR,
        kind: super::AttrKind::Binary,
        checks: super::Checks {
            range: None,
            min_len: Some(super::map_checks::ADDR_MIN_LEN),
            max_len: Some(super::map_checks::ADDR_MAX_LEN),
        },
    };
    pub const REPLACE: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::REPLACE,
        kind: super::AttrKind::Flag,
        checks: super::Checks::NONE,
    };
    pub const PENDING: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::PENDING,
        kind: super::AttrKind::U8,
        checks: super::Checks::NONE,
    };
    pub const HOLD_PACKETS: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::HOLD_PACKETS,
        kind: super::AttrKind::U32,
        checks: super::Checks {
            range: Some(super::Range { min: super::map_checks::HOLD_PACKETS_MIN as u64, max: super::map_checks::HOLD_PACKETS_MAX as u64 }),
            min_len: None,
            max_len: None,
        },
    };
    pub const HOLD_BYTES: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::HOLD_BYTES,
        kind: super::AttrKind::U32,
        checks: super::Checks {
            range: Some(super::Range { min: super::map_checks::HOLD_BYTES_MIN as u64, max: super::map_checks::HOLD_BYTES_MAX as u64 }),
            min_len: None,
            max_len: None,
        },
    };
    pub const MAPPING: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::MAPPING,
        kind: super::AttrKind::Nest(&super::map_entry_policy::ALL),
        checks: super::Checks::NONE,
    };
    pub const REQID: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::REQID,
        kind: super::AttrKind::U32,
        checks: super::Checks::NONE,
    };
    pub const PREFIX_LEN: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::PREFIX_LEN,
        kind: super::AttrKind::U8,
        checks: super::Checks::NONE,
    };
    pub const FROM: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::FROM,
        kind: super::AttrKind::Binary,
        checks: super::Checks {
            range: None,
            min_len: Some(super::map_checks::FROM_MIN_LEN),
            max_len: Some(super::map_checks::FROM_MAX_LEN),
        },
    };
    pub const FROM_PREFIX_LEN: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::FROM_PREFIX_LEN,
        kind: super::AttrKind::U8,
        checks: super::Checks::NONE,
    };
    pub const INBOUND: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::INBOUND,
        kind: super::AttrKind::Flag,
        checks: super::Checks::NONE,
    };
    pub const REMOTE: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::REMOTE,
        kind: super::AttrKind::Binary,
        checks: super::Checks {
            range: None,
            min_len: Some(super::map_checks::REMOTE_MIN_LEN),
            max_len: Some(super::map_checks::REMOTE_MAX_LEN),
        },
    };
    pub const REMOTE_ALIAS: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::REMOTE_ALIAS,
        kind: super::AttrKind::Binary,
        checks: super::Checks {
            range: None,
            min_len: Some(super::map_checks::REMOTE_ALIAS_MIN_LEN),
            max_len: Some(super::map_checks::REMOTE_ALIAS_MAX_LEN),
        },
    };
    pub const REMOTE_PREFIX_LEN: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::REMOTE_PREFIX_LEN,
        kind: super::AttrKind::U8,
        checks: super::Checks::NONE,
    };
    pub const ZONE: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::ZONE,
        kind: super::AttrKind::U16,
        checks: super::Checks {
            range: Some(super::Range { min: super::map_checks::ZONE_MIN as u64, max: 65535 }),
            min_len: None,
            max_len: None,
        },
    };
    pub const NAME: super::AttrPolicy = super::AttrPolicy {
        attr: super::map_attr::NAME,
        kind: super::AttrKind::String,
        checks: super::Checks {
            range: None,
            min_len: None,
            max_len: Some(super::map_checks::NAME_MAX_LEN),
        },
    };
}

/// Validation of the attributes of `map-entry` that requests carry.
pub mod map_entry_policy {
    /// Every attribute of the set: the policy of a nest of it.
    pub const ALL: [super::AttrPolicy; 15] = [
        super::map_policy::SPID,
        super::map_policy::REQID,
        super::map_policy::ADDR,
        super::map_policy::PREFIX_LEN,
        super::map_policy::FROM,
        super::map_policy::FROM_PREFIX_LEN,
        super::map_policy::PENDING,
        super::map_policy::HOLD_PACKETS,
        super::map_policy::HOLD_BYTES,
        super::map_policy::INBOUND,
        super::map_policy::REMOTE,
        super::map_policy::REMOTE_ALIAS,
        super::map_policy::REMOTE_PREFIX_LEN,
        super::map_policy::ZONE,
        super::map_policy::NAME,
    ];
}

/// The type of a request attribute, as the netlink core validates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    U8,
    U16,
    U32,
    U64,
    /// ynl `uint`: 4 or 8 bytes.
    Uint,
    Flag,
    /// NUL-terminated.
    String,
    Binary,
    /// The attributes the nest may carry; any other is refused.
    Nest(&'static [AttrPolicy]),
}

/// The spec's `checks` of an attribute: bounds of an integer's value
/// (`min`, `max`) or of a payload's length (`min-len`, `max-len`;
/// `exact-len` is both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// `min` and `max`; the one not given is the type's bound.
    pub range: Option<Range>,
    pub min_len: Option<u16>,
    pub max_len: Option<u16>,
}

/// The bounds of an integer attribute's value.  Laid out as the kernel's
/// `struct netlink_range_validation`, so that a policy built at compile
/// time can point to the bounds in these tables.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub min: u64,
    pub max: u64,
}

impl Checks {
    /// No checks beyond the type's.
    pub const NONE: Self = Self { range: None, min_len: None, max_len: None };
}

/// How the netlink core validates an attribute of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrPolicy {
    pub attr: u16,
    pub kind: AttrKind,
    pub checks: Checks,
}

/// The spec's name of `value` in an enum's `NAMES`.
pub fn name_of<T: PartialEq>(names: &[(&'static str, T)], value: T) -> Option<&'static str> {
    names.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

/// The value an enum's `NAMES` names `name`.
pub fn value_of<T: Copy>(names: &[(&str, T)], name: &str) -> Option<T> {
    names.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// A request operation: its do and dump, each with the attributes its
/// request may carry (`None`: the operation has no do, or no dump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpSpec {
    pub op: Op,
    pub cmd: u8,
    /// `flags: [admin-perm]`.
    pub admin_perm: bool,
    /// `flags: [uns-admin-perm]`.
    pub uns_admin_perm: bool,
    pub do_attrs: Option<&'static [AttrPolicy]>,
    pub dump_attrs: Option<&'static [AttrPolicy]>,
}

/// The operations a request can name (those with a do or a dump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create a mapping.  Fails with EEXIST if one exists for the key,
    /// unless the replace flag is given.  Fails if policies of the key
    /// exist but none can carry the mapping's flows, unless it carries a
    /// name: then it is installed inactive, with the reason.  With a
    /// name, also deletes the other mapping of that name, atomically.
    MapNew,
    /// Delete the mapping of a spid or reqid (ENOENT if there is none).
    MapDel,
    /// Get one mapping, or dump all of the namespace's mappings.
    MapGet,
    /// Delete all mappings of the namespace.
    Flush,
    /// Replace the namespace's whole set of mappings, atomically: the
    /// packet path sees the old set or the new one, never a mix.  The new
    /// set is the mapping attributes of the request (none: no mappings).
    /// Every entry is checked before anything changes; a refused entry
    /// refuses the request, and the extack message starts with "entry N: "
    /// (N counts mapping attributes from 1).  A mapping whose key,
    /// address, prefix, from, inbound flag, remote prefixes, zone,
    /// pending mode and hold limits stay the same keeps its counters and
    /// hold queue.  Duplicate keys and duplicate names are refused.
    MapSet,
}

/// The request operations, in command order.
pub const OPS: [OpSpec; 5] = [
    OpSpec {
        op: Op::MapNew,
        cmd: cmd::MAP_NEW,
        admin_perm: false,
        uns_admin_perm: true,
        do_attrs: Some(&[
            map_policy::SPID,
            map_policy::REQID,
            map_policy::ADDR,
            map_policy::PREFIX_LEN,
            map_policy::FROM,
            map_policy::FROM_PREFIX_LEN,
            map_policy::REPLACE,
            map_policy::PENDING,
            map_policy::HOLD_PACKETS,
            map_policy::HOLD_BYTES,
            map_policy::INBOUND,
            map_policy::REMOTE,
            map_policy::REMOTE_ALIAS,
            map_policy::REMOTE_PREFIX_LEN,
            map_policy::ZONE,
            map_policy::NAME,
        ]),
        dump_attrs: None,
    },
    OpSpec {
        op: Op::MapDel,
        cmd: cmd::MAP_DEL,
        admin_perm: false,
        uns_admin_perm: true,
        do_attrs: Some(&[
            map_policy::SPID,
            map_policy::REQID,
        ]),
        dump_attrs: None,
    },
    OpSpec {
        op: Op::MapGet,
        cmd: cmd::MAP_GET,
        admin_perm: false,
        uns_admin_perm: false,
        do_attrs: Some(&[
            map_policy::SPID,
            map_policy::REQID,
        ]),
        dump_attrs: Some(&[]),
    },
    OpSpec {
        op: Op::Flush,
        cmd: cmd::FLUSH,
        admin_perm: false,
        uns_admin_perm: true,
        do_attrs: Some(&[]),
        dump_attrs: None,
    },
    OpSpec {
        op: Op::MapSet,
        cmd: cmd::MAP_SET,
        admin_perm: false,
        uns_admin_perm: true,
        do_attrs: Some(&[
            map_policy::MAPPING,
        ]),
        dump_attrs: None,
    },
];

/// The counters: the attributes of `stats`, in attribute order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// New flows source-NATed by this mapping.
    Flows,
    /// New flows whose source the mapping admits and whose destination
    /// its policy selects, but which the SPD, asked as the packet will
    /// be asked after translation (its socket's policy, its mark, the
    /// xfrm interface it leaves by, a policy of higher precedence), does
    /// not give to a policy the mapping binds.  They are left
    /// untranslated: e.g. an IKE daemon's own packets on a full-tunnel
    /// policy, which its socket's bypass policy keeps out of the tunnel.
    Declined,
    /// Packets of a flow NATed to this mapping's address that were
    /// dropped because they would have left without IPsec.
    FailClosedDrops,
    /// Packets of flows that conntrack confirmed before they could be
    /// translated (they began before the first mapping of the
    /// namespace, e.g. while a filter-only ruleset kept conntrack
    /// active).  Conntrack cannot translate a confirmed flow; its entry
    /// is removed and the packet dropped, so that the flow's next packet
    /// starts a new flow that is translated.
    StaleEntries,
    /// New flows refused (eagain mode) while the SA was pending.
    PendingRefused,
    /// New flows dropped (drop mode) while the SA was pending.
    PendingDrops,
    /// New flows of non-blocking local senders (O_NONBLOCK, or kernel
    /// sockets, which nobody waits on) that met a pending SA in eagain
    /// mode.  EAGAIN would make such a sender spin, and a drop would
    /// cost it a retransmission timeout; instead its packet waits,
    /// translated, in the namespace's queue for such packets (64
    /// packets and 128 KiB per address family) and leaves as soon as
    /// the SA is installed.  It is dropped if that queue is full or no
    /// SA comes within net.core.xfrm_acq_expires.
    PendingNonblockHeld,
    /// Packets of non-blocking local senders (see pending-nonblock-held)
    /// dropped because the namespace's queue for such packets was full
    /// (64 packets or 128 KiB per address family), or because they
    /// could not be translated there.  The sender sees no error: a TCP
    /// connect waits for its SYN retransmission.  (Those dropped because
    /// no SA came within net.core.xfrm_acq_expires are not counted: the
    /// queue does not know their mapping then.)
    PendingNonblockDrops,
    /// New flows that the remote side started towards the mapping's to
    /// prefix (inbound mappings only), which arrived decrypted by an SA
    /// of a bound policy's reqid and were destination-NATed into the
    /// from prefix.
    InboundFlows,
    /// New flows towards the mapping's to prefix (inbound mappings
    /// only) that did not arrive through an SA of a bound policy's
    /// reqid (plaintext from the WAN, another tunnel, the LAN), or that
    /// came while the mapping bound no policy.  They are dropped, not
    /// translated.
    InboundRefused,
    /// Packets queued (hold mode) while the SA was pending.
    Held,
    /// Held packets sent, encrypted, once the SA was installed.
    Released,
    /// Packets dropped because the hold queue was full.
    HoldOverflowDrops,
    /// Held packets dropped when the ACQUIRE lifetime ran out.
    HoldTimeoutDrops,
    /// Held packets dropped on release for another reason (e.g. a
    /// duplicate TCP SYN whose connection the first one set up).
    HoldErrorDrops,
    /// Packets in the hold queue now.
    HoldQueued,
}

impl Counter {
    /// How many there are.
    pub const COUNT: usize = 16;
    /// All of them, in attribute order.
    pub const ALL: [Counter; Self::COUNT] = [
        Counter::Flows,
        Counter::Declined,
        Counter::FailClosedDrops,
        Counter::StaleEntries,
        Counter::PendingRefused,
        Counter::PendingDrops,
        Counter::PendingNonblockHeld,
        Counter::PendingNonblockDrops,
        Counter::InboundFlows,
        Counter::InboundRefused,
        Counter::Held,
        Counter::Released,
        Counter::HoldOverflowDrops,
        Counter::HoldTimeoutDrops,
        Counter::HoldErrorDrops,
        Counter::HoldQueued,
    ];

    /// Its attribute type.
    pub const fn attr(self) -> u16 {
        match self {
            Counter::Flows => stats_attr::FLOWS,
            Counter::Declined => stats_attr::DECLINED,
            Counter::FailClosedDrops => stats_attr::FAIL_CLOSED_DROPS,
            Counter::StaleEntries => stats_attr::STALE_ENTRIES,
            Counter::PendingRefused => stats_attr::PENDING_REFUSED,
            Counter::PendingDrops => stats_attr::PENDING_DROPS,
            Counter::PendingNonblockHeld => stats_attr::PENDING_NONBLOCK_HELD,
            Counter::PendingNonblockDrops => stats_attr::PENDING_NONBLOCK_DROPS,
            Counter::InboundFlows => stats_attr::INBOUND_FLOWS,
            Counter::InboundRefused => stats_attr::INBOUND_REFUSED,
            Counter::Held => stats_attr::HELD,
            Counter::Released => stats_attr::RELEASED,
            Counter::HoldOverflowDrops => stats_attr::HOLD_OVERFLOW_DROPS,
            Counter::HoldTimeoutDrops => stats_attr::HOLD_TIMEOUT_DROPS,
            Counter::HoldErrorDrops => stats_attr::HOLD_ERROR_DROPS,
            Counter::HoldQueued => stats_attr::HOLD_QUEUED,
        }
    }

    /// Its name in the spec.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Flows => "flows",
            Counter::Declined => "declined",
            Counter::FailClosedDrops => "fail-closed-drops",
            Counter::StaleEntries => "stale-entries",
            Counter::PendingRefused => "pending-refused",
            Counter::PendingDrops => "pending-drops",
            Counter::PendingNonblockHeld => "pending-nonblock-held",
            Counter::PendingNonblockDrops => "pending-nonblock-drops",
            Counter::InboundFlows => "inbound-flows",
            Counter::InboundRefused => "inbound-refused",
            Counter::Held => "held",
            Counter::Released => "released",
            Counter::HoldOverflowDrops => "hold-overflow-drops",
            Counter::HoldTimeoutDrops => "hold-timeout-drops",
            Counter::HoldErrorDrops => "hold-error-drops",
            Counter::HoldQueued => "hold-queued",
        }
    }

    /// Its name as an identifier (the spec's, `-` as `_`).
    pub const fn key(self) -> &'static str {
        match self {
            Counter::Flows => "flows",
            Counter::Declined => "declined",
            Counter::FailClosedDrops => "fail_closed_drops",
            Counter::StaleEntries => "stale_entries",
            Counter::PendingRefused => "pending_refused",
            Counter::PendingDrops => "pending_drops",
            Counter::PendingNonblockHeld => "pending_nonblock_held",
            Counter::PendingNonblockDrops => "pending_nonblock_drops",
            Counter::InboundFlows => "inbound_flows",
            Counter::InboundRefused => "inbound_refused",
            Counter::Held => "held",
            Counter::Released => "released",
            Counter::HoldOverflowDrops => "hold_overflow_drops",
            Counter::HoldTimeoutDrops => "hold_timeout_drops",
            Counter::HoldErrorDrops => "hold_error_drops",
            Counter::HoldQueued => "hold_queued",
        }
    }

    /// Its position in [`Counter::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The counter of attribute type `attr`.
    pub fn of_attr(attr: u16) -> Option<Counter> {
        Self::ALL.into_iter().find(|c| c.attr() == attr)
    }
}

/// An attribute of the spec, with the type of its value: `K` is a marker
/// of [`kind`], the attribute's spec type and byte order.
pub struct Attr<K> {
    pub id: u16,
    kind: core::marker::PhantomData<K>,
}

impl<K> Attr<K> {
    const fn new(id: u16) -> Self {
        Self { id, kind: core::marker::PhantomData }
    }
}

impl<K> Clone for Attr<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Attr<K> {}

/// The spec's attribute types, as markers of [`Attr`].
pub mod kind {
    pub struct U8;
    pub struct U16;
    /// A u16 in network byte order.
    pub struct U16Be;
    pub struct U32;
    pub struct S32;
    /// ynl `uint`: 4 or 8 bytes.
    pub struct Uint;
    pub struct Binary;
    /// NUL-terminated.
    pub struct String;
    pub struct Flag;
}

/// The attributes of `selector` with the types of their values.
pub mod selector {
    pub const FAMILY: super::Attr<super::kind::U16> = super::Attr::new(super::selector_attr::FAMILY);
    pub const DADDR: super::Attr<super::kind::Binary> = super::Attr::new(super::selector_attr::DADDR);
    pub const SADDR: super::Attr<super::kind::Binary> = super::Attr::new(super::selector_attr::SADDR);
    pub const PREFIXLEN_D: super::Attr<super::kind::U8> = super::Attr::new(super::selector_attr::PREFIXLEN_D);
    pub const PREFIXLEN_S: super::Attr<super::kind::U8> = super::Attr::new(super::selector_attr::PREFIXLEN_S);
    pub const PROTO: super::Attr<super::kind::U8> = super::Attr::new(super::selector_attr::PROTO);
    pub const DPORT: super::Attr<super::kind::U16Be> = super::Attr::new(super::selector_attr::DPORT);
    pub const DPORT_MASK: super::Attr<super::kind::U16Be> = super::Attr::new(super::selector_attr::DPORT_MASK);
    pub const SPORT: super::Attr<super::kind::U16Be> = super::Attr::new(super::selector_attr::SPORT);
    pub const SPORT_MASK: super::Attr<super::kind::U16Be> = super::Attr::new(super::selector_attr::SPORT_MASK);
    pub const IFINDEX: super::Attr<super::kind::S32> = super::Attr::new(super::selector_attr::IFINDEX);
    pub const PRIORITY: super::Attr<super::kind::U32> = super::Attr::new(super::selector_attr::PRIORITY);
    pub const INDEX: super::Attr<super::kind::U32> = super::Attr::new(super::selector_attr::INDEX);
}

/// The attributes of `stats` with the types of their values.
pub mod stats {
    pub const FLOWS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::FLOWS);
    pub const DECLINED: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::DECLINED);
    pub const FAIL_CLOSED_DROPS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::FAIL_CLOSED_DROPS);
    pub const STALE_ENTRIES: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::STALE_ENTRIES);
    pub const PENDING_REFUSED: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::PENDING_REFUSED);
    pub const PENDING_DROPS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::PENDING_DROPS);
    pub const PENDING_NONBLOCK_HELD: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::PENDING_NONBLOCK_HELD);
    pub const PENDING_NONBLOCK_DROPS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::PENDING_NONBLOCK_DROPS);
    pub const INBOUND_FLOWS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::INBOUND_FLOWS);
    pub const INBOUND_REFUSED: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::INBOUND_REFUSED);
    pub const HELD: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::HELD);
    pub const RELEASED: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::RELEASED);
    pub const HOLD_OVERFLOW_DROPS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::HOLD_OVERFLOW_DROPS);
    pub const HOLD_TIMEOUT_DROPS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::HOLD_TIMEOUT_DROPS);
    pub const HOLD_ERROR_DROPS: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::HOLD_ERROR_DROPS);
    pub const HOLD_QUEUED: super::Attr<super::kind::Uint> = super::Attr::new(super::stats_attr::HOLD_QUEUED);
}

/// The attributes of `map` with the types of their values.
pub mod map {
    pub const SPID: super::Attr<super::kind::U32> = super::Attr::new(super::map_attr::SPID);
    pub const ADDR: super::Attr<super::kind::Binary> = super::Attr::new(super::map_attr::ADDR);
    pub const STATE: super::Attr<super::kind::U8> = super::Attr::new(super::map_attr::STATE);
    pub const REPLACE: super::Attr<super::kind::Flag> = super::Attr::new(super::map_attr::REPLACE);
    pub const PENDING: super::Attr<super::kind::U8> = super::Attr::new(super::map_attr::PENDING);
    pub const HOLD_PACKETS: super::Attr<super::kind::U32> = super::Attr::new(super::map_attr::HOLD_PACKETS);
    pub const HOLD_BYTES: super::Attr<super::kind::U32> = super::Attr::new(super::map_attr::HOLD_BYTES);
    pub const SA_STATE: super::Attr<super::kind::U8> = super::Attr::new(super::map_attr::SA_STATE);
    pub const REQID: super::Attr<super::kind::U32> = super::Attr::new(super::map_attr::REQID);
    pub const PREFIX_LEN: super::Attr<super::kind::U8> = super::Attr::new(super::map_attr::PREFIX_LEN);
    pub const FROM: super::Attr<super::kind::Binary> = super::Attr::new(super::map_attr::FROM);
    pub const FROM_PREFIX_LEN: super::Attr<super::kind::U8> = super::Attr::new(super::map_attr::FROM_PREFIX_LEN);
    pub const POLICY: super::Attr<super::kind::U32> = super::Attr::new(super::map_attr::POLICY);
    pub const REASON: super::Attr<super::kind::String> = super::Attr::new(super::map_attr::REASON);
    pub const INBOUND: super::Attr<super::kind::Flag> = super::Attr::new(super::map_attr::INBOUND);
    pub const REMOTE: super::Attr<super::kind::Binary> = super::Attr::new(super::map_attr::REMOTE);
    pub const REMOTE_ALIAS: super::Attr<super::kind::Binary> = super::Attr::new(super::map_attr::REMOTE_ALIAS);
    pub const REMOTE_PREFIX_LEN: super::Attr<super::kind::U8> = super::Attr::new(super::map_attr::REMOTE_PREFIX_LEN);
    pub const ZONE: super::Attr<super::kind::U16> = super::Attr::new(super::map_attr::ZONE);
    pub const NAME: super::Attr<super::kind::String> = super::Attr::new(super::map_attr::NAME);
}
