// SPDX-License-Identifier: GPL-2.0
//! The mapping table: an immutable snapshot that the packet path reads under
//! RCU, and writers replace as a whole.
//!
//! A snapshot holds every mapping of a network namespace, sorted by spid,
//! plus two indexes over them:
//!
//! * the *destination index*: the active mappings grouped by the destination
//!   prefix length of their policy's selector; within a group, entries of a
//!   32-bit hash of the masked destination and the mapping's position,
//!   sorted by hash.  A lookup does one binary search per prefix length in
//!   use (at most 33 for IPv4, 129 for IPv6) over a contiguous array of
//!   8-byte entries, and touches a mapping only when the hash matches;
//! * the *address index*: all mappings sorted by NAT address, to find the
//!   mapping behind a NATed conntrack entry on the fail-closed path.
//!
//! So a mapping costs its own size plus twelve bytes of index.  Writers
//! rebuild the indexes on every change, in O(n log n); configuration changes
//! are rare next to lookups.

use super::addr::{Addr, Family};
use super::selector::{DestSelector, Flow};
use super::vec::{self, AllocError, Vec};

/// What a mapping does with a new flow while its policy's SA is pending
/// (being negotiated, or missing with nobody answering ACQUIRE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PendingMode {
    /// Refuse with `EAGAIN` at the local sender; drop forwarded packets.
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

/// What a mapping keeps of its policy, as last seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyInfo {
    /// Its selector, but for the source (see [`DestSelector`]).
    pub selector: DestSelector,
    /// Its priority: among matching mappings the lowest value wins, as in
    /// the SPD.
    pub priority: u32,
}

/// One mapping: "SNAT flows that policy `spid` would carry once their source
/// is `nat` to `nat`".
#[derive(Clone, Debug)]
pub struct Mapping<S> {
    /// Index of the outbound policy.
    pub spid: u32,
    /// Family of `nat`, and of the policy it may use.
    pub family: Family,
    /// The address to translate the source to.
    pub nat: Addr,
    /// What to do with a new flow while the policy's SA is pending.
    pub pending: PendingMode,
    /// The policy, while it exists and can carry NATed flows.  `None` means
    /// the mapping is inactive.
    pub policy: Option<PolicyInfo>,
    /// Counters, shared by all snapshots that hold this mapping.
    pub stats: S,
}

impl<S> Mapping<S> {
    /// Whether the mapping translates flows.
    pub fn is_active(&self) -> bool {
        self.policy.is_some()
    }
}

/// An entry of the destination index.
#[derive(Clone, Copy, Debug)]
struct DestKey {
    hash: u32,
    slot: u32,
}

