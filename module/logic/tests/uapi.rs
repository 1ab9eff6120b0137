// SPDX-License-Identifier: GPL-2.0
//! The op table and policies generated from the spec say what the spec
//! says, and what the module's handlers and the logic's validation rely on.

use logic::hold::HoldLimits;
use logic::request::{hold_limits, map_entry_attrs, Refusal};
use logic::uapi::{cmd, map_attr, map_checks, map_entry_policy, map_policy, AttrKind, AttrPolicy, Op, Range, OPS};

fn op(op: Op) -> &'static logic::uapi::OpSpec {
    OPS.iter().find(|o| o.op == op).expect("op in OPS")
}

fn types(attrs: &[AttrPolicy]) -> Vec<u16> {
    let mut t: Vec<u16> = attrs.iter().map(|a| a.attr).collect();
    t.sort_unstable();
    t
}

#[test]
fn ops_are_in_command_order_once_each() {
    // The kernel refuses split ops out of command order.
    assert!(OPS.windows(2).all(|w| w[0].cmd < w[1].cmd));
    let cmds: Vec<u8> = OPS.iter().map(|o| o.cmd).collect();
    assert_eq!(cmds, [cmd::MAP_NEW, cmd::MAP_DEL, cmd::MAP_GET, cmd::FLUSH, cmd::MAP_SET]);
}

#[test]
fn writes_need_admin_reads_do_not() {
    // The namespace's admin: uns-admin-perm, GENL_UNS_ADMIN_PERM.
    for o in OPS {
        assert!(!o.admin_perm, "{:?}", o.op);
        assert_eq!(o.uns_admin_perm, o.op != Op::MapGet, "{:?}", o.op);
    }
}

#[test]
fn enum_names_are_the_specs_both_ways() {
    use logic::uapi::{map_state, name_of, pending_mode, sa_state, value_of};
    assert_eq!(name_of(&pending_mode::NAMES, pending_mode::HOLD), Some("hold"));
    assert_eq!(value_of(&pending_mode::NAMES, "eagain"), Some(pending_mode::EAGAIN));
    assert_eq!(value_of(&pending_mode::NAMES, "Hold"), None);
    assert_eq!(name_of(&map_state::NAMES, map_state::ACTIVE), Some("active"));
    assert_eq!(name_of(&sa_state::NAMES, 7), None);
    for (n, v) in pending_mode::NAMES {
        assert_eq!(value_of(&pending_mode::NAMES, n), Some(v));
    }
}

#[test]
fn every_counter_has_one_place_in_stats_or_the_hold_queue() {
    use logic::stats::{in_hold_queue, Counter, Stats};
    use logic::uapi::stats_attr;
    assert_eq!(Counter::COUNT, usize::from(stats_attr::MAX));
    let stats = Stats::default();
    for (i, c) in Counter::ALL.into_iter().enumerate() {
        assert_eq!(c.index(), i);
        assert_eq!(Counter::of_attr(c.attr()), Some(c));
        assert_eq!(c.key(), c.name().replace('-', "_"));
        // Counted once, read back once: no two counters share a slot.
        for _ in 0..=i {
            stats.count(c);
        }
    }
    for (i, c) in Counter::ALL.into_iter().enumerate() {
        let want = (!in_hold_queue(c)).then_some(i as u64 + 1);
        assert_eq!(stats.get(c), want, "{c:?}");
    }
}

#[test]
fn only_map_get_dumps_and_every_op_has_a_do() {
    for o in OPS {
        assert!(o.do_attrs.is_some(), "{:?}", o.op);
        assert_eq!(o.dump_attrs.is_some(), o.op == Op::MapGet, "{:?}", o.op);
    }
    assert_eq!(op(Op::MapGet).dump_attrs, Some(&[][..]));
    assert_eq!(op(Op::Flush).do_attrs, Some(&[][..]));
}

