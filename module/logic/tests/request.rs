// SPDX-License-Identifier: GPL-2.0
//! Validation of requests, whether a policy can carry a mapping's flows,
//! and the words of refusals.

use logic::addr::{self, Addr, Family};
use logic::fmt::FixedBuf;
use logic::hold::HoldLimits;
use logic::policy::{self, PolicyInfo, Reqids, SeenPolicy, Unfit};
use logic::request::{self, MapAttrs, MapKey, MapRequest, PendingMode, Refusal};
use logic::selector::{DestSelector, Selector};

const V4: [u8; 4] = [10, 20, 30, 2];

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

/// The text, checked to be sent whole.
fn whole(r: Refusal) -> String {
    let t = text(r);
    assert_eq!(t, r.to_string(), "cut to fit an extack");
    t
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

#[test]
fn map_request_ok() {
    let r = req(Some(305), Some(&V4), None).unwrap();
    let want = MapRequest {
        key: MapKey::Spid(305),
        family: Family::V4,
        nat: Addr::v4(V4),
        nat_len: 32,
        from: None,
        pending: PendingMode::Eagain,
        hold: HoldLimits::DEFAULT,
        inbound: false,
        remote: None,
        name: None,
    };
    assert_eq!(r, want);
    let r = req(Some(305), Some(&V4), Some(1)).unwrap();
    assert_eq!(r.pending, PendingMode::Drop);
    assert_eq!(req(Some(305), Some(&V4), Some(9)), Err(Refusal::PendingMode(9)));
    let a = v6("fd00::2");
    let r = req(Some(313), Some(&a), None).unwrap();
    assert_eq!((r.family, r.nat.0, r.nat_len), (Family::V6, a, 128));
    // By reqid.
    let r = request::map_request(MapAttrs { reqid: Some(7), addr: Some(&V4), ..MapAttrs::default() }).unwrap();
    assert_eq!(r, MapRequest { key: MapKey::Reqid(7), ..want });
    // The full length given explicitly is a single address.
    let r = request::map_request(MapAttrs { reqid: Some(7), addr: Some(&V4), prefix_len: Some(32), ..MapAttrs::default() }).unwrap();
    assert_eq!(r, MapRequest { key: MapKey::Reqid(7), ..want });
}

/// A name is the text before the attribute's NUL, by xnatctl's rules, so
/// that `save` writes it as one word that `restore` reads back.
#[test]
fn map_request_name() {
    let named = |name: &[u8]| request::map_request(MapAttrs { reqid: Some(3), addr: Some(&V4), name: Some(name), ..MapAttrs::default() });
    let longest = [b'c'; 63];
    for (wire, want) in [
        (&b"home/net\0"[..], "home/net"),
        (b"home/net", "home/net"),
        (b"home/net\0\0\0", "home/net"),
        ("bureau/réseau\0".as_bytes(), "bureau/réseau"),
        (&longest[..], "c".repeat(63).leak()),
    ] {
        let r = named(wire).unwrap();
        assert_eq!(r.name.map(|n| n.to_string()).as_deref(), Some(want), "{wire:?}");
        assert_eq!(r.name.unwrap().as_bytes(), want.as_bytes());
    }
    let too_long = [b'c'; 64];
    for wire in [&b"\0"[..], b"", b"home net\0", b"home\tnet\0", b"home\x7fnet\0", b"#net\0", b"\xff\xfe\0", &too_long[..],
        "a\u{a0}b\0".as_bytes()]
    {
        assert_eq!(named(wire), Err(Refusal::BadName), "{wire:?}");
    }
    assert_eq!(named(b"home/net\0").unwrap().key, MapKey::Reqid(3));
    // Both refusals whole in an extack, even after map-set's "entry N: ".
    for r in [Refusal::BadName, Refusal::DuplicateName] {
        let t = whole(r);
        assert!(t.len() + "entry 65536: ".len() <= 80, "{t}");
        assert_eq!(r.errno(), 22);
    }
    assert_eq!(whole(Refusal::DuplicateName), "an earlier entry has the same name");
    // A map-set entry takes it too, once.
    let mut e = Vec::new();
    for (kind, v) in [(12u16, &3u32.to_ne_bytes()[..]), (2, &V4[..]), (23, b"home/net\0\0\0\0")] {
        e.extend_from_slice(&(4 + v.len() as u16).to_ne_bytes());
        e.extend_from_slice(&kind.to_ne_bytes());
        e.extend_from_slice(v);
    }
    let r = request::map_entry_attrs(&e).and_then(request::map_request).unwrap();
    assert_eq!(r.name.unwrap().as_str(), "home/net");
    let twice = [&e[..], &e[e.len() - 16..]].concat();
    assert_eq!(request::map_entry_attrs(&twice).err(), Some(Refusal::BadEntryAttr(23)));
}

#[test]
fn map_request_refusals() {
    assert_eq!(req(None, Some(&[1, 2, 3, 4]), None), Err(Refusal::Missing("spid or reqid")));
    assert_eq!(req(Some(305), None, None), Err(Refusal::Missing("addr")));
    assert_eq!(req(Some(305), Some(&[1, 2, 3, 4, 5]), None), Err(Refusal::AddressLength(5)));
    assert_eq!(req(Some(306), Some(&[1, 2, 3, 4]), None), Err(Refusal::NotOutbound(306)));
    assert_eq!(text(Refusal::Missing("spid or reqid")), "missing spid or reqid");
    assert_eq!(text(Refusal::NotOutbound(306)), "spid 306 is a fwd policy; only out (spid&7=1) can be mapped");
    assert_eq!(text(Refusal::NotOutbound(304)), "spid 304 is an in policy; only out (spid&7=1) can be mapped");
    assert_eq!(text(Refusal::Exists(MapKey::Spid(305))), "spid 305 is already mapped");
    assert_eq!(text(Refusal::Exists(MapKey::Reqid(7))), "reqid 7 is already mapped");
    assert_eq!(text(Refusal::NotMapped(MapKey::Reqid(7))), "reqid 7 is not mapped");
    assert_eq!(Refusal::Exists(MapKey::Spid(305)).errno(), 17);
    assert_eq!(Refusal::NotMapped(MapKey::Spid(9)).errno(), 2);
    assert_eq!(Refusal::NotMapped(MapKey::Reqid(9)).errno(), 2);
}

#[test]
fn map_keys() {
    assert_eq!(request::map_key(Some(305), None), Ok(MapKey::Spid(305)));
    assert_eq!(request::map_key(None, Some(7)), Ok(MapKey::Reqid(7)));
    assert_eq!(request::map_key(None, Some(u32::MAX)), Ok(MapKey::Reqid(u32::MAX)));
    assert_eq!(request::map_key(Some(305), Some(7)), Err(Refusal::TwoKeys));
    // Both, even when either alone would be refused.
    assert_eq!(request::map_key(Some(306), Some(0)), Err(Refusal::TwoKeys));
    assert_eq!(request::map_key(None, Some(0)), Err(Refusal::ReqidZero));
    assert_eq!(request::map_key(Some(306), None), Err(Refusal::NotOutbound(306)));
    assert_eq!(request::map_key(None, None), Err(Refusal::Missing("spid or reqid")));
    // The same through a map-new request, before the address is looked at.
    let both = MapAttrs { spid: Some(305), reqid: Some(7), ..MapAttrs::default() };
    assert_eq!(request::map_request(both), Err(Refusal::TwoKeys));
    let zero = MapAttrs { reqid: Some(0), addr: Some(&V4), ..MapAttrs::default() };
    assert_eq!(request::map_request(zero), Err(Refusal::ReqidZero));
    assert_eq!(whole(Refusal::TwoKeys), "give spid or reqid, not both");
    assert_eq!(whole(Refusal::ReqidZero), "reqid 0 means any SA to the kernel; pin a reqid in the IKE config");
    for e in [Refusal::TwoKeys, Refusal::ReqidZero] {
        assert_eq!(e.errno(), 22);
    }
}

/// A map-new request by reqid 7 to `addr`/`len` from `from`/`from_len`.
fn prefix_req(addr: &[u8], len: Option<u8>, from: Option<&[u8]>, from_len: Option<u8>) -> Result<MapRequest, Refusal> {
    request::map_request(MapAttrs { reqid: Some(7), addr: Some(addr), prefix_len: len, from, from_prefix_len: from_len, ..MapAttrs::default() })
}

#[test]
fn prefix_mappings() {
    let r = prefix_req(&[10, 20, 30, 0], Some(24), Some(&[192, 168, 1, 0]), Some(24)).unwrap();
    assert_eq!((r.family, r.nat, r.nat_len, r.from), (Family::V4, Addr::v4([10, 20, 30, 0]), 24, Some(Addr::v4([192, 168, 1, 0]))));
    let r = prefix_req(&v6("fd00:20:0:5::"), Some(64), Some(&v6("2001:db8:1:2::")), Some(64)).unwrap();
    assert_eq!((r.family, r.nat.0, r.nat_len, r.from.map(|a| a.0)), (Family::V6, v6("fd00:20:0:5::"), 64, Some(v6("2001:db8:1:2::"))));
    // A single host 1:1, and the whole space.
    let r = prefix_req(&V4, None, Some(&[192, 168, 1, 17]), Some(32)).unwrap();
    assert_eq!((r.nat_len, r.from), (32, Some(Addr::v4([192, 168, 1, 17]))));
    let r = prefix_req(&[0; 4], Some(0), Some(&[0; 4]), Some(0)).unwrap();
    assert_eq!((r.nat_len, r.from), (0, Some(Addr::default())));
}

#[test]
fn prefix_refusals() {
    let v4 = |a: [u8; 4]| Addr::v4(a);
    // Host bits, in addr and in from.
    assert_eq!(
        prefix_req(&[10, 20, 30, 1], Some(24), Some(&[192, 168, 1, 0]), Some(24)),
        Err(Refusal::HostBits { family: Family::V4, addr: v4([10, 20, 30, 1]), len: 24 })
    );
    assert_eq!(
        prefix_req(&[10, 20, 30, 0], Some(24), Some(&[192, 168, 1, 17]), Some(24)),
        Err(Refusal::HostBits { family: Family::V4, addr: v4([192, 168, 1, 17]), len: 24 })
    );
    // Lengths past the family's.
    assert_eq!(prefix_req(&[10, 20, 30, 0], Some(33), None, None), Err(Refusal::PrefixLen { family: Family::V4, len: 33 }));
    assert_eq!(
        prefix_req(&[10, 20, 30, 0], Some(24), Some(&[192, 168, 1, 0]), Some(33)),
        Err(Refusal::PrefixLen { family: Family::V4, len: 33 })
    );
    assert_eq!(prefix_req(&v6("fd00::"), Some(129), None, None), Err(Refusal::PrefixLen { family: Family::V6, len: 129 }));
    // A prefix without from; from without its length and the other way.
    assert_eq!(prefix_req(&[10, 20, 30, 0], Some(24), None, None), Err(Refusal::PrefixWithoutFrom(24)));
    assert_eq!(prefix_req(&[10, 20, 30, 0], Some(24), Some(&[192, 168, 1, 0]), None), Err(Refusal::FromIncomplete));
    assert_eq!(prefix_req(&[10, 20, 30, 0], Some(24), None, Some(24)), Err(Refusal::FromIncomplete));
    assert_eq!(prefix_req(&V4, None, None, Some(32)), Err(Refusal::FromIncomplete));
    // Families and lengths that differ.
    assert_eq!(prefix_req(&[10, 20, 30, 0], Some(24), Some(&v6("2001:d00::")), Some(24)), Err(Refusal::FromFamily));
    assert_eq!(
        prefix_req(&[10, 20, 30, 0], Some(24), Some(&[192, 168, 0, 0]), Some(16)),
        Err(Refusal::PrefixMismatch { from: 16, to: 24 })
    );
    assert_eq!(prefix_req(&V4, None, Some(&[192, 168, 1, 0]), Some(24)), Err(Refusal::PrefixMismatch { from: 24, to: 32 }));
    assert_eq!(prefix_req(&[10, 20, 30, 0], Some(24), Some(&[1, 2, 3]), Some(24)), Err(Refusal::AddressLength(3)));

    // The texts, whole in an extack for the longest values.
    assert_eq!(whole(Refusal::HostBits { family: Family::V4, addr: v4([10, 20, 30, 1]), len: 24 }), "10.20.30.1/24 has host bits set");
    let long6 = Addr([0xff; 16]);
    assert_eq!(
        whole(Refusal::HostBits { family: Family::V6, addr: long6, len: 127 }),
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127 has host bits set"
    );
    assert_eq!(whole(Refusal::PrefixLen { family: Family::V4, len: 33 }), "prefix length 33 is longer than an IPv4 address");
    assert_eq!(whole(Refusal::PrefixLen { family: Family::V6, len: 255 }), "prefix length 255 is longer than an IPv6 address");
    assert_eq!(whole(Refusal::PrefixWithoutFrom(24)), "a /24 prefix needs from, the source prefix to map 1:1");
    whole(Refusal::PrefixWithoutFrom(127));
    assert_eq!(whole(Refusal::FromIncomplete), "from and from-prefix-len go together");
    assert_eq!(whole(Refusal::FromFamily), "from and the address are of different families");
    assert_eq!(whole(Refusal::PrefixMismatch { from: 16, to: 24 }), "from is /16 but the prefix is /24; a 1:1 mapping needs equal lengths");
    whole(Refusal::PrefixMismatch { from: 255, to: 128 });
    for r in [
        Refusal::HostBits { family: Family::V4, addr: v4([10, 20, 30, 1]), len: 24 },
        Refusal::PrefixLen { family: Family::V4, len: 33 },
        Refusal::PrefixWithoutFrom(24),
        Refusal::FromIncomplete,
        Refusal::FromFamily,
        Refusal::PrefixMismatch { from: 16, to: 24 },
    ] {
        assert_eq!(r.errno(), 22, "{r}");
    }
    // Keys in the texts that name one, at their longest.
    for k in [MapKey::Spid(u32::MAX), MapKey::Reqid(u32::MAX)] {
        whole(Refusal::Exists(k));
        whole(Refusal::NotMapped(k));
        whole(Refusal::Duplicate(k));
    }
}

#[test]
fn hold_limits_only_with_hold_and_in_range() {
    let hold = |packets, bytes| {
        request::map_request(MapAttrs {
            spid: Some(305),
            addr: Some(&V4),
            pending: Some(2),
            hold_packets: packets,
            hold_bytes: bytes,
            ..MapAttrs::default()
        })
    };
    let r = hold(None, None).unwrap();
    assert_eq!((r.pending, r.hold), (PendingMode::Hold, HoldLimits::DEFAULT));
    assert_eq!(hold(Some(5), Some(4096)).unwrap().hold, HoldLimits { packets: 5, bytes: 4096 });
    assert_eq!(hold(Some(0), None), Err(Refusal::HoldPackets(0)));
    assert_eq!(hold(Some(10_001), None), Err(Refusal::HoldPackets(10_001)));
    assert_eq!(hold(None, Some(0)), Err(Refusal::HoldBytes(0)));
    assert_eq!(hold(None, Some(16 * 1024 * 1024 + 1)), Err(Refusal::HoldBytes(16 * 1024 * 1024 + 1)));
    let eagain_with_limit = request::map_request(MapAttrs { spid: Some(305), addr: Some(&V4), hold_packets: Some(5), ..MapAttrs::default() });
    assert_eq!(eagain_with_limit, Err(Refusal::HoldLimitWithoutHold));
    assert_eq!(text(Refusal::HoldPackets(0)), "hold packet limit 0 is not within 1..=10000");
    assert_eq!(text(Refusal::HoldLimitWithoutHold), "hold limits need pending mode hold");
}

fn seen(index: u32, family: Family, saddr: Addr, plen: u8) -> SeenPolicy {
    let dest = DestSelector { prefixlen_s: plen, daddr: Addr::v4([10, 0, 0, 0]), prefixlen_d: 8, ..Default::default() };
    SeenPolicy { index, family, selector: Selector { saddr, dest }, priority: 3, reqids: Reqids::new([7]) }
}

#[test]
fn policy_fit() {
    let nat = Addr::v4(V4);
    let ok = seen(305, Family::V4, Addr::v4([10, 20, 30, 0]), 24);
    assert_eq!(policy::fit(&ok, Family::V4, &nat, 32, None), Ok(PolicyInfo { selector: ok.selector.dest, priority: 3 }));
    // The whole /24 is in a /24 or a /16, not in a /25.
    let net = Addr::v4([10, 20, 30, 0]);
    assert!(policy::fit(&ok, Family::V4, &net, 24, None).is_ok());
    assert!(policy::fit(&seen(305, Family::V4, Addr::v4([10, 20, 0, 0]), 16), Family::V4, &net, 24, None).is_ok());
    let narrow = seen(305, Family::V4, Addr::v4([10, 20, 30, 0]), 25);
    let r = policy::fit(&narrow, Family::V4, &net, 24, None).unwrap_err();
    assert_eq!(r, Unfit::SourceNotSelected { index: 305, family: Family::V4, nat: net, nat_len: 24, saddr: net, prefixlen_s: 25 });
    assert_eq!(whole(Refusal::Unfit(r)), "policy 305 selects src 10.20.30.0/25, not 10.20.30.0/24");
    // But one address of it is.
    assert!(policy::fit(&narrow, Family::V4, &nat, 32, None).is_ok());

    let r = policy::fit(&seen(305, Family::V6, Addr::v4([10, 20, 30, 0]), 24), Family::V4, &nat, 32, None).unwrap_err();
    assert_eq!(r, Unfit::FamilyMismatch { index: 305, policy: Family::V6, mapping: Family::V4 });
    assert_eq!(whole(Refusal::Unfit(r)), "policy 305 is IPv6, the address is IPv4");
    let r = policy::fit(&seen(313, Family::V4, Addr::v4([10, 20, 31, 0]), 24), Family::V4, &nat, 32, None).unwrap_err();
    assert_eq!(whole(Refusal::Unfit(r)), "policy 313 selects src 10.20.31.0/24, not 10.20.30.2");
    // Impossible prefix lengths never fit.
    assert!(policy::fit(&seen(305, Family::V4, Addr::v4([10, 20, 30, 0]), 33), Family::V4, &nat, 32, None).is_err());
    let mut bad_d = ok;
    bad_d.selector.dest.prefixlen_d = 33;
    assert!(policy::fit(&bad_d, Family::V4, &nat, 32, None).is_err());
    assert_eq!(Refusal::Unfit(r).errno(), 22);

    // IPv4 texts are whole for any index and prefix.
    let worst = Unfit::SourceNotSelected {
        index: u32::MAX,
        family: Family::V4,
        nat: Addr::v4([255; 4]),
        nat_len: 31,
        saddr: Addr::v4([255; 4]),
        prefixlen_s: 32,
    };
    whole(Refusal::Unfit(worst));
    whole(Refusal::Unfit(Unfit::FamilyMismatch { index: u32::MAX, policy: Family::V6, mapping: Family::V4 }));
    // IPv6 ones with typical addresses too; two addresses of eight full
    // groups cannot fit and are cut (cleanly: a prefix of the text).
    let v6a = |s| Addr(v6(s));
    let typical = Unfit::SourceNotSelected {
        index: 1_000_001,
        family: Family::V6,
        nat: v6a("2001:db8:1234:5678::"),
        nat_len: 64,
        saddr: v6a("2001:db8:1234:5600::"),
        prefixlen_s: 72,
    };
    whole(Refusal::Unfit(typical));
    let long = Unfit::SourceNotSelected {
        index: 1_000_001,
        family: Family::V6,
        nat: Addr([0xff; 16]),
        nat_len: 127,
        saddr: Addr([0xfe; 16]),
        prefixlen_s: 128,
    };
    let full = Refusal::Unfit(long).to_string();
    assert!(full.len() > 80 && full.starts_with(&text(Refusal::Unfit(long))) && text(Refusal::Unfit(long)).len() == 80);
}

#[test]
fn addresses_print_like_ip() {
    let show = |f, a: Addr| addr::Display(f, &a).to_string();
    let p = |s: &str| Addr(v6(s));
    for s in ["2001:db8::2", "::", "::1", "fd00:20::2", "1::", "1:0:0:1::1", "2001:db8:0:1:1:1:1:1"] {
        assert_eq!(show(Family::V6, p(s)), s.parse::<std::net::Ipv6Addr>().unwrap().to_string(), "{s}");
    }
    assert_eq!(show(Family::V4, Addr::v4(V4)), "10.20.30.2");
}

#[test]
fn prefixes() {
    let a = Addr::v4(V4);
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
    let eagain = req(Some(305), Some(&V4), None).unwrap();
    assert_eq!(request::check_limits(&eagain, 2, 0, &limits), Ok(()));
    assert_eq!(request::check_limits(&eagain, 3, 0, &limits), Err(Refusal::TooMany(3)));
    // The parameter cannot lift the hard ceiling.
    let high = request::NetLimits { mappings: usize::MAX, ..limits };
    assert_eq!(request::check_limits(&eagain, request::MAX_MAPPINGS, 0, &high), Err(Refusal::TooMany(request::MAX_MAPPINGS)));
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

#[test]
fn inbound_and_remote_are_checked() {
    let (to, from) = ([10, 20, 30, 0], [192, 168, 1, 0]);
    let base = MapAttrs {
        spid: Some(305),
        addr: Some(&to),
        prefix_len: Some(24),
        from: Some(&from),
        from_prefix_len: Some(24),
        ..MapAttrs::default()
    };
    let r = request::map_request(MapAttrs { inbound: true, ..base }).unwrap();
    assert!(r.inbound && r.remote.is_none());
    // A single address has no host for each remote address it receives.
    let single = MapAttrs { spid: Some(305), addr: Some(&V4), inbound: true, ..MapAttrs::default() };
    assert_eq!(request::map_request(single).unwrap_err(), Refusal::InboundWithoutFrom);
    assert_eq!(whole(Refusal::InboundWithoutFrom), "inbound needs a 1:1 prefix mapping (from)");

    let (real, alias) = ([192, 168, 1, 0], [10, 99, 1, 0]);
    let remote = MapAttrs { remote: Some(&real), remote_alias: Some(&alias), remote_prefix_len: Some(24), ..base };
    assert_eq!(request::map_request(MapAttrs { zone: Some(5), ..remote }).unwrap().remote.unwrap().zone, 5);
    assert_eq!(request::map_request(MapAttrs { zone: Some(5), ..base }).unwrap_err(), Refusal::ZoneWithoutRemote);
    let r = request::map_request(remote).unwrap();
    let got = r.remote.unwrap();
    assert_eq!((got.real, got.alias, got.len), (Addr::v4(real), Addr::v4(alias), 24));
    // Twice NAT of a many-to-one mapping: fine.
    let r = request::map_request(MapAttrs { addr: Some(&V4), prefix_len: None, from: None, from_prefix_len: None, ..remote }).unwrap();
    assert!(r.remote.is_some());

    for incomplete in [
        MapAttrs { remote_alias: None, ..remote },
        MapAttrs { remote: None, ..remote },
        MapAttrs { remote_prefix_len: None, ..remote },
    ] {
        assert_eq!(request::map_request(incomplete).unwrap_err(), Refusal::RemoteIncomplete);
    }
    let v6_alias = v6("fd99:1::");
    assert_eq!(request::map_request(MapAttrs { remote_alias: Some(&v6_alias), ..remote }).unwrap_err(), Refusal::RemoteFamily);
    let host_bits = [10, 99, 1, 7];
    assert!(matches!(request::map_request(MapAttrs { remote_alias: Some(&host_bits), ..remote }), Err(Refusal::HostBits { len: 24, .. })));
    assert!(matches!(request::map_request(MapAttrs { remote_prefix_len: Some(33), ..remote }), Err(Refusal::PrefixLen { len: 33, .. })));
    assert_eq!(whole(Refusal::RemoteIncomplete), "remote, remote-alias and remote-prefix-len go together");
    assert_eq!(whole(Refusal::AliasOverlap(MapKey::Reqid(u32::MAX))), "the remote alias overlaps that of reqid 4294967295");
}

#[test]
fn a_zone_the_kernel_cannot_keep_is_refused() {
    let (to, from, real, alias) = ([10, 20, 30, 0], [192, 168, 1, 0], [10, 0, 1, 0], [10, 99, 1, 0]);
    let attrs = MapAttrs {
        spid: Some(305),
        addr: Some(&to),
        prefix_len: Some(24),
        from: Some(&from),
        from_prefix_len: Some(24),
        remote: Some(&real),
        remote_alias: Some(&alias),
        remote_prefix_len: Some(24),
        zone: Some(11),
        ..MapAttrs::default()
    };
    let req = request::map_request(attrs).unwrap();
    assert_eq!(request::check_zone(req, true), Ok(req));
    assert_eq!(request::check_zone(req, false), Err(Refusal::NoZones));
    assert_eq!(Refusal::NoZones.errno(), 95);
    assert_eq!(whole(Refusal::NoZones), "this kernel keeps no conntrack zones (CONFIG_NF_CONNTRACK_ZONES)");
    // Without a zone, nothing to keep.
    let plain = request::map_request(MapAttrs { zone: None, ..attrs }).unwrap();
    assert_eq!(request::check_zone(plain, false), Ok(plain));
}
