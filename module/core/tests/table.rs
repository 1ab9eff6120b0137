// SPDX-License-Identifier: GPL-2.0
//! The mapping table: which mapping a new flow gets, and the indexes.

use std::sync::Arc;

use xfrm_nat_core::addr::{Addr, Family};
use xfrm_nat_core::selector::{DestSelector, Flow, IPPROTO_ICMP};
use xfrm_nat_core::table::{Mapping, PolicyInfo, Table};

fn v4(s: &str) -> Addr {
    let ip: std::net::Ipv4Addr = s.parse().unwrap();
    Addr::v4(ip.octets())
}

fn v6(s: &str) -> Addr {
    let ip: std::net::Ipv6Addr = s.parse().unwrap();
    Addr(ip.octets())
}

/// The part of a policy's selector a mapping keeps; the source address is
/// only checked when the policy is seen (see tests/request.rs).
fn sel(_saddr: Addr, plen_s: u8, daddr: Addr, plen_d: u8) -> DestSelector {
    DestSelector { prefixlen_s: plen_s, daddr, prefixlen_d: plen_d, ..Default::default() }
}

fn mapping(spid: u32, family: Family, nat: Addr, selector: Option<DestSelector>, priority: u32) -> Mapping<Arc<()>> {
    Mapping { spid, family, nat, pending: Default::default(), policy: selector.map(|selector| PolicyInfo { selector, priority }), stats: Arc::new(()) }
}

fn flow(daddr: Addr, proto: u8, sport: u16, dport: u16) -> Flow {
    Flow { daddr, proto, sport: sport.to_be(), dport: dport.to_be(), oif: 2 }
}

fn howto() -> Table<Arc<()>> {
    Table::build(vec![
        mapping(305, Family::V4, v4("10.20.30.2"), Some(sel(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8)), 0),
        mapping(313, Family::V6, v6("fd00:20::2"), Some(sel(v6("fd00:20::2"), 128, v6("fd00:10::"), 48)), 0),
        mapping(321, Family::V4, v4("10.99.0.2"), None, 0),
    ])
    .unwrap()
}

#[test]
fn howto_flow_gets_its_mapping() {
    let t = howto();
    let m = t.lookup(Family::V4, &flow(v4("10.0.0.1"), 17, 40000, 5001)).expect("mapped");
    assert_eq!(m.spid, 305);
    assert_eq!(m.nat, v4("10.20.30.2"));
    let m = t.lookup(Family::V6, &flow(v6("fd00:10::1"), 6, 40000, 22)).expect("mapped");
    assert_eq!(m.spid, 313);
}

#[test]
fn uncovered_flows_pass() {
    let t = howto();
    assert!(t.lookup(Family::V4, &flow(v4("11.0.0.1"), 17, 1, 2)).is_none());
    assert!(t.lookup(Family::V4, &flow(v4("9.255.255.255"), 17, 1, 2)).is_none());
    // An IPv4 flow never takes an IPv6 mapping even with equal bytes.
    assert!(t.lookup(Family::V6, &flow(v4("10.0.0.1"), 17, 1, 2)).is_none());
    assert!(t.lookup(Family::V4, &flow(v6("fd00:10::1"), 17, 1, 2)).is_none());
}

#[test]
fn inactive_mappings_never_match() {
    let t = Table::build(vec![mapping(305, Family::V4, v4("10.20.30.2"), None, 0)]).unwrap();
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 17, 1, 2)).is_none());
    assert_eq!(t.get(305).map(|m| m.is_active()), Some(false));
}

#[test]
fn two_mappings_pick_by_destination() {
    let t = Table::build(vec![
        mapping(305, Family::V4, v4("10.20.30.2"), Some(sel(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8)), 0),
        mapping(313, Family::V4, v4("172.31.0.2"), Some(sel(v4("172.31.0.0"), 24, v4("172.16.0.0"), 12)), 0),
    ])
    .unwrap();
    assert_eq!(t.lookup(Family::V4, &flow(v4("10.1.2.3"), 6, 1, 80)).unwrap().nat, v4("10.20.30.2"));
    assert_eq!(t.lookup(Family::V4, &flow(v4("172.20.0.1"), 6, 1, 80)).unwrap().nat, v4("172.31.0.2"));
    assert!(t.lookup(Family::V4, &flow(v4("172.32.0.1"), 6, 1, 80)).is_none());
}

#[test]
fn lowest_priority_then_longest_prefix_then_lowest_spid_wins() {
    let wide = sel(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8);
    let narrow = sel(v4("10.20.30.2"), 32, v4("10.1.0.0"), 16);
    // Equal priority: the longer prefix wins.
    let t = Table::build(vec![
        mapping(305, Family::V4, v4("10.20.30.2"), Some(wide), 10),
        mapping(313, Family::V4, v4("10.20.30.2"), Some(narrow), 10),
    ])
    .unwrap();
    assert_eq!(t.lookup(Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)).unwrap().spid, 313);
    assert_eq!(t.lookup(Family::V4, &flow(v4("10.2.0.1"), 6, 1, 2)).unwrap().spid, 305);
    // A lower priority value beats a longer prefix, as in the SPD.
    let t = Table::build(vec![
        mapping(305, Family::V4, v4("10.20.30.2"), Some(wide), 5),
        mapping(313, Family::V4, v4("10.20.30.2"), Some(narrow), 10),
    ])
    .unwrap();
    assert_eq!(t.lookup(Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)).unwrap().spid, 305);
    // Same prefix and priority: the lower spid.
    let t = Table::build(vec![
        mapping(321, Family::V4, v4("10.20.30.2"), Some(wide), 0),
        mapping(305, Family::V4, v4("10.20.30.3"), Some(wide), 0),
    ])
    .unwrap();
    assert_eq!(t.lookup(Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)).unwrap().spid, 305);
}