#[test]
fn request_attributes_are_the_specs() {
    use map_attr::*;
    let new = op(Op::MapNew).do_attrs.unwrap();
    let mut want =
        vec![SPID, ADDR, REPLACE, PENDING, HOLD_PACKETS, HOLD_BYTES, REQID, PREFIX_LEN, FROM, FROM_PREFIX_LEN, INBOUND, REMOTE, REMOTE_ALIAS,
            REMOTE_PREFIX_LEN, ZONE, NAME];
    want.sort_unstable();
    assert_eq!(types(new), want);
    assert_eq!(types(op(Op::MapDel).do_attrs.unwrap()), [SPID, REQID]);
    assert_eq!(types(op(Op::MapGet).do_attrs.unwrap()), [SPID, REQID]);
    assert_eq!(op(Op::MapSet).do_attrs.unwrap(), [map_policy::MAPPING]);
}

#[test]
fn a_map_set_entry_takes_a_map_new_request_but_replace() {
    let AttrKind::Nest(entry) = map_policy::MAPPING.kind else { panic!("mapping is a nest") };
    assert_eq!(entry, &map_entry_policy::ALL[..]);
    let new: Vec<AttrPolicy> =
        op(Op::MapNew).do_attrs.unwrap().iter().copied().filter(|a| a.attr != map_attr::REPLACE).collect();
    assert_eq!(types(entry), types(&new));
    // Each the same policy as in map-new.
    for a in entry {
        assert!(new.contains(a), "{}", a.attr);
    }
}

#[test]
fn the_core_reads_every_entry_attribute_the_policy_lets_through() {
    // Every attribute the nest's policy admits, with a payload of its type,
    // is one `map_entry_attrs` takes (not refused as "not allowed here").
    for a in map_entry_policy::ALL {
        let payload: &[u8] = match a.kind {
            AttrKind::U8 => &[1],
            AttrKind::U16 => &[1, 0],
            AttrKind::U32 => &[1, 0, 0, 0],
            AttrKind::Binary => &[10, 0, 0, 1],
            AttrKind::Flag => &[],
            AttrKind::String => b"home/net\0",
            k => panic!("unexpected kind {k:?}"),
        };
        let mut nla = Vec::new();
        nla.extend_from_slice(&(4 + payload.len() as u16).to_ne_bytes());
        nla.extend_from_slice(&a.attr.to_ne_bytes());
        nla.extend_from_slice(payload);
        assert!(map_entry_attrs(&nla).is_ok(), "attribute {}", a.attr);
    }
}

#[test]
fn addresses_are_4_to_16_bytes() {
    for a in [map_policy::ADDR, map_policy::FROM] {
        assert_eq!(a.kind, AttrKind::Binary);
        assert_eq!((a.checks.min_len, a.checks.max_len), (Some(4), Some(16)));
        assert_eq!(a.checks.range, None);
    }
}

#[test]
fn hold_bounds_are_the_specs_everywhere() {
    assert_eq!((map_checks::HOLD_PACKETS_MIN, map_checks::HOLD_PACKETS_MAX), (1, 10_000));
    assert_eq!((map_checks::HOLD_BYTES_MIN, map_checks::HOLD_BYTES_MAX), (1, 16 << 20));
    assert_eq!(map_policy::HOLD_PACKETS.checks.range, Some(Range { min: 1, max: 10_000 }));
    assert_eq!(map_policy::HOLD_BYTES.checks.range, Some(Range { min: 1, max: 16 << 20 }));
    assert_eq!((HoldLimits::MIN_PACKETS, HoldLimits::MAX_PACKETS), (1, 10_000));
    let max = HoldLimits::MAX_PACKETS;
    assert!(hold_limits(Some(max), None).is_ok());
    assert_eq!(hold_limits(Some(max + 1), None), Err(Refusal::HoldPackets(max + 1)));
    let max = HoldLimits::MAX_BYTES;
    assert!(hold_limits(None, Some(max)).is_ok());
    assert_eq!(hold_limits(None, Some(max + 1)), Err(Refusal::HoldBytes(max + 1)));
}

#[test]
fn unchecked_attributes_have_no_bounds() {
    for a in [map_policy::SPID, map_policy::REQID, map_policy::PENDING, map_policy::PREFIX_LEN, map_policy::REPLACE] {
        assert_eq!(a.checks, logic::uapi::Checks::NONE, "{}", a.attr);
    }
}
