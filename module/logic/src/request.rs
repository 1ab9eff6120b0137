// SPDX-License-Identifier: GPL-2.0
//! Validation of configuration requests, and the reasons for refusing them
//! in words the user of `xnatctl` understands (sent back as extack).

use core::fmt;

use super::addr::{self, Addr, Family};
use super::hold::HoldLimits;
pub use super::name::MapName;
pub use super::policy::XFRM_POLICY_OUT;
use super::policy::Unfit;
pub use super::table::{MapKey, PendingMode, Remote};

/// The most mappings one network namespace may hold, whatever the
/// `max_mappings` module parameter says.
pub const MAX_MAPPINGS: usize = super::uapi::MAX_MAPPINGS as usize;

/// Per-namespace limits: what one namespace's owner, root in a user
/// namespace included, may make the kernel keep.  In the kernel they are
/// module parameters (`max_mappings`, `max_hold_bytes`), settable by the
/// initial namespace's root only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetLimits {
    /// Mappings (capped at [`MAX_MAPPINGS`]).
    pub mappings: usize,
    /// Bytes the namespace's hold queues may reserve, see
    /// [`hold_reservation`].
    pub hold_bytes: u64,
}

impl NetLimits {
    /// The defaults (the module parameters' initial values), the spec's.
    pub const DEFAULT: Self = Self { mappings: MAX_MAPPINGS, hold_bytes: super::uapi::MAX_HOLD_BYTES_DEFAULT };
}

/// What a hold queue with `limits` may pin: its byte bound, plus its slots,
/// which are allocated when the mapping is made.  A slot is charged at 32
/// bytes, more than its size on 64-bit machines.
pub fn hold_reservation(limits: &HoldLimits) -> u64 {
    u64::from(limits.bytes) + 32 * u64::from(limits.packets)
}

/// Checks `req` against the namespace's limits.  `mappings` is how many
/// the namespace has besides the one `req` replaces (if any); `held` is
/// what their hold queues reserve.
pub fn check_limits(req: &MapRequest, mappings: usize, held: u64, limits: &NetLimits) -> Result<(), Refusal> {
    let max = limits.mappings.min(MAX_MAPPINGS);
    if mappings >= max {
        return Err(Refusal::TooMany(max));
    }
    if req.pending == PendingMode::Hold {
        let wanted = held.saturating_add(hold_reservation(&req.hold));
        if wanted > limits.hold_bytes {
            return Err(Refusal::HoldMemory { wanted, limit: limits.hold_bytes });
        }
    }
    Ok(())
}


/// Why a request is refused.  [`fmt::Display`] gives the extack text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A required attribute is absent.
    Missing(&'static str),
    /// Both spid and reqid were given.
    TwoKeys,
    /// reqid 0, which templates use for "any".
    ReqidZero,
    /// An address attribute is neither 4 nor 16 bytes long.
    AddressLength(usize),
    /// spid & 7 names another direction than out (never built for an out
    /// spid).
    NotOutbound(u32),
    /// The key is mapped already and replace was not requested.
    Exists(MapKey),
    /// The key is not mapped.
    NotMapped(MapKey),
    /// A policy of the key exists but cannot carry the mapping's flows.
    Unfit(Unfit),
    /// A prefix length longer than the family's addresses.
    PrefixLen { family: Family, len: u8 },
    /// An address with bits set after its prefix.
    HostBits { family: Family, addr: Addr, len: u8 },
    /// A shorter prefix than a single address, without from.
    PrefixWithoutFrom(u8),
    /// from without its length, or its length without from.
    FromIncomplete,
    /// from is of another family than addr.
    FromFamily,
    /// from's prefix is not as long as addr's.
    PrefixMismatch { from: u8, to: u8 },
    /// The namespace holds as many mappings as its limit (given) allows.
    TooMany(usize),
    /// The namespace's hold queues would reserve `wanted` bytes, more than
    /// its limit.
    HoldMemory { wanted: u64, limit: u64 },
    /// The hold queues of all namespaces together would reserve `wanted`
    /// bytes, more than `limit` (`max_hold_bytes_total`).
    HoldMemoryTotal { wanted: u64, limit: u64 },
    /// An unknown pending mode.
    PendingMode(u8),
    /// A hold limit without hold mode.
    HoldLimitWithoutHold,
    /// A packet limit of the hold queue out of range.
    HoldPackets(u32),
    /// A byte limit of the hold queue out of range.
    HoldBytes(u32),
    /// A map-set entry's attribute of this type is repeated, malformed or
    /// not one map-set takes.
    BadEntryAttr(u16),
    /// A map-set request names this key twice.
    Duplicate(MapKey),
    /// inbound on a mapping without from: the remote side's flows need a
    /// host in from for each address of the prefix.
    InboundWithoutFrom,
    /// remote, remote-alias and remote-prefix-len not all given.
    RemoteIncomplete,
    /// remote or remote-alias is of another family than addr.
    RemoteFamily,
    /// The remote alias overlaps that of the mapping of this key.
    AliasOverlap(MapKey),
    /// A zone without a remote prefix.
    ZoneWithoutRemote,
    /// A zone where the kernel keeps none.
    NoZones,
    /// A name attribute that is no name ([`MapName`]'s rules).
    BadName,
    /// A map-set request gives the name of an earlier entry.
    DuplicateName,
}

