// SPDX-License-Identifier: GPL-2.0
//! Validation of requests, and the words of refusals.

use xfrm_nat_core::addr::{self, Addr, Family};
use xfrm_nat_core::fmt::FixedBuf;
use xfrm_nat_core::hold::HoldLimits;
use xfrm_nat_core::request::{self, MapAttrs, MapRequest, PendingMode, Refusal, SeenPolicy};
use xfrm_nat_core::selector::{DestSelector, Selector};
use xfrm_nat_core::table::PolicyInfo;

fn req(spid: Option<u32>, addr: Option<&[u8]>, pending: Option<u8>) -> Result<MapRequest, Refusal> {
    request::map_request(MapAttrs { spid, addr, pending, ..MapAttrs::default() })
}

fn text(r: Refusal) -> String {
    use std::fmt::Write;
    // What the kernel sends: at most 80 bytes.
    let mut b = FixedBuf::<80>::new();
    write!(b, "{r}").unwrap();
    b.as_str().to_string()
}

#[test]
fn map_request_ok() {
    let r = req(Some(305), Some(&[10, 20, 30, 2]), None).unwrap();
    assert_eq!(r, MapRequest { spid: 305, family: Family::V4, nat: Addr::v4([10, 20, 30, 2]), pending: PendingMode::Eagain, hold: HoldLimits::DEFAULT });
    let r = req(Some(305), Some(&[10, 20, 30, 2]), Some(1)).unwrap();
    assert_eq!(r.pending, PendingMode::Drop);
    assert_eq!(req(Some(305), Some(&[10, 20, 30, 2]), Some(9)), Err(Refusal::PendingMode(9)));
    let mut v6 = [0u8; 16];
    v6[0] = 0xfd;
    v6[15] = 2;
    let r = req(Some(313), Some(&v6), None).unwrap();
    assert_eq!(r.family, Family::V6);
    assert_eq!(r.nat.0, v6);
}

#[test]
fn map_request_refusals() {
    assert_eq!(req(None, Some(&[1, 2, 3, 4]), None), Err(Refusal::Missing("spid")));
    assert_eq!(req(Some(305), None, None), Err(Refusal::Missing("addr")));
    assert_eq!(req(Some(305), Some(&[1, 2, 3, 4, 5]), None), Err(Refusal::AddressLength(5)));
    assert_eq!(req(Some(306), Some(&[1, 2, 3, 4]), None), Err(Refusal::NotOutbound(306)));
    assert_eq!(text(Refusal::NotOutbound(306)), "spid 306 is a fwd policy; only out (spid&7=1) can be mapped");
    assert_eq!(text(Refusal::NotOutbound(304)), "spid 304 is an in policy; only out (spid&7=1) can be mapped");
    assert_eq!(text(Refusal::Exists(305)), "spid 305 is already mapped");
    assert_eq!(Refusal::Exists(305).errno(), 17);
    assert_eq!(Refusal::NotMapped(9).errno(), 2);
}

#[test]
fn hold_limits_only_with_hold_and_in_range() {
    let hold = |packets, bytes| {
        request::map_request(MapAttrs {
            spid: Some(305),
            addr: Some(&[10, 20, 30, 2]),
            pending: Some(2),
            hold_packets: packets,
            hold_bytes: bytes,
        })
    };
    let r = hold(None, None).unwrap();
    assert_eq!((r.pending, r.hold), (PendingMode::Hold, HoldLimits::DEFAULT));
    assert_eq!(hold(Some(5), Some(4096)).unwrap().hold, HoldLimits { packets: 5, bytes: 4096 });
    assert_eq!(hold(Some(0), None), Err(Refusal::HoldPackets(0)));
    assert_eq!(hold(Some(10_001), None), Err(Refusal::HoldPackets(10_001)));
    assert_eq!(hold(None, Some(0)), Err(Refusal::HoldBytes(0)));
    assert_eq!(hold(None, Some(16 * 1024 * 1024 + 1)), Err(Refusal::HoldBytes(16 * 1024 * 1024 + 1)));
    let eagain_with_limit = request::map_request(MapAttrs {
        spid: Some(305),
        addr: Some(&[10, 20, 30, 2]),
        hold_packets: Some(5),
        ..MapAttrs::default()
    });
    assert_eq!(eagain_with_limit, Err(Refusal::HoldLimitWithoutHold));
    assert_eq!(text(Refusal::HoldPackets(0)), "hold packet limit 0 is not within 1..=10000");
    assert_eq!(text(Refusal::HoldLimitWithoutHold), "hold limits need pending mode hold");
}

fn policy(family: Family, saddr: Addr, plen: u8) -> SeenPolicy {
    let dest = DestSelector { prefixlen_s: plen, daddr: Addr::v4([10, 0, 0, 0]), prefixlen_d: 8, ..Default::default() };
    SeenPolicy { family, selector: Selector { saddr, dest }, priority: 3 }
}

