//! Rendering mappings: a table for people, JSON for scripts.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::proto::{Event, Mapping, Selector, AF_INET6, PENDING_MODES, SA_STATES};
use crate::uapi::map_state;

pub fn state_name(state: Option<u8>) -> String {
    match state {
        Some(map_state::ACTIVE) => "active".into(),
        Some(map_state::INACTIVE) => "inactive".into(),
        Some(n) => format!("unknown({n})"),
        None => "-".into(),
    }
}

/// The spec's name of a pending mode (uapi::pending_mode).
pub fn pending_name(pending: Option<u8>) -> String {
    match pending {
        Some(n) => match PENDING_MODES.iter().find(|(_, mode)| *mode == n) {
            Some((name, _)) => (*name).into(),
            None => format!("unknown({n})"),
        },
        None => "-".into(),
    }
}

/// The spec's name of an SA state of sa-ntf (uapi::sa_state).
pub fn sa_state_name(state: u8) -> String {
    match SA_STATES.iter().find(|(_, s)| *s == state) {
        Some((name, _)) => (*name).into(),
        None => format!("unknown({state})"),
    }
}

/// A byte count in the largest binary unit that divides it: `256KiB`,
/// `16MiB`, `1500B`.
pub fn bytes_text(n: u32) -> String {
    const KIB: u32 = 1024;
    const MIB: u32 = 1024 * 1024;
    match n {
        0 => "0B".into(),
        n if n % MIB == 0 => format!("{}MiB", n / MIB),
        n if n % KIB == 0 => format!("{}KiB", n / KIB),
        n => format!("{n}B"),
    }
}

/// The PENDING cell of `show`: the mode, and the hold limits where the
/// module reports them (hold mode): `hold(100p/256KiB)`.
pub fn pending_cell(m: &Mapping) -> String {
    let mut limits = Vec::new();
    if let Some(p) = m.hold_packets {
        limits.push(format!("{p}p"));
    }
    if let Some(b) = m.hold_bytes {
        limits.push(bytes_text(b));
    }
    let name = pending_name(m.pending);
    if limits.is_empty() {
        name
    } else {
        format!("{name}({})", limits.join("/"))
    }
}

pub fn proto_name(proto: u8) -> String {
    match proto {
        0 => "any".into(),
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        41 => "ipv6".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        51 => "ah".into(),
        58 => "ipv6-icmp".into(),
        132 => "sctp".into(),
        136 => "udplite".into(),
        n => n.to_string(),
    }
}

/// Name of an interface index, or `#N` when the interface is unknown here.
pub fn ifname(ifindex: i32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes, as if_indextoname requires; it
    // writes a NUL-terminated name there or returns NULL.
    let p = unsafe { libc::if_indextoname(ifindex as libc::c_uint, buf.as_mut_ptr()) };
    if p.is_null() {
        return format!("#{ifindex}");
    }
    // SAFETY: on success buf holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    name.to_string_lossy().into_owned()
}

fn sel_addr(addr: Option<IpAddr>, family: u16) -> IpAddr {
    addr.unwrap_or(if family == AF_INET6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    })
}

fn port(out: &mut String, what: &str, port: u16, mask: u16) {
    match mask {
        0 => {}
        0xffff => write!(out, " {what} {port}").unwrap(),
        m => write!(out, " {what} {port}/{m:#06x}").unwrap(),
    }
}

