// SPDX-License-Identifier: GPL-2.0
//! The mapping table: an immutable snapshot that the packet path reads under
//! RCU, and writers replace.
//!
//! A snapshot holds every mapping of a network namespace, by key, each with
//! its *bindings*: the policies of its key that can carry its flows.  A
//! spid mapping has at most one binding, a reqid mapping one per outbound
//! policy with a template of that reqid.  Writers compute them from an SPD
//! walk ([`Table::build`]); a writer that changes one mapping walks for
//! that key only (from the SPD index, [`super::spd`]) and keeps the
//! others' ([`Table::with_one`]).
//!
//! Every index is persistent, a search tree ([`PMap`]) or a hash trie
//! ([`HashTrie`]): a new snapshot shares all but O(log n) nodes of each
//! index with the one it replaces, so changing one mapping of n costs
//! O(log n) time and memory, however many there are, and readers of the
//! old snapshot are not disturbed.  A mapping and its bindings are one
//! shared allocation ([`Item`]) that the indexes point to.  The indexes:
//!
//! * by key, for writers and dumps, and by name;
//! * the *destination index*, for the packet path: a hash trie of the
//!   bindings by a hash of (family, destination prefix length of their
//!   policy's selector, masked destination), each leaf sorted by the
//!   tie-breaks of [`Table::lookup`], with the prefix lengths in use.  A
//!   lookup searches it once per prefix length in use (at most 33 for
//!   IPv4, 129 for IPv6), longest first;
//! * the *address index*: the mappings by translated address or prefix,
//!   to find the mapping behind a NATed conntrack entry (replies, inbound
//!   flows, the fail-closed path), with the prefix lengths in use;
//! * the bound policies by index, and the remote aliases by address.
//!
//! Each binding also has a slot where the packet path records what it
//! learned of the policy's SAs ([`Found::sa_known_ready`]).

use core::cmp::Reverse;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::addr::{Addr, Family};
use super::name::MapName;
use super::policy::{self, PolicyInfo, Rival, SeenPolicy, Unfit};
use super::selector::{DestSelector, Flow, Selector};
use super::htrie::HashTrie;
use super::pmap::{self, PMap};
use super::rc::{self, Rc};
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
    /// The policy's index.
    pub index: u32,
    /// What the lookup needs of the policy.
    pub policy: PolicyInfo,
    /// The reqid the SA that decrypted an inbound flow of the mapping must
    /// have: a reqid key's, or the policy's first template's (the
    /// innermost SA, the last one an inbound packet passed); 0 if none.
    pub reqid: u32,
}

/// What is learned about a binding after it is made, in place: snapshots
/// share it while they share the mapping.
struct Learned {
    /// See [`Found::sa_known_ready`].
    ready: SaReadiness,
    /// No other outbound policy could take a translated flow of the
    /// binding, and the policy needs no mark or interface: the SPD gives
    /// every such flow this policy, unless the flow's socket has a policy
    /// of its own (see [`Table::judge_sole`]).  It is only trusted at the
    /// SPD generation of the snapshot, so a judgement made in place for a
    /// newer generation cannot mislead a reader of an older snapshot.
    sole: AtomicBool,
}

/// A mapping with its bindings, which the indexes of every snapshot that
/// holds the mapping point to.
struct Item<S> {
    mapping: Mapping<S>,
    /// By policy index.
    bindings: Vec<Binding>,
    state: ItemState,
}

/// What goes with a mapping's bindings, or why it has none: one or the
/// other, so that an [`Item`] fits the 256-byte kmalloc cache.
enum ItemState {
    /// Per binding, what is learned of it.
    Bound(Vec<Learned>),
    Inactive(Inactive),
}

impl<S> Item<S> {
    fn learned(&self) -> &[Learned] {
        match &self.state {
            ItemState::Bound(learned) => learned,
            ItemState::Inactive(_) => &[],
        }
    }

    fn inactive(&self) -> Option<Inactive> {
        match self.state {
            ItemState::Bound(_) => None,
            ItemState::Inactive(why) => Some(why),
        }
    }
}

impl<S> Item<S> {
    fn entry(&self) -> Entry<'_, S> {
        Entry { mapping: &self.mapping, bindings: &self.bindings, inactive: self.inactive(), learned: self.learned() }
    }

    /// Binding `i`, as the packet path gets it.
    fn found(&self, i: usize) -> Option<Found<'_, S>> {
        let b = self.bindings.get(i)?;
        let learned = self.learned().get(i)?;
        Some(Found {
            mapping: &self.mapping,
            policy: b.index,
            selector: &b.policy.selector,
            ready: &learned.ready,
            sole: learned.sole.load(Ordering::Relaxed),
            bindings: &self.bindings,
        })
    }
}

