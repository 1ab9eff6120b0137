// SPDX-License-Identifier: GPL-2.0
//! The mapping table: which policies a mapping binds, which mapping a new
//! flow gets, and the indexes.

use std::sync::Arc;

use logic::addr::{Addr, Family};
use logic::policy::{PolicyInfo, Reqids, Rival, SeenPolicy, Unfit};
use logic::selector::{DestSelector, Flow, Selector, IPPROTO_ICMP};
use logic::table::{Inactive, MapKey, Mapping, SaScope, Table};

fn v4(s: &str) -> Addr {
    let ip: std::net::Ipv4Addr = s.parse().unwrap();
    Addr::v4(ip.octets())
}

fn v6(s: &str) -> Addr {
    let ip: std::net::Ipv6Addr = s.parse().unwrap();
    Addr(ip.octets())
}

fn family_of(a: &Addr) -> Family {
    if a.0[4..].iter().all(|&b| b == 0) {
        Family::V4
    } else {
        Family::V6
    }
}

/// An outbound policy from `saddr`/`plen_s` to `daddr`/`plen_d`, of
/// priority 0, with one template of `reqid` (0: none).
fn policy(index: u32, saddr: Addr, plen_s: u8, daddr: Addr, plen_d: u8, reqid: u32) -> SeenPolicy {
    // IPv6 if either address or prefix length says so.
    let v6 = family_of(&saddr) == Family::V6 || family_of(&daddr) == Family::V6 || plen_s > 32 || plen_d > 32;
    let family = if v6 { Family::V6 } else { Family::V4 };
    let dest = DestSelector { prefixlen_s: plen_s, daddr, prefixlen_d: plen_d, ..Default::default() };
    let reqids = if reqid == 0 { Reqids::default() } else { Reqids::new([reqid]) };
    SeenPolicy { index, family, selector: Selector { saddr, dest }, priority: 0, reqids }
}

fn with_priority(p: SeenPolicy, priority: u32) -> SeenPolicy {
    SeenPolicy { priority, ..p }
}

fn mapping(key: MapKey, family: Family, nat: Addr) -> Mapping<Arc<()>> {
    let nat_len = family.max_prefix();
    Mapping { key, family, nat, nat_len, from: None, pending: Default::default(), inbound: false, remote: None, name: None, stats: Arc::new(()) }
}

/// A 1:1 prefix mapping of `from`/`len` into `nat`/`len`.
fn netmap(key: MapKey, family: Family, nat: Addr, len: u8, from: Addr) -> Mapping<Arc<()>> {
    Mapping { nat_len: len, from: Some(from), ..mapping(key, family, nat) }
}

fn flow(daddr: Addr, proto: u8, sport: u16, dport: u16) -> Flow {
    let saddr = if family_of(&daddr) == Family::V4 { v4("192.168.1.17") } else { v6("fd00:1::17") };
    Flow { saddr, daddr, proto, sport: sport.to_be(), dport: dport.to_be(), oif: 2 }
}

fn from(saddr: Addr, f: Flow) -> Flow {
    Flow { saddr, ..f }
}

const fn spid(v: u32) -> MapKey {
    MapKey::Spid(v)
}

const fn reqid(v: u32) -> MapKey {
    MapKey::Reqid(v)
}

fn key_of(t: &Table<Arc<()>>, family: Family, f: &Flow) -> Option<MapKey> {
    t.lookup(family, f).map(|m| m.key)
}

fn indexes(t: &Table<Arc<()>>, key: MapKey) -> Vec<u32> {
    t.get(key).expect("mapped").bindings.iter().map(|b| b.index).collect()
}

fn howto() -> Table<Arc<()>> {
    Table::build(
        vec![
            mapping(spid(305), Family::V4, v4("10.20.30.2")),
            mapping(spid(313), Family::V6, v6("fd00:20::2")),
            mapping(spid(321), Family::V4, v4("10.99.0.2")),
        ],
        &[
            policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 1),
            policy(313, v6("fd00:20::2"), 128, v6("fd00:10::"), 48, 2),
        ],
    )
    .unwrap()
}

#[test]
fn howto_flow_gets_its_mapping() {
    let t = howto();
    let m = t.lookup(Family::V4, &flow(v4("10.0.0.1"), 17, 40000, 5001)).expect("mapped");
    assert_eq!(m.key, spid(305));
    assert_eq!(m.nat, v4("10.20.30.2"));
    assert_eq!(m.translate(&v4("192.168.1.17")), v4("10.20.30.2"));
    let m = t.lookup(Family::V6, &flow(v6("fd00:10::1"), 6, 40000, 22)).expect("mapped");
    assert_eq!(m.key, spid(313));
    assert_eq!(indexes(&t, spid(305)), [305]);
    assert_eq!(t.get(spid(305)).unwrap().bindings[0].policy.selector.prefixlen_d, 8);
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
    let t = Table::build(vec![mapping(spid(305), Family::V4, v4("10.20.30.2"))], &[]).unwrap();
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 17, 1, 2)).is_none());
    let e = t.get(spid(305)).unwrap();
    assert!(!e.is_active());
    assert!(e.bindings.is_empty());
    assert_eq!(e.inactive, Some(Inactive::NoPolicy(spid(305), Family::V4)));
    assert!(!t.binds_policy(305));
    assert_eq!(t.bound_policies().count(), 0);
    let t = howto();
    assert!(t.get(spid(305)).unwrap().is_active());
    assert_eq!(t.get(spid(305)).unwrap().inactive, None);
    assert_eq!(t.get(spid(321)).unwrap().inactive, Some(Inactive::NoPolicy(spid(321), Family::V4)));
}

#[test]
fn policies_of_other_directions_are_ignored() {
    // 304 is an in policy, 306 a fwd one: even a key that names them
    // binds nothing.
    let ps = [policy(304, v4("0.0.0.0"), 0, v4("10.0.0.0"), 8, 7), policy(306, v4("0.0.0.0"), 0, v4("10.0.0.0"), 8, 7)];
    let t = Table::build(vec![mapping(spid(304), Family::V4, v4("10.20.30.2")), mapping(reqid(7), Family::V4, v4("10.20.30.2"))], &ps).unwrap();
    assert_eq!(t.get(spid(304)).unwrap().inactive, Some(Inactive::NoPolicy(spid(304), Family::V4)));
    assert_eq!(t.get(reqid(7)).unwrap().inactive, Some(Inactive::NoPolicy(reqid(7), Family::V4)));
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 1, 2)).is_none());
}

#[test]
fn two_mappings_pick_by_destination() {
    let t = Table::build(
        vec![mapping(spid(305), Family::V4, v4("10.20.30.2")), mapping(spid(313), Family::V4, v4("172.31.0.2"))],
        &[policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 0), policy(313, v4("172.31.0.0"), 24, v4("172.16.0.0"), 12, 0)],
    )
    .unwrap();
    assert_eq!(t.lookup(Family::V4, &flow(v4("10.1.2.3"), 6, 1, 80)).unwrap().nat, v4("10.20.30.2"));
    assert_eq!(t.lookup(Family::V4, &flow(v4("172.20.0.1"), 6, 1, 80)).unwrap().nat, v4("172.31.0.2"));
    assert!(t.lookup(Family::V4, &flow(v4("172.32.0.1"), 6, 1, 80)).is_none());
}

#[test]
fn lowest_priority_then_longest_prefix_then_lowest_key_wins() {
    let wide = |index| policy(index, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 0);
    let narrow = |index| policy(index, v4("10.20.30.0"), 24, v4("10.1.0.0"), 16, 0);
    let ms = || vec![mapping(spid(305), Family::V4, v4("10.20.30.2")), mapping(spid(313), Family::V4, v4("10.20.30.3"))];
    // Equal priority: the longer prefix wins.
    let t = Table::build(ms(), &[with_priority(wide(305), 10), with_priority(narrow(313), 10)]).unwrap();
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(spid(313)));
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.2.0.1"), 6, 1, 2)), Some(spid(305)));
    // A lower priority value beats a longer prefix, as in the SPD.
    let t = Table::build(ms(), &[with_priority(wide(305), 5), with_priority(narrow(313), 10)]).unwrap();
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(spid(305)));
    // Same prefix and priority: the lower key.
    let t = Table::build(ms(), &[wide(313), wide(305)]).unwrap();
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(spid(305)));
    let t = Table::build(
        vec![mapping(reqid(9), Family::V4, v4("10.20.30.2")), mapping(reqid(4), Family::V4, v4("10.20.30.3"))],
        &[policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 9), policy(313, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 4)],
    )
    .unwrap();
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(reqid(4)));
}

