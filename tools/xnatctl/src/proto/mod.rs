//! The xfrm_nat generic netlink messages: building requests and decoding
//! replies and notifications, one module per concept.  No socket here, so
//! all of it is unit-tested on byte buffers.

mod attrs;
mod codec;
mod extack;
mod family;
mod msg;
mod reply;
mod request;
mod split;

pub use attrs::{MapAttr, SelectorAttr, StatsAttr};
#[cfg(test)]
pub use codec::nlas;
pub use codec::{AF_INET, AF_INET6};
pub use extack::*;
pub use family::*;
pub use msg::*;
pub use reply::*;
pub use request::*;
pub use split::*;

/// The pending modes by the spec's names, which the command line and
/// `show` use.
pub use crate::uapi::pending_mode::NAMES as PENDING_MODES;

#[cfg(test)]
pub mod tests {
    use std::net::{IpAddr, Ipv6Addr};

    use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlasIterator, NLM_F_ACK_TLVS, NLM_F_CAPPED};

    use super::codec::nest_value;
    use super::*;
    use crate::uapi::{self, cmd, map_attr, pending_mode, sa_state, selector_attr, stats_attr, Counter};

    /// A mapping of `key` to `to` in pending mode `pending`, of which the
    /// kernel reports nothing else.
    pub fn reported(key: Key, to: &str, pending: Option<u8>) -> ReportedMapping {
        ReportedMapping {
            mapping: Mapping {
                pending,
                ..Mapping::new(key, Target::addr(to))
            },
            ..ReportedMapping::new(key)
        }
    }

    /// `from 192.168.1.0/24 to 10.20.30.0/24`: a LAN mapped 1:1.
    pub fn lan_target() -> Target {
        let prefix = |addr: &str| Prefix {
            addr: addr.parse().unwrap(),
            len: 24,
        };
        Target {
            to: prefix("10.20.30.0"),
            from: Some(prefix("192.168.1.0")),
        }
    }

    /// The mapping of [`sample_hold_mapping_attrs`].
    pub fn hold_mapping() -> Mapping {
        Mapping {
            key: Key::Spid(313),
            target: Some(Target::addr("2001:db8::2")),
            pending: Some(pending_mode::HOLD),
            hold_packets: Some(500),
            hold_bytes: Some(1 << 20),
            inbound: false,
            remote: None,
            zone: None,
            name: None,
        }
    }

    /// The mapping of a `map` message's payload.
    pub fn decode(b: &[u8]) -> ReportedMapping {
        ReportedMapping::from_attrs(&parse_attrs(b).unwrap()).unwrap()
    }

    /// The attributes of a `map` message's payload.
    pub fn parse_attrs(b: &[u8]) -> Result<Vec<MapAttr>, DecodeError> {
        nlas(b)
    }

    impl Selector {
        fn parse(b: &[u8]) -> Result<Selector, DecodeError> {
            Selector::from_attrs(&nlas(b)?)
        }
    }

    impl Stats {
        fn parse(b: &[u8]) -> Result<Stats, DecodeError> {
            Ok(Stats::from_attrs(&nlas(b)?))
        }
    }

    /// Append one attribute (header, value, padding) to `buf`.
    pub fn put(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
        buf.extend_from_slice(&((value.len() + 4) as u16).to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(value);
        buf.resize(buf.len().next_multiple_of(4), 0);
    }

    /// A whole netlink message with a genl header, as the kernel sends it.
    pub fn nlmsg(msg_type: u16, flags: u16, seq: u32, genl_cmd: u8, attrs: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((16 + 4 + attrs.len()) as u32).to_ne_bytes());
        b.extend_from_slice(&msg_type.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&[genl_cmd, 1, 0, 0]);
        b.extend_from_slice(attrs);
        b
    }

    /// The attributes of a mapping 305 -> 10.20.30.2, pending mode drop,
    /// with its selector 10.20.30.2/32 -> 10.0.0.0/8 and stats in both uint
    /// widths.
    pub fn sample_mapping_attrs() -> Vec<u8> {
        let mut sel = Vec::new();
        put(&mut sel, selector_attr::FAMILY, &AF_INET.to_ne_bytes());
        put(&mut sel, selector_attr::DADDR, &[10, 0, 0, 0]);
        put(&mut sel, selector_attr::SADDR, &[10, 20, 30, 2]);
        put(&mut sel, selector_attr::PREFIXLEN_D, &[8]);
        put(&mut sel, selector_attr::PREFIXLEN_S, &[32]);
        put(&mut sel, selector_attr::PROTO, &[0]);
        put(&mut sel, selector_attr::IFINDEX, &0i32.to_ne_bytes());
        put(&mut sel, selector_attr::PRIORITY, &100u32.to_ne_bytes());
        let mut stats = Vec::new();
        put(&mut stats, stats_attr::FLOWS, &7u32.to_ne_bytes());
        put(
            &mut stats,
            stats_attr::FAIL_CLOSED_DROPS,
            &(1u64 << 33).to_ne_bytes(),
        );
        put(&mut stats, stats_attr::PENDING_REFUSED, &3u32.to_ne_bytes());
        put(
            &mut stats,
            stats_attr::PENDING_DROPS,
            &((1u64 << 32) + 5).to_ne_bytes(),
        );
        // The hold counters, sent for every mapping: 0 outside hold mode.
        for kind in stats_attr::HELD..=stats_attr::HOLD_QUEUED {
            put(&mut stats, kind, &0u32.to_ne_bytes());
        }
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut a, map_attr::ADDR, &[10, 20, 30, 2]);
        put(&mut a, map_attr::STATE, &[uapi::map_state::ACTIVE]);
        put(&mut a, map_attr::PENDING, &[pending_mode::DROP]);
        put(&mut a, map_attr::SELECTOR | 0x8000, &sel); // NLA_F_NESTED
        put(&mut a, map_attr::STATS | 0x8000, &stats);
        put(&mut a, 99, &[1, 2, 3]); // from a newer module: ignored
        a
    }

    /// The attributes of a hold-mode mapping 313 -> 2001:db8::2, inactive,
    /// hold limits 500 packets / 1 MiB, and its hold counters in both uint
    /// widths.
    pub fn sample_hold_mapping_attrs() -> Vec<u8> {
        let mut stats = Vec::new();
        put(&mut stats, stats_attr::FLOWS, &4u32.to_ne_bytes());
        put(
            &mut stats,
            stats_attr::FAIL_CLOSED_DROPS,
            &0u32.to_ne_bytes(),
        );
        put(&mut stats, stats_attr::PENDING_REFUSED, &0u32.to_ne_bytes());
        put(&mut stats, stats_attr::PENDING_DROPS, &0u32.to_ne_bytes());
        put(&mut stats, stats_attr::HELD, &40u32.to_ne_bytes());
        put(
            &mut stats,
            stats_attr::RELEASED,
            &((1u64 << 32) + 1).to_ne_bytes(),
        );
        put(
            &mut stats,
            stats_attr::HOLD_OVERFLOW_DROPS,
            &3u32.to_ne_bytes(),
        );
        put(
            &mut stats,
            stats_attr::HOLD_TIMEOUT_DROPS,
            &2u64.to_ne_bytes(),
        );
        put(
            &mut stats,
            stats_attr::HOLD_ERROR_DROPS,
            &1u32.to_ne_bytes(),
        );
        put(&mut stats, stats_attr::HOLD_QUEUED, &5u32.to_ne_bytes());
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &313u32.to_ne_bytes());
        put(
            &mut a,
            map_attr::ADDR,
            &"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets(),
        );
        put(&mut a, map_attr::STATE, &[uapi::map_state::INACTIVE]);
        put(&mut a, map_attr::PENDING, &[pending_mode::HOLD]);
        put(&mut a, map_attr::HOLD_PACKETS, &500u32.to_ne_bytes());
        put(&mut a, map_attr::HOLD_BYTES, &(1u32 << 20).to_ne_bytes());
        put(&mut a, map_attr::STATS | 0x8000, &stats);
        a
    }

    /// A reqid mapping as a module of the reqid spec reports it: reqid 7
    /// maps 192.168.1.0/24 1:1 into 10.20.30.0/24, binds policies 321 and
    /// 337 (the selector is 321's, with its index), has held 2 new
    /// flows of non-blocking senders, declined 3 new flows and dropped 1
    /// packet of a flow conntrack had confirmed untranslated.
    pub fn sample_reqid_mapping_attrs() -> Vec<u8> {
        let mut sel = Vec::new();
        put(&mut sel, selector_attr::FAMILY, &AF_INET.to_ne_bytes());
        put(&mut sel, selector_attr::DADDR, &[10, 1, 0, 0]);
        put(&mut sel, selector_attr::SADDR, &[10, 20, 30, 0]);
        put(&mut sel, selector_attr::PREFIXLEN_D, &[16]);
        put(&mut sel, selector_attr::PREFIXLEN_S, &[24]);
        put(&mut sel, selector_attr::INDEX, &321u32.to_ne_bytes());
        let mut stats = Vec::new();
        put(&mut stats, stats_attr::FLOWS, &40u32.to_ne_bytes());
        put(
            &mut stats,
            stats_attr::PENDING_NONBLOCK_HELD,
            &2u64.to_ne_bytes(),
        );
        put(&mut stats, stats_attr::DECLINED, &3u64.to_ne_bytes());
        put(&mut stats, stats_attr::STALE_ENTRIES, &1u32.to_ne_bytes());
        let mut a = Vec::new();
        put(&mut a, map_attr::REQID, &7u32.to_ne_bytes());
        put(&mut a, map_attr::ADDR, &[10, 20, 30, 0]);
        put(&mut a, map_attr::PREFIX_LEN, &[24]);
        put(&mut a, map_attr::FROM, &[192, 168, 1, 0]);
        put(&mut a, map_attr::FROM_PREFIX_LEN, &[24]);
        put(&mut a, map_attr::STATE, &[uapi::map_state::ACTIVE]);
        put(&mut a, map_attr::PENDING, &[pending_mode::EAGAIN]);
        put(&mut a, map_attr::POLICY, &321u32.to_ne_bytes());
        put(&mut a, map_attr::POLICY, &337u32.to_ne_bytes());
        put(&mut a, map_attr::SELECTOR | 0x8000, &sel);
        put(&mut a, map_attr::STATS | 0x8000, &stats);
        a
    }

    /// An inactive IPv6 reqid mapping, reqid 9 -> fd00:2::9, with the
    /// kernel's reason.
    pub fn sample_inactive_reqid_attrs() -> Vec<u8> {
        let mut a = Vec::new();
        put(&mut a, map_attr::REQID, &9u32.to_ne_bytes());
        put(
            &mut a,
            map_attr::ADDR,
            &"fd00:2::9".parse::<Ipv6Addr>().unwrap().octets(),
        );
        put(&mut a, map_attr::STATE, &[uapi::map_state::INACTIVE]);
        put(
            &mut a,
            map_attr::REASON,
            b"no IPv4 out policy with a template of reqid 9\0",
        );
        put(&mut a, map_attr::PENDING, &[pending_mode::EAGAIN]);
        a
    }

    /// An sa-ntf of `spid` with sa-state `state`.
    pub fn sa_ntf_attrs(spid: u32, state: u8) -> Vec<u8> {
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &spid.to_ne_bytes());
        put(&mut a, map_attr::SA_STATE, &[state]);
        a
    }

    #[test]
    fn map_new_bytes() {
        let req = Request::MapNew {
            mapping: Mapping::new(Key::Spid(305), Target::addr("10.20.30.2")),
            replace: false,
        };
        let b = req.encode(0x1234, 42);
        assert_eq!(b.len(), 16 + 4 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 36);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), 0x1234);
        let flags = u16::from_ne_bytes(b[6..8].try_into().unwrap());
        // REQUEST|ACK only: genetlink refuses CREATE/EXCL/REPLACE.
        assert_eq!(flags, 0x1 | 0x4);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 42);
        assert_eq!(&b[16..20], &[cmd::MAP_NEW, uapi::FAMILY_VERSION, 0, 0]);
        assert_eq!(cmd::MAP_NEW, 1);
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&8u16.to_ne_bytes());
        attrs.extend_from_slice(&1u16.to_ne_bytes()); // spid
        attrs.extend_from_slice(&305u32.to_ne_bytes());
        attrs.extend_from_slice(&8u16.to_ne_bytes());
        attrs.extend_from_slice(&2u16.to_ne_bytes()); // addr
        attrs.extend_from_slice(&[10, 20, 30, 2]);
        // Without 'pending' no PENDING attribute: the kernel's default.
        assert_eq!(&b[20..], &attrs[..]);
    }

    #[test]
    fn map_new_pending_bytes() {
        assert_eq!(map_attr::PENDING, 7);
        assert_eq!((pending_mode::EAGAIN, pending_mode::DROP), (0, 1));
        for mode in [pending_mode::EAGAIN, pending_mode::DROP] {
            let req = Request::MapNew {
                mapping: Mapping {
                    key: Key::Spid(305),
                    target: Some(Target::addr("10.20.30.2")),
                    pending: Some(mode),
                    hold_packets: None,
                    hold_bytes: None,
                    inbound: false,
                    remote: None,
                    zone: None,
                    name: None,
                },
                replace: false,
            };
            let b = req.encode(30, 6);
            assert_eq!(b.len(), 16 + 4 + 8 + 8 + 8);
            assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 44);
            assert_eq!(u16::from_ne_bytes(b[6..8].try_into().unwrap()), 0x1 | 0x4);
            let mut attrs = Vec::new();
            attrs.extend_from_slice(&8u16.to_ne_bytes());
            attrs.extend_from_slice(&1u16.to_ne_bytes()); // spid
            attrs.extend_from_slice(&305u32.to_ne_bytes());
            attrs.extend_from_slice(&8u16.to_ne_bytes());
            attrs.extend_from_slice(&2u16.to_ne_bytes()); // addr
            attrs.extend_from_slice(&[10, 20, 30, 2]);
            attrs.extend_from_slice(&5u16.to_ne_bytes());
            attrs.extend_from_slice(&7u16.to_ne_bytes()); // pending
            attrs.extend_from_slice(&[mode, 0, 0, 0]); // u8, padded
            assert_eq!(&b[20..], &attrs[..], "mode {mode}");
        }

        // With replace too: REPLACE, then PENDING.
        let req = Request::MapNew {
            mapping: Mapping {
                key: Key::Spid(9),
                target: Some(Target::addr("2001:db8::2")),
                pending: Some(pending_mode::DROP),
                hold_packets: None,
                hold_bytes: None,
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
            replace: true,
        };
        let b = req.encode(30, 7);
        assert_eq!(b.len(), 16 + 4 + 8 + 20 + 4 + 8);
        let mut want = Vec::new();
        put(&mut want, map_attr::REPLACE, &[]);
        put(&mut want, map_attr::PENDING, &[pending_mode::DROP]);
        assert_eq!(&b[48..], &want[..]);
    }

    #[test]
    fn map_new_hold_bytes() {
        assert_eq!(pending_mode::HOLD, 2);
        assert_eq!((map_attr::HOLD_PACKETS, map_attr::HOLD_BYTES), (8, 9));
        // Limits after the mode, packets before bytes; each a u32.
        let req = Request::MapNew {
            mapping: Mapping {
                key: Key::Spid(305),
                target: Some(Target::addr("10.20.30.2")),
                pending: Some(pending_mode::HOLD),
                hold_packets: Some(500),
                hold_bytes: Some(1 << 20),
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
            replace: true,
        };
        let b = req.encode(30, 8);
        assert_eq!(b.len(), 16 + 4 + 8 + 8 + 4 + 8 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 64);
        let mut want = Vec::new();
        put(&mut want, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut want, map_attr::ADDR, &[10, 20, 30, 2]);
        put(&mut want, map_attr::REPLACE, &[]);
        put(&mut want, map_attr::PENDING, &[pending_mode::HOLD]);
        put(&mut want, map_attr::HOLD_PACKETS, &500u32.to_ne_bytes());
        put(&mut want, map_attr::HOLD_BYTES, &(1u32 << 20).to_ne_bytes());
        assert_eq!(&b[20..], &want[..]);

        // Only the limit given is sent; the kernel defaults the other.
        let req = Request::MapNew {
            mapping: Mapping {
                key: Key::Spid(305),
                target: Some(Target::addr("10.20.30.2")),
                pending: Some(pending_mode::HOLD),
                hold_packets: None,
                hold_bytes: Some(4096),
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
            replace: false,
        };
        let b = req.encode(30, 9);
        let mut want = Vec::new();
        put(&mut want, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut want, map_attr::ADDR, &[10, 20, 30, 2]);
        put(&mut want, map_attr::PENDING, &[pending_mode::HOLD]);
        put(&mut want, map_attr::HOLD_BYTES, &4096u32.to_ne_bytes());
        assert_eq!(&b[20..], &want[..]);
    }

    #[test]
    fn map_new_v6_replace_bytes() {
        let req = Request::MapNew {
            mapping: Mapping::new(Key::Spid(9), Target::addr("2001:db8::2")),
            replace: true,
        };
        let b = req.encode(30, 1);
        let flags = u16::from_ne_bytes(b[6..8].try_into().unwrap());
        assert_eq!(flags, 0x1 | 0x4); // REQUEST|ACK
        assert_eq!(b.len(), 16 + 4 + 8 + 20 + 4);
        assert_eq!(&b[28..30], &20u16.to_ne_bytes());
        assert_eq!(&b[30..32], &map_attr::ADDR.to_ne_bytes());
        let mut want = [0u8; 16];
        want[0] = 0x20;
        want[1] = 0x01;
        want[2] = 0x0d;
        want[3] = 0xb8;
        want[15] = 2;
        assert_eq!(&b[32..48], &want);
        // The replace flag: an empty attribute of type REPLACE, and no
        // PENDING attribute after it.
        assert_eq!(&b[48..50], &4u16.to_ne_bytes());
        assert_eq!(&b[50..52], &map_attr::REPLACE.to_ne_bytes());
        assert_eq!(b.len(), 52);
    }

    /// The entries of a map-set request, decoded back from its bytes:
    /// each top-level attribute must be a `mapping` with NLA_F_NESTED set.
    fn decode_map_set(b: &[u8]) -> Vec<Vec<MapAttr>> {
        let r = parse_buffer::<XnatMsg>(b).unwrap();
        assert_eq!(r.len(), 1);
        let Reply::Msg(msg) = &r[0].1 else {
            panic!("not a message: {:?}", r[0].1)
        };
        assert_eq!(msg.cmd, cmd::MAP_SET);
        let raw: Vec<_> = NlasIterator::new(&b[20..])
            .map(|nla| nla.unwrap())
            .collect();
        assert_eq!(raw.len(), msg.attrs.len());
        raw.iter()
            .zip(&msg.attrs)
            .map(|(nla, attr)| {
                assert!(nla.nested_flag(), "mapping without NLA_F_NESTED");
                // No flag bits inside: the inner attributes are plain.
                for inner in NlasIterator::new(nla.value()) {
                    assert!(!inner.unwrap().nested_flag());
                }
                let MapAttr::Mapping(inner) = attr else {
                    panic!("not a mapping: {attr:?}")
                };
                inner.clone()
            })
            .collect()
    }

    #[test]
    fn map_set_bytes() {
        assert_eq!((cmd::MAP_SET, map_attr::MAPPING), (8, 11));
        let mappings = vec![
            Mapping {
                key: Key::Spid(305),
                target: Some(Target::addr("10.20.30.2")),
                ..hold_mapping()
            },
            Mapping::new(Key::Spid(9), Target::addr("2001:db8::2")),
            Mapping {
                key: Key::Spid(17),
                target: Some(Target::addr("10.9.0.17")),
                pending: Some(pending_mode::DROP),
                hold_packets: None,
                hold_bytes: None,
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
        ];
        let req = Request::MapSet {
            mappings: mappings.clone(),
        };
        let b = req.encode(30, 11);
        // REQUEST|ACK, the family, the command.
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), 30);
        assert_eq!(u16::from_ne_bytes(b[6..8].try_into().unwrap()), 0x1 | 0x4);
        assert_eq!(&b[16..20], &[cmd::MAP_SET, uapi::FAMILY_VERSION, 0, 0]);
        // The first nest, byte for byte: its type is MAPPING | NLA_F_NESTED.
        let mut inner = Vec::new();
        put(&mut inner, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut inner, map_attr::ADDR, &[10, 20, 30, 2]);
        put(&mut inner, map_attr::PENDING, &[pending_mode::HOLD]);
        put(&mut inner, map_attr::HOLD_PACKETS, &500u32.to_ne_bytes());
        put(
            &mut inner,
            map_attr::HOLD_BYTES,
            &(1u32 << 20).to_ne_bytes(),
        );
        let mut first = Vec::new();
        put(&mut first, map_attr::MAPPING | 0x8000, &inner);
        assert_eq!(&b[20..20 + first.len()], &first[..]);
        assert_eq!(
            u16::from_ne_bytes(b[22..24].try_into().unwrap()),
            11 | 0x8000
        );
        // 16 + 4 + (4 + 40) + (4 + 8 + 20) + (4 + 8 + 8 + 8).
        assert_eq!(b.len(), 124);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 124);

        // Decoded: the mappings, in the order given, with what each carries
        // and nothing else (no replace, no state).
        let decoded = decode_map_set(&b);
        assert_eq!(decoded.len(), 3);
        let back: Vec<Mapping> = decoded
            .iter()
            .map(|attrs| {
                assert!(attrs.iter().all(|a| *a != MapAttr::Replace));
                ReportedMapping::from_attrs(attrs).unwrap().mapping
            })
            .collect();
        assert_eq!(back, mappings);
        assert_eq!(
            decoded[1].iter().map(Nla::kind).collect::<Vec<_>>(),
            [map_attr::SPID, map_attr::ADDR]
        );
        assert_eq!(decoded[1][1].value_len(), 16);
        assert_eq!(
            decoded[2].iter().map(Nla::kind).collect::<Vec<_>>(),
            [map_attr::SPID, map_attr::ADDR, map_attr::PENDING]
        );
        assert_eq!(req.contents(), "3 mappings");

        // No mappings: a request without attributes, which empties the set.
        let empty = Request::MapSet { mappings: vec![] };
        let b = empty.encode(30, 12);
        assert_eq!((b.len(), b[16]), (20, cmd::MAP_SET));
        assert!(decode_map_set(&b).is_empty());
        assert_eq!(empty.contents(), "0 mappings");
    }

    #[test]
    fn map_set_of_the_largest_set() {
        // 65536 IPv6 hold mappings with both limits: the largest message a
        // full set makes, well past a default socket send buffer.
        let mappings: Vec<Mapping> = (0..65536u32)
            .map(|k| Mapping {
                key: Key::Spid(8 * k + 1),
                target: Some(Target {
                    to: Prefix {
                        addr: IpAddr::V6(Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(k))),
                        len: 128,
                    },
                    from: None,
                }),
                pending: Some(pending_mode::HOLD),
                hold_packets: Some(100),
                hold_bytes: Some(262144),
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            })
            .collect();
        let b = Request::MapSet { mappings }.encode(30, 1);
        assert_eq!(b.len(), 20 + 65536 * (4 + 8 + 20 + 8 + 8 + 8));
        let decoded = decode_map_set(&b);
        assert_eq!(decoded.len(), 65536);
        let last = ReportedMapping::from_attrs(&decoded[65535]).unwrap();
        assert_eq!(last.mapping.key, Key::Spid(8 * 65535 + 1));
        assert_eq!(last.mapping.target, Some(Target::addr("2001:db8::ffff")));
    }

    #[test]
    fn other_requests() {
        let del = Request::MapDel {
            key: Key::Spid(313),
        }
        .encode(30, 2);
        assert_eq!(del[16], cmd::MAP_DEL);
        assert_eq!(u16::from_ne_bytes(del[6..8].try_into().unwrap()), 0x5);
        let mut want = Vec::new();
        put(&mut want, 1, &313u32.to_ne_bytes());
        assert_eq!(&del[20..], &want[..]);
        let dump = Request::MapDump.encode(30, 3);
        assert_eq!(dump.len(), 20);
        assert_eq!(dump[16], cmd::MAP_GET);
        assert_eq!(
            u16::from_ne_bytes(dump[6..8].try_into().unwrap()),
            0x1 | 0x300
        );
        let get = Request::MapGet { key: Key::Spid(1) }.encode(30, 4);
        assert_eq!((get[16], get.len()), (cmd::MAP_GET, 28));
        let flush = Request::Flush.encode(30, 5);
        assert_eq!((flush[16], flush.len()), (cmd::FLUSH, 20));
        assert_eq!(u16::from_ne_bytes(flush[6..8].try_into().unwrap()), 0x5);
    }

    #[test]
    fn get_family_bytes() {
        let b = encode_get_family(Some(uapi::FAMILY_NAME), 7);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), 0x10); // GENL_ID_CTRL
        assert_eq!(b[16], 3); // CTRL_CMD_GETFAMILY
                              // CTRL_ATTR_FAMILY_NAME (2), NUL-terminated "xfrm_nat", padded.
        assert_eq!(&b[20..24], &[13, 0, 2, 0]);
        assert_eq!(&b[24..33], b"xfrm_nat\0");
        assert_eq!(b.len(), 36);
    }

    #[test]
    fn parse_mapping_reply() {
        let buf = nlmsg(30, 0, 4, cmd::MAP_GET, &sample_mapping_attrs());
        let msgs = parse_buffer::<XnatMsg>(&buf).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0.sequence_number, 4);
        let Reply::Msg(m) = &msgs[0].1 else {
            panic!("not a message: {:?}", msgs[0].1)
        };
        assert_eq!(m.cmd, cmd::MAP_GET);
        let map = ReportedMapping::from_attrs(&m.attrs).unwrap();
        assert_eq!(
            map,
            ReportedMapping {
                state: Some(1),
                selector: Some(Selector {
                    family: AF_INET,
                    daddr: Some("10.0.0.0".parse().unwrap()),
                    saddr: Some("10.20.30.2".parse().unwrap()),
                    prefixlen_d: 8,
                    prefixlen_s: 32,
                    priority: 100,
                    ..Selector::default()
                }),
                stats: Stats::default().with(&[(Counter::Flows, 7), (Counter::FailClosedDrops, 1 << 33), (Counter::PendingRefused, 3), (Counter::PendingDrops, (1 << 32) + 5), (Counter::Held, 0), (Counter::Released, 0), (Counter::HoldOverflowDrops, 0), (Counter::HoldTimeoutDrops, 0), (Counter::HoldErrorDrops, 0), (Counter::HoldQueued, 0)]),
                ..reported(Key::Spid(305), "10.20.30.2", Some(pending_mode::DROP))
            }
        );
    }

    #[test]
    fn parse_hold_mapping() {
        let map = decode(&sample_hold_mapping_attrs());
        assert_eq!(
            map,
            ReportedMapping {
                mapping: hold_mapping(),
                state: Some(uapi::map_state::INACTIVE),
                stats: Stats::default().with(&[(Counter::Flows, 4), (Counter::FailClosedDrops, 0), (Counter::PendingRefused, 0), (Counter::PendingDrops, 0), (Counter::Held, 40), (Counter::Released, (1 << 32) + 1), (Counter::HoldOverflowDrops, 3), (Counter::HoldTimeoutDrops, 2), (Counter::HoldErrorDrops, 1), (Counter::HoldQueued, 5)]),
                ..ReportedMapping::new(Key::Spid(313))
            }
        );
    }

    #[test]
    fn selector_v6_ports() {
        let mut sel = Vec::new();
        put(&mut sel, selector_attr::FAMILY, &AF_INET6.to_ne_bytes());
        let d: Ipv6Addr = "2001:db8:1::".parse().unwrap();
        put(&mut sel, selector_attr::DADDR, &d.octets());
        put(&mut sel, selector_attr::DPORT, &443u16.to_be_bytes());
        put(
            &mut sel,
            selector_attr::DPORT_MASK,
            &0xffffu16.to_be_bytes(),
        );
        put(&mut sel, selector_attr::IFINDEX, &(-1i32).to_ne_bytes());
        let s = Selector::parse(&sel).unwrap();
        assert_eq!(s.daddr, Some(IpAddr::V6(d)));
        assert_eq!((s.dport, s.dport_mask, s.ifindex), (443, 0xffff, -1));
    }

    #[test]
    fn typed_attributes_round_trip() {
        // Each attribute emits what the kernel sends and reads back the
        // same; one of an unknown type passes through as it came.
        let sel = vec![
            SelectorAttr::Family(AF_INET),
            SelectorAttr::Daddr("10.0.0.0".parse().unwrap()),
            SelectorAttr::Saddr("10.20.30.2".parse().unwrap()),
            SelectorAttr::PrefixlenD(8),
            SelectorAttr::PrefixlenS(32),
            SelectorAttr::Proto(6),
            SelectorAttr::Dport(443),
            SelectorAttr::DportMask(0xffff),
            SelectorAttr::Sport(0),
            SelectorAttr::SportMask(0),
            SelectorAttr::Ifindex(-1),
            SelectorAttr::Priority(100),
            SelectorAttr::Index(305),
            SelectorAttr::Other(DefaultNla::new(99, vec![1, 2, 3])),
        ];
        let stats: Vec<StatsAttr> = Counter::ALL
            .into_iter()
            .enumerate()
            .map(|(i, c)| StatsAttr::Counter(c, (i as u64) << 33))
            .collect();
        let attrs = vec![
            MapAttr::Spid(305),
            MapAttr::Reqid(7),
            MapAttr::Addr("10.20.30.0".parse().unwrap()),
            MapAttr::PrefixLen(24),
            MapAttr::From("2001:db8::".parse().unwrap()),
            MapAttr::FromPrefixLen(64),
            MapAttr::State(1),
            MapAttr::Reason("no policy".into()),
            MapAttr::Pending(2),
            MapAttr::HoldPackets(10),
            MapAttr::HoldBytes(1 << 20),
            MapAttr::Policy(321),
            MapAttr::SaState(1),
            MapAttr::Replace,
            MapAttr::Inbound,
            MapAttr::Remote("192.168.1.0".parse().unwrap()),
            MapAttr::RemoteAlias("10.99.1.0".parse().unwrap()),
            MapAttr::RemotePrefixLen(24),
            MapAttr::Zone(11),
            MapAttr::Name("home/net".into()),
            MapAttr::Selector(sel),
            MapAttr::Stats(stats),
            MapAttr::Mapping(vec![
                MapAttr::Spid(9),
                MapAttr::Addr("10.9.0.9".parse().unwrap()),
            ]),
            MapAttr::Other(DefaultNla::new(98, vec![4; 5])),
        ];
        let bytes = nest_value(&attrs);
        assert_eq!(parse_attrs(&bytes).unwrap(), attrs);
        // Every type of the sets has its variant: none came back as Other.
        assert_eq!(Counter::ALL.len() as u16, stats_attr::MAX);
        assert_eq!(attrs.len() as u16 - 1, map_attr::MAX);
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &[1, 0]);
        let e = parse_attrs(&a).unwrap_err().to_string();
        assert_eq!(e, "attribute spid has unexpected length 2");

        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &1u32.to_ne_bytes());
        put(&mut a, map_attr::ADDR, &[1, 2, 3, 4, 5]);
        let e = parse_attrs(&a).unwrap_err();
        assert_eq!(e.to_string(), "attribute addr has unexpected length 5");

        let mut st = Vec::new();
        put(&mut st, stats_attr::FLOWS, &[0; 2]);
        assert!(Stats::parse(&st).is_err());
        for (kind, name) in [
            (stats_attr::PENDING_REFUSED, "stats.pending-refused"),
            (stats_attr::PENDING_DROPS, "stats.pending-drops"),
            (stats_attr::HELD, "stats.held"),
            (stats_attr::RELEASED, "stats.released"),
            (stats_attr::HOLD_OVERFLOW_DROPS, "stats.hold-overflow-drops"),
            (stats_attr::HOLD_TIMEOUT_DROPS, "stats.hold-timeout-drops"),
            (stats_attr::HOLD_ERROR_DROPS, "stats.hold-error-drops"),
            (stats_attr::HOLD_QUEUED, "stats.hold-queued"),
        ] {
            let mut st = Vec::new();
            put(&mut st, kind, &[0; 2]);
            let e = Stats::parse(&st).unwrap_err().to_string();
            assert_eq!(e, format!("attribute {name} has unexpected length 2"));
        }

        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &1u32.to_ne_bytes());
        put(&mut a, map_attr::PENDING, &0u32.to_ne_bytes());
        let e = parse_attrs(&a).unwrap_err();
        assert_eq!(e.to_string(), "attribute pending has unexpected length 4");

        for (kind, name) in [
            (map_attr::HOLD_PACKETS, "hold-packets"),
            (map_attr::HOLD_BYTES, "hold-bytes"),
        ] {
            let mut a = Vec::new();
            put(&mut a, map_attr::SPID, &1u32.to_ne_bytes());
            put(&mut a, kind, &100u64.to_ne_bytes());
            let e = parse_attrs(&a).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("attribute {name} has unexpected length 8")
            );
        }

        let mut a = Vec::new();
        put(&mut a, map_attr::ADDR, &[1, 2, 3, 4]);
        let e = ReportedMapping::from_attrs(&parse_attrs(&a).unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "mapping without spid or reqid attribute");
    }

    /// NLMSG_ERROR as the kernel sends it with NETLINK_EXT_ACK set.
    pub fn error_msg(seq: u32, errno: i32, capped: bool, extack: Option<&str>) -> Vec<u8> {
        let req = Request::MapNew {
            mapping: Mapping::new(Key::Spid(305), Target::addr("10.20.30.2")),
            replace: false,
        }
        .encode(30, seq);
        let mut payload = (-errno).to_ne_bytes().to_vec();
        payload.extend_from_slice(if capped { &req[..16] } else { &req[..] });
        let mut flags = if capped { NLM_F_CAPPED } else { 0 };
        if let Some(m) = extack {
            flags |= NLM_F_ACK_TLVS;
            let mut v = m.as_bytes().to_vec();
            v.push(0);
            put(&mut payload, 1, &v);
            put(&mut payload, 2, &20u32.to_ne_bytes()); // NLMSGERR_ATTR_OFFS
        }
        let mut b = Vec::new();
        b.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&payload);
        b
    }

    #[test]
    fn errors_and_extack() {
        for capped in [false, true] {
            let b = error_msg(9, libc::EINVAL, capped, Some("policy 306 is not outbound"));
            let r = parse_buffer::<XnatMsg>(&b).unwrap();
            assert_eq!(
                r[0].1,
                Reply::Error {
                    errno: libc::EINVAL,
                    extack: Some("policy 306 is not outbound".into())
                }
            );
        }
        let b = error_msg(9, libc::EEXIST, false, None);
        assert_eq!(
            parse_buffer::<XnatMsg>(&b).unwrap()[0].1,
            Reply::Error {
                errno: libc::EEXIST,
                extack: None
            }
        );
        let ack = error_msg(9, 0, true, None);
        assert_eq!(parse_buffer::<XnatMsg>(&ack).unwrap()[0].1, Reply::Ack);
    }

    #[test]
    fn multipart_dump_buffer() {
        let mut buf = nlmsg(30, 2, 5, cmd::MAP_GET, &sample_mapping_attrs()); // NLM_F_MULTI
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &313u32.to_ne_bytes());
        put(&mut a, map_attr::ADDR, &Ipv6Addr::LOCALHOST.octets());
        put(&mut a, map_attr::STATE, &[0]);
        buf.extend(nlmsg(30, 2, 5, cmd::MAP_GET, &a));
        // NLMSG_DONE with a 0 code.
        let mut done = 20u32.to_ne_bytes().to_vec();
        done.extend_from_slice(&3u16.to_ne_bytes());
        done.extend_from_slice(&2u16.to_ne_bytes());
        done.extend_from_slice(&5u32.to_ne_bytes());
        done.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&done);
        let r = parse_buffer::<XnatMsg>(&buf).unwrap();
        assert_eq!(r.len(), 3);
        let spids: Vec<Key> = r
            .iter()
            .filter_map(|(_, m)| match m {
                Reply::Msg(m) => Some(ReportedMapping::from_attrs(&m.attrs).unwrap().mapping.key),
                _ => None,
            })
            .collect();
        assert_eq!(spids, [Key::Spid(305), Key::Spid(313)]);
        // An older module sends no PENDING, no hold limits and no counters.
        let Reply::Msg(old) = &r[1].1 else {
            panic!("not a message: {:?}", r[1].1)
        };
        let old = ReportedMapping::from_attrs(&old.attrs).unwrap();
        assert_eq!(
            (old.mapping.pending, old.mapping.hold_packets, old.mapping.hold_bytes, old.stats),
            (None, None, None, Stats::default())
        );
        assert_eq!(r[2].1, Reply::Done);

        // A dump that failed reports its error in NLMSG_DONE.
        done[16..20].copy_from_slice(&(-libc::ENOBUFS).to_ne_bytes());
        let r = parse_buffer::<XnatMsg>(&done).unwrap();
        assert_eq!(
            r[0].1,
            Reply::Error {
                errno: libc::ENOBUFS,
                extack: None
            }
        );
    }

    #[test]
    fn truncated_buffer_is_an_error() {
        let buf = nlmsg(30, 0, 4, cmd::MAP_GET, &sample_mapping_attrs());
        assert!(parse_buffer::<XnatMsg>(&buf[..buf.len() - 4]).is_err());
        assert!(parse_buffer::<XnatMsg>(&buf[..10]).is_err());
    }

    /// A buffer as a monitor receives it: map-change-ntf (full mapping),
    /// an unknown command, another family's message, a map-change-ntf of
    /// an inactive mapping, map-del-ntf; then a map-change-ntf of a hold
    /// mapping, sa-ntf pending and established, and an sa-ntf of an
    /// sa-state unknown to xnatctl; then map-change-ntf of a reqid prefix
    /// mapping and of an inactive reqid mapping, its map-del-ntf, and an
    /// sa-ntf of a policy the reqid mapping binds.
    pub fn sample_events_buffer(family_id: u16) -> Vec<u8> {
        let mut buf = nlmsg(
            family_id,
            0,
            0,
            cmd::MAP_CHANGE_NTF,
            &sample_mapping_attrs(),
        );
        buf.extend(nlmsg(family_id, 0, 0, 77, &sample_mapping_attrs()));
        buf.extend(nlmsg(family_id + 1, 0, 0, cmd::MAP_DEL_NTF, &[]));
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &1009u32.to_ne_bytes());
        put(
            &mut a,
            map_attr::ADDR,
            &"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets(),
        );
        put(&mut a, map_attr::STATE, &[uapi::map_state::INACTIVE]);
        put(&mut a, map_attr::PENDING, &[pending_mode::EAGAIN]);
        buf.extend(nlmsg(family_id, 0, 0, cmd::MAP_CHANGE_NTF, &a));
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &305u32.to_ne_bytes());
        buf.extend(nlmsg(family_id, 0, 0, cmd::MAP_DEL_NTF, &a));
        buf.extend(nlmsg(
            family_id,
            0,
            0,
            cmd::MAP_CHANGE_NTF,
            &sample_hold_mapping_attrs(),
        ));
        for (spid, state) in [
            (313, sa_state::PENDING),
            (313, sa_state::ESTABLISHED),
            (305, 7),
        ] {
            buf.extend(nlmsg(
                family_id,
                0,
                0,
                cmd::SA_NTF,
                &sa_ntf_attrs(spid, state),
            ));
        }
        for attrs in [sample_reqid_mapping_attrs(), sample_inactive_reqid_attrs()] {
            buf.extend(nlmsg(family_id, 0, 0, cmd::MAP_CHANGE_NTF, &attrs));
        }
        let mut a = Vec::new();
        put(&mut a, map_attr::REQID, &7u32.to_ne_bytes());
        buf.extend(nlmsg(family_id, 0, 0, cmd::MAP_DEL_NTF, &a));
        buf.extend(nlmsg(
            family_id,
            0,
            0,
            cmd::SA_NTF,
            &sa_ntf_attrs(321, sa_state::PENDING),
        ));
        buf
    }

    #[test]
    fn parse_notifications() {
        assert_eq!(
            (cmd::MAP_CHANGE_NTF, cmd::MAP_DEL_NTF, cmd::SA_NTF),
            (5, 6, 7)
        );
        assert_eq!(map_attr::SA_STATE, 10);
        assert_eq!((sa_state::PENDING, sa_state::ESTABLISHED), (0, 1));
        let evs: Vec<Event> = parse_events(&sample_events_buffer(30), 30)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(evs.len(), 11, "{evs:?}");
        let Event::Map(m) = &evs[0] else {
            panic!("not a map event: {:?}", evs[0])
        };
        let buf = nlmsg(30, 0, 4, cmd::MAP_GET, &sample_mapping_attrs());
        let Reply::Msg(reply) = &parse_buffer::<XnatMsg>(&buf).unwrap()[0].1 else {
            panic!("no reply")
        };
        assert_eq!(**m, ReportedMapping::from_attrs(&reply.attrs).unwrap());
        assert_eq!(
            evs[1],
            Event::Map(Box::new(ReportedMapping {
                state: Some(uapi::map_state::INACTIVE),
                ..reported(Key::Spid(1009), "2001:db8::2", Some(pending_mode::EAGAIN))
            }))
        );
        assert_eq!(
            evs[2],
            Event::Unmap {
                key: Key::Spid(305)
            }
        );
        assert_eq!(
            evs[3],
            Event::Map(Box::new(
                decode(&sample_hold_mapping_attrs())
            ))
        );
        assert_eq!(
            evs[4..7],
            [
                Event::Sa {
                    spid: 313,
                    state: sa_state::PENDING
                },
                Event::Sa {
                    spid: 313,
                    state: sa_state::ESTABLISHED
                },
                Event::Sa {
                    spid: 305,
                    state: 7
                },
            ]
        );
        let Event::Map(m) = &evs[7] else {
            panic!("not a map event: {:?}", evs[7])
        };
        assert_eq!(
            (m.mapping.key, m.policies.as_slice()),
            (Key::Reqid(7), &[321, 337][..])
        );
        assert_eq!(
            evs[9..],
            [
                Event::Unmap { key: Key::Reqid(7) },
                Event::Sa {
                    spid: 321,
                    state: sa_state::PENDING
                },
            ]
        );
    }

    #[test]
    fn parse_reqid_prefix_mapping() {
        let buf = nlmsg(30, 2, 5, cmd::MAP_GET, &sample_reqid_mapping_attrs());
        let Reply::Msg(reply) = &parse_buffer::<XnatMsg>(&buf).unwrap()[0].1 else {
            panic!("no reply")
        };
        let m = ReportedMapping::from_attrs(&reply.attrs).unwrap();
        assert_eq!(
            m,
            ReportedMapping {
                mapping: Mapping {
                    pending: Some(pending_mode::EAGAIN),
                    ..Mapping::new(Key::Reqid(7), lan_target())
                },
                state: Some(uapi::map_state::ACTIVE),
                policies: vec![321, 337],
                selector: Some(Selector {
                    family: AF_INET,
                    daddr: Some("10.1.0.0".parse().unwrap()),
                    saddr: Some("10.20.30.0".parse().unwrap()),
                    prefixlen_d: 16,
                    prefixlen_s: 24,
                    index: Some(321),
                    ..Selector::default()
                }),
                stats: Stats::default().with(&[
                    (Counter::Flows, 40),
                    (Counter::PendingNonblockHeld, 2),
                    (Counter::Declined, 3),
                    (Counter::StaleEntries, 1)
                ]),
                ..ReportedMapping::new(Key::Reqid(7))
            }
        );
        // As `map` would take it to make it again.
        let target = m.mapping.target.unwrap();
        assert_eq!(target.to_string(), "from 192.168.1.0/24 to 10.20.30.0/24");

        let m = decode(&sample_inactive_reqid_attrs());
        assert_eq!(
            m.reason.as_deref(),
            Some("no IPv4 out policy with a template of reqid 9")
        );
        assert_eq!(m.mapping.target.unwrap().to_string(), "to fd00:2::9");
        assert!(m.policies.is_empty());

        // A reqid beside a spid names the mapping; a length of the wrong
        // size is refused as any other attribute's.
        let mut a = sample_inactive_reqid_attrs();
        put(&mut a, map_attr::SPID, &305u32.to_ne_bytes());
        let m = ReportedMapping::from_attrs(&parse_attrs(&a).unwrap()).unwrap();
        assert_eq!(m.mapping.key, Key::Reqid(9));
        for (kind, name) in [
            (map_attr::PREFIX_LEN, "prefix-len"),
            (map_attr::FROM_PREFIX_LEN, "from-prefix-len"),
            (map_attr::POLICY, "policy"),
            (map_attr::REQID, "reqid"),
        ] {
            let mut a = sample_inactive_reqid_attrs();
            put(&mut a, kind, &[0; 2]);
            let e = parse_attrs(&a).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("attribute {name} has unexpected length 2")
            );
        }
    }

    /// The attributes of reqid 7's mapping of the LAN ([`lan_target`]).
    fn put_reqid_lan(want: &mut Vec<u8>) {
        put(want, map_attr::REQID, &7u32.to_ne_bytes());
        put(want, map_attr::ADDR, &[10, 20, 30, 0]);
        put(want, map_attr::PREFIX_LEN, &[24]);
        put(want, map_attr::FROM, &[192, 168, 1, 0]);
        put(want, map_attr::FROM_PREFIX_LEN, &[24]);
    }

    /// A twice-NAT mapping: remote (the real prefix), remote-alias,
    /// remote-prefix-len and zone after the rest, in both families; a
    /// reply carrying them decodes to the same mapping.
    #[test]
    fn map_new_remote_bytes() {
        assert_eq!(
            (
                map_attr::REMOTE,
                map_attr::REMOTE_ALIAS,
                map_attr::REMOTE_PREFIX_LEN,
                map_attr::ZONE
            ),
            (19, 20, 21, 22)
        );
        let twice = Mapping {
            remote: Some(Remote {
                alias: "10.99.1.0".parse().unwrap(),
                real: "192.168.1.0".parse().unwrap(),
                len: 24,
            }),
            zone: Some(11),
            inbound: true,
            ..Mapping::new(Key::Reqid(7), lan_target())
        };
        let b = Request::MapNew {
            mapping: twice.clone(),
            replace: false,
        }
        .encode(30, 5);
        let mut want = Vec::new();
        put_reqid_lan(&mut want);
        put(&mut want, map_attr::INBOUND, &[]);
        put(&mut want, map_attr::REMOTE, &[192, 168, 1, 0]);
        put(&mut want, map_attr::REMOTE_ALIAS, &[10, 99, 1, 0]);
        put(&mut want, map_attr::REMOTE_PREFIX_LEN, &[24]);
        put(&mut want, map_attr::ZONE, &11u16.to_ne_bytes());
        assert_eq!(&b[20..], &want[..]);
        assert_eq!(decode(&want).mapping, twice);
        let plain = decode(&sample_reqid_mapping_attrs()).mapping;
        assert_eq!((plain.remote, plain.zone), (None, None));

        // IPv6, no zone: no ZONE attribute; one host's alias.
        let v6 = Mapping {
            remote: Some(Remote {
                alias: "fd00:99::5".parse().unwrap(),
                real: "fd00:1::5".parse().unwrap(),
                len: 128,
            }),
            ..Mapping::new(Key::Spid(305), Target::addr("fd00:2::1"))
        };
        let b = Request::MapNew {
            mapping: v6.clone(),
            replace: false,
        }
        .encode(30, 6);
        let mut want = Vec::new();
        put(&mut want, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut want, map_attr::ADDR, &"fd00:2::1".parse::<Ipv6Addr>().unwrap().octets());
        put(&mut want, map_attr::REMOTE, &"fd00:1::5".parse::<Ipv6Addr>().unwrap().octets());
        put(&mut want, map_attr::REMOTE_ALIAS, &"fd00:99::5".parse::<Ipv6Addr>().unwrap().octets());
        put(&mut want, map_attr::REMOTE_PREFIX_LEN, &[128]);
        assert_eq!(&b[20..], &want[..]);
        assert_eq!(decode(&want).mapping, v6);
        // An alias without the prefix it stands for is no remote site.
        let mut half = Vec::new();
        put(&mut half, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut half, map_attr::ADDR, &[10, 20, 30, 2]);
        put(&mut half, map_attr::REMOTE_ALIAS, &[10, 99, 1, 0]);
        put(&mut half, map_attr::REMOTE_PREFIX_LEN, &[24]);
        assert_eq!(decode(&half).mapping.remote, None);
    }

    /// The name goes last, NUL-terminated as the kernel's NLA_NUL_STRING
    /// wants it, in map-new and in a map-set entry; a reply carrying it
    /// decodes to the named mapping.
    #[test]
    fn map_new_name_bytes() {
        assert_eq!(map_attr::NAME, 23);
        let named = Mapping {
            name: Some("home/net".into()),
            ..Mapping::new(Key::Reqid(7), lan_target())
        };
        let b = Request::MapNew {
            mapping: named.clone(),
            replace: false,
        }
        .encode(30, 5);
        let mut want = Vec::new();
        put_reqid_lan(&mut want);
        put(&mut want, map_attr::NAME, b"home/net\0");
        assert_eq!(&b[20..], &want[..]);
        assert_eq!(decode(&want).mapping, named);
        let b = Request::MapSet {
            mappings: vec![named.clone()],
        }
        .encode(30, 6);
        let entry = &decode_map_set(&b)[0];
        assert_eq!(entry.last(), Some(&MapAttr::Name("home/net".into())));
        assert_eq!(decode(&sample_reqid_mapping_attrs()).mapping.name, None);
    }

    #[test]
    fn map_new_reqid_prefix_bytes() {
        assert_eq!(
            (
                map_attr::REQID,
                map_attr::PREFIX_LEN,
                map_attr::FROM,
                map_attr::FROM_PREFIX_LEN
            ),
            (12, 13, 14, 15)
        );
        let prefix = |text: &str, len| Prefix {
            addr: text.parse().unwrap(),
            len,
        };
        let mapping = Mapping::new(Key::Reqid(7), lan_target());
        let b = Request::MapNew {
            mapping: mapping.clone(),
            replace: true,
        }
        .encode(30, 3);
        let mut want = Vec::new();
        put_reqid_lan(&mut want);
        put(&mut want, map_attr::REPLACE, &[]);
        assert_eq!(&b[20..], &want[..]);
        // Inbound: an empty INBOUND attribute after the rest; a reply that
        // carries it decodes as inbound, one without it as not.
        let inbound = Mapping {
            inbound: true,
            ..mapping.clone()
        };
        let b = Request::MapNew {
            mapping: inbound.clone(),
            replace: true,
        }
        .encode(30, 3);
        put(&mut want, map_attr::INBOUND, &[]);
        assert_eq!(&b[20..], &want[..]);
        assert_eq!(decode(&want).mapping, inbound);
        assert!(!decode(&sample_reqid_mapping_attrs()).mapping.inbound);

        // IPv6 prefixes: 16-byte addresses.
        let v6 = Mapping {
            key: Key::Spid(305),
            target: Some(Target {
                to: prefix("fd00:2::", 64),
                from: Some(prefix("fd00:1::", 64)),
            }),
            ..mapping.clone()
        };
        let b = Request::MapNew {
            mapping: v6,
            replace: false,
        }
        .encode(30, 4);
        let mut want = Vec::new();
        put(&mut want, map_attr::SPID, &305u32.to_ne_bytes());
        put(
            &mut want,
            map_attr::ADDR,
            &"fd00:2::".parse::<Ipv6Addr>().unwrap().octets(),
        );
        put(&mut want, map_attr::PREFIX_LEN, &[64]);
        put(
            &mut want,
            map_attr::FROM,
            &"fd00:1::".parse::<Ipv6Addr>().unwrap().octets(),
        );
        put(&mut want, map_attr::FROM_PREFIX_LEN, &[64]);
        assert_eq!(&b[20..], &want[..]);

        // del and get by reqid.
        let del = Request::MapDel { key: Key::Reqid(7) }.encode(30, 5);
        let mut want = Vec::new();
        put(&mut want, map_attr::REQID, &7u32.to_ne_bytes());
        assert_eq!((del[16], &del[20..]), (cmd::MAP_DEL, &want[..]));
        let get = Request::MapGet { key: Key::Reqid(7) }.encode(30, 6);
        assert_eq!((get[16], &get[20..]), (cmd::MAP_GET, &want[..]));

        // In map-set, a mapping carries the same attributes, and reads
        // back as the mapping.
        let b = Request::MapSet {
            mappings: vec![mapping.clone()],
        }
        .encode(30, 7);
        let decoded = decode_map_set(&b);
        assert_eq!(
            ReportedMapping::from_attrs(&decoded[0]).unwrap().mapping,
            mapping
        );
    }

    #[test]
    fn bad_notifications() {
        // A bad message is reported and the others still come through.
        let mut buf = nlmsg(30, 0, 0, cmd::MAP_DEL_NTF, &[]);
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &313u32.to_ne_bytes());
        buf.extend(nlmsg(30, 0, 0, cmd::MAP_DEL_NTF, &a));
        let evs = parse_events(&buf, 30).unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(
            evs[0].as_ref().unwrap_err().to_string(),
            "mapping without spid or reqid attribute"
        );
        assert_eq!(
            evs[1].as_ref().unwrap(),
            &Event::Unmap {
                key: Key::Spid(313)
            }
        );
        // Broken framing loses the buffer.
        assert!(parse_events(&buf[..buf.len() - 4], 30).is_err());

        // sa-ntf needs both its attributes, sa-state one byte.
        let mut buf = Vec::new();
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &305u32.to_ne_bytes());
        buf.extend(nlmsg(30, 0, 0, cmd::SA_NTF, &a));
        let mut a = Vec::new();
        put(&mut a, map_attr::SA_STATE, &[sa_state::PENDING]);
        buf.extend(nlmsg(30, 0, 0, cmd::SA_NTF, &a));
        let mut a = Vec::new();
        put(&mut a, map_attr::SPID, &305u32.to_ne_bytes());
        put(&mut a, map_attr::SA_STATE, &0u32.to_ne_bytes());
        buf.extend(nlmsg(30, 0, 0, cmd::SA_NTF, &a));
        buf.extend(nlmsg(30, 0, 0, cmd::SA_NTF, &sa_ntf_attrs(305, 1)));
        let evs = parse_events(&buf, 30).unwrap();
        let errs: Vec<String> = evs[..3]
            .iter()
            .map(|e| e.as_ref().unwrap_err().to_string())
            .collect();
        assert_eq!(
            errs,
            [
                "sa-ntf without sa-state attribute",
                "sa-ntf without spid attribute",
                "attribute sa-state has unexpected length 4",
            ]
        );
        assert_eq!(
            evs[3].as_ref().unwrap(),
            &Event::Sa {
                spid: 305,
                state: sa_state::ESTABLISHED
            }
        );
        // Nothing of the family: nothing.
        assert!(parse_events(&buf, 31).unwrap().is_empty());
    }

    #[test]
    fn family_from_ctrl_reply() {
        // CTRL_CMD_NEWFAMILY reply: FAMILY_ID, FAMILY_NAME, MCAST_GROUPS.
        let mut grp = Vec::new();
        put(&mut grp, 1, b"events\0"); // CTRL_ATTR_MCAST_GRP_NAME
        put(&mut grp, 2, &11u32.to_ne_bytes()); // CTRL_ATTR_MCAST_GRP_ID
        let mut grps = Vec::new();
        put(&mut grps, 1, &grp);
        let mut a = Vec::new();
        put(&mut a, 1, &30u16.to_ne_bytes());
        put(&mut a, 2, b"xfrm_nat\0");
        put(&mut a, 7, &grps);
        let buf = nlmsg(0x10, 0, 1, 1, &a);
        let r = parse_buffer::<CtrlMsg>(&buf).unwrap();
        let Reply::Msg(ctrl) = &r[0].1 else {
            panic!("no ctrl message")
        };
        let fam = Family::from_ctrl(&ctrl.attrs).unwrap();
        assert_eq!(fam.id, 30);
        assert_eq!(fam.mcast_group(uapi::MCGRP_EVENTS), Some(11));
        assert_eq!(fam.mcast_group("nope"), None);

        // An attribute newer than this xnatctl is kept aside, and the
        // reply reads the same.
        put(&mut a, 99, &[0; 4]);
        let buf = nlmsg(0x10, 0, 1, 1, &a);
        let r = parse_buffer::<CtrlMsg>(&buf).unwrap();
        let Reply::Msg(ctrl) = &r[0].1 else {
            panic!("no ctrl message")
        };
        assert!(ctrl
            .attrs
            .contains(&CtrlAttr::Other(DefaultNla::new(99, vec![0; 4]))));
        assert_eq!(Family::from_ctrl(&ctrl.attrs), Some(fam));
    }
}