/// A mapping with its bindings.
pub struct Entry<'a, S> {
    /// The mapping.
    pub mapping: &'a Mapping<S>,
    /// The policies it binds, by index.
    pub bindings: &'a [Binding],
    /// Why it binds none, if so.
    pub inactive: Option<Inactive>,
    learned: &'a [Learned],
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

    /// Whether binding `i` was judged sole ([`Table::judge_sole`]).
    pub fn is_sole(&self, i: usize) -> bool {
        self.learned.get(i).is_some_and(|l| l.sole.load(Ordering::Relaxed))
    }

    /// Whether its bindings and inactive reason equal `other`'s.
    pub fn same_binding(&self, other: &Entry<'_, S>) -> bool {
        self.inactive == other.inactive
            && self.bindings.len() == other.bindings.len()
            && self.bindings.iter().zip(other.bindings).all(|(a, b)| a.index == b.index && a.policy == b.policy)
    }
}

/// A key of the destination index: family, prefix length (longest first),
/// hash of the masked destination, then the tie-breaks of
/// [`Table::lookup`] (policy priority, mapping key, policy index).
type DestKey = (Family, Reverse<u8>, u32, u32, MapKey, u32);

/// A key of the address index, and of the alias index: family, address,
/// prefix length, mapping key.
type AddrKey = (Family, Addr, u8, MapKey);

/// An entry of the destination index: its key, the mapping, and the
/// binding's position in it.
type DestEntry<S> = (DestKey, Rc<Item<S>>, u32);

/// The hash the destination index files `k` under: that of its masked
/// destination, mixed with its family and prefix length, so that each
/// group of the index spreads over the whole trie.
fn trie_hash(k: &DestKey) -> u32 {
    let (family, Reverse(len), hash, ..) = *k;
    let group = (u32::from(len) << 1 | u32::from(family == Family::V6)).wrapping_mul(0x9e37_79b1);
    hash ^ group.rotate_left(16)
}

/// `trie` with binding `i` of `item` under `k`, in the order of the keys.
fn with_dest<S>(trie: &HashTrie<DestEntry<S>>, k: DestKey, item: &Rc<Item<S>>, i: usize) -> Result<HashTrie<DestEntry<S>>, AllocError> {
    trie.insert(trie_hash(&k), (k, item.clone(), i as u32), |e| e.0 == k, |e| k < e.0)
}

/// The lowest key, to start a range of an index at.
const LOWEST_KEY: MapKey = MapKey::Spid(0);

/// The highest key, to end a range at.
const HIGHEST_KEY: MapKey = MapKey::Reqid(u32::MAX);

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

/// An immutable set of mappings with their bindings and lookup indexes.
pub struct Table<S> {
    by_key: PMap<MapKey, Rc<Item<S>>>,
    /// Per binding: the mapping, and the binding's position in it.
    by_dest: HashTrie<DestEntry<S>>,
    /// How many bindings have each (family, destination prefix length):
    /// the groups of the destination index, longest prefix first.
    dest_lens: PMap<(Family, Reverse<u8>), u32>,
    by_nat: PMap<AddrKey, Rc<Item<S>>>,
    /// How many mappings have each (family, prefix length): the lengths
    /// the address index is searched by.
    nat_lens: PMap<(Family, u8), u32>,
    /// Per binding: (policy index, mapping key).
    by_policy: PMap<(u32, MapKey), ()>,
    /// The mappings with a remote alias, by alias prefix.
    by_alias: PMap<AddrKey, Rc<Item<S>>>,
    /// The keys of the named mappings, by name (unique).
    by_name: PMap<MapName, MapKey>,
    /// How many mappings are inbound: without one, the inbound path ends
    /// at a test of this.
    inbound: u32,
    /// How many mappings' remote prefixes have a conntrack zone.
    zones: u32,
    /// The caller's count of SPD changes when it walked the SPD for
    /// [`Table::judge_sole`]: the judgement holds only while no change
    /// came since.
    spd_generation: u64,
}

