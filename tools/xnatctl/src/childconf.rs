//! The child-keyed configuration of `xnatctl daemon` and `xnatctl
//! updown`, and what a child's state makes of it.  No socket here: all
//! of it is unit-tested on text and values.
//!
//! A file of `/etc/xfrm-nat.d/*.conf` has a line per mapping, `map
//! child=CONN/CHILD WORDS`, WORDS those of `xnatctl map` after the key
//! (the grammar of `cli`, parsed by it), with `to vip` for the virtual IP
//! the child's IKE SA was given.  Blank lines and `#` comments as in
//! restore files.  [`mapping`] turns a line and a child's state (its
//! reqid, virtual IPs, traffic selectors) into the request: a pure
//! function, so that the daemon, `updown` and the tests decide alike.

use std::net::IpAddr;
use std::path::Path;

use crate::batch;
use crate::cli::{self, shown, UsageError};
use crate::proto::{Mapping, Prefix};

/// The directory the daemon and `updown` read by default.
pub const DEFAULT_DIR: &str = "/etc/xfrm-nat.d";

/// The keyword that names the child in place of `spid=`/`reqid=`.
const CHILD: &str = "child";
/// The value of `to` that stands for the IKE SA's virtual IP.
const VIP: &str = "vip";

/// Stand-ins for the reqid and the virtual IP, to check a line with the
/// grammar before any child is known: TEST-NET addresses, one per family.
const CHECK_REQID: u32 = 1;
const CHECK_VIPS: [&str; 2] = ["192.0.2.1", "2001:db8::1"];

/// A line of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildLine {
    /// `FILE:LINE`, as messages name it.
    pub origin: String,
    /// strongSwan's `CONNECTION/CHILD`, or libreswan's connection name.
    pub child: String,
    /// The words of `map` without the child, `to vip` kept as it is.
    words: Vec<String>,
}

/// What a child is now, as the IKE daemon tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildState {
    pub reqid: u32,
    /// The IKE SA's own virtual IPs (strongSwan's local-vips, libreswan's
    /// PLUTO_MY_SOURCEIP).
    pub vips: Vec<IpAddr>,
    /// The negotiated traffic selectors, as strongSwan prints them
    /// (`10.1.0.0/16`, `10.1.0.1..10.1.0.9`, either with `[udp/53]`);
    /// none known: nothing is checked.
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
}

/// The request a line makes for a child, with what the daemon warns
/// about: a prefix outside the child's selectors (the kernel installs the
/// mapping inactive, with its reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub mapping: Mapping,
    pub warnings: Vec<String>,
}

impl ChildLine {
    /// Whether the line maps to the IKE SA's virtual IP.
    pub fn uses_vip(&self) -> bool {
        self.words
            .iter()
            .zip(self.words.iter().skip(1))
            .any(|(a, b)| a == "to" && b == VIP)
            || self.words.iter().any(|w| w == "to=vip")
    }

    /// The words of `map` for the child's `reqid`, named, with `vip` for
    /// `to vip`.
    fn map_words(&self, reqid: u32, vip: Option<IpAddr>) -> Vec<String> {
        let vip = vip.map(|v| v.to_string());
        let mut words = vec![format!("reqid={reqid}"), "name".into(), self.child.clone()];
        let mut after_to = false;
        for word in &self.words {
            let word = match (word.as_str(), &vip) {
                (VIP, Some(vip)) if after_to => vip.clone(),
                ("to=vip", Some(vip)) => format!("to={vip}"),
                _ => word.clone(),
            };
            after_to = word == "to";
            words.push(word);
        }
        words
    }

    /// The mapping for `reqid` with the virtual IP `vip`, as the grammar
    /// of `map` reads it.
    fn parse(&self, reqid: u32, vip: Option<IpAddr>) -> Result<Mapping, UsageError> {
        cli::parse_mapping(&self.map_words(reqid, vip)).map(|(mapping, _replace)| mapping)
    }
}