impl Refusal {
    /// The errno that goes with the refusal.
    pub fn errno(&self) -> i32 {
        const EINVAL: i32 = 22;
        const EEXIST: i32 = 17;
        const ENOENT: i32 = 2;
        const ENOSPC: i32 = 28;
        const EOPNOTSUPP: i32 = 95;
        match self {
            Self::Exists(_) => EEXIST,
            Self::NotMapped(_) => ENOENT,
            Self::TooMany(_) | Self::HoldMemory { .. } | Self::HoldMemoryTotal { .. } => ENOSPC,
            Self::NoZones => EOPNOTSUPP,
            _ => EINVAL,
        }
    }
}

/// The kind of policy that `spid`'s direction bits name, with its article
/// ("an in policy"), or `None` for the values no policy has (6 and 7).
fn policy_kind(spid: u32) -> Option<&'static str> {
    match spid & 7 {
        0 => Some("an in policy"),
        1 => Some("an out policy"),
        2 => Some("a fwd policy"),
        3..=5 => Some("a socket policy"),
        _ => None,
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Missing(what) => write!(f, "missing {what}"),
            Self::AddressLength(n) => write!(f, "address must be 4 or 16 bytes, not {n}"),
            // At most 75 bytes for any spid: the whole text fits an extack.
            Self::NotOutbound(spid) => match policy_kind(spid) {
                Some(kind) => write!(f, "spid {spid} is {kind}; only out (spid&7=1) can be mapped"),
                None => write!(f, "spid {spid} has an unknown direction; only out (spid&7=1) can be mapped"),
            },
            Self::TwoKeys => write!(f, "give spid or reqid, not both"),
            Self::ReqidZero => write!(f, "reqid 0 means any SA to the kernel; pin a reqid in the IKE config"),
            Self::Exists(key) => write!(f, "{key} is already mapped"),
            Self::NotMapped(key) => write!(f, "{key} is not mapped"),
            Self::Unfit(u) => u.fmt(f),
            Self::PrefixLen { family, len } => {
                write!(f, "prefix length {len} is longer than an {} address", family.name())
            }
            Self::HostBits { family, addr, len } => {
                write!(f, "{}/{len} has host bits set", addr::Display(family, &addr))
            }
            Self::PrefixWithoutFrom(len) => {
                write!(f, "a /{len} prefix needs from, the source prefix to map 1:1")
            }
            Self::FromIncomplete => write!(f, "from and from-prefix-len go together"),
            Self::FromFamily => write!(f, "from and the address are of different families"),
            Self::PrefixMismatch { from, to } => {
                write!(f, "from is /{from} but the prefix is /{to}; a 1:1 mapping needs equal lengths")
            }
            Self::TooMany(max) => {
                write!(f, "namespace at its limit of {max} mappings (param max_mappings)")
            }
            Self::HoldMemory { wanted, limit } => {
                write!(f, "hold queues would reserve {wanted} bytes, over max_hold_bytes={limit}")
            }
            Self::HoldMemoryTotal { wanted, limit } => {
                write!(f, "hold queues would reserve {wanted} bytes, over max_hold_bytes_total={limit}")
            }
            Self::PendingMode(v) => write!(f, "unknown pending mode {v}"),
            Self::HoldLimitWithoutHold => write!(f, "hold limits need pending mode hold"),
            Self::HoldPackets(n) => {
                write!(f, "hold packet limit {n} is not within {}..={}", HoldLimits::MIN_PACKETS, HoldLimits::MAX_PACKETS)
            }
            Self::HoldBytes(n) => {
                write!(f, "hold byte limit {n} is not within {}..={}", HoldLimits::MIN_BYTES, HoldLimits::MAX_BYTES)
            }
            Self::BadEntryAttr(t) => write!(f, "attribute {t} is repeated, malformed or not allowed here"),
            Self::Duplicate(key) => write!(f, "{key} appears more than once"),
            Self::InboundWithoutFrom => write!(f, "inbound needs a 1:1 prefix mapping (from)"),
            Self::RemoteIncomplete => write!(f, "remote, remote-alias and remote-prefix-len go together"),
            Self::RemoteFamily => write!(f, "the remote prefix and the address are of different families"),
            Self::AliasOverlap(key) => write!(f, "the remote alias overlaps that of {key}"),
            Self::ZoneWithoutRemote => write!(f, "a zone needs a remote prefix (remote ALIAS is PREFIX)"),
            Self::NoZones => write!(f, "this kernel keeps no conntrack zones (CONFIG_NF_CONNTRACK_ZONES)"),
            Self::BadName => write!(f, "bad name: 1-63 UTF-8 bytes, no space or control char, no leading #"),
            Self::DuplicateName => write!(f, "an earlier entry has the same name"),
        }
    }
}