impl<S> Clone for Table<S> {
    /// Another handle on the same snapshot, sharing every node.
    fn clone(&self) -> Self {
        Self {
            by_key: self.by_key.clone(),
            by_dest: self.by_dest.clone(),
            dest_lens: self.dest_lens.clone(),
            by_nat: self.by_nat.clone(),
            nat_lens: self.nat_lens.clone(),
            by_policy: self.by_policy.clone(),
            by_alias: self.by_alias.clone(),
            by_name: self.by_name.clone(),
            inbound: self.inbound,
            zones: self.zones,
            spd_generation: self.spd_generation,
        }
    }
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

/// The bindings `policies` give `m`, which they must all name, and why it
/// has none if so.  A reqid mapping skips the policies of the other
/// family: an IKE daemon's dual-stack child installs both under one reqid.
fn bind<'p, S>(
    m: &Mapping<S>,
    policies: impl Iterator<Item = &'p SeenPolicy>,
) -> Result<(Vec<Binding>, Option<Inactive>), AllocError> {
    let mut bindings: Vec<Binding> = Vec::new();
    let mut unfit: Option<Unfit> = None;
    for p in policies {
        if matches!(m.key, MapKey::Reqid(_)) && p.family != m.family {
            continue;
        }
        match policy::fit(p, m.family, &m.nat, m.nat_len, m.remote.as_ref()) {
            Ok(info) => {
                let reqid = match m.key {
                    MapKey::Reqid(r) => r,
                    MapKey::Spid(_) => p.reqids.as_slice().first().copied().unwrap_or(0),
                };
                vec::push(&mut bindings, Binding { index: p.index, policy: info, reqid })?;
            }
            // The lowest index is the reason shown: stable across walks.
            Err(why) if unfit.is_none_or(|u| unfit_index(&why) < unfit_index(&u)) => unfit = Some(why),
            Err(_) => (),
        }
    }
    bindings.sort_unstable_by_key(|b| b.index);
    let inactive = match (bindings.is_empty(), unfit) {
        (false, _) => None,
        (true, Some(u)) => Some(Inactive::Unfit(u)),
        (true, None) => Some(Inactive::NoPolicy(m.key, m.family)),
    };
    Ok((bindings, inactive))
}

/// The keys of a policy that a mapping may have: its index, and each reqid
/// of its templates once.
fn keys_naming(p: &SeenPolicy) -> impl Iterator<Item = MapKey> + '_ {
    let reqids = p.reqids.as_slice();
    let distinct = reqids.iter().enumerate().filter(move |&(i, r)| !reqids[..i].contains(r)).map(|(_, &r)| MapKey::Reqid(r));
    core::iter::once(MapKey::Spid(p.index)).chain(distinct)
}

fn is_outbound(p: &SeenPolicy) -> bool {
    p.index & 7 == policy::XFRM_POLICY_OUT
}

fn dest_key<S>(m: &Mapping<S>, b: &Binding) -> DestKey {
    let len = b.policy.selector.prefixlen_d;
    (m.family, Reverse(len), dest_hash(&b.policy.selector.dest_prefix()), b.policy.priority, m.key, b.index)
}

fn nat_key<S>(m: &Mapping<S>) -> AddrKey {
    (m.family, m.nat, m.nat_len, m.key)
}

fn alias_key<S>(m: &Mapping<S>) -> Option<AddrKey> {
    m.remote.map(|r| (m.family, r.alias, r.len, m.key))
}

impl<S> Table<S> {
    /// The table without mappings.
    pub fn empty() -> Self {
        Self {
            by_key: PMap::new(),
            by_dest: HashTrie::new(),
            dest_lens: PMap::new(),
            by_nat: PMap::new(),
            nat_lens: PMap::new(),
            by_policy: PMap::new(),
            by_alias: PMap::new(),
            by_name: PMap::new(),
            inbound: 0,
            zones: 0,
            spd_generation: 0,
        }
    }

    /// Builds a table from mappings with distinct keys, in any order, and
    /// the outbound main policies of the namespace that their keys name
    /// (others are ignored), in any order.
    ///
    /// A policy binds each mapping whose key names it and whose flows it
    /// can carry ([`policy::fit`]).
    pub fn build(mut mappings: Vec<Mapping<S>>, policies: &[SeenPolicy]) -> Result<Self, AllocError> {
        mappings.sort_unstable_by_key(|m| m.key);
        // (mapping position, policy position) for each key that names a
        // policy, grouped by mapping.
        let mut named: Vec<(u32, u32)> = Vec::new();
        for (at, p) in policies.iter().enumerate() {
            if !is_outbound(p) {
                continue;
            }
            for key in keys_naming(p) {
                if let Ok(slot) = mappings.binary_search_by_key(&key, |m| m.key) {
                    // Positions fit u32: the number of mappings is limited,
                    // and an SPD walk's vector of policies too.
                    vec::push(&mut named, (slot as u32, at as u32))?;
                }
            }
        }
        named.sort_unstable();
        let mut items: Vec<Rc<Item<S>>> = vec::with_capacity(mappings.len())?;
        let mut next = 0usize;
        for (slot, m) in mappings.into_iter().enumerate() {
            let first = next;
            while named.get(next).is_some_and(|&(s, _)| s as usize == slot) {
                next += 1;
            }
            let its = named.get(first..next).unwrap_or_default();
            vec::push(&mut items, rc::new(Item::new(m, its.iter().filter_map(|&(_, p)| policies.get(p as usize)))?)?)?;
        }
        Self::of_items(&items)
    }

