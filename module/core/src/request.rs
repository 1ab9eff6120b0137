// SPDX-License-Identifier: GPL-2.0
//! Validation of configuration requests, and the reasons for refusing them
//! in words the user of `xnatctl` understands (sent back as extack).

use core::fmt;

use super::addr::{self, Addr, Family};
use super::hold::HoldLimits;
use super::selector::Selector;
pub use super::table::PendingMode;
use super::table::PolicyInfo;

/// `XFRM_POLICY_OUT`: the only direction whose policies can be mapped.
pub const XFRM_POLICY_OUT: u32 = 1;

/// The most mappings one network namespace may hold, whatever the
/// `max_mappings` module parameter says.
pub const MAX_MAPPINGS: usize = 65536;

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
    /// The defaults (the module parameters' initial values).
    pub const DEFAULT: Self = Self { mappings: MAX_MAPPINGS, hold_bytes: 64 << 20 };
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
    /// The address attribute is neither 4 nor 16 bytes long.
    AddressLength(usize),
    /// spid & 7 names another direction than out (never built for an out
    /// spid).
    NotOutbound(u32),
    /// The spid is mapped already and replace was not requested.
    Exists(u32),
    /// The spid is not mapped.
    NotMapped(u32),
    /// The policy exists with another family than the address.
    FamilyMismatch { spid: u32, policy: Family, mapping: Family },
    /// The policy's source selector does not contain the address.
    SourceNotSelected { spid: u32, family: Family, nat: Addr, saddr: Addr, prefixlen_s: u8 },
    /// The namespace holds as many mappings as its limit (given) allows.
    TooMany(usize),
    /// The namespace's hold queues would reserve `wanted` bytes, more than
    /// its limit.
    HoldMemory { wanted: u64, limit: u64 },
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
    /// A map-set request names this spid twice.
    Duplicate(u32),
}

impl Refusal {
    /// The errno that goes with the refusal.
    pub fn errno(&self) -> i32 {
        const EINVAL: i32 = 22;
        const EEXIST: i32 = 17;
        const ENOENT: i32 = 2;
        const ENOSPC: i32 = 28;
        match self {
            Self::Exists(_) => EEXIST,
            Self::NotMapped(_) => ENOENT,
            Self::TooMany(_) | Self::HoldMemory { .. } => ENOSPC,
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
            Self::Exists(spid) => write!(f, "spid {spid} is already mapped"),
            Self::NotMapped(spid) => write!(f, "spid {spid} is not mapped"),
            Self::FamilyMismatch { spid, policy, mapping } => {
                write!(f, "policy {spid} is {}, the address is {}", policy.name(), mapping.name())
            }
            Self::SourceNotSelected { spid, family, nat, saddr, prefixlen_s } => write!(
                f,
                "policy {spid} selects src {}/{prefixlen_s}, not {}",
                addr::Display(family, &saddr),
                addr::Display(family, &nat)
            ),
            Self::TooMany(max) => {
                write!(f, "namespace at its limit of {max} mappings (param max_mappings)")
            }
            Self::HoldMemory { wanted, limit } => {
                write!(f, "hold queues would reserve {wanted} bytes, over max_hold_bytes={limit}")
            }
            Self::PendingMode(v) => write!(f, "unknown pending mode {v}"),
            Self::HoldLimitWithoutHold => write!(f, "hold limits need pending mode hold"),
            Self::HoldPackets(n) => {
                write!(f, "hold packet limit {n} is not within 1..={}", HoldLimits::MAX_PACKETS)
            }
            Self::HoldBytes(n) => write!(f, "hold byte limit {n} is not within 1..={}", HoldLimits::MAX_BYTES),
            Self::BadEntryAttr(t) => write!(f, "attribute {t} is repeated, malformed or not allowed here"),
            Self::Duplicate(spid) => write!(f, "spid {spid} appears more than once"),
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
    /// The policy index.
    pub spid: u32,
    /// The address family of `nat`.
    pub family: Family,
    /// The address to translate to.
    pub nat: Addr,
    /// What to do while the SA is pending.
    pub pending: PendingMode,
    /// Bounds of the hold queue (hold mode; the defaults otherwise).
    pub hold: HoldLimits,
}

/// The attributes of a map-new request, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapAttrs<'a> {
    /// `spid`.
    pub spid: Option<u32>,
    /// `addr`.
    pub addr: Option<&'a [u8]>,
    /// `pending`.
    pub pending: Option<u8>,
    /// `hold-packets`.
    pub hold_packets: Option<u32>,
    /// `hold-bytes`.
    pub hold_bytes: Option<u32>,
}

/// The attributes of one `mapping` entry of a map-set request (the payload
/// of the nest), which are those of a map-new request.  A repeated or
/// malformed attribute, or one map-set does not take, is refused.
pub fn map_entry_attrs(entry: &[u8]) -> Result<MapAttrs<'_>, Refusal> {
    use super::nla;
    use super::uapi::map_attr;
    let mut a = MapAttrs::default();
    for (kind, v) in nla::Attrs::new(entry) {
        let fresh = match kind {
            map_attr::SPID => a.spid.replace(nla::u32_of(v).ok_or(Refusal::BadEntryAttr(kind))?).is_none(),
            map_attr::ADDR => a.addr.replace(v).is_none(),
            map_attr::PENDING => a.pending.replace(nla::u8_of(v).ok_or(Refusal::BadEntryAttr(kind))?).is_none(),
            map_attr::HOLD_PACKETS => {
                a.hold_packets.replace(nla::u32_of(v).ok_or(Refusal::BadEntryAttr(kind))?).is_none()
            }
            map_attr::HOLD_BYTES => a.hold_bytes.replace(nla::u32_of(v).ok_or(Refusal::BadEntryAttr(kind))?).is_none(),
            _ => false,
        };
        if !fresh {
            return Err(Refusal::BadEntryAttr(kind));
        }
    }
    Ok(a)
}

