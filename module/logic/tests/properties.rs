// SPDX-License-Identifier: GPL-2.0
//! Property tests (proptest): the crate's logic against small reference
//! models written from its documentation, on random inputs.
//!
//! * selectors: matching against a bit-by-bit reference of the documented
//!   semantics (prefixes, port masks, protocol and interface 0 = any);
//! * the mapping table: the bindings and inactive reasons of spid and
//!   reqid mappings (`build`, `get`, `entries_from`, `binds_policy`,
//!   `bound_policies`), `lookup` (with 1:1 prefix mappings' from prefixes
//!   and the precedence of Documentation/xfrm_nat.rst, "Choosing among
//!   mappings"), `by_nat_addr`, `has_nat_addr` and `edited` against
//!   linear scans over the mappings and SPD policies, also after the
//!   policies are re-added under new indexes;
//! * whether a policy can carry a mapping's flows (`policy::fit`), prefix
//!   translation (`Addr::splice`, `Mapping::translate`) and key cursors;
//! * request validation: random attributes never panic, accepted requests
//!   keep the documented bounds, refused ones give a documented refusal;
//! * the hold queue: random operation sequences against a `VecDeque` with
//!   the same bounds;
//! * the extack buffer (`FixedBuf`): it keeps a prefix of the text.
//!
//! Each property runs 256 cases (`PROPTEST_CASES=n` runs n instead).
//! Failures are not saved to a regressions file; proptest prints the
//! shrunk input to paste into a unit test.

use std::cmp::Reverse;
use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;

use logic::addr::{Addr, Family};
use logic::fmt::FixedBuf;
use logic::hold::{HoldCounters, HoldLimits, HoldQueue};
use logic::policy::{self, PolicyInfo, Reqids, SeenPolicy, Unfit};
use logic::request::{self, MapAttrs, MapKey, MapRequest, NetLimits, PendingMode, Refusal};
use logic::selector::{DestSelector, Flow, Selector, IPPROTO_ICMP, IPPROTO_ICMPV6};
use logic::table::{Entry, Inactive, Mapping, Table};
use logic::uapi::pending_mode;

fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { 256 };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

// ---------------------------------------------------------------------------
// Addresses and the reference matcher.

/// Bit `i` of an address, counted from the most significant bit of byte 0.
fn bit(a: &Addr, i: usize) -> bool {
    a.0[i / 8] & (0x80 >> (i % 8)) != 0
}

fn set_bit(a: &mut Addr, i: usize) {
    a.0[i / 8] |= 0x80 >> (i % 8);
}

/// An address of `family`: the family's bytes of `raw`, the rest zero.
fn addr_of(family: Family, raw: [u8; 16]) -> Addr {
    let mut a = [0; 16];
    let n = family.addr_len();
    a[..n].copy_from_slice(&raw[..n]);
    Addr(a)
}

/// An address of `family` whose first `keep` bits are `base`'s and the
/// others `noise`'s.
fn splice(family: Family, base: &Addr, noise: &Addr, keep: usize) -> Addr {
    let mut out = Addr::default();
    for i in 0..usize::from(family.max_prefix()) {
        if if i < keep { bit(base, i) } else { bit(noise, i) } {
            set_bit(&mut out, i);
        }
    }
    out
}

/// "Whether the first `prefix_len` bits equal those of `prefix`"; an
/// address has 128 bits, so longer prefixes compare all of them.
fn ref_in_prefix(a: &Addr, prefix: &Addr, prefix_len: u8) -> bool {
    (0..usize::from(prefix_len).min(128)).all(|i| bit(a, i) == bit(prefix, i))
}

fn ref_masked(a: &Addr, prefix_len: u8) -> Addr {
    let mut out = Addr::default();
    for i in 0..usize::from(prefix_len).min(128) {
        if bit(a, i) {
            set_bit(&mut out, i);
        }
    }
    out
}

/// A port (all three in network order, as a selector keeps them) is
/// selected if it agrees with the selector's port on every bit of the mask.
fn ref_port(flow: u16, sel: u16, mask: u16) -> bool {
    let (f, s, m) = (u16::from_be(flow), u16::from_be(sel), u16::from_be(mask));
    (0..16).all(|i| m >> i & 1 == 0 || f >> i & 1 == s >> i & 1)
}

/// `xfrm_selector_match()` without the source: destination prefix, ports
/// under their masks, protocol 0 = any, interface 0 = any.
fn ref_matches(sel: &DestSelector, flow: &Flow) -> bool {
    ref_in_prefix(&flow.daddr, &sel.daddr, sel.prefixlen_d)
        && ref_port(flow.dport, sel.dport, sel.dport_mask)
        && ref_port(flow.sport, sel.sport, sel.sport_mask)
        && (sel.proto == 0 || sel.proto == flow.proto)
        && (sel.ifindex == 0 || sel.ifindex == flow.oif)
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

/// A port in host order, often one that selectors use.
fn port() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), Just(22), Just(80), Just(443), Just(1024), Just(65535), any::<u16>()]
}

/// A port mask in host order: none, exact, a range (leading ones), or any.
fn port_mask() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), Just(0xffff), (0u32..=16).prop_map(|k| (0xffff_u32 << k) as u16), any::<u16>()]
}

fn proto() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), Just(6), Just(17), Just(IPPROTO_ICMP), Just(IPPROTO_ICMPV6), any::<u8>()]
}

fn ifindex() -> impl Strategy<Value = i32> {
    prop_oneof![Just(0i32), 1..4i32, any::<i32>()]
}

/// A selector port, its mask, and a flow port that is the selector's, one
/// bit off it, or anything (host order).
fn port_case() -> impl Strategy<Value = (u16, u16, u16)> {
    (port(), port_mask(), 0u8..3, 0u32..16, port()).prop_map(|(sel, mask, pick, b, other)| {
        let flow = match pick {
            0 => sel,
            1 => sel ^ (1 << b),
            _ => other,
        };
        (sel, mask, flow)
    })
}

prop_compose! {
    /// A family, a selector's destination, a flow's destination sharing a
    /// random number of leading bits with it, and a prefix length valid
    /// for the family.
    fn dest_case()(fam in family(), base in any::<[u8; 16]>(), noise in any::<[u8; 16]>(),
                   keep in any::<u8>(), plen in any::<u8>()) -> (Family, Addr, Addr, u8) {
        let max = u16::from(fam.max_prefix()) + 1;
        let base = addr_of(fam, base);
        let daddr = splice(fam, &base, &addr_of(fam, noise), usize::from(u16::from(keep) % max));
        (fam, base, daddr, (u16::from(plen) % max) as u8)
    }
}

prop_compose! {
    fn selector_case()(dest in dest_case(), sp in port_case(), dp in port_case(),
                       protos in (proto(), proto()), ifs in (ifindex(), ifindex()),
                       plen_s in any::<u8>()) -> (DestSelector, Flow) {
        let (_, base, daddr, prefixlen_d) = dest;
        let sel = DestSelector {
            daddr: base,
            dport: dp.0.to_be(),
            dport_mask: dp.1.to_be(),
            sport: sp.0.to_be(),
            sport_mask: sp.1.to_be(),
            ifindex: ifs.0,
            prefixlen_d,
            prefixlen_s: plen_s,
            proto: protos.0,
        };
        // Half the flows take the selector's protocol and interface.
        let proto = if protos.1 % 2 == 0 { protos.0 } else { protos.1 };
        let oif = if ifs.1 % 2 == 0 { ifs.0 } else { ifs.1 };
        (sel, Flow { saddr: Addr::default(), daddr, proto, sport: sp.2.to_be(), dport: dp.2.to_be(), oif })
    }
}

// ---------------------------------------------------------------------------
// Mapping tables.

/// NAT addresses, few so that mappings share them.  The IPv6 pool has
/// one with the bytes of an IPv4 one (0a14:1e02::), which must not be
/// taken for it.
fn nat_pool(family: Family, i: usize) -> Addr {
    match family {
        Family::V4 => [Addr::v4([10, 20, 30, 2]), Addr::v4([10, 20, 30, 3]), Addr::v4([192, 168, 1, 1])][i % 3],
        Family::V6 if i % 3 == 2 => Addr::v4([10, 20, 30, 2]),
        Family::V6 => {
            let mut a = [0u8; 16];
            a[0] = 0xfd;
            a[15] = 2 + (i % 3) as u8;
            Addr(a)
        }
    }
}

/// Sources of flows and source prefixes of 1:1 mappings, few so that they
/// overlap (with the NAT pool too).
fn src_pool(family: Family, i: usize) -> Addr {
    match family {
        Family::V4 => [Addr::v4([192, 168, 1, 0]), Addr::v4([192, 168, 0, 0]), Addr::v4([10, 20, 30, 0])][i % 3],
        Family::V6 => {
            let mut a = [0u8; 16];
            a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, (i % 3) as u8]);
            Addr(a)
        }
    }
}