    /// The table of `items`, sorted by key, each key once: each index
    /// sorted, then made a balanced tree, in O(n log n).
    fn of_items(items: &[Rc<Item<S>>]) -> Result<Self, AllocError> {
        let mut by_key = vec::with_capacity(items.len())?;
        let mut by_nat = vec::with_capacity(items.len())?;
        let mut nat_lens: Vec<((Family, u8), u32)> = Vec::new();
        let mut dest_lens: Vec<((Family, Reverse<u8>), u32)> = Vec::new();
        let mut by_policy = Vec::new();
        let mut by_alias = Vec::new();
        let mut by_name = Vec::new();
        let mut by_dest = HashTrie::new();
        let (mut inbound, mut zones) = (0, 0);
        for item in items {
            let m = &item.mapping;
            vec::push(&mut by_key, (m.key, item.clone()))?;
            for (i, b) in item.bindings.iter().enumerate() {
                let k = dest_key(m, b);
                count(&mut dest_lens, (k.0, k.1))?;
                by_dest = with_dest(&by_dest, k, item, i)?;
                vec::push(&mut by_policy, ((b.index, m.key), ()))?;
            }
            vec::push(&mut by_nat, (nat_key(m), item.clone()))?;
            count(&mut nat_lens, (m.family, m.nat_len))?;
            if let Some(k) = alias_key(m) {
                vec::push(&mut by_alias, (k, item.clone()))?;
            }
            if let Some(name) = m.name {
                vec::push(&mut by_name, (name, m.key))?;
            }
            inbound += u32::from(m.inbound);
            zones += u32::from(m.remote.is_some_and(|r| r.zone != 0));
        }
        by_nat.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        nat_lens.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        dest_lens.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        by_policy.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        by_alias.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Names are unique in a set (its writer checks); were one not,
        // `from_sorted` would keep the highest key's.
        by_name.sort_unstable_by(|a, b| a.cmp(b));
        Ok(Self {
            by_key: PMap::from_sorted(&by_key)?,
            by_dest,
            by_nat: PMap::from_sorted(&by_nat)?,
            nat_lens: PMap::from_sorted(&nat_lens)?,
            dest_lens: PMap::from_sorted(&dest_lens)?,
            by_policy: PMap::from_sorted(&by_policy)?,
            by_alias: PMap::from_sorted(&by_alias)?,
            by_name: PMap::from_sorted(&by_name)?,
            inbound,
            zones,
            spd_generation: 0,
        })
    }

    /// This table with the mapping of `key` replaced by `new`, or removed
    /// if `new` is `None`.  The other mappings keep their bindings, and
    /// `new` binds the policies of `policies` that its key names, so the
    /// result is the table that [`Table::build`] makes of the edited
    /// mappings and the policies this one was built with, plus those: in
    /// O(log n) for n mappings, sharing the rest with this table.
    pub fn with_one(&self, key: MapKey, new: Option<Mapping<S>>, policies: &[SeenPolicy]) -> Result<Self, AllocError> {
        let mut t = match self.by_key.get(&key) {
            Some(old) => self.without_item(old)?,
            None => self.clone(),
        };
        if let Some(m) = new {
            let m = Mapping { key, ..m };
            let naming = policies.iter().filter(|p| is_outbound(p) && keys_naming(p).any(|k| k == key));
            let item = Item::new(m, naming)?;
            t = t.with_item(rc::new(item)?)?;
        }
        Ok(t)
    }

    /// This table with `item`, whose key it does not have.
    fn with_item(&self, item: Rc<Item<S>>) -> Result<Self, AllocError> {
        let m = &item.mapping;
        let mut t = self.clone();
        for (i, b) in item.bindings.iter().enumerate() {
            let k = dest_key(m, b);
            t.by_dest = with_dest(&t.by_dest, k, &item, i)?;
            t.dest_lens = counted(&t.dest_lens, (k.0, k.1), 1)?;
            t.by_policy = t.by_policy.insert((b.index, m.key), ())?;
        }
        t.by_nat = t.by_nat.insert(nat_key(m), item.clone())?;
        t.nat_lens = counted(&t.nat_lens, (m.family, m.nat_len), 1)?;
        if let Some(k) = alias_key(m) {
            t.by_alias = t.by_alias.insert(k, item.clone())?;
        }
        if let Some(name) = m.name {
            t.by_name = t.by_name.insert(name, m.key)?;
        }
        t.inbound += u32::from(m.inbound);
        t.zones += u32::from(m.remote.is_some_and(|r| r.zone != 0));
        t.by_key = t.by_key.insert(m.key, item.clone())?;
        Ok(t)
    }

