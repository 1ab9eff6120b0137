// SPDX-License-Identifier: GPL-2.0
//! The SPD index against a plain list of policies.

use logic::addr::{Addr, Family};
use logic::policy::{Reqids, SeenPolicy};
use logic::selector::{DestSelector, Selector};
use logic::spd::{SpdChange, SpdIndex};
use logic::table::MapKey;

fn policy(index: u32, reqids: &[u32]) -> SeenPolicy {
    let dest = DestSelector { prefixlen_s: 32, daddr: Addr::v4([10, 0, 0, 0]), prefixlen_d: 8, ..Default::default() };
    let selector = Selector { saddr: Addr::v4([10, 20, 30, 2]), dest };
    SeenPolicy { index, family: Family::V4, selector, priority: 0, reqids: Reqids::new(reqids.iter().copied()) }
}

fn indexes(spd: &SpdIndex, key: MapKey) -> Vec<u32> {
    spd.named(key).unwrap().iter().map(|p| p.index).collect()
}

#[test]
fn keys_find_their_policies_as_they_come_change_and_go() {
    let mut spd = SpdIndex::of([policy(9, &[7]), policy(17, &[7, 8]), policy(25, &[8, 8])]).unwrap();
    assert_eq!(indexes(&spd, MapKey::Reqid(7)), [9, 17]);
    assert_eq!(indexes(&spd, MapKey::Reqid(8)), [17, 25]);
    assert_eq!(indexes(&spd, MapKey::Spid(25)), [25]);
    assert_eq!(indexes(&spd, MapKey::Spid(26)), Vec::<u32>::new());

    // An update that moves policy 17 from reqid 7 to 9 touches its spid
    // and all three reqids.
    let mut touched = Vec::new();
    spd.apply(SpdChange::Put(policy(17, &[9])), |k| Ok(touched.push(k))).unwrap();
    touched.sort();
    touched.dedup();
    assert_eq!(touched, [MapKey::Spid(17), MapKey::Reqid(7), MapKey::Reqid(8), MapKey::Reqid(9)]);
    assert_eq!(indexes(&spd, MapKey::Reqid(7)), [9]);
    assert_eq!(indexes(&spd, MapKey::Reqid(9)), [17]);

    let mut touched = Vec::new();
    spd.apply(SpdChange::Gone(25), |k| Ok(touched.push(k))).unwrap();
    assert_eq!(touched, [MapKey::Spid(25), MapKey::Reqid(8), MapKey::Reqid(8)]);
    assert_eq!(indexes(&spd, MapKey::Reqid(8)), Vec::<u32>::new());
    assert_eq!(spd.len(), 2);

    // A policy that is gone twice, or was never there, touches its spid.
    let mut touched = Vec::new();
    spd.apply(SpdChange::Gone(25), |k| Ok(touched.push(k))).unwrap();
    assert_eq!(touched, [MapKey::Spid(25)]);
}

#[test]
fn many_changes_agree_with_a_list() {
    let mut spd = SpdIndex::default();
    let mut list: Vec<SeenPolicy> = Vec::new();
    let mut x = 12345u32;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let index = 8 * (x % 64) + 1;
        let reqids: Vec<u32> = (0..x % 3).map(|i| 1 + (x >> (8 + i)) % 5).collect();
        list.retain(|p| p.index != index);
        if x % 4 == 0 {
            spd.apply(SpdChange::Gone(index), |_| Ok(())).unwrap();
        } else {
            let p = policy(index, &reqids);
            spd.apply(SpdChange::Put(p), |_| Ok(())).unwrap();
            list.push(p);
        }
        for reqid in 1..=5 {
            let mut want: Vec<u32> = list.iter().filter(|p| p.reqids.contains(reqid)).map(|p| p.index).collect();
            want.sort();
            assert_eq!(indexes(&spd, MapKey::Reqid(reqid)), want);
        }
    }
    assert_eq!(spd.len(), list.len());
}