/// A cheap, fixed hash of a masked destination; collisions only lengthen a
/// run that is checked against the mappings anyway.
fn dest_hash(a: &Addr) -> u32 {
    let mut h: u64 = 0;
    for w in a.0.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h = (h ^ u64::from_ne_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    (h >> 32) as u32
}

#[derive(Clone, Copy, Debug)]
struct Group {
    family: Family,
    prefix_len: u8,
    start: u32,
    end: u32,
}

/// An immutable set of mappings with lookup indexes.
pub struct Table<S> {
    mappings: Vec<Mapping<S>>,
    by_dest: Vec<DestKey>,
    groups: Vec<Group>,
    by_nat: Vec<u32>,
}

impl<S: Clone> Table<S> {
    /// The table without mappings.
    pub fn empty() -> Self {
        Self { mappings: Vec::new(), by_dest: Vec::new(), groups: Vec::new(), by_nat: Vec::new() }
    }

    /// Builds a table from mappings with distinct spids, in any order.
    pub fn build(mut mappings: Vec<Mapping<S>>) -> Result<Self, AllocError> {
        mappings.sort_unstable_by_key(|m| m.spid);
        let n = mappings.len();

        let mut by_nat = vec::with_capacity(n)?;
        let mut by_dest = vec::with_capacity(n)?;
        for (i, m) in mappings.iter().enumerate() {
            // A table larger than u32 positions is refused by the callers long
            // before (the number of mappings is limited).
            let i = i as u32;
            vec::push(&mut by_nat, i)?;
            if let Some(p) = &m.policy {
                vec::push(&mut by_dest, DestKey { hash: dest_hash(&p.selector.dest_prefix()), slot: i })?;
            }
        }
        by_nat.sort_unstable_by_key(|&i| {
            let m = &mappings[i as usize];
            (m.family, m.nat, m.spid)
        });
        by_dest.sort_unstable_by_key(|k| sort_key(&mappings[k.slot as usize], k.hash));

        let mut groups = Vec::new();
        let mut start = 0;
        while start < by_dest.len() {
            let (family, prefix_len) = group_of(&mappings[by_dest[start].slot as usize]);
            let mut end = start + 1;
            while end < by_dest.len() && group_of(&mappings[by_dest[end].slot as usize]) == (family, prefix_len) {
                end += 1;
            }
            vec::push(&mut groups, Group { family, prefix_len, start: start as u32, end: end as u32 })?;
            start = end;
        }
        Ok(Self { mappings, by_dest, groups, by_nat })
    }

    /// The mapping that translates a new flow of `family`, if any: among the
    /// active mappings whose policy selects the flow, the one with the lowest
    /// policy priority, then the longest destination prefix, then the lowest
    /// spid.
    pub fn lookup(&self, family: Family, flow: &Flow) -> Option<&Mapping<S>> {
        let mut best: Option<&Mapping<S>> = None;
        for g in self.groups.iter().filter(|g| g.family == family) {
            let key = flow.daddr.masked(g.prefix_len);
            let hash = dest_hash(&key);
            let run = &self.by_dest[g.start as usize..g.end as usize];
            let first = run.partition_point(|k| k.hash < hash);
            for k in run[first..].iter().take_while(|k| k.hash == hash) {
                let m = &self.mappings[k.slot as usize];
                let Some(p) = &m.policy else { continue };
                if p.selector.dest_prefix() != key || !p.selector.matches_flow(flow) {
                    continue;
                }
                // Groups come longest prefix first and runs are sorted by
                // priority, so only a strictly lower priority beats `best`.
                if best.is_none_or(|b| b.policy.is_none_or(|bp| p.priority < bp.priority)) {
                    best = Some(m);
                }
                break;
            }
        }
        best
    }

    /// The mapping whose NAT address a flow was translated to, for counting
    /// fail-closed drops.  If several mappings share the address, the first
    /// whose policy (still or last known) selects `flow` is chosen, else the
    /// one with the lowest spid.
    pub fn by_nat_addr(&self, family: Family, nat: &Addr, flow: &Flow) -> Option<&Mapping<S>> {
        let first = self.by_nat.partition_point(|&i| {
            let m = &self.mappings[i as usize];
            (m.family, m.nat) < (family, *nat)
        });
        let mut same = self.by_nat[first..]
            .iter()
            .map(|&i| &self.mappings[i as usize])
            .take_while(|m| m.family == family && m.nat == *nat);
        let lowest = same.clone().next()?;
        Some(same.find(|m| m.policy.is_some_and(|p| p.selector.matches_flow(flow))).unwrap_or(lowest))
    }

    /// Whether some mapping translates to `nat`: the cheap first test of
    /// the fail-closed path.
    pub fn has_nat_addr(&self, family: Family, nat: &Addr) -> bool {
        self.by_nat
            .binary_search_by(|&i| {
                let m = &self.mappings[i as usize];
                (m.family, m.nat).cmp(&(family, *nat))
            })
            .is_ok()
    }

    /// The mapping of `spid`.
    pub fn get(&self, spid: u32) -> Option<&Mapping<S>> {
        self.mappings.binary_search_by_key(&spid, |m| m.spid).ok().map(|i| &self.mappings[i])
    }

    /// All mappings, in spid order.
    pub fn mappings(&self) -> &[Mapping<S>] {
        &self.mappings
    }

    /// Mappings with a spid of at least `spid`, in spid order: the resume
    /// point of a netlink dump.
    pub fn mappings_from(&self, spid: u32) -> &[Mapping<S>] {
        let first = self.mappings.partition_point(|m| m.spid < spid);
        &self.mappings[first..]
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

fn group_of<S>(m: &Mapping<S>) -> (Family, u8) {
    let len = m.policy.map_or(0, |p| p.selector.prefixlen_d);
    (m.family, len)
}

/// Sort key of the destination index: family, longest prefix first, hash,
/// then the tie-breaks of [`Table::lookup`].
fn sort_key<S>(m: &Mapping<S>, hash: u32) -> (Family, core::cmp::Reverse<u8>, u32, u32, u32) {
    let (len, prio) = m.policy.map_or((0, u32::MAX), |p| (p.selector.prefixlen_d, p.priority));
    (m.family, core::cmp::Reverse(len), hash, prio, m.spid)
}