    /// This table without `item`, which it has.
    fn without_item(&self, item: &Item<S>) -> Result<Self, AllocError> {
        let m = &item.mapping;
        let mut t = self.clone();
        for b in item.bindings.iter() {
            let k = dest_key(m, b);
            t.by_dest = t.by_dest.remove(trie_hash(&k), |e| e.0 == k)?;
            t.dest_lens = counted(&t.dest_lens, (k.0, k.1), -1)?;
            t.by_policy = t.by_policy.remove(&(b.index, m.key))?;
        }
        t.by_nat = t.by_nat.remove(&nat_key(m))?;
        t.nat_lens = counted(&t.nat_lens, (m.family, m.nat_len), -1)?;
        if let Some(k) = alias_key(m) {
            t.by_alias = t.by_alias.remove(&k)?;
        }
        if let Some(name) = m.name.filter(|n| self.by_name.get(n) == Some(&m.key)) {
            t.by_name = t.by_name.remove(&name)?;
        }
        t.inbound -= u32::from(m.inbound);
        t.zones -= u32::from(m.remote.is_some_and(|r| r.zone != 0));
        t.by_key = t.by_key.remove(&m.key)?;
        Ok(t)
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
        let mut best: Option<(&Item<S>, &Binding, usize)> = None;
        let groups = self.dest_lens.iter_from(&(family, Reverse(u8::MAX))).take_while(|((f, _), _)| *f == family);
        for (&(_, Reverse(len)), _) in groups {
            let hash = dest_hash(&flow.daddr.masked(len));
            let group = (family, Reverse(len), hash, 0, LOWEST_KEY, 0);
            for (k, item, i) in self.by_dest.get(trie_hash(&group)) {
                // Another group's entries may share the trie's hash.
                if (k.0, k.1, k.2) != (family, Reverse(len), hash) {
                    continue;
                }
                let Some(b) = item.bindings.get(*i as usize) else { continue };
                let m = &item.mapping;
                // A mapping with a remote alias takes only the flows sent to
                // the alias ([`Table::find_for_alias`]): its remote prefix
                // may well be another mapping's too.  The group's prefix
                // length is the selector's, so `matches_flow` also rules
                // out a hash collision.
                if m.remote.is_some() || !m.admits(&flow.saddr) || !b.policy.selector.matches_flow(flow) {
                    continue;
                }
                // Groups come longest prefix first and runs are sorted by
                // the tie-breaks, so only a strictly lower priority beats
                // `best`.
                if best.is_none_or(|(_, bb, _)| b.policy.priority < bb.policy.priority) {
                    best = Some((item, b, *i as usize));
                }
                break;
            }
        }
        let (item, _, i) = best?;
        item.found(i)
    }

    /// The mapping whose conntrack zone a packet that arrived decrypted by
    /// an SA of reqid `sa_reqid` goes into: the one with a zone whose
    /// remote prefix contains `saddr`, whose own prefix contains `daddr`,
    /// and which binds a policy of that reqid.  Its flows start on the
    /// LAN, sent to its alias ([`Table::alias_mapping`]), or arrive so.
    pub fn zone_of_arriving(&self, family: Family, saddr: &Addr, daddr: &Addr, sa_reqid: u32) -> Option<&Mapping<S>> {
        if self.zones == 0 || sa_reqid == 0 {
            return None;
        }
        self.by_nat_addr_all(family, daddr)
            .filter(|it| it.mapping.remote.is_some_and(|r| r.zone != 0 && saddr.in_prefix(&r.real, r.len)))
            .filter(|it| it.bindings.iter().any(|b| b.reqid == sa_reqid))
            .map(|it| &it.mapping)
            .min_by_key(|m| m.key)
    }

    /// Whether some mapping has a conntrack zone: without one, the zone
    /// path ends at this test.
    pub fn has_zones(&self) -> bool {
        self.zones != 0
    }

    /// Whether some mapping translates destinations: is inbound, or has a
    /// remote alias.  Without one, the destination NAT path ends at this
    /// test.
    pub fn translates_destinations(&self) -> bool {
        self.inbound != 0 || !self.by_alias.is_empty()
    }