/// Prefix lengths of 1:1 mappings, a single host among them.
fn map_len(family: Family, pick: u8) -> u8 {
    match family {
        Family::V4 => [16, 24, 30, 32][usize::from(pick % 4)],
        Family::V6 => [48, 64, 120, 128][usize::from(pick % 4)],
    }
}

/// Destination prefixes of policies, few so that they overlap (across
/// families too: 0a00:: has the bytes of 10.0.0.0).
fn dest_pool(family: Family, i: usize) -> Addr {
    match family {
        Family::V4 => [Addr::v4([10, 0, 0, 0]), Addr::v4([10, 1, 0, 0]), Addr::v4([172, 16, 0, 0])][i % 3],
        Family::V6 if i % 3 == 2 => Addr::v4([10, 0, 0, 0]),
        Family::V6 => {
            let mut a = [0u8; 16];
            a[0] = 0xfd;
            a[3] = 0x10;
            a[5] = (i % 2) as u8;
            Addr(a)
        }
    }
}

/// Prefix lengths: the usual ones and any valid one.
fn prefix_len(family: Family, pick: u8, any: u8) -> u8 {
    let max = family.max_prefix();
    match (family, pick % 6) {
        (_, 0) => 0,
        (_, 1) => max,
        (Family::V4, 2) => 8,
        (Family::V4, 3) => 16,
        (Family::V4, 4) => 24,
        (Family::V6, 2) => 32,
        (Family::V6, 3) => 48,
        (Family::V6, 4) => 64,
        _ => (u16::from(any) % (u16::from(max) + 1)) as u8,
    }
}

/// Policy indexes: mostly out policies from a small pool, so that spid
/// keys name them; sometimes other directions, or anything.
const POLICY_SLOTS: u32 = 24;

fn policy_index() -> impl Strategy<Value = u32> {
    prop_oneof![8 => (0..POLICY_SLOTS).prop_map(|i| 8 * i + 1), 1 => 0..8 * POLICY_SLOTS, 1 => any::<u32>()]
}

/// Reqids: a small pool, 0 (a template for any SA), or anything.
fn reqid_value() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 1u32..5, 1 => Just(0u32), 1 => any::<u32>()]
}

prop_compose! {
    /// The destination half of a policy's selector, and its priority.
    fn policy_dest(fam: Family)(pool in any::<Index>(), noise in any::<[u8; 16]>(), plen in (any::<u8>(), any::<u8>()),
                                sp in (port(), port_mask()), dp in (port(), port_mask()), proto in proto(),
                                ifindex in prop_oneof![Just(0i32), 1..3i32],
                                priority in prop_oneof![0u32..4, Just(u32::MAX), any::<u32>()]) -> (DestSelector, u32) {
        let prefixlen_d = prefix_len(fam, plen.0, plen.1);
        // The policy's destination, with random bits after its prefix.
        let daddr = splice(fam, &dest_pool(fam, pool.index(64)), &addr_of(fam, noise), usize::from(prefixlen_d));
        let selector = DestSelector {
            daddr,
            dport: dp.0.to_be(),
            dport_mask: dp.1.to_be(),
            sport: sp.0.to_be(),
            sport_mask: sp.1.to_be(),
            ifindex,
            prefixlen_d,
            prefixlen_s: 0,
            proto,
        };
        (selector, priority)
    }
}

/// An SPD policy: its source prefix mostly around the NAT pool (so that it
/// often admits the mappings' addresses or prefixes, of any length), its
/// prefix lengths rarely impossible, up to four templates.
fn seen_policy_any() -> impl Strategy<Value = SeenPolicy> {
    family().prop_flat_map(|fam| {
        (
            Just(fam),
            policy_dest(fam),
            policy_index(),
            (any::<Index>(), any::<[u8; 16]>(), any::<(u8, u8)>(), proptest::bool::weighted(0.03)),
            vec(reqid_value(), 0..=4),
        )
            .prop_map(|(family, (dest, priority), index, (pool, noise, plen, bad_len), reqids)| {
                let plen_s = if bad_len { family.max_prefix() + 1 + plen.1 % 8 } else { prefix_len(family, plen.0, plen.1) };
                let base = if pool.index(4) == 3 { src_pool(family, pool.index(3)) } else { nat_pool(family, pool.index(3)) };
                let saddr = splice(family, &base, &addr_of(family, noise), usize::from(plen_s));
                let dest = DestSelector { prefixlen_s: plen_s, ..dest };
                SeenPolicy { index, family, selector: Selector { saddr, dest }, priority, reqids: Reqids::new(reqids) }
            })
    })
}

/// Policies with distinct indexes, in random order.
fn policies(max: usize) -> impl Strategy<Value = Vec<SeenPolicy>> {
    vec(seen_policy_any(), 0..max).prop_map(|ps| {
        let mut used = BTreeSet::new();
        ps.into_iter().filter(|p| used.insert(p.index)).collect::<Vec<_>>()
    })
}

fn pending_mode() -> impl Strategy<Value = PendingMode> {
    prop_oneof![Just(PendingMode::Eagain), Just(PendingMode::Drop), Just(PendingMode::Hold)]
}

/// A key: a spid (mostly of the policy pool) or a reqid (mostly of the
/// reqid pool).
fn map_key() -> impl Strategy<Value = MapKey> {
    prop_oneof![policy_index().prop_map(MapKey::Spid), reqid_value().prop_map(MapKey::Reqid)]
}

/// A mapping without its key: family, NAT address, and for a 1:1 mapping
/// the length and source prefix.
#[derive(Clone, Copy, Debug)]
struct MappingSpec {
    family: Family,
    nat: usize,
    prefix: Option<(u8, usize)>,
    pending: PendingMode,
}

fn mapping_spec() -> impl Strategy<Value = MappingSpec> {
    (family(), any::<Index>(), proptest::option::weighted(0.4, (any::<u8>(), any::<Index>())), pending_mode()).prop_map(
        |(family, nat, prefix, pending)| MappingSpec { family, nat: nat.index(64), prefix: prefix.map(|(l, s)| (l, s.index(64))), pending },
    )
}

/// The mapping of a spec; stats are the key's cursor, to see which mapping
/// a snapshot gave.
fn make_mapping(key: MapKey, s: MappingSpec) -> Mapping<u64> {
    let (nat_len, from) = match s.prefix {
        None => (s.family.max_prefix(), None),
        Some((pick, src)) => {
            let len = map_len(s.family, pick);
            (len, Some(src_pool(s.family, src).masked(len)))
        }
    };
    let nat = nat_pool(s.family, s.nat).masked(nat_len);
    // Every other prefix mapping admits inbound flows too: they change
    // nothing the outbound properties look at.
    let inbound = from.is_some() && s.nat % 2 == 1;
    Mapping { key, family: s.family, nat, nat_len, from, pending: s.pending, inbound, remote: None, name: None, stats: key.cursor() }
}

/// A key not in `used`, near `k`.
fn fresh_key(used: &mut BTreeSet<MapKey>, mut k: MapKey) -> MapKey {
    while !used.insert(k) {
        k = match k {
            MapKey::Spid(v) => MapKey::Spid(v.wrapping_add(8)),
            MapKey::Reqid(v) => MapKey::Reqid(v.wrapping_add(1)),
        };
    }
    k
}

/// Mappings with distinct keys, in random order.
fn mappings(max: usize) -> impl Strategy<Value = Vec<Mapping<u64>>> {
    vec((mapping_spec(), map_key()), 0..max)
        .prop_map(|specs| {
            let mut used = BTreeSet::new();
            specs.into_iter().map(|(spec, key)| make_mapping(fresh_key(&mut used, key), spec)).collect::<Vec<_>>()
        })
        .prop_shuffle()
}

/// What a flow is made from: a family, a source, a destination near one of
/// the pool prefixes, a protocol, ports and an interface; or, with `hit`,
/// a flow that the `target`th binding's policy selects, half the time from
/// its mapping's source prefix.
#[derive(Clone, Debug)]
struct FlowSeed {
    family: Family,
    target: Index,
    hit: bool,
    pool: Index,
    noise: [u8; 16],
    keep: u8,
    src: Index,
    src_noise: [u8; 16],
    src_keep: u8,
    src_hit: bool,
    proto: u8,
    ports: (u16, u16),
    oif: i32,
}

prop_compose! {
    fn flow_seed()(family in family(), target in any::<Index>(), hit in any::<bool>(), pool in any::<Index>(),
                   noise in any::<[u8; 16]>(), keep in any::<u8>(),
                   src in any::<(Index, [u8; 16], u8, bool)>(), proto in proto(),
                   ports in (port(), port()), oif in 0..4i32) -> FlowSeed {
        let (src, src_noise, src_keep, src_hit) = src;
        FlowSeed { family, target, hit, pool, noise, keep, src, src_noise, src_keep, src_hit, proto, ports, oif }
    }
}

/// What the reference says a mapping binds: its bindings (policy index and
/// what the mapping keeps of it), in index order, or why it has none.
#[derive(Clone, Debug, PartialEq)]
struct RefEntry {
    bindings: Vec<(u32, PolicyInfo)>,
    inactive: Option<Inactive>,
}

