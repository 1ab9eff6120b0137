// SPDX-License-Identifier: GPL-2.0
//! The parts of the explain operation that need no kernel: why each
//! mapping takes a flow or not, from the table's public view of its
//! mappings and bindings, and which policy the SPD would give a flow, from
//! the policies a walk of the SPD saw.
//!
//! The mapping that takes a flow is not chosen here: the module asks
//! [`Table::find`] (or [`Table::find_for_alias`]), as the packet path
//! does, and passes the choice in.  What is here only tells the other
//! mappings apart by the rules that choice follows.

use core::cmp::Reverse;
use core::fmt;

use super::addr::{self, Addr, Family};
use super::selector::{DestSelector, Flow, Selector};
use super::table::{Binding, Entry, Inactive, MapKey};

/// Why a mapping takes the flow of an explain request, or does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// It takes the flow.
    Chosen,
    /// It is of the other family.
    OtherFamily(Family),
    /// It binds no policy.
    Inactive(Inactive),
    /// The flow's source is outside its from prefix.
    SourceOutside {
        /// The flow's source.
        saddr: Addr,
        /// The mapping's from prefix.
        from: Addr,
        /// Its length.
        len: u8,
        /// The family of both.
        family: Family,
    },
    /// None of its bound policies selects the translated flow: the lowest
    /// index of them, what it selects, and how many more there are.
    NoPolicySelects {
        /// The policy's index.
        policy: u32,
        /// What it selects, but for the source.
        selector: DestSelector,
        /// The mapping's family.
        family: Family,
        /// The other bound policies, which do not select it either.
        more: usize,
    },
    /// A bound policy selects the flow, but the chosen mapping's binding
    /// ranks before it.
    Outranked {
        /// The chosen mapping.
        by: MapKey,
        /// The rule that decided.
        rule: Rank,
    },
    /// It has a remote alias: it takes only the flows sent to the alias.
    AliasOnly {
        /// The alias prefix.
        alias: Addr,
        /// Its length.
        len: u8,
        /// Its family.
        family: Family,
    },
    /// The flow is sent to another mapping's remote alias.
    OtherAlias(MapKey),
}

/// The rule by which one binding that selects a flow ranks before another,
/// in the order of [`super::table::Table::find`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rank {
    /// The chosen policy has a lower priority value.
    Priority {
        /// This mapping's best policy's.
        own: u32,
        /// The chosen policy's.
        chosen: u32,
    },
    /// Same priority; the chosen policy's destination prefix is longer.
    Prefix {
        /// This mapping's best policy's.
        own: u8,
        /// The chosen policy's.
        chosen: u8,
    },
    /// Same priority and prefix length: the chosen key comes first (spid
    /// keys before reqid keys, then the lower value).
    KeyOrder,
}

impl Why {
    /// The attribute value of the spec's `explain-why` enum.
    pub fn to_wire(&self) -> u8 {
        use super::uapi::explain_why as w;
        match self {
            Self::Chosen => w::CHOSEN,
            Self::OtherFamily(_) => w::OTHER_FAMILY,
            Self::Inactive(_) => w::INACTIVE,
            Self::SourceOutside { .. } => w::SOURCE_OUTSIDE,
            Self::NoPolicySelects { .. } => w::NO_POLICY_SELECTS,
            Self::Outranked { .. } => w::OUTRANKED,
            Self::AliasOnly { .. } => w::ALIAS_ONLY,
            Self::OtherAlias(_) => w::OTHER_ALIAS,
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chosen => f.write_str("takes the flow"),
            Self::OtherFamily(family) => write!(f, "an {} mapping", family.name()),
            Self::Inactive(why) => write!(f, "inactive: {why}"),
            Self::SourceOutside { saddr, from, len, family } => {
                write!(f, "source {} is outside from {}/{len}", addr::Display(*family, saddr), addr::Display(*family, from))
            }
            Self::NoPolicySelects { policy, selector: s, family, more } => {
                write!(f, "no bound policy selects it: policy {policy} selects dst {}/{}", addr::Display(*family, &s.daddr), s.prefixlen_d)?;
                if s.proto != 0 {
                    write!(f, " proto {}", s.proto)?;
                }
                if s.dport_mask != 0 {
                    write!(f, " dport {}", u16::from_be(s.dport))?;
                }
                if s.sport_mask != 0 {
                    write!(f, " sport {}", u16::from_be(s.sport))?;
                }
                if *more > 0 {
                    write!(f, " (and {more} more)")?;
                }
                Ok(())
            }
            Self::Outranked { by, rule: Rank::Priority { own, chosen } } => {
                write!(f, "outranked by {by}: policy priority {chosen} before {own}")
            }
            Self::Outranked { by, rule: Rank::Prefix { own, chosen } } => {
                write!(f, "outranked by {by}: same priority, dst prefix /{chosen} longer than /{own}")
            }
            Self::Outranked { by, rule: Rank::KeyOrder } => {
                write!(f, "outranked by {by}: same priority and dst prefix, and {by} comes first")
            }
            Self::AliasOnly { alias, len, family } => {
                write!(f, "takes only flows to its remote alias {}/{len}", addr::Display(*family, alias))
            }
            Self::OtherAlias(key) => write!(f, "the flow is sent to the remote alias of {key}, which alone may take it"),
        }
    }
}

/// The order of [`super::table::Table::find`] among bindings of one
/// mapping: lowest priority, longest destination prefix, lowest index.
fn rank_key(b: &Binding) -> (u32, Reverse<u8>, u32) {
    (b.policy.priority, Reverse(b.policy.selector.prefixlen_d), b.index)
}

