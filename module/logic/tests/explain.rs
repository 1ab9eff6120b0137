// SPDX-License-Identifier: GPL-2.0
//! Why each mapping takes a flow or not, and the SPD's choice of policy.

use std::sync::Arc;

use logic::addr::{Addr, Family};
use logic::explain::{choice_of, why, Rank, SpdAction, SpdChoice, SpdPolicy, Why};
use logic::policy::{Reqids, SeenPolicy};
use logic::selector::{DestSelector, Flow, Selector};
use logic::table::{Inactive, MapKey, Mapping, Remote, Table};

fn v4(s: &str) -> Addr {
    let ip: std::net::Ipv4Addr = s.parse().unwrap();
    Addr::v4(ip.octets())
}

fn policy(index: u32, saddr: &str, plen_s: u8, daddr: &str, plen_d: u8, reqid: u32, priority: u32) -> SeenPolicy {
    let dest = DestSelector { prefixlen_s: plen_s, daddr: v4(daddr), prefixlen_d: plen_d, ..Default::default() };
    SeenPolicy { index, family: Family::V4, selector: Selector { saddr: v4(saddr), dest }, priority, reqids: Reqids::new([reqid]) }
}

fn mapping(key: MapKey, nat: &str) -> Mapping<Arc<()>> {
    Mapping {
        key,
        family: Family::V4,
        nat: v4(nat),
        nat_len: 32,
        from: None,
        pending: Default::default(),
        inbound: false,
        remote: None,
        name: None,
        stats: Arc::new(()),
    }
}

fn flow(saddr: &str, daddr: &str) -> Flow {
    Flow { saddr: v4(saddr), daddr: v4(daddr), proto: 17, sport: 4000u16.to_be(), dport: 53u16.to_be(), oif: 0 }
}

/// What `explain` would say of every mapping, the chosen one found by the
/// table's own lookup.
fn reasons(t: &Table<Arc<()>>, f: &Flow) -> Vec<(MapKey, Why)> {
    let chosen = t.find(Family::V4, f).and_then(|found| choice_of(&t.get(found.mapping.key)?, found.policy));
    t.entries().map(|e| (e.key, why(&e, Family::V4, f, None, chosen))).collect()
}

