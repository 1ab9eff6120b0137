// SPDX-License-Identifier: GPL-2.0
//! The mapping table: an immutable snapshot that the packet path reads under
//! RCU, and writers replace as a whole.
//!
//! A snapshot holds every mapping of a network namespace, sorted by key,
//! and the *bindings*: the (mapping, policy) pairs of each mapping's key
//! whose policy can carry the mapping's flows.  A spid mapping has at most
//! one binding, a reqid mapping one per outbound policy with a template of
//! that reqid.  Writers compute them from an SPD walk ([`Table::build`]);
//! a writer that changes one mapping walks for that key only and keeps the
//! others' ([`Table::with_one`]).  Two indexes serve the packet path:
//!
//! * the *destination index*: the bindings grouped by the destination
//!   prefix length of their policy's selector; within a group, entries of a
//!   32-bit hash of the masked destination and the binding's position,
//!   sorted by hash.  A lookup does one binary search per prefix length in
//!   use (at most 33 for IPv4, 129 for IPv6) over a contiguous array of
//!   8-byte entries, and touches a binding only when the hash matches;
//! * the *address index*: all mappings sorted by translated address or
//!   prefix, to find the mapping behind a NATed conntrack entry on the
//!   fail-closed path.
//!
//! [`Table::build`] sorts the indexes, in O(n log n); [`Table::with_one`]
//! merges one mapping's entries into copies of them, in O(n).  Each
//! binding also has a slot where the packet path records what it learned of
//! the policy's SAs ([`Found::sa_known_ready`]).

use core::cmp::Reverse;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use super::addr::{Addr, Family};
use super::name::MapName;
use super::policy::{self, PolicyInfo, Rival, SeenPolicy, Unfit};
use super::selector::{DestSelector, Flow, Selector};
use super::vec::{self, AllocError, Vec};

/// What a mapping does with a new flow while its policy's SA is pending
/// (being negotiated, or missing with nobody answering ACQUIRE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PendingMode {
    /// Refuse with `EAGAIN` at a blocking local sender; hold the packets of
    /// non-blocking local senders, translated, in the namespace's queue for
    /// them until the SA is installed; drop forwarded packets.
    #[default]
    Eagain,
    /// Drop silently.
    Drop,
    /// Queue, and release once the SA is installed.
    Hold,
}

impl PendingMode {
    /// The mode of a `pending-mode` attribute value.
    pub fn from_wire(v: u8) -> Option<Self> {
        match v {
            super::uapi::pending_mode::EAGAIN => Some(Self::Eagain),
            super::uapi::pending_mode::DROP => Some(Self::Drop),
            super::uapi::pending_mode::HOLD => Some(Self::Hold),
            _ => None,
        }
    }

    /// The attribute value.
    pub fn to_wire(self) -> u8 {
        match self {
            Self::Eagain => super::uapi::pending_mode::EAGAIN,
            Self::Drop => super::uapi::pending_mode::DROP,
            Self::Hold => super::uapi::pending_mode::HOLD,
        }
    }
}

/// What names a mapping's policies.  Spid keys sort before reqid keys,
/// which is also the precedence between a spid and a reqid mapping that
/// bind the same policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapKey {
    /// One policy, by its index.  The kernel gives a re-added policy a new
    /// index, so this names one incarnation of a policy.
    Spid(u32),
    /// The outbound policies with a template of this reqid, whatever their
    /// indexes: what an IKE daemon keeps across restarts when the reqid is
    /// pinned in its configuration.
    Reqid(u32),
}

impl MapKey {
    /// The key as a netlink dump cursor, in key order.
    pub fn cursor(self) -> u64 {
        match self {
            Self::Spid(v) => u64::from(v),
            Self::Reqid(v) => (1 << 32) | u64::from(v),
        }
    }

    /// The key of a cursor.
    pub fn from_cursor(c: u64) -> Option<Self> {
        let v = c as u32;
        match c >> 32 {
            0 => Some(Self::Spid(v)),
            1 => Some(Self::Reqid(v)),
            _ => None,
        }
    }

    /// Whether the key names policy `p`.
    pub fn names(self, p: &SeenPolicy) -> bool {
        match self {
            Self::Spid(spid) => p.index == spid,
            Self::Reqid(reqid) => p.reqids.contains(reqid),
        }
    }
}

impl fmt::Display for MapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spid(v) => write!(f, "spid {v}"),
            Self::Reqid(v) => write!(f, "reqid {v}"),
        }
    }
}

/// A remote prefix that local hosts address by an alias, because it
/// overlaps a prefix of their own (twice NAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The prefix as the policies and the remote site name it.
    pub real: Addr,
    /// The prefix local hosts address it by.
    pub alias: Addr,
    /// The length of both.
    pub len: u8,
    /// The conntrack zone of the flows with the remote prefix, 0 for the
    /// default one ([`Table::zone_of_arriving`]).
    pub zone: u16,
}

impl Remote {
    /// The remote address that alias address `a` stands for.
    pub fn real_of(&self, a: &Addr) -> Addr {
        self.real.splice(self.len, a)
    }

    /// The alias address of remote address `a`.
    pub fn alias_of(&self, a: &Addr) -> Addr {
        self.alias.splice(self.len, a)
    }
}

/// One mapping: "SNAT the flows from `from` that a policy of `key` would
/// carry once translated, into `nat`".
#[derive(Clone, Debug)]
pub struct Mapping<S> {
    /// The policies it binds.
    pub key: MapKey,
    /// Family of `nat`, and of the policies it may bind.
    pub family: Family,
    /// The address, or the prefix (host bits clear), to translate to.
    pub nat: Addr,
    /// Length of `nat`'s prefix: the family's full length for a single
    /// address.
    pub nat_len: u8,
    /// For a 1:1 prefix mapping, the source prefix it translates (of
    /// length `nat_len`); `None`: every source, into the one address.
    pub from: Option<Addr>,
    /// What to do with a new flow while the policy's SA is pending.
    pub pending: PendingMode,
    /// A prefix mapping that also admits the flows the remote side starts
    /// towards `nat`'s prefix ([`Table::admit_inbound`]).
    pub inbound: bool,
    /// The remote prefix local hosts address by an alias: then the
    /// mapping translates only flows towards the alias
    /// ([`Table::alias_mapping`]).
    pub remote: Option<Remote>,
    /// The IKE child the mapping is kept for, which a daemon finds it by.
    pub name: Option<MapName>,
    /// Counters, shared by all snapshots that hold this mapping.
    pub stats: S,
}