/// Validates the attributes of a map-new request.
pub fn map_request(a: MapAttrs<'_>) -> Result<MapRequest, Refusal> {
    let MapAttrs { spid, addr, pending, hold_packets, hold_bytes } = a;
    let spid = check_spid(spid.ok_or(Refusal::Missing("spid"))?)?;
    let bytes = addr.ok_or(Refusal::Missing("addr"))?;
    let (family, nat) = Addr::from_wire(bytes).ok_or(Refusal::AddressLength(bytes.len()))?;
    let pending = match pending {
        None => PendingMode::default(),
        Some(v) => PendingMode::from_wire(v).ok_or(Refusal::PendingMode(v))?,
    };
    if pending != PendingMode::Hold && (hold_packets.is_some() || hold_bytes.is_some()) {
        return Err(Refusal::HoldLimitWithoutHold);
    }
    let hold = hold_limits(hold_packets, hold_bytes)?;
    Ok(MapRequest { spid, family, nat, pending, hold })
}

/// An out policy as the SPD holds it, for [`evaluate_policy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenPolicy {
    /// Its selector's family.
    pub family: Family,
    /// Its selector.
    pub selector: Selector,
    /// Its priority.
    pub priority: u32,
}

/// Decides whether a policy seen for a mapping makes it active: `Ok(None)`
/// for no policy, what the mapping keeps of the policy if it can carry the
/// mapping's flows, or the reason it cannot.
pub fn evaluate_policy(req: &MapRequest, policy: Option<SeenPolicy>) -> Result<Option<PolicyInfo>, Refusal> {
    let Some(p) = policy else { return Ok(None) };
    if p.family != req.family {
        return Err(Refusal::FamilyMismatch { spid: req.spid, policy: p.family, mapping: req.family });
    }
    if !p.selector.is_valid_for(p.family) || !p.selector.admits_source(&req.nat) {
        return Err(Refusal::SourceNotSelected {
            spid: req.spid,
            family: p.family,
            nat: req.nat,
            saddr: p.selector.saddr,
            prefixlen_s: p.selector.dest.prefixlen_s,
        });
    }
    Ok(Some(PolicyInfo { selector: p.selector.dest, priority: p.priority }))
}

/// Validates the hold limits of a map-new request: given only with hold
/// mode, each within its bounds.
pub fn hold_limits(packets: Option<u32>, bytes: Option<u32>) -> Result<HoldLimits, Refusal> {
    let packets = packets.unwrap_or(HoldLimits::DEFAULT_PACKETS);
    let bytes = bytes.unwrap_or(HoldLimits::DEFAULT_BYTES);
    if packets == 0 || packets > HoldLimits::MAX_PACKETS {
        return Err(Refusal::HoldPackets(packets));
    }
    if bytes == 0 || bytes > HoldLimits::MAX_BYTES {
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
