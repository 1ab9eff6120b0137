//! Rendering mappings: a table for people, JSON for scripts.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::proto::{Event, Key, Mapping, ReportedMapping, Selector, Stats, AF_INET6};
use crate::uapi::{map_state, name_of, pending_mode, sa_state, Counter};

/// The spec's name of a value of `value`'s enum (`name`, generated), or
/// `unknown(N)` for one of a newer module; `-` if none was reported.
fn enum_name(value: Option<u8>, names: &[(&'static str, u8)]) -> String {
    match value {
        Some(n) => name_of(names, n).map_or_else(|| format!("unknown({n})"), Into::into),
        None => "-".into(),
    }
}

/// The spec's name of a map state (uapi::map_state).
pub fn state_name(state: Option<u8>) -> String {
    enum_name(state, &map_state::NAMES)
}

/// The spec's name of a pending mode (uapi::pending_mode).
pub fn pending_name(pending: Option<u8>) -> String {
    enum_name(pending, &pending_mode::NAMES)
}

/// The spec's name of an SA state of sa-ntf (uapi::sa_state).
pub fn sa_state_name(state: u8) -> String {
    enum_name(Some(state), &sa_state::NAMES)
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
    let mut out = String::new();
    write_selector(&mut out, s, ifname);
    out
}

/// [`format_selector`], appended to `out`.
fn write_selector(out: &mut String, s: &Selector, ifname: impl Fn(i32) -> String) {
    write!(
        out,
        "{}/{} -> {}/{} proto ",
        sel_addr(s.saddr, s.family),
        s.prefixlen_s,
        sel_addr(s.daddr, s.family),
        s.prefixlen_d
    )
    .unwrap();
    out.push_str(&proto_name(s.proto));
    let (sp, dp) = if s.proto == 1 || s.proto == 58 {
        ("type", "code")
    } else {
        ("sport", "dport")
    };
    port(out, sp, s.sport, s.sport_mask);
    port(out, dp, s.dport, s.dport_mask);
    if s.ifindex != 0 {
        write!(out, " dev {}", ifname(s.ifindex)).unwrap();
    }
}

/// The ADDRESS cell of `show`: the address of a one-address mapping,
/// `from 192.168.1.0/24 to 10.20.30.0/24` for a prefix mapping, followed
/// by the remote prefix, zone and inbound flag where the mapping has them
/// (`remote 10.99.1.0/24 is 192.168.1.0/24 zone 11 inbound`), as `map`
/// takes them.
fn write_address(out: &mut String, m: &Mapping) {
    match m.target {
        None => out.push('-'),
        Some(t) if t.from.is_none() && t.to.is_host() => write!(out, "{}", t.to.addr).unwrap(),
        Some(t) => write!(out, "{t}").unwrap(),
    }
    out.push_str(&m.extra_words());
}

/// The bound policies' indexes, `305,313`; `-` for none.
pub fn policies_text(policies: &[u32]) -> String {
    let mut out = String::new();
    write_policies(&mut out, policies);
    out
}

/// [`policies_text`], appended to `out`.
fn write_policies(out: &mut String, policies: &[u32]) {
    if policies.is_empty() {
        out.push('-');
    }
    for (i, p) in policies.iter().enumerate() {
        write!(out, "{}{p}", if i > 0 { "," } else { "" }).unwrap();
    }
}

/// A column of `show`'s table: its header, and whether its cells are
/// right-aligned (numbers).
struct Column {
    header: &'static str,
    right: bool,
}

const fn text(header: &'static str) -> Column {
    Column {
        header,
        right: false,
    }
}

const fn number(header: &'static str) -> Column {
    Column {
        header,
        right: true,
    }
}

/// The columns of `show`'s table, as compact as `ip`'s: what a mapping is
/// and whether it works.  The selector, the reason of an inactive mapping
/// and the other counters go on lines of their own under the row (see
/// [`format_table`]), so that neither free text nor a dozen counters push
/// the columns apart.
const COLUMNS: [Column; 6] = [
    text("KEY"),
    text("ADDRESS"),
    text("STATE"),
    text("PENDING"),
    text("POLICIES"),
    number("FLOWS"),
];
/// What `show` prints of each mapping besides its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The row, and the kernel's reason under an inactive mapping's.
    Brief,
    /// Also the selector and every counter (`-s`, as `ip -s`).
    Stats,
}

/// The counters of `st` as `show -s` words them: `name value` pairs in the
/// spec's order and by its names (as `-j` writes them, with '-' for '_'),
/// `-` for one the module does not report, as many on a line as fit in
/// [`COUNTER_LINE`] columns.
fn counter_lines(st: &Stats) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for (counter, value) in st.iter() {
        let pair = match value {
            Some(v) => format!("{} {v}", counter.name()),
            None => format!("{} -", counter.name()),
        };
        if !line.is_empty() && line.len() + 1 + pair.len() > COUNTER_LINE {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&pair);
    }
    lines.push(line);
    lines
}

/// How long a line of counters may grow, indent included, as `ip -s`
/// keeps its lines within a terminal.
const COUNTER_LINE: usize = 80 - INDENT.len();

/// How far the lines under a row are indented, as `ip` indents them.
const INDENT: &str = "    ";

/// The lines under the row of `m`: `reason "..."` if the kernel gave one,
/// and with [`Detail::Stats`] `selector ...` (or `selector -`) and the
/// counters as `name value` pairs (`-` for one the module does not report),
/// all as `monitor` words them.
fn write_detail(
    out: &mut String,
    m: &ReportedMapping,
    detail: Detail,
    ifname: &impl Fn(i32) -> String,
) {
    if let Some(reason) = &m.reason {
        writeln!(out, "{INDENT}reason \"{reason}\"").unwrap();
    }
    if detail == Detail::Brief {
        return;
    }
    out.push_str(INDENT);
    out.push_str("selector ");
    match &m.selector {
        Some(s) => write_selector(out, s, ifname),
        None => out.push('-'),
    }
    out.push('\n');
    for line in counter_lines(&m.stats) {
        writeln!(out, "{INDENT}{line}").unwrap();
    }
}