impl<S> Mapping<S> {
    /// Whether the mapping translates flows from `saddr`.
    pub fn admits(&self, saddr: &Addr) -> bool {
        self.from.is_none_or(|f| saddr.in_prefix(&f, self.nat_len))
    }

    /// The address a flow from `saddr` is translated to: the mapping's
    /// address, or for a prefix mapping its prefix with `saddr`'s host part.
    pub fn translate(&self, saddr: &Addr) -> Addr {
        match self.from {
            None => self.nat,
            Some(_) => self.nat.splice(self.nat_len, saddr),
        }
    }

    /// The host in `from` that a flow the remote side starts towards
    /// `daddr`, in `nat`'s prefix, is translated to: the same host part.
    pub fn untranslate(&self, daddr: &Addr) -> Option<Addr> {
        self.from.map(|from| from.splice(self.nat_len, daddr))
    }
}

/// Why a mapping binds no policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inactive {
    /// No outbound policy of the key (and, for a reqid key, of the
    /// mapping's family) exists.
    NoPolicy(MapKey, Family),
    /// Policies of the key exist; the first (lowest index) cannot carry the
    /// mapping's flows, for this reason.
    Unfit(Unfit),
}

impl fmt::Display for Inactive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPolicy(MapKey::Spid(v), _) => write!(f, "no out policy with index {v}"),
            Self::NoPolicy(MapKey::Reqid(v), family) => {
                write!(f, "no {} out policy with a template of reqid {v}", family.name())
            }
            Self::Unfit(u) => u.fmt(f),
        }
    }
}

/// A policy a mapping binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The mapping's position in the table.
    mapping: u32,
    /// The policy's index.
    pub index: u32,
    /// What the lookup needs of the policy.
    pub policy: PolicyInfo,
    /// The reqid the SA that decrypted an inbound flow of the mapping must
    /// have: a reqid key's, or the policy's first template's (the
    /// innermost SA, the last one an inbound packet passed); 0 if none.
    pub reqid: u32,
    /// No other outbound policy could take a translated flow of the
    /// binding, and the policy needs no mark or interface: the SPD gives
    /// every such flow this policy, unless the flow's socket has a policy
    /// of its own (see [`Table::judge_sole`]).
    sole: bool,
}

impl Binding {
    /// See [`Table::judge_sole`].
    pub fn is_sole(&self) -> bool {
        self.sole
    }
}

/// What a writer compares to tell whether a mapping changed: the policies
/// it binds, or why it binds none.
#[derive(Clone, Copy, Debug)]
struct Status {
    /// Its bindings: `bindings[first..first + count]`.
    first: u32,
    count: u32,
    /// Why it binds none, if so.
    inactive: Option<Inactive>,
}

/// A mapping with its bindings.
pub struct Entry<'a, S> {
    /// The mapping.
    pub mapping: &'a Mapping<S>,
    /// The policies it binds, by index.
    pub bindings: &'a [Binding],
    /// Why it binds none, if so.
    pub inactive: Option<Inactive>,
}

impl<S> Clone for Entry<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Entry<'_, S> {}

impl<S> core::ops::Deref for Entry<'_, S> {
    type Target = Mapping<S>;

    fn deref(&self) -> &Mapping<S> {
        self.mapping
    }
}

impl<S> Entry<'_, S> {
    /// Whether the mapping translates flows.
    pub fn is_active(&self) -> bool {
        !self.bindings.is_empty()
    }

    /// Whether its bindings and inactive reason equal `other`'s.
    pub fn same_binding(&self, other: &Entry<'_, S>) -> bool {
        self.inactive == other.inactive
            && self.bindings.len() == other.bindings.len()
            && self.bindings.iter().zip(other.bindings).all(|(a, b)| a.index == b.index && a.policy == b.policy)
    }
}

/// An entry of the destination index.
#[derive(Clone, Copy, Debug)]
struct DestKey {
    hash: u32,
    binding: u32,
}