/// Checks that `spid` can name an outbound policy.
pub fn check_spid(spid: u32) -> Result<u32, Refusal> {
    if spid & 7 == XFRM_POLICY_OUT {
        Ok(spid)
    } else {
        Err(Refusal::NotOutbound(spid))
    }
}

/// A validated map-new request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRequest {
    /// The policies to bind.
    pub key: MapKey,
    /// The address family of `nat`.
    pub family: Family,
    /// The address or prefix to translate to.
    pub nat: Addr,
    /// Its prefix length (the family's full length for an address).
    pub nat_len: u8,
    /// The source prefix of a 1:1 mapping (of length `nat_len`).
    pub from: Option<Addr>,
    /// What to do while the SA is pending.
    pub pending: PendingMode,
    /// Bounds of the hold queue (hold mode; the defaults otherwise).
    pub hold: HoldLimits,
    /// Whether flows the remote side starts towards the prefix are
    /// admitted (destination-NATed into `from`).
    pub inbound: bool,
    /// The remote prefix, and the alias local hosts address it by.
    pub remote: Option<Remote>,
    /// The IKE child the mapping is kept for.
    pub name: Option<MapName>,
}

/// The attributes of a map-new request, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapAttrs<'a> {
    /// `spid`.
    pub spid: Option<u32>,
    /// `reqid`.
    pub reqid: Option<u32>,
    /// `addr`.
    pub addr: Option<&'a [u8]>,
    /// `prefix-len`.
    pub prefix_len: Option<u8>,
    /// `from`.
    pub from: Option<&'a [u8]>,
    /// `from-prefix-len`.
    pub from_prefix_len: Option<u8>,
    /// `pending`.
    pub pending: Option<u8>,
    /// `hold-packets`.
    pub hold_packets: Option<u32>,
    /// `hold-bytes`.
    pub hold_bytes: Option<u32>,
    /// `inbound`.
    pub inbound: bool,
    /// `remote`.
    pub remote: Option<&'a [u8]>,
    /// `remote-alias`.
    pub remote_alias: Option<&'a [u8]>,
    /// `remote-prefix-len`.
    pub remote_prefix_len: Option<u8>,
    /// `zone`.
    pub zone: Option<u16>,
    /// `name`, its NUL included.
    pub name: Option<&'a [u8]>,
}

