//! What the module reports: mappings (map-get replies, dumps and
//! notifications) and events, decoded.

use std::net::IpAddr;

use netlink_packet_core::DecodeError;

use super::*;
use crate::uapi::{cmd, Counter};

/// A mapping as the kernel reports it (map-get reply, dump, notification):
/// the mapping, as `map` gives it and `save` prints it, and what the kernel
/// made of it.  Each attribute is as it came, None (empty) where it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedMapping {
    pub mapping: Mapping,
    pub state: Option<u8>,
    /// Why an inactive mapping binds no policy, in the kernel's words.
    pub reason: Option<String>,
    /// Indexes of the policies the mapping binds now, in index order.
    pub policies: Vec<u32>,
    /// The selector of the lowest-index bound policy.
    pub selector: Option<Selector>,
    pub stats: Stats,
}

/// Snapshot of the mapped policy's selector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    pub family: u16,
    pub daddr: Option<IpAddr>,
    pub saddr: Option<IpAddr>,
    pub prefixlen_d: u8,
    pub prefixlen_s: u8,
    pub proto: u8,
    pub dport: u16,
    pub dport_mask: u16,
    pub sport: u16,
    pub sport_mask: u16,
    pub ifindex: i32,
    pub priority: u32,
    /// The policy's index; None from a module older than the attribute.
    pub index: Option<u32>,
}

/// The counters of a mapping (uapi::Counter), by [`Counter::index`]; what
/// the module did not report is None.  A gauge among them, hold-queued,
/// is the packets in the hold queue when the kernel answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats([Option<u64>; Counter::COUNT]);

impl ReportedMapping {
    /// A mapping of `key` of which nothing else is known.
    pub fn new(key: Key) -> ReportedMapping {
        ReportedMapping {
            mapping: Mapping {
                key,
                target: None,
                pending: None,
                hold_packets: None,
                hold_bytes: None,
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
            state: None,
            reason: None,
            policies: Vec::new(),
            selector: None,
            stats: Stats::default(),
        }
    }

    /// Decode the attributes of a map-get reply or notification.  Unknown
    /// attributes are skipped so that a newer module stays readable.  An
    /// absent length is the full one, as the spec has it.
    pub fn from_attrs(attrs: &[MapAttr]) -> Result<ReportedMapping, DecodeError> {
        let mut r = ReportedMapping::new(Key::Spid(0));
        let m = &mut r.mapping;
        let (mut spid, mut reqid) = (None, None);
        let (mut addr, mut prefix_len, mut from, mut from_prefix_len) = (None, None, None, None);
        let (mut remote, mut remote_alias, mut remote_prefix_len) = (None, None, None);
        for a in attrs {
            match a {
                MapAttr::Spid(n) => spid = Some(*n),
                MapAttr::Reqid(n) => reqid = Some(*n),
                MapAttr::Addr(a) => addr = Some(*a),
                MapAttr::PrefixLen(n) => prefix_len = Some(*n),
                MapAttr::From(a) => from = Some(*a),
                MapAttr::FromPrefixLen(n) => from_prefix_len = Some(*n),
                MapAttr::State(n) => r.state = Some(*n),
                MapAttr::Reason(why) => r.reason = Some(why.clone()),
                MapAttr::Pending(n) => m.pending = Some(*n),
                MapAttr::HoldPackets(n) => m.hold_packets = Some(*n),
                MapAttr::HoldBytes(n) => m.hold_bytes = Some(*n),
                MapAttr::Inbound => m.inbound = true,
                MapAttr::Policy(n) => r.policies.push(*n),
                MapAttr::Selector(sel) => r.selector = Some(Selector::from_attrs(sel)?),
                MapAttr::Stats(st) => r.stats = Stats::from_attrs(st),
                MapAttr::Remote(a) => remote = Some(*a),
                MapAttr::RemoteAlias(a) => remote_alias = Some(*a),
                MapAttr::RemotePrefixLen(n) => remote_prefix_len = Some(*n),
                MapAttr::Zone(n) => m.zone = Some(*n),
                MapAttr::Name(n) => m.name = Some(n.clone()),
                MapAttr::Replace
                | MapAttr::SaState(_)
                | MapAttr::Mapping(_)
                | MapAttr::Other(_) => {}
            }
        }
        let prefix = |addr, len: Option<u8>| Prefix {
            addr,
            len: len.unwrap_or_else(|| Prefix::full_len(&addr)),
        };
        m.target = addr.map(|addr| Target {
            to: prefix(addr, prefix_len),
            from: from.map(|addr| prefix(addr, from_prefix_len)),
        });
        // The kernel reports the three together; an alias without the
        // prefix it stands for (or the reverse) is no remote site to show.
        m.remote = match (remote, remote_alias) {
            (Some(real), Some(alias)) => Some(Remote {
                alias,
                real,
                len: remote_prefix_len.unwrap_or_else(|| Prefix::full_len(&real)),
            }),
            _ => None,
        };
        // A reqid names the mapping even beside a spid: the spec gives
        // spid other meanings in messages about reqid mappings (sa-ntf's
        // policy index), never reqid one in messages about spid mappings.
        m.key = match (reqid, spid) {
            (Some(reqid), _) => Key::Reqid(reqid),
            (None, Some(spid)) => Key::Spid(spid),
            (None, None) => {
                return Err(DecodeError::from("mapping without spid or reqid attribute"))
            }
        };
        Ok(r)
    }
}

impl Selector {
    pub(super) fn from_attrs(attrs: &[SelectorAttr]) -> Result<Selector, DecodeError> {
        let mut s = Selector::default();
        for a in attrs {
            match a {
                SelectorAttr::Family(f) => s.family = *f,
                SelectorAttr::Daddr(v) => s.daddr = Some(*v),
                SelectorAttr::Saddr(v) => s.saddr = Some(*v),
                SelectorAttr::PrefixlenD(n) => s.prefixlen_d = *n,
                SelectorAttr::PrefixlenS(n) => s.prefixlen_s = *n,
                SelectorAttr::Proto(n) => s.proto = *n,
                SelectorAttr::Dport(n) => s.dport = *n,
                SelectorAttr::DportMask(n) => s.dport_mask = *n,
                SelectorAttr::Sport(n) => s.sport = *n,
                SelectorAttr::SportMask(n) => s.sport_mask = *n,
                SelectorAttr::Ifindex(n) => s.ifindex = *n,
                SelectorAttr::Priority(n) => s.priority = *n,
                SelectorAttr::Index(n) => s.index = Some(*n),
                SelectorAttr::Other(_) => {}
            }
        }
        Ok(s)
    }
}

impl Stats {
    pub(super) fn from_attrs(attrs: &[StatsAttr]) -> Stats {
        let mut s = Stats::default();
        for a in attrs {
            if let StatsAttr::Counter(c, n) = a {
                s.0[c.index()] = Some(*n);
            }
        }
        s
    }