/// A cheap, fixed hash of a masked destination; collisions only lengthen a
/// run that is checked against the bindings anyway.
fn dest_hash(a: &Addr) -> u32 {
    // Straight-line on purpose: the packet path calls this per new flow,
    // and the kernel's build leaves an array iterator out of line.
    let mix = |h: u64, word: u64| {
        let h = (h ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    };
    let bits = u128::from_le_bytes(a.0);
    (mix(mix(0, bits as u64), (bits >> 64) as u64) >> 32) as u32
}

/// The bindings of one (family, destination prefix length): a run of the
/// destination index, sorted by hash, and a bucket index over the run.
#[derive(Clone, Copy, Debug)]
struct Group {
    family: Family,
    prefix_len: u8,
    start: u32,
    /// The run is cut into `1 << bucket_bits` buckets by the hash's top
    /// bits, at most one per entry, so a lookup scans about one entry
    /// instead of searching the run.
    bucket_bits: u8,
    /// Where the group's `(1 << bucket_bits) + 1` bucket bounds begin in
    /// [`Table::bucket_bounds`].
    buckets: u32,
}

impl Group {
    fn bucket_of(&self, hash: u32) -> usize {
        hash.checked_shr(32 - u32::from(self.bucket_bits)).unwrap_or(0) as usize
    }
}

/// An immutable set of mappings with their bindings and lookup indexes.
pub struct Table<S> {
    mappings: Vec<Mapping<S>>,
    status: Vec<Status>,
    bindings: Vec<Binding>,
    by_dest: Vec<DestKey>,
    groups: Vec<Group>,
    /// Per group, per bucket, where its entries begin in the group's run;
    /// one more bound ends the last bucket.
    bucket_bounds: Vec<u32>,
    /// Mapping positions by (family, nat, nat_len).
    by_nat: Vec<u32>,
    /// The (family, nat_len) pairs in use, for the address index.
    nat_lens: Vec<(Family, u8)>,
    /// Binding positions by policy index.
    by_policy: Vec<u32>,
    /// Per binding, what the packet path learned of its policy's SAs
    /// ([`Found::sa_known_ready`]).
    sa_ready: Vec<SaReadiness>,
    /// Whether a mapping is inbound: without one, the inbound path ends
    /// at this test.
    any_inbound: bool,
    /// Whether a mapping's remote prefix has a conntrack zone.
    any_zone: bool,
    /// The positions of the mappings with a remote alias, by (family,
    /// alias, length).
    by_alias: Vec<u32>,
    /// The caller's count of SPD changes when it walked the SPD for
    /// [`Table::judge_sole`]: the judgement holds only while no change
    /// came since.
    spd_generation: u64,
}

/// Whether a binding's policy has SAs that serve all its flows, as last
/// learned by the packet path: the xfrm epoch it was learned in, plus one;
/// 0 for nothing learned.  The epoch is a counter of SPD and SAD events
/// the caller keeps: readiness learned in one epoch holds until the next
/// event, which may have taken an SA or changed which policy applies.
struct SaReadiness(AtomicU64);

/// Which flows of its policy an SA serves, as the SAD's lookup
/// (`xfrm_state_find()`) goes.
#[derive(Clone, Copy, Debug)]
pub enum SaScope {
    /// All of them: it has no selector.
    EveryFlow,
    /// Those its selector, of this family, matches.
    Selected(Family, Selector),
    /// Some, chosen by more than its selector (e.g. its endpoints are the
    /// flow's, in transport mode, or it needs a mark).
    SomeFlows,
}

/// What [`Table::admit_inbound`] decided.
pub enum Inbound<'a, S> {
    /// No inbound mapping's prefix contains the destination.
    NotOurs,
    /// The mapping admits the flow; its destination becomes `host`.
    Admit {
        /// The mapping.
        mapping: &'a Mapping<S>,
        /// The host in its from prefix.
        host: Addr,
        /// The alias its source becomes, if the mapping has a remote alias
        /// and the source is in the remote prefix.
        source: Option<Addr>,
    },
    /// The destination is an inbound mapping's, but the flow did not come
    /// through one of its SAs (or would not be carried back): refused.
    Refuse(&'a Mapping<S>),
}

/// A binding that [`Table::find`] chose for a flow.
pub struct Found<'a, S> {
    /// The mapping.
    pub mapping: &'a Mapping<S>,
    /// The bound policy's index.
    pub policy: u32,
    selector: &'a super::selector::DestSelector,
    ready: &'a SaReadiness,
    /// See [`Binding`]: the policy is the only one the SPD could give the
    /// translated flow, as of the table's SPD generation.
    pub sole: bool,
    /// All the mapping's bindings, this one among them.
    bindings: &'a [Binding],
}

impl<S> Found<'_, S> {
    /// Whether the mapping binds the policy of `index`: the SPD chose a
    /// policy for the flow, and the mapping may translate it only if the
    /// policy is one of its own.
    pub fn mapping_binds(&self, index: u32) -> bool {
        self.bindings.iter().any(|b| b.index == index)
    }

    /// Whether the packet path learned, in xfrm epoch `epoch`, that the
    /// policy's SAs serve all its flows of this mapping: a new flow then
    /// needs no SPD lookup of its own to tell that the SA is not pending.
    pub fn sa_known_ready(&self, epoch: u64) -> bool {
        self.ready.0.load(Ordering::Acquire) == epoch.wrapping_add(1)
    }

    /// Records what an SPD lookup of one flow found, begun in xfrm epoch
    /// `epoch`: a bundle of the bound policy whose SAs serve `sas`.
    /// Readiness is learned only if each of them serves all the flows of
    /// this binding; a later event moves the epoch on and voids it.
    pub fn learn_sa_ready(&self, epoch: u64, sas: impl IntoIterator<Item = SaScope>) {
        let m = self.mapping;
        let serves_all = sas.into_iter().all(|sa| match sa {
            SaScope::EveryFlow => true,
            SaScope::Selected(family, s) => family == m.family && s.covers_flows_of(self.selector, &m.nat, m.nat_len),
            SaScope::SomeFlows => false,
        });
        if serves_all {
            self.ready.0.store(epoch.wrapping_add(1), Ordering::Release);
        }
    }
}

impl<S: Clone> Table<S> {
    /// The table without mappings.
    pub fn empty() -> Self {
        Self {
            mappings: Vec::new(),
            status: Vec::new(),
            bindings: Vec::new(),
            by_dest: Vec::new(),
            groups: Vec::new(),
            bucket_bounds: Vec::new(),
            by_nat: Vec::new(),
            nat_lens: Vec::new(),
            by_policy: Vec::new(),
            sa_ready: Vec::new(),
            any_inbound: false,
            any_zone: false,
            by_alias: Vec::new(),
            spd_generation: 0,
        }
    }

