//! What xnatctl asks of the module: requests, the keys that name a
//! mapping, and what a mapping is.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::GenlMessage;

use super::*;
use crate::uapi::cmd;

/// A request to the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    MapNew {
        mapping: Mapping,
        replace: bool,
    },
    MapDel {
        key: Key,
    },
    MapGet {
        key: Key,
    },
    MapDump,
    Flush,
    /// map-set: the namespace's whole set becomes `mappings` (none:
    /// empty), each sent as a `mapping` nest, in this order.
    MapSet {
        mappings: Vec<Mapping>,
    },
}

/// What names a mapping: one outbound policy by its index, or every
/// outbound policy with a template of a reqid, which survives the key
/// manager re-adding its policies under new indexes.  The order (spid
/// first) is the kernel's tie-break between mappings, and `save`'s.
/// As JSON, `{"spid": N}` or `{"reqid": N}` (flattened into an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Key {
    Spid(u32),
    Reqid(u32),
}

impl Key {
    /// The keyword of the grammar, which is also the attribute's name.
    pub fn keyword(self) -> &'static str {
        match self {
            Key::Spid(_) => "spid",
            Key::Reqid(_) => "reqid",
        }
    }

    pub fn value(self) -> u32 {
        match self {
            Key::Spid(n) | Key::Reqid(n) => n,
        }
    }

    fn attr(self) -> MapAttr {
        match self {
            Key::Spid(n) => MapAttr::Spid(n),
            Key::Reqid(n) => MapAttr::Reqid(n),
        }
    }
}

/// `spid 305`, `reqid 7`: as messages and `monitor` name a mapping.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.keyword(), self.value())
    }
}

/// An address and a prefix length; a single address has the full length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// The length of a single address of `addr`'s family: 32 or 128.
    pub fn full_len(addr: &IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    pub fn is_host(&self) -> bool {
        self.len == Prefix::full_len(&self.addr)
    }

    /// The prefix as the grammar's words give it: a single address
    /// without its length, which `map` reads as the full one.
    pub fn grammar_text(self) -> String {
        if self.is_host() {
            self.addr.to_string()
        } else {
            self.to_string()
        }
    }

    /// The prefix's address with its host bits cleared.
    pub fn network(&self) -> IpAddr {
        // checked_shl: a /0 shifts by the whole width, which `<<` refuses.
        match self.addr {
            IpAddr::V4(a) => {
                let host_bits = 32u32.saturating_sub(self.len.into());
                let mask = u32::MAX.checked_shl(host_bits).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let host_bits = 128u32.saturating_sub(self.len.into());
                let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        }
    }
}

/// `10.20.30.0/24`, the length always written.
impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Where a mapping translates the sources of its flows to: one address,
/// whatever the source; or, 1:1 as iptables' NETMAP, the prefix `from`
/// into the prefix `to` of the same length, each host keeping its host
/// part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub to: Prefix,
    pub from: Option<Prefix>,
}

impl Target {
    /// The target of `map ... to ADDR`.
    #[cfg(test)]
    pub fn addr(addr: &str) -> Target {
        let addr: IpAddr = addr.parse().expect("an address");
        Target {
            to: Prefix {
                addr,
                len: Prefix::full_len(&addr),
            },
            from: None,
        }
    }

    /// The length of `to` as the attributes carry it: where the target is
    /// more than one address for any source, and only there, as the
    /// kernel reports it too.
    pub fn prefix_len_attr(self) -> Option<u8> {
        (self.from.is_some() || !self.to.is_host()).then_some(self.to.len)
    }

    /// addr, then prefix-len, from and from-prefix-len where the target
    /// is more than one address for any source.  A shorter `to` without
    /// `from` is sent as it is, for the kernel to refuse with its reason.
    fn attrs(&self, attrs: &mut Vec<MapAttr>) {
        attrs.push(MapAttr::Addr(self.to.addr));
        attrs.extend(self.prefix_len_attr().map(MapAttr::PrefixLen));
        if let Some(from) = self.from {
            attrs.push(MapAttr::From(from.addr));
            attrs.push(MapAttr::FromPrefixLen(from.len));
        }
    }
}

/// The remote site of a twice-NAT mapping: `real`, the remote prefix as
/// the bound policies' destination selectors name it, which local hosts
/// address as `alias` instead, host part for host part.  Both have the
/// same family and length, as the kernel requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub alias: IpAddr,
    pub real: IpAddr,
    pub len: u8,
}

impl Remote {
    pub fn alias_prefix(self) -> Prefix {
        Prefix {
            addr: self.alias,
            len: self.len,
        }
    }

    pub fn real_prefix(self) -> Prefix {
        Prefix {
            addr: self.real,
            len: self.len,
        }
    }
}

/// `remote 10.99.1.0/24 is 192.168.1.0/24`, as `map` takes it; a single
/// address without its length.
impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "remote {} is {}",
            self.alias_prefix().grammar_text(),
            self.real_prefix().grammar_text()
        )
    }
}

#[cfg(test)]
impl Mapping {
    /// A mapping of `key` to `target` that leaves the rest to the
    /// kernel's defaults.
    pub fn new(key: Key, target: Target) -> Mapping {
        Mapping {
            key,
            target: Some(target),
            pending: None,
            hold_packets: None,
            hold_bytes: None,
            inbound: false,
            remote: None,
            zone: None,
            name: None,
        }
    }
}

/// The grammar's words: `to 10.20.30.2`, `from 192.168.1.0/24 to
/// 10.20.30.0/24`, a single address without its length.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(from) = self.from {
            write!(f, "from {} ", from.grammar_text())?;
        }
        write!(f, "to {}", self.to.grammar_text())
    }
}