#[test]
fn spid_mapping_wins_over_reqid_mapping_on_the_same_policy() {
    let ps = [policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 7), policy(313, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 7)];
    // Keys in both orders of input: the table sorts them.
    for ms in [
        vec![mapping(reqid(7), Family::V4, v4("10.20.30.9")), mapping(spid(313), Family::V4, v4("10.20.30.2"))],
        vec![mapping(spid(313), Family::V4, v4("10.20.30.2")), mapping(reqid(7), Family::V4, v4("10.20.30.9"))],
    ] {
        let t = Table::build(ms, &ps).unwrap();
        // The reqid mapping binds both policies, the spid one only its own;
        // 313 is bound twice.
        assert_eq!(indexes(&t, reqid(7)), [305, 313]);
        assert_eq!(indexes(&t, spid(313)), [313]);
        assert_eq!(t.bound_policies().collect::<Vec<_>>(), [305, 313, 313]);
        // Reqid 1 < spid 313 numerically, but spid keys come first.
        let m = t.lookup(Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)).unwrap();
        assert_eq!((m.key, m.nat), (spid(313), v4("10.20.30.2")));
        assert_eq!(t.entries().map(|e| e.key).collect::<Vec<_>>(), [spid(313), reqid(7)]);
    }
    // Without the spid mapping, the lowest policy index decides between the
    // two bindings of one reqid mapping: same mapping either way.
    let t = Table::build(vec![mapping(reqid(7), Family::V4, v4("10.20.30.9"))], &ps).unwrap();
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(reqid(7)));
    // A lower priority on the reqid mapping's policy beats the spid key.
    let ps = [with_priority(ps[0], 1), with_priority(ps[1], 2)];
    let t = Table::build(vec![mapping(reqid(7), Family::V4, v4("10.20.30.9")), mapping(spid(313), Family::V4, v4("10.20.30.2"))], &ps).unwrap();
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(reqid(7)));
}

#[test]
fn reqid_mapping_binds_every_policy_of_its_reqid_and_follows_new_indexes() {
    let ms = || vec![mapping(reqid(7), Family::V4, v4("10.20.30.2")), mapping(spid(305), Family::V4, v4("10.20.30.3"))];
    // An IKE daemon's child with two remote subnets: two policies, reqid 7.
    let ps = [
        policy(305, v4("10.20.30.0"), 24, v4("10.1.0.0"), 16, 7),
        policy(313, v4("10.20.30.0"), 24, v4("10.2.0.0"), 16, 7),
        policy(321, v4("10.20.30.0"), 24, v4("10.3.0.0"), 16, 8),
    ];
    let t = Table::build(ms(), &ps).unwrap();
    assert_eq!(indexes(&t, reqid(7)), [305, 313]);
    assert!(t.binds_policy(305) && t.binds_policy(313) && !t.binds_policy(321));
    // 305 is also named by the spid mapping, which wins there.
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(spid(305)));
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.2.0.1"), 6, 1, 2)), Some(reqid(7)));
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.3.0.1"), 6, 1, 2)), None);

    // The daemon restarts: the same policies come back under new indexes.
    // The next build (which the module does on the SPD change) keeps the
    // reqid mapping; the spid mapping lost its policy.
    let readded: Vec<_> = ps.iter().map(|p| SeenPolicy { index: p.index + 800, ..*p }).collect();
    let t2 = Table::build(t.edited(|m| Some(m.clone())).unwrap(), &readded).unwrap();
    assert_eq!(indexes(&t2, reqid(7)), [1105, 1113]);
    assert_eq!(t2.get(spid(305)).unwrap().inactive, Some(Inactive::NoPolicy(spid(305), Family::V4)));
    assert_eq!(key_of(&t2, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), Some(reqid(7)));
    assert_eq!(key_of(&t2, Family::V4, &flow(v4("10.2.0.1"), 6, 1, 2)), Some(reqid(7)));
    assert!(!t2.binds_policy(305) && t2.binds_policy(1105) && t2.binds_policy(1113) && !t2.binds_policy(1121));
    // The selectors bound are the same; only the indexes moved.
    let sel = |t: &Table<Arc<()>>| t.get(reqid(7)).unwrap().bindings.iter().map(|b| b.policy).collect::<Vec<_>>();
    assert_eq!(sel(&t), sel(&t2));
    assert!(!t.get(reqid(7)).unwrap().same_binding(&t2.get(reqid(7)).unwrap()));
    // The old snapshot is untouched.
    assert_eq!(indexes(&t, reqid(7)), [305, 313]);
    // One policy goes: the other stays bound.
    let t3 = Table::build(ms(), &readded[1..]).unwrap();
    assert_eq!(indexes(&t3, reqid(7)), [1113]);
    assert_eq!(key_of(&t3, Family::V4, &flow(v4("10.1.0.1"), 6, 1, 2)), None);
}

#[test]
fn reqid_in_any_template_of_a_policy() {
    let mut p = policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 0);
    // Nested transforms: the reqid in the second (or last) template.
    p.reqids = Reqids::new([3, 7, 7, 5]);
    let ms = vec![
        mapping(reqid(3), Family::V4, v4("10.20.30.3")),
        mapping(reqid(5), Family::V4, v4("10.20.30.5")),
        mapping(reqid(7), Family::V4, v4("10.20.30.7")),
        mapping(reqid(4), Family::V4, v4("10.20.30.4")),
    ];
    let t = Table::build(ms, &[p]).unwrap();
    for k in [3, 5, 7] {
        // Once, even with the reqid in two templates.
        assert_eq!(indexes(&t, reqid(k)), [305], "reqid {k}");
    }
    assert_eq!(t.get(reqid(4)).unwrap().inactive, Some(Inactive::NoPolicy(reqid(4), Family::V4)));
    assert_eq!(t.bound_policies().collect::<Vec<_>>(), [305, 305, 305]);
    assert_eq!(key_of(&t, Family::V4, &flow(v4("10.0.0.1"), 6, 1, 2)), Some(reqid(3)));
    // Templates past the kernel's six are not kept.
    let r = Reqids::new(1..=9);
    assert_eq!(r.as_slice(), [1, 2, 3, 4, 5, 6]);
    assert!(r.contains(6) && !r.contains(7));
    assert!(Reqids::default().as_slice().is_empty());
}

#[test]
fn reqid_mapping_skips_policies_of_the_other_family() {
    // A dual-stack child: an IPv4 and an IPv6 policy under one reqid.
    let ps = [policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 7), policy(313, v6("fd00:20::"), 64, v6("fd00:10::"), 48, 7)];
    let t = Table::build(vec![mapping(reqid(7), Family::V6, v6("fd00:20::2"))], &ps).unwrap();
    let e = t.get(reqid(7)).unwrap();
    assert_eq!(indexes(&t, reqid(7)), [313]);
    assert_eq!(e.inactive, None);
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 1, 2)).is_none());
    assert_eq!(key_of(&t, Family::V6, &flow(v6("fd00:10::1"), 6, 1, 2)), Some(reqid(7)));
    // Only the other family's: no policy, rather than a family mismatch.
    let t = Table::build(vec![mapping(reqid(7), Family::V6, v6("fd00:20::2"))], &ps[..1]).unwrap();
    assert_eq!(t.get(reqid(7)).unwrap().inactive, Some(Inactive::NoPolicy(reqid(7), Family::V6)));
    // A spid mapping names one policy: there, the mismatch is the reason.
    let t = Table::build(vec![mapping(spid(305), Family::V6, v6("fd00:20::2"))], &ps).unwrap();
    let why = Unfit::FamilyMismatch { index: 305, policy: Family::V4, mapping: Family::V6 };
    assert_eq!(t.get(spid(305)).unwrap().inactive, Some(Inactive::Unfit(why)));
    assert_eq!(t.get(spid(305)).unwrap().inactive.unwrap().to_string(), "policy 305 is IPv4, the address is IPv6");
}

