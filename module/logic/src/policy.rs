// SPDX-License-Identifier: GPL-2.0
//! Outbound policies as a mapping sees them, and whether one can carry a
//! mapping's flows.

use core::fmt;

use super::addr::{self, Addr, Family};
use super::selector::{DestSelector, Selector};
use super::table::Remote;

/// `XFRM_POLICY_OUT`: the only direction whose policies can be mapped.
/// The direction is also the low three bits of a policy's index.
pub const XFRM_POLICY_OUT: u32 = 1;

/// `XFRM_MAX_DEPTH`: the most templates a policy has.
pub const MAX_TEMPLATES: usize = 6;

/// The reqids of a policy's templates, in template order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reqids {
    ids: [u32; MAX_TEMPLATES],
    len: u8,
}

impl Reqids {
    /// The reqids of `templates`; those past [`MAX_TEMPLATES`] are ignored
    /// (the kernel allows no more).
    pub fn new(templates: impl IntoIterator<Item = u32>) -> Self {
        let mut r = Self::default();
        for id in templates.into_iter().take(MAX_TEMPLATES) {
            r.ids[usize::from(r.len)] = id;
            r.len += 1;
        }
        r
    }

    /// The reqids, as many as the policy has templates.
    pub fn as_slice(&self) -> &[u32] {
        &self.ids[..usize::from(self.len)]
    }

    /// Whether a template carries `reqid`.
    pub fn contains(&self, reqid: u32) -> bool {
        self.as_slice().contains(&reqid)
    }
}

/// An outbound main policy as the SPD holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenPolicy {
    /// Its index (spid).
    pub index: u32,
    /// Its selector's family.
    pub family: Family,
    /// Its selector.
    pub selector: Selector,
    /// Its priority.
    pub priority: u32,
    /// Its templates' reqids.
    pub reqids: Reqids,
}

/// What a mapping keeps of a policy it binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyInfo {
    /// Its selector, but for the source (see [`DestSelector`]).
    pub selector: DestSelector,
    /// Its priority: among matching policies the lowest value wins, as in
    /// the SPD.
    pub priority: u32,
}

/// Why a policy cannot carry a mapping's flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unfit {
    /// The policy's family is not the mapping's.
    FamilyMismatch {
        /// The policy's index.
        index: u32,
        /// Its family.
        policy: Family,
        /// The mapping's.
        mapping: Family,
    },
    /// The policy's source selector does not contain the whole translated
    /// prefix (or the address, for a single-address mapping).
    SourceNotSelected {
        /// The policy's index.
        index: u32,
        /// The family of both.
        family: Family,
        /// The mapping's address or prefix.
        nat: Addr,
        /// Its length.
        nat_len: u8,
        /// The policy's source prefix.
        saddr: Addr,
        /// Its length.
        prefixlen_s: u8,
    },
    /// The policy's destination selector does not contain the whole
    /// remote prefix of a mapping with a remote alias.
    RemoteNotSelected {
        /// The policy's index.
        index: u32,
        /// The family of both.
        family: Family,
        /// The mapping's remote prefix.
        remote: Addr,
        /// Its length.
        remote_len: u8,
        /// The policy's destination prefix.
        daddr: Addr,
        /// Its length.
        prefixlen_d: u8,
    },
}

/// Whether `policy` can carry the flows of a mapping that translates into
/// `nat`/`nat_len`: the families agree, and every translated source is one
/// the policy's source selector admits; and, for a mapping with a remote
/// alias, every remote address one its destination selector admits.
pub fn fit(policy: &SeenPolicy, family: Family, nat: &Addr, nat_len: u8, remote: Option<&Remote>) -> Result<PolicyInfo, Unfit> {
    if policy.family != family {
        return Err(Unfit::FamilyMismatch { index: policy.index, policy: policy.family, mapping: family });
    }
    let s = &policy.selector;
    let covers = s.is_valid_for(family) && s.dest.prefixlen_s <= nat_len && s.admits_source(nat);
    if !covers {
        return Err(Unfit::SourceNotSelected {
            index: policy.index,
            family,
            nat: *nat,
            nat_len,
            saddr: s.saddr,
            prefixlen_s: s.dest.prefixlen_s,
        });
    }
    if let Some(r) = remote {
        let d = &s.dest;
        if d.prefixlen_d > r.len || !r.real.in_prefix(&d.daddr, d.prefixlen_d) {
            return Err(Unfit::RemoteNotSelected {
                index: policy.index,
                family,
                remote: r.real,
                remote_len: r.len,
                daddr: d.daddr,
                prefixlen_d: d.prefixlen_d,
            });
        }
    }
    Ok(PolicyInfo { selector: s.dest, priority: policy.priority })
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::FamilyMismatch { index, policy, mapping } => {
                write!(f, "policy {index} is {}, the address is {}", policy.name(), mapping.name())
            }
            Self::RemoteNotSelected { index, family, remote, remote_len, daddr, prefixlen_d } => {
                write!(
                    f,
                    "policy {index} selects dst {}/{prefixlen_d}, not remote {}/{remote_len}",
                    addr::Display(family, &daddr),
                    addr::Display(family, &remote)
                )
            }
            Self::SourceNotSelected { index, family, nat, nat_len, saddr, prefixlen_s } => {
                write!(f, "policy {index} selects src {}/{prefixlen_s}, not {}", addr::Display(family, &saddr), addr::Display(family, &nat))?;
                if nat_len < family.max_prefix() {
                    write!(f, "/{nat_len}")?;
                }
                Ok(())
            }
        }
    }
}

/// An outbound policy of any type (main or sub) as a competitor for the
/// flows of the policies that mappings bind: what [`super::table::Table`]
/// needs to tell whether the SPD could give a translated flow to another
/// policy than the bound one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rival {
    /// Its index.
    pub index: u32,
    /// Its selector's family; `None` for one xfrm_nat does not know, taken
    /// as matching anything.
    pub family: Option<Family>,
    /// Its selector.
    pub selector: Selector,
    /// It matches only flows with a mark, or only lookups made for an xfrm
    /// interface (an `if_id`): which flows it gets depends on more than
    /// their addresses.
    pub keyed: bool,
}

impl Rival {
    /// Whether some flow from `nat`/`nat_len` to a destination of
    /// `dest` could match the rival's selector.  Ports, protocol and
    /// device are not looked at, so this may say yes where the SPD would
    /// not: the caller takes a yes as "ask the SPD".
    pub fn may_match(&self, family: Family, nat: &Addr, nat_len: u8, dest: &DestSelector) -> bool {
        let Some(own) = self.family else { return true };
        let s = &self.selector;
        own == family
            && prefixes_meet(&s.saddr, s.dest.prefixlen_s, nat, nat_len)
            && prefixes_meet(&s.dest.daddr, s.dest.prefixlen_d, &dest.daddr, dest.prefixlen_d)
    }
}

/// Whether two prefixes share an address: one contains the other.
fn prefixes_meet(a: &Addr, a_len: u8, b: &Addr, b_len: u8) -> bool {
    let len = a_len.min(b_len);
    a.masked(len) == b.masked(len)
}
