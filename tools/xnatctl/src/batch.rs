//! Files: the restore format that `save` prints and `restore` reads
//! (`map spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX [remote
//! ALIAS is PREFIX] [zone N] [inbound] [pending MODE] [hold-packets N] [hold-bytes N]`
//! lines), the batch files of `-f` (`map [... replace]`, `unmap`, `flush`
//! lines), and what a batch does to a set of mappings.  No socket here: all
//! of it is unit-tested on text.
//!
//! Both formats are line-based: one command per line, its words as on the
//! command line (the grammar of `cli`).  Blank lines are skipped, and a
//! word starting with `#` starts a comment that runs to the end of the line
//! (as in sh and `ip -batch`).  A mistake is told as `FILE:LINE: message`
//! with the grammar's message; the first one ends the parse, before
//! anything is sent.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use crate::cli::{self, shown, UsageError};
use crate::proto::{Key, Mapping, ReportedMapping, PENDING_MODES};
use crate::uapi::pending_mode;

/// The first line of what `save` prints.
pub const SAVE_HEADER: &str = "# xnatctl save";

/// The name messages call a file by: `<stdin>` for `-`.
pub fn display_name(file: &str) -> &str {
    if file == "-" {
        "<stdin>"
    } else {
        file
    }
}

pub fn at(name: &str, line: usize, msg: impl Display) -> UsageError {
    UsageError(format!("{name}:{line}: {msg}"))
}

/// The words of `line` before its comment, if any.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace()
        .take_while(|w| !w.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The lines of `text` that hold a command, numbered from 1, as words
/// (the first the command).  Lines end with `\n`; a `\r` before it is
/// white space, so CRLF files read the same.
pub fn command_lines(name: &str, text: &[u8]) -> Result<Vec<(usize, Vec<String>)>, UsageError> {
    let mut out = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let number = i + 1;
        let line = std::str::from_utf8(line).map_err(|_| at(name, number, "not UTF-8 text"))?;
        let words = words(line);
        if !words.is_empty() {
            out.push((number, words));
        }
    }
    Ok(out)
}

/// The mappings of a restore file, each with its line, in the file's
/// order.  Only `map` lines, without `replace` (the file is the whole new
/// set); each key at most once.
pub fn parse_restore(name: &str, text: &[u8]) -> Result<Vec<(usize, Mapping)>, UsageError> {
    let mut mappings = Vec::new();
    let mut lines_of: HashMap<Key, usize> = HashMap::new();
    let mut lines_of_name: HashMap<String, usize> = HashMap::new();
    for (line, words) in command_lines(name, text)? {
        let (command, rest) = words.split_first().expect("a command line has words");
        if command != "map" {
            return Err(at(
                name,
                line,
                format!(
                    "unknown command '{}' in a restore file (expected: map)",
                    shown(command)
                ),
            ));
        }
        let (mapping, replace) = cli::parse_mapping(rest).map_err(|e| at(name, line, e))?;
        if replace {
            return Err(at(
                name,
                line,
                "'replace' has no place in a restore file: restore replaces the whole set",
            ));
        }
        if let Some(first) = lines_of.insert(mapping.key, line) {
            return Err(at(
                name,
                line,
                format!("{} is mapped twice (lines {first} and {line})", mapping.key),
            ));
        }
        // The kernel refuses a set with a name twice too; told here with
        // both lines.
        if let Some(child) = &mapping.name {
            if let Some(first) = lines_of_name.insert(child.clone(), line) {
                return Err(at(
                    name,
                    line,
                    format!("name {child} is given twice (lines {first} and {line})"),
                ));
            }
        }
        mappings.push((line, mapping));
    }
    Ok(mappings)
}

/// A command of a batch file: one that changes the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Map { mapping: Mapping, replace: bool },
    Unmap { key: Key },
    Flush,
}