/// Whether a policy can carry a mapping's flows, from the documentation:
/// same family, possible prefix lengths, and a source prefix that contains
/// the whole translated prefix (the address, for a single address).
fn ref_fit(p: &SeenPolicy, family: Family, nat: &Addr, nat_len: u8) -> Result<PolicyInfo, Unfit> {
    if p.family != family {
        return Err(Unfit::FamilyMismatch { index: p.index, policy: p.family, mapping: family });
    }
    let d = p.selector.dest;
    let max = family.max_prefix();
    if d.prefixlen_d > max || d.prefixlen_s > max || d.prefixlen_s > nat_len || !ref_in_prefix(nat, &p.selector.saddr, d.prefixlen_s) {
        return Err(Unfit::SourceNotSelected {
            index: p.index,
            family,
            nat: *nat,
            nat_len,
            saddr: p.selector.saddr,
            prefixlen_s: d.prefixlen_s,
        });
    }
    Ok(PolicyInfo { selector: d, priority: p.priority })
}

/// The bindings of `m`: the out policies its key names (a spid: the
/// policy of that index; a reqid: those with a template of it, skipping
/// the other family's) that can carry its flows.  With none, the reason
/// of the lowest index named, or that none is.
fn ref_entry(m: &Mapping<u64>, ps: &[SeenPolicy]) -> RefEntry {
    let mut named: Vec<&SeenPolicy> = ps
        .iter()
        .filter(|p| p.index % 8 == 1)
        .filter(|p| match m.key {
            MapKey::Spid(s) => p.index == s,
            MapKey::Reqid(r) => p.family == m.family && p.reqids.as_slice().contains(&r),
        })
        .collect();
    named.sort_by_key(|p| p.index);
    let bindings: Vec<_> = named.iter().filter_map(|p| ref_fit(p, m.family, &m.nat, m.nat_len).ok().map(|i| (p.index, i))).collect();
    let inactive = match named.first() {
        _ if !bindings.is_empty() => None,
        None => Some(Inactive::NoPolicy(m.key, m.family)),
        Some(p) => Some(Inactive::Unfit(ref_fit(p, m.family, &m.nat, m.nat_len).unwrap_err())),
    };
    RefEntry { bindings, inactive }
}

fn ref_admits(m: &Mapping<u64>, saddr: &Addr) -> bool {
    m.from.is_none_or(|f| ref_in_prefix(saddr, &f, m.nat_len))
}

/// The address `m` gives a flow from `saddr`.
fn ref_translate(m: &Mapping<u64>, saddr: &Addr) -> Addr {
    match m.from {
        None => m.nat,
        Some(_) => splice(m.family, &m.nat, saddr, usize::from(m.nat_len)),
    }
}

/// The mappings with their reference entries, in key order.
struct Model<'a> {
    ms: Vec<(&'a Mapping<u64>, RefEntry)>,
}

impl<'a> Model<'a> {
    fn new(ms: &'a [Mapping<u64>], ps: &[SeenPolicy]) -> Self {
        let mut ms: Vec<_> = ms.iter().map(|m| (m, ref_entry(m, ps))).collect();
        ms.sort_by_key(|(m, _)| m.key);
        Self { ms }
    }

    /// Every binding: its mapping, policy index and policy.
    fn bindings(&self) -> impl Iterator<Item = (&'a Mapping<u64>, u32, PolicyInfo)> + '_ {
        self.ms.iter().flat_map(|(m, e)| e.bindings.iter().map(move |&(i, p)| (*m, i, p)))
    }

    /// The documented choice: among the bindings whose policy selects the
    /// flow and whose mapping admits its source, the lowest policy
    /// priority, then the longest destination prefix, then the lowest key
    /// (spid keys first), then the lowest policy index.
    fn lookup(&self, family: Family, flow: &Flow) -> Option<&'a Mapping<u64>> {
        self.bindings()
            .filter(|(m, _, p)| m.family == family && ref_matches(&p.selector, flow) && ref_admits(m, &flow.saddr))
            .min_by_key(|&(m, i, p)| (p.priority, Reverse(p.selector.prefixlen_d), m.key, i))
            .map(|(m, _, _)| m)
    }

    /// Among the mappings whose address or prefix contains `nat`, the
    /// lowest key that admits the flow's source and binds a policy that
    /// selects it; else the lowest that admits its source; else the lowest.
    fn by_nat(&self, family: Family, nat: &Addr, flow: &Flow) -> Option<MapKey> {
        let same: Vec<_> = self.ms.iter().filter(|(m, _)| m.family == family && ref_in_prefix(nat, &m.nat, m.nat_len)).collect();
        let admits = |m: &Mapping<u64>| ref_admits(m, &flow.saddr);
        same.iter()
            .find(|(m, e)| admits(m) && e.bindings.iter().any(|(_, p)| ref_matches(&p.selector, flow)))
            .or_else(|| same.iter().find(|(m, _)| admits(m)))
            .or_else(|| same.first())
            .map(|(m, _)| m.key)
    }
}

/// The family and flow of a seed, given the model's bindings.
fn make_flow(seed: &FlowSeed, model: &Model<'_>) -> (Family, Flow) {
    let bindings: Vec<_> = model.bindings().collect();
    let source = |fam: Family| splice(fam, &src_pool(fam, seed.src.index(64)), &addr_of(fam, seed.src_noise), usize::from(seed.src_keep));
    if seed.hit && !bindings.is_empty() {
        let (m, _, p) = bindings[seed.target.index(bindings.len())];
        let s = p.selector;
        let noise = addr_of(m.family, seed.noise);
        let daddr = splice(m.family, &s.daddr, &noise, usize::from(s.prefixlen_d));
        // The selector's bits under the mask, the seed's elsewhere.
        let pick = |sel: u16, mask: u16, other: u16| (sel & mask) | (other.to_be() & !mask);
        let proto = if s.proto == 0 { seed.proto } else { s.proto };
        let oif = if s.ifindex == 0 { seed.oif } else { s.ifindex };
        let saddr = match m.from {
            Some(f) if seed.src_hit => splice(m.family, &f, &addr_of(m.family, seed.src_noise), usize::from(m.nat_len)),
            _ => source(m.family),
        };
        let flow = Flow {
            saddr,
            daddr,
            proto,
            sport: pick(s.sport, s.sport_mask, seed.ports.0),
            dport: pick(s.dport, s.dport_mask, seed.ports.1),
            oif,
        };
        assert!(ref_matches(&s, &flow), "a hit flow is selected");
        return (m.family, flow);
    }
    let fam = seed.family;
    let keep = usize::from(seed.keep) % (usize::from(fam.max_prefix()) + 1);
    let daddr = splice(fam, &dest_pool(fam, seed.pool.index(64)), &addr_of(fam, seed.noise), keep);
    (fam, Flow { saddr: source(fam), daddr, proto: seed.proto, sport: seed.ports.0.to_be(), dport: seed.ports.1.to_be(), oif: seed.oif })
}

type MappingFields = (MapKey, Family, Addr, u8, Option<Addr>, PendingMode, u64);

/// Everything a mapping holds, comparable.
fn fields(m: &Mapping<u64>) -> MappingFields {
    (m.key, m.family, m.nat, m.nat_len, m.from, m.pending, m.stats)
}

fn all_fields<'a>(ms: impl IntoIterator<Item = &'a Mapping<u64>>) -> Vec<MappingFields> {
    ms.into_iter().map(fields).collect()
}

/// What an entry of the table says of its bindings, comparable with the
/// reference.
fn entry_of(e: &Entry<'_, u64>) -> RefEntry {
    RefEntry { bindings: e.bindings.iter().map(|b| (b.index, b.policy)).collect(), inactive: e.inactive }
}