/// The binding of `e` that would take `flow` if no other mapping did.
fn best_binding<'a, S>(e: &Entry<'a, S>, flow: &Flow) -> Option<&'a Binding> {
    e.bindings.iter().filter(|b| b.policy.selector.matches_flow(flow)).min_by_key(|b| rank_key(b))
}

/// The mapping that takes a flow, as the module's lookup chose it.
#[derive(Clone, Copy, Debug)]
pub struct Choice<'a> {
    /// Its key.
    pub key: MapKey,
    /// The binding chosen.
    pub binding: &'a Binding,
}

/// Finds, among `e`'s bindings, the one of policy `index`: the binding
/// the module's lookup chose, as a [`Choice`].
pub fn choice_of<'a, S>(e: &Entry<'a, S>, index: u32) -> Option<Choice<'a>> {
    e.bindings.iter().find(|b| b.index == index).map(|binding| Choice { key: e.key, binding })
}

/// Why mapping `e` takes `flow` of `family`, or does not.  `flow` is as
/// the packet path sees it: for a flow sent to a remote alias, towards the
/// remote address the alias stands for, and `alias_of` the key of the
/// alias's mapping.  `chosen` is the mapping the module's lookup chose,
/// if any.
pub fn why<S>(e: &Entry<'_, S>, family: Family, flow: &Flow, alias_of: Option<MapKey>, chosen: Option<Choice<'_>>) -> Why {
    if e.family != family {
        return Why::OtherFamily(e.family);
    }
    if chosen.is_some_and(|c| c.key == e.key) {
        return Why::Chosen;
    }
    match (alias_of, e.remote) {
        (Some(owner), _) if owner != e.key => return Why::OtherAlias(owner),
        (None, Some(r)) => return Why::AliasOnly { alias: r.alias, len: r.len, family },
        _ => (),
    }
    if let Some(why) = e.inactive {
        return Why::Inactive(why);
    }
    if !e.admits(&flow.saddr) {
        let from = e.from.unwrap_or_default();
        return Why::SourceOutside { saddr: flow.saddr, from, len: e.nat_len, family };
    }
    let Some(own) = best_binding(e, flow) else {
        // Bindings are in index order: the first is the lowest index.
        return match e.bindings.first() {
            Some(b) => Why::NoPolicySelects { policy: b.index, selector: b.policy.selector, family, more: e.bindings.len() - 1 },
            None => Why::Inactive(Inactive::NoPolicy(e.key, e.family)),
        };
    };
    let Some(c) = chosen else {
        // The lookup found nothing though this binding selects the flow:
        // cannot be, unless the table changed in between.
        return Why::Chosen;
    };
    let (mine, theirs) = (own.policy, c.binding.policy);
    let rule = if theirs.priority != mine.priority {
        Rank::Priority { own: mine.priority, chosen: theirs.priority }
    } else if theirs.selector.prefixlen_d != mine.selector.prefixlen_d {
        Rank::Prefix { own: mine.selector.prefixlen_d, chosen: theirs.selector.prefixlen_d }
    } else {
        Rank::KeyOrder
    };
    Why::Outranked { by: c.key, rule }
}

/// What an outbound policy does with the flows it selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpdAction {
    /// Sends them through its templates' SAs.
    Transform,
    /// Lets them pass as they are (an allow policy without templates: a
    /// bypass).
    Pass,
    /// Refuses them (`EPERM`).
    Block,
}

/// An outbound main policy as [`spd_choice`] weighs it: one that a lookup
/// with mark 0, if_id 0 and no security context may give a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpdPolicy {
    /// Its index.
    pub index: u32,
    /// Its priority: the lowest value wins.
    pub priority: u32,
    /// Its insertion position (`xfrm_policy.pos`): the lower wins among
    /// equal priorities.
    pub pos: u32,
    /// Its family.
    pub family: Family,
    /// Its selector.
    pub selector: Selector,
    /// What it does.
    pub action: SpdAction,
}

impl SpdPolicy {
    /// Whether the policy selects `flow` of `family`, as
    /// `xfrm_selector_match()` does.
    pub fn selects(&self, family: Family, flow: &Flow) -> bool {
        self.family == family && self.selector.admits_source(&flow.saddr) && self.selector.dest.matches_flow(flow)
    }

    /// Whether `self` wins over `other` where both select a flow, as in
    /// `xfrm_policy_lookup_bytype()`: lower priority, then earlier
    /// insertion.
    pub fn wins_over(&self, other: &SpdPolicy) -> bool {
        (self.priority, self.pos) < (other.priority, other.pos)
    }
}

/// Keeps, of the policies offered, the one the SPD gives a flow:
/// [`SpdPolicy::selects`] it and [`SpdPolicy::wins_over`] the others.
/// Offered one at a time, as a walk of the SPD finds them, so that the
/// walk needs no memory.
#[derive(Clone, Copy, Debug)]
pub struct SpdChoice {
    family: Family,
    flow: Flow,
    best: Option<SpdPolicy>,
}

impl SpdChoice {
    /// No policy offered yet, for `flow` of `family`.
    pub fn new(family: Family, flow: Flow) -> Self {
        Self { family, flow, best: None }
    }

    /// Weighs `p`.
    pub fn offer(&mut self, p: &SpdPolicy) {
        if p.selects(self.family, &self.flow) && self.best.is_none_or(|b| p.wins_over(&b)) {
            self.best = Some(*p);
        }
    }

    /// The policy chosen, if one selects the flow.
    pub fn chosen(&self) -> Option<SpdPolicy> {
        self.best
    }
}
