// SPDX-License-Identifier: GPL-2.0
//! Reading attribute streams, and the entries of a map-set request.

use xfrm_nat_core::nla::{self, Attrs};
use xfrm_nat_core::request::{self, MapAttrs, PendingMode, Refusal};
use xfrm_nat_core::uapi::map_attr;

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
    assert_eq!((r.spid, r.pending, r.hold.packets), (305, PendingMode::Hold, 500));

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
    assert_eq!(format!("{}", Refusal::Duplicate(305)), "spid 305 appears more than once");
}