#[test]
fn policy_evaluation() {
    let req = MapRequest { spid: 305, family: Family::V4, nat: Addr::v4([10, 20, 30, 2]), pending: PendingMode::Eagain, hold: HoldLimits::DEFAULT };
    assert_eq!(request::evaluate_policy(&req, None), Ok(None));
    let ok = policy(Family::V4, Addr::v4([10, 20, 30, 0]), 24);
    assert_eq!(request::evaluate_policy(&req, Some(ok)), Ok(Some(PolicyInfo { selector: ok.selector.dest, priority: 3 })));
    let r = request::evaluate_policy(&req, Some(policy(Family::V6, Addr::v4([10, 20, 30, 0]), 24))).unwrap_err();
    assert_eq!(text(r), "policy 305 is IPv6, the address is IPv4");
    let other = policy(Family::V4, Addr::v4([10, 20, 31, 0]), 24);
    let r = request::evaluate_policy(&req, Some(other)).unwrap_err();
    assert_eq!(text(r), "policy 305 selects src 10.20.31.0/24, not 10.20.30.2");
}

#[test]
fn addresses_print_like_ip() {
    let show = |f, a: Addr| addr::Display(f, &a).to_string();
    let p = |s: &str| Addr(s.parse::<std::net::Ipv6Addr>().unwrap().octets());
    for s in ["2001:db8::2", "::", "::1", "fd00:20::2", "1::", "1:0:0:1::1", "2001:db8:0:1:1:1:1:1"] {
        assert_eq!(show(Family::V6, p(s)), s.parse::<std::net::Ipv6Addr>().unwrap().to_string(), "{s}");
    }
    assert_eq!(show(Family::V4, Addr::v4([10, 20, 30, 2])), "10.20.30.2");
}

#[test]
fn prefixes() {
    let a = Addr::v4([10, 20, 30, 2]);
    assert!(a.in_prefix(&Addr::v4([10, 0, 0, 0]), 8));
    assert!(!a.in_prefix(&Addr::v4([10, 0, 0, 0]), 16));
    assert!(a.in_prefix(&Addr::v4([10, 20, 30, 3]), 31));
    assert!(!a.in_prefix(&Addr::v4([10, 20, 30, 3]), 32));
    assert!(a.in_prefix(&Addr::default(), 0));
    assert_eq!(a.masked(20), Addr::v4([10, 20, 16, 0]));
}

#[test]
fn fixed_buf_truncates_at_char_boundary() {
    use std::fmt::Write;
    let mut b = FixedBuf::<5>::new();
    write!(b, "ab\u{e9}cd").unwrap();
    assert_eq!(b.as_str(), "ab\u{e9}c");
    let mut b = FixedBuf::<3>::new();
    write!(b, "ab\u{e9}").unwrap();
    assert_eq!(b.as_str(), "ab");
}

#[test]
fn namespace_limits() {
    let limits = request::NetLimits { mappings: 3, hold_bytes: 1 << 20 };
    let eagain = req(Some(305), Some(&[10, 20, 30, 2]), None).unwrap();
    assert_eq!(request::check_limits(&eagain, 2, 0, &limits), Ok(()));
    assert_eq!(request::check_limits(&eagain, 3, 0, &limits), Err(Refusal::TooMany(3)));
    // The parameter cannot lift the hard ceiling.
    let high = request::NetLimits { mappings: usize::MAX, ..limits };
    assert_eq!(
        request::check_limits(&eagain, request::MAX_MAPPINGS, 0, &high),
        Err(Refusal::TooMany(request::MAX_MAPPINGS))
    );
    assert_eq!(Refusal::TooMany(3).errno(), 28);

    // Hold memory: what the others reserve plus this queue's bytes and slots.
    let hold = MapRequest { pending: PendingMode::Hold, hold: HoldLimits { packets: 100, bytes: 256 * 1024 }, ..eagain };
    let own = request::hold_reservation(&hold.hold);
    assert_eq!(own, 256 * 1024 + 32 * 100);
    assert_eq!(request::check_limits(&hold, 0, (1 << 20) - own, &limits), Ok(()));
    assert_eq!(
        request::check_limits(&hold, 0, (1 << 20) - own + 1, &limits),
        Err(Refusal::HoldMemory { wanted: (1 << 20) + 1, limit: 1 << 20 })
    );
    // Other modes reserve nothing, whatever the others hold.
    assert_eq!(request::check_limits(&eagain, 0, u64::MAX, &limits), Ok(()));
    // The texts fit an extack message (80 bytes) whole, for a limit of up
    // to 1 TiB.
    let worst = Refusal::HoldMemory { wanted: (1 << 40) + (17 << 20), limit: 1 << 40 };
    assert!(format!("{worst}").len() <= 80, "{worst}");
    assert_eq!(text(worst), format!("{worst}"));
    assert_eq!(text(Refusal::TooMany(65536)), "namespace at its limit of 65536 mappings (param max_mappings)");
}
