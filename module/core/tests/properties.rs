// SPDX-License-Identifier: GPL-2.0
//! Property tests (proptest): the crate's logic against small reference
//! models written from its documentation, on random inputs.
//!
//! * selectors: matching against a bit-by-bit reference of the documented
//!   semantics (prefixes, port masks, protocol and interface 0 = any);
//! * the mapping table: `lookup`, `by_nat_addr`, `has_nat_addr`, `get`,
//!   `mappings_from` and `edited` against linear scans applying the rules
//!   of Documentation/xfrm_nat.rst ("Choosing among mappings");
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

use xfrm_nat_core::addr::{Addr, Family};
use xfrm_nat_core::fmt::FixedBuf;
use xfrm_nat_core::hold::{self, HoldCounters, HoldLimits, HoldQueue};
use xfrm_nat_core::request::{self, MapAttrs, MapRequest, NetLimits, PendingMode, Refusal, SeenPolicy};
use xfrm_nat_core::selector::{DestSelector, Flow, Selector, IPPROTO_ICMP, IPPROTO_ICMPV6};
use xfrm_nat_core::table::{Mapping, PolicyInfo, Table};
use xfrm_nat_core::uapi::pending_mode;

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
        (sel, Flow { daddr, proto, sport: sp.2.to_be(), dport: dp.2.to_be(), oif })
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

prop_compose! {
    fn policy_info(fam: Family)(pool in any::<Index>(), noise in any::<[u8; 16]>(), plen in (any::<u8>(), any::<u8>()),
                                sp in (port(), port_mask()), dp in (port(), port_mask()), proto in proto(),
                                ifindex in prop_oneof![Just(0i32), 1..3i32],
                                priority in prop_oneof![0u32..4, Just(u32::MAX), any::<u32>()]) -> PolicyInfo {
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
            prefixlen_s: fam.max_prefix(),
            proto,
        };
        PolicyInfo { selector, priority }
    }
}

fn pending_mode() -> impl Strategy<Value = PendingMode> {
    prop_oneof![Just(PendingMode::Eagain), Just(PendingMode::Drop), Just(PendingMode::Hold)]
}

/// A mapping without its spid; stats are the spid, to see which one a
/// snapshot gave.
fn mapping_spec() -> impl Strategy<Value = (Family, usize, PendingMode, Option<PolicyInfo>)> {
    (family(), any::<Index>(), pending_mode(), any::<bool>()).prop_flat_map(|(fam, nat, pending, active)| {
        let policy = if active { policy_info(fam).prop_map(Some).boxed() } else { Just(None).boxed() };
        (Just(fam), Just(nat.index(64)), Just(pending), policy)
    })
}

fn spid() -> impl Strategy<Value = u32> {
    prop_oneof![(0u32..64).prop_map(|i| 8 * i + 1), 0u32..512, Just(u32::MAX), any::<u32>()]
}