/// What a mapping is: what `map` and `restore` give, a request sends,
/// the kernel reports and `save` prints.  What is None was not given
/// (the kernel's default) or not reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub key: Key,
    /// Always given by the command line; None only where a module reports
    /// no address, which a request then leaves out for the kernel to refuse.
    pub target: Option<Target>,
    /// uapi::pending_mode.
    pub pending: Option<u8>,
    /// Hold limits (pending hold only).
    pub hold_packets: Option<u32>,
    pub hold_bytes: Option<u32>,
    /// Whether the remote side may also start flows towards the mapping's
    /// `to` prefix (a 1:1 mapping only).  A flag attribute: a module that
    /// does not report it has no inbound mappings, so false is the truth.
    pub inbound: bool,
    /// The remote site that local hosts address by an alias (twice NAT).
    pub remote: Option<Remote>,
    /// The conntrack zone of the flows with the remote site (with
    /// `remote` only); None: the default zone.
    pub zone: Option<u16>,
    /// The name of the IKE child the mapping is kept for (`CONN/CHILD`),
    /// by which a daemon finds it again under the child's next reqid;
    /// checked by [`crate::cli::check_name`] where a user gives it.
    pub name: Option<String>,
}

impl Mapping {
    /// The words of `map` after the target that say what else the
    /// mapping does, as `map` takes them, each preceded by a space:
    /// ` remote ALIAS is REAL zone N inbound`; empty for a mapping of
    /// local flows' sources alone.  `save`, `show` and `monitor` write
    /// them so that what they print reads as the command that made it.
    pub fn extra_words(&self) -> String {
        let mut out = String::new();
        if let Some(remote) = self.remote {
            out.push_str(&format!(" {remote}"));
        }
        if let Some(zone) = self.zone {
            out.push_str(&format!(" zone {zone}"));
        }
        if self.inbound {
            out.push_str(" inbound");
        }
        out
    }
}

impl Mapping {
    /// ` name NAME` for a named mapping, as `map` takes it; else empty.
    pub fn name_words(&self) -> String {
        self.name
            .as_ref()
            .map_or_else(String::new, |name| format!(" name {name}"))
    }

    /// The attributes of the mapping: the key, the target, then pending,
    /// the hold limits where given, the inbound flag if set, the remote
    /// prefix (real), its alias and their length, the zone and the name;
    /// `replace`
    /// (map-new's) goes after the target.
    fn attrs(&self, replace: bool) -> Vec<MapAttr> {
        let mut attrs = vec![self.key.attr()];
        if let Some(target) = &self.target {
            target.attrs(&mut attrs);
        }
        // Generic netlink refuses NLM_F_REPLACE/EXCL/CREATE in new
        // families; the spec carries the intent as a flag attribute.
        if replace {
            attrs.push(MapAttr::Replace);
        }
        attrs.extend(self.pending.map(MapAttr::Pending));
        attrs.extend(self.hold_packets.map(MapAttr::HoldPackets));
        attrs.extend(self.hold_bytes.map(MapAttr::HoldBytes));
        if self.inbound {
            attrs.push(MapAttr::Inbound);
        }
        if let Some(remote) = self.remote {
            attrs.push(MapAttr::Remote(remote.real));
            attrs.push(MapAttr::RemoteAlias(remote.alias));
            attrs.push(MapAttr::RemotePrefixLen(remote.len));
        }
        attrs.extend(self.zone.map(MapAttr::Zone));
        attrs.extend(self.name.clone().map(MapAttr::Name));
        attrs
    }
}

impl Request {
    pub fn msg(&self) -> XnatMsg {
        let (cmd, attrs) = match self {
            Request::MapNew { mapping, replace } => (cmd::MAP_NEW, mapping.attrs(*replace)),
            Request::MapDel { key } => (cmd::MAP_DEL, vec![key.attr()]),
            Request::MapGet { key } => (cmd::MAP_GET, vec![key.attr()]),
            Request::MapDump => (cmd::MAP_GET, vec![]),
            Request::Flush => (cmd::FLUSH, vec![]),
            Request::MapSet { mappings } => (
                cmd::MAP_SET,
                mappings
                    .iter()
                    .map(|m| MapAttr::Mapping(m.attrs(false)))
                    .collect(),
            ),
        };
        XnatMsg { cmd, attrs }
    }

    pub fn flags(&self) -> u16 {
        match self {
            Request::MapDump => NLM_F_REQUEST | NLM_F_DUMP,
            Request::MapNew { .. }
            | Request::MapDel { .. }
            | Request::MapGet { .. }
            | Request::Flush
            | Request::MapSet { .. } => NLM_F_REQUEST | NLM_F_ACK,
        }
    }

    /// What the request carries, for a message about its size:
    /// `65536 mappings`.
    pub fn contents(&self) -> String {
        match self {
            Request::MapSet { mappings } if mappings.len() == 1 => "1 mapping".into(),
            Request::MapSet { mappings } => format!("{} mappings", mappings.len()),
            Request::MapNew { .. } => "1 mapping".into(),
            _ => "no mapping".into(),
        }
    }

    pub fn is_dump(&self) -> bool {
        matches!(self, Request::MapDump)
    }

    /// The whole netlink message, ready to send.
    pub fn encode(&self, family_id: u16, seq: u32) -> Vec<u8> {
        let mut genl = GenlMessage::from_payload(self.msg());
        genl.set_resolved_family_id(family_id);
        encode(genl, self.flags(), seq)
    }
}