    /// The mapping whose remote alias contains `daddr`: the one a new flow
    /// towards `daddr` from a local host is for, whose destination becomes
    /// the remote address the alias stands for.
    pub fn alias_mapping(&self, family: Family, daddr: &Addr) -> Option<&Mapping<S>> {
        // Aliases do not overlap ([`Table::alias_overlap`]): the one that
        // starts last at or before `daddr` is the only one that may
        // contain it.
        let (k, item) = self.by_alias.at_or_before(&(family, *daddr, u8::MAX, HIGHEST_KEY))?;
        let r = item.mapping.remote?;
        (k.0 == family && daddr.in_prefix(&r.alias, r.len)).then_some(&item.mapping)
    }

    /// As [`Table::find`], for a flow whose destination was translated
    /// from `alias_mapping`'s remote alias: among that mapping's bindings
    /// only, the one with the lowest priority whose policy selects the
    /// translated flow, if the mapping admits its source.
    pub fn find_for_alias(&self, alias_mapping: MapKey, flow: &Flow) -> Option<Found<'_, S>> {
        let item = self.by_key.get(&alias_mapping)?;
        if !item.mapping.admits(&flow.saddr) {
            return None;
        }
        let (i, _) = item
            .bindings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.policy.selector.matches_flow(flow))
            .min_by_key(|(_, b)| b.policy.priority)?;
        item.found(i)
    }

    /// Two mappings whose remote aliases overlap, if any: a flow towards
    /// the shared addresses could not tell which remote site it is for.
    pub fn alias_overlap(&self) -> Option<(MapKey, MapKey)> {
        // Sorted by start, a prefix that contains others comes right
        // before the first of them.
        let mut aliases = self.by_alias.iter();
        let mut prev = aliases.next()?;
        for next in aliases {
            if overlaps(prev, next) {
                return Some((prev.0 .3, next.0 .3));
            }
            prev = next;
        }
        None
    }

    /// The other mapping whose remote alias overlaps that of `key`'s, if
    /// any, when no two others overlap: then only the aliases right before
    /// and after it in address order may, so this is O(log n).
    pub fn alias_overlap_with(&self, key: MapKey) -> Option<MapKey> {
        let k = alias_key(&self.by_key.get(&key)?.mapping)?;
        let this = self.by_alias.at_or_after(&k)?;
        let before = self.by_alias.before(&k).filter(|prev| overlaps(*prev, this));
        let after = self.by_alias.after(&k).filter(|next| overlaps(this, *next));
        before.or(after).map(|(other, _)| other.3)
    }

    /// The mappings whose address or prefix contains `nat`: in key order
    /// within one prefix length, the lengths in no particular order.
    fn by_nat_addr_all(&self, family: Family, nat: &Addr) -> impl Iterator<Item = &Item<S>> + Clone + '_ {
        let nat = *nat;
        let lens = self.nat_lens.iter_from(&(family, 0)).take_while(move |((f, _), _)| *f == family);
        lens.flat_map(move |(&(_, len), _)| {
            let prefix = nat.masked(len);
            self.by_nat
                .iter_from(&(family, prefix, len, LOWEST_KEY))
                .take_while(move |(k, _)| (k.0, k.1, k.2) == (family, prefix, len))
                .map(|(_, item)| &**item)
        })
    }

    /// The mapping that a flow translated to `nat` came from, for counting
    /// fail-closed drops.  Among the mappings whose address or prefix
    /// contains `nat`, the lowest key that admits the flow's source and
    /// binds a policy that selects it; else the lowest that admits its
    /// source; else the lowest.
    pub fn by_nat_addr(&self, family: Family, nat: &Addr, flow: &Flow) -> Option<&Mapping<S>> {
        let all = self.by_nat_addr_all(family, nat).map(|it| (&it.mapping, &it.bindings[..]));
        let binds_flow = |(m, bindings): &(&Mapping<S>, &[Binding])| {
            m.admits(&flow.saddr) && bindings.iter().any(|b| b.policy.selector.matches_flow(flow))
        };
        // The lowest key of each tier: `all` is in key order only within
        // one prefix length.
        all.clone()
            .filter(binds_flow)
            .min_by_key(|(m, _)| m.key)
            .or_else(|| all.clone().filter(|(m, _)| m.admits(&flow.saddr)).min_by_key(|(m, _)| m.key))
            .or_else(|| all.clone().min_by_key(|(m, _)| m.key))
            .map(|(m, _)| m)
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
        if self.inbound == 0 {
            return Inbound::NotOurs;
        }
        let candidates = self.by_nat_addr_all(family, &reply.saddr).filter(|it| it.mapping.inbound);
        let admits = |it: &&Item<S>| {
            sa_reqid.is_some_and(|reqid| {
                reqid != 0 && it.bindings.iter().any(|b| b.reqid == reqid && b.policy.selector.matches_flow(reply))
            })
        };
        let chosen = candidates.clone().filter(admits).map(|it| &it.mapping).min_by_key(|m| m.key);
        match chosen.and_then(|m| Some((m, m.untranslate(&reply.saddr)?))) {
            Some((mapping, host)) => {
                let source = mapping.remote.filter(|r| reply.daddr.in_prefix(&r.real, r.len)).map(|r| r.alias_of(&reply.daddr));
                Inbound::Admit { mapping, host, source }
            }
            None => match candidates.map(|it| &it.mapping).min_by_key(|m| m.key) {
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

    /// The key of the mapping named `name`.
    pub fn key_named(&self, name: &MapName) -> Option<MapKey> {
        self.by_name.get(name).copied()
    }

    /// Whether some mapping binds the policy of `index`.
    pub fn binds_policy(&self, index: u32) -> bool {
        self.by_policy.at_or_after(&(index, LOWEST_KEY)).is_some_and(|((i, _), _)| *i == index)
    }

    /// Whether the mapping of `key` binds the policy of `index`: the SPD
    /// chose a policy for a flow, and the mapping may translate it only
    /// if the policy is one of its own.
    pub fn binds(&self, key: MapKey, index: u32) -> bool {
        self.by_policy.get(&(index, key)).is_some()
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
    ///
    /// The judgement is stored in the mappings, which older snapshots may
    /// share: it is trusted only at the generation of the snapshot that
    /// reads it, and a judgement for a newer generation is made only when
    /// the SPD moved past the older snapshots' (or for a mapping they do
    /// not have).
    pub fn judge_sole(&mut self, rivals: &[Rival], only: Option<MapKey>, generation: u64) {
        let judged = match only {
            Some(key) => self.by_key.get(&key).map_or(0, |it| it.bindings.len()),
            None => self.by_policy.len(),
        };
        // The others were judged at the table's generation: the table is
        // as current as the older judgement.
        let others = self.by_policy.len() - judged;
        self.spd_generation = if others > 0 { self.spd_generation.min(generation) } else { generation };
        let index = RivalIndex::new(rivals);
        let mut budget = Self::SOLE_BUDGET;
        let mut judge = |item: &Item<S>| {
            let m = &item.mapping;
            for (b, learned) in item.bindings.iter().zip(item.learned()) {
                let sole = index.as_ref().is_ok_and(|ix| {
                    ix.unkeyed(b.index) && !ix.any_meets(m.family, &m.nat, m.nat_len, &b.policy.selector, b.index, &mut budget)
                });
                learned.sole.store(sole, Ordering::Relaxed);
            }
        };
        match only {
            Some(key) => self.by_key.get(&key).into_iter().for_each(|it| judge(it)),
            None => self.by_key.iter().for_each(|(_, it)| judge(it)),
        }
    }

    /// The most rivals [`Self::judge_sole`] looks at in one judgement.
    pub const SOLE_BUDGET: usize = 1 << 22;

    /// The SPD generation of the last [`Self::judge_sole`], 0 if none.
    pub fn spd_generation(&self) -> u64 {
        self.spd_generation
    }

    /// The mapping of `key`.
    pub fn get(&self, key: MapKey) -> Option<Entry<'_, S>> {
        self.by_key.get(&key).map(|it| it.entry())
    }

    /// All mappings, in key order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_, S>> + '_ {
        self.by_key.iter().map(|(_, it)| it.entry())
    }

    /// All mappings, in key order, without their bindings.
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping<S>> + Clone + '_ {
        self.by_key.iter().map(|(_, it)| &it.mapping)
    }

    /// Mappings with a key of at least `key`, in key order: the resume
    /// point of a netlink dump.
    pub fn entries_from(&self, key: MapKey) -> impl Iterator<Item = Entry<'_, S>> + '_ {
        self.by_key.iter_from(&key).map(|(_, it)| it.entry())
    }

    /// The indexes of the policies some mapping binds, ascending, with
    /// repeats when several mappings bind one.
    pub fn bound_policies(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_policy.iter().map(|((index, _), _)| *index)
    }

    /// Number of mappings.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// The addresses of the nodes of its indexes, to tell how much of
    /// them two tables share.
    #[cfg(not(MODULE))]
    pub fn nodes(&self) -> alloc::collections::BTreeSet<usize> {
        let mut all = self.by_key.nodes();
        all.extend(self.by_dest.nodes());
        all.extend(self.dest_lens.nodes());
        all.extend(self.by_nat.nodes());
        all.extend(self.nat_lens.nodes());
        all.extend(self.by_policy.nodes());
        all.extend(self.by_alias.nodes());
        all.extend(self.by_name.nodes());
        all
    }

    /// Whether there are no mappings.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

impl<S: Clone> Table<S> {
    /// A copy of the mappings, each passed through `edit`, which may drop
    /// one by returning `None`: the input of the next [`Table::build`].
    pub fn edited(&self, mut edit: impl FnMut(&Mapping<S>) -> Option<Mapping<S>>) -> Result<Vec<Mapping<S>>, AllocError> {
        let mut out = vec::with_capacity(self.len() + 1)?;
        for m in self.mappings() {
            if let Some(m) = edit(m) {
                vec::push(&mut out, m)?;
            }
        }
        Ok(out)
    }
}

impl<S> Item<S> {
    /// `m` with the bindings `policies` give it, which must all name it.
    fn new<'p>(m: Mapping<S>, policies: impl Iterator<Item = &'p SeenPolicy>) -> Result<Self, AllocError> {
        let (bindings, inactive) = bind(&m, policies)?;
        let state = match inactive {
            Some(why) => ItemState::Inactive(why),
            None => {
                let mut learned = vec::with_capacity(bindings.len())?;
                for _ in bindings.iter() {
                    let fresh = Learned { ready: SaReadiness(AtomicU64::new(0)), sole: AtomicBool::new(false) };
                    vec::push(&mut learned, fresh)?;
                }
                ItemState::Bound(learned)
            }
        };
        Ok(Self { mapping: m, bindings, state })
    }
}

