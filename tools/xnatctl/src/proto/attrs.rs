// SPDX-License-Identifier: GPL-2.0
// Generated from Documentation/netlink/specs/xfrm_nat.yaml by scripts/gen-uapi.py. Do not edit.
//! The attributes of every set of the spec, as xnatctl encodes and
//! decodes them: an enum per set, a variant per attribute, whose value
//! has the Rust type of the attribute's type and byte order.  One of a
//! type the spec does not know (a newer module's) is kept as it came
//! in `Other`.

use std::net::IpAddr;

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable, NLA_F_NESTED};

use super::codec::{fixed, ip, ip_bytes, nest_value, nla_by_payload, nlas, other_payload, string, uint};
use crate::uapi::*;

/// Snapshot of the mapped policy's selector (struct xfrm_selector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorAttr {
    /// AF_INET or AF_INET6.
    Family(u16),
    /// Destination address, 4 or 16 bytes.
    Daddr(IpAddr),
    /// Source address, 4 or 16 bytes.
    Saddr(IpAddr),
    PrefixlenD(u8),
    PrefixlenS(u8),
    /// IP protocol, 0 for any.
    Proto(u8),
    Dport(u16),
    DportMask(u16),
    Sport(u16),
    SportMask(u16),
    /// Output interface, 0 for any.
    Ifindex(i32),
    /// The policy's priority; among mappings that match, the lowest wins.
    Priority(u32),
    /// The policy's index.
    Index(u32),
    Other(DefaultNla),
}

nla_by_payload!(SelectorAttr);

impl SelectorAttr {
    /// The type, NLA_F_NESTED set on nests: the kernel's strict
    /// validation refuses a nest without it.
    fn kind_bits(&self) -> u16 {
        match self {
            SelectorAttr::Family(_) => selector_attr::FAMILY,
            SelectorAttr::Daddr(_) => selector_attr::DADDR,
            SelectorAttr::Saddr(_) => selector_attr::SADDR,
            SelectorAttr::PrefixlenD(_) => selector_attr::PREFIXLEN_D,
            SelectorAttr::PrefixlenS(_) => selector_attr::PREFIXLEN_S,
            SelectorAttr::Proto(_) => selector_attr::PROTO,
            SelectorAttr::Dport(_) => selector_attr::DPORT,
            SelectorAttr::DportMask(_) => selector_attr::DPORT_MASK,
            SelectorAttr::Sport(_) => selector_attr::SPORT,
            SelectorAttr::SportMask(_) => selector_attr::SPORT_MASK,
            SelectorAttr::Ifindex(_) => selector_attr::IFINDEX,
            SelectorAttr::Priority(_) => selector_attr::PRIORITY,
            SelectorAttr::Index(_) => selector_attr::INDEX,
            SelectorAttr::Other(nla) => nla.kind(),
        }
    }