    /// Builds a table from mappings with distinct keys, in any order, and
    /// the outbound main policies of the namespace that their keys name
    /// (others are ignored), in any order.
    ///
    /// A policy binds each mapping whose key names it and whose flows it
    /// can carry ([`policy::fit`]).  A reqid mapping skips the policies of
    /// the other family: an IKE daemon's dual-stack child installs both
    /// under one reqid.
    pub fn build(mut mappings: Vec<Mapping<S>>, policies: &[SeenPolicy]) -> Result<Self, AllocError> {
        mappings.sort_unstable_by_key(|m| m.key);
        let n = mappings.len();

        let mut bindings: Vec<Binding> = Vec::new();
        let mut unfit: Vec<Option<Unfit>> = vec::with_capacity(n)?;
        for _ in 0..n {
            vec::push(&mut unfit, None)?;
        }
        let mut bind = |slot: usize, p: &SeenPolicy, bindings: &mut Vec<Binding>| -> Result<(), AllocError> {
            let m = &mappings[slot];
            if matches!(m.key, MapKey::Reqid(_)) && p.family != m.family {
                return Ok(());
            }
            match policy::fit(p, m.family, &m.nat, m.nat_len, m.remote.as_ref()) {
                Ok(info) => {
                    let reqid = match m.key {
                        MapKey::Reqid(r) => r,
                        MapKey::Spid(_) => p.reqids.as_slice().first().copied().unwrap_or(0),
                    };
                    vec::push(bindings, Binding { mapping: slot as u32, index: p.index, policy: info, reqid, sole: false })
                }
                Err(why) => {
                    // The lowest index is the reason shown: stable across walks.
                    let keep = unfit[slot].is_some_and(|u| unfit_index(&u) < p.index);
                    if !keep {
                        unfit[slot] = Some(why);
                    }
                    Ok(())
                }
            }
        };
        let find = |key: MapKey| mappings.binary_search_by_key(&key, |m| m.key).ok();
        for p in policies {
            if p.index & 7 != policy::XFRM_POLICY_OUT {
                continue;
            }
            if let Some(slot) = find(MapKey::Spid(p.index)) {
                bind(slot, p, &mut bindings)?;
            }
            for (i, &reqid) in p.reqids.as_slice().iter().enumerate() {
                // A policy with the reqid in two templates binds once.
                if p.reqids.as_slice()[..i].contains(&reqid) {
                    continue;
                }
                if let Some(slot) = find(MapKey::Reqid(reqid)) {
                    bind(slot, p, &mut bindings)?;
                }
            }
        }
        bindings.sort_unstable_by_key(|b| (b.mapping, b.index));

        let mut status = vec::with_capacity(n)?;
        let mut next = 0usize;
        for (slot, m) in mappings.iter().enumerate() {
            let first = next;
            while next < bindings.len() && bindings[next].mapping as usize == slot {
                next += 1;
            }
            let count = next - first;
            let inactive = match (count, unfit[slot]) {
                (0, Some(u)) => Some(Inactive::Unfit(u)),
                (0, None) => Some(Inactive::NoPolicy(m.key, m.family)),
                _ => None,
            };
            // Positions fit u32: the number of mappings is limited, and a
            // policy binds at most one mapping per template and its index.
            vec::push(&mut status, Status { first: first as u32, count: count as u32, inactive })?;
        }

        let mut by_dest = vec::with_capacity(bindings.len())?;
        let mut by_policy = vec::with_capacity(bindings.len())?;
        for (i, b) in bindings.iter().enumerate() {
            vec::push(&mut by_dest, DestKey { hash: dest_hash(&b.policy.selector.dest_prefix()), binding: i as u32 })?;
            vec::push(&mut by_policy, i as u32)?;
        }
        by_dest.sort_unstable_by_key(|k| dest_sort_key(&mappings, &bindings[k.binding as usize], k.hash));
        by_policy.sort_unstable_by_key(|&i| bindings[i as usize].index);

        let mut by_nat = vec::with_capacity(n)?;
        for i in 0..n {
            vec::push(&mut by_nat, i as u32)?;
        }
        by_nat.sort_unstable_by_key(|&i| nat_sort_key(&mappings[i as usize]));
        Self::assemble(mappings, status, bindings, by_dest, by_policy, by_nat)
    }

    /// This table with the mapping of `key` replaced by `new`, or removed
    /// if `new` is `None`.  The other mappings keep their bindings, and
    /// `new` binds the policies of `policies` that its key names, so the
    /// result is the table that [`Table::build`] makes of the edited
    /// mappings and the policies this one was built with, plus those: in
    /// O(n), with no sort but the new mapping's own, for the writer that
    /// changes one mapping of many.
    pub fn with_one(&self, key: MapKey, new: Option<Mapping<S>>, policies: &[SeenPolicy]) -> Result<Self, AllocError> {
        let one = match new {
            Some(m) => {
                let mut v = vec::with_capacity(1)?;
                vec::push(&mut v, Mapping { key, ..m })?;
                Some(Self::build(v, policies)?)
            }
            None => None,
        };
        let old = self.slot_of(key);
        // The key's slot, in this table and in the new one.
        let at = self.mappings.partition_point(|m| m.key < key);
        let (added, removed) = (usize::from(one.is_some()), usize::from(old.is_some()));
        // The bindings of the slot: [cut, cut + gone) here, [cut, cut +
        // fresh) in the new table; positions after them shift.
        let cut = self.status.get(at).map_or(self.bindings.len(), |st| st.first as usize);
        let gone = old.map_or(0, |o| self.status[o].count as usize);
        let fresh = one.as_ref().map_or(0, |t| t.bindings.len());
        let new_slot = |s: u32| if (s as usize) < at { s } else { (s as usize + added - removed) as u32 };
        let new_pos = |b: u32| match b as usize {
            b if b < cut => Some(b as u32),
            b if b < cut + gone => None,
            b => Some((b - gone + fresh) as u32),
        };

        let n = self.mappings.len() + added - removed;
        let mut mappings = vec::with_capacity(n)?;
        let mut status = vec::with_capacity(n)?;
        let mut bindings = vec::with_capacity(self.bindings.len() - gone + fresh)?;
        for (m, st) in self.mappings[..at].iter().zip(&self.status[..at]) {
            vec::push(&mut mappings, m.clone())?;
            vec::push(&mut status, *st)?;
        }
        for b in &self.bindings[..cut] {
            vec::push(&mut bindings, *b)?;
        }
        if let Some(t) = &one {
            vec::push(&mut mappings, t.mappings[0].clone())?;
            vec::push(&mut status, Status { first: cut as u32, ..t.status[0] })?;
            for b in t.bindings.iter() {
                vec::push(&mut bindings, Binding { mapping: at as u32, ..*b })?;
            }
        }
        let rest = at + removed;
        for (m, st) in self.mappings[rest..].iter().zip(&self.status[rest..]) {
            vec::push(&mut mappings, m.clone())?;
            vec::push(&mut status, Status { first: (st.first as usize - gone + fresh) as u32, ..*st })?;
        }
        for b in &self.bindings[cut + gone..] {
            vec::push(&mut bindings, Binding { mapping: new_slot(b.mapping), ..*b })?;
        }

        let one_dest = one.as_ref().map_or(&[][..], |t| &t.by_dest[..]);
        let one_pol = one.as_ref().map_or(&[][..], |t| &t.by_policy[..]);
        let by_dest = merge(
            self.by_dest.iter().filter_map(|k| Some(DestKey { binding: new_pos(k.binding)?, ..*k })),
            one_dest.iter().map(|k| DestKey { binding: k.binding + cut as u32, ..*k }),
            bindings.len(),
            |k| dest_sort_key(&mappings, &bindings[k.binding as usize], k.hash),
        )?;
        let by_policy = merge(
            self.by_policy.iter().filter_map(|&b| new_pos(b)),
            one_pol.iter().map(|&b| b + cut as u32),
            bindings.len(),
            |&b| bindings[b as usize].index,
        )?;
        let by_nat = merge(
            self.by_nat.iter().filter(|&&s| Some(s as usize) != old).map(|&s| new_slot(s)),
            one.iter().map(|_| at as u32),
            n,
            |&s| nat_sort_key(&mappings[s as usize]),
        )?;
        let mut t = Self::assemble(mappings, status, bindings, by_dest, by_policy, by_nat)?;
        // The other bindings keep their judgement, and its generation.
        t.spd_generation = self.spd_generation;
        Ok(t)
    }