#[test]
fn inactive_reasons() {
    let m = || vec![mapping(reqid(7), Family::V4, v4("10.20.30.2"))];
    assert_eq!(Table::build(m(), &[]).unwrap().get(reqid(7)).unwrap().inactive, Some(Inactive::NoPolicy(reqid(7), Family::V4)));
    // Two policies of the reqid whose source is another network: the
    // lowest index is the reason, whatever the order of the walk.
    let a = policy(321, v4("10.20.31.0"), 24, v4("10.0.0.0"), 8, 7);
    let b = policy(313, v4("10.20.32.0"), 24, v4("10.1.0.0"), 16, 7);
    for ps in [[a, b], [b, a]] {
        let e = Table::build(m(), &ps).unwrap();
        let e = e.get(reqid(7)).unwrap();
        assert!(!e.is_active());
        let want = Unfit::SourceNotSelected {
            index: 313,
            family: Family::V4,
            nat: v4("10.20.30.2"),
            nat_len: 32,
            saddr: v4("10.20.32.0"),
            prefixlen_s: 24,
        };
        assert_eq!(e.inactive, Some(Inactive::Unfit(want)));
        assert_eq!(e.inactive.unwrap().to_string(), "policy 313 selects src 10.20.32.0/24, not 10.20.30.2");
    }
    // One that fits is enough: no reason then.
    let c = policy(329, v4("10.20.30.0"), 24, v4("10.2.0.0"), 16, 7);
    let t = Table::build(m(), &[a, b, c]).unwrap();
    assert_eq!(t.get(reqid(7)).unwrap().inactive, None);
    assert_eq!(indexes(&t, reqid(7)), [329]);
    assert!(!t.binds_policy(313) && !t.binds_policy(321));
    // A prefix mapping needs the policy to select the whole prefix.
    let p = policy(305, v4("10.20.30.0"), 25, v4("10.0.0.0"), 8, 7);
    let t = Table::build(vec![netmap(reqid(7), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0"))], &[p]).unwrap();
    let e = t.get(reqid(7)).unwrap();
    assert_eq!(e.inactive.unwrap().to_string(), "policy 305 selects src 10.20.30.0/25, not 10.20.30.0/24");
    // Texts of the reasons that name no policy.
    assert_eq!(Inactive::NoPolicy(spid(305), Family::V4).to_string(), "no out policy with index 305");
    assert_eq!(Inactive::NoPolicy(reqid(7), Family::V6).to_string(), "no IPv6 out policy with a template of reqid 7");
    assert_eq!(Inactive::NoPolicy(reqid(u32::MAX), Family::V4).to_string(), "no IPv4 out policy with a template of reqid 4294967295");
}

#[test]
fn netmap_translates_each_source_keeping_its_host_part() {
    let m = netmap(reqid(7), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0"));
    assert!(m.admits(&v4("192.168.1.17")));
    assert!(!m.admits(&v4("192.168.2.17")));
    assert_eq!(m.translate(&v4("192.168.1.17")), v4("10.20.30.17"));
    assert_eq!(m.translate(&v4("192.168.1.0")), v4("10.20.30.0"));
    assert_eq!(m.translate(&v4("192.168.1.255")), v4("10.20.30.255"));
    let m = netmap(reqid(7), Family::V4, v4("10.20.16.0"), 20, v4("192.168.0.0"));
    assert_eq!(m.translate(&v4("192.168.9.200")), v4("10.20.25.200"));
    let m = netmap(reqid(7), Family::V6, v6("fd00:20:0:5::"), 64, v6("2001:db8:1:2::"));
    assert!(m.admits(&v6("2001:db8:1:2:a:b:c:d")));
    assert!(!m.admits(&v6("2001:db8:1:3:a:b:c:d")));
    assert_eq!(m.translate(&v6("2001:db8:1:2:a:b:c:d")), v6("fd00:20:0:5:a:b:c:d"));
    // A single address: everything becomes it.
    let m = mapping(spid(305), Family::V4, v4("10.20.30.2"));
    assert!(m.admits(&v4("192.168.2.17")) && m.admits(&v6("fd00::1")));
    assert_eq!(m.translate(&v4("192.168.1.17")), v4("10.20.30.2"));
    // A single host mapped 1:1 (a /32 with from).
    let m = netmap(spid(305), Family::V4, v4("10.20.30.2"), 32, v4("192.168.1.17"));
    assert!(m.admits(&v4("192.168.1.17")) && !m.admits(&v4("192.168.1.18")));
    assert_eq!(m.translate(&v4("192.168.1.17")), v4("10.20.30.2"));
}

#[test]
fn splice_keeps_prefix_and_host_bits() {
    let p = v4("10.20.30.0");
    assert_eq!(p.splice(24, &v4("192.168.1.17")), v4("10.20.30.17"));
    assert_eq!(p.splice(0, &v4("192.168.1.17")), v4("192.168.1.17"));
    assert_eq!(p.splice(32, &v4("192.168.1.17")), v4("10.20.30.0"));
    assert_eq!(v4("10.20.30.128").splice(25, &v4("1.2.3.4")), v4("10.20.30.132"));
    // Host bits of the prefix itself are not kept.
    assert_eq!(v4("10.20.30.99").splice(24, &v4("192.168.1.17")), v4("10.20.30.17"));
    assert_eq!(v6("fd00::").splice(64, &v6("2001:db8::1:2:3:4")), v6("fd00::1:2:3:4"));
    assert_eq!(v6("fd00::").splice(128, &v6("2001:db8::1")), v6("fd00::"));
}

#[test]
fn from_prefix_admits_flows_in_lookup() {
    // One policy; a 1:1 mapping for one office network by spid, a reqid
    // mapping that catches the rest.
    let ps = [policy(305, v4("10.20.0.0"), 16, v4("10.0.0.0"), 8, 7)];
    let ms = vec![
        netmap(spid(305), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")),
        mapping(reqid(7), Family::V4, v4("10.20.99.1")),
    ];
    let t = Table::build(ms, &ps).unwrap();
    let f = flow(v4("10.0.0.1"), 6, 1, 2);
    let m = t.lookup(Family::V4, &from(v4("192.168.1.17"), f)).unwrap();
    assert_eq!(m.key, spid(305));
    assert_eq!(m.translate(&v4("192.168.1.17")), v4("10.20.30.17"));
    let m = t.lookup(Family::V4, &from(v4("192.168.2.17"), f)).unwrap();
    assert_eq!(m.key, reqid(7));
    assert_eq!(m.translate(&v4("192.168.2.17")), v4("10.20.99.1"));
    // Without the catch-all, other sources are not translated.
    let t = Table::build(vec![netmap(spid(305), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0"))], &ps).unwrap();
    assert!(t.lookup(Family::V4, &from(v4("192.168.2.17"), f)).is_none());
    assert!(t.lookup(Family::V4, &from(v4("192.168.1.255"), f)).is_some());
    // IPv6 /64.
    let ps = [policy(313, v6("fd00:20::"), 48, v6("fd00:10::"), 48, 7)];
    let t = Table::build(vec![netmap(reqid(7), Family::V6, v6("fd00:20:0:5::"), 64, v6("2001:db8:1:2::"))], &ps).unwrap();
    let f = flow(v6("fd00:10::1"), 6, 1, 2);
    let m = t.lookup(Family::V6, &from(v6("2001:db8:1:2::99"), f)).unwrap();
    assert_eq!(m.translate(&v6("2001:db8:1:2::99")), v6("fd00:20:0:5::99"));
    assert!(t.lookup(Family::V6, &from(v6("2001:db8:1:3::99"), f)).is_none());
}

#[test]
fn ports_protocol_and_interface_are_honoured() {
    let mut p = policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 0);
    p.selector.dest.proto = 6;
    p.selector.dest.dport = 443u16.to_be();
    p.selector.dest.dport_mask = 0xffff;
    p.selector.dest.ifindex = 2;
    let t = Table::build(vec![mapping(spid(305), Family::V4, v4("10.20.30.2"))], &[p]).unwrap();
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 5555, 443)).is_some());
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 5555, 80)).is_none());
    assert!(t.lookup(Family::V4, &flow(v4("10.0.0.1"), 17, 5555, 443)).is_none());
    let mut other_dev = flow(v4("10.0.0.1"), 6, 5555, 443);
    other_dev.oif = 3;
    assert!(t.lookup(Family::V4, &other_dev).is_none());
}

#[test]
fn icmp_selects_on_type_and_code() {
    let mut p = policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 0);
    p.selector.dest.proto = IPPROTO_ICMP;
    p.selector.dest.sport = 8u16.to_be(); // echo request
    p.selector.dest.sport_mask = 0xffff;
    let t = Table::build(vec![mapping(spid(305), Family::V4, v4("10.20.30.2"))], &[p]).unwrap();
    let src = v4("192.168.1.17");
    let echo = Flow::from_tuple(src, v4("10.0.0.1"), IPPROTO_ICMP, 0x1234, 0, 8, 0, 2);
    let tstamp = Flow::from_tuple(src, v4("10.0.0.1"), IPPROTO_ICMP, 0x1234, 0, 13, 0, 2);
    assert_eq!(echo.saddr, src);
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
    assert_eq!(t.by_nat_addr(Family::V4, &v4("10.20.30.2"), &f).unwrap().key, spid(305));
    assert!(t.by_nat_addr(Family::V4, &v4("10.20.30.3"), &f).is_none());
}