/// The table `show` prints: a row per mapping, each followed by the lines
/// of `detail`.  Empty when there are no mappings.
///
/// The cells of all rows are written into one string and kept as offsets,
/// and the rows are padded by hand: a table of 10,000 mappings is 60,000
/// cells, and a string each, with `format!`'s padding, cost more than the
/// dump and its decoding together.
pub fn format_table(
    maps: &[ReportedMapping],
    detail: Detail,
    ifname: impl Fn(i32) -> String,
) -> String {
    if maps.is_empty() {
        return String::new();
    }
    const N: usize = COLUMNS.len();
    let mut cells = String::with_capacity(maps.len() * 48);
    // Where each cell ends in `cells`, row after row, the headers first.
    let mut ends: Vec<usize> = Vec::with_capacity((maps.len() + 1) * N);
    // The lines under each row, and where each row's end in `details`.
    let mut details = String::new();
    let mut detail_ends: Vec<usize> = Vec::with_capacity(maps.len() + 1);
    for c in &COLUMNS {
        cells.push_str(c.header);
        ends.push(cells.len());
    }
    detail_ends.push(0);
    for m in maps {
        write!(cells, "{}", m.mapping.key).unwrap();
        if let Some(name) = &m.mapping.name {
            write!(cells, " {name}").unwrap();
        }
        ends.push(cells.len());
        write_address(&mut cells, &m.mapping);
        ends.push(cells.len());
        cells.push_str(&state_name(m.state));
        ends.push(cells.len());
        cells.push_str(&pending_cell(&m.mapping));
        ends.push(cells.len());
        write_policies(&mut cells, &m.policies);
        ends.push(cells.len());
        match m.stats.get(Counter::Flows) {
            Some(v) => write!(cells, "{v}").unwrap(),
            None => cells.push('-'),
        }
        ends.push(cells.len());
        write_detail(&mut details, m, detail, &ifname);
        detail_ends.push(details.len());
    }
    let cell = |k: usize| &cells[k.checked_sub(1).map_or(0, |p| ends[p])..ends[k]];
    let width_of = |s: &str| {
        if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        }
    };
    let mut width = [0; N];
    for k in 0..ends.len() {
        width[k % N] = width[k % N].max(width_of(cell(k)));
    }
    let line_len: usize = width.iter().sum::<usize>() + 2 * (N - 1) + 1;
    let mut out = String::with_capacity(line_len * ends.len() / N + details.len());
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    for k in 0..ends.len() {
        let (c, text) = (k % N, cell(k));
        if c > 0 {
            out.push_str("  ");
        }
        let fill = width[c] - width_of(text);
        if COLUMNS[c].right {
            pad(&mut out, fill);
            out.push_str(text);
        } else {
            out.push_str(text);
            pad(&mut out, fill);
        }
        if c == N - 1 {
            out.truncate(out.trim_end().len());
            out.push('\n');
            let row = k / N;
            if row > 0 {
                out.push_str(&details[detail_ends[row - 1]..detail_ends[row]]);
            }
        }
    }
    out
}

/// How `show -j` and `monitor -j` write JSON: one line, or pretty-printed
/// (`-p`) over several.  Either way followed by a newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    Compact,
    Pretty,
}

fn to_json<T: Serialize>(value: &T, style: JsonStyle) -> serde_json::Result<String> {
    let mut text = match style {
        JsonStyle::Compact => serde_json::to_string(value)?,
        JsonStyle::Pretty => serde_json::to_string_pretty(value)?,
    };
    text.push('\n');
    Ok(text)
}

/// A selector as JSON: addresses as text, the family by name (its number
/// if it is neither AF_INET nor AF_INET6).
#[derive(Serialize)]
struct JsonSelector {
    family: serde_json::Value,
    src: String,
    prefixlen_s: u8,
    dst: String,
    prefixlen_d: u8,
    proto: u8,
    sport: u16,
    sport_mask: u16,
    dport: u16,
    dport_mask: u16,
    ifindex: i32,
    priority: u32,
    index: Option<u32>,
}

impl From<&Selector> for JsonSelector {
    fn from(s: &Selector) -> Self {
        let family = match s.family {
            f if f == crate::proto::AF_INET => "inet".into(),
            AF_INET6 => "inet6".into(),
            f => f.into(),
        };
        JsonSelector {
            family,
            src: sel_addr(s.saddr, s.family).to_string(),
            prefixlen_s: s.prefixlen_s,
            dst: sel_addr(s.daddr, s.family).to_string(),
            prefixlen_d: s.prefixlen_d,
            proto: s.proto,
            sport: s.sport,
            sport_mask: s.sport_mask,
            dport: s.dport,
            dport_mask: s.dport_mask,
            ifindex: s.ifindex,
            priority: s.priority,
            index: s.index,
        }
    }
}

/// One mapping as a JSON object, as `show -j` and `monitor -j` print it;
/// what the module does not report is null.  Both keys are always there,
/// one of them null, so that a script finds the same shape for every
/// mapping.  Separate from [`ReportedMapping`] because the JSON keeps the
/// flat shape of the attributes (addr, prefix_len, from, from_prefix_len).
#[derive(Serialize)]
struct JsonMapping {
    spid: Option<u32>,
    reqid: Option<u32>,
    /// The IKE child's name, which a daemon gave it.
    name: Option<String>,
    addr: Option<String>,
    prefix_len: Option<u8>,
    from: Option<String>,
    from_prefix_len: Option<u8>,
    /// Never null: the flag's absence is an answer (a module without it
    /// has no inbound mappings).
    inbound: bool,
    /// The remote prefix's address, as the policies name it (twice NAT).
    remote: Option<String>,
    /// The address of the alias local hosts address it by.
    remote_alias: Option<String>,
    /// The length of both.
    remote_prefix_len: Option<u8>,
    zone: Option<u16>,
    state: Option<String>,
    reason: Option<String>,
    pending: Option<String>,
    hold_packets: Option<u32>,
    hold_bytes: Option<u32>,
    policies: Vec<u32>,
    selector: Option<JsonSelector>,
    stats: Stats,
}

impl From<&ReportedMapping> for JsonMapping {
    fn from(r: &ReportedMapping) -> Self {
        let m = &r.mapping;
        let (spid, reqid) = match m.key {
            Key::Spid(n) => (Some(n), None),
            Key::Reqid(n) => (None, Some(n)),
        };
        JsonMapping {
            spid,
            reqid,
            name: m.name.clone(),
            addr: m.target.map(|t| t.to.addr.to_string()),
            prefix_len: m.target.and_then(|t| t.prefix_len_attr()),
            from: m.target.and_then(|t| t.from).map(|f| f.addr.to_string()),
            from_prefix_len: m.target.and_then(|t| t.from).map(|f| f.len),
            inbound: m.inbound,
            remote: m.remote.map(|r| r.real.to_string()),
            remote_alias: m.remote.map(|r| r.alias.to_string()),
            remote_prefix_len: m.remote.map(|r| r.len),
            zone: m.zone,
            state: r.state.map(|s| state_name(Some(s))),
            reason: r.reason.clone(),
            pending: m.pending.map(|p| pending_name(Some(p))),
            hold_packets: m.hold_packets,
            hold_bytes: m.hold_bytes,
            policies: r.policies.clone(),
            selector: r.selector.as_ref().map(JsonSelector::from),
            stats: r.stats,
        }
    }
}