    /// The value of `counter`, None if the module did not report it.
    pub fn get(&self, counter: Counter) -> Option<u64> {
        self.0[counter.index()]
    }

    /// These counters set to these values.
    #[cfg(test)]
    pub fn with(mut self, values: &[(Counter, u64)]) -> Stats {
        for (c, v) in values {
            self.0[c.index()] = Some(*v);
        }
        self
    }

    /// Every counter with its value, in the spec's order.
    pub fn iter(&self) -> impl Iterator<Item = (Counter, Option<u64>)> + '_ {
        Counter::ALL.into_iter().map(|c| (c, self.get(c)))
    }
}

/// The keys are the counters' names as identifiers ([`Counter::key`]),
/// in the spec's order; an unreported counter is null.
impl serde::Serialize for Stats {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = ser.serialize_map(Some(Counter::COUNT))?;
        for (c, v) in self.iter() {
            map.serialize_entry(c.key(), &v)?;
        }
        map.end()
    }
}

/// A notification of the family's `events` multicast group
/// (uapi::MCGRP_EVENTS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// map-change-ntf: a mapping was created, replaced, activated or
    /// deactivated; it carries the whole mapping, as a map-get reply does
    /// (boxed: it is much larger than the other events).
    Map(Box<ReportedMapping>),
    /// map-del-ntf: the mapping of the key was deleted.
    Unmap { key: Key },
    /// sa-ntf: the SA of a bound policy, of index `spid`, became pending
    /// (ACQUIRE sent) or established; `state` is uapi::sa_state.
    Sa { spid: u32, state: u8 },
}

impl Event {
    /// The event a message of the family tells; None for a command this
    /// xnatctl does not know (from a newer module), which is skipped.
    pub fn from_msg(msg: &XnatMsg) -> Result<Option<Event>, DecodeError> {
        Ok(match msg.cmd {
            cmd::MAP_CHANGE_NTF => {
                Some(Event::Map(Box::new(ReportedMapping::from_attrs(&msg.attrs)?)))
            }
            cmd::MAP_DEL_NTF => Some(Event::Unmap {
                key: ReportedMapping::from_attrs(&msg.attrs)?.mapping.key,
            }),
            cmd::SA_NTF => {
                // Here spid is the policy's index, whatever the mapping's key.
                let spid = msg
                    .attrs
                    .iter()
                    .find_map(|a| match a {
                        MapAttr::Spid(n) => Some(*n),
                        _ => None,
                    })
                    .ok_or_else(|| DecodeError::from("sa-ntf without spid attribute"))?;
                let state = msg
                    .attrs
                    .iter()
                    .find_map(|a| match a {
                        MapAttr::SaState(n) => Some(*n),
                        _ => None,
                    })
                    .ok_or_else(|| DecodeError::from("sa-ntf without sa-state attribute"))?;
                Some(Event::Sa { spid, state })
            }
            _ => None,
        })
    }
}

/// The events in a buffer received on a socket subscribed to the group:
/// one entry per notification of the family `family_id`, in order.
/// Messages of other types and unknown commands are skipped.  A message
/// that cannot be decoded gives an error entry, without losing the others;
/// a buffer whose framing is broken is an error as a whole.
pub fn parse_events(
    buf: &[u8],
    family_id: u16,
) -> Result<Vec<Result<Event, DecodeError>>, DecodeError> {
    let mut out = Vec::new();
    for raw in split_messages(buf)? {
        if u16::from_ne_bytes([raw[4], raw[5]]) != family_id {
            continue;
        }
        let ev = parse_message::<XnatMsg>(raw).and_then(|(_, reply)| match reply {
            Reply::Msg(m) => Event::from_msg(&m),
            _ => Ok(None),
        });
        match ev {
            Ok(Some(ev)) => out.push(Ok(ev)),
            Ok(None) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    Ok(out)
}