#[test]
fn nat_address_index_with_prefixes() {
    let ps = [policy(305, v4("10.20.0.0"), 16, v4("10.0.0.0"), 8, 7), policy(313, v4("10.20.0.0"), 16, v4("172.16.0.0"), 12, 0)];
    let ms = vec![
        // The whole /24, from one office.
        netmap(reqid(7), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")),
        // One address inside it, for everyone, on another policy.
        mapping(spid(313), Family::V4, v4("10.20.30.2")),
        // An inactive /24 from another office, overlapping.
        netmap(reqid(9), Family::V4, v4("10.20.30.0"), 24, v4("192.168.2.0")),
        netmap(spid(321), Family::V6, v6("fd00:20::"), 64, v6("2001:db8::")),
    ];
    let t = Table::build(ms, &ps).unwrap();
    for a in ["10.20.30.0", "10.20.30.2", "10.20.30.17", "10.20.30.255"] {
        assert!(t.has_nat_addr(Family::V4, &v4(a)), "{a}");
    }
    for a in ["10.20.31.0", "10.20.29.255", "10.20.0.0"] {
        assert!(!t.has_nat_addr(Family::V4, &v4(a)), "{a}");
    }
    assert!(t.has_nat_addr(Family::V6, &v6("fd00:20::1:2:3:4")));
    assert!(!t.has_nat_addr(Family::V6, &v6("fd00:21::")));
    assert!(!t.has_nat_addr(Family::V6, &v4("10.20.30.17")));

    let by = |nat: &str, saddr: &str, daddr: &str| {
        let f = from(v4(saddr), flow(v4(daddr), 6, 1, 2));
        t.by_nat_addr(Family::V4, &v4(nat), &f).map(|m| m.key)
    };
    // The flow's source and policy tell the mappings apart.
    assert_eq!(by("10.20.30.17", "192.168.1.17", "10.0.0.1"), Some(reqid(7)));
    assert_eq!(by("10.20.30.17", "192.168.2.17", "10.0.0.1"), Some(reqid(9)), "admits the source, binds nothing");
    assert_eq!(by("10.20.30.2", "192.168.1.2", "172.16.0.1"), Some(spid(313)), "binds a policy that selects the flow");
    assert_eq!(by("10.20.30.2", "192.168.1.2", "10.0.0.1"), Some(reqid(7)));
    // The spid mapping admits every source: it comes first in key order
    // among those that admit the source when no policy selects the flow.
    assert_eq!(by("10.20.30.2", "192.168.3.2", "10.0.0.1"), Some(spid(313)));
    // No mapping admits the source: the first in key order.
    assert_eq!(by("10.20.30.17", "192.168.3.17", "10.0.0.1"), Some(reqid(7)));
    assert_eq!(by("10.20.31.17", "192.168.1.17", "10.0.0.1"), None);
}

#[test]
fn by_nat_addr_goes_by_key_order_across_prefix_lengths() {
    // Neither mapping admits the source: the lowest key, whatever the
    // order of their prefix lengths in the table.
    for (a, b) in [(24, 32), (32, 24)] {
        let m = |key, len: u8| netmap(key, Family::V4, v4("10.20.30.2").masked(len), len, v4("192.168.1.2").masked(len));
        let t = Table::build(vec![m(reqid(1), a), m(reqid(2), b)], &[]).unwrap();
        let f = from(v4("192.168.9.9"), flow(v4("10.0.0.1"), 6, 1, 2));
        assert_eq!(t.by_nat_addr(Family::V4, &v4("10.20.30.2"), &f).map(|m| m.key), Some(reqid(1)), "/{a} then /{b}");
        let t = Table::build(vec![m(reqid(2), a), m(reqid(1), b)], &[]).unwrap();
        assert_eq!(t.by_nat_addr(Family::V4, &v4("10.20.30.2"), &f).map(|m| m.key), Some(reqid(1)), "/{b} then /{a}");
    }
    // The lowest key of all, with a /32 elsewhere before them.
    let t = Table::build(
        vec![
            mapping(reqid(1), Family::V4, v4("10.99.0.1")),
            netmap(reqid(2), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")),
            netmap(reqid(3), Family::V4, v4("10.20.30.2"), 32, v4("192.168.1.2")),
        ],
        &[],
    )
    .unwrap();
    let f = from(v4("192.168.9.9"), flow(v4("10.0.0.1"), 6, 1, 2));
    assert_eq!(t.by_nat_addr(Family::V4, &v4("10.20.30.2"), &f).map(|m| m.key), Some(reqid(2)));
    let f = from(v4("192.168.1.2"), f);
    assert_eq!(t.by_nat_addr(Family::V4, &v4("10.20.30.2"), &f).map(|m| m.key), Some(reqid(2)));
}

#[test]
fn dump_resumes_by_key() {
    let t = Table::build(
        vec![
            mapping(reqid(7), Family::V4, v4("10.20.30.7")),
            mapping(spid(313), Family::V6, v6("fd00:20::2")),
            mapping(reqid(u32::MAX), Family::V4, v4("10.20.30.8")),
            mapping(spid(305), Family::V4, v4("10.20.30.2")),
            mapping(spid(u32::MAX), Family::V4, v4("10.20.30.9")),
            mapping(reqid(1), Family::V4, v4("10.20.30.1")),
        ],
        &[],
    )
    .unwrap();
    let keys: Vec<MapKey> = t.entries().map(|e| e.key).collect();
    let want = [spid(305), spid(313), spid(u32::MAX), reqid(1), reqid(7), reqid(u32::MAX)];
    assert_eq!(keys, want);
    assert_eq!(t.mappings().map(|m| m.key).collect::<Vec<_>>(), want);
    let from = |k| t.entries_from(k).map(|e| e.key).collect::<Vec<_>>();
    assert_eq!(from(spid(0)), want);
    assert_eq!(from(spid(306)), want[1..]);
    assert_eq!(from(reqid(0)), want[3..]);
    assert_eq!(from(reqid(7)), want[4..]);
    assert!(from(MapKey::Reqid(u32::MAX)).len() == 1);
    // The module's dump cursor: the next key's cursor plus one.
    for (i, k) in want.iter().enumerate() {
        let c = k.cursor() + 1;
        assert_eq!(MapKey::from_cursor(c - 1), Some(*k));
        assert_eq!(from(MapKey::from_cursor(c - 1).unwrap()), want[i..]);
    }
}

#[test]
fn key_cursors_round_trip_in_key_order() {
    let keys = [spid(0), spid(1), spid(305), spid(u32::MAX), reqid(0), reqid(1), reqid(7), reqid(u32::MAX)];
    for w in keys.windows(2) {
        assert!(w[0] < w[1], "{:?} < {:?}", w[0], w[1]);
        assert!(w[0].cursor() < w[1].cursor(), "{:?} < {:?}", w[0], w[1]);
    }
    for k in keys {
        assert_eq!(MapKey::from_cursor(k.cursor()), Some(k));
    }
    // The cursor after the last spid is the first reqid; after the last
    // reqid, none.
    assert_eq!(MapKey::from_cursor(spid(u32::MAX).cursor() + 1), Some(reqid(0)));
    assert_eq!(MapKey::from_cursor(reqid(u32::MAX).cursor() + 1), None);
    assert_eq!(MapKey::from_cursor(u64::MAX), None);
    assert_eq!(spid(305).to_string(), "spid 305");
    assert_eq!(reqid(7).to_string(), "reqid 7");
}

#[test]
fn lookup_agrees_with_a_linear_scan_on_many_mappings() {
    // 10,000 policies over /16../32 prefixes, mapped by spid or, in groups
    // of up to four, by reqid; the index must give the same answer as
    // checking every binding in the lookup's order of preference.
    let mut ps = Vec::new();
    let mut ms = Vec::new();
    for i in 0..10_000u32 {
        let plen = 16 + (i % 17) as u8;
        let dst = Addr::v4([10, (i >> 8) as u8, i as u8, 0]).masked(plen);
        let r = 1 + i / 4;
        ps.push(with_priority(policy(1 + 8 * i, v4("10.20.30.0"), 24, dst, plen, r), i % 3));
        if i % 5 == 0 {
            ms.push(mapping(spid(1 + 8 * i), Family::V4, v4("10.20.30.2")));
        }
        if i % 4 == 0 && i % 3 != 0 {
            ms.push(mapping(reqid(r), Family::V4, v4("10.20.30.3")));
        }
    }
    let t = Table::build(ms.clone(), &ps).unwrap();
    // Bindings: each policy with the mappings whose key names it.
    let bindings: Vec<_> = ps
        .iter()
        .flat_map(|p| ms.iter().filter(move |m| m.key == spid(p.index) || p.reqids.as_slice().iter().any(|&r| m.key == reqid(r))).map(move |m| (m, p)))
        .collect();
    let best = |f: &Flow| {
        bindings
            .iter()
            .filter(|(_, p)| p.selector.dest.matches_flow(f))
            .min_by_key(|(m, p)| (p.priority, std::cmp::Reverse(p.selector.dest.prefixlen_d), m.key, p.index))
            .map(|(m, _)| m.key)
    };
    let mut hits = 0;
    for i in 0..3000u32 {
        let f = flow(Addr::v4([10, ((i * 7) >> 8) as u8, (i * 13) as u8, (i * 31) as u8]), 17, 1, 2);
        let got = key_of(&t, Family::V4, &f);
        assert_eq!(got, best(&f), "flow {i}");
        hits += usize::from(got.is_some());
    }
    assert!(hits > 100, "{hits} hits");
}

#[test]
fn memory_per_mapping_is_at_most_720_bytes() {
    // A mapping with one binding, as the module allocates it: the shared
    // mapping with its bindings and what the packet path learns of them,
    // its entries in the indexes (by key, by address, by destination, by
    // policy), each a node of a persistent tree behind a refcount, and its
    // counters, each allocation from the smallest kmalloc cache that fits.
    //
    // Flat sorted arrays took 304 bytes, but a writer had to copy all of
    // them to change one mapping, O(n).  Tree nodes that snapshots share
    // make a single map or unmap O(log n), for about 2.4 times the memory:
    // 720 bytes, of which 256 for the shared mapping (with the name of the
    // IKE child a daemon keeps it for, up to 63 bytes inline, and its
    // bindings' vector and inactive reason, one or the other, so that it
    // fits kmalloc-256), 64 to 96 per tree node, and 128 for the binding's
    // leaf of the destination index's hash trie (the leaf and its run).
    type Shared = (Arc<()>, Option<Arc<()>>, Option<Arc<()>>);
    let table = Table::<Shared>::memory_per_mapping(1);
    let stats = std::mem::size_of::<logic::stats::Stats>();
    let counters = logic::table::slab_size(4usize.next_multiple_of(8) + stats);
    let per_mapping = table + counters;
    assert!(per_mapping <= 720, "{per_mapping} bytes per mapping: {table} in the table + {counters} counters");
    assert_eq!(std::mem::size_of::<PolicyInfo>(), 36);
}

#[test]
fn one_change_copies_a_few_tree_paths_however_large_the_table() {
    // The nodes a with_one allocates, on average over many changes, at
    // sizes 16 times apart: O(log n) grows by a few nodes, O(n) would
    // grow 16 times.
    let fresh = |n: u32| -> f64 {
        let ms: Vec<_> = (1..=n).map(|i| mapping(reqid(i), Family::V4, Addr::v4([10, 0, (i >> 8) as u8, i as u8]))).collect();
        let ps: Vec<_> = (1..=n).map(|i| policy(8 * i + 1, Addr::v4([10, 0, (i >> 8) as u8, i as u8]), 32, v4("192.168.0.0"), 16, i)).collect();
        let t = Table::build(ms, &ps).unwrap();
        let before = t.nodes();
        let mut total = 0;
        for i in (1..=n).step_by((n / 64).max(1) as usize) {
            let m = mapping(reqid(i), Family::V4, Addr::v4([10, 0, (i >> 8) as u8, i as u8]));
            let next = t.with_one(reqid(i), Some(m), std::slice::from_ref(&ps[(i - 1) as usize])).unwrap();
            total += next.nodes().difference(&before).count();
            assert_eq!(next.len(), n as usize);
        }
        total as f64 / 64.0
    };
    let (small, large) = (fresh(256), fresh(4096));
    assert!(small > 4.0, "{small} nodes per change at 256");
    assert!(large < 2.0 * small, "{small} nodes per change at 256 mappings, {large} at 4096");
}

#[test]
fn hash_collisions_are_resolved_by_the_address() {
    // Many /32 destinations in one group: each flow finds exactly its own.
    let ps: Vec<_> = (0..5000u32).map(|i| policy(1 + 8 * i, v4("10.20.30.2"), 32, Addr::v4([10, (i >> 8) as u8, i as u8, 7]), 32, 0)).collect();
    let ms: Vec<_> = (0..5000u32).map(|i| mapping(spid(1 + 8 * i), Family::V4, v4("10.20.30.2"))).collect();
    let t = Table::build(ms, &ps).unwrap();
    for i in (0..5000u32).step_by(7) {
        let f = flow(Addr::v4([10, (i >> 8) as u8, i as u8, 7]), 17, 1, 2);
        assert_eq!(key_of(&t, Family::V4, &f), Some(spid(1 + 8 * i)));
        let miss = flow(Addr::v4([10, (i >> 8) as u8, i as u8, 8]), 17, 1, 2);
        assert!(t.lookup(Family::V4, &miss).is_none());
    }
}

#[test]
fn edited_feeds_the_next_build() {
    let t = howto();
    let mut seen = Vec::new();
    let next = t
        .edited(|m| {
            seen.push(m.key);
            (m.key != spid(313)).then(|| Mapping { nat: v4("10.20.30.9"), ..m.clone() })
        })
        .unwrap();
    assert_eq!(seen, [spid(305), spid(313), spid(321)]);
    let t2 = Table::build(next, &[policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 0)]).unwrap();
    assert_eq!(t2.entries().map(|e| e.key).collect::<Vec<_>>(), [spid(305), spid(321)]);
    assert_eq!(t2.lookup(Family::V4, &flow(v4("10.0.0.1"), 6, 1, 2)).unwrap().nat, v4("10.20.30.9"));
    // Same policy, same binding; another selector, another binding.
    let t3 = Table::build(t.edited(|m| Some(m.clone())).unwrap(), &[policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 1)]).unwrap();
    assert!(t.get(spid(305)).unwrap().same_binding(&t3.get(spid(305)).unwrap()));
    assert!(!t.get(spid(305)).unwrap().same_binding(&t2.get(spid(305)).unwrap()));
    assert!(t.get(spid(321)).unwrap().same_binding(&t2.get(spid(321)).unwrap()));
    assert!(!t.get(spid(313)).unwrap().same_binding(&t3.get(spid(313)).unwrap()));
}