/// The attributes of one `mapping` entry of a map-set request (the payload
/// of the nest), which are those of a map-new request.  A repeated or
/// malformed attribute, or one map-set does not take, is refused.
pub fn map_entry_attrs(entry: &[u8]) -> Result<MapAttrs<'_>, Refusal> {
    use super::nla;
    use super::uapi::map_attr;
    let mut a = MapAttrs::default();
    for (kind, v) in nla::Attrs::new(entry) {
        let bad = Refusal::BadEntryAttr(kind);
        let fresh = match kind {
            map_attr::SPID => a.spid.replace(nla::u32_of(v).ok_or(bad)?).is_none(),
            map_attr::REQID => a.reqid.replace(nla::u32_of(v).ok_or(bad)?).is_none(),
            map_attr::ADDR => a.addr.replace(v).is_none(),
            map_attr::PREFIX_LEN => a.prefix_len.replace(nla::u8_of(v).ok_or(bad)?).is_none(),
            map_attr::FROM => a.from.replace(v).is_none(),
            map_attr::FROM_PREFIX_LEN => a.from_prefix_len.replace(nla::u8_of(v).ok_or(bad)?).is_none(),
            map_attr::PENDING => a.pending.replace(nla::u8_of(v).ok_or(bad)?).is_none(),
            map_attr::HOLD_PACKETS => a.hold_packets.replace(nla::u32_of(v).ok_or(bad)?).is_none(),
            map_attr::HOLD_BYTES => a.hold_bytes.replace(nla::u32_of(v).ok_or(bad)?).is_none(),
            // A flag has no payload.
            map_attr::INBOUND if v.is_empty() => !core::mem::replace(&mut a.inbound, true),
            map_attr::REMOTE => a.remote.replace(v).is_none(),
            map_attr::REMOTE_ALIAS => a.remote_alias.replace(v).is_none(),
            map_attr::REMOTE_PREFIX_LEN => a.remote_prefix_len.replace(nla::u8_of(v).ok_or(bad)?).is_none(),
            map_attr::ZONE => a.zone.replace(nla::u16_of(v).ok_or(bad)?).is_none(),
            map_attr::NAME => a.name.replace(v).is_none(),
            _ => false,
        };
        if !fresh {
            return Err(bad);
        }
    }
    Ok(a)
}

/// The key of a request that names a mapping by spid or by reqid.
pub fn map_key(spid: Option<u32>, reqid: Option<u32>) -> Result<MapKey, Refusal> {
    match (spid, reqid) {
        (Some(_), Some(_)) => Err(Refusal::TwoKeys),
        (Some(spid), None) => Ok(MapKey::Spid(check_spid(spid)?)),
        (None, Some(0)) => Err(Refusal::ReqidZero),
        (None, Some(reqid)) => Ok(MapKey::Reqid(reqid)),
        (None, None) => Err(Refusal::Missing("spid or reqid")),
    }
}

/// An address attribute and its prefix length (the full length if absent),
/// with host bits clear.
fn prefix(bytes: &[u8], len: Option<u8>) -> Result<(Family, Addr, u8), Refusal> {
    let (family, addr) = Addr::from_wire(bytes).ok_or(Refusal::AddressLength(bytes.len()))?;
    let len = len.unwrap_or(family.max_prefix());
    if len > family.max_prefix() {
        return Err(Refusal::PrefixLen { family, len });
    }
    if addr.masked(len) != addr {
        return Err(Refusal::HostBits { family, addr, len });
    }
    Ok((family, addr, len))
}

/// Validates the attributes of a map-new request.
pub fn map_request(a: MapAttrs<'_>) -> Result<MapRequest, Refusal> {
    let MapAttrs {
        spid,
        reqid,
        addr,
        prefix_len,
        from,
        from_prefix_len,
        pending,
        hold_packets,
        hold_bytes,
        inbound,
        remote,
        remote_alias,
        remote_prefix_len,
        zone,
        name,
    } = a;
    let key = map_key(spid, reqid)?;
    let (family, nat, nat_len) = prefix(addr.ok_or(Refusal::Missing("addr"))?, prefix_len)?;
    let from = match (from, from_prefix_len) {
        (None, None) if nat_len < family.max_prefix() => return Err(Refusal::PrefixWithoutFrom(nat_len)),
        (None, None) => None,
        (Some(bytes), Some(len)) => {
            // The family first: a length check against the wrong family's
            // addresses would say something beside the point.
            if Addr::from_wire(bytes).is_some_and(|(f, _)| f != family) {
                return Err(Refusal::FromFamily);
            }
            let (_, from, from_len) = prefix(bytes, Some(len))?;
            if from_len != nat_len {
                return Err(Refusal::PrefixMismatch { from: from_len, to: nat_len });
            }
            Some(from)
        }
        _ => return Err(Refusal::FromIncomplete),
    };
    let pending = match pending {
        None => PendingMode::default(),
        Some(v) => PendingMode::from_wire(v).ok_or(Refusal::PendingMode(v))?,
    };
    if pending != PendingMode::Hold && (hold_packets.is_some() || hold_bytes.is_some()) {
        return Err(Refusal::HoldLimitWithoutHold);
    }
    let hold = hold_limits(hold_packets, hold_bytes)?;
    if inbound && from.is_none() {
        return Err(Refusal::InboundWithoutFrom);
    }
    let remote = match (remote, remote_alias, remote_prefix_len) {
        (None, None, None) => None,
        (Some(real), Some(alias), Some(len)) => {
            let of_family = |bytes: &[u8]| Addr::from_wire(bytes).is_none_or(|(f, _)| f == family);
            if !of_family(real) || !of_family(alias) {
                return Err(Refusal::RemoteFamily);
            }
            let (_, real, len) = prefix(real, Some(len))?;
            let (_, alias, _) = prefix(alias, Some(len))?;
            // Zone 0 is the default one, as if none were given (the
            // attribute's policy refuses it).
            Some(Remote { real, alias, len, zone: zone.unwrap_or(0) })
        }
        _ => return Err(Refusal::RemoteIncomplete),
    };
    if zone.is_some() && remote.is_none() {
        return Err(Refusal::ZoneWithoutRemote);
    }
    let name = name.map(|n| MapName::from_wire(n).map_err(|_| Refusal::BadName)).transpose()?;
    Ok(MapRequest { key, family, nat, nat_len, from, pending, hold, inbound, remote, name })
}