/// The smallest kmalloc cache that holds `bytes`.
pub const fn slab_size(bytes: usize) -> usize {
    let caches = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096];
    let mut i = 0;
    while i < caches.len() {
        if caches[i] >= bytes {
            return caches[i];
        }
        i += 1;
    }
    bytes.next_multiple_of(4096)
}

impl<S> Table<S> {
    /// The memory a mapping with `bindings` bindings and no remote alias
    /// takes in a table, counters excepted, as the module allocates it:
    /// the shared mapping with its bindings, and its entries in the
    /// indexes, each allocation from the smallest kmalloc cache that fits.
    /// Index nodes that only the old snapshot holds are freed with it,
    /// after a grace period.
    pub const fn memory_per_mapping(bindings: usize) -> usize {
        let item = slab_size(pmap::arc_size::<Item<S>>());
        let vectors = if bindings == 0 {
            0
        } else {
            slab_size(bindings * core::mem::size_of::<Binding>()) + slab_size(bindings * core::mem::size_of::<Learned>())
        };
        let by_key = slab_size(PMap::<MapKey, Rc<Item<S>>>::entry_size());
        let by_nat = slab_size(PMap::<AddrKey, Rc<Item<S>>>::entry_size());
        let by_dest = HashTrie::<DestEntry<S>>::leaf_size();
        let by_policy = slab_size(PMap::<(u32, MapKey), ()>::entry_size());
        item + vectors + by_key + by_nat + bindings * (by_dest + by_policy)
    }
}