/// An SA selector from `saddr`/`plen_s` to `daddr`/`plen_d`.
fn sa_selector(saddr: Addr, plen_s: u8, daddr: Addr, plen_d: u8) -> Selector {
    Selector { saddr, dest: DestSelector { prefixlen_s: plen_s, daddr, prefixlen_d: plen_d, ..Default::default() } }
}

fn v4_sa(s: Selector) -> SaScope {
    SaScope::Selected(Family::V4, s)
}

#[test]
fn sa_readiness_is_learned_only_from_sas_that_serve_every_flow_of_the_binding() {
    let t = howto();
    let f = flow(v4("10.0.0.1"), 17, 40000, 5001);
    fn found<'a>(t: &'a Table<Arc<()>>, f: &Flow) -> logic::table::Found<'a, Arc<()>> {
        t.find(Family::V4, f).expect("mapped")
    }
    assert_eq!(found(&t, &f).policy, 305);
    assert!(!found(&t, &f).sa_known_ready(0), "nothing learned in a new table");

    // Narrower than the policy's 10.0.0.0/8: another flow of the policy
    // would not find this SA.
    found(&t, &f).learn_sa_ready(0, [v4_sa(sa_selector(v4("10.20.30.2"), 32, v4("10.0.0.0"), 16))]);
    assert!(!found(&t, &f).sa_known_ready(0), "an SA for 10.0.0.0/16 does not serve 10.0.0.0/8");
    // A selector that pins a port the policy leaves open.
    let port = Selector { dest: DestSelector { dport: 5001u16.to_be(), dport_mask: 0xffff, proto: 17, ..sa_selector(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8).dest }, ..sa_selector(v4("10.20.30.2"), 32, v4("10.0.0.0"), 8) };
    found(&t, &f).learn_sa_ready(0, [v4_sa(port)]);
    assert!(!found(&t, &f).sa_known_ready(0), "an SA for UDP port 5001 does not serve every flow");
    // An SA that the SAD picks per flow, e.g. in transport mode.
    found(&t, &f).learn_sa_ready(0, [SaScope::SomeFlows]);
    assert!(!found(&t, &f).sa_known_ready(0));
    // A selector of the other family (an IPv6 SA of an IPv4 policy).
    found(&t, &f).learn_sa_ready(0, [SaScope::Selected(Family::V6, sa_selector(v6("::"), 0, v6("::"), 0))]);
    assert!(!found(&t, &f).sa_known_ready(0));
    // One of two SAs of the bundle is narrow: not learned.
    found(&t, &f).learn_sa_ready(0, [SaScope::EveryFlow, v4_sa(sa_selector(v4("10.20.30.0"), 24, v4("10.1.0.0"), 16))]);
    assert!(!found(&t, &f).sa_known_ready(0));
    // A source prefix that leaves out the mapping's address.
    found(&t, &f).learn_sa_ready(0, [v4_sa(sa_selector(v4("10.20.31.0"), 24, v4("10.0.0.0"), 8))]);
    assert!(!found(&t, &f).sa_known_ready(0));

    // Wider, or no selector at all (what IKE daemons install in tunnel mode).
    found(&t, &f).learn_sa_ready(0, [v4_sa(sa_selector(v4("10.20.0.0"), 16, v4("0.0.0.0"), 0))]);
    assert!(found(&t, &f).sa_known_ready(0));
    assert!(!found(&t, &f).sa_known_ready(1), "an SPD or SAD event since voids it");
    found(&t, &f).learn_sa_ready(7, [SaScope::EveryFlow]);
    assert!(found(&t, &f).sa_known_ready(7));
    assert!(!found(&t, &f).sa_known_ready(0));

    // Per binding: the other mapping's binding learned nothing.
    let g = flow(v6("fd00:10::1"), 6, 40000, 22);
    assert!(!t.find(Family::V6, &g).expect("mapped").sa_known_ready(7));
    // And per table: a rebuilt snapshot starts from nothing.
    assert!(!found(&howto(), &f).sa_known_ready(7));
}

