// SPDX-License-Identifier: GPL-2.0
//! The hold queue: order, bounds, deadlines and counters.

use logic::hold::{HoldCounters, HoldLimits, HoldQueue};

fn queue(packets: u32, bytes: u32) -> HoldQueue<u32> {
    HoldQueue::new(HoldLimits { packets, bytes }).unwrap()
}

fn drain(q: &mut HoldQueue<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some((p, _, _)) = q.pop() {
        q.released();
        out.push(p);
    }
    out
}

#[test]
fn releases_in_queueing_order_across_wraparound() {
    let mut q = queue(3, 1000);
    for p in 1..=3 {
        q.push(p, 10, 100).unwrap();
    }
    assert_eq!(q.pop().map(|(p, _, _)| p), Some(1));
    q.released();
    q.push(4, 10, 100).unwrap();
    assert_eq!(drain(&mut q), [2, 3, 4]);
    assert!(q.is_empty());
    assert_eq!(q.counters(), HoldCounters { held: 4, released: 4, ..HoldCounters::default() });
}

#[test]
fn overflow_by_packets_and_by_bytes() {
    let mut q = queue(2, 1000);
    q.push(1, 10, 0).unwrap();
    q.push(2, 10, 0).unwrap();
    assert_eq!(q.push(3, 10, 0), Err(3));
    let mut q2 = queue(10, 100);
    q2.push(1, 60, 0).unwrap();
    assert_eq!(q2.push(2, 41, 0), Err(2));
    q2.push(3, 40, 0).unwrap();
    assert_eq!(q.counters().overflow_drops, 1);
    assert_eq!(q2.counters().overflow_drops, 1);
    assert_eq!((q2.counters().held, q2.len()), (2, 2));
    assert_eq!(drain(&mut q2), [1, 3]);
}

#[test]
fn put_back_keeps_the_head_and_evicts_the_newest_when_full() {
    let mut q = queue(3, 1000);
    q.push(1, 10, 5).unwrap();
    q.push(2, 10, 6).unwrap();
    let (p, bytes, deadline) = q.pop().unwrap();
    assert_eq!(q.put_back(p, bytes, deadline), None);
    assert_eq!(q.next_deadline(), Some(5));
    let (p, bytes, deadline) = q.pop().unwrap();
    q.push(3, 10, 7).unwrap();
    q.push(4, 10, 8).unwrap();
    // Full again while 1 was out: 4, the newest, makes room.
    assert_eq!(q.put_back(p, bytes, deadline), Some(4));
    assert_eq!(drain(&mut q), [1, 2, 3]);
    assert_eq!(q.counters().overflow_drops, 1);
}

#[test]
fn expiry_takes_only_packets_past_their_deadline() {
    let mut q = queue(4, 1000);
    q.push(1, 10, 100).unwrap();
    q.push(2, 10, 200).unwrap();
    assert_eq!(q.expire(99), None);
    assert_eq!(q.expire(100), Some(1));
    assert_eq!(q.expire(150), None);
    assert_eq!(q.next_deadline(), Some(200));
    assert_eq!(q.expire(1000), Some(2));
    assert_eq!(q.expire(1000), None);
    assert_eq!(q.next_deadline(), None);
    assert_eq!(q.counters().timeout_drops, 2);
}

#[test]
fn failures_are_counted() {
    let mut q = queue(4, 1000);
    for p in 1..=3 {
        q.push(p, 10, 0).unwrap();
    }
    q.pop().unwrap();
    q.failed();
    assert_eq!(q.len(), 2);
    assert_eq!(q.counters().error_drops, 1);
    // Popped packets give their room back.
    while q.pop().is_some() {}
    q.push(9, 1000, 0).unwrap();
    assert_eq!(q.len(), 1);
}