/// Mappings with distinct spids, in random order.
fn mappings(max: usize) -> impl Strategy<Value = Vec<Mapping<u32>>> {
    vec((mapping_spec(), spid()), 0..max)
        .prop_map(|specs| {
            let mut used = BTreeSet::new();
            specs
                .into_iter()
                .map(|((family, nat, pending, policy), mut spid)| {
                    // Distinct spids, most still out policies.
                    while !used.insert(spid) {
                        spid = spid.wrapping_add(8);
                    }
                    Mapping { spid, family, nat: nat_pool(family, nat), pending, policy, stats: spid }
                })
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

/// What a flow is made from: a family, a destination near one of the pool
/// prefixes, a protocol, ports and an interface; or, with `hit`, a flow
/// that the policy of the `target`th mapping selects.
#[derive(Clone, Debug)]
struct FlowSeed {
    family: Family,
    target: Index,
    hit: bool,
    pool: Index,
    noise: [u8; 16],
    keep: u8,
    proto: u8,
    ports: (u16, u16),
    oif: i32,
}

prop_compose! {
    fn flow_seed()(family in family(), target in any::<Index>(), hit in any::<bool>(), pool in any::<Index>(),
                   noise in any::<[u8; 16]>(), keep in any::<u8>(), proto in proto(),
                   ports in (port(), port()), oif in 0..4i32) -> FlowSeed {
        FlowSeed { family, target, hit, pool, noise, keep, proto, ports, oif }
    }
}

/// The family and flow of a seed, given the table's mappings.
fn make_flow(seed: &FlowSeed, ms: &[Mapping<u32>]) -> (Family, Flow) {
    let active: Vec<_> = ms.iter().filter(|m| m.is_active()).collect();
    if seed.hit && !active.is_empty() {
        let m = active[seed.target.index(active.len())];
        let s = m.policy.unwrap().selector;
        let noise = addr_of(m.family, seed.noise);
        let daddr = splice(m.family, &s.daddr, &noise, usize::from(s.prefixlen_d));
        // The selector's bits under the mask, the seed's elsewhere.
        let pick = |sel: u16, mask: u16, other: u16| (sel & mask) | (other.to_be() & !mask);
        let proto = if s.proto == 0 { seed.proto } else { s.proto };
        let oif = if s.ifindex == 0 { seed.oif } else { s.ifindex };
        let flow = Flow {
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
    (fam, Flow { daddr, proto: seed.proto, sport: seed.ports.0.to_be(), dport: seed.ports.1.to_be(), oif: seed.oif })
}

/// The documented choice: among the active mappings of the family whose
/// policy selects the flow, the lowest policy priority, then the longest
/// destination prefix, then the lowest spid.
fn ref_lookup(ms: &[Mapping<u32>], family: Family, flow: &Flow) -> Option<u32> {
    ms.iter()
        .filter(|m| m.family == family)
        .filter_map(|m| m.policy.map(|p| (m.spid, p)))
        .filter(|(_, p)| ref_matches(&p.selector, flow))
        .min_by_key(|&(spid, p)| (p.priority, Reverse(p.selector.prefixlen_d), spid))
        .map(|(spid, _)| spid)
}

/// Among the mappings to `nat`, the lowest spid whose policy selects the
/// flow, else the lowest spid.
fn ref_by_nat(ms: &[Mapping<u32>], family: Family, nat: &Addr, flow: &Flow) -> Option<u32> {
    let mut same: Vec<_> = ms.iter().filter(|m| m.family == family && m.nat == *nat).collect();
    same.sort_by_key(|m| m.spid);
    let lowest = same.first()?;
    Some(same.iter().find(|m| m.policy.is_some_and(|p| ref_matches(&p.selector, flow))).unwrap_or(lowest).spid)
}

type MappingKey = (u32, Family, Addr, PendingMode, Option<PolicyInfo>, u32);

/// Everything a mapping holds, comparable.
fn key(m: &Mapping<u32>) -> MappingKey {
    (m.spid, m.family, m.nat, m.pending, m.policy, m.stats)
}

fn keys(ms: &[Mapping<u32>]) -> Vec<MappingKey> {
    ms.iter().map(key).collect()
}

/// Checks every query of `t` against linear scans over `ms`.
fn check_table(t: &Table<u32>, ms: &[Mapping<u32>], seeds: &[FlowSeed], probes: &[u32]) -> Result<(), TestCaseError> {
    let mut sorted = ms.to_vec();
    sorted.sort_by_key(|m| m.spid);
    prop_assert_eq!(t.len(), ms.len());
    prop_assert_eq!(t.is_empty(), ms.is_empty());
    prop_assert_eq!(keys(t.mappings()), keys(&sorted));

    let spids = ms.iter().map(|m| m.spid).chain(probes.iter().copied()).chain(ms.iter().map(|m| m.spid.wrapping_add(1)));
    for s in spids {
        prop_assert_eq!(t.get(s).map(key), ms.iter().find(|m| m.spid == s).map(key), "get({})", s);
        let from: Vec<_> = sorted.iter().filter(|m| m.spid >= s).cloned().collect();
        prop_assert_eq!(keys(t.mappings_from(s)), keys(&from), "mappings_from({})", s);
    }

    for seed in seeds {
        let (fam, flow) = make_flow(seed, ms);
        prop_assert_eq!(t.lookup(fam, &flow).map(|m| m.spid), ref_lookup(ms, fam, &flow), "lookup({:?}, {:?})", fam, flow);
        for f in [Family::V4, Family::V6] {
            for i in 0..3 {
                let nat = nat_pool(f, i);
                let want = ref_by_nat(ms, f, &nat, &flow);
                prop_assert_eq!(t.by_nat_addr(f, &nat, &flow).map(|m| m.spid), want, "by_nat_addr({:?}, {:?})", f, nat);
                let any = ms.iter().any(|m| m.family == f && m.nat == nat);
                prop_assert_eq!(t.has_nat_addr(f, &nat), any, "has_nat_addr({:?}, {:?})", f, nat);
            }
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

prop_compose! {
    fn wire_addr()(len in prop_oneof![Just(4usize), Just(16), 0usize..=20], raw in any::<[u8; 20]>()) -> Vec<u8> {
        raw[..len].to_vec()
    }
}

prop_compose! {
    fn map_attrs()(spid in proptest::option::weighted(0.95, spid()),
                   addr in proptest::option::weighted(0.95, wire_addr()),
                   pending in prop_oneof![
                       2 => Just(None),
                       1 => Just(Some(pending_mode::EAGAIN)),
                       1 => Just(Some(pending_mode::DROP)),
                       4 => Just(Some(pending_mode::HOLD)),
                       1 => any::<u8>().prop_map(Some),
                   ],
                   hold_packets in limit_value(DOC_DEFAULT_PACKETS, DOC_MAX_PACKETS),
                   hold_bytes in limit_value(DOC_DEFAULT_BYTES, DOC_MAX_BYTES))
                   -> (Option<u32>, Option<Vec<u8>>, Option<u8>, Option<u32>, Option<u32>) {
        (spid, addr, pending, hold_packets, hold_bytes)
    }
}

/// A valid map-new request.
fn map_request() -> impl Strategy<Value = MapRequest> {
    (
        (0u32..1 << 29).prop_map(|i| 8 * i + 1),
        family(),
        any::<[u8; 16]>(),
        pending_mode(),
        1..=DOC_MAX_PACKETS,
        prop_oneof![Just(DOC_MAX_BYTES), 1..=DOC_MAX_BYTES],
    )
        .prop_map(|(spid, family, raw, pending, packets, bytes)| MapRequest {
            spid,
            family,
            nat: addr_of(family, raw),
            pending,
            hold: if pending == PendingMode::Hold { HoldLimits { packets, bytes } } else { HoldLimits::DEFAULT },
        })
}

prop_compose! {
    /// A policy for `req` (or none): its family often the request's, its
    /// source prefix often containing the address, its prefix lengths
    /// sometimes out of range.
    fn seen_policy(req: MapRequest)(present in proptest::bool::weighted(0.9),
                                    same_family in proptest::bool::weighted(0.8),
                                    other in family(), noise in any::<[u8; 16]>(),
                                    plens in (prop_oneof![0u8..=128, any::<u8>()], prop_oneof![0u8..=128, any::<u8>()]),
                                    keep in any::<u8>(), contains in any::<bool>(),
                                    dest in selector_case(), priority in any::<u32>()) -> Option<SeenPolicy> {
        let family = if same_family { req.family } else { other };
        let max = u16::from(family.max_prefix());
        let (mut plen_s, mut plen_d) = plens;
        if keep % 4 != 0 {
            // Mostly valid lengths.
            plen_s = (u16::from(plen_s) % (max + 1)) as u8;
            plen_d = (u16::from(plen_d) % (max + 1)) as u8;
        }
        let noise = addr_of(family, noise);
        let saddr = if contains { splice(family, &req.nat, &noise, usize::from(plen_s)) } else { splice(family, &req.nat, &noise, usize::from(keep)) };
        let dest = DestSelector { prefixlen_s: plen_s, prefixlen_d: plen_d, ..dest.0 };
        present.then_some(SeenPolicy { family, selector: Selector { saddr, dest }, priority })
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

    /// `masked` and `in_prefix` keep/compare exactly the first `len` bits.
    #[test]
    fn prefixes_are_leading_bits(a in any::<[u8; 16]>(), b in any::<[u8; 16]>(), keep in 0usize..=128, len in any::<u8>()) {
        let a = Addr(a);
        let b = splice(Family::V6, &a, &Addr(b), keep);
        prop_assert_eq!(a.masked(len), ref_masked(&a, len));
        prop_assert_eq!(b.in_prefix(&a, len), ref_in_prefix(&b, &a, len));
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
    fn flow_from_tuple(daddr in any::<[u8; 16]>(), proto in proto(), sport in any::<u16>(), dport in any::<u16>(),
                       icmp in any::<(u8, u8)>(), oif in any::<i32>()) {
        let f = Flow::from_tuple(Addr(daddr), proto, sport, dport, icmp.0, icmp.1, oif);
        let (s, d) = if proto == 1 || proto == 58 { (u16::from(icmp.0).to_be(), u16::from(icmp.1).to_be()) } else { (sport, dport) };
        prop_assert_eq!(f, Flow { daddr: Addr(daddr), proto, sport: s, dport: d, oif });
    }

    /// Table queries equal linear scans over the mappings.
    #[test]
    fn table_like_linear_scan(ms in mappings(12), seeds in vec(flow_seed(), 1..24), probes in vec(spid(), 0..4)) {
        let t = Table::build(ms.clone()).unwrap();
        check_table(&t, &ms, &seeds, &probes)?;
    }

    /// Many mappings with the same few destinations, priorities and NAT
    /// addresses: ties decide.
    #[test]
    fn table_ties_like_linear_scan(ms in mappings(48), seeds in vec(flow_seed(), 1..32)) {
        let t = Table::build(ms.clone()).unwrap();
        check_table(&t, &ms, &seeds, &[])?;
    }

    /// `edited` passes each mapping, in spid order, through the edit; the
    /// table built from the result answers like a scan over it.
    #[test]
    fn edited_table_like_linear_scan(ms in mappings(16), seeds in vec(flow_seed(), 1..16), seed in any::<u32>(),
                                     prio in prop_oneof![0u32..4, any::<u32>()], extra in mapping_spec(), extra_spid in spid()) {
        let t = Table::build(ms.clone()).unwrap();
        let op = |m: &Mapping<u32>| (m.spid.wrapping_mul(0x9e37_79b1) ^ seed) % 4;
        let edit = |m: &Mapping<u32>| match op(m) {
            0 => Some(m.clone()),
            1 => None,
            2 => Some(Mapping { policy: None, ..m.clone() }),
            _ => Some(Mapping { policy: m.policy.map(|p| PolicyInfo { priority: prio, ..p }), ..m.clone() }),
        };
        let mut seen = Vec::new();
        let mut out = t.edited(|m| { seen.push(m.spid); edit(m) }).unwrap();
        let mut sorted = ms.clone();
        sorted.sort_by_key(|m| m.spid);
        prop_assert_eq!(&seen, &sorted.iter().map(|m| m.spid).collect::<Vec<_>>());
        let want: Vec<_> = sorted.iter().filter_map(edit).collect();
        prop_assert_eq!(keys(&out), keys(&want));

        // As a writer does: add a mapping for a new spid and build.
        let mut next = want;
        if !next.iter().any(|m| m.spid == extra_spid) {
            let (family, nat, pending, policy) = extra;
            let m = Mapping { spid: extra_spid, family, nat: nat_pool(family, nat), pending, policy, stats: extra_spid };
            out.push(m.clone());
            next.push(m);
        }
        let t2 = Table::build(out).unwrap();
        check_table(&t2, &next, &seeds, &[extra_spid])?;
        // The old snapshot is untouched.
        check_table(&t, &ms, &seeds, &[])?;
    }

    /// Any map-new attributes: no panic; acceptance exactly when no
    /// documented refusal applies, and then the request is the attributes
    /// with the documented defaults; otherwise one of the refusals that
    /// apply, with EINVAL and a text that fits or is cut cleanly.
    #[test]
    fn map_request_validation((spid, addr, pending, hold_packets, hold_bytes) in map_attrs()) {
        let attrs = MapAttrs { spid, addr: addr.as_deref(), pending, hold_packets, hold_bytes };
        let got = request::map_request(attrs);

        let mut applies = Vec::new();
        match spid {
            None => applies.push(Refusal::Missing("spid")),
            Some(s) if s & 7 != 1 => applies.push(Refusal::NotOutbound(s)),
            Some(_) => {}
        }
        match &addr {
            None => applies.push(Refusal::Missing("addr")),
            Some(a) if a.len() != 4 && a.len() != 16 => applies.push(Refusal::AddressLength(a.len())),
            Some(_) => {}
        }
        let mode = match pending {
            None => Some(PendingMode::Eagain),
            Some(pending_mode::EAGAIN) => Some(PendingMode::Eagain),
            Some(pending_mode::DROP) => Some(PendingMode::Drop),
            Some(pending_mode::HOLD) => Some(PendingMode::Hold),
            Some(v) => {
                applies.push(Refusal::PendingMode(v));
                None
            }
        };
        if mode != Some(PendingMode::Hold) && (hold_packets.is_some() || hold_bytes.is_some()) {
            applies.push(Refusal::HoldLimitWithoutHold);
        }
        let packets = hold_packets.unwrap_or(DOC_DEFAULT_PACKETS);
        if !(1..=DOC_MAX_PACKETS).contains(&packets) {
            applies.push(Refusal::HoldPackets(packets));
        }
        let bytes = hold_bytes.unwrap_or(DOC_DEFAULT_BYTES);
        if !(1..=DOC_MAX_BYTES).contains(&bytes) {
            applies.push(Refusal::HoldBytes(bytes));
        }

        match got {
            Ok(req) => {
                prop_assert!(applies.is_empty(), "accepted {:?} though {:?}", req, applies);
                let a = addr.as_deref().unwrap();
                prop_assert!(a.len() == 4 || a.len() == 16);
                prop_assert_eq!(req.family, if a.len() == 4 { Family::V4 } else { Family::V6 });
                prop_assert_eq!(req.nat.bytes(req.family), a);
                prop_assert!(req.nat.0[a.len()..].iter().all(|&b| b == 0));
                prop_assert_eq!(req.spid, spid.unwrap());
                prop_assert_eq!(req.spid & 7, 1);
                prop_assert_eq!(Some(req.pending), mode);
                prop_assert!((1..=DOC_MAX_PACKETS).contains(&req.hold.packets));
                prop_assert!((1..=DOC_MAX_BYTES).contains(&req.hold.bytes));
                prop_assert_eq!(req.hold, HoldLimits { packets, bytes });
            }
            Err(r) => {
                prop_assert!(applies.contains(&r), "refused with {:?}, not one of {:?}", r, applies);
                prop_assert_eq!(r.errno(), EINVAL);
                let (sent, whole) = texts(&r);
                prop_assert!(!sent.is_empty() && whole.starts_with(&sent) && sent.len() == whole.len().min(80), "{:?}", whole);
            }
        }
    }

    /// Hold limits: each given or its default (100 packets, 256 KiB),
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

    /// A seen policy activates a mapping exactly when its family is the
    /// address's, its prefix lengths are possible and its source prefix
    /// contains the address; the mapping then keeps the selector's
    /// destination half and the priority.
    #[test]
    fn policy_evaluation((req, policy) in map_request().prop_flat_map(|r| (Just(r), seen_policy(r)))) {
        let got = request::evaluate_policy(&req, policy);
        let Some(p) = policy else {
            prop_assert_eq!(got, Ok(None));
            return Ok(());
        };
        let mut applies = Vec::new();
        if p.family != req.family {
            applies.push(Refusal::FamilyMismatch { spid: req.spid, policy: p.family, mapping: req.family });
        }
        let max = p.family.max_prefix();
        let d = p.selector.dest;
        if d.prefixlen_d > max || d.prefixlen_s > max || !ref_in_prefix(&req.nat, &p.selector.saddr, d.prefixlen_s) {
            applies.push(Refusal::SourceNotSelected {
                spid: req.spid,
                family: p.family,
                nat: req.nat,
                saddr: p.selector.saddr,
                prefixlen_s: d.prefixlen_s,
            });
        }
        match got {
            Ok(info) => {
                prop_assert!(applies.is_empty(), "accepted though {:?}", applies);
                prop_assert_eq!(info, Some(PolicyInfo { selector: d, priority: p.priority }));
            }
            Err(r) => {
                prop_assert!(applies.contains(&r), "refused with {:?}, not one of {:?}", r, applies);
                prop_assert_eq!(r.errno(), EINVAL);
                let (sent, whole) = texts(&r);
                prop_assert!(!sent.is_empty() && whole.starts_with(&sent) && sent.len() == whole.len().min(80), "{:?}", whole);
            }
        }
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

/// The empty table has nothing, and a set of spids survives building.
#[test]
fn empty_table() {
    let t = Table::<u32>::empty();
    assert!(t.is_empty() && t.mappings().is_empty());
    assert_eq!(t.len(), 0);
    assert!(t.get(1).is_none() && !t.has_nat_addr(Family::V4, &Addr::default()));
    assert!(t.lookup(Family::V4, &Flow::default()).is_none());
    assert!(t.by_nat_addr(Family::V6, &Addr::default(), &Flow::default()).is_none());
    let spids: BTreeSet<u32> = [9, 1, 17].into();
    let ms = spids.iter().map(|&spid| Mapping { spid, family: Family::V4, nat: Addr::default(), pending: PendingMode::Eagain, policy: None, stats: spid });
    let t = Table::build(ms.collect()).unwrap();
    assert_eq!(t.mappings().iter().map(|m| m.spid).collect::<BTreeSet<_>>(), spids);
}