#[test]
fn ports_protocol_and_interface_are_honoured() {
    let mut s = sel(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8);
    s.proto = 6;
    s.dport = 443u16.to_be();
    s.dport_mask = 0xffff;
    s.ifindex = 2;
    let t = Table::build(vec![mapping(305, Family::V4, v4("10.20.30.2"), Some(s), 0)]).unwrap();
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 5555, 443)).is_some());
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 5555, 80)).is_none());
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 17, 5555, 443)).is_none());
    let mut other_dev = flow(v4("10.0.0.1"), 6, 5555, 443);
    other_dev.oif = 3;
    assert!(t.lookup(Family::V4, &other_dev).is_none());
}

#[test]
fn icmp_selects_on_type_and_code() {
    let mut s = sel(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8);
    s.proto = IPPROTO_ICMP;
    s.sport = 8u16.to_be(); // echo request
    s.sport_mask = 0xffff;
    let t = Table::build(vec![mapping(305, Family::V4, v4("10.20.30.2"), Some(s), 0)]).unwrap();
    let echo = Flow::from_tuple(v4("10.0.0.1"), IPPROTO_ICMP, 0x1234, 0, 8, 0, 2);
    let tstamp = Flow::from_tuple(v4("10.0.0.1"), IPPROTO_ICMP, 0x1234, 0, 13, 0, 2);
    assert!(t.lookup(Family::V4, &echo).is_some());
    assert!(t.lookup(Family::V4, &tstamp).is_none());
}

#[test]
fn nat_address_index() {
    let t = howto();
    assert!(t.has_nat_addr(Family::V4, &v4("10.20.30.2")));
    assert!(t.has_nat_addr(Family::V4, &v4("10.99.0.2")), "inactive mappings count too");
    assert!(!t.has_nat_addr(Family::V4, &v4("10.20.30.3")));
    assert!(!t.has_nat_addr(Family::V6, &v4("10.20.30.2")));
    let f = flow(v4("10.0.0.1"), 6, 1, 2);
    assert_eq!(t.by_nat_addr(Family::V4, &v4("10.20.30.2"), &f).unwrap().spid, 305);
}

#[test]
fn dump_resumes_by_spid() {
    let t = howto();
    let spids: Vec<u32> = t.mappings().iter().map(|m| m.spid).collect();
    assert_eq!(spids, [305, 313, 321]);
    let rest: Vec<u32> = t.mappings_from(306).iter().map(|m| m.spid).collect();
    assert_eq!(rest, [313, 321]);
    assert!(t.mappings_from(322).is_empty());
}

#[test]
fn lookup_agrees_with_a_linear_scan_on_many_mappings() {
    // 10,000 mappings over /16../32 prefixes; the index must give the same
    // answer as checking every mapping in the lookup's order of preference.
    let mut ms = Vec::new();
    for i in 0..10_000u32 {
        let plen = 16 + (i % 17) as u8;
        let dst = Addr::v4([10, (i >> 8) as u8, i as u8, 0]).masked(plen);
        let s = sel(Addr::v4([10, 20, 30, 2]), 32, dst, plen);
        ms.push(mapping(1 + 8 * i, Family::V4, v4("10.20.30.2"), Some(s), i % 3));
    }
    let t = Table::build(ms.clone()).unwrap();
    let best = |f: &Flow| {
        ms.iter()
            .filter(|m| m.policy.unwrap().selector.matches_flow(f))
            .min_by_key(|m| {
                let p = m.policy.unwrap();
                (p.priority, std::cmp::Reverse(p.selector.prefixlen_d), m.spid)
            })
            .map(|m| m.spid)
    };
    for i in 0..3000u32 {
        let f = flow(Addr::v4([10, ((i * 7) >> 8) as u8, (i * 13) as u8, (i * 31) as u8]), 17, 1, 2);
        assert_eq!(t.lookup(Family::V4, &f).map(|m| m.spid), best(&f), "flow {i}");
    }
}

#[test]
fn memory_per_mapping_stays_under_128_bytes() {
    // A mapping in the snapshot (in the module, the counters' handle and
    // the optional hold queue's), its index entries (8 bytes by destination,
    // 4 by address) and its counters as the module allocates them: 24 bytes
    // behind a refcount, served from kmalloc-32.  The hold queue is only
    // allocated for hold-mode mappings.
    let per_mapping = std::mem::size_of::<Mapping<(Arc<()>, Option<Arc<()>>)>>() + 8 + 4 + 32;
    assert!(per_mapping < 128, "{per_mapping} bytes per mapping");
}

#[test]
fn hash_collisions_are_resolved_by_the_address() {
    // Many /32 destinations in one group: each flow finds exactly its own.
    let ms: Vec<_> = (0..5000u32)
        .map(|i| {
            let d = Addr::v4([10, (i >> 8) as u8, i as u8, 7]);
            mapping(1 + 8 * i, Family::V4, v4("10.20.30.2"), Some(sel(v4("10.20.30.2"), 32, d, 32)), 0)
        })
        .collect();
    let t = Table::build(ms).unwrap();
    for i in (0..5000u32).step_by(7) {
        let f = flow(Addr::v4([10, (i >> 8) as u8, i as u8, 7]), 17, 1, 2);
        assert_eq!(t.lookup(Family::V4, &f).map(|m| m.spid), Some(1 + 8 * i));
        let miss = flow(Addr::v4([10, (i >> 8) as u8, i as u8, 8]), 17, 1, 2);
        assert!(t.lookup(Family::V4, &miss).is_none());
    }
}