#[test]
fn a_netmap_binding_needs_sas_for_its_whole_prefix() {
    let t = Table::build(
        vec![netmap(spid(305), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0"))],
        &[policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 8, 0)],
    )
    .unwrap();
    let f = flow(v4("10.0.0.1"), 17, 40000, 5001);
    let found = t.find(Family::V4, &f).expect("mapped");
    found.learn_sa_ready(3, [v4_sa(sa_selector(v4("10.20.30.17"), 32, v4("10.0.0.0"), 8))]);
    assert!(!found.sa_known_ready(3), "an SA of one translated source does not serve the others");
    found.learn_sa_ready(3, [v4_sa(sa_selector(v4("10.20.30.0"), 24, v4("10.0.0.0"), 8))]);
    assert!(found.sa_known_ready(3));
}

/// A rival from a seen policy, keyed or not.
fn rival(p: &SeenPolicy, keyed: bool) -> Rival {
    Rival { index: p.index, family: Some(p.family), selector: p.selector, keyed }
}

fn sole(t: &Table<Arc<()>>, family: Family, f: &Flow) -> bool {
    t.find(family, f).expect("a binding").sole
}

#[test]
fn a_policy_is_sole_until_a_rival_may_take_its_translated_flows() {
    let mapped = policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 1);
    let build = |rivals: &[Rival], generation| {
        let mut t = Table::build(vec![mapping(spid(305), Family::V4, v4("10.20.30.2"))], &[mapped]).unwrap();
        t.judge_sole(rivals, None, generation);
        t
    };
    let to_office = flow(v4("10.0.0.1"), 17, 4000, 53);
    let alone = build(&[rival(&mapped, false)], 7);
    assert!(sole(&alone, Family::V4, &to_office));
    assert_eq!(alone.spd_generation(), 7);

    // A policy for other sources or other destinations does not compete.
    let lan = policy(9, v4("192.168.1.0"), 24, v4("10.0.0.0"), 8, 2);
    let elsewhere = policy(17, v4("0.0.0.0"), 0, v4("172.16.0.0"), 12, 2);
    assert!(sole(&build(&[rival(&mapped, false), rival(&lan, false), rival(&elsewhere, false)], 1), Family::V4, &to_office));
    // One for some of its destinations, from any source, does, whatever
    // its priority: the SPD's order among equals is not the table's.
    let one_host = policy(25, v4("0.0.0.0"), 0, v4("10.0.0.1"), 32, 2);
    assert!(!sole(&build(&[rival(&mapped, false), rival(&one_host, false)], 1), Family::V4, &to_office));
    // So does a full-tunnel policy of the translated address.
    let full = policy(33, v4("10.20.30.0"), 24, v4("0.0.0.0"), 0, 3);
    assert!(!sole(&build(&[rival(&mapped, false), rival(&full, false)], 1), Family::V4, &to_office));
    // A policy of the other family does not.
    let v6_full = Rival { family: Some(Family::V6), ..rival(&policy(41, v6("::"), 0, v6("::"), 0, 3), false) };
    assert!(sole(&build(&[rival(&mapped, false), v6_full], 1), Family::V4, &to_office));
    // One of a family xfrm_nat does not know may match anything.
    let unknown = Rival { family: None, ..v6_full };
    assert!(!sole(&build(&[rival(&mapped, false), unknown], 1), Family::V4, &to_office));
    // A bound policy that needs a mark or an if_id, or that the walk did
    // not see, is never sole.
    assert!(!sole(&build(&[rival(&mapped, true)], 1), Family::V4, &to_office));
    assert!(!sole(&build(&[], 1), Family::V4, &to_office));
}

#[test]
fn with_one_keeps_the_older_judgement_of_the_others() {
    let a = policy(305, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 1);
    let b = policy(313, v4("10.20.30.3"), 32, v4("172.16.0.0"), 12, 2);
    let rivals = [rival(&a, false), rival(&b, false)];
    let mut t = Table::build(vec![mapping(spid(305), Family::V4, v4("10.20.30.2"))], &[a]).unwrap();
    t.judge_sole(&rivals, None, 4);
    let mut t = t.with_one(spid(313), Some(mapping(spid(313), Family::V4, v4("10.20.30.3"))), &[b]).unwrap();
    assert_eq!(t.spd_generation(), 4, "with_one keeps the generation");
    t.judge_sole(&rivals, Some(spid(313)), 6);
    assert_eq!(t.spd_generation(), 4, "the others were judged at 4");
    assert!(sole(&t, Family::V4, &flow(v4("10.0.0.1"), 17, 1, 2)));
    assert!(sole(&t, Family::V4, &flow(v4("172.16.0.1"), 17, 1, 2)));
    assert!(t.binds(spid(313), 313) && !t.binds(spid(313), 305) && !t.binds(spid(999), 313));

    // Alone in its table, a judgement sets the generation.
    let mut only = Table::empty().with_one(spid(313), Some(mapping(spid(313), Family::V4, v4("10.20.30.3"))), &[b]).unwrap();
    only.judge_sole(&rivals, Some(spid(313)), 6);
    assert_eq!(only.spd_generation(), 6);
}