/// Checks every query of `t` against linear scans over `ms` and `ps`.
fn check_table(t: &Table<u64>, ms: &[Mapping<u64>], ps: &[SeenPolicy], seeds: &[FlowSeed], probes: &[MapKey]) -> Result<(), TestCaseError> {
    let model = Model::new(ms, ps);
    prop_assert_eq!(t.len(), ms.len());
    prop_assert_eq!(t.is_empty(), ms.is_empty());
    prop_assert_eq!(all_fields(t.mappings()), all_fields(model.ms.iter().map(|(m, _)| *m)));
    for (e, (m, want)) in t.entries().zip(&model.ms) {
        prop_assert_eq!(fields(e.mapping), fields(m));
        prop_assert_eq!(&entry_of(&e), want, "entry of {}", m.key);
        prop_assert_eq!(e.is_active(), !want.bindings.is_empty());
        prop_assert!(e.same_binding(&e));
    }

    let next = |k: MapKey| MapKey::from_cursor(k.cursor() + 1).unwrap_or(k);
    let keys = ms.iter().map(|m| m.key).chain(probes.iter().copied()).chain(ms.iter().map(|m| next(m.key)));
    for k in keys {
        let want = model.ms.iter().find(|(m, _)| m.key == k);
        prop_assert_eq!(t.get(k).map(|e| (fields(e.mapping), entry_of(&e))), want.map(|(m, e)| (fields(m), e.clone())), "get({})", k);
        let from: Vec<_> = model.ms.iter().filter(|(m, _)| m.key >= k).map(|(m, _)| fields(m)).collect();
        prop_assert_eq!(all_fields(t.entries_from(k).map(|e| e.mapping)), from, "entries_from({})", k);
        prop_assert_eq!(MapKey::from_cursor(k.cursor()), Some(k));
    }

    // Policies bound: every binding's index, ascending, repeated once per
    // mapping that binds it.
    let mut bound: Vec<u32> = model.bindings().map(|(_, i, _)| i).collect();
    bound.sort_unstable();
    prop_assert_eq!(t.bound_policies().collect::<Vec<_>>(), bound.clone());
    for i in ps.iter().map(|p| p.index).chain(bound.iter().map(|i| i.wrapping_add(8))) {
        prop_assert_eq!(t.binds_policy(i), bound.contains(&i), "binds_policy({})", i);
    }

    for seed in seeds {
        let (fam, flow) = make_flow(seed, &model);
        let got = t.lookup(fam, &flow);
        let want = model.lookup(fam, &flow);
        prop_assert_eq!(got.map(|m| m.key), want.map(|m| m.key), "lookup({:?}, {:?})", fam, flow);
        if let Some(m) = got {
            prop_assert_eq!(m.translate(&flow.saddr), ref_translate(m, &flow.saddr));
        }
        let mut nats: Vec<(Family, Addr)> = Vec::new();
        for f in [Family::V4, Family::V6] {
            for i in 0..3 {
                nats.push((f, nat_pool(f, i)));
                let mut off = nat_pool(f, i);
                off.0[f.addr_len() - 1] ^= 0x81;
                nats.push((f, off));
            }
        }
        // Where each mapping would translate the flow.
        nats.extend(ms.iter().map(|m| (m.family, ref_translate(m, &flow.saddr))));
        for (f, nat) in nats {
            prop_assert_eq!(t.by_nat_addr(f, &nat, &flow).map(|m| m.key), model.by_nat(f, &nat, &flow), "by_nat_addr({:?}, {:?})", f, nat);
            let any = ms.iter().any(|m| m.family == f && ref_in_prefix(&nat, &m.nat, m.nat_len));
            prop_assert_eq!(t.has_nat_addr(f, &nat), any, "has_nat_addr({:?}, {:?})", f, nat);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Request validation.

/// The documented values (Documentation/xfrm_nat.rst, the uapi), written
/// out rather than taken from the crate.
const DOC_DEFAULT_PACKETS: u32 = 100;
const DOC_MAX_PACKETS: u32 = 10_000;
const DOC_DEFAULT_BYTES: u32 = 262_144;
const DOC_MAX_BYTES: u32 = 16_777_216;
const DOC_MAX_MAPPINGS: usize = 65_536;
/// The most the hold queues of a namespace can reserve: every mapping in
/// hold mode with the largest queue.
const DOC_MAX_HELD: u64 = DOC_MAX_MAPPINGS as u64 * (DOC_MAX_BYTES as u64 + 32 * DOC_MAX_PACKETS as u64);
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;

fn limit_value(default: u32, max: u32) -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        Just(Some(1)),
        Just(Some(default)),
        Just(Some(max)),
        Just(Some(max + 1)),
        (1..=max).prop_map(Some),
        any::<u32>().prop_map(Some),
    ]
}

fn spid() -> impl Strategy<Value = u32> {
    prop_oneof![(0u32..64).prop_map(|i| 8 * i + 1), 0u32..512, Just(u32::MAX), any::<u32>()]
}

/// A prefix length attribute: absent, the full lengths, usual ones, or any.
fn wire_len() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![3 => Just(None), 4 => prop_oneof![Just(32u8), Just(128), Just(24), Just(64), 0u8..=130, any::<u8>()].prop_map(Some)]
}

prop_compose! {
    /// An address attribute; most of the time its host bits after `len`
    /// (if any) are clear.
    fn wire_addr(len: Option<u8>)(n in prop_oneof![4 => Just(4usize), 4 => Just(16), 1 => 0usize..=20], raw in any::<[u8; 20]>(),
                                  clear in proptest::bool::weighted(0.8)) -> Vec<u8> {
        let mut v = raw[..n].to_vec();
        if let (true, Some(len), 4 | 16) = (clear, len, n) {
            let (_, a) = Addr::from_wire(&v).unwrap();
            v.copy_from_slice(&a.masked(len).0[..n]);
        }
        v
    }
}

/// The map-new attributes a request may carry.
#[derive(Clone, Debug)]
struct Attrs {
    spid: Option<u32>,
    reqid: Option<u32>,
    addr: Option<Vec<u8>>,
    prefix_len: Option<u8>,
    from: Option<Vec<u8>>,
    from_prefix_len: Option<u8>,
    pending: Option<u8>,
    hold_packets: Option<u32>,
    hold_bytes: Option<u32>,
    inbound: bool,
}

impl Attrs {
    fn wire(&self) -> MapAttrs<'_> {
        MapAttrs {
            spid: self.spid,
            reqid: self.reqid,
            addr: self.addr.as_deref(),
            prefix_len: self.prefix_len,
            from: self.from.as_deref(),
            from_prefix_len: self.from_prefix_len,
            pending: self.pending,
            hold_packets: self.hold_packets,
            hold_bytes: self.hold_bytes,
            inbound: self.inbound,
            remote: None,
            remote_alias: None,
            remote_prefix_len: None,
            zone: None,
            name: None,
        }
    }
}

/// Keys: mostly one of spid and reqid, sometimes both or neither.
fn wire_keys() -> impl Strategy<Value = (Option<u32>, Option<u32>)> {
    prop_oneof![
        6 => spid().prop_map(|s| (Some(s), None)),
        6 => reqid_value().prop_map(|r| (None, Some(r))),
        1 => (spid(), reqid_value()).prop_map(|(s, r)| (Some(s), Some(r))),
        1 => Just((None, None)),
    ]
}

fn map_attrs() -> impl Strategy<Value = Attrs> {
    // From: 0 none; 1 with the prefix's length; 2 with any length; 3 only
    // one of from and its length.
    (wire_keys(), wire_len(), 0u8..4, proptest::bool::weighted(0.9)).prop_flat_map(|(keys, prefix_len, from_mode, with_addr)| {
        let from_len = match from_mode {
            0 => Just(None).boxed(),
            1 => Just(prefix_len).boxed(),
            _ => wire_len().boxed(),
        };
        (
            Just((keys, prefix_len, from_mode)),
            if with_addr { wire_addr(prefix_len).prop_map(Some).boxed() } else { Just(None).boxed() },
            from_len.prop_flat_map(|fl| (Just(fl), wire_addr(fl), any::<bool>())),
            prop_oneof![
                2 => Just(None),
                1 => Just(Some(pending_mode::EAGAIN)),
                1 => Just(Some(pending_mode::DROP)),
                4 => Just(Some(pending_mode::HOLD)),
                1 => any::<u8>().prop_map(Some),
            ],
            limit_value(DOC_DEFAULT_PACKETS, DOC_MAX_PACKETS),
            limit_value(DOC_DEFAULT_BYTES, DOC_MAX_BYTES),
            any::<bool>(),
        )
            .prop_map(|(((spid, reqid), prefix_len, from_mode), addr, (fl, from_bytes, which), pending, hold_packets, hold_bytes, inbound)| {
                let (from, from_prefix_len) = match from_mode {
                    0 => (None, None),
                    3 if which => (Some(from_bytes), None),
                    3 => (None, fl.or(Some(24))),
                    _ => (Some(from_bytes), fl),
                };
                Attrs { spid, reqid, addr, prefix_len, from, from_prefix_len, pending, hold_packets, hold_bytes, inbound }
            })
    })
}