/// The commands of a batch file (`-f`), each with its line: `map` (with
/// or without `replace`), `unmap` and `flush`.
pub fn parse_batch(name: &str, text: &[u8]) -> Result<Vec<(usize, Change)>, UsageError> {
    let mut cmds = Vec::new();
    for (line, words) in command_lines(name, text)? {
        let (command, rest) = words.split_first().expect("a command line has words");
        let cmd = match command.as_str() {
            "map" => {
                cli::parse_mapping(rest).map(|(mapping, replace)| Change::Map { mapping, replace })
            }
            "unmap" => cli::parse_unmap_key(rest).map(|key| Change::Unmap { key }),
            "flush" => cli::parse_flush(rest).map(|_| Change::Flush),
            _ => Err(UsageError(format!(
                "unknown command '{}' in a batch file (expected: map, unmap, flush)",
                shown(command)
            ))),
        };
        cmds.push((line, cmd.map_err(|e| at(name, line, e))?));
    }
    Ok(cmds)
}

/// Where an entry of a map-set request comes from, to tell a refusal of
/// it in the terms of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The line of the file that made it.
    Line(usize),
    /// A mapping of the current set that the batch left as it was.
    Kept { key: Key },
}

/// The set that results from applying the batch `cmds` to `current` (the
/// namespace's set as dumped), in order, as map-new, map-del and flush
/// would one after the other: sorted by key, each mapping with its
/// origin.  A named `map` removes the other mapping of its name.  A `map`
/// without `replace` of a mapped key, or an `unmap` of an unmapped one, is
/// an error `FILE:LINE: ...`, as the kernel would
/// refuse it.
pub fn apply(
    name: &str,
    current: Vec<Mapping>,
    cmds: &[(usize, Change)],
) -> Result<Vec<(Origin, Mapping)>, String> {
    let mut set: BTreeMap<Key, (Origin, Mapping)> = current
        .into_iter()
        .map(|m| (m.key, (Origin::Kept { key: m.key }, m)))
        .collect();
    for (line, cmd) in cmds {
        match cmd {
            Change::Map { mapping, replace } => {
                let key = mapping.key;
                if !replace {
                    if let Some((origin, _)) = set.get(&key) {
                        let by = match origin {
                            Origin::Line(l) => format!(" (by line {l})"),
                            Origin::Kept { .. } => String::new(),
                        };
                        return Err(format!(
                            "{name}:{line}: {key} is already mapped{by}; \
                             add 'replace' to change it"
                        ));
                    }
                }
                // As map-new does: the mapping of the same name under
                // another key goes, the child having a new key now.
                if let Some(child) = &mapping.name {
                    set.retain(|k, (_, m)| *k == key || m.name.as_ref() != Some(child));
                }
                set.insert(key, (Origin::Line(*line), mapping.clone()));
            }
            Change::Unmap { key } => {
                if set.remove(key).is_none() {
                    return Err(format!("{name}:{line}: {key} is not mapped"));
                }
            }
            Change::Flush => set.clear(),
        }
    }
    Ok(set.into_values().collect())
}

/// The kernel's refusal of a map-set entry, `entry N: TEXT` (N counting
/// the request's entries from 1), as `FILE:LINE: TEXT` for the line that
/// made entry N (`origins[N - 1]`).  None for any other message, which is
/// then told as it is.
pub fn locate_refusal(name: &str, extack: &str, origins: &[Origin]) -> Option<String> {
    let (n, text) = extack.strip_prefix("entry ")?.split_once(": ")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let origin = origins.get(n.parse::<usize>().ok()?.checked_sub(1)?)?;
    Some(match origin {
        Origin::Line(line) => format!("{name}:{line}: {text}"),
        Origin::Kept { key } => {
            format!("{name}: the mapping of {key}, kept from the current set: {text}")
        }
    })
}