#[test]
fn the_rival_index_judges_as_comparing_every_pair_would() {
    // A small address pool, so that prefixes nest and meet often.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut judged, mut sole) = (0, 0);
    for _ in 0..200 {
        let mut pick = |lens: &[u8]| {
            let a = v4(&format!("10.{}.{}.{}", next(2), next(3) * 64, next(4)));
            let len = lens[next(lens.len() as u64) as usize];
            (a.masked(len), len)
        };
        let mut policies = Vec::new();
        let mut rivals = Vec::new();
        let mut mappings = Vec::new();
        for k in 0..6u32 {
            let (s, ls) = pick(&[0, 8, 16, 24, 26, 32]);
            let (d, ld) = pick(&[0, 8, 16, 24, 32]);
            let p = policy(8 * k + 1, s, ls, d, ld, 0);
            rivals.push(rival(&p, k == 5));
            policies.push(p);
            // Mappings for the first three, translating into their source.
            if k < 3 {
                let len = ls.max(24);
                mappings.push(Mapping { nat_len: len, ..mapping(spid(8 * k + 1), Family::V4, s.masked(len)) });
            }
        }
        let mut t = Table::build(mappings, &policies).unwrap();
        t.judge_sole(&rivals, None, 1);
        for e in t.entries() {
            for (i, b) in e.bindings.iter().enumerate() {
                let brute = rivals.iter().any(|r| r.index == b.index && !r.keyed)
                    && !rivals.iter().any(|r| r.index != b.index && r.may_match(Family::V4, &e.nat, e.nat_len, &b.policy.selector));
                assert_eq!(e.is_sole(i), brute, "binding {} of {:?}", b.index, e.key);
                judged += 1;
                sole += usize::from(brute);
            }
        }
    }
    // Both answers, many times.
    assert!(judged > 300 && sole > 30 && judged - sole > 30, "judged {judged}, sole {sole}");
}

/// The flow a reply to a remote host's new flow towards `to` would be:
/// from `to` back to `remote`.
fn reply(to: Addr, remote: Addr, proto: u8, sport: u16, dport: u16) -> Flow {
    Flow { saddr: to, daddr: remote, proto, sport: sport.to_be(), dport: dport.to_be(), oif: 0 }
}

fn inbound(m: Mapping<Arc<()>>) -> Mapping<Arc<()>> {
    Mapping { inbound: true, ..m }
}

#[test]
fn inbound_flows_come_only_through_an_sa_of_the_bound_policys_reqid() {
    use logic::table::Inbound;
    // The office (10.0.0.0/8) reaches LAN host 192.168.77.5 as 172.31.8.5.
    let p = policy(305, v4("172.31.8.0"), 24, v4("10.0.0.0"), 8, 7);
    let m = inbound(netmap(reqid(7), Family::V4, v4("172.31.8.0"), 24, v4("192.168.77.0")));
    let t = Table::build(vec![m], &[p]).unwrap();
    let r = reply(v4("172.31.8.5"), v4("10.1.2.3"), 17, 53, 4000);
    match t.admit_inbound(Family::V4, &r, Some(7)) {
        Inbound::Admit { mapping, host, source: None } => {
            assert_eq!(mapping.key, reqid(7));
            assert_eq!(host, v4("192.168.77.5"));
        }
        _ => panic!("not admitted"),
    }
    // Plaintext, another child's SA, reqid 0: refused, counted to it.
    for sa in [None, Some(8), Some(0)] {
        assert!(matches!(t.admit_inbound(Family::V4, &r, sa), Inbound::Refuse(m) if m.key == reqid(7)), "{sa:?}");
    }
    // A remote source the policy would not carry the replies back to.
    let stray = reply(v4("172.31.8.5"), v4("203.0.113.9"), 17, 53, 4000);
    assert!(matches!(t.admit_inbound(Family::V4, &stray, Some(7)), Inbound::Refuse(_)));
    // Outside the prefix, or the other family: not the module's.
    let elsewhere = reply(v4("172.31.9.5"), v4("10.1.2.3"), 17, 53, 4000);
    assert!(matches!(t.admit_inbound(Family::V4, &elsewhere, Some(7)), Inbound::NotOurs));
    assert!(matches!(t.admit_inbound(Family::V6, &r, Some(7)), Inbound::NotOurs));
}

#[test]
fn a_mapping_without_inbound_leaves_inbound_flows_alone() {
    use logic::table::Inbound;
    let p = policy(305, v4("172.31.8.0"), 24, v4("10.0.0.0"), 8, 7);
    let m = netmap(reqid(7), Family::V4, v4("172.31.8.0"), 24, v4("192.168.77.0"));
    let t = Table::build(vec![m], &[p]).unwrap();
    let r = reply(v4("172.31.8.5"), v4("10.1.2.3"), 6, 22, 40000);
    assert!(matches!(t.admit_inbound(Family::V4, &r, Some(7)), Inbound::NotOurs));
    assert!(matches!(t.admit_inbound(Family::V4, &r, None), Inbound::NotOurs));
}

#[test]
fn an_inactive_inbound_mapping_refuses_and_a_spid_key_takes_its_policys_reqid() {
    use logic::table::Inbound;
    let m = inbound(netmap(spid(305), Family::V6, v6("fd00:8::"), 64, v6("fd00:77::")));
    let r = reply(v6("fd00:8::5"), v6("fd10::3"), 58, 0, 0);
    let inactive = Table::build(vec![m.clone()], &[]).unwrap();
    assert!(matches!(inactive.admit_inbound(Family::V6, &r, Some(9)), Inbound::Refuse(_)));
    let p = policy(305, v6("fd00:8::"), 64, v6("fd10::"), 16, 9);
    let t = Table::build(vec![m], &[p]).unwrap();
    assert!(matches!(t.admit_inbound(Family::V6, &r, Some(9)), Inbound::Admit { host, .. } if host == v6("fd00:77::5")));
    assert!(matches!(t.admit_inbound(Family::V6, &r, Some(10)), Inbound::Refuse(_)));
}

#[test]
fn of_two_inbound_mappings_over_one_prefix_the_sas_reqid_picks_one() {
    use logic::table::Inbound;
    let ps = [
        policy(305, v4("172.31.8.0"), 24, v4("10.0.0.0"), 8, 7),
        policy(313, v4("172.31.8.0"), 24, v4("10.0.0.0"), 8, 8),
    ];
    let a = inbound(netmap(reqid(7), Family::V4, v4("172.31.8.0"), 24, v4("192.168.77.0")));
    let b = inbound(netmap(reqid(8), Family::V4, v4("172.31.8.0"), 24, v4("192.168.88.0")));
    let t = Table::build(vec![a, b], &ps).unwrap();
    let r = reply(v4("172.31.8.5"), v4("10.1.2.3"), 17, 53, 4000);
    assert!(matches!(t.admit_inbound(Family::V4, &r, Some(8)), Inbound::Admit { mapping, host, .. } if mapping.key == reqid(8) && host == v4("192.168.88.5")));
    assert!(matches!(t.admit_inbound(Family::V4, &r, Some(7)), Inbound::Admit { mapping, .. } if mapping.key == reqid(7)));
    assert!(matches!(t.admit_inbound(Family::V4, &r, Some(9)), Inbound::Refuse(m) if m.key == reqid(7)));
}

/// `m` with remote prefix `real`/`len`, addressed as `alias`/`len`.
fn with_remote(m: Mapping<Arc<()>>, real: Addr, alias: Addr, len: u8) -> Mapping<Arc<()>> {
    Mapping { remote: Some(logic::table::Remote { real, alias, len, zone: 0 }), ..m }
}