/// `counts` with the count of `key` moved by `by` (up from 0, or down to
/// 0, which removes it).
fn counted<K: Ord + Clone>(counts: &PMap<K, u32>, key: K, by: i32) -> Result<PMap<K, u32>, AllocError> {
    match counts.get(&key).map_or(0, |&n| n).checked_add_signed(by) {
        Some(0) | None => counts.remove(&key),
        Some(n) => counts.insert(key, n),
    }
}

/// Counts `key` in `counts`, a short list.
fn count<K: PartialEq>(counts: &mut Vec<(K, u32)>, key: K) -> Result<(), AllocError> {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => vec::push(counts, (key, 1))?,
    }
    Ok(())
}

/// Whether the alias of alias-index entry `b` starts inside that of `a`,
/// which starts no later.
fn overlaps<S>(a: (&AddrKey, &Rc<Item<S>>), b: (&AddrKey, &Rc<Item<S>>)) -> bool {
    let ((fa, alias_a, len_a, _), (fb, alias_b, _, _)) = (a.0, b.0);
    fa == fb && alias_b.in_prefix(alias_a, *len_a)
}

fn unfit_index(u: &Unfit) -> u32 {
    match *u {
        Unfit::FamilyMismatch { index, .. }
        | Unfit::SourceNotSelected { index, .. }
        | Unfit::RemoteNotSelected { index, .. } => index,
    }
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