/// `10.20.30.2/32 -> 10.0.0.0/8 proto any`, with ports only if masked (for
/// ICMP the selector's ports are type and code), and the output interface.
pub fn format_selector(s: &Selector, ifname: impl Fn(i32) -> String) -> String {
    let mut out = format!(
        "{}/{} -> {}/{} proto {}",
        sel_addr(s.saddr, s.family),
        s.prefixlen_s,
        sel_addr(s.daddr, s.family),
        s.prefixlen_d,
        proto_name(s.proto)
    );
    let (sp, dp) = if s.proto == 1 || s.proto == 58 {
        ("type", "code")
    } else {
        ("sport", "dport")
    };
    port(&mut out, sp, s.sport, s.sport_mask);
    port(&mut out, dp, s.dport, s.dport_mask);
    if s.ifindex != 0 {
        write!(out, " dev {}", ifname(s.ifindex)).unwrap();
    }
    out
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The columns of `show`'s table; from FLOWS on, numbers.
const COLUMNS: [&str; 15] = [
    "SPID",
    "ADDRESS",
    "STATE",
    "PENDING",
    "SELECTOR",
    "FLOWS",
    "FC-DROPS",
    "REFUSED",
    "P-DROPS",
    "HELD",
    "RELEASED",
    "H-OVERFLOW",
    "H-TIMEOUT",
    "H-ERROR",
    "QUEUED",
];

/// The table `show` prints.  Empty when there are no mappings.
pub fn format_table(maps: &[Mapping], ifname: impl Fn(i32) -> String) -> String {
    if maps.is_empty() {
        return String::new();
    }
    let header = COLUMNS;
    let rows: Vec<[String; COLUMNS.len()]> = maps
        .iter()
        .map(|m| {
            [
                m.spid.to_string(),
                opt(m.addr),
                state_name(m.state),
                pending_cell(m),
                m.selector
                    .as_ref()
                    .map_or_else(|| "-".into(), |s| format_selector(s, &ifname)),
                opt(m.stats.flows),
                opt(m.stats.fail_closed_drops),
                opt(m.stats.pending_refused),
                opt(m.stats.pending_drops),
                opt(m.stats.held),
                opt(m.stats.released),
                opt(m.stats.hold_overflow_drops),
                opt(m.stats.hold_timeout_drops),
                opt(m.stats.hold_error_drops),
                opt(m.stats.hold_queued),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; COLUMNS.len()]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            let right = i == 0 || i >= 5; // numbers
            if i > 0 {
                l.push_str("  ");
            }
            if right {
                write!(l, "{cell:>w$}").unwrap();
            } else {
                write!(l, "{cell:<w$}").unwrap();
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt<T: ToString>(v: Option<T>, quote: bool) -> String {
    match v {
        None => "null".into(),
        Some(v) if quote => json_str(&v.to_string()),
        Some(v) => v.to_string(),
    }
}

fn json_selector(s: &Selector) -> String {
    let family = match s.family {
        f if f == crate::proto::AF_INET => json_str("inet"),
        AF_INET6 => json_str("inet6"),
        f => f.to_string(),
    };
    format!(
        "{{\"family\":{family},\"src\":{},\"prefixlen_s\":{},\"dst\":{},\"prefixlen_d\":{},\
         \"proto\":{},\"sport\":{},\"sport_mask\":{},\"dport\":{},\"dport_mask\":{},\
         \"ifindex\":{},\"priority\":{}}}",
        json_str(&sel_addr(s.saddr, s.family).to_string()),
        s.prefixlen_s,
        json_str(&sel_addr(s.daddr, s.family).to_string()),
        s.prefixlen_d,
        s.proto,
        s.sport,
        s.sport_mask,
        s.dport,
        s.dport_mask,
        s.ifindex,
        s.priority
    )
}

/// One mapping as a JSON object, as `show -j` and `monitor -j` print it.
fn json_mapping(m: &Mapping) -> String {
    let st = &m.stats;
    format!(
        "{{\"spid\":{},\"addr\":{},\"state\":{},\"pending\":{},\
         \"hold_packets\":{},\"hold_bytes\":{},\"selector\":{},\
         \"stats\":{{\"flows\":{},\"fail_closed_drops\":{},\
         \"pending_refused\":{},\"pending_drops\":{},\
         \"held\":{},\"released\":{},\"hold_overflow_drops\":{},\
         \"hold_timeout_drops\":{},\"hold_error_drops\":{},\"hold_queued\":{}}}}}",
        m.spid,
        json_opt(m.addr, true),
        m.state
            .map_or_else(|| "null".into(), |s| json_str(&state_name(Some(s)))),
        m.pending
            .map_or_else(|| "null".into(), |p| json_str(&pending_name(Some(p)))),
        json_opt(m.hold_packets, false),
        json_opt(m.hold_bytes, false),
        m.selector
            .as_ref()
            .map_or_else(|| "null".into(), json_selector),
        json_opt(st.flows, false),
        json_opt(st.fail_closed_drops, false),
        json_opt(st.pending_refused, false),
        json_opt(st.pending_drops, false),
        json_opt(st.held, false),
        json_opt(st.released, false),
        json_opt(st.hold_overflow_drops, false),
        json_opt(st.hold_timeout_drops, false),
        json_opt(st.hold_error_drops, false),
        json_opt(st.hold_queued, false),
    )
}

/// The JSON `show -j` prints: always an array, one object per mapping.
pub fn format_json(maps: &[Mapping]) -> String {
    let items: Vec<String> = maps.iter().map(json_mapping).collect();
    format!("[{}]\n", items.join(","))
}

/// The line `monitor` prints for an event:
/// `map spid 305 to 10.20.30.2 active pending eagain selector ...`,
/// `unmap spid 305`, or `sa pending spid 305` / `sa established spid 305`.
/// A hold-mode mapping's limits follow its mode, as `map` takes them
/// (`pending hold hold-packets 100 hold-bytes 262144`).  Without selector
/// (inactive mapping) the line ends after the pending mode and limits;
/// values the module does not report are left out (address and state as
/// `-`).
pub fn format_event(ev: &Event, ifname: impl Fn(i32) -> String) -> String {
    match ev {
        Event::Map(m) => {
            let mut out = format!(
                "map spid {} to {} {}",
                m.spid,
                opt(m.addr),
                state_name(m.state)
            );
            if m.pending.is_some() {
                write!(out, " pending {}", pending_name(m.pending)).unwrap();
            }
            if let Some(n) = m.hold_packets {
                write!(out, " hold-packets {n}").unwrap();
            }
            if let Some(n) = m.hold_bytes {
                write!(out, " hold-bytes {n}").unwrap();
            }
            if let Some(s) = &m.selector {
                write!(out, " selector {}", format_selector(s, ifname)).unwrap();
            }
            out.push('\n');
            out
        }
        Event::Unmap { spid } => format!("unmap spid {spid}\n"),
        Event::Sa { spid, state } => format!("sa {} spid {spid}\n", sa_state_name(*state)),
    }
}

/// The line `monitor -j` prints for an event: one JSON object,
/// `{"event":"map","mapping":{...}}`, `{"event":"unmap","spid":N}` or
/// `{"event":"sa","spid":N,"sa_state":"pending"}`.
pub fn format_event_json(ev: &Event) -> String {
    match ev {
        Event::Map(m) => format!("{{\"event\":\"map\",\"mapping\":{}}}\n", json_mapping(m)),
        Event::Unmap { spid } => format!("{{\"event\":\"unmap\",\"spid\":{spid}}}\n"),
        Event::Sa { spid, state } => format!(
            "{{\"event\":\"sa\",\"spid\":{spid},\"sa_state\":{}}}\n",
            json_str(&sa_state_name(*state))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Stats, AF_INET};
    use crate::uapi::pending_mode;

    fn noif(i: i32) -> String {
        format!("if{i}")
    }

    fn sample() -> Vec<Mapping> {
        vec![
            Mapping {
                spid: 305,
                addr: Some("10.20.30.2".parse().unwrap()),
                state: Some(map_state::ACTIVE),
                pending: Some(pending_mode::EAGAIN),
                selector: Some(Selector {
                    family: AF_INET,
                    saddr: Some("10.20.30.2".parse().unwrap()),
                    daddr: Some("10.0.0.0".parse().unwrap()),
                    prefixlen_s: 32,
                    prefixlen_d: 8,
                    priority: 100,
                    ..Selector::default()
                }),
                stats: Stats {
                    flows: Some(12),
                    fail_closed_drops: Some(0),
                    pending_refused: Some(3),
                    ..zero_stats()
                },
                ..Mapping::default()
            },
            // Hold mode with the kernel's default limits.
            Mapping {
                spid: 313,
                addr: Some("10.20.30.3".parse().unwrap()),
                state: Some(map_state::ACTIVE),
                pending: Some(pending_mode::HOLD),
                hold_packets: Some(100),
                hold_bytes: Some(262144),
                selector: Some(Selector {
                    family: AF_INET,
                    saddr: Some("10.20.30.3".parse().unwrap()),
                    daddr: Some("172.16.0.0".parse().unwrap()),
                    prefixlen_s: 32,
                    prefixlen_d: 12,
                    proto: 6,
                    dport: 443,
                    dport_mask: 0xffff,
                    ..Selector::default()
                }),
                stats: Stats {
                    flows: Some(9),
                    held: Some(57),
                    released: Some(50),
                    hold_overflow_drops: Some(4),
                    hold_timeout_drops: Some(2),
                    hold_error_drops: Some(1),
                    hold_queued: Some(0),
                    ..zero_stats()
                },
            },
            Mapping {
                spid: 1009,
                addr: Some("2001:db8::2".parse().unwrap()),
                state: Some(map_state::INACTIVE),
                pending: Some(pending_mode::DROP),
                stats: Stats {
                    pending_drops: Some(1234567),
                    ..zero_stats()
                },
                ..Mapping::default()
            },
            // From a module that reports neither pending mode nor counters.
            Mapping {
                spid: 1017,
                addr: Some("192.0.2.7".parse().unwrap()),
                state: Some(map_state::INACTIVE),
                ..Mapping::default()
            },
        ]
    }

    /// Every counter reported, as 0.
    fn zero_stats() -> Stats {
        Stats {
            flows: Some(0),
            fail_closed_drops: Some(0),
            pending_refused: Some(0),
            pending_drops: Some(0),
            held: Some(0),
            released: Some(0),
            hold_overflow_drops: Some(0),
            hold_timeout_drops: Some(0),
            hold_error_drops: Some(0),
            hold_queued: Some(0),
        }
    }

    #[test]
    fn selector_text() {
        let mut s = Selector {
            family: AF_INET,
            saddr: Some("10.20.30.2".parse().unwrap()),
            daddr: Some("10.0.0.0".parse().unwrap()),
            prefixlen_s: 32,
            prefixlen_d: 8,
            ..Selector::default()
        };
        assert_eq!(
            format_selector(&s, noif),
            "10.20.30.2/32 -> 10.0.0.0/8 proto any"
        );
        s.proto = 6;
        s.dport = 443;
        s.dport_mask = 0xffff;
        s.sport = 1024;
        s.sport_mask = 0xfc00;
        s.ifindex = 3;
        assert_eq!(
            format_selector(&s, noif),
            "10.20.30.2/32 -> 10.0.0.0/8 proto tcp sport 1024/0xfc00 dport 443 dev if3"
        );
        let icmp = Selector {
            family: AF_INET6,
            proto: 58,
            sport: 128,
            sport_mask: 0xffff,
            ..Selector::default()
        };
        assert_eq!(
            format_selector(&icmp, noif),
            "::/0 -> ::/0 proto ipv6-icmp type 128"
        );
    }

    #[test]
    fn table() {
        let t = format_table(&sample(), noif);
        let want = "\
SPID  ADDRESS      STATE     PENDING            SELECTOR                                            FLOWS  FC-DROPS  REFUSED  P-DROPS  HELD  RELEASED  H-OVERFLOW  H-TIMEOUT  H-ERROR  QUEUED
 305  10.20.30.2   active    eagain             10.20.30.2/32 -> 10.0.0.0/8 proto any                  12         0        3        0     0         0           0          0        0       0
 313  10.20.30.3   active    hold(100p/256KiB)  10.20.30.3/32 -> 172.16.0.0/12 proto tcp dport 443      9         0        0        0    57        50           4          2        1       0
1009  2001:db8::2  inactive  drop               -                                                       0         0        0  1234567     0         0           0          0        0       0
1017  192.0.2.7    inactive  -                  -                                                       -         -        -        -     -         -           -          -        -       -
";
        assert_eq!(t, want);
        assert_eq!(format_table(&[], noif), "");
        assert_eq!(state_name(Some(9)), "unknown(9)");
        assert_eq!(pending_name(Some(9)), "unknown(9)");
        assert_eq!(pending_name(None), "-");
        assert_eq!(pending_name(Some(pending_mode::HOLD)), "hold");
    }

    #[test]
    fn pending_cells() {
        let hold = |hold_packets, hold_bytes| Mapping {
            pending: Some(pending_mode::HOLD),
            hold_packets,
            hold_bytes,
            ..Mapping::default()
        };
        assert_eq!(
            pending_cell(&hold(Some(100), Some(262144))),
            "hold(100p/256KiB)"
        );
        assert_eq!(
            pending_cell(&hold(Some(10000), Some(16 << 20))),
            "hold(10000p/16MiB)"
        );
        assert_eq!(pending_cell(&hold(Some(1), Some(1))), "hold(1p/1B)");
        assert_eq!(
            pending_cell(&hold(Some(7), Some(100000))),
            "hold(7p/100000B)"
        );
        assert_eq!(pending_cell(&hold(Some(7), Some(1536))), "hold(7p/1536B)");
        // What the module does not report is left out.
        assert_eq!(pending_cell(&hold(None, Some(3 << 20))), "hold(3MiB)");
        assert_eq!(pending_cell(&hold(None, None)), "hold");
        assert_eq!(pending_cell(&Mapping::default()), "-");
        assert_eq!(bytes_text(0), "0B");
        assert_eq!(bytes_text(1024 * 1024 + 1024), "1025KiB");
    }

    #[test]
    fn json() {
        let j = format_json(&sample());
        let want = concat!(
            "[{\"spid\":305,\"addr\":\"10.20.30.2\",\"state\":\"active\",\"pending\":\"eagain\",",
            "\"hold_packets\":null,\"hold_bytes\":null,",
            "\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.2\",\"prefixlen_s\":32,",
            "\"dst\":\"10.0.0.0\",\"prefixlen_d\":8,\"proto\":0,\"sport\":0,\"sport_mask\":0,",
            "\"dport\":0,\"dport_mask\":0,\"ifindex\":0,\"priority\":100},",
            "\"stats\":{\"flows\":12,\"fail_closed_drops\":0,\"pending_refused\":3,",
            "\"pending_drops\":0,\"held\":0,\"released\":0,\"hold_overflow_drops\":0,",
            "\"hold_timeout_drops\":0,\"hold_error_drops\":0,\"hold_queued\":0}},",
            "{\"spid\":313,\"addr\":\"10.20.30.3\",\"state\":\"active\",\"pending\":\"hold\",",
            "\"hold_packets\":100,\"hold_bytes\":262144,",
            "\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.3\",\"prefixlen_s\":32,",
            "\"dst\":\"172.16.0.0\",\"prefixlen_d\":12,\"proto\":6,\"sport\":0,\"sport_mask\":0,",
            "\"dport\":443,\"dport_mask\":65535,\"ifindex\":0,\"priority\":0},",
            "\"stats\":{\"flows\":9,\"fail_closed_drops\":0,\"pending_refused\":0,",
            "\"pending_drops\":0,\"held\":57,\"released\":50,\"hold_overflow_drops\":4,",
            "\"hold_timeout_drops\":2,\"hold_error_drops\":1,\"hold_queued\":0}},",
            "{\"spid\":1009,\"addr\":\"2001:db8::2\",\"state\":\"inactive\",\"pending\":\"drop\",",
            "\"hold_packets\":null,\"hold_bytes\":null,\"selector\":null,",
            "\"stats\":{\"flows\":0,\"fail_closed_drops\":0,\"pending_refused\":0,",
            "\"pending_drops\":1234567,\"held\":0,\"released\":0,\"hold_overflow_drops\":0,",
            "\"hold_timeout_drops\":0,\"hold_error_drops\":0,\"hold_queued\":0}},",
            "{\"spid\":1017,\"addr\":\"192.0.2.7\",\"state\":\"inactive\",\"pending\":null,",
            "\"hold_packets\":null,\"hold_bytes\":null,\"selector\":null,",
            "\"stats\":{\"flows\":null,\"fail_closed_drops\":null,\"pending_refused\":null,",
            "\"pending_drops\":null,\"held\":null,\"released\":null,",
            "\"hold_overflow_drops\":null,\"hold_timeout_drops\":null,",
            "\"hold_error_drops\":null,\"hold_queued\":null}}]\n"
        );
        assert_eq!(j, want);
        assert_eq!(format_json(&[]), "[]\n");
    }

    #[test]
    fn json_escaping() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    /// The events of proto's sample buffer, as `monitor` prints them.
    #[test]
    fn events() {
        use crate::proto::{parse_events, tests::sample_events_buffer};
        let evs: Vec<Event> = parse_events(&sample_events_buffer(30), 30)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let text: String = evs.iter().map(|e| format_event(e, noif)).collect();
        assert_eq!(
            text,
            "map spid 305 to 10.20.30.2 active pending drop \
             selector 10.20.30.2/32 -> 10.0.0.0/8 proto any\n\
             map spid 1009 to 2001:db8::2 inactive pending eagain\n\
             unmap spid 305\n\
             map spid 313 to 2001:db8::2 inactive pending hold \
             hold-packets 500 hold-bytes 1048576\n\
             sa pending spid 313\n\
             sa established spid 313\n\
             sa unknown(7) spid 305\n"
        );
        let json: String = evs.iter().map(format_event_json).collect();
        let want = concat!(
            "{\"event\":\"map\",\"mapping\":{\"spid\":305,\"addr\":\"10.20.30.2\",",
            "\"state\":\"active\",\"pending\":\"drop\",\"hold_packets\":null,\"hold_bytes\":null,",
            "\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.2\",\"prefixlen_s\":32,",
            "\"dst\":\"10.0.0.0\",\"prefixlen_d\":8,\"proto\":0,\"sport\":0,\"sport_mask\":0,",
            "\"dport\":0,\"dport_mask\":0,\"ifindex\":0,\"priority\":100},",
            "\"stats\":{\"flows\":7,\"fail_closed_drops\":8589934592,\"pending_refused\":3,",
            "\"pending_drops\":4294967301,\"held\":0,\"released\":0,\"hold_overflow_drops\":0,",
            "\"hold_timeout_drops\":0,\"hold_error_drops\":0,\"hold_queued\":0}}}\n",
            "{\"event\":\"map\",\"mapping\":{\"spid\":1009,\"addr\":\"2001:db8::2\",",
            "\"state\":\"inactive\",\"pending\":\"eagain\",\"hold_packets\":null,",
            "\"hold_bytes\":null,\"selector\":null,",
            "\"stats\":{\"flows\":null,\"fail_closed_drops\":null,\"pending_refused\":null,",
            "\"pending_drops\":null,\"held\":null,\"released\":null,",
            "\"hold_overflow_drops\":null,\"hold_timeout_drops\":null,",
            "\"hold_error_drops\":null,\"hold_queued\":null}}}\n",
            "{\"event\":\"unmap\",\"spid\":305}\n",
            "{\"event\":\"map\",\"mapping\":{\"spid\":313,\"addr\":\"2001:db8::2\",",
            "\"state\":\"inactive\",\"pending\":\"hold\",\"hold_packets\":500,",
            "\"hold_bytes\":1048576,\"selector\":null,",
            "\"stats\":{\"flows\":4,\"fail_closed_drops\":0,\"pending_refused\":0,",
            "\"pending_drops\":0,\"held\":40,\"released\":4294967297,",
            "\"hold_overflow_drops\":3,\"hold_timeout_drops\":2,",
            "\"hold_error_drops\":1,\"hold_queued\":5}}}\n",
            "{\"event\":\"sa\",\"spid\":313,\"sa_state\":\"pending\"}\n",
            "{\"event\":\"sa\",\"spid\":313,\"sa_state\":\"established\"}\n",
            "{\"event\":\"sa\",\"spid\":305,\"sa_state\":\"unknown(7)\"}\n"
        );
        assert_eq!(json, want);

        // The example of the man page: the same mapping in mode eagain, and
        // a mapping whose module reports no pending mode nor address.
        let Event::Map(mut m) = evs[0].clone() else {
            panic!("not a map event")
        };
        m.pending = Some(pending_mode::EAGAIN);
        assert_eq!(
            format_event(&Event::Map(m), noif),
            "map spid 305 to 10.20.30.2 active pending eagain \
             selector 10.20.30.2/32 -> 10.0.0.0/8 proto any\n"
        );
        let bare = Mapping {
            spid: 313,
            ..Mapping::default()
        };
        assert_eq!(
            format_event(&Event::Map(Box::new(bare)), noif),
            "map spid 313 to - -\n"
        );

        // The man page's examples of hold mode and SA events.
        let Event::Map(mut m) = evs[0].clone() else {
            panic!("not a map event")
        };
        m.pending = Some(pending_mode::HOLD);
        m.hold_packets = Some(100);
        m.hold_bytes = Some(262144);
        assert_eq!(
            format_event(&Event::Map(m), noif),
            "map spid 305 to 10.20.30.2 active pending hold hold-packets 100 \
             hold-bytes 262144 selector 10.20.30.2/32 -> 10.0.0.0/8 proto any\n"
        );
        use crate::uapi::sa_state;
        let sa = |state| Event::Sa { spid: 305, state };
        assert_eq!(
            format_event(&sa(sa_state::PENDING), noif),
            "sa pending spid 305\n"
        );
        assert_eq!(
            format_event(&sa(sa_state::ESTABLISHED), noif),
            "sa established spid 305\n"
        );
        assert_eq!(
            format_event_json(&sa(sa_state::PENDING)),
            "{\"event\":\"sa\",\"spid\":305,\"sa_state\":\"pending\"}\n"
        );
        assert_eq!(
            format_event_json(&sa(255)),
            "{\"event\":\"sa\",\"spid\":305,\"sa_state\":\"unknown(255)\"}\n"
        );
        assert_eq!(sa_state_name(2), "unknown(2)");
    }

    #[test]
    fn interface_names() {
        assert_eq!(ifname(0x7fff_fff0), "#2147483632");
    }
}