    /// A table from its sorted parts, with what follows from them.
    fn assemble(
        mappings: Vec<Mapping<S>>,
        status: Vec<Status>,
        bindings: Vec<Binding>,
        by_dest: Vec<DestKey>,
        by_policy: Vec<u32>,
        by_nat: Vec<u32>,
    ) -> Result<Self, AllocError> {
        let mut groups = Vec::new();
        let mut bucket_bounds = Vec::new();
        let mut start = 0;
        while start < by_dest.len() {
            let group = group_of(&mappings, &bindings[by_dest[start].binding as usize]);
            let mut end = start + 1;
            while end < by_dest.len() && group_of(&mappings, &bindings[by_dest[end].binding as usize]) == group {
                end += 1;
            }
            let g = Group {
                family: group.0,
                prefix_len: group.1,
                start: start as u32,
                bucket_bits: (end - start).checked_ilog2().unwrap_or(0).min(20) as u8,
                buckets: bucket_bounds.len() as u32,
            };
            // The run is sorted by hash, so each bucket's entries are
            // contiguous and the buckets come in order.
            let run = &by_dest[start..end];
            let mut at = 0;
            for bucket in 0..=(1usize << g.bucket_bits) {
                while at < run.len() && g.bucket_of(run[at].hash) < bucket {
                    at += 1;
                }
                vec::push(&mut bucket_bounds, at as u32)?;
            }
            vec::push(&mut groups, g)?;
            start = end;
        }
        let mut nat_lens: Vec<(Family, u8)> = Vec::new();
        for m in mappings.iter() {
            if !nat_lens.contains(&(m.family, m.nat_len)) {
                vec::push(&mut nat_lens, (m.family, m.nat_len))?;
            }
        }
        let mut sa_ready = vec::with_capacity(bindings.len())?;
        for _ in bindings.iter() {
            vec::push(&mut sa_ready, SaReadiness(AtomicU64::new(0)))?;
        }
        let any_inbound = mappings.iter().any(|m| m.inbound);
        let any_zone = mappings.iter().any(|m| m.remote.is_some_and(|r| r.zone != 0));
        let mut by_alias = Vec::new();
        for (i, m) in mappings.iter().enumerate() {
            if m.remote.is_some() {
                vec::push(&mut by_alias, i as u32)?;
            }
        }
        by_alias.sort_unstable_by_key(|&i| {
            let m = &mappings[i as usize];
            m.remote.map(|r| (m.family, r.alias, r.len))
        });
        Ok(Self {
            mappings,
            status,
            bindings,
            by_dest,
            groups,
            bucket_bounds,
            by_nat,
            nat_lens,
            by_policy,
            sa_ready,
            any_inbound,
            any_zone,
            by_alias,
            spd_generation: 0,
        })
    }