/// Attributes of a valid request, half the time with one thing wrong:
/// most requests of `map_attrs` are refused for several reasons at once,
/// these test one reason at a time and acceptance.
fn coherent_attrs() -> impl Strategy<Value = Attrs> {
    (
        prop_oneof![(0u32..64).prop_map(|i| (Some(8 * i + 1), None)), (1..=u32::MAX).prop_map(|r| (None, Some(r)))],
        family(),
        any::<([u8; 16], [u8; 16])>(),
        proptest::option::weighted(0.7, any::<u8>()),
        prop_oneof![Just((None, None, None)), Just((Some(pending_mode::DROP), None, None)), (1..=DOC_MAX_PACKETS, 1..=DOC_MAX_BYTES).prop_map(|(p, b)| (Some(pending_mode::HOLD), Some(p), Some(b)))],
        0u8..12,
        any::<(u8, usize)>(),
    )
        .prop_map(|(keys, family, (raw, from_raw), len, (pending, hold_packets, hold_bytes), wrong, (n, at))| {
            let max = family.max_prefix();
            let len = len.map(|l| (u16::from(l) % (u16::from(max) + 1)) as u8);
            let full = len.unwrap_or(max);
            let addr = addr_of(family, raw).masked(full);
            let from = addr_of(family, from_raw).masked(full);
            let bytes = |a: &Addr| a.bytes(family).to_vec();
            let mut a = Attrs {
                spid: keys.0,
                reqid: keys.1,
                addr: Some(bytes(&addr)),
                prefix_len: len,
                from: len.map(|_| bytes(&from)),
                from_prefix_len: len,
                pending,
                hold_packets,
                hold_bytes,
                inbound: n % 3 == 0,
            };
            let bit = |v: &mut Vec<u8>, b: usize| v[b / 8] ^= 0x80 >> (b % 8);
            let host_bit = full < max;
            match wrong {
                0 if host_bit => bit(a.addr.as_mut().unwrap(), usize::from(full) + at % usize::from(max - full)),
                1 if host_bit => bit(a.from.as_mut().unwrap(), usize::from(full) + at % usize::from(max - full)),
                2 => a.from_prefix_len = Some(n),
                3 => a.prefix_len = Some(n),
                4 => a.from = None,
                5 => a.from_prefix_len = None,
                6 => {
                    // From of the other family, or a single-host 1:1.
                    a.from = Some(if n % 2 == 0 { vec![192, 168, 1, 0] } else { bytes(&from) });
                    a.from_prefix_len = a.from_prefix_len.or(Some(max));
                }
                7 => a.reqid = Some(if n % 2 == 0 { 0 } else { 7 }),
                8 => a.from.as_mut().map_or((), |f| f.truncate(at % 16)),
                _ => {}
            }
            a
        })
}

/// The refusals that apply to an address attribute with a prefix length
/// (the family's full length if absent), or its family, address and
/// length.
fn ref_prefix(bytes: &[u8], len: Option<u8>) -> Result<(Family, Addr, u8), Vec<Refusal>> {
    let family = match bytes.len() {
        4 => Family::V4,
        16 => Family::V6,
        n => return Err(vec![Refusal::AddressLength(n)]),
    };
    let addr = addr_of(family, {
        let mut raw = [0; 16];
        raw[..bytes.len()].copy_from_slice(bytes);
        raw
    });
    let len = len.unwrap_or(family.max_prefix());
    if len > family.max_prefix() {
        return Err(vec![Refusal::PrefixLen { family, len }]);
    }
    if ref_masked(&addr, len) != addr {
        return Err(vec![Refusal::HostBits { family, addr, len }]);
    }
    Ok((family, addr, len))
}

/// A valid map-new request.
fn map_request() -> impl Strategy<Value = MapRequest> {
    (
        prop_oneof![(0u32..1 << 29).prop_map(|i| MapKey::Spid(8 * i + 1)), (1..=u32::MAX).prop_map(MapKey::Reqid)],
        family(),
        any::<[u8; 16]>(),
        proptest::option::of((any::<u8>(), any::<[u8; 16]>())),
        pending_mode(),
        1..=DOC_MAX_PACKETS,
        prop_oneof![Just(DOC_MAX_BYTES), 1..=DOC_MAX_BYTES],
    )
        .prop_map(|(key, family, raw, prefix, pending, packets, bytes)| {
            let (nat_len, from) = match prefix {
                None => (family.max_prefix(), None),
                Some((len, from)) => {
                    let len = (u16::from(len) % (u16::from(family.max_prefix()) + 1)) as u8;
                    (len, Some(addr_of(family, from).masked(len)))
                }
            };
            MapRequest {
                key,
                family,
                nat: addr_of(family, raw).masked(nat_len),
                nat_len,
                from,
                pending,
                hold: if pending == PendingMode::Hold { HoldLimits { packets, bytes } } else { HoldLimits::DEFAULT },
                inbound: from.is_some() && raw[15] % 2 == 1,
                remote: None,
                name: None,
            }
        })
}

prop_compose! {
    /// A policy for `req`: its family often the request's, its source
    /// prefix often containing the address or prefix, its prefix lengths
    /// sometimes out of range.
    fn seen_policy(req: MapRequest)(same_family in proptest::bool::weighted(0.8),
                                    other in family(), noise in any::<[u8; 16]>(),
                                    plens in (prop_oneof![0u8..=128, any::<u8>()], prop_oneof![0u8..=128, any::<u8>()]),
                                    keep in any::<u8>(), contains in any::<bool>(),
                                    dest in selector_case(), priority in any::<u32>(),
                                    index in policy_index(), reqids in vec(reqid_value(), 0..=6)) -> SeenPolicy {
        let family = if same_family { req.family } else { other };
        let max = u16::from(family.max_prefix());
        let (mut plen_s, mut plen_d) = plens;
        if keep % 4 != 0 {
            // Mostly valid lengths, often not longer than the request's.
            plen_s = (u16::from(plen_s) % (max + 1)) as u8;
            plen_d = (u16::from(plen_d) % (max + 1)) as u8;
            if keep % 4 != 1 {
                plen_s = plen_s.min(req.nat_len);
            }
        }
        let noise = addr_of(family, noise);
        let saddr = if contains { splice(family, &req.nat, &noise, usize::from(plen_s)) } else { splice(family, &req.nat, &noise, usize::from(keep)) };
        let dest = DestSelector { prefixlen_s: plen_s, prefixlen_d: plen_d, ..dest.0 };
        SeenPolicy { index, family, selector: Selector { saddr, dest }, priority, reqids: Reqids::new(reqids) }
    }
}

/// The text as the kernel sends it (80 bytes at most), and whole.
fn texts(r: &Refusal) -> (String, String) {
    let mut b = FixedBuf::<80>::new();
    write!(b, "{r}").unwrap();
    (b.as_str().to_string(), r.to_string())
}

// ---------------------------------------------------------------------------
// The hold queue.

#[derive(Clone, Debug)]
enum HoldOp {
    /// A packet of `bytes` arrives; its deadline is now plus the lifetime.
    Push(u32),
    /// The clock advances.
    Tick(u64),
    /// The worker drops the packets whose deadline passed.
    ExpireAll,
    /// One call of `expire`.
    ExpireOne,
    /// The worker takes the oldest packet to release it (if it has none in
    /// hand).
    Pop,
    /// The packet in hand was released.
    Released,
    /// The packet in hand was dropped on release.
    Failed,
    /// The packet in hand goes back to the head.
    PutBack,
}

fn hold_op() -> impl Strategy<Value = HoldOp> {
    prop_oneof![
        6 => prop_oneof![Just(1u32), Just(10), Just(50), Just(100), 1u32..=1600].prop_map(HoldOp::Push),
        1 => (0u64..50).prop_map(HoldOp::Tick),
        1 => Just(HoldOp::ExpireAll),
        1 => Just(HoldOp::ExpireOne),
        3 => Just(HoldOp::Pop),
        1 => Just(HoldOp::Released),
        1 => Just(HoldOp::Failed),
        2 => Just(HoldOp::PutBack),
    ]
}

/// A packet: its number, and a token that counts live packets.
type Pkt = (u32, Rc<()>);

/// The model: a FIFO of (packet, bytes, deadline) with the same bounds.
struct HoldModel {
    limits: HoldLimits,
    q: VecDeque<(u32, u32, u64)>,
    counters: HoldCounters,
}

impl HoldModel {
    fn bytes(&self) -> u64 {
        self.q.iter().map(|&(_, b, _)| u64::from(b)).sum()
    }

    fn fits(&self, bytes: u32) -> bool {
        self.q.len() < self.limits.packets as usize && self.bytes() + u64::from(bytes) <= u64::from(self.limits.bytes)
    }
}

// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// `masked`, `in_prefix` and `splice` keep/compare exactly the first
    /// `len` bits.
    #[test]
    fn prefixes_are_leading_bits(a in any::<[u8; 16]>(), b in any::<[u8; 16]>(), keep in 0usize..=128, len in any::<u8>()) {
        let a = Addr(a);
        let b = splice(Family::V6, &a, &Addr(b), keep);
        prop_assert_eq!(a.masked(len), ref_masked(&a, len));
        prop_assert_eq!(b.in_prefix(&a, len), ref_in_prefix(&b, &a, len));
        let mut spliced = b;
        for i in 0..usize::from(len).min(128) {
            if bit(&a, i) != bit(&spliced, i) {
                spliced.0[i / 8] ^= 0x80 >> (i % 8);
            }
        }
        prop_assert_eq!(a.splice(len, &b), spliced);
    }

    /// `DestSelector::matches_flow` is the reference matcher.
    #[test]
    fn selector_matches_like_reference((sel, flow) in selector_case()) {
        prop_assert_eq!(sel.matches_flow(&flow), ref_matches(&sel, &flow));
    }

    /// A mask of leading ones selects the aligned port range around the
    /// selector's port; a zero mask any port; a full mask the port alone.
    #[test]
    fn port_masks_select_ranges(sel_port in port(), k in 0u32..=16, flow_port in port(), near in 0u16..64, below in any::<bool>()) {
        let mask = (0xffff_u32 << k) as u16;
        let lo = sel_port & mask;
        let hi = u32::from(lo) + (1 << k) - 1;
        // Also ports just around the range.
        let edge = if below { lo.wrapping_sub(near) } else { (hi as u16).wrapping_add(near) };
        for p in [flow_port, edge] {
            let s = DestSelector { dport: sel_port.to_be(), dport_mask: mask.to_be(), ..DestSelector::default() };
            let f = Flow { dport: p.to_be(), ..Flow::default() };
            let in_range = u32::from(p) >= u32::from(lo) && u32::from(p) <= hi;
            prop_assert_eq!(s.matches_flow(&f), in_range, "port {} mask {:#06x}", p, mask);
            let s = DestSelector { sport: s.dport, sport_mask: s.dport_mask, ..DestSelector::default() };
            let f = Flow { sport: p.to_be(), ..Flow::default() };
            prop_assert_eq!(s.matches_flow(&f), in_range, "sport {} mask {:#06x}", p, mask);
        }
    }

    /// The source half: the NAT address must be in the source prefix; the
    /// prefix lengths must fit the family.
    #[test]
    fn source_and_validity_like_reference((fam, saddr, nat, _) in dest_case(), plen_s in any::<u8>(), plen_d in any::<u8>()) {
        let sel = Selector { saddr, dest: DestSelector { prefixlen_s: plen_s, prefixlen_d: plen_d, ..DestSelector::default() } };
        prop_assert_eq!(sel.admits_source(&nat), ref_in_prefix(&nat, &saddr, plen_s));
        let max = fam.max_prefix();
        prop_assert_eq!(sel.is_valid_for(fam), plen_s <= max && plen_d <= max);
        prop_assert_eq!(sel.dest.dest_prefix(), ref_masked(&sel.dest.daddr, plen_d));
    }

    /// For ICMP and ICMPv6, xfrm selects on type (as source port) and code
    /// (as destination port), in network order; other protocols keep the
    /// tuple's ports.
    #[test]
    fn flow_from_tuple(saddr in any::<[u8; 16]>(), daddr in any::<[u8; 16]>(), proto in proto(), sport in any::<u16>(), dport in any::<u16>(),
                       icmp in any::<(u8, u8)>(), oif in any::<i32>()) {
        let f = Flow::from_tuple(Addr(saddr), Addr(daddr), proto, sport, dport, icmp.0, icmp.1, oif);
        let (s, d) = if proto == 1 || proto == 58 { (u16::from(icmp.0).to_be(), u16::from(icmp.1).to_be()) } else { (sport, dport) };
        prop_assert_eq!(f, Flow { saddr: Addr(saddr), daddr: Addr(daddr), proto, sport: s, dport: d, oif });
    }

    /// Table queries equal linear scans over the mappings and policies.
    #[test]
    fn table_like_linear_scan(ms in mappings(12), ps in policies(16), seeds in vec(flow_seed(), 1..24), probes in vec(map_key(), 0..4)) {
        let t = Table::build(ms.clone(), &ps).unwrap();
        check_table(&t, &ms, &ps, &seeds, &probes)?;
    }

    /// Many mappings and policies with the same few keys, destinations,
    /// priorities and NAT addresses: ties decide.
    #[test]
    fn table_ties_like_linear_scan(ms in mappings(48), ps in policies(40), seeds in vec(flow_seed(), 1..32)) {
        let t = Table::build(ms.clone(), &ps).unwrap();
        check_table(&t, &ms, &ps, &seeds, &[])?;
    }

    /// `edited` passes each mapping, in key order, through the edit; the
    /// table built from the result, against the same policies or against
    /// them re-added under new indexes, answers like a scan over it.
    #[test]
    fn edited_table_like_linear_scan(ms in mappings(16), ps in policies(16), seeds in vec(flow_seed(), 1..16), seed in any::<u32>(),
                                     pick in any::<Index>(), extra in mapping_spec(), extra_key in map_key(), readd in any::<bool>()) {
        let t = Table::build(ms.clone(), &ps).unwrap();
        let op = |m: &Mapping<u64>| (m.key.cursor() as u32).wrapping_mul(0x9e37_79b1) ^ seed;
        let edit = |m: &Mapping<u64>| match op(m) % 4 {
            0 => Some(m.clone()),
            1 => None,
            2 => Some(Mapping { pending: PendingMode::Drop, ..m.clone() }),
            _ => Some(Mapping { nat: nat_pool(m.family, pick.index(3)).masked(m.nat_len), ..m.clone() }),
        };
        let mut seen = Vec::new();
        let mut out = t.edited(|m| { seen.push(m.key); edit(m) }).unwrap();
        let mut sorted = ms.clone();
        sorted.sort_by_key(|m| m.key);
        prop_assert_eq!(&seen, &sorted.iter().map(|m| m.key).collect::<Vec<_>>());
        let want: Vec<_> = sorted.iter().filter_map(edit).collect();
        prop_assert_eq!(all_fields(&out), all_fields(&want));

        // As a writer does: add a mapping for a new key and build, against
        // the SPD as it is now.
        let mut next = want;
        if !next.iter().any(|m| m.key == extra_key) {
            let m = make_mapping(extra_key, extra);
            out.push(m.clone());
            next.push(m);
        }
        let ps2: Vec<_> = if readd {
            // Deleted and re-added: same policies, new indexes.
            ps.iter().rev().map(|p| SeenPolicy { index: p.index.wrapping_add(8 * 1000), ..*p }).collect()
        } else {
            ps.clone()
        };
        let t2 = Table::build(out, &ps2).unwrap();
        check_table(&t2, &next, &ps2, &seeds, &[extra_key])?;
        // The old snapshot is untouched.
        check_table(&t, &ms, &ps, &seeds, &[])?;
    }

    /// `with_one` (map or unmap of one key, without a rebuild) answers
    /// like a scan over the edited mappings, as `build` does, repeatedly:
    /// each table is the next one's base.  The new mapping is bound to the
    /// policies its key names (what a writer's SPD walk for that key
    /// finds); the others keep theirs.
    #[test]
    fn one_mapping_edits_like_linear_scan(ms in mappings(24), ps in policies(24), seeds in vec(flow_seed(), 1..12),
                                          edits in vec((any::<Index>(), map_key(), proptest::option::weighted(0.7, mapping_spec())), 1..6)) {
        let mut t = Table::build(ms.clone(), &ps).unwrap();
        let mut cur = ms.clone();
        for (pick, fresh, spec) in edits {
            // An existing key half the time (replace or unmap), else a new one.
            let key = if !cur.is_empty() && pick.index(2) == 0 { cur[pick.index(cur.len())].key } else { fresh };
            cur.retain(|m| m.key != key);
            let new = spec.map(|sp| make_mapping(key, sp));
            let named: Vec<_> = ps.iter().filter(|p| key.names(p)).copied().collect();
            t = t.with_one(key, new.clone(), &named).unwrap();
            cur.extend(new);
            check_table(&t, &cur, &ps, &seeds, &[key])?;
        }
    }

    /// A reqid mapping follows its policies when they are re-added under
    /// new indexes: it binds the same selectors; a spid mapping loses its
    /// policy.
    #[test]
    fn reqid_mappings_follow_readded_policies(ms in mappings(16), ps in policies(16), shift in 1u32..1 << 20) {
        let t = Table::build(ms.clone(), &ps).unwrap();
        let moved = |i: u32| i.wrapping_add(8 * shift);
        let ps2: Vec<_> = ps.iter().map(|p| SeenPolicy { index: moved(p.index), ..*p }).collect();
        let t2 = Table::build(t.edited(|m| Some(m.clone())).unwrap(), &ps2).unwrap();
        for (a, b) in t.entries().zip(t2.entries()) {
            prop_assert_eq!(a.key, b.key);
            match a.key {
                MapKey::Reqid(_) => {
                    let mut want: Vec<_> = a.bindings.iter().map(|b| (moved(b.index), b.policy)).collect();
                    want.sort_by_key(|&(i, _)| i);
                    prop_assert_eq!(entry_of(&b).bindings, want, "{}", a.key);
                    prop_assert_eq!(a.is_active(), b.is_active());
                }
                // Unless a new index happens to be the spid.
                MapKey::Spid(s) if !ps2.iter().any(|p| p.index == s) => {
                    prop_assert!(!b.is_active());
                    prop_assert_eq!(b.inactive, Some(Inactive::NoPolicy(b.key, b.family)));
                }
                MapKey::Spid(_) => {}
            }
        }
    }

    /// Any map-new attributes: no panic; acceptance exactly when no
    /// documented refusal applies, and then the request is the attributes
    /// with the documented defaults; otherwise one of the refusals that
    /// apply, with EINVAL and a text that fits or is cut cleanly.
    #[test]
    fn map_request_validation(a in prop_oneof![map_attrs(), coherent_attrs()]) {
        let got = request::map_request(a.wire());

        let mut applies = Vec::new();
        let key = match (a.spid, a.reqid) {
            (Some(_), Some(_)) => { applies.push(Refusal::TwoKeys); None }
            (None, None) => { applies.push(Refusal::Missing("spid or reqid")); None }
            (Some(s), None) if s & 7 != 1 => { applies.push(Refusal::NotOutbound(s)); None }
            (Some(s), None) => Some(MapKey::Spid(s)),
            (None, Some(0)) => { applies.push(Refusal::ReqidZero); None }
            (None, Some(r)) => Some(MapKey::Reqid(r)),
        };
        let mut nat = None;
        match &a.addr {
            None => applies.push(Refusal::Missing("addr")),
            Some(bytes) => match ref_prefix(bytes, a.prefix_len) {
                Err(r) => applies.extend(r),
                Ok(p) => nat = Some(p),
            },
        }
        // What from gives, once the address is known.
        let mut from = None;
        if let Some((family, _, len)) = nat {
            match (&a.from, a.from_prefix_len) {
                (None, None) if len < family.max_prefix() => applies.push(Refusal::PrefixWithoutFrom(len)),
                (None, None) => {}
                // The family is checked first: lengths mean nothing across
                // families.
                (Some(bytes), Some(_)) if matches!(bytes.len(), 4 | 16) && bytes.len() != family.addr_len() => {
                    applies.push(Refusal::FromFamily)
                }
                (Some(bytes), Some(flen)) => match ref_prefix(bytes, Some(flen)) {
                    Err(r) => applies.extend(r),
                    Ok((ff, _, _)) if ff != family => applies.push(Refusal::FromFamily),
                    Ok((_, _, fl)) if fl != len => applies.push(Refusal::PrefixMismatch { from: fl, to: len }),
                    Ok((_, f, _)) => from = Some(f),
                },
                _ => applies.push(Refusal::FromIncomplete),
            }
        }
        let mode = match a.pending {
            None => Some(PendingMode::Eagain),
            Some(pending_mode::EAGAIN) => Some(PendingMode::Eagain),
            Some(pending_mode::DROP) => Some(PendingMode::Drop),
            Some(pending_mode::HOLD) => Some(PendingMode::Hold),
            Some(v) => {
                applies.push(Refusal::PendingMode(v));
                None
            }
        };
        if mode != Some(PendingMode::Hold) && (a.hold_packets.is_some() || a.hold_bytes.is_some()) {
            applies.push(Refusal::HoldLimitWithoutHold);
        }
        // Only a 1:1 mapping has a host for each address of the prefix.
        if a.inbound && nat.is_some() && a.from.is_none() && a.from_prefix_len.is_none() {
            applies.push(Refusal::InboundWithoutFrom);
        }
        let packets = a.hold_packets.unwrap_or(DOC_DEFAULT_PACKETS);
        if !(1..=DOC_MAX_PACKETS).contains(&packets) {
            applies.push(Refusal::HoldPackets(packets));
        }
        let bytes = a.hold_bytes.unwrap_or(DOC_DEFAULT_BYTES);
        if !(1..=DOC_MAX_BYTES).contains(&bytes) {
            applies.push(Refusal::HoldBytes(bytes));
        }

        match got {
            Ok(req) => {
                prop_assert!(applies.is_empty(), "accepted {:?} though {:?}", req, applies);
                let (family, addr, len) = nat.unwrap();
                let raw = a.addr.as_deref().unwrap();
                prop_assert_eq!(req.key, key.unwrap());
                if let MapKey::Spid(s) = req.key {
                    prop_assert_eq!(s & 7, 1);
                }
                prop_assert_ne!(req.key, MapKey::Reqid(0));
                prop_assert_eq!(req.family, family);
                prop_assert_eq!(req.nat.bytes(req.family), raw);
                prop_assert_eq!(req.nat, addr);
                prop_assert!(req.nat.0[raw.len()..].iter().all(|&b| b == 0));
                prop_assert_eq!(req.nat_len, len);
                prop_assert_eq!(ref_masked(&req.nat, req.nat_len), req.nat, "host bits clear");
                prop_assert_eq!(req.from, from);
                // A prefix comes with from, of its length.
                prop_assert!(req.nat_len == family.max_prefix() || req.from.is_some());
                if let Some(f) = req.from {
                    prop_assert_eq!(a.from_prefix_len, Some(req.nat_len));
                    prop_assert_eq!(ref_masked(&f, req.nat_len), f);
                }
                prop_assert_eq!(Some(req.pending), mode);
                prop_assert!((1..=DOC_MAX_PACKETS).contains(&req.hold.packets));
                prop_assert!((1..=DOC_MAX_BYTES).contains(&req.hold.bytes));
                prop_assert_eq!(req.hold, HoldLimits { packets, bytes });
                prop_assert_eq!(req.inbound, a.inbound);
            }
            Err(r) => {
                prop_assert!(applies.contains(&r), "refused with {:?}, not one of {:?}", r, applies);
                prop_assert_eq!(r.errno(), EINVAL);
                // Every validation refusal is sent whole.
                let (sent, whole) = texts(&r);
                prop_assert_eq!(&sent, &whole);
                prop_assert!(!sent.is_empty());
            }
        }
    }

    /// and within 1..=10000 packets and 1..=16 MiB.
    #[test]
    fn hold_limit_bounds(packets in limit_value(DOC_DEFAULT_PACKETS, DOC_MAX_PACKETS), bytes in limit_value(DOC_DEFAULT_BYTES, DOC_MAX_BYTES)) {
        let got = request::hold_limits(packets, bytes);
        let p = packets.unwrap_or(DOC_DEFAULT_PACKETS);
        let b = bytes.unwrap_or(DOC_DEFAULT_BYTES);
        let p_ok = (1..=DOC_MAX_PACKETS).contains(&p);
        let b_ok = (1..=DOC_MAX_BYTES).contains(&b);
        match got {
            Ok(l) => {
                prop_assert!(p_ok && b_ok, "accepted {:?}", l);
                prop_assert_eq!(l, HoldLimits { packets: p, bytes: b });
            }
            Err(r) => prop_assert!(
                (!p_ok && r == Refusal::HoldPackets(p)) || (!b_ok && r == Refusal::HoldBytes(b)),
                "refused {:?} with {:?}", (p, b), r
            ),
        }
    }

    /// `check_spid` accepts exactly the out direction.
    #[test]
    fn spid_direction(spid in any::<u32>()) {
        let want = if spid & 7 == 1 { Ok(spid) } else { Err(Refusal::NotOutbound(spid)) };
        prop_assert_eq!(request::check_spid(spid), want);
    }

    /// A seen policy can carry a mapping's flows exactly when its family
    /// is the address's, its prefix lengths are possible and its source
    /// prefix contains the whole address or prefix; the mapping then keeps
    /// the selector's destination half and the priority.  A refusal names
    /// the policy by index and fits an extack, or is cut cleanly.
    #[test]
    fn policy_fit((req, policy) in map_request().prop_flat_map(|r| (Just(r), seen_policy(r)))) {
        let got = policy::fit(&policy, req.family, &req.nat, req.nat_len, None);
        prop_assert_eq!(got, ref_fit(&policy, req.family, &req.nat, req.nat_len));
        if let Err(u) = got {
            let r = Refusal::Unfit(u);
            prop_assert_eq!(r.errno(), EINVAL);
            let (sent, whole) = texts(&r);
            prop_assert!(whole.starts_with(&format!("policy {} ", policy.index)), "{:?}", whole);
            prop_assert!(!sent.is_empty() && whole.starts_with(&sent) && sent.len() == whole.len().min(80), "{:?}", whole);
            // IPv4 texts are sent whole.
            if req.family == Family::V4 && policy.family == Family::V4 {
                prop_assert_eq!(&sent, &whole);
            }
        }
    }

    /// Splicing keeps the first `len` bits of the prefix and the rest of
    /// the host; a mapping translates what it admits into its prefix.
    #[test]
    fn splice_like_reference(req in map_request(), host in any::<[u8; 16]>(), inside in any::<bool>()) {
        let host = addr_of(req.family, host);
        prop_assert_eq!(req.nat.splice(req.nat_len, &host), splice(req.family, &req.nat, &host, usize::from(req.nat_len)));
        let m = Mapping { key: req.key, family: req.family, nat: req.nat, nat_len: req.nat_len, from: req.from, pending: req.pending, inbound: req.inbound, remote: None, name: None, stats: 0u64 };
        let saddr = match req.from {
            Some(f) if inside => splice(req.family, &f, &host, usize::from(req.nat_len)),
            _ => host,
        };
        prop_assert_eq!(m.admits(&saddr), ref_admits(&m, &saddr));
        let out = m.translate(&saddr);
        prop_assert_eq!(out, ref_translate(&m, &saddr));
        prop_assert!(ref_in_prefix(&out, &req.nat, req.nat_len));
        if let (Some(f), true) = (req.from, m.admits(&saddr)) {
            // 1:1: translating back gives the source.
            prop_assert_eq!(f.splice(req.nat_len, &out), saddr);
        }
    }

    /// Cursors keep the key order and come back as their key.
    #[test]
    fn key_cursors(a in map_key(), b in map_key()) {
        prop_assert_eq!(a.cmp(&b), a.cursor().cmp(&b.cursor()));
        prop_assert_eq!(MapKey::from_cursor(a.cursor()), Some(a));
        prop_assert_eq!(matches!(a, MapKey::Spid(_)), a.cursor() < 1 << 32);
    }

    /// Namespace limits: one more mapping than `min(max_mappings, 65536)`
    /// and hold queues reserving more than `max_hold_bytes` (each its byte
    /// bound plus 32 bytes a slot) are refused with ENOSPC and the figures.
    #[test]
    fn namespace_limits(req in map_request(),
                        mappings in prop_oneof![0usize..4, DOC_MAX_MAPPINGS - 2..DOC_MAX_MAPPINGS + 2, any::<usize>()],
                        max in prop_oneof![0usize..4, DOC_MAX_MAPPINGS - 2..DOC_MAX_MAPPINGS + 2, Just(usize::MAX), any::<usize>()],
                        held in prop_oneof![Just(0u64), 0u64..(128 << 20), (0..=DOC_MAX_HELD)],
                        hold_bytes in prop_oneof![Just(0u64), Just(64u64 << 20), 0u64..(128 << 20), any::<u64>()],
                        at_edge in any::<bool>(), delta in -2i64..=2) {
        let own = u128::from(req.hold.bytes) + 32 * u128::from(req.hold.packets);
        let wanted = u128::from(held) + own;
        // Half the cases put the limit right around what would be reserved.
        let hold_bytes = if at_edge { (wanted.min(u128::from(u64::MAX)) as u64).saturating_add_signed(delta) } else { hold_bytes };
        let limits = NetLimits { mappings: max, hold_bytes };
        let got = request::check_limits(&req, mappings, held, &limits);
        let mut applies = Vec::new();
        let cap = max.min(DOC_MAX_MAPPINGS);
        if mappings >= cap {
            applies.push(Refusal::TooMany(cap));
        }
        if req.pending == PendingMode::Hold && wanted > u128::from(hold_bytes) {
            applies.push(Refusal::HoldMemory { wanted: wanted.min(u128::from(u64::MAX)) as u64, limit: hold_bytes });
        }
        match got {
            Ok(()) => prop_assert!(applies.is_empty(), "accepted though {:?}", applies),
            Err(r) => {
                prop_assert!(applies.contains(&r), "refused with {:?}, not one of {:?}", r, applies);
                prop_assert_eq!(r.errno(), ENOSPC);
            }
        }
    }

    /// The hold queue follows a FIFO model with the same bounds: the same
    /// packets accepted and refused, the same order, deadlines, lengths
    /// and counters, and no packet lost or kept twice.
    #[test]
    fn hold_queue_like_model(packets in 1u32..=8, bytes in prop_oneof![Just(100u32), Just(200), 1u32..=200, 1u32..=4000, Just(DOC_MAX_BYTES)],
                             lifetime in 0u64..100, ops in vec(hold_op(), 0..96)) {
        let limits = HoldLimits { packets, bytes };
        let mut q: HoldQueue<Pkt> = HoldQueue::new(limits).unwrap();
        let mut m = HoldModel { limits, q: VecDeque::new(), counters: HoldCounters::default() };
        let token = Rc::new(());
        let mut in_hand: Option<(Pkt, u32, u64)> = None;
        let mut now = 0u64;
        let mut next_id = 0u32;

        for op in &ops {
            match *op {
                HoldOp::Push(size) => {
                    let id = next_id;
                    next_id += 1;
                    let deadline = now + lifetime;
                    let got = q.push((id, token.clone()), size, deadline);
                    if m.fits(size) {
                        prop_assert!(got.is_ok(), "push {} of {} refused", id, size);
                        m.q.push_back((id, size, deadline));
                        m.counters.held += 1;
                    } else {
                        prop_assert_eq!(got.map_err(|p| p.0), Err(id), "push {} of {} accepted", id, size);
                        m.counters.overflow_drops += 1;
                    }
                }
                HoldOp::Tick(dt) => now += dt,
                HoldOp::ExpireAll => {
                    let mut got = Vec::new();
                    while let Some(p) = q.expire(now) {
                        got.push(p.0);
                        prop_assert!(got.len() <= packets as usize, "expire does not end");
                    }
                    let mut want = Vec::new();
                    while m.q.front().is_some_and(|&(_, _, d)| d <= now) {
                        want.push(m.q.pop_front().unwrap().0);
                        m.counters.timeout_drops += 1;
                    }
                    prop_assert_eq!(got, want);
                }
                HoldOp::ExpireOne => {
                    let got = q.expire(now).map(|p| p.0);
                    let want = if m.q.front().is_some_and(|&(_, _, d)| d <= now) {
                        m.counters.timeout_drops += 1;
                        m.q.pop_front().map(|p| p.0)
                    } else {
                        None
                    };
                    prop_assert_eq!(got, want);
                }
                HoldOp::Pop => {
                    if in_hand.is_none() {
                        let got = q.pop();
                        let want = m.q.pop_front();
                        prop_assert_eq!(got.as_ref().map(|(p, b, d)| (p.0, *b, *d)), want);
                        in_hand = got;
                    }
                }
                HoldOp::Released => {
                    if in_hand.take().is_some() {
                        q.released();
                        m.counters.released += 1;
                    }
                }
                HoldOp::Failed => {
                    if in_hand.take().is_some() {
                        q.failed();
                        m.counters.error_drops += 1;
                    }
                }
                HoldOp::PutBack => {
                    if let Some((p, size, deadline)) = in_hand.take() {
                        let id = p.0;
                        let got = q.put_back(p, size, deadline).map(|p| p.0);
                        let mut evicted = Vec::new();
                        while !m.fits(size) {
                            let Some(tail) = m.q.pop_back() else { break };
                            evicted.push(tail.0);
                            m.counters.overflow_drops += 1;
                        }
                        prop_assert!(m.fits(size), "a popped packet fits an empty queue");
                        m.q.push_front((id, size, deadline));
                        match got {
                            None => prop_assert!(evicted.is_empty(), "evicted {:?} silently", evicted),
                            Some(e) => prop_assert!(evicted.contains(&e), "handed back {}, evicted {:?}", e, evicted),
                        }
                    }
                }
            }
            prop_assert!(m.q.len() <= packets as usize && m.bytes() <= u64::from(bytes));
            prop_assert_eq!(q.len(), m.q.len());
            prop_assert_eq!(q.is_empty(), m.q.is_empty());
            prop_assert_eq!(q.counters(), m.counters);
            prop_assert_eq!(q.limits(), limits);
            prop_assert_eq!(q.next_deadline(), m.q.front().map(|&(_, _, d)| d));
            // Live packets: those queued and the one in hand.
            prop_assert_eq!(Rc::strong_count(&token) - 1, m.q.len() + usize::from(in_hand.is_some()), "after {:?}", op);
        }

        drop(in_hand);
        let mut rest = Vec::new();
        while let Some((p, b, d)) = q.pop() {
            rest.push((p.0, b, d));
        }
        prop_assert_eq!(rest, m.q.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(Rc::strong_count(&token), 1);
    }

    /// The extack buffer keeps the longest prefix of what was written that
    /// fits and ends on a character boundary, however the text is split
    /// into writes (this found that, with 8 bytes, "aé€€" then "a" gave
    /// "aé€a": a write after a cut one still went in).
    #[test]
    fn fixed_buf_keeps_a_prefix(parts in vec("[a-zé€😀]{0,6}", 0..8)) {
        let mut b = FixedBuf::<8>::new();
        for p in &parts {
            b.write_str(p).unwrap();
        }
        let whole: String = parts.concat();
        let mut n = whole.len().min(8);
        while !whole.is_char_boundary(n) {
            n -= 1;
        }
        prop_assert_eq!(b.as_str(), &whole[..n]);
        prop_assert_eq!(b.as_bytes(), &whole.as_bytes()[..n]);
    }
}