/// The line of the restore format that recreates `m`:
/// `map spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX [remote
/// ALIAS is PREFIX] [zone N] [inbound] [pending MODE] [hold-packets N]
/// [hold-bytes N]`.  An error for a mapping that
/// `restore` could not recreate: one without an address, or in a pending
/// mode this xnatctl does not know.
pub fn restore_line(m: &Mapping) -> Result<String, String> {
    let target = m
        .target
        .ok_or_else(|| format!("the kernel reported {} without an address", m.key))?;
    let mut line = format!(
        "map {}={}{} {target}{}",
        m.key.keyword(),
        m.key.value(),
        m.name_words(),
        m.extra_words()
    );
    if let Some(mode) = m.pending {
        let (name, _) = PENDING_MODES
            .iter()
            .find(|(_, known)| *known == mode)
            .ok_or_else(|| {
                format!(
                    "{} has pending mode {mode}, which this xnatctl does not know",
                    m.key
                )
            })?;
        line.push_str(" pending ");
        line.push_str(name);
    }
    // The hold limits of hold mode only, whatever a module reports:
    // `restore` refuses them in another mode.
    if m.pending == Some(pending_mode::HOLD) {
        if let Some(n) = m.hold_packets {
            line.push_str(&format!(" hold-packets {n}"));
        }
        if let Some(n) = m.hold_bytes {
            line.push_str(&format!(" hold-bytes {n}"));
        }
    }
    Ok(line)
}