    fn entry(&self, slot: usize) -> Entry<'_, S> {
        let s = &self.status[slot];
        let first = s.first as usize;
        Entry {
            mapping: &self.mappings[slot],
            bindings: &self.bindings[first..first + s.count as usize],
            inactive: s.inactive,
        }
    }

    /// The mapping that translates a new flow of `family`, if any: among
    /// the bindings whose policy selects the flow and whose mapping admits
    /// its source, the one with the lowest policy priority, then the
    /// longest destination prefix, then the lowest key (spid keys first),
    /// then the lowest policy index.
    pub fn lookup(&self, family: Family, flow: &Flow) -> Option<&Mapping<S>> {
        self.find(family, flow).map(|f| f.mapping)
    }

    /// As [`Table::lookup`], with the binding chosen.
    pub fn find(&self, family: Family, flow: &Flow) -> Option<Found<'_, S>> {
        // Called per new flow on the packet path: plain loops, and lookups
        // by `get` (the indexes are consistent by construction; a miss
        // only skips an entry), which the kernel's build keeps inline.
        let mut best: Option<(&Binding, usize)> = None;
        for g in &self.groups {
            if g.family != family {
                continue;
            }
            let key = flow.daddr.masked(g.prefix_len);
            let hash = dest_hash(&key);
            let bound = |b: usize| self.bucket_bounds.get(g.buckets as usize + b).map(|&at| g.start as usize + at as usize);
            let bucket = g.bucket_of(hash);
            let (Some(lo), Some(hi)) = (bound(bucket), bound(bucket + 1)) else { continue };
            let run = self.by_dest.get(lo..hi).unwrap_or_default();
            let mut next = run.partition_point(|k| k.hash < hash);
            while let Some(k) = run.get(next) {
                if k.hash != hash {
                    break;
                }
                next += 1;
                let i = k.binding as usize;
                let Some(b) = self.bindings.get(i) else { continue };
                let s = &b.policy.selector;
                // A mapping with a remote alias takes only the flows sent to
                // the alias ([`Table::find_for_alias`]): its remote prefix
                // may well be another mapping's too.
                let admits = || {
                    self.mappings.get(b.mapping as usize).is_some_and(|m| m.remote.is_none() && m.admits(&flow.saddr))
                };
                // The group's prefix length is the selector's, so
                // `matches_flow` also rules out a hash collision.
                if !s.matches_flow(flow) || !admits() {
                    continue;
                }
                // Groups come longest prefix first and runs are sorted by
                // the tie-breaks, so only a strictly lower priority beats
                // `best`.
                if best.is_none_or(|(bb, _)| b.policy.priority < bb.policy.priority) {
                    best = Some((b, i));
                }
                break;
            }
        }
        let (b, i) = best?;
        let st = self.status.get(b.mapping as usize)?;
        let first = st.first as usize;
        Some(Found {
            bindings: self.bindings.get(first..first + st.count as usize)?,
            mapping: self.mappings.get(b.mapping as usize)?,
            policy: b.index,
            selector: &b.policy.selector,
            ready: self.sa_ready.get(i)?,
            sole: b.sole,
        })
    }

    /// The mapping whose conntrack zone a packet that arrived decrypted by
    /// an SA of reqid `sa_reqid` goes into: the one with a zone whose
    /// remote prefix contains `saddr`, whose own prefix contains `daddr`,
    /// and which binds a policy of that reqid.  Its flows start on the
    /// LAN, sent to its alias ([`Table::alias_mapping`]), or arrive so.
    pub fn zone_of_arriving(&self, family: Family, saddr: &Addr, daddr: &Addr, sa_reqid: u32) -> Option<&Mapping<S>> {
        if !self.any_zone || sa_reqid == 0 {
            return None;
        }
        self.by_nat_addr_all(family, daddr)
            .filter(|m| m.remote.is_some_and(|r| r.zone != 0 && saddr.in_prefix(&r.real, r.len)))
            .filter(|m| self.slot_of(m.key).is_some_and(|s| self.entry(s).bindings.iter().any(|b| b.reqid == sa_reqid)))
            .min_by_key(|m| m.key)
    }

    /// Whether some mapping has a conntrack zone: without one, the zone
    /// path ends at this test.
    pub fn has_zones(&self) -> bool {
        self.any_zone
    }

    /// Whether some mapping translates destinations: is inbound, or has a
    /// remote alias.  Without one, the destination NAT path ends at this
    /// test.
    pub fn translates_destinations(&self) -> bool {
        self.any_inbound || !self.by_alias.is_empty()
    }

    /// The mapping whose remote alias contains `daddr`: the one a new flow
    /// towards `daddr` from a local host is for, whose destination becomes
    /// the remote address the alias stands for.
    pub fn alias_mapping(&self, family: Family, daddr: &Addr) -> Option<&Mapping<S>> {
        // Aliases do not overlap ([`Table::alias_overlap`]): the one that
        // starts last at or before `daddr` is the only one that may
        // contain it.
        let after = self.by_alias.partition_point(|&i| {
            let m = &self.mappings[i as usize];
            m.remote.is_some_and(|r| (m.family, r.alias) <= (family, *daddr))
        });
        let m = self.mappings.get(*self.by_alias.get(after.checked_sub(1)?)? as usize)?;
        let r = m.remote?;
        (m.family == family && daddr.in_prefix(&r.alias, r.len)).then_some(m)
    }

    /// As [`Table::find`], for a flow whose destination was translated
    /// from `alias_mapping`'s remote alias: among that mapping's bindings
    /// only, the one with the lowest priority whose policy selects the
    /// translated flow, if the mapping admits its source.
    pub fn find_for_alias(&self, alias_mapping: MapKey, flow: &Flow) -> Option<Found<'_, S>> {
        let slot = self.slot_of(alias_mapping)?;
        let st = self.status.get(slot)?;
        let first = st.first as usize;
        let bindings = self.bindings.get(first..first + st.count as usize)?;
        let mapping = self.mappings.get(slot)?;
        if !mapping.admits(&flow.saddr) {
            return None;
        }
        let (i, b) = bindings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.policy.selector.matches_flow(flow))
            .min_by_key(|(_, b)| b.policy.priority)?;
        Some(Found {
            bindings,
            mapping,
            policy: b.index,
            selector: &b.policy.selector,
            ready: self.sa_ready.get(first + i)?,
            sole: b.sole,
        })
    }

    /// Two mappings whose remote aliases overlap, if any: a flow towards
    /// the shared addresses could not tell which remote site it is for.
    pub fn alias_overlap(&self) -> Option<(MapKey, MapKey)> {
        // Sorted by start, a prefix that contains others comes right
        // before the first of them.
        self.by_alias.windows(2).find_map(|w| {
            let (a, b) = (&self.mappings[w[0] as usize], &self.mappings[w[1] as usize]);
            let (ra, rb) = (a.remote?, b.remote?);
            (a.family == b.family && rb.alias.in_prefix(&ra.alias, ra.len)).then_some((a.key, b.key))
        })
    }

    /// The mappings whose address or prefix contains `nat`: in key order
    /// within one prefix length, the lengths in no particular order.
    fn by_nat_addr_all(&self, family: Family, nat: &Addr) -> impl Iterator<Item = &Mapping<S>> + Clone + '_ {
        let nat = *nat;
        self.nat_lens.iter().filter(move |(f, _)| *f == family).flat_map(move |&(_, len)| {
            let prefix = nat.masked(len);
            let first = self.by_nat.partition_point(|&i| {
                let m = &self.mappings[i as usize];
                (m.family, m.nat, m.nat_len) < (family, prefix, len)
            });
            self.by_nat[first..]
                .iter()
                .map(|&i| &self.mappings[i as usize])
                .take_while(move |m| m.family == family && m.nat == prefix && m.nat_len == len)
        })
    }

    /// The mapping that a flow translated to `nat` came from, for counting
    /// fail-closed drops.  Among the mappings whose address or prefix
    /// contains `nat`, the lowest key that admits the flow's source and
    /// binds a policy that selects it; else the lowest that admits its
    /// source; else the lowest.
    pub fn by_nat_addr(&self, family: Family, nat: &Addr, flow: &Flow) -> Option<&Mapping<S>> {
        let all = self.by_nat_addr_all(family, nat);
        let binds_flow = |m: &&Mapping<S>| {
            let slot = self.slot_of(m.key);
            m.admits(&flow.saddr)
                && slot.is_some_and(|s| self.entry(s).bindings.iter().any(|b| b.policy.selector.matches_flow(flow)))
        };
        // The lowest key of each tier: `all` is in key order only within
        // one prefix length.
        all.clone()
            .filter(binds_flow)
            .min_by_key(|m| m.key)
            .or_else(|| all.clone().filter(|m| m.admits(&flow.saddr)).min_by_key(|m| m.key))
            .or_else(|| all.clone().min_by_key(|m| m.key))
    }

    /// Decides on a new flow that arrived from outside towards an address
    /// of an inbound mapping's prefix: `reply` is the flow its replies
    /// would be before translation (from that address back to the remote
    /// side), and `sa_reqid` the reqid of the innermost SA that decrypted
    /// it, if it came through one.
    ///
    /// It is admitted only by an inbound mapping whose prefix contains
    /// `reply.saddr` and that binds a policy whose templates' reqid is the
    /// SA's and whose selector would carry the replies back; among those,
    /// the lowest key.  It is refused, counted to the lowest key of the
    /// inbound mappings whose prefix contains the address, if none admits
    /// it.
    pub fn admit_inbound(&self, family: Family, reply: &Flow, sa_reqid: Option<u32>) -> Inbound<'_, S> {
        if !self.any_inbound {
            return Inbound::NotOurs;
        }
        let candidates = self.by_nat_addr_all(family, &reply.saddr).filter(|m| m.inbound);
        let admits = |m: &&Mapping<S>| {
            sa_reqid.is_some_and(|reqid| {
                reqid != 0
                    && self.slot_of(m.key).is_some_and(|s| {
                        self.entry(s).bindings.iter().any(|b| b.reqid == reqid && b.policy.selector.matches_flow(reply))
                    })
            })
        };
        let chosen = candidates.clone().filter(admits).min_by_key(|m| m.key);
        match chosen.and_then(|m| Some((m, m.untranslate(&reply.saddr)?))) {
            Some((mapping, host)) => {
                let source = mapping.remote.filter(|r| reply.daddr.in_prefix(&r.real, r.len)).map(|r| r.alias_of(&reply.daddr));
                Inbound::Admit { mapping, host, source }
            }
            None => match candidates.min_by_key(|m| m.key) {
                Some(mapping) => Inbound::Refuse(mapping),
                None => Inbound::NotOurs,
            },
        }
    }

    /// Whether some mapping translates into `nat`: the cheap first test of
    /// the fail-closed path.
    pub fn has_nat_addr(&self, family: Family, nat: &Addr) -> bool {
        self.by_nat_addr_all(family, nat).next().is_some()
    }

    /// Whether some mapping binds the policy of `index`.
    pub fn binds_policy(&self, index: u32) -> bool {
        self.by_policy.binary_search_by_key(&index, |&i| self.bindings[i as usize].index).is_ok()
    }

    /// Whether the mapping of `key` binds the policy of `index`: the SPD
    /// chose a policy for a flow, and the mapping may translate it only
    /// if the policy is one of its own.
    pub fn binds(&self, key: MapKey, index: u32) -> bool {
        self.get(key).is_some_and(|e| e.bindings.iter().any(|b| b.index == index))
    }

    /// Judges, for the bindings of `only` (or of every mapping), whether
    /// their policy is the sole one the SPD could give their translated
    /// flows, from `rivals`, the namespace's outbound policies of every
    /// type, walked at SPD generation `generation`: it is if the policy
    /// needs no mark or interface and no other rival may match a flow from
    /// the mapping's addresses to the policy's destinations.  Socket
    /// policies are not in the SPD; the packet path looks at those.
    ///
    /// Rivals are indexed by source prefix, so a binding looks only at
    /// those whose source meets its own: about `log` of their number, for
    /// the usual SPD.  Past [`Self::SOLE_BUDGET`] rivals looked at in all
    /// (many policies from one source, such as `0.0.0.0/0`), or without
    /// memory for the index, the bindings left are judged not sole: the
    /// packet path then asks the SPD for each of their new flows, which is
    /// right, only slower.
    pub fn judge_sole(&mut self, rivals: &[Rival], only: Option<MapKey>, generation: u64) {
        let range = match only {
            Some(key) => match self.slot_of(key) {
                Some(slot) => {
                    let st = self.status[slot];
                    st.first as usize..(st.first + st.count) as usize
                }
                None => 0..0,
            },
            None => 0..self.bindings.len(),
        };
        // The others were judged at the table's generation: the table is
        // as current as the older judgement.
        let others = self.bindings.len() - range.len();
        self.spd_generation = if others > 0 { self.spd_generation.min(generation) } else { generation };
        let index = RivalIndex::new(rivals);
        let mut budget = Self::SOLE_BUDGET;
        for b in &mut self.bindings[range] {
            let m = &self.mappings[b.mapping as usize];
            b.sole = index.as_ref().is_ok_and(|ix| {
                ix.unkeyed(b.index) && !ix.any_meets(m.family, &m.nat, m.nat_len, &b.policy.selector, b.index, &mut budget)
            });
        }
    }

    /// The most rivals [`Self::judge_sole`] looks at in one judgement.
    pub const SOLE_BUDGET: usize = 1 << 22;

    /// The SPD generation of the last [`Self::judge_sole`], 0 if none.
    pub fn spd_generation(&self) -> u64 {
        self.spd_generation
    }

    fn slot_of(&self, key: MapKey) -> Option<usize> {
        self.mappings.binary_search_by_key(&key, |m| m.key).ok()
    }

    /// The mapping of `key`.
    pub fn get(&self, key: MapKey) -> Option<Entry<'_, S>> {
        self.slot_of(key).map(|s| self.entry(s))
    }

    /// All mappings, in key order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_, S>> + '_ {
        (0..self.mappings.len()).map(|s| self.entry(s))
    }

    /// All mappings, in key order, without their bindings.
    pub fn mappings(&self) -> &[Mapping<S>] {
        &self.mappings
    }

    /// Mappings with a key of at least `key`, in key order: the resume
    /// point of a netlink dump.
    pub fn entries_from(&self, key: MapKey) -> impl Iterator<Item = Entry<'_, S>> + '_ {
        let first = self.mappings.partition_point(|m| m.key < key);
        (first..self.mappings.len()).map(|s| self.entry(s))
    }

    /// The indexes of the policies some mapping binds, ascending, with
    /// repeats when several mappings bind one.
    pub fn bound_policies(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_policy.iter().map(|&i| self.bindings[i as usize].index)
    }

    /// Number of mappings.
    pub fn len(&self) -> usize {
        self.mappings.len()
    }

    /// Whether there are no mappings.
    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// A copy of the mappings, each passed through `edit`, which may drop
    /// one by returning `None`: the input of the next [`Table::build`].
    pub fn edited(&self, mut edit: impl FnMut(&Mapping<S>) -> Option<Mapping<S>>) -> Result<Vec<Mapping<S>>, AllocError> {
        let mut out = vec::with_capacity(self.mappings.len() + 1)?;
        for m in self.mappings.iter() {
            if let Some(m) = edit(m) {
                vec::push(&mut out, m)?;
            }
        }
        Ok(out)
    }
}