#[test]
fn a_remote_alias_takes_only_the_flows_sent_to_it() {
    // Both sites use 192.168.1.0/24; here the remote one is 10.99.1.0/24.
    let p = policy(305, v4("10.20.30.0"), 24, v4("192.168.1.0"), 24, 7);
    let m = with_remote(netmap(reqid(7), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")), v4("192.168.1.0"), v4("10.99.1.0"), 24);
    let t = Table::build(vec![m], &[p]).unwrap();
    assert!(t.get(reqid(7)).unwrap().is_active());
    let m = t.alias_mapping(Family::V4, &v4("10.99.1.7")).expect("the alias's mapping");
    assert_eq!(m.key, reqid(7));
    assert_eq!(m.remote.unwrap().real_of(&v4("10.99.1.7")), v4("192.168.1.7"));
    assert!(t.alias_mapping(Family::V4, &v4("10.99.2.7")).is_none());
    assert!(t.alias_mapping(Family::V4, &v4("10.99.0.255")).is_none());
    assert!(t.alias_mapping(Family::V6, &v4("10.99.1.7")).is_none());
    // The translated flow: 192.168.1.5 -> 192.168.1.7.  The general lookup
    // leaves it alone; the alias's mapping takes it.
    let f = from(v4("192.168.1.5"), flow(v4("192.168.1.7"), 17, 4000, 53));
    assert!(t.find(Family::V4, &f).is_none());
    let found = t.find_for_alias(reqid(7), &f).expect("found through the alias");
    assert_eq!(found.policy, 305);
    assert_eq!(found.mapping.translate(&f.saddr), v4("10.20.30.5"));
    // A source outside from is not the mapping's.
    assert!(t.find_for_alias(reqid(7), &from(v4("192.168.2.5"), f)).is_none());
}

#[test]
fn a_remote_prefix_the_policy_does_not_select_makes_the_mapping_unfit() {
    let p = policy(305, v4("10.20.30.0"), 24, v4("192.168.1.0"), 25, 7);
    let m = with_remote(netmap(spid(305), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")), v4("192.168.1.0"), v4("10.99.1.0"), 24);
    let t = Table::build(vec![m], &[p]).unwrap();
    let e = t.get(spid(305)).unwrap();
    assert!(!e.is_active());
    let Some(Inactive::Unfit(why)) = e.inactive else { panic!("{:?}", e.inactive) };
    assert_eq!(why.to_string(), "policy 305 selects dst 192.168.1.0/25, not remote 192.168.1.0/24");
}

#[test]
fn overlapping_aliases_are_found() {
    let ps = [
        policy(305, v4("10.20.30.0"), 24, v4("10.0.1.0"), 24, 7),
        policy(313, v4("10.20.31.0"), 24, v4("10.0.1.0"), 24, 8),
    ];
    let a = |alias: &str, len| with_remote(netmap(reqid(7), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")), v4("10.0.1.0"), v4(alias), len);
    let b = |alias: &str, len| with_remote(netmap(reqid(8), Family::V4, v4("10.20.31.0"), 24, v4("192.168.1.0")), v4("10.0.1.0"), v4(alias), len);
    let disjoint = Table::build(vec![a("10.99.1.0", 24), b("10.98.1.0", 24)], &ps).unwrap();
    assert_eq!(disjoint.alias_overlap(), None);
    assert_eq!(disjoint.alias_mapping(Family::V4, &v4("10.98.1.9")).unwrap().key, reqid(8));
    assert_eq!(disjoint.alias_mapping(Family::V4, &v4("10.99.1.9")).unwrap().key, reqid(7));
    let same = Table::build(vec![a("10.99.1.0", 24), b("10.99.1.0", 24)], &ps).unwrap();
    assert_eq!(same.alias_overlap(), Some((reqid(7), reqid(8))));
    // A /24 inside the other's /16 (the remote prefix is a /24 too; only
    // the aliases matter).
    let p16 = policy(305, v4("10.20.30.0"), 24, v4("10.0.0.0"), 16, 7);
    let wide = with_remote(netmap(reqid(7), Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")), v4("10.0.0.0"), v4("10.99.0.0"), 16);
    let nested = Table::build(vec![wide, b("10.99.7.0", 24)], &[p16, ps[1]]).unwrap();
    assert_eq!(nested.alias_overlap(), Some((reqid(7), reqid(8))));
}

#[test]
fn an_inbound_flow_from_the_remote_prefix_comes_from_the_alias() {
    use logic::table::Inbound;
    let p = policy(305, v6("fd00:20::"), 64, v6("fd00:1::"), 64, 7);
    let m = inbound(with_remote(netmap(reqid(7), Family::V6, v6("fd00:20::"), 64, v6("fd00:1::")), v6("fd00:1::"), v6("fd99:1::"), 64));
    let t = Table::build(vec![m], &[p]).unwrap();
    let r = reply(v6("fd00:20::17"), v6("fd00:1::7"), 6, 22, 40000);
    match t.admit_inbound(Family::V6, &r, Some(7)) {
        Inbound::Admit { host, source, .. } => {
            assert_eq!(host, v6("fd00:1::17"));
            assert_eq!(source, Some(v6("fd99:1::7")));
        }
        _ => panic!("not admitted"),
    }
}

#[test]
fn the_zone_of_an_arriving_packet_is_its_sites() {
    // Two offices with the same LAN, 10.0.1.0/24, through the same mapped
    // prefix: their policies differ by mark, their SAs by reqid.
    let ps = [
        policy(305, v4("10.20.30.0"), 24, v4("10.0.1.0"), 24, 7),
        policy(313, v4("10.20.30.0"), 24, v4("10.0.1.0"), 24, 8),
    ];
    let site = |key, alias: &str, zone| {
        let m = with_remote(netmap(key, Family::V4, v4("10.20.30.0"), 24, v4("192.168.1.0")), v4("10.0.1.0"), v4(alias), 24);
        let r = m.remote.unwrap();
        Mapping { remote: Some(logic::table::Remote { zone, ..r }), ..m }
    };
    let t = Table::build(vec![site(spid(305), "10.99.1.0", 11), site(spid(313), "10.98.1.0", 12)], &ps).unwrap();
    assert!(t.has_zones());
    let zone_of = |src: &str, dst: &str, reqid| t.zone_of_arriving(Family::V4, &v4(src), &v4(dst), reqid).map(|m| m.remote.unwrap().zone);
    assert_eq!(zone_of("10.0.1.7", "10.20.30.5", 7), Some(11));
    assert_eq!(zone_of("10.0.1.7", "10.20.30.5", 8), Some(12));
    // Another child, a source outside the remote prefix, a destination
    // outside the mapped one: the default zone.
    assert_eq!(zone_of("10.0.1.7", "10.20.30.5", 9), None);
    assert_eq!(zone_of("10.0.2.7", "10.20.30.5", 7), None);
    assert_eq!(zone_of("10.0.1.7", "10.20.31.5", 7), None);
    // From the LAN, the alias tells the site.
    assert_eq!(t.alias_mapping(Family::V4, &v4("10.98.1.7")).unwrap().remote.unwrap().zone, 12);
    // Without zones, nothing is looked up.
    let plain = Table::build(vec![site(spid(305), "10.99.1.0", 0)], &ps[..1]).unwrap();
    assert!(!plain.has_zones());
    assert!(plain.zone_of_arriving(Family::V4, &v4("10.0.1.7"), &v4("10.20.30.5"), 7).is_none());
}

#[test]
fn names_find_their_mapping_as_it_moves_between_keys() {
    use logic::name::MapName;
    let name = |s: &str| MapName::from_wire(s.as_bytes()).unwrap();
    let named = |key: MapKey, n: &str| Mapping { name: Some(name(n)), ..mapping(key, Family::V4, v4("10.20.30.2")) };
    let ps = [policy(9, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 7), policy(17, v4("10.20.30.2"), 32, v4("10.0.0.0"), 8, 8)];
    let t = Table::build(vec![named(reqid(7), "home/net"), mapping(reqid(8), Family::V4, v4("10.20.30.2"))], &ps).unwrap();
    assert_eq!(t.key_named(&name("home/net")), Some(reqid(7)));
    assert_eq!(t.key_named(&name("home/other")), None);
    // The child came back under reqid 8: the writer deletes the old key
    // and maps the new one with the name, in one table.
    let moved = t.with_one(reqid(7), None, &[]).unwrap().with_one(reqid(8), Some(named(reqid(8), "home/net")), &ps).unwrap();
    assert_eq!(moved.key_named(&name("home/net")), Some(reqid(8)));
    assert!(moved.get(reqid(7)).is_none());
    assert_eq!(indexes(&moved, reqid(8)), [17]);
    // The old table is untouched.
    assert_eq!(t.key_named(&name("home/net")), Some(reqid(7)));
    // Unmapping takes the name with it; rebinding a mapping keeps it.
    assert_eq!(moved.with_one(reqid(8), None, &[]).unwrap().key_named(&name("home/net")), None);
    let rebound = moved.with_one(reqid(8), Some(named(reqid(8), "home/net")), &ps).unwrap();
    assert_eq!(rebound.key_named(&name("home/net")), Some(reqid(8)));
}