/// Refuses `req` if it asks for a conntrack zone and the kernel keeps none
/// (`zones`: whether it was built with `CONFIG_NF_CONNTRACK_ZONES`): there
/// a zone is ignored, and the flows of two sites would meet in the default
/// one.
pub fn check_zone(req: MapRequest, zones: bool) -> Result<MapRequest, Refusal> {
    if !zones && req.remote.is_some_and(|r| r.zone != 0) {
        return Err(Refusal::NoZones);
    }
    Ok(req)
}

/// Validates the hold limits of a map-new request: given only with hold
/// mode, each within its bounds.
pub fn hold_limits(packets: Option<u32>, bytes: Option<u32>) -> Result<HoldLimits, Refusal> {
    let packets = packets.unwrap_or(HoldLimits::DEFAULT_PACKETS);
    let bytes = bytes.unwrap_or(HoldLimits::DEFAULT_BYTES);
    if !(HoldLimits::MIN_PACKETS..=HoldLimits::MAX_PACKETS).contains(&packets) {
        return Err(Refusal::HoldPackets(packets));
    }
    if !(HoldLimits::MIN_BYTES..=HoldLimits::MAX_BYTES).contains(&bytes) {
        return Err(Refusal::HoldBytes(bytes));
    }
    Ok(HoldLimits { packets, bytes })
}

#[cfg(test)]
mod tests {
    use super::super::fmt::FixedBuf;
    use super::*;
    use core::fmt::Write;

    /// The text of `r` as the kernel sends it (an 80-byte extack).
    fn extack(r: Refusal) -> FixedBuf<80> {
        let mut b = FixedBuf::new();
        write!(b, "{r}").unwrap();
        b
    }

    #[test]
    fn not_outbound_reads_right_for_every_direction() {
        for (spid, want) in [
            (0, "spid 0 is an in policy; only out (spid&7=1) can be mapped"),
            (304, "spid 304 is an in policy; only out (spid&7=1) can be mapped"),
            (306, "spid 306 is a fwd policy; only out (spid&7=1) can be mapped"),
            (3, "spid 3 is a socket policy; only out (spid&7=1) can be mapped"),
            (4, "spid 4 is a socket policy; only out (spid&7=1) can be mapped"),
            (13, "spid 13 is a socket policy; only out (spid&7=1) can be mapped"),
            (6, "spid 6 has an unknown direction; only out (spid&7=1) can be mapped"),
            (7, "spid 7 has an unknown direction; only out (spid&7=1) can be mapped"),
        ] {
            assert_eq!(check_spid(spid), Err(Refusal::NotOutbound(spid)));
            assert_eq!(extack(Refusal::NotOutbound(spid)).as_str(), want);
        }
        // Whole in an extack for the longest spids of every direction, and
        // never the article that does not go with the word.
        for d in 0..8 {
            let spid = u32::MAX - 7 + d;
            let b = extack(Refusal::NotOutbound(spid));
            let text = b.as_str();
            let mut whole = FixedBuf::<200>::new();
            write!(whole, "{}", Refusal::NotOutbound(spid)).unwrap();
            assert_eq!(text, whole.as_str(), "cut to fit an extack");
            assert!(text.ends_with("; only out (spid&7=1) can be mapped"), "{text}");
            assert!(!text.contains(" a in ") && !text.contains(" an fwd ") && !text.contains(" a unknown "), "{text}");
            assert!(!text.contains(" an socket ") && !text.contains(" a out "), "{text}");
        }
        assert_eq!(check_spid(305), Ok(305));
    }
}