/// What `save` prints for the mappings `maps`: the header line, then one
/// line per mapping, sorted by key (spid mappings first), with its target,
/// remote prefix, zone, inbound flag, pending mode and, in hold mode, its hold limits.
pub fn format_save(maps: &[ReportedMapping]) -> Result<String, String> {
    let mut maps: Vec<&Mapping> = maps.iter().map(|r| &r.mapping).collect();
    maps.sort_by_key(|m| m.key);
    let mut out = format!("{SAVE_HEADER}\n");
    for m in maps {
        out.push_str(&restore_line(m)?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tests::{sample_hold_mapping_attrs, sample_mapping_attrs};
    use crate::proto::{nlas, MapAttr, Request, Target};
    use crate::uapi::{map_attr, pending_mode};

    fn mapping(spid: u32, addr: &str) -> Mapping {
        Mapping::new(Key::Spid(spid), Target::addr(addr))
    }

    fn with_pending(e: Mapping, mode: u8) -> Mapping {
        Mapping {
            pending: Some(mode),
            ..e
        }
    }

    fn hold(e: Mapping, packets: Option<u32>, bytes: Option<u32>) -> Mapping {
        Mapping {
            pending: Some(pending_mode::HOLD),
            hold_packets: packets,
            hold_bytes: bytes,
            ..e
        }
    }

    fn restore_err(text: &str) -> String {
        parse_restore("x.conf", text.as_bytes())
            .expect_err("expected a mistake")
            .0
    }

    fn batch_err(text: &str) -> String {
        parse_batch("cmds", text.as_bytes())
            .expect_err("expected a mistake")
            .0
    }

    #[test]
    fn restore_file() {
        let text = "\
# xnatctl save
map spid=9 to 10.9.0.9 pending drop

   #an indented comment
map spid 305 to 10.20.30.2 pending hold hold-packets 50 hold-bytes 262144
map spid=313 to 2001:db8::2   #a trailing comment, glued
\tmap\tto=10.1.1.1\tspid=17#not-a-comment-start\r
map spid=25 to 10.1.1.25 pending=eagain #";
        // A '#' inside a word is the word's (line 7 has spid '17#...'),
        // so that line is a mistake; without it the file parses.
        assert_eq!(
            restore_err(text),
            "x.conf:7: spid '17#not-a-comment-start' is not a number"
        );
        let text = text.replace("#not-a-comment-start", "");
        let got = parse_restore("x.conf", text.as_bytes()).unwrap();
        assert_eq!(
            got,
            [
                (2, with_pending(mapping(9, "10.9.0.9"), pending_mode::DROP)),
                (5, hold(mapping(305, "10.20.30.2"), Some(50), Some(262144))),
                (6, mapping(313, "2001:db8::2")),
                (7, mapping(17, "10.1.1.1")),
                (
                    8,
                    with_pending(mapping(25, "10.1.1.25"), pending_mode::EAGAIN)
                ),
            ]
        );
        // Nothing but comments, or nothing: the empty set.
        for empty in ["", "\n\n", "# xnatctl save\n", "  # x\n\t\n"] {
            assert_eq!(parse_restore("x.conf", empty.as_bytes()).unwrap(), []);
        }
    }

    #[test]
    fn restore_file_mistakes() {
        for (text, want) in [
            (
                "map spid=305 to 10.20.30.2\nmap spid=313 to 10.20.30",
                "x.conf:2: '10.20.30' is not an IPv4 or IPv6 address",
            ),
            (
                "\n\n# c\nmap spid=306 to 10.20.30.2",
                "x.conf:4: spid 306 is not an outbound policy index (306 & 7 = 2, fwd); \
                 only out policies (index & 7 == 1) can be mapped",
            ),
            (
                "map spid=305 to 10.20.30.2 hold-packets 5",
                "x.conf:1: 'hold-packets' is only valid with 'pending hold'",
            ),
            (
                "map spid=305 to 10.20.30.2 # ok\nmap to 10.1.1.1 # no spid",
                "x.conf:2: missing 'spid=N' or 'reqid=N'",
            ),
            (
                "map spid=305 to 10.20.30.2 replace",
                "x.conf:1: 'replace' has no place in a restore file: \
                 restore replaces the whole set",
            ),
            (
                "map spid=305 from 192.168.1.0/24 to 10.20.30.0/24 inbound\n\
                 map spid=313 to 10.20.30.2 inbound",
                "x.conf:2: 'inbound' is only valid with 'from PREFIX': it admits \
                 the remote side's flows to the hosts of a 1:1 mapping",
            ),
            (
                "map spid=305 to 10.20.30.2\nunmap spid=305",
                "x.conf:2: unknown command 'unmap' in a restore file (expected: map)",
            ),
            (
                "xnatctl map spid=305 to 10.20.30.2",
                "x.conf:1: unknown command 'xnatctl' in a restore file (expected: map)",
            ),
            (
                "map spid=305 to 10.20.30.2 bogus",
                "x.conf:1: unknown keyword 'bogus' for 'map' \
                 (expected: spid, reqid, name, from, to, remote, is, zone, inbound, pending, hold-packets, hold-bytes, replace)",
            ),
            (
                "map spid=9 to 10.9.0.9\n\nmap spid=305 to 10.20.30.2\nmap spid 9 to 10.9.0.10",
                "x.conf:4: spid 9 is mapped twice (lines 1 and 4)",
            ),
            (
                "map reqid=3 name home/net to 10.3.0.1\nmap reqid=5 name home/net to 10.3.0.2",
                "x.conf:2: name home/net is given twice (lines 1 and 2)",
            ),
            (
                "map reqid=3 name #net to 10.3.0.1",
                "x.conf:1: missing value for 'name'",
            ),
        ] {
            assert_eq!(restore_err(text), want, "{text:?}");
        }
        // The first mistake is told.
        assert_eq!(
            restore_err("map spid=1\nmap spid=2"),
            "x.conf:1: missing 'to ADDR'"
        );
        // Bytes that are not UTF-8, even in a comment.
        let e = parse_restore("<stdin>", b"map spid=9 to 10.9.0.9\n# \xff\n")
            .unwrap_err()
            .0;
        assert_eq!(e, "<stdin>:2: not UTF-8 text");
        // Long input is quoted shortened.
        let e = restore_err(&"y".repeat(10_000));
        assert!(e.starts_with("x.conf:1: unknown command 'yyy"), "{e}");
        assert!(e.len() < 200, "{e}");
    }

    #[test]
    fn batch_file() {
        let text = "\
# applied at once
unmap spid=9
map spid=17 to 10.9.0.17 pending drop   # new
map spid=305 to 10.20.30.2 replace

flush
map spid 313 to 2001:db8::2 pending hold hold-bytes 4096
map reqid 7 inbound from 192.168.1.0/24 to 10.20.30.0/24 replace
map reqid 21 zone 3 remote 10.99.1.0/24 to 10.20.31.0/24 is 192.168.1.0/24 from 192.168.1.0/24
";
        let got = parse_batch("cmds", text.as_bytes()).unwrap();
        let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 3, 4, 6, 7, 8, 9]);
        assert_eq!(got[0].1, Change::Unmap { key: Key::Spid(9) });
        assert_eq!(got[3].1, Change::Flush);
        assert_eq!(
            got[2].1,
            Change::Map {
                mapping: mapping(305, "10.20.30.2"),
                replace: true
            }
        );
        assert_eq!(
            got[4].1,
            Change::Map {
                mapping: hold(mapping(313, "2001:db8::2"), None, Some(4096)),
                replace: false
            }
        );
        let Change::Map { mapping, replace } = &got[5].1 else {
            panic!("not a map line: {:?}", got[5].1)
        };
        assert!(mapping.inbound && *replace);
        let Change::Map { mapping, .. } = &got[6].1 else {
            panic!("not a map line: {:?}", got[6].1)
        };
        assert_eq!(
            (mapping.remote.map(|r| r.to_string()), mapping.zone),
            (Some("remote 10.99.1.0/24 is 192.168.1.0/24".into()), Some(3))
        );
        for (text, want) in [
            (
                "flush\nshow",
                "cmds:2: unknown command 'show' in a batch file (expected: map, unmap, flush)",
            ),
            (
                "unmap spid=305\nmonitor count 1",
                "cmds:2: unknown command 'monitor' in a batch file (expected: map, unmap, flush)",
            ),
            (
                "flush all",
                "cmds:1: unknown keyword 'all': 'flush' takes no arguments",
            ),
            ("\n\nunmap", "cmds:3: missing 'spid=N' or 'reqid=N'"),
            (
                "map spid=305 to 10.20.30.2 replace=yes",
                "cmds:1: 'replace' takes no value",
            ),
            (
                "map spid=305 to 10.20.30.2 is 192.168.1.0/24 remote 10.99.1.0/25",
                "cmds:1: remote 10.99.1.0/25 and is 192.168.1.0/24 differ in prefix length; \
                 the alias stands for the remote prefix host for host",
            ),
            (
                "map spid=305 to 10.20.30.2 inbound replace",
                "cmds:1: 'inbound' is only valid with 'from PREFIX': it admits \
                 the remote side's flows to the hosts of a 1:1 mapping",
            ),
            (
                "unmap spid=306",
                "cmds:1: spid 306 is not an outbound policy index (306 & 7 = 2, fwd); \
                 only out policies (index & 7 == 1) can be mapped",
            ),
        ] {
            assert_eq!(batch_err(text), want, "{text:?}");
        }
        assert_eq!(parse_batch("cmds", b"# nothing\n").unwrap(), []);
    }

    fn batch(text: &str) -> Vec<(usize, Change)> {
        parse_batch("cmds", text.as_bytes()).unwrap()
    }

    fn current() -> Vec<Mapping> {
        vec![
            hold(mapping(305, "10.20.30.2"), Some(50), Some(262144)),
            with_pending(mapping(9, "10.9.0.9"), pending_mode::DROP),
        ]
    }

    #[test]
    fn batch_applied_to_a_set() {
        // Add, replace, unmap: the result is sorted by spid, and what the
        // batch did not touch is kept as it was.
        let got = apply(
            "cmds",
            current(),
            &batch(
                "unmap spid=9\n\
                 map spid=17 to 10.9.0.17 pending drop\n\
                 map spid=313 to 2001:db8::2\n\
                 map spid=313 to 2001:db8::3 replace\n",
            ),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                (
                    Origin::Line(2),
                    with_pending(mapping(17, "10.9.0.17"), pending_mode::DROP)
                ),
                (
                    Origin::Kept {
                        key: Key::Spid(305)
                    },
                    hold(mapping(305, "10.20.30.2"), Some(50), Some(262144))
                ),
                (Origin::Line(4), mapping(313, "2001:db8::3")),
            ]
        );
        // Replace takes the line's mapping whole (no pending: the default).
        let got = apply(
            "cmds",
            current(),
            &batch("map spid=305 to 10.20.30.2 replace"),
        )
        .unwrap();
        assert_eq!(got[1], (Origin::Line(1), mapping(305, "10.20.30.2")));
        assert_eq!(got[0].0, Origin::Kept { key: Key::Spid(9) });
        // Flush empties what came before it, from the set and the file.
        let got = apply(
            "cmds",
            current(),
            &batch("map spid=17 to 10.9.0.17\nflush\nmap spid=9 to 10.9.0.90"),
        )
        .unwrap();
        assert_eq!(got, [(Origin::Line(3), mapping(9, "10.9.0.90"))]);
        assert_eq!(apply("cmds", current(), &batch("flush")).unwrap(), []);
        // No commands: the set as it was.
        let got = apply("cmds", current(), &[]).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(o, _)| matches!(o, Origin::Kept { .. })));
        // Unmap then map again without replace is fine.
        let got = apply(
            "cmds",
            current(),
            &batch("unmap spid=305\nmap spid=305 to 10.20.30.3"),
        )
        .unwrap();
        assert_eq!(got[1], (Origin::Line(2), mapping(305, "10.20.30.3")));
    }

    /// A named map takes the name from the mapping that had it, as
    /// map-new does in the kernel: the child came back under another key.
    #[test]
    fn batch_moves_a_name() {
        let named = |key, to| Mapping {
            name: Some("home/net".into()),
            ..Mapping::new(key, crate::proto::Target::addr(to))
        };
        let current = vec![named(Key::Reqid(3), "10.3.0.1"), mapping(9, "10.9.0.9")];
        let got = apply(
            "cmds",
            current.clone(),
            &batch("map reqid=5 name home/net to 10.3.0.2"),
        )
        .unwrap();
        assert_eq!(
            got,
            [
                (Origin::Kept { key: Key::Spid(9) }, mapping(9, "10.9.0.9")),
                (Origin::Line(1), named(Key::Reqid(5), "10.3.0.2")),
            ]
        );
        // Under the same key it is a replace as any other.
        let got = apply(
            "cmds",
            current,
            &batch("map reqid=3 name home/net to 10.3.0.2 replace"),
        )
        .unwrap();
        assert_eq!(got[1], (Origin::Line(1), named(Key::Reqid(3), "10.3.0.2")));
    }

    #[test]
    fn batch_refused_by_the_set() {
        for (text, want) in [
            (
                "map spid=17 to 10.9.0.17\nmap spid=305 to 10.20.30.3",
                "cmds:2: spid 305 is already mapped; add 'replace' to change it",
            ),
            (
                "map spid=17 to 10.9.0.17\n\nmap spid=17 to 10.9.0.18",
                "cmds:3: spid 17 is already mapped (by line 1); add 'replace' to change it",
            ),
            ("unmap spid=313", "cmds:1: spid 313 is not mapped"),
            ("unmap spid=9\nunmap spid=9", "cmds:2: spid 9 is not mapped"),
            ("flush\nunmap spid=305", "cmds:2: spid 305 is not mapped"),
        ] {
            assert_eq!(
                apply("cmds", current(), &batch(text)).unwrap_err(),
                want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn refusal_names_the_line() {
        let origins = [
            Origin::Line(1),
            Origin::Line(3),
            Origin::Kept {
                key: Key::Spid(305),
            },
            Origin::Line(12),
        ];
        for (extack, want) in [
            (
                "entry 2: policy 305 selects src 10.20.30.2/32, not 10.99.0.1",
                Some("x.conf:3: policy 305 selects src 10.20.30.2/32, not 10.99.0.1"),
            ),
            (
                "entry 1: spid 9 appears more than once",
                Some("x.conf:1: spid 9 appears more than once"),
            ),
            ("entry 4: a: b", Some("x.conf:12: a: b")),
            (
                "entry 3: no such thing",
                Some("x.conf: the mapping of spid 305, kept from the current set: no such thing"),
            ),
            // Not an entry of the request, or not about one.
            ("entry 0: x", None),
            ("entry 5: x", None),
            ("entry 99999999999999999999999: x", None),
            ("entry +2: x", None),
            ("entry : x", None),
            ("entry 2 x", None),
            (
                "namespace at its limit of 65536 mappings (param max_mappings)",
                None,
            ),
            ("the entry 2: x", None),
        ] {
            assert_eq!(
                locate_refusal("x.conf", extack, &origins).as_deref(),
                want,
                "{extack}"
            );
        }
    }

    #[test]
    fn restore_entries_are_sent_in_file_order() {
        // Entry N of the request is the N-th mapping line of the file, so
        // the kernel's "entry N" finds its line.
        let text =
            "map spid=313 to 10.1.1.3\n# c\n\nmap spid=9 to 10.9.0.9\nmap spid=305 to 10.20.30.2\n";
        let parsed = parse_restore("x.conf", text.as_bytes()).unwrap();
        let (lines, mappings): (Vec<usize>, Vec<Mapping>) = parsed.into_iter().unzip();
        let b = Request::MapSet { mappings }.encode(30, 1);
        let keys: Vec<Key> = nlas::<MapAttr>(&b[20..])
            .unwrap()
            .iter()
            .map(|nest| {
                let MapAttr::Mapping(inner) = nest else {
                    panic!("not a mapping: {nest:?}")
                };
                ReportedMapping::from_attrs(inner).unwrap().mapping.key
            })
            .collect();
        assert_eq!(keys, [Key::Spid(313), Key::Spid(9), Key::Spid(305)]);
        let origins: Vec<Origin> = lines.into_iter().map(Origin::Line).collect();
        assert_eq!(
            locate_refusal("x.conf", "entry 2: refused", &origins).unwrap(),
            "x.conf:4: refused"
        );
        assert_eq!(map_attr::MAPPING, 11);
    }

    fn attrs_of(b: &[u8]) -> Vec<MapAttr> {
        nlas(b).unwrap()
    }

    /// The mapping as the kernel reports the one it was given: its own
    /// attributes, decoded as a reply.
    fn reported(m: &Mapping) -> ReportedMapping {
        let msg = Request::MapSet {
            mappings: vec![m.clone()],
        }
        .msg();
        let MapAttr::Mapping(inner) = &msg.attrs[0] else {
            panic!("not a mapping: {:?}", msg.attrs[0])
        };
        ReportedMapping::from_attrs(inner).unwrap()
    }

    /// The mapping of the words of a `map` line.
    fn map_line(words: &str) -> Mapping {
        let words: Vec<String> = words.split_whitespace().map(String::from).collect();
        cli::parse_mapping(&words).unwrap().0
    }

    fn sample_maps() -> Vec<ReportedMapping> {
        let drop = ReportedMapping::from_attrs(&attrs_of(&sample_mapping_attrs())).unwrap();
        let hold = ReportedMapping::from_attrs(&attrs_of(&sample_hold_mapping_attrs())).unwrap();
        let eagain = reported(&with_pending(mapping(9, "10.9.0.9"), pending_mode::EAGAIN));
        let lan = reported(&map_line(
            "reqid=7 from 192.168.1.0/24 to 10.20.30.0/24 pending eagain",
        ));
        let lan6 = reported(&map_line(
            "reqid=3 from fd00:1::/64 inbound to fd00:2::/64 pending hold hold-packets 20",
        ));
        let host = reported(&map_line(
            "inbound reqid=12 from 192.168.1.7 to 10.20.30.7 pending drop",
        ));
        // A daemon's mapping, named after its IKE child.
        let reqid = reported(&map_line("reqid=2 to 10.20.30.2 pending drop name home/net"));
        // Twice NAT, the words in another order than save's.
        let twice = reported(&map_line(
            "zone 11 reqid=21 remote 10.99.1.0/24 from 192.168.1.0/24 inbound \
             to 10.20.31.0/24 is 192.168.1.0/24",
        ));
        let twice6 = reported(&map_line(
            "reqid=22 to 2001:db8::22 is fd00:1::5 remote fd00:99::5 pending drop",
        ));
        // As a dump would give them, but not sorted.
        vec![lan, hold, twice6, reqid, eagain, host, lan6, drop, twice]
    }

    #[test]
    fn save_format() {
        let text = format_save(&sample_maps()).unwrap();
        assert_eq!(
            text,
            "# xnatctl save\n\
             map spid=9 to 10.9.0.9 pending eagain\n\
             map spid=305 to 10.20.30.2 pending drop\n\
             map spid=313 to 2001:db8::2 pending hold hold-packets 500 hold-bytes 1048576\n\
             map reqid=2 name home/net to 10.20.30.2 pending drop\n\
             map reqid=3 from fd00:1::/64 to fd00:2::/64 inbound pending hold hold-packets 20\n\
             map reqid=7 from 192.168.1.0/24 to 10.20.30.0/24 pending eagain\n\
             map reqid=12 from 192.168.1.7 to 10.20.30.7 inbound pending drop\n\
             map reqid=21 from 192.168.1.0/24 to 10.20.31.0/24 \
             remote 10.99.1.0/24 is 192.168.1.0/24 zone 11 inbound\n\
             map reqid=22 to 2001:db8::22 remote fd00:99::5 is fd00:1::5 pending drop\n"
        );
        assert_eq!(format_save(&[]).unwrap(), "# xnatctl save\n");
        // Hold limits only in hold mode, whatever the kernel reports.
        let odd = reported(&Mapping {
            hold_packets: Some(5),
            hold_bytes: Some(6),
            ..with_pending(mapping(17, "10.9.0.17"), pending_mode::DROP)
        });
        assert_eq!(
            format_save(std::slice::from_ref(&odd)).unwrap(),
            "# xnatctl save\nmap spid=17 to 10.9.0.17 pending drop\n"
        );
        let mut unknown = odd;
        unknown.mapping.pending = Some(7);
        assert_eq!(
            format_save(std::slice::from_ref(&unknown)).unwrap_err(),
            "spid 17 has pending mode 7, which this xnatctl does not know"
        );
        let mut bare = unknown;
        bare.mapping.target = None;
        assert_eq!(
            format_save(&[bare]).unwrap_err(),
            "the kernel reported spid 17 without an address"
        );
    }

    #[test]
    fn save_then_restore_is_the_identity() {
        let maps = sample_maps();
        let text = format_save(&maps).unwrap();
        let restored = parse_restore("saved.conf", text.as_bytes()).unwrap();
        let mut want: Vec<Mapping> = maps.into_iter().map(|r| r.mapping).collect();
        want.sort_by_key(|m| m.key);
        let got: Vec<Mapping> = restored.iter().map(|(_, m)| m.clone()).collect();
        assert_eq!(got, want);
        // The lines are 2 to 10 (after the header).
        assert_eq!(
            restored.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6, 7, 8, 9, 10]
        );
        // And the mappings the kernel would then report save the same text.
        let again: Vec<ReportedMapping> = got.iter().map(reported).collect();
        assert_eq!(format_save(&again).unwrap(), text);
    }

    #[test]
    fn names_of_files() {
        assert_eq!(display_name("-"), "<stdin>");
        assert_eq!(display_name("/etc/xfrm-nat.conf"), "/etc/xfrm-nat.conf");
    }
}
