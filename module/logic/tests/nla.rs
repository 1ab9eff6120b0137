// SPDX-License-Identifier: GPL-2.0
//! Reading attribute streams, and the entries of a map-set request.

use logic::nla::{self, Attrs};
use logic::addr::Addr;
use logic::request::{self, MapAttrs, MapKey, PendingMode, Refusal};
use logic::uapi::map_attr;

fn put(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + (4 - len % 4) % 4, 0);
}

#[test]
fn reads_attributes_in_order_without_flag_bits() {
    let mut b = Vec::new();
    put(&mut b, 1, &7u32.to_ne_bytes());
    put(&mut b, 2 | 0x8000, &[1, 2, 3]); // NLA_F_NESTED, padded to 8
    put(&mut b, 3, &[]);
    let got: Vec<(u16, Vec<u8>)> = Attrs::new(&b).map(|(k, v)| (k, v.to_vec())).collect();
    assert_eq!(got, vec![(1, 7u32.to_ne_bytes().to_vec()), (2, vec![1, 2, 3]), (3, vec![])]);
}

#[test]
fn stops_at_what_does_not_fit() {
    let mut b = Vec::new();
    put(&mut b, 1, &[9; 4]);
    // A length shorter than a header, then one past the end.
    assert_eq!(Attrs::new(&[2, 0, 1, 0]).count(), 0);
    let mut long = b.clone();
    long.extend_from_slice(&[200, 0, 1, 0, 0, 0]);
    assert_eq!(Attrs::new(&long).count(), 1);
    // The last attribute may go without its padding.
    assert_eq!(Attrs::new(&[5, 0, 4, 0, 42]).collect::<Vec<_>>(), vec![(4, &[42u8][..])]);
    assert_eq!(nla::u32_of(&[1, 2, 3]), None);
    assert_eq!(nla::u8_of(&[]), None);
}

#[test]
fn map_set_entries() {
    let mut e = Vec::new();
    put(&mut e, map_attr::SPID, &305u32.to_ne_bytes());
    put(&mut e, map_attr::ADDR, &[10, 20, 30, 2]);
    put(&mut e, map_attr::PENDING, &[2]);
    put(&mut e, map_attr::HOLD_PACKETS, &500u32.to_ne_bytes());
    let r = request::map_entry_attrs(&e).and_then(request::map_request).unwrap();
    assert_eq!((r.key, r.pending, r.hold.packets), (MapKey::Spid(305), PendingMode::Hold, 500));

    // Missing, repeated, malformed and foreign attributes are refused.
    let mut no_addr = Vec::new();
    put(&mut no_addr, map_attr::SPID, &305u32.to_ne_bytes());
    assert_eq!(request::map_entry_attrs(&no_addr).and_then(request::map_request), Err(Refusal::Missing("addr")));
    let mut twice = e.clone();
    put(&mut twice, map_attr::SPID, &313u32.to_ne_bytes());
    assert_eq!(request::map_entry_attrs(&twice).map(|_| ()), Err(Refusal::BadEntryAttr(map_attr::SPID)));
    let mut short = Vec::new();
    put(&mut short, map_attr::SPID, &[1, 2]);
    assert_eq!(request::map_entry_attrs(&short).map(|_| ()), Err(Refusal::BadEntryAttr(map_attr::SPID)));
    let mut replace = e.clone();
    put(&mut replace, map_attr::REPLACE, &[]);
    assert_eq!(request::map_entry_attrs(&replace).map(|_| ()), Err(Refusal::BadEntryAttr(map_attr::REPLACE)));
    assert_eq!(request::map_entry_attrs(&[]).map(|a| a.spid), Ok(MapAttrs::default().spid));
    assert_eq!(format!("{}", Refusal::Duplicate(MapKey::Spid(305))), "spid 305 appears more than once");
    assert_eq!(format!("{}", Refusal::Duplicate(MapKey::Reqid(7))), "reqid 7 appears more than once");
}

#[test]
fn map_set_entries_by_reqid_with_prefixes() {
    let mut e = Vec::new();
    put(&mut e, map_attr::REQID, &7u32.to_ne_bytes());
    put(&mut e, map_attr::ADDR, &[10, 20, 30, 0]);
    put(&mut e, map_attr::PREFIX_LEN, &[24]);
    put(&mut e, map_attr::FROM, &[192, 168, 1, 0]);
    put(&mut e, map_attr::FROM_PREFIX_LEN, &[24]);
    let a = request::map_entry_attrs(&e).unwrap();
    assert_eq!((a.spid, a.reqid, a.prefix_len, a.from, a.from_prefix_len), (None, Some(7), Some(24), Some(&[192u8, 168, 1, 0][..]), Some(24)));
    let r = request::map_request(a).unwrap();
    assert_eq!((r.key, r.nat, r.nat_len, r.from), (MapKey::Reqid(7), Addr::v4([10, 20, 30, 0]), 24, Some(Addr::v4([192, 168, 1, 0]))));

    // Both keys: refused by the request, not by the entry reader.
    let mut both = e.clone();
    put(&mut both, map_attr::SPID, &305u32.to_ne_bytes());
    assert_eq!(request::map_entry_attrs(&both).and_then(request::map_request), Err(Refusal::TwoKeys));
    // Repeated and malformed new attributes.
    for (kind, value) in [
        (map_attr::REQID, &8u32.to_ne_bytes()[..]),
        (map_attr::PREFIX_LEN, &[24][..]),
        (map_attr::FROM, &[192, 168, 1, 0][..]),
        (map_attr::FROM_PREFIX_LEN, &[24][..]),
    ] {
        let mut twice = e.clone();
        put(&mut twice, kind, value);
        assert_eq!(request::map_entry_attrs(&twice).map(|_| ()), Err(Refusal::BadEntryAttr(kind)), "{kind}");
    }
    for (kind, value) in [(map_attr::REQID, &[7, 0][..]), (map_attr::PREFIX_LEN, &[][..]), (map_attr::FROM_PREFIX_LEN, &[24, 0, 0, 0, 0][..])] {
        let mut bad = Vec::new();
        put(&mut bad, kind, value);
        assert_eq!(request::map_entry_attrs(&bad).map(|_| ()), Err(Refusal::BadEntryAttr(kind)), "{kind}");
    }
}
