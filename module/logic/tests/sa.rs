// SPDX-License-Identifier: GPL-2.0
//! Following ACQUIREs of mapped policies to their SAs.

use logic::addr::Addr;
use logic::sa::{PendingSas, SaEvent, SaKey};

const AF_INET: u16 = 2;
const ESP: u8 = 50;
const TUNNEL: u8 = 1;

fn key(daddr: [u8; 4], reqid: u32) -> SaKey {
    SaKey { family: AF_INET, proto: ESP, mode: TUNNEL, reqid, daddr: Addr::v4(daddr), saddr: Addr::v4([192, 0, 2, 1]) }
}

fn events(p: &mut PendingSas) -> Vec<SaEvent> {
    std::iter::from_fn(|| p.next_event()).collect()
}

#[test]
fn pending_then_established() {
    let mut p = PendingSas::default();
    assert!(p.acquired(305, key([198, 51, 100, 1], 7)));
    assert_eq!(events(&mut p), [SaEvent::Pending(305)]);
    // Another tunnel's SA answers nothing.
    assert!(!p.installed(&key([198, 51, 100, 2], 7)));
    assert!(p.installed(&key([198, 51, 100, 1], 7)));
    assert_eq!(events(&mut p), [SaEvent::Established(305)]);
    assert!(!p.installed(&key([198, 51, 100, 1], 7)));
}

#[test]
fn answered_before_announced_yields_both_in_order() {
    let mut p = PendingSas::default();
    p.acquired(313, key([198, 51, 100, 9], 0));
    p.acquired(305, key([198, 51, 100, 1], 0));
    // reqid 0 in the request matches any reqid.
    p.installed(&key([198, 51, 100, 1], 42));
    assert_eq!(events(&mut p), [SaEvent::Pending(313), SaEvent::Pending(305), SaEvent::Established(305)]);
}

#[test]
fn reqid_and_mode_must_match() {
    let k = key([198, 51, 100, 1], 7);
    assert!(!k.answered_by(&key([198, 51, 100, 1], 8)));
    assert!(!k.answered_by(&SaKey { mode: 0, ..k }));
    assert!(!k.answered_by(&SaKey { saddr: Addr::v4([192, 0, 2, 2]), ..k }));
    assert!(k.answered_by(&k));
}

#[test]
fn expiry_forgetting_and_capacity() {
    let mut p = PendingSas::default();
    p.acquired(305, key([198, 51, 100, 1], 1));
    p.expired(&key([198, 51, 100, 1], 1));
    assert_eq!(events(&mut p), []);
    p.acquired(305, key([198, 51, 100, 1], 1));
    p.forget(305);
    assert_eq!(events(&mut p), []);
    for spid in 0..PendingSas::CAPACITY as u32 {
        assert!(p.acquired(spid * 8 + 1, key([198, 51, 100, 1], spid)));
    }
    assert!(!p.acquired(9999, key([198, 51, 100, 1], 0)), "full");
    // A policy already open is replaced, not added.
    assert!(p.acquired(1, key([198, 51, 100, 1], 0)));
    assert_eq!(events(&mut p).len(), PendingSas::CAPACITY);
}

#[test]
fn larval_expiry_frees_the_slot() {
    let mut p = PendingSas::default();
    for spid in 0..PendingSas::CAPACITY as u32 {
        assert!(p.acquired(spid, key([198, 51, 100, 1], 7)));
        assert_eq!(events(&mut p), [SaEvent::Pending(spid)]);
        // The larval state of each ACQUIRE expires before the next one.
        p.expired(&key([198, 51, 100, 1], 7));
    }
    let last = PendingSas::CAPACITY as u32;
    assert!(p.acquired(last, key([198, 51, 100, 1], 7)));
    assert_eq!(events(&mut p), [SaEvent::Pending(last)]);
}

#[test]
fn full_of_announced_requests_makes_room_for_a_new_one() {
    let mut p = PendingSas::default();
    // Requests that no larval state stands for (no key manager took the
    // ACQUIRE), so no expiry will come.
    for spid in 0..PendingSas::CAPACITY as u32 {
        assert!(p.acquired(spid, key([198, 51, 100, 1], spid + 1)));
    }
    assert_eq!(events(&mut p).len(), PendingSas::CAPACITY);
    // One answered, its "established" event not announced yet: kept.
    assert!(p.installed(&key([198, 51, 100, 1], 1)));
    let new = 1000;
    assert!(p.acquired(new, key([198, 51, 100, 2], 9)));
    assert_eq!(events(&mut p), [SaEvent::Established(0), SaEvent::Pending(new)]);
    // Spid 1, the oldest unanswered, made room: an SA for it is news to
    // nobody; spid 2's is not.
    assert!(!p.installed(&key([198, 51, 100, 1], 2)));
    assert!(p.installed(&key([198, 51, 100, 1], 3)));
    assert_eq!(events(&mut p), [SaEvent::Established(2)]);
}