#[test]
fn chosen_outranked_outside_and_inactive() {
    let policies = [
        policy(9, "10.3.0.1", 32, "10.0.0.0", 16, 3, 10),
        policy(17, "10.4.0.0", 24, "10.0.0.0", 24, 4, 10),
        policy(25, "10.5.0.1", 32, "10.0.0.0", 8, 5, 5),
        policy(33, "10.6.0.1", 32, "172.16.0.0", 12, 6, 0),
    ];
    let netmap = Mapping { nat: v4("10.4.0.0"), nat_len: 24, from: Some(v4("192.168.9.0")), ..mapping(MapKey::Reqid(4), "10.4.0.0") };
    let maps = vec![
        mapping(MapKey::Reqid(3), "10.3.0.1"),
        netmap,
        mapping(MapKey::Reqid(5), "10.5.0.1"),
        mapping(MapKey::Reqid(6), "10.6.0.1"),
        mapping(MapKey::Reqid(7), "10.7.0.1"),
        // The source 10.9.0.1 is outside policy 9's selector.
        mapping(MapKey::Reqid(3 + 100), "10.9.0.1"),
    ];
    let t = Table::build(maps, &policies).unwrap();
    let r = reasons(&t, &flow("192.168.1.7", "10.0.0.5"));
    assert_eq!(r[0], (MapKey::Reqid(3), Why::Outranked { by: MapKey::Reqid(5), rule: Rank::Priority { own: 10, chosen: 5 } }));
    assert!(matches!(r[1].1, Why::SourceOutside { .. }), "{:?}", r[1]);
    assert_eq!(r[2], (MapKey::Reqid(5), Why::Chosen));
    match r[3].1 {
        Why::NoPolicySelects { policy: 33, more: 0, .. } => (),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(r[3].1.to_string(), "no bound policy selects it: policy 33 selects dst 172.16.0.0/12");
    assert_eq!(r[4].1, Why::Inactive(Inactive::NoPolicy(MapKey::Reqid(7), Family::V4)));
    assert_eq!(r[5].1, Why::Inactive(Inactive::NoPolicy(MapKey::Reqid(103), Family::V4)));
}

#[test]
fn prefix_and_key_order() {
    let policies = [policy(9, "0.0.0.0", 0, "10.0.0.0", 16, 3, 0), policy(17, "0.0.0.0", 0, "10.0.0.0", 24, 4, 0)];
    let maps = vec![
        mapping(MapKey::Reqid(3), "10.3.0.1"),
        mapping(MapKey::Reqid(4), "10.4.0.1"),
        // Binds policy 9 too: same priority and prefix as reqid 3's.
        mapping(MapKey::Spid(9), "10.2.0.1"),
    ];
    let t = Table::build(maps, &policies).unwrap();
    let r = reasons(&t, &flow("192.168.1.7", "10.0.0.5"));
    assert_eq!(r[0], (MapKey::Spid(9), Why::Outranked { by: MapKey::Reqid(4), rule: Rank::Prefix { own: 16, chosen: 24 } }));
    assert_eq!(r[2], (MapKey::Reqid(4), Why::Chosen));
    // Outside policy 17's prefix, spid 9 wins over reqid 3 by key order.
    let r = reasons(&t, &flow("192.168.1.7", "10.0.9.5"));
    assert_eq!(r[0].1, Why::Chosen);
    assert_eq!(r[1], (MapKey::Reqid(3), Why::Outranked { by: MapKey::Spid(9), rule: Rank::KeyOrder }));
}

#[test]
fn alias_mappings() {
    let policies = [policy(9, "10.3.0.1", 32, "192.168.1.0", 24, 3, 0)];
    let remote = Remote { real: v4("192.168.1.0"), alias: v4("10.99.1.0"), len: 24, zone: 0 };
    let maps = vec![mapping(MapKey::Reqid(2), "10.2.0.1"), Mapping { remote: Some(remote), ..mapping(MapKey::Reqid(3), "10.3.0.1") }];
    let t = Table::build(maps, &policies).unwrap();
    // Sent to the remote prefix itself: the alias mapping does not take it.
    let r = reasons(&t, &flow("192.168.1.7", "192.168.1.5"));
    assert!(matches!(r[1].1, Why::AliasOnly { len: 24, .. }), "{:?}", r[1]);
    // Sent to the alias: only its mapping may, the other is told so.
    let alias = t.alias_mapping(Family::V4, &v4("10.99.1.5")).unwrap().key;
    let f = flow("192.168.1.7", "192.168.1.5");
    let found = t.find_for_alias(alias, &f).unwrap();
    let chosen = choice_of(&t.get(alias).unwrap(), found.policy);
    let r: Vec<_> = t.entries().map(|e| why(&e, Family::V4, &f, Some(alias), chosen)).collect();
    assert_eq!(r, [Why::OtherAlias(MapKey::Reqid(3)), Why::Chosen]);
}

fn spd(index: u32, saddr: &str, plen_s: u8, priority: u32, pos: u32, action: SpdAction) -> SpdPolicy {
    let p = policy(index, saddr, plen_s, "10.0.0.0", 8, 0, priority);
    SpdPolicy { index, priority, pos, family: Family::V4, selector: p.selector, action }
}

#[test]
fn spd_choice_by_priority_then_position() {
    let f = flow("10.3.0.1", "10.0.0.5");
    let mut c = SpdChoice::new(Family::V4, f);
    for p in [
        spd(9, "10.3.0.1", 32, 10, 1, SpdAction::Transform),
        spd(17, "10.3.0.0", 16, 10, 0, SpdAction::Pass),
        // Does not select the source.
        spd(25, "10.4.0.1", 32, 0, 0, SpdAction::Block),
        spd(33, "10.3.0.1", 32, 10, 5, SpdAction::Transform),
    ] {
        c.offer(&p);
    }
    assert_eq!(c.chosen().map(|p| p.index), Some(17));
    c.offer(&spd(41, "0.0.0.0", 0, 1, 9, SpdAction::Block));
    assert_eq!(c.chosen().map(|p| (p.index, p.action)), Some((41, SpdAction::Block)));
    assert_eq!(SpdChoice::new(Family::V6, f).chosen(), None);
}