/// The JSON `show -j` prints: always an array, one object per mapping.
pub fn format_json(maps: &[ReportedMapping], style: JsonStyle) -> serde_json::Result<String> {
    let maps: Vec<JsonMapping> = maps.iter().map(JsonMapping::from).collect();
    to_json(&maps, style)
}

/// The line `monitor` prints for an event:
/// `map spid 305 to 10.20.30.2 active policies 305 pending eagain selector
/// ...` (`map reqid 3 name home/net to ...` for a named mapping),
/// `unmap reqid 7`, or `sa pending spid 305` / `sa established spid
/// 305` (the index of the policy whose SA it is, whatever the key of its
/// mapping).  The target is written as `map` takes it (`from P to P` for a
/// prefix mapping, then the remote prefix, zone and inbound flag where
/// the mapping has them).  A hold-mode mapping's limits follow its mode, as `map`
/// takes them (`pending hold hold-packets 100 hold-bytes 262144`).  Without
/// selector (inactive mapping) the line ends after the pending mode and
/// limits, then the kernel's reason, quoted (`reason "..."`), if it gave
/// one; values the module does not report are left out (address and state
/// as `-`).
pub fn format_event(ev: &Event, ifname: impl Fn(i32) -> String) -> String {
    match ev {
        Event::Map(r) => {
            let m = &r.mapping;
            let target = m
                .target
                .map_or_else(|| "to -".to_string(), |t| t.to_string());
            let mut out = format!(
                "map {}{} {target}{} {}",
                m.key,
                m.name_words(),
                m.extra_words(),
                state_name(r.state)
            );
            if !r.policies.is_empty() {
                write!(out, " policies {}", policies_text(&r.policies)).unwrap();
            }
            if m.pending.is_some() {
                write!(out, " pending {}", pending_name(m.pending)).unwrap();
            }
            if let Some(n) = m.hold_packets {
                write!(out, " hold-packets {n}").unwrap();
            }
            if let Some(n) = m.hold_bytes {
                write!(out, " hold-bytes {n}").unwrap();
            }
            if let Some(s) = &r.selector {
                write!(out, " selector {}", format_selector(s, ifname)).unwrap();
            }
            if let Some(reason) = &r.reason {
                write!(out, " reason \"{reason}\"").unwrap();
            }
            out.push('\n');
            out
        }
        Event::Unmap { key } => format!("unmap {key}\n"),
        Event::Sa { spid, state } => format!("sa {} spid {spid}\n", sa_state_name(*state)),
    }
}

/// An event as JSON, its kind in `"event"`.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum JsonEvent {
    Map {
        mapping: Box<JsonMapping>,
    },
    Unmap {
        #[serde(flatten)]
        key: Key,
    },
    Sa {
        spid: u32,
        sa_state: String,
    },
}

/// An event with the time it was printed (`-t`), first.
#[derive(Serialize)]
struct StampedEvent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    #[serde(flatten)]
    event: JsonEvent,
}

/// What `monitor -j` prints for an event: one JSON object,
/// `{"event":"map","mapping":{...}}`, `{"event":"unmap","spid":N}` (or
/// `"reqid":N`) or
/// `{"event":"sa","spid":N,"sa_state":"pending"}`, with `-t` preceded by
/// `"timestamp":"2026-11-29T06:40:12.123456+01:00"` (RFC 3339, local time).
pub fn format_event_json(
    ev: &Event,
    timestamp: Option<&str>,
    style: JsonStyle,
) -> serde_json::Result<String> {
    let event = match ev {
        Event::Map(m) => JsonEvent::Map {
            mapping: Box::new(JsonMapping::from(&**m)),
        },
        Event::Unmap { key } => JsonEvent::Unmap { key: *key },
        Event::Sa { spid, state } => JsonEvent::Sa {
            spid: *spid,
            sa_state: sa_state_name(*state),
        },
    };
    to_json(&StampedEvent { timestamp, event }, style)
}

/// A moment in local time, to the microsecond, with its offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub utc_offset: i64,
}

impl LocalTime {
    /// Now, by the system's clock and time zone (UTC if the time zone
    /// cannot convert it).
    pub fn now() -> LocalTime {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = since.as_secs() as libc::time_t;
        // SAFETY: libc::tm is plain integers (and a pointer that may be
        // null), for which all zeroes is a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both read secs and write tm, valid for the call, and
        // return NULL on failure.
        let converted = unsafe {
            !libc::localtime_r(&secs, &mut tm).is_null()
                || !libc::gmtime_r(&secs, &mut tm).is_null()
        };
        if !converted {
            // Not a time of this era: the epoch rather than nonsense.
            tm.tm_year = 70;
            tm.tm_mon = 0;
            tm.tm_mday = 1;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
            tm.tm_gmtoff = 0;
        }
        LocalTime {
            year: i64::from(tm.tm_year) + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            micros: since.subsec_micros(),
            utc_offset: tm.tm_gmtoff,
        }
    }

    /// `2026-11-29T06:40:12.123456`, as `ip -ts monitor` prints it.
    pub fn text(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }

    /// `2026-11-29T06:40:12.123456+01:00` (RFC 3339).
    pub fn rfc3339(&self) -> String {
        let sign = if self.utc_offset < 0 { '-' } else { '+' };
        let off = self.utc_offset.unsigned_abs() / 60;
        format!("{}{sign}{:02}:{:02}", self.text(), off / 60, off % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tests::{lan_target, reported};
    use crate::proto::{Stats, Target, AF_INET};
    use crate::uapi::pending_mode;

    fn noif(i: i32) -> String {
        format!("if{i}")
    }

    fn sample() -> Vec<ReportedMapping> {
        vec![
            ReportedMapping {
                state: Some(map_state::ACTIVE),
                selector: Some(Selector {
                    family: AF_INET,
                    saddr: Some("10.20.30.2".parse().unwrap()),
                    daddr: Some("10.0.0.0".parse().unwrap()),
                    prefixlen_s: 32,
                    prefixlen_d: 8,
                    priority: 100,
                    index: Some(305),
                    ..Selector::default()
                }),
                policies: vec![305],
                stats: zero_stats().with(&[(Counter::Flows, 12), (Counter::Declined, 2), (Counter::FailClosedDrops, 0), (Counter::PendingRefused, 3)]),
                ..reported(Key::Spid(305), "10.20.30.2", Some(pending_mode::EAGAIN))
            },
            // Hold mode with the kernel's default limits.
            ReportedMapping {
                mapping: Mapping {
                    pending: Some(pending_mode::HOLD),
                    hold_packets: Some(100),
                    hold_bytes: Some(262144),
                    ..Mapping::new(Key::Spid(313), Target::addr("10.20.30.3"))
                },
                state: Some(map_state::ACTIVE),
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
                policies: vec![313],
                stats: zero_stats().with(&[(Counter::Flows, 9), (Counter::Held, 57), (Counter::Released, 50), (Counter::HoldOverflowDrops, 4), (Counter::HoldTimeoutDrops, 2), (Counter::HoldErrorDrops, 1), (Counter::HoldQueued, 0)]),
                ..ReportedMapping::new(Key::Spid(313))
            },
            ReportedMapping {
                state: Some(map_state::INACTIVE),
                stats: zero_stats().with(&[(Counter::PendingDrops, 1234567)]),
                ..reported(Key::Spid(1009), "2001:db8::2", Some(pending_mode::DROP))
            },
            // From a module that reports neither pending mode nor counters.
            ReportedMapping {
                state: Some(map_state::INACTIVE),
                ..reported(Key::Spid(1017), "192.0.2.7", None)
            },
            // A LAN mapped 1:1 into the policies of a reqid, reachable from
            // the remote side.
            ReportedMapping {
                mapping: Mapping {
                    pending: Some(pending_mode::EAGAIN),
                    inbound: true,
                    ..Mapping::new(Key::Reqid(7), lan_target())
                },
                state: Some(map_state::ACTIVE),
                policies: vec![321, 337],
                selector: Some(Selector {
                    family: AF_INET,
                    saddr: Some("10.20.30.0".parse().unwrap()),
                    daddr: Some("10.1.0.0".parse().unwrap()),
                    prefixlen_s: 24,
                    prefixlen_d: 16,
                    index: Some(321),
                    ..Selector::default()
                }),
                stats: zero_stats().with(&[(Counter::Flows, 40), (Counter::StaleEntries, 1), (Counter::PendingRefused, 1), (Counter::PendingNonblockHeld, 2), (Counter::InboundFlows, 5), (Counter::InboundRefused, 1)]),
                ..ReportedMapping::new(Key::Reqid(7))
            },
            ReportedMapping {
                state: Some(map_state::INACTIVE),
                reason: Some("no IPv4 out policy with a template of reqid 9".into()),
                stats: zero_stats(),
                ..reported(Key::Reqid(9), "10.20.30.9", Some(pending_mode::EAGAIN))
            },
        ]
    }

    /// Every counter reported, as 0.
    /// `m` with the remote prefix 192.168.1.0/24 addressed as
    /// 10.99.1.0/24 in zone 11, inbound.
    fn twice_nat(m: Mapping) -> Mapping {
        Mapping {
            remote: Some(crate::proto::Remote {
                alias: "10.99.1.0".parse().unwrap(),
                real: "192.168.1.0".parse().unwrap(),
                len: 24,
            }),
            zone: Some(11),
            inbound: true,
            ..m
        }
    }

    /// A daemon's mapping: its name next to the key in show's KEY cell,
    /// in -j's "name", and after the key in monitor's line, as `map`
    /// takes it; an inactive one with the kernel's reason.
    #[test]
    fn named_mapping() {
        let r = ReportedMapping {
            mapping: Mapping {
                name: Some("office/lan".into()),
                ..Mapping::new(Key::Reqid(5), lan_target())
            },
            state: Some(map_state::INACTIVE),
            reason: Some("policy 42 selects src 10.1.0.0/16, not 10.20.30.0/24".into()),
            ..ReportedMapping::new(Key::Reqid(5))
        };
        assert_eq!(
            format_table(std::slice::from_ref(&r), Detail::Brief, noif),
            "\
KEY                 ADDRESS                               STATE     PENDING  POLICIES  FLOWS
reqid 5 office/lan  from 192.168.1.0/24 to 10.20.30.0/24  inactive  -        -             -
    reason \"policy 42 selects src 10.1.0.0/16, not 10.20.30.0/24\"
"
        );
        let j = format_json(std::slice::from_ref(&r), JsonStyle::Compact).unwrap();
        assert!(
            j.starts_with("[{\"spid\":null,\"reqid\":5,\"name\":\"office/lan\",\"addr\""),
            "{j}"
        );
        assert_eq!(
            format_event(&Event::Map(Box::new(r)), noif),
            "map reqid 5 name office/lan from 192.168.1.0/24 to 10.20.30.0/24 inactive \
             reason \"policy 42 selects src 10.1.0.0/16, not 10.20.30.0/24\"\n"
        );
    }

    /// A twice-NAT mapping in show's ADDRESS cell, in map's own words, and
    /// in -j: the real prefix's address in "remote", as "from" has it.
    #[test]
    fn twice_nat_show_and_json() {
        let r = ReportedMapping {
            mapping: twice_nat(Mapping::new(Key::Reqid(7), lan_target())),
            state: Some(map_state::ACTIVE),
            ..ReportedMapping::new(Key::Reqid(7))
        };
        assert_eq!(
            format_table(std::slice::from_ref(&r), Detail::Brief, noif),
            "\
KEY      ADDRESS                                                                                     STATE   PENDING  POLICIES  FLOWS
reqid 7  from 192.168.1.0/24 to 10.20.30.0/24 remote 10.99.1.0/24 is 192.168.1.0/24 zone 11 inbound  active  -        -             -
"
        );
        let j = format_json(std::slice::from_ref(&r), JsonStyle::Compact).unwrap();
        assert!(
            j.contains(
                "\"from\":\"192.168.1.0\",\"from_prefix_len\":24,\"inbound\":true,\
                 \"remote\":\"192.168.1.0\",\"remote_alias\":\"10.99.1.0\",\
                 \"remote_prefix_len\":24,\"zone\":11,\"state\":\"active\""
            ),
            "{j}"
        );
    }

    fn zero_stats() -> Stats {
        Stats::default().with(&Counter::ALL.map(|c| (c, 0)))
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
        let want = "\
KEY        ADDRESS                                       STATE     PENDING            POLICIES  FLOWS
spid 305   10.20.30.2                                    active    eagain             305          12
spid 313   10.20.30.3                                    active    hold(100p/256KiB)  313           9
spid 1009  2001:db8::2                                   inactive  drop               -             0
spid 1017  192.0.2.7                                     inactive  -                  -             -
reqid 7    from 192.168.1.0/24 to 10.20.30.0/24 inbound  active    eagain             321,337      40
reqid 9    10.20.30.9                                    inactive  eagain             -             0
    reason \"no IPv4 out policy with a template of reqid 9\"
";
        assert_eq!(format_table(&sample(), Detail::Brief, noif), want);
        let want = "\
KEY        ADDRESS                                       STATE     PENDING            POLICIES  FLOWS
spid 305   10.20.30.2                                    active    eagain             305          12
    selector 10.20.30.2/32 -> 10.0.0.0/8 proto any
    flows 12 declined 2 fail-closed-drops 0 stale-entries 0 pending-refused 3
    pending-drops 0 pending-nonblock-held 0 pending-nonblock-drops 0
    inbound-flows 0 inbound-refused 0 held 0 released 0 hold-overflow-drops 0
    hold-timeout-drops 0 hold-error-drops 0 hold-queued 0
spid 313   10.20.30.3                                    active    hold(100p/256KiB)  313           9
    selector 10.20.30.3/32 -> 172.16.0.0/12 proto tcp dport 443
    flows 9 declined 0 fail-closed-drops 0 stale-entries 0 pending-refused 0
    pending-drops 0 pending-nonblock-held 0 pending-nonblock-drops 0
    inbound-flows 0 inbound-refused 0 held 57 released 50 hold-overflow-drops 4
    hold-timeout-drops 2 hold-error-drops 1 hold-queued 0
spid 1009  2001:db8::2                                   inactive  drop               -             0
    selector -
    flows 0 declined 0 fail-closed-drops 0 stale-entries 0 pending-refused 0
    pending-drops 1234567 pending-nonblock-held 0 pending-nonblock-drops 0
    inbound-flows 0 inbound-refused 0 held 0 released 0 hold-overflow-drops 0
    hold-timeout-drops 0 hold-error-drops 0 hold-queued 0
spid 1017  192.0.2.7                                     inactive  -                  -             -
    selector -
    flows - declined - fail-closed-drops - stale-entries - pending-refused -
    pending-drops - pending-nonblock-held - pending-nonblock-drops -
    inbound-flows - inbound-refused - held - released - hold-overflow-drops -
    hold-timeout-drops - hold-error-drops - hold-queued -
reqid 7    from 192.168.1.0/24 to 10.20.30.0/24 inbound  active    eagain             321,337      40
    selector 10.20.30.0/24 -> 10.1.0.0/16 proto any
    flows 40 declined 0 fail-closed-drops 0 stale-entries 1 pending-refused 1
    pending-drops 0 pending-nonblock-held 2 pending-nonblock-drops 0
    inbound-flows 5 inbound-refused 1 held 0 released 0 hold-overflow-drops 0
    hold-timeout-drops 0 hold-error-drops 0 hold-queued 0
reqid 9    10.20.30.9                                    inactive  eagain             -             0
    reason \"no IPv4 out policy with a template of reqid 9\"
    selector -
    flows 0 declined 0 fail-closed-drops 0 stale-entries 0 pending-refused 0
    pending-drops 0 pending-nonblock-held 0 pending-nonblock-drops 0
    inbound-flows 0 inbound-refused 0 held 0 released 0 hold-overflow-drops 0
    hold-timeout-drops 0 hold-error-drops 0 hold-queued 0
";
        assert_eq!(format_table(&sample(), Detail::Stats, noif), want);
        assert_eq!(format_table(&[], Detail::Stats, noif), "");
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
            ..Mapping::new(Key::Spid(305), Target::addr("10.20.30.2"))
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
        assert_eq!(pending_cell(&ReportedMapping::new(Key::Spid(305)).mapping), "-");
        assert_eq!(bytes_text(0), "0B");
        assert_eq!(bytes_text(1024 * 1024 + 1024), "1025KiB");
    }

    #[test]
    fn json() {
        let j = format_json(&sample(), JsonStyle::Compact).unwrap();
        let want = concat!(
            "[{\"spid\":305,\"reqid\":null,\"name\":null,\"addr\":\"10.20.30.2\",\"prefix_len\":null,\"from\":null,",
            "\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"active\",\"reason\":null,\"pending\":\"eagain\",",
            "\"hold_packets\":null,\"hold_bytes\":null,\"policies\":[305],",
            "\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.2\",\"prefixlen_s\":32,",
            "\"dst\":\"10.0.0.0\",\"prefixlen_d\":8,\"proto\":0,\"sport\":0,\"sport_mask\":0,",
            "\"dport\":0,\"dport_mask\":0,\"ifindex\":0,\"priority\":100,\"index\":305},",
            "\"stats\":{\"flows\":12,\"declined\":2,\"fail_closed_drops\":0,",
            "\"stale_entries\":0,\"pending_refused\":3,",
            "\"pending_drops\":0,\"pending_nonblock_held\":0,\"pending_nonblock_drops\":0,\"inbound_flows\":0,\"inbound_refused\":0,\"held\":0,\"released\":0,",
            "\"hold_overflow_drops\":0,\"hold_timeout_drops\":0,\"hold_error_drops\":0,",
            "\"hold_queued\":0}},{\"spid\":313,\"reqid\":null,\"name\":null,\"addr\":\"10.20.30.3\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"active\",",
            "\"reason\":null,\"pending\":\"hold\",\"hold_packets\":100,\"hold_bytes\":262144,",
            "\"policies\":[313],\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.3\",",
            "\"prefixlen_s\":32,\"dst\":\"172.16.0.0\",\"prefixlen_d\":12,\"proto\":6,\"sport\":0,",
            "\"sport_mask\":0,\"dport\":443,\"dport_mask\":65535,\"ifindex\":0,\"priority\":0,",
            "\"index\":null},\"stats\":{\"flows\":9,\"declined\":0,\"fail_closed_drops\":0,",
            "\"stale_entries\":0,\"pending_refused\":0,",
            "\"pending_drops\":0,\"pending_nonblock_held\":0,\"pending_nonblock_drops\":0,\"inbound_flows\":0,\"inbound_refused\":0,\"held\":57,\"released\":50,",
            "\"hold_overflow_drops\":4,\"hold_timeout_drops\":2,\"hold_error_drops\":1,",
            "\"hold_queued\":0}},{\"spid\":1009,\"reqid\":null,\"name\":null,\"addr\":\"2001:db8::2\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"inactive\",",
            "\"reason\":null,\"pending\":\"drop\",\"hold_packets\":null,\"hold_bytes\":null,",
            "\"policies\":[],\"selector\":null,",
            "\"stats\":{\"flows\":0,\"declined\":0,\"fail_closed_drops\":0,",
            "\"stale_entries\":0,",
            "\"pending_refused\":0,\"pending_drops\":1234567,\"pending_nonblock_held\":0,\"pending_nonblock_drops\":0,\"inbound_flows\":0,\"inbound_refused\":0,",
            "\"held\":0,\"released\":0,\"hold_overflow_drops\":0,\"hold_timeout_drops\":0,",
            "\"hold_error_drops\":0,\"hold_queued\":0}},{\"spid\":1017,\"reqid\":null,",
            "\"name\":null,\"addr\":\"192.0.2.7\",\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,",
            "\"state\":\"inactive\",\"reason\":null,\"pending\":null,\"hold_packets\":null,",
            "\"hold_bytes\":null,\"policies\":[],\"selector\":null,\"stats\":{\"flows\":null,",
            "\"declined\":null,\"fail_closed_drops\":null,",
            "\"stale_entries\":null,\"pending_refused\":null,\"pending_drops\":null,",
            "\"pending_nonblock_held\":null,\"pending_nonblock_drops\":null,\"inbound_flows\":null,\"inbound_refused\":null,\"held\":null,\"released\":null,",
            "\"hold_overflow_drops\":null,\"hold_timeout_drops\":null,",
            "\"hold_error_drops\":null,\"hold_queued\":null}},{\"spid\":null,\"reqid\":7,",
            "\"name\":null,\"addr\":\"10.20.30.0\",\"prefix_len\":24,\"from\":\"192.168.1.0\",",
            "\"from_prefix_len\":24,\"inbound\":true,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"active\",\"reason\":null,\"pending\":\"eagain\",",
            "\"hold_packets\":null,\"hold_bytes\":null,\"policies\":[321,337],",
            "\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.0\",\"prefixlen_s\":24,",
            "\"dst\":\"10.1.0.0\",\"prefixlen_d\":16,\"proto\":0,\"sport\":0,\"sport_mask\":0,",
            "\"dport\":0,\"dport_mask\":0,\"ifindex\":0,\"priority\":0,\"index\":321},",
            "\"stats\":{\"flows\":40,\"declined\":0,\"fail_closed_drops\":0,",
            "\"stale_entries\":1,\"pending_refused\":1,",
            "\"pending_drops\":0,\"pending_nonblock_held\":2,\"pending_nonblock_drops\":0,\"inbound_flows\":5,\"inbound_refused\":1,\"held\":0,\"released\":0,",
            "\"hold_overflow_drops\":0,\"hold_timeout_drops\":0,\"hold_error_drops\":0,",
            "\"hold_queued\":0}},{\"spid\":null,\"reqid\":9,\"name\":null,\"addr\":\"10.20.30.9\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"inactive\",",
            "\"reason\":\"no IPv4 out policy with a template of reqid 9\",\"pending\":\"eagain\",",
            "\"hold_packets\":null,\"hold_bytes\":null,\"policies\":[],\"selector\":null,",
            "\"stats\":{\"flows\":0,\"declined\":0,\"fail_closed_drops\":0,",
            "\"stale_entries\":0,\"pending_refused\":0,",
            "\"pending_drops\":0,\"pending_nonblock_held\":0,\"pending_nonblock_drops\":0,\"inbound_flows\":0,\"inbound_refused\":0,\"held\":0,\"released\":0,",
            "\"hold_overflow_drops\":0,\"hold_timeout_drops\":0,\"hold_error_drops\":0,",
            "\"hold_queued\":0}}]\n"
        );
        assert_eq!(j, want);
        assert_eq!(format_json(&[], JsonStyle::Compact).unwrap(), "[]\n");
        assert_eq!(format_json(&[], JsonStyle::Pretty).unwrap(), "[]\n");
    }

    /// `-p`: the same values, indented over several lines.
    #[test]
    fn json_pretty() {
        use serde_json::{json, Value};
        let compact = format_json(&sample(), JsonStyle::Compact).unwrap();
        let pretty = format_json(&sample(), JsonStyle::Pretty).unwrap();
        assert!(pretty.ends_with("]\n") && !pretty.ends_with("\n\n"));
        let value: Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(&compact).unwrap());
        assert!(pretty.starts_with("[\n  {\n    \"spid\": 305,\n    \"reqid\": null,\n"));
        assert!(pretty.contains("\n    \"stats\": {\n      \"flows\": 12,\n"));
        // The shape scripts read: numbers are numbers, names strings, what
        // is not reported null.
        assert_eq!(value[1]["hold_packets"], json!(100));
        assert_eq!(value[1]["selector"]["dport_mask"], json!(65535));
        assert_eq!(value[1]["selector"]["family"], json!("inet"));
        assert_eq!(value[2]["stats"]["pending_drops"], json!(1234567));
        assert_eq!(value[2]["selector"], Value::Null);
        assert_eq!(value[3]["pending"], Value::Null);
        assert_eq!(value[3]["stats"]["flows"], Value::Null);
        // A reqid mapping: spid null, its prefixes, policies and the newer
        // counters; an inactive one's reason.
        assert_eq!(value[4]["spid"], Value::Null);
        assert_eq!(value[4]["reqid"], json!(7));
        assert_eq!(
            (&value[4]["from"], &value[4]["from_prefix_len"]),
            (&json!("192.168.1.0"), &json!(24))
        );
        assert_eq!(
            (&value[4]["addr"], &value[4]["prefix_len"]),
            (&json!("10.20.30.0"), &json!(24))
        );
        assert_eq!(value[4]["policies"], json!([321, 337]));
        assert_eq!(value[4]["selector"]["index"], json!(321));
        assert_eq!(value[4]["stats"]["pending_nonblock_held"], json!(2));
        assert_eq!(value[0]["stats"]["declined"], json!(2));
        assert_eq!(value[4]["stats"]["stale_entries"], json!(1));
        assert_eq!(value[3]["stats"]["stale_entries"], Value::Null);
        assert_eq!(value[4]["reason"], Value::Null);
        assert_eq!(
            value[5]["reason"],
            json!("no IPv4 out policy with a template of reqid 9")
        );
        assert_eq!(value[5]["policies"], json!([]));
        let keys: Vec<&str> = value[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "spid",
            "reqid",
            "name",
            "addr",
            "prefix_len",
            "from",
            "from_prefix_len",
            "inbound",
            "remote",
            "remote_alias",
            "remote_prefix_len",
            "zone",
            "state",
            "reason",
            "pending",
            "hold_packets",
            "hold_bytes",
            "policies",
            "selector",
            "stats",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        // A family other than inet and inet6 is its number.
        let odd = ReportedMapping {
            selector: Some(Selector {
                family: 7,
                ..Selector::default()
            }),
            ..ReportedMapping::new(Key::Spid(305))
        };
        let j = format_json(&[odd], JsonStyle::Compact).unwrap();
        assert!(
            j.contains("\"selector\":{\"family\":7,\"src\":\"0.0.0.0\","),
            "{j}"
        );
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
             sa unknown(7) spid 305\n\
             map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24 active policies 321,337 \
             pending eagain selector 10.20.30.0/24 -> 10.1.0.0/16 proto any\n\
             map reqid 9 to fd00:2::9 inactive pending eagain \
             reason \"no IPv4 out policy with a template of reqid 9\"\n\
             unmap reqid 7\n\
             sa pending spid 321\n"
        );
        let json: String = evs
            .iter()
            .map(|e| format_event_json(e, None, JsonStyle::Compact).unwrap())
            .collect();
        let want = concat!(
            "{\"event\":\"map\",\"mapping\":{\"spid\":305,\"reqid\":null,\"name\":null,\"addr\":\"10.20.30.2\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"active\",",
            "\"reason\":null,\"pending\":\"drop\",\"hold_packets\":null,\"hold_bytes\":null,",
            "\"policies\":[],\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.2\",",
            "\"prefixlen_s\":32,\"dst\":\"10.0.0.0\",\"prefixlen_d\":8,\"proto\":0,\"sport\":0,",
            "\"sport_mask\":0,\"dport\":0,\"dport_mask\":0,\"ifindex\":0,\"priority\":100,",
            "\"index\":null},\"stats\":{\"flows\":7,",
            "\"declined\":null,\"fail_closed_drops\":8589934592,",
            "\"stale_entries\":null,",
            "\"pending_refused\":3,\"pending_drops\":4294967301,",
            "\"pending_nonblock_held\":null,\"pending_nonblock_drops\":null,\"inbound_flows\":null,\"inbound_refused\":null,\"held\":0,\"released\":0,\"hold_overflow_drops\":0,",
            "\"hold_timeout_drops\":0,\"hold_error_drops\":0,\"hold_queued\":0}}}\n",
            "{\"event\":\"map\",\"mapping\":{\"spid\":1009,\"reqid\":null,\"name\":null,\"addr\":\"2001:db8::2\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"inactive\",",
            "\"reason\":null,\"pending\":\"eagain\",\"hold_packets\":null,\"hold_bytes\":null,",
            "\"policies\":[],\"selector\":null,\"stats\":{\"flows\":null,",
            "\"declined\":null,\"fail_closed_drops\":null,",
            "\"stale_entries\":null,\"pending_refused\":null,\"pending_drops\":null,",
            "\"pending_nonblock_held\":null,\"pending_nonblock_drops\":null,\"inbound_flows\":null,\"inbound_refused\":null,\"held\":null,\"released\":null,",
            "\"hold_overflow_drops\":null,\"hold_timeout_drops\":null,",
            "\"hold_error_drops\":null,\"hold_queued\":null}}}\n",
            "{\"event\":\"unmap\",\"spid\":305}\n",
            "{\"event\":\"map\",\"mapping\":{\"spid\":313,\"reqid\":null,\"name\":null,\"addr\":\"2001:db8::2\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"inactive\",",
            "\"reason\":null,\"pending\":\"hold\",\"hold_packets\":500,\"hold_bytes\":1048576,",
            "\"policies\":[],\"selector\":null,",
            "\"stats\":{\"flows\":4,\"declined\":null,\"fail_closed_drops\":0,",
            "\"stale_entries\":null,",
            "\"pending_refused\":0,\"pending_drops\":0,\"pending_nonblock_held\":null,\"pending_nonblock_drops\":null,\"inbound_flows\":null,\"inbound_refused\":null,",
            "\"held\":40,\"released\":4294967297,\"hold_overflow_drops\":3,",
            "\"hold_timeout_drops\":2,\"hold_error_drops\":1,\"hold_queued\":5}}}\n",
            "{\"event\":\"sa\",\"spid\":313,\"sa_state\":\"pending\"}\n",
            "{\"event\":\"sa\",\"spid\":313,\"sa_state\":\"established\"}\n",
            "{\"event\":\"sa\",\"spid\":305,\"sa_state\":\"unknown(7)\"}\n",
            "{\"event\":\"map\",\"mapping\":{\"spid\":null,\"reqid\":7,\"name\":null,\"addr\":\"10.20.30.0\",",
            "\"prefix_len\":24,\"from\":\"192.168.1.0\",\"from_prefix_len\":24,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"active\",",
            "\"reason\":null,\"pending\":\"eagain\",\"hold_packets\":null,\"hold_bytes\":null,",
            "\"policies\":[321,337],\"selector\":{\"family\":\"inet\",\"src\":\"10.20.30.0\",",
            "\"prefixlen_s\":24,\"dst\":\"10.1.0.0\",\"prefixlen_d\":16,\"proto\":0,\"sport\":0,",
            "\"sport_mask\":0,\"dport\":0,\"dport_mask\":0,\"ifindex\":0,\"priority\":0,",
            "\"index\":321},\"stats\":{\"flows\":40,\"declined\":3,\"fail_closed_drops\":null,",
            "\"stale_entries\":1,",
            "\"pending_refused\":null,\"pending_drops\":null,\"pending_nonblock_held\":2,\"pending_nonblock_drops\":null,\"inbound_flows\":null,\"inbound_refused\":null,",
            "\"held\":null,\"released\":null,\"hold_overflow_drops\":null,",
            "\"hold_timeout_drops\":null,\"hold_error_drops\":null,\"hold_queued\":null}}}\n",
            "{\"event\":\"map\",\"mapping\":{\"spid\":null,\"reqid\":9,\"name\":null,\"addr\":\"fd00:2::9\",",
            "\"prefix_len\":null,\"from\":null,\"from_prefix_len\":null,\"inbound\":false,\"remote\":null,\"remote_alias\":null,\"remote_prefix_len\":null,\"zone\":null,\"state\":\"inactive\",",
            "\"reason\":\"no IPv4 out policy with a template of reqid 9\",\"pending\":\"eagain\",",
            "\"hold_packets\":null,\"hold_bytes\":null,\"policies\":[],\"selector\":null,",
            "\"stats\":{\"flows\":null,\"declined\":null,\"fail_closed_drops\":null,",
            "\"stale_entries\":null,\"pending_refused\":null,",
            "\"pending_drops\":null,\"pending_nonblock_held\":null,\"pending_nonblock_drops\":null,\"inbound_flows\":null,\"inbound_refused\":null,\"held\":null,",
            "\"released\":null,\"hold_overflow_drops\":null,\"hold_timeout_drops\":null,",
            "\"hold_error_drops\":null,\"hold_queued\":null}}}\n",
            "{\"event\":\"unmap\",\"reqid\":7}\n",
            "{\"event\":\"sa\",\"spid\":321,\"sa_state\":\"pending\"}\n"
        );
        assert_eq!(json, want);

        // The example of the man page: the same mapping in mode eagain, and
        // a mapping whose module reports no pending mode nor address.
        let Event::Map(mut m) = evs[0].clone() else {
            panic!("not a map event")
        };
        m.mapping.pending = Some(pending_mode::EAGAIN);
        assert_eq!(
            format_event(&Event::Map(m), noif),
            "map spid 305 to 10.20.30.2 active pending eagain \
             selector 10.20.30.2/32 -> 10.0.0.0/8 proto any\n"
        );
        let bare = ReportedMapping::new(Key::Spid(313));
        assert_eq!(
            format_event(&Event::Map(Box::new(bare)), noif),
            "map spid 313 to - -\n"
        );

        // The man page's examples of hold mode and SA events.
        let Event::Map(mut m) = evs[0].clone() else {
            panic!("not a map event")
        };
        m.mapping.pending = Some(pending_mode::HOLD);
        m.mapping.hold_packets = Some(100);
        m.mapping.hold_bytes = Some(262144);
        assert_eq!(
            format_event(&Event::Map(m), noif),
            "map spid 305 to 10.20.30.2 active pending hold hold-packets 100 \
             hold-bytes 262144 selector 10.20.30.2/32 -> 10.0.0.0/8 proto any\n"
        );
        // An inbound mapping: the flag after the target, as `map` takes it.
        let Event::Map(mut m) = evs[7].clone() else {
            panic!("not a map event")
        };
        m.mapping.inbound = true;
        assert_eq!(
            format_event(&Event::Map(m), noif),
            "map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24 inbound active policies 321,337 \
             pending eagain selector 10.20.30.0/24 -> 10.1.0.0/16 proto any\n"
        );
        // Twice NAT: the remote prefix and zone after the target, as `map`
        // takes them.
        let Event::Map(mut m) = evs[7].clone() else {
            panic!("not a map event")
        };
        m.mapping = twice_nat(m.mapping);
        assert_eq!(
            format_event(&Event::Map(m), noif),
            "map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24 \
             remote 10.99.1.0/24 is 192.168.1.0/24 zone 11 inbound active policies 321,337 \
             pending eagain selector 10.20.30.0/24 -> 10.1.0.0/16 proto any\n"
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
        let ev_json = |ev: &Event| format_event_json(ev, None, JsonStyle::Compact).unwrap();
        assert_eq!(
            ev_json(&sa(sa_state::PENDING)),
            "{\"event\":\"sa\",\"spid\":305,\"sa_state\":\"pending\"}\n"
        );
        assert_eq!(
            ev_json(&sa(255)),
            "{\"event\":\"sa\",\"spid\":305,\"sa_state\":\"unknown(255)\"}\n"
        );
        assert_eq!(sa_state_name(2), "unknown(2)");
    }

    /// `monitor -t -j`: the timestamp first, the event as without it.
    #[test]
    fn events_with_timestamps() {
        let stamp = "2026-11-29T06:40:12.123456+01:00";
        let unmap = Event::Unmap {
            key: Key::Spid(305),
        };
        assert_eq!(
            format_event_json(&unmap, Some(stamp), JsonStyle::Compact).unwrap(),
            "{\"timestamp\":\"2026-11-29T06:40:12.123456+01:00\",\"event\":\"unmap\",\"spid\":305}\n"
        );
        assert_eq!(
            format_event_json(&unmap, Some(stamp), JsonStyle::Pretty).unwrap(),
            "{\n  \"timestamp\": \"2026-11-29T06:40:12.123456+01:00\",\n  \
             \"event\": \"unmap\",\n  \"spid\": 305\n}\n"
        );
        let map = Event::Map(Box::new(sample().remove(1)));
        let with: serde_json::Value = serde_json::from_str(
            &format_event_json(&map, Some(stamp), JsonStyle::Compact).unwrap(),
        )
        .unwrap();
        let mut without: serde_json::Value =
            serde_json::from_str(&format_event_json(&map, None, JsonStyle::Compact).unwrap())
                .unwrap();
        without["timestamp"] = stamp.into();
        assert_eq!(with, without);
        assert_eq!(with["mapping"]["stats"]["released"], 50);

        let t = LocalTime {
            year: 2026,
            month: 11,
            day: 29,
            hour: 6,
            minute: 40,
            second: 12,
            micros: 123,
            utc_offset: 3600,
        };
        assert_eq!(t.text(), "2026-11-29T06:40:12.000123");
        assert_eq!(t.rfc3339(), "2026-11-29T06:40:12.000123+01:00");
        let west = LocalTime {
            utc_offset: -(9 * 3600 + 30 * 60),
            ..t
        };
        assert_eq!(west.rfc3339(), "2026-11-29T06:40:12.000123-09:30");
        let utc = LocalTime { utc_offset: 0, ..t };
        assert_eq!(utc.rfc3339(), "2026-11-29T06:40:12.000123+00:00");
        // Now: 26 characters of the right shape, plus the offset.
        let now = LocalTime::now();
        let text = now.text();
        assert_eq!(text.len(), 26, "{text}");
        assert!(now.year >= 2024, "{now:?}");
        assert!(
            (1..=12).contains(&now.month) && (1..=31).contains(&now.day) && now.micros < 1_000_000,
            "{now:?}"
        );
        assert!(now.rfc3339().starts_with(&text));
    }

    #[test]
    fn interface_names() {
        assert_eq!(ifname(0x7fff_fff0), "#2147483632");
    }
}