fn unfit_index(u: &Unfit) -> u32 {
    match *u {
        Unfit::FamilyMismatch { index, .. }
        | Unfit::SourceNotSelected { index, .. }
        | Unfit::RemoteNotSelected { index, .. } => index,
    }
}

/// Sort key of the address index.
fn nat_sort_key<S>(m: &Mapping<S>) -> (Family, Addr, u8, MapKey) {
    (m.family, m.nat, m.nat_len, m.key)
}

/// Merges `a` and `b`, each sorted by `key`, into one sorted vector of
/// room `len`.
fn merge<T: Copy, K: Ord>(
    a: impl Iterator<Item = T>,
    b: impl Iterator<Item = T>,
    len: usize,
    key: impl Fn(&T) -> K,
) -> Result<Vec<T>, AllocError> {
    let mut out = vec::with_capacity(len)?;
    let mut b = b.peekable();
    for x in a {
        while let Some(y) = b.next_if(|y| key(y) < key(&x)) {
            vec::push(&mut out, y)?;
        }
        vec::push(&mut out, x)?;
    }
    for y in b {
        vec::push(&mut out, y)?;
    }
    Ok(out)
}

fn group_of<S>(mappings: &[Mapping<S>], b: &Binding) -> (Family, u8) {
    (mappings[b.mapping as usize].family, b.policy.selector.prefixlen_d)
}