    fn payload(&self) -> Vec<u8> {
        match self {
            SelectorAttr::Family(v) => v.to_ne_bytes().to_vec(),
            SelectorAttr::Daddr(v) => ip_bytes(v),
            SelectorAttr::Saddr(v) => ip_bytes(v),
            SelectorAttr::PrefixlenD(v) => vec![*v],
            SelectorAttr::PrefixlenS(v) => vec![*v],
            SelectorAttr::Proto(v) => vec![*v],
            SelectorAttr::Dport(v) => v.to_be_bytes().to_vec(),
            SelectorAttr::DportMask(v) => v.to_be_bytes().to_vec(),
            SelectorAttr::Sport(v) => v.to_be_bytes().to_vec(),
            SelectorAttr::SportMask(v) => v.to_be_bytes().to_vec(),
            SelectorAttr::Ifindex(v) => v.to_ne_bytes().to_vec(),
            SelectorAttr::Priority(v) => v.to_ne_bytes().to_vec(),
            SelectorAttr::Index(v) => v.to_ne_bytes().to_vec(),
            SelectorAttr::Other(nla) => other_payload(nla),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for SelectorAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            selector_attr::FAMILY => SelectorAttr::Family(u16::from_ne_bytes(fixed("selector.family", v)?)),
            selector_attr::DADDR => SelectorAttr::Daddr(ip("selector.daddr", v)?),
            selector_attr::SADDR => SelectorAttr::Saddr(ip("selector.saddr", v)?),
            selector_attr::PREFIXLEN_D => SelectorAttr::PrefixlenD(fixed::<1>("selector.prefixlen-d", v)?[0]),
            selector_attr::PREFIXLEN_S => SelectorAttr::PrefixlenS(fixed::<1>("selector.prefixlen-s", v)?[0]),
            selector_attr::PROTO => SelectorAttr::Proto(fixed::<1>("selector.proto", v)?[0]),
            selector_attr::DPORT => SelectorAttr::Dport(u16::from_be_bytes(fixed("selector.dport", v)?)),
            selector_attr::DPORT_MASK => SelectorAttr::DportMask(u16::from_be_bytes(fixed("selector.dport-mask", v)?)),
            selector_attr::SPORT => SelectorAttr::Sport(u16::from_be_bytes(fixed("selector.sport", v)?)),
            selector_attr::SPORT_MASK => SelectorAttr::SportMask(u16::from_be_bytes(fixed("selector.sport-mask", v)?)),
            selector_attr::IFINDEX => SelectorAttr::Ifindex(i32::from_ne_bytes(fixed("selector.ifindex", v)?)),
            selector_attr::PRIORITY => SelectorAttr::Priority(u32::from_ne_bytes(fixed("selector.priority", v)?)),
            selector_attr::INDEX => SelectorAttr::Index(u32::from_ne_bytes(fixed("selector.index", v)?)),
            _ => SelectorAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Per-mapping counters, since the mapping was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAttr {
    /// A counter, as wide as it came (4 or 8 bytes) on input.
    Counter(Counter, u64),
    Other(DefaultNla),
}

nla_by_payload!(StatsAttr);

impl StatsAttr {
    /// The type, NLA_F_NESTED set on nests: the kernel's strict
    /// validation refuses a nest without it.
    fn kind_bits(&self) -> u16 {
        match self {
            StatsAttr::Counter(c, _) => c.attr(),
            StatsAttr::Other(nla) => nla.kind(),
        }
    }

    fn payload(&self) -> Vec<u8> {
        match self {
            StatsAttr::Counter(_, v) => v.to_ne_bytes().to_vec(),
            StatsAttr::Other(nla) => other_payload(nla),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for StatsAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        Ok(match Counter::of_attr(buf.kind()) {
            Some(c) => StatsAttr::Counter(c, uint(&format!("stats.{}", c.name()), buf.value())?),
            None => StatsAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// An attribute of the `map` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapAttr {
    /// Key: index of an outbound xfrm policy (ip xfrm policy prints it
    /// as index; setkey as spid).  spid & 7 must be 1 (XFRM_POLICY_OUT).
    /// A request names a mapping by spid or by reqid, not both.  In
    /// sa-ntf, the index of the policy whose SA changed.
    Spid(u32),
    /// Address to translate the source to: 4 bytes (IPv4) or 16 bytes
    /// (IPv6), network byte order.  With prefix-len, the prefix to
    /// translate into (host bits must be clear).
    Addr(IpAddr),
    State(u8),
    /// In replies: the selector of the lowest-index bound policy (all
    /// bound policies are listed as policy attributes).
    Selector(Vec<SelectorAttr>),
    Stats(Vec<StatsAttr>),
    /// In map-new: replace the mapping of the spid if there is one.
    /// (Generic netlink refuses NLM_F_REPLACE and friends in new
    /// families, so the request carries it as an attribute.)
    Replace,
    /// What to do while the policy's SA is pending; default eagain.
    Pending(u8),
    /// Hold mode: the most packets the queue holds (default 100, at most
    /// 10000).  Only with pending hold.
    HoldPackets(u32),
    /// Hold mode: the most memory (skb truesize) the queue holds (default
    /// 262144, at most 16777216).  Only with pending hold.
    HoldBytes(u32),
    /// In sa-ntf, what happened to the SA of the mapped policy.
    SaState(u8),
    /// In map-set: one mapping of the new set, with the attributes of a
    /// map-new request (spid or reqid, addr, and optionally prefix-len,
    /// from, from-prefix-len, pending, hold-packets, hold-bytes,
    /// inbound, remote, remote-alias, remote-prefix-len, zone,
    /// name).
    /// Repeated, once per mapping.
    Mapping(Vec<MapAttr>),
    /// Key: the reqid of the templates of the outbound policies to bind
    /// (swanctl.conf's reqid, libreswan's reqid=).  Not 0, which the
    /// kernel treats as "any".  Every outbound main policy with a
    /// template of this reqid (any of its templates) whose selector
    /// admits the mapping's address or prefix is bound; policies of the
    /// other family are skipped.
    Reqid(u32),
    /// Length of the prefix in addr.  Absent: the full length, a single
    /// address.  Shorter needs from, with the same length.
    PrefixLen(u8),
    /// Source prefix whose flows the mapping translates, 1:1 into the
    /// prefix of addr (host part kept).  Absent: any source (single
    /// address mappings only).
    From(IpAddr),
    /// Length of from's prefix; must equal prefix-len.
    FromPrefixLen(u8),
    /// In replies: the index of a policy the mapping binds now,
    /// repeated, in index order.
    Policy(u32),
    /// In replies, for an inactive mapping, why no policy is bound.
    Reason(String),
    /// A prefix mapping (from) also admits the flows the remote side
    /// starts towards its prefix (addr/prefix-len): a new flow whose
    /// destination is in addr's prefix, and which arrived decrypted by
    /// an inbound SA whose reqid is that of a template of a policy the
    /// mapping binds, is destination-NATed to the same host part in
    /// from; its replies leave through the tunnel with the mapped
    /// source, and are dropped if they would leave without IPsec.  Any
    /// other new flow towards the prefix is dropped (inbound-refused).
    /// Without it, the mapping translates locally started flows only.
    Inbound,
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
    Remote(IpAddr),
    /// The prefix local hosts address the remote prefix by, of the same
    /// family and length.  The remote aliases of a namespace's mappings
    /// may not overlap.
    RemoteAlias(IpAddr),
    /// Length of the remote and remote-alias prefixes.
    RemotePrefixLen(u8),
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
    Zone(u16),
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
    Name(String),
    Other(DefaultNla),
}

nla_by_payload!(MapAttr);

impl MapAttr {
    /// The type, NLA_F_NESTED set on nests: the kernel's strict
    /// validation refuses a nest without it.
    fn kind_bits(&self) -> u16 {
        match self {
            MapAttr::Spid(_) => map_attr::SPID,
            MapAttr::Addr(_) => map_attr::ADDR,
            MapAttr::State(_) => map_attr::STATE,
            MapAttr::Selector(_) => map_attr::SELECTOR | NLA_F_NESTED,
            MapAttr::Stats(_) => map_attr::STATS | NLA_F_NESTED,
            MapAttr::Replace => map_attr::REPLACE,
            MapAttr::Pending(_) => map_attr::PENDING,
            MapAttr::HoldPackets(_) => map_attr::HOLD_PACKETS,
            MapAttr::HoldBytes(_) => map_attr::HOLD_BYTES,
            MapAttr::SaState(_) => map_attr::SA_STATE,
            MapAttr::Mapping(_) => map_attr::MAPPING | NLA_F_NESTED,
            MapAttr::Reqid(_) => map_attr::REQID,
            MapAttr::PrefixLen(_) => map_attr::PREFIX_LEN,
            MapAttr::From(_) => map_attr::FROM,
            MapAttr::FromPrefixLen(_) => map_attr::FROM_PREFIX_LEN,
            MapAttr::Policy(_) => map_attr::POLICY,
            MapAttr::Reason(_) => map_attr::REASON,
            MapAttr::Inbound => map_attr::INBOUND,
            MapAttr::Remote(_) => map_attr::REMOTE,
            MapAttr::RemoteAlias(_) => map_attr::REMOTE_ALIAS,
            MapAttr::RemotePrefixLen(_) => map_attr::REMOTE_PREFIX_LEN,
            MapAttr::Zone(_) => map_attr::ZONE,
            MapAttr::Name(_) => map_attr::NAME,
            MapAttr::Other(nla) => nla.kind(),
        }
    }

    fn payload(&self) -> Vec<u8> {
        match self {
            MapAttr::Spid(v) => v.to_ne_bytes().to_vec(),
            MapAttr::Addr(v) => ip_bytes(v),
            MapAttr::State(v) => vec![*v],
            MapAttr::Selector(v) => nest_value(v),
            MapAttr::Stats(v) => nest_value(v),
            MapAttr::Replace => Vec::new(),
            MapAttr::Pending(v) => vec![*v],
            MapAttr::HoldPackets(v) => v.to_ne_bytes().to_vec(),
            MapAttr::HoldBytes(v) => v.to_ne_bytes().to_vec(),
            MapAttr::SaState(v) => vec![*v],
            MapAttr::Mapping(v) => nest_value(v),
            MapAttr::Reqid(v) => v.to_ne_bytes().to_vec(),
            MapAttr::PrefixLen(v) => vec![*v],
            MapAttr::From(v) => ip_bytes(v),
            MapAttr::FromPrefixLen(v) => vec![*v],
            MapAttr::Policy(v) => v.to_ne_bytes().to_vec(),
            MapAttr::Reason(v) => [v.as_bytes(), &[0]].concat(),
            MapAttr::Inbound => Vec::new(),
            MapAttr::Remote(v) => ip_bytes(v),
            MapAttr::RemoteAlias(v) => ip_bytes(v),
            MapAttr::RemotePrefixLen(v) => vec![*v],
            MapAttr::Zone(v) => v.to_ne_bytes().to_vec(),
            MapAttr::Name(v) => [v.as_bytes(), &[0]].concat(),
            MapAttr::Other(nla) => other_payload(nla),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for MapAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            map_attr::SPID => MapAttr::Spid(u32::from_ne_bytes(fixed("spid", v)?)),
            map_attr::ADDR => MapAttr::Addr(ip("addr", v)?),
            map_attr::STATE => MapAttr::State(fixed::<1>("state", v)?[0]),
            map_attr::SELECTOR => MapAttr::Selector(nlas(v)?),
            map_attr::STATS => MapAttr::Stats(nlas(v)?),
            map_attr::REPLACE => MapAttr::Replace,
            map_attr::PENDING => MapAttr::Pending(fixed::<1>("pending", v)?[0]),
            map_attr::HOLD_PACKETS => MapAttr::HoldPackets(u32::from_ne_bytes(fixed("hold-packets", v)?)),
            map_attr::HOLD_BYTES => MapAttr::HoldBytes(u32::from_ne_bytes(fixed("hold-bytes", v)?)),
            map_attr::SA_STATE => MapAttr::SaState(fixed::<1>("sa-state", v)?[0]),
            map_attr::MAPPING => MapAttr::Mapping(nlas(v)?),
            map_attr::REQID => MapAttr::Reqid(u32::from_ne_bytes(fixed("reqid", v)?)),
            map_attr::PREFIX_LEN => MapAttr::PrefixLen(fixed::<1>("prefix-len", v)?[0]),
            map_attr::FROM => MapAttr::From(ip("from", v)?),
            map_attr::FROM_PREFIX_LEN => MapAttr::FromPrefixLen(fixed::<1>("from-prefix-len", v)?[0]),
            map_attr::POLICY => MapAttr::Policy(u32::from_ne_bytes(fixed("policy", v)?)),
            map_attr::REASON => MapAttr::Reason(string(v)),
            map_attr::INBOUND => MapAttr::Inbound,
            map_attr::REMOTE => MapAttr::Remote(ip("remote", v)?),
            map_attr::REMOTE_ALIAS => MapAttr::RemoteAlias(ip("remote-alias", v)?),
            map_attr::REMOTE_PREFIX_LEN => MapAttr::RemotePrefixLen(fixed::<1>("remote-prefix-len", v)?[0]),
            map_attr::ZONE => MapAttr::Zone(u16::from_ne_bytes(fixed("zone", v)?)),
            map_attr::NAME => MapAttr::Name(string(v)),
            _ => MapAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}