/// The empty table has nothing, and a set of keys survives building.
#[test]
fn empty_table() {
    let t = Table::<u64>::empty();
    assert!(t.is_empty() && t.mappings().is_empty() && t.entries().next().is_none());
    assert_eq!(t.len(), 0);
    assert!(t.get(MapKey::Spid(1)).is_none() && !t.has_nat_addr(Family::V4, &Addr::default()));
    assert!(t.lookup(Family::V4, &Flow::default()).is_none());
    assert!(t.by_nat_addr(Family::V6, &Addr::default(), &Flow::default()).is_none());
    assert!(!t.binds_policy(1) && t.bound_policies().next().is_none());
    let keys: BTreeSet<MapKey> = [MapKey::Reqid(9), MapKey::Spid(9), MapKey::Spid(1), MapKey::Reqid(1)].into();
    let ms = keys.iter().map(|&key| Mapping { key, family: Family::V4, nat: Addr::default(), nat_len: 32, from: None, pending: PendingMode::Eagain, inbound: false, remote: None, name: None, stats: key.cursor() });
    let t = Table::build(ms.collect(), &[]).unwrap();
    assert_eq!(t.mappings().iter().map(|m| m.key).collect::<Vec<_>>(), keys.into_iter().collect::<Vec<_>>());
}