/// Sort key of the destination index: family, longest prefix first, hash,
/// then the tie-breaks of [`Table::lookup`].
fn dest_sort_key<S>(mappings: &[Mapping<S>], b: &Binding, hash: u32) -> (Family, Reverse<u8>, u32, u32, MapKey, u32) {
    let m = &mappings[b.mapping as usize];
    (m.family, Reverse(b.policy.selector.prefixlen_d), hash, b.policy.priority, m.key, b.index)
}

/// The rivals of a judgement ([`Table::judge_sole`]), by source prefix and
/// by index.
struct RivalIndex<'a> {
    rivals: &'a [Rival],
    /// Known-family rivals by (family, source prefix, its length).
    by_src: Vec<(Family, Addr, u8, u32)>,
    /// (index, keyed) of every rival, by index.
    by_index: Vec<(u32, bool)>,
    /// A rival of a family xfrm_nat does not know: it may match anything.
    wild: bool,
}

impl<'a> RivalIndex<'a> {
    fn new(rivals: &'a [Rival]) -> Result<Self, AllocError> {
        let mut by_src = vec::with_capacity(rivals.len())?;
        let mut by_index = vec::with_capacity(rivals.len())?;
        let mut wild = false;
        for (i, r) in rivals.iter().enumerate() {
            vec::push(&mut by_index, (r.index, r.keyed))?;
            match r.family {
                Some(f) => {
                    let len = r.selector.dest.prefixlen_s;
                    vec::push(&mut by_src, (f, r.selector.saddr.masked(len), len, i as u32))?;
                }
                None => wild = true,
            }
        }
        by_src.sort_unstable();
        by_index.sort_unstable();
        Ok(Self { rivals, by_src, by_index, wild })
    }

    /// Whether the walk saw the policy of `index`, and it needs no mark,
    /// interface or label.
    fn unkeyed(&self, index: u32) -> bool {
        let at = self.by_index.partition_point(|&(i, _)| i < index);
        self.by_index.get(at).is_some_and(|&(i, keyed)| i == index && !keyed)
    }

    /// Whether a rival other than policy `own` may match a flow from
    /// `nat`/`nat_len` to a destination of `dest`; true once `budget` runs
    /// out.  Rivals whose source meets `nat`/`nat_len` either contain it
    /// (one exact prefix per length up to `nat_len`) or lie inside it (a
    /// run of the source order).
    fn any_meets(&self, family: Family, nat: &Addr, nat_len: u8, dest: &DestSelector, own: u32, budget: &mut usize) -> bool {
        if self.wild {
            return true;
        }
        let mut meets = |from: usize, keep: &dyn Fn(&(Family, Addr, u8, u32)) -> bool| {
            for e in self.by_src[from..].iter().take_while(|e| keep(e)) {
                let Some(b) = budget.checked_sub(1) else { return true };
                *budget = b;
                let r = &self.rivals[e.3 as usize];
                if r.index != own && r.may_match(family, nat, nat_len, dest) {
                    return true;
                }
            }
            false
        };
        let base = nat.masked(nat_len);
        let inside = |e: &(Family, Addr, u8, u32)| e.0 == family && e.1.masked(nat_len) == base;
        if meets(self.by_src.partition_point(|e| (e.0, e.1) < (family, base)), &inside) {
            return true;
        }
        (0..nat_len).any(|len| {
            let key = (family, nat.masked(len), len);
            let exact = move |e: &(Family, Addr, u8, u32)| (e.0, e.1, e.2) == key;
            meets(self.by_src.partition_point(|e| (e.0, e.1, e.2) < key), &exact)
        })
    }
}