/// The words of a line after `map`, the child taken out; the words that
/// have no place in it refused.
fn child_line(origin: String, rest: &[String]) -> Result<ChildLine, UsageError> {
    let mut child = None;
    let mut words = Vec::new();
    let mut it = rest.iter();
    while let Some(word) = it.next() {
        let (key, glued) = word.split_once('=').unwrap_or((word, ""));
        match key {
            CHILD => {
                let value = match glued {
                    "" => it.next().cloned().unwrap_or_default(),
                    v => v.to_string(),
                };
                if value.is_empty() {
                    return Err(UsageError("missing value for 'child'".into()));
                }
                if child.replace(value).is_some() {
                    return Err(UsageError("'child' given more than once".into()));
                }
            }
            "spid" | "reqid" => {
                return Err(UsageError(format!(
                    "'{key}' has no place here: the mapping is keyed by the child's \
                     reqid, whatever the IKE daemon assigned; name the child with \
                     'child=CONN/CHILD'"
                )))
            }
            "name" => {
                return Err(UsageError(
                    "'name' has no place here: the mapping is named after its child".into(),
                ))
            }
            "replace" => {
                return Err(UsageError(
                    "'replace' has no place here: a child's mapping always replaces \
                     its previous one"
                        .into(),
                ))
            }
            _ => words.push(word.clone()),
        }
    }
    let Some(child) = child else {
        return Err(UsageError("missing 'child=CONN/CHILD'".into()));
    };
    let line = ChildLine {
        origin,
        child,
        words,
    };
    // Checked with the grammar now, so that a mistake is told when the
    // file is read, not when the child comes up.
    let vips: Vec<Option<IpAddr>> = match line.uses_vip() {
        true => CHECK_VIPS.iter().map(|v| v.parse().ok()).collect(),
        false => vec![None],
    };
    let mut first_error = None;
    for vip in vips {
        match line.parse(CHECK_REQID, vip) {
            Ok(_) => return Ok(line),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| UsageError("no mapping".into())))
}

/// The lines of the configuration file `text`, named `name` in messages.
pub fn parse_file(name: &str, text: &[u8]) -> Result<Vec<ChildLine>, UsageError> {
    let mut lines = Vec::new();
    for (number, words) in batch::command_lines(name, text)? {
        let (command, rest) = words.split_first().expect("a command line has words");
        if command != "map" {
            return Err(batch::at(
                name,
                number,
                format!("unknown command '{}' (expected: map)", shown(command)),
            ));
        }
        let origin = format!("{name}:{number}");
        lines.push(child_line(origin, rest).map_err(|e| batch::at(name, number, e))?);
    }
    Ok(lines)
}

/// Refuses two lines of one child: a child has one mapping.
fn check_unique(lines: &[ChildLine]) -> Result<(), UsageError> {
    for (i, line) in lines.iter().enumerate() {
        if let Some(first) = lines[..i].iter().find(|l| l.child == line.child) {
            return Err(UsageError(format!(
                "{}: child {} is mapped twice (first at {})",
                line.origin, line.child, first.origin
            )));
        }
    }
    Ok(())
}

/// The lines of the files `DIR/*.conf`, in the order of their names.  A
/// missing directory is an empty configuration.
pub fn load_dir(dir: &Path) -> Result<Vec<ChildLine>, UsageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(UsageError(format!("cannot read {}: {e}", dir.display()))),
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
        .collect();
    files.sort();
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read(&file)
            .map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
        lines.extend(parse_file(&file.display().to_string(), &text)?);
    }
    check_unique(&lines)?;
    Ok(lines)
}

/// The line of `child`, if the configuration has one: of its
/// `CONNECTION/CHILD`, for the mapping of one peer's instance of it too,
/// `CONNECTION/CHILD@VIP` (see the daemon's `instance_name`).
pub fn line_of<'a>(lines: &'a [ChildLine], child: &str) -> Option<&'a ChildLine> {
    let base = match child.rsplit_once('@') {
        Some((base, vip)) if vip.parse::<IpAddr>().is_ok() => base,
        _ => child,
    };
    lines.iter().find(|l| l.child == child || l.child == base)
}

/// An address as a number, with its family's width in bits.
fn bits(addr: IpAddr) -> (u128, u32) {
    match addr {
        IpAddr::V4(a) => (u32::from(a).into(), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The first and last address of `prefix`.
fn span(prefix: Prefix) -> (IpAddr, IpAddr) {
    let (first, width) = bits(prefix.network());
    let host_bits = width - u32::from(prefix.len);
    let last = match host_bits {
        128 => u128::MAX,
        n => first | ((1u128 << n) - 1),
    };
    let last = match prefix.addr {
        IpAddr::V4(_) => IpAddr::V4((last as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(last.into()),
    };
    (prefix.network(), last)
}

/// The address part of a traffic selector as strongSwan prints it,
/// without its protocol and ports (`10.1.0.0/16[udp/53]`).
fn ts_addrs(ts: &str) -> &str {
    ts.split('[').next().unwrap_or(ts).trim()
}

/// A traffic selector that is a prefix (`10.1.0.0/16`, `10.1.0.1`); None
/// for a range that is not one, or what is not a selector.
pub fn ts_prefix(ts: &str) -> Option<Prefix> {
    let (addr, len) = match ts_addrs(ts).split_once('/') {
        Some((a, l)) => (a.parse().ok()?, l.parse().ok()?),
        None => {
            let addr: IpAddr = ts_addrs(ts).parse().ok()?;
            (addr, Prefix::full_len(&addr))
        }
    };
    (len <= Prefix::full_len(&addr)).then_some(Prefix { addr, len })
}

/// The first and last address of a traffic selector, a prefix or a
/// range `FIRST..LAST`.
fn ts_span(ts: &str) -> Option<(IpAddr, IpAddr)> {
    match ts_addrs(ts).split_once("..") {
        Some((first, last)) => Some((first.parse().ok()?, last.parse().ok()?)),
        None => Some(span(ts_prefix(ts)?)),
    }
}

/// Whether `prefix` lies inside one of `selectors` (none known: yes).
fn inside(prefix: Prefix, selectors: &[String]) -> bool {
    let (first, last) = span(prefix);
    selectors.is_empty()
        || selectors
            .iter()
            .filter_map(|ts| ts_span(ts))
            .any(|(lo, hi)| {
                lo.is_ipv4() == first.is_ipv4()
                    && bits(lo).0 <= bits(first).0
                    && bits(last).0 <= bits(hi).0
            })
}

/// The request `line` makes for a child in `state`: its mapping keyed by
/// the child's reqid, named after it, `to vip` the first virtual IP that
/// the line's grammar takes (the family of its other prefixes).  An error
/// when there is nothing to map: no reqid, or no virtual IP for `to vip`.
pub fn mapping(line: &ChildLine, state: &ChildState) -> Result<Plan, String> {
    if state.reqid == 0 {
        return Err("no reqid (0 is any to the kernel)".into());
    }
    let mapping = match line.uses_vip() {
        false => line.parse(state.reqid, None).map_err(|e| e.0)?,
        true => {
            let mut tried = state
                .vips
                .iter()
                .map(|vip| line.parse(state.reqid, Some(*vip)));
            match tried.find_map(Result::ok) {
                Some(m) => m,
                None if state.vips.is_empty() => {
                    return Err("to vip: the IKE SA has no virtual IP".into())
                }
                None => {
                    let vips: Vec<String> = state.vips.iter().map(|v| v.to_string()).collect();
                    return Err(format!(
                        "to vip: no virtual IP of the IKE SA ({}) fits the line",
                        vips.join(", ")
                    ));
                }
            }
        }
    };
    let mut warnings = Vec::new();
    if let Some(target) = &mapping.target {
        if !inside(target.to, &state.local_ts) {
            warnings.push(format!(
                "to {} lies outside the child's local_ts {}",
                target.to.grammar_text(),
                state.local_ts.join(",")
            ));
        }
    }
    // The policies carry the remote prefix itself, never its alias, so
    // that is what the remote selectors must admit.
    if let Some(remote) = mapping.remote {
        if !inside(remote.real_prefix(), &state.remote_ts) {
            warnings.push(format!(
                "remote {} lies outside the child's remote_ts {}",
                remote.real_prefix().grammar_text(),
                state.remote_ts.join(",")
            ));
        }
    }
    Ok(Plan { mapping, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Key;

    fn lines(text: &str) -> Result<Vec<ChildLine>, String> {
        parse_file("t.conf", text.as_bytes()).map_err(|e| e.0)
    }

    fn one(text: &str) -> ChildLine {
        lines(text).expect("parses").remove(0)
    }

    fn state(reqid: u32, vips: &[&str], local: &[&str], remote: &[&str]) -> ChildState {
        ChildState {
            reqid,
            vips: vips.iter().map(|v| v.parse().expect("address")).collect(),
            local_ts: local.iter().map(|s| s.to_string()).collect(),
            remote_ts: remote.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parses_lines_with_comments() {
        let l = lines(
            "# home\n\nmap child=home/net to vip  # the pool's\n\
             map child office/lan from 192.168.1.0/24 to 10.20.30.0/24 inbound\r\n",
        )
        .expect("parses");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].child, "home/net");
        assert_eq!(l[0].origin, "t.conf:3");
        assert!(l[0].uses_vip());
        assert_eq!(l[1].child, "office/lan");
        assert!(!l[1].uses_vip());
    }

    #[test]
    fn refuses_with_file_and_line() {
        let cases = [
            ("map to vip\n", "t.conf:1: missing 'child=CONN/CHILD'"),
            (
                "\nmap child=a/b reqid=3 to vip\n",
                "t.conf:2: 'reqid' has no place",
            ),
            (
                "map child=a/b to vip name x\n",
                "t.conf:1: 'name' has no place",
            ),
            (
                "map child=a/b to vip replace\n",
                "t.conf:1: 'replace' has no place",
            ),
            ("unmap child=a/b\n", "t.conf:1: unknown command 'unmap'"),
            (
                "map child=a/b to 300.1.1.1\n",
                "t.conf:1: '300.1.1.1' is not",
            ),
            (
                "map child=a/b child=c/d to vip\n",
                "t.conf:1: 'child' given more",
            ),
            ("map child=a/b\n", "t.conf:1: missing 'to ADDR'"),
            (
                "map child=a/b from 10.0.0.0/24 to vip\n",
                "t.conf:1: from 10.0.0.0/24 and to",
            ),
        ];
        for (text, want) in cases {
            let got = lines(text).expect_err(text);
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn a_child_has_one_line() {
        let l = lines("map child=a/b to vip\nmap child=a/b to 10.0.0.1\n").expect("parses");
        let e = check_unique(&l).expect_err("twice");
        assert_eq!(
            e.0,
            "t.conf:2: child a/b is mapped twice (first at t.conf:1)"
        );
    }

    #[test]
    fn vip_follows_the_ike_sa() {
        let line = one("map child=home/net to vip pending hold\n");
        let plan = mapping(&line, &state(3, &["10.3.0.1"], &["10.3.0.1/32"], &[])).expect("maps");
        assert_eq!(plan.mapping.key, Key::Reqid(3));
        assert_eq!(
            plan.mapping.target.expect("target").to.addr.to_string(),
            "10.3.0.1"
        );
        assert!(plan.warnings.is_empty());
        let moved = mapping(&line, &state(9, &["10.4.0.7"], &["10.4.0.7/32"], &[])).expect("maps");
        assert_eq!(moved.mapping.key, Key::Reqid(9));
        assert_eq!(
            moved.mapping.target.expect("target").to.addr.to_string(),
            "10.4.0.7"
        );
    }

    #[test]
    fn vip_of_the_lines_family() {
        let line = one("map child=h/n to vip remote 10.9.0.0/24 is 192.168.1.0/24\n");
        let plan = mapping(&line, &state(4, &["fd00::5", "10.3.0.1"], &[], &[])).expect("maps");
        assert_eq!(
            plan.mapping.target.expect("target").to.addr.to_string(),
            "10.3.0.1"
        );
        let v6 = one("map child=h/n to vip\n");
        let plan = mapping(&v6, &state(4, &["fd00::5"], &[], &[])).expect("maps");
        assert_eq!(
            plan.mapping.target.expect("target").to.addr.to_string(),
            "fd00::5"
        );
    }

    #[test]
    fn nothing_to_map() {
        let line = one("map child=h/n to vip\n");
        assert_eq!(
            mapping(&line, &state(4, &[], &[], &[])).expect_err("no vip"),
            "to vip: the IKE SA has no virtual IP"
        );
        assert!(mapping(&line, &state(0, &["10.0.0.1"], &[], &[])).is_err());
    }

    #[test]
    fn selectors_are_checked() {
        let line = one("map child=office/lan from 192.168.1.0/24 to 10.20.30.0/24 \
             remote 10.99.1.0/24 is 172.16.1.0/24\n");
        let fits = state(
            5,
            &[],
            &["10.20.0.0/16"],
            &["172.16.0.0..172.16.3.255[udp]"],
        );
        assert!(mapping(&line, &fits).expect("maps").warnings.is_empty());
        let outside = state(5, &[], &["10.1.0.0/16"], &["172.16.2.0/24"]);
        let plan = mapping(&line, &outside).expect("still maps");
        assert_eq!(
            plan.warnings,
            [
                "to 10.20.30.0/24 lies outside the child's local_ts 10.1.0.0/16",
                "remote 172.16.1.0/24 lies outside the child's remote_ts 172.16.2.0/24",
            ]
        );
        let v6 = one("map child=a/b from fd00:1::/64 to fd00:2::/64\n");
        assert!(mapping(&v6, &state(2, &[], &["fd00::/16"], &[]))
            .expect("maps")
            .warnings
            .is_empty());
        assert!(!mapping(&v6, &state(2, &[], &["10.0.0.0/8"], &[]))
            .expect("maps")
            .warnings
            .is_empty());
        assert!(mapping(&v6, &state(2, &[], &["::/0"], &[]))
            .expect("maps")
            .warnings
            .is_empty());
    }
}
