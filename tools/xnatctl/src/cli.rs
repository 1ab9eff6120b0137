//! The keyword grammar of xnatctl's commands
//! (`spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX [remote ALIAS
//! is PREFIX [zone N]] [inbound] [pending eagain|drop|hold] [hold-packets N]
//! [hold-bytes N] [replace]`).
//!
//! `args` hands over the words after the subcommand, even those starting
//! with '-' (`spid -1`), without the options among them.  They are parsed
//! `ip`-style: each keyword takes its value either glued with `=`
//! (`spid=305`) or as the next word (`spid 305`).  Messages quote user
//! input through [`shown`], which shortens long input.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use crate::proto::{Key, Mapping, Prefix, Remote, Target, PENDING_MODES};
use crate::uapi::{map_checks, pending_mode};

/// What the user asked for, validated, before any netlink is spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Map {
        mapping: Mapping,
        replace: bool,
    },
    Unmap {
        key: Key,
    },
    Show {
        key: Option<Key>,
    },
    Flush,
    /// Print mapping events; end after `count` of them if given.
    Monitor {
        count: Option<u64>,
    },
    /// Print the mappings as a restore file.
    Save,
    /// Make the mappings of the restore file `file` ("-": standard input)
    /// the namespace's whole set.
    Restore {
        file: String,
    },
    /// Apply the commands of the batch file `file` ("-": standard input)
    /// to the namespace's set at once (`-f FILE`).
    Batch {
        file: String,
    },
    /// Print the completion script of `shell`; no socket, no namespace.
    Completion {
        shell: Shell,
    },
    /// Keep the child-keyed mappings bound to strongSwan's children.
    Daemon(crate::daemon::Settings),
    /// libreswan's updown hook.
    Updown(crate::updown::Settings),
}

/// The shells `xnatctl completion` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl From<Shell> for clap_complete::Shell {
    fn from(shell: Shell) -> Self {
        match shell {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// A mistake in the command line; nothing was sent to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// The most characters of one piece of user input that a message quotes.
pub const SHOWN_MAX: usize = 64;

/// `input` as an error message quotes it: whole if it has at most
/// [`SHOWN_MAX`] characters, else its first [`SHOWN_MAX`] followed by
/// `... (N characters)`, so that a huge argument does not flood the
/// terminal.
pub fn shown(input: &str) -> Cow<'_, str> {
    match input.char_indices().nth(SHOWN_MAX) {
        None => Cow::Borrowed(input),
        Some((cut, _)) => Cow::Owned(format!(
            "{}... ({} characters)",
            &input[..cut],
            input.chars().count()
        )),
    }
}

/// Where `ip netns` keeps the named network namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// A name of `-n NETNS`: a file name in [`NETNS_RUN_DIR`], as `ip netns
/// add` takes them (not empty, no '/', not `.` or `..`).
pub fn check_netns(name: &str) -> Result<(), UsageError> {
    if name.is_empty() {
        return usage("missing value for '-n' (NETNS)");
    }
    if name.contains('/') || name == "." || name == ".." {
        return usage(format!(
            "'{}' is not a network namespace name (a name in {NETNS_RUN_DIR}, \
             as 'ip netns list' prints it)",
            shown(name)
        ));
    }
    Ok(())
}

/// Whether `digits` is a decimal fraction (`1.5`, `.5`, `5.`).
fn is_fraction(digits: &str) -> bool {
    match digits.split_once('.') {
        Some((int, frac)) => {
            !(int.is_empty() && frac.is_empty())
                && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The value of the numeric keyword `key`: a whole decimal number within
/// `min..=max`.  A mistake is told as what it is: not a number at all, a
/// number that is not whole, or a whole number out of range (negative or
/// too big for the field included).
fn number(key: &str, value: &str, min: u64, max: u64) -> Result<u64, UsageError> {
    let negative = value.starts_with('-');
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return if is_fraction(digits) {
            usage(format!("{key} {} is not a whole number", shown(value)))
        } else {
            usage(format!("{key} '{}' is not a number", shown(value)))
        };
    }
    let n = if negative {
        // -0 is 0; any other negative number is below every minimum.
        digits.bytes().all(|b| b == b'0').then_some(0)
    } else {
        // Only an overflow fails: the digits are checked.
        digits.parse::<u64>().ok()
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => usage(format!(
            "{key} {} is out of range ({min}-{max})",
            shown(value)
        )),
    }
}

/// A keyword of a command and whether it takes a value.
struct Keyword {
    name: &'static str,
    takes_value: bool,
}

impl Keyword {
    const fn valued(name: &'static str) -> Keyword {
        Keyword {
            name,
            takes_value: true,
        }
    }

    const fn flag(name: &'static str) -> Keyword {
        Keyword {
            name,
            takes_value: false,
        }
    }
}

const SPID: Keyword = Keyword::valued("spid");
const REQID: Keyword = Keyword::valued("reqid");
/// The IKE child's name the mapping is kept for; a daemon gives it.
const NAME: Keyword = Keyword::valued("name");
const FROM: Keyword = Keyword::valued("from");
const TO: Keyword = Keyword::valued("to");
const REPLACE: Keyword = Keyword::flag("replace");
/// The remote side may start flows towards `to` too.  Named for the
/// direction the flows come from, as `ip xfrm` calls the decrypting
/// policies and SAs `in`; a word of its own rather than a value of
/// another keyword, since it is a yes or no.
pub const INBOUND: &str = "inbound";
const INBOUND_KEYWORD: Keyword = Keyword::flag(INBOUND);
/// How local hosts address a remote prefix (twice NAT); `is` names the
/// prefix itself.  Two keywords rather than one `ALIAS=REAL` value, so
/// that each prefix follows the word that says which it is, in the
/// keyword-value style of the rest.
const REMOTE: Keyword = Keyword::valued("remote");
const IS: Keyword = Keyword::valued("is");
const ZONE: Keyword = Keyword::valued("zone");
const PENDING: Keyword = Keyword::valued("pending");
const HOLD_PACKETS: Keyword = Keyword::valued("hold-packets");
const HOLD_BYTES: Keyword = Keyword::valued("hold-bytes");
const COUNT: Keyword = Keyword::valued("count");

/// The keywords of each command that takes some, in the order messages
/// list them.
const MAP_KEYWORDS: [Keyword; 13] = [
    SPID,
    REQID,
    NAME,
    FROM,
    TO,
    REMOTE,
    IS,
    ZONE,
    INBOUND_KEYWORD,
    PENDING,
    HOLD_PACKETS,
    HOLD_BYTES,
    REPLACE,
];
const KEY_KEYWORDS: [Keyword; 2] = [SPID, REQID];
const MONITOR_KEYWORDS: [Keyword; 1] = [COUNT];

/// The words a shell may complete after `command`: its keywords, and the
/// values of those that take one of a few names.  Values are completed
/// among the keywords, since a static completion script cannot tell
/// which keyword came before.
pub fn completion_words(command: &str) -> Vec<&'static str> {
    let keywords: &[Keyword] = match command {
        "map" => &MAP_KEYWORDS,
        "unmap" | "show" => &KEY_KEYWORDS,
        "monitor" => &MONITOR_KEYWORDS,
        _ => &[],
    };
    let mut words: Vec<&'static str> = keywords.iter().map(|k| k.name).collect();
    if keywords.iter().any(|k| k.name == PENDING.name) {
        words.extend(PENDING_MODES.iter().map(|(name, _)| *name));
    }
    words
}

/// Split `words` into keyword -> value (empty for flag keywords).
fn parse_words(
    command: &str,
    words: &[String],
    keywords: &[Keyword],
) -> Result<HashMap<&'static str, String>, UsageError> {
    let mut seen = HashMap::new();
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let (key, glued) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word.as_str(), None),
        };
        let Some(kw) = keywords.iter().find(|k| k.name == key) else {
            let expected: Vec<&str> = keywords.iter().map(|k| k.name).collect();
            let key = shown(key);
            return usage(if expected.is_empty() {
                format!("unknown keyword '{key}': '{command}' takes no arguments")
            } else {
                format!(
                    "unknown keyword '{key}' for '{command}' (expected: {})",
                    expected.join(", ")
                )
            });
        };
        let value = match (kw.takes_value, glued) {
            (false, None) => String::new(),
            (false, Some(_)) => return usage(format!("'{key}' takes no value")),
            (true, Some(v)) => v.to_string(),
            (true, None) => it.next().cloned().unwrap_or_default(),
        };
        if kw.takes_value && value.is_empty() {
            return usage(format!("missing value for '{key}'"));
        }
        if seen.insert(kw.name, value).is_some() {
            return usage(format!("'{key}' given more than once"));
        }
    }
    Ok(seen)
}

/// Name of the direction encoded in the low 3 bits of an xfrm policy index:
/// XFRM_POLICY_IN/OUT/FWD, and the same + XFRM_POLICY_MAX for per-socket
/// policies.
pub fn policy_dir_name(spid: u32) -> &'static str {
    match spid & 7 {
        0 => "in",
        1 => "out",
        2 => "fwd",
        3 => "socket in",
        4 => "socket out",
        5 => "socket fwd",
        _ => "invalid",
    }
}

/// An xfrm policy index is any u32 (the kernel hands them out in steps of 8
/// and lets them wrap); only its direction bits are checked here.
fn parse_spid(value: &str) -> Result<u32, UsageError> {
    let spid = number(SPID.name, value, 0, u32::MAX.into())? as u32;
    if spid & 7 != 1 {
        return usage(format!(
            "spid {spid} is not an outbound policy index ({spid} & 7 = {}, {}); \
             only out policies (index & 7 == 1) can be mapped",
            spid & 7,
            policy_dir_name(spid)
        ));
    }
    Ok(spid)
}

/// reqid 0 is the kernel's wildcard: a template of reqid 0 matches an SA
/// of any reqid, so "the policies of reqid 0" names nothing useful.
pub const REQID_ZERO: &str = "reqid 0 means any to the kernel; pin a reqid in the IKE config";

fn parse_reqid(value: &str) -> Result<u32, UsageError> {
    match number(REQID.name, value, 1, u32::MAX.into()) {
        Ok(n) => Ok(n as u32),
        Err(_) if number(REQID.name, value, 0, 0).is_ok() => usage(REQID_ZERO),
        Err(e) => Err(e),
    }
}

/// The key of a command: exactly one of spid and reqid; none at all is
/// Ok(None), for `show` to list every mapping.
fn parse_key(kv: &HashMap<&'static str, String>) -> Result<Option<Key>, UsageError> {
    match (kv.get(SPID.name), kv.get(REQID.name)) {
        (Some(_), Some(_)) => usage(
            "'spid' and 'reqid' both given: a mapping is named by one key, \
             spid=N (a policy index) or reqid=N (the policies of a reqid)",
        ),
        (Some(v), None) => Ok(Some(Key::Spid(parse_spid(v)?))),
        (None, Some(v)) => Ok(Some(Key::Reqid(parse_reqid(v)?))),
        (None, None) => Ok(None),
    }
}

fn required_key(kv: &HashMap<&'static str, String>) -> Result<Key, UsageError> {
    match parse_key(kv)? {
        Some(key) => Ok(key),
        None => usage("missing 'spid=N' or 'reqid=N'"),
    }
}

/// `ADDR` or `ADDR/LEN`, the address as given (host bits included, for
/// the caller to judge); a missing length is the full one.
fn parse_prefix(value: &str) -> Result<Prefix, UsageError> {
    let (addr_text, len_text) = match value.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (value, None),
    };
    let Ok(addr) = addr_text.parse::<IpAddr>() else {
        return usage(match len_text {
            Some(_) => format!("'{}' is not an IPv4 or IPv6 prefix", shown(value)),
            None => format!("'{}' is not an IPv4 or IPv6 address", shown(value)),
        });
    };
    let full = Prefix::full_len(&addr);
    let len = match len_text {
        None => full,
        Some(len) => number("prefix length", len, 0, full.into())
            .map_err(|e| UsageError(format!("{}: {e}", shown(value))))? as u8,
    };
    let prefix = Prefix { addr, len };
    let network = prefix.network();
    if network != addr {
        return usage(format!(
            "{prefix} has host bits set; did you mean {}?",
            Prefix { addr: network, len }
        ));
    }
    Ok(prefix)
}

/// `[from PREFIX] to ADDR|PREFIX`, checked as the kernel would check it,
/// so that a mistake is told before anything is sent.
fn parse_target(kv: &HashMap<&'static str, String>) -> Result<Target, UsageError> {
    let to = parse_prefix(required(kv, TO.name, "to ADDR")?)?;
    if to.addr.is_unspecified() || to.addr.is_multicast() {
        return usage(format!("{} cannot be used as a source address", to.addr));
    }
    let Some(from) = kv.get(FROM.name).map(|v| parse_prefix(v)).transpose()? else {
        if !to.is_host() {
            return usage(format!(
                "to {to} is a prefix: name the source prefix it maps 1:1, \
                 'from PREFIX/{} to {to}'",
                to.len
            ));
        }
        return Ok(Target { to, from: None });
    };
    same_family((FROM.name, from), (TO.name, to))?;
    same_length((FROM.name, from), (TO.name, to), "a 1:1 mapping needs equal lengths")?;
    Ok(Target {
        to,
        from: Some(from),
    })
}

/// A prefix and the keyword that gave it, as messages quote them.
type Given<'a> = (&'a str, Prefix);

/// Refuses two prefixes of different families: the kernel translates an
/// address into one of its own family only.
fn same_family((a_word, a): Given, (b_word, b): Given) -> Result<(), UsageError> {
    let family = |p: &Prefix| if p.addr.is_ipv4() { "IPv4" } else { "IPv6" };
    if a.addr.is_ipv4() == b.addr.is_ipv4() {
        return Ok(());
    }
    usage(format!(
        "{a_word} {a} is {} and {b_word} {b} is {}; a mapping translates within one family",
        family(&a),
        family(&b)
    ))
}

/// Refuses two prefixes whose hosts cannot correspond one to one.
fn same_length(
    (a_word, a): Given,
    (b_word, b): Given,
    why: &str,
) -> Result<(), UsageError> {
    if a.len == b.len {
        return Ok(());
    }
    usage(format!(
        "{a_word} {a} and {b_word} {b} differ in prefix length; {why}"
    ))
}

/// `remote ALIAS is PREFIX`, both or neither, of `to`'s family and of
/// one length, as the kernel checks them; the rest (a policy that can
/// carry the prefix, aliases that overlap) only the kernel can judge.
fn parse_remote(
    kv: &HashMap<&'static str, String>,
    target: &Target,
) -> Result<Option<Remote>, UsageError> {
    let (alias, real) = match (kv.get(REMOTE.name), kv.get(IS.name)) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return usage(
                "'remote' needs 'is PREFIX': the remote prefix, as the policies \
                 name it, that local hosts address as the alias",
            )
        }
        (None, Some(_)) => {
            return usage(
                "'is' needs 'remote ALIAS': the prefix local hosts address \
                 the remote prefix by",
            )
        }
        (Some(alias), Some(real)) => (parse_prefix(alias)?, parse_prefix(real)?),
    };
    same_family((REMOTE.name, alias), (TO.name, target.to))?;
    same_family((IS.name, real), (TO.name, target.to))?;
    same_length(
        (REMOTE.name, alias),
        (IS.name, real),
        "the alias stands for the remote prefix host for host",
    )?;
    Ok(Some(Remote {
        alias: alias.addr,
        real: real.addr,
        len: alias.len,
    }))
}

/// `zone N`, 1-65535 (0 is the default zone, the same as none), only
/// beside a remote prefix, whose flows it holds.
fn parse_zone(
    kv: &HashMap<&'static str, String>,
    remote: Option<Remote>,
) -> Result<Option<u16>, UsageError> {
    let Some(value) = kv.get(ZONE.name) else {
        return Ok(None);
    };
    if remote.is_none() {
        return usage(
            "'zone' is only valid with 'remote ALIAS is PREFIX': it is the conntrack \
             zone of the flows with the remote prefix",
        );
    }
    let zone = number(ZONE.name, value, map_checks::ZONE_MIN.into(), u16::MAX.into())?;
    Ok(Some(zone as u16))
}

fn parse_pending(value: &str) -> Result<u8, UsageError> {
    match PENDING_MODES.iter().find(|(name, _)| *name == value) {
        Some((_, mode)) => Ok(*mode),
        None => {
            let names: Vec<&str> = PENDING_MODES.iter().map(|(name, _)| *name).collect();
            usage(format!(
                "unknown pending mode '{}' (expected: {})",
                shown(value),
                names.join(", ")
            ))
        }
    }
}

/// The hold limit `key` if given: only with pending hold, and a number
/// within 1..=max (the spec's bounds; the kernel checks them too).
/// A hold limit within `bounds`, the spec's checks of its attribute (the
/// kernel refuses others too).
fn hold_limit(
    kv: &HashMap<&'static str, String>,
    key: &str,
    bounds: (u32, u32),
    pending: Option<u8>,
) -> Result<Option<u32>, UsageError> {
    let Some(value) = kv.get(key) else {
        return Ok(None);
    };
    if pending != Some(pending_mode::HOLD) {
        return usage(format!("'{key}' is only valid with 'pending hold'"));
    }
    Ok(Some(
        number(key, value, bounds.0.into(), bounds.1.into())? as u32
    ))
}

fn required<'a>(
    kv: &'a HashMap<&'static str, String>,
    key: &str,
    form: &str,
) -> Result<&'a str, UsageError> {
    match kv.get(key) {
        Some(v) => Ok(v),
        None => usage(format!("missing '{form}'")),
    }
}

/// A mapping's name as the kernel takes it (`map_checks::NAME_MAX_LEN`
/// and the rest of its rules): 1 to 63 bytes, no white space or control
/// character (a name is one word of the grammar, printed as it is), and
/// not starting with `#` (which would start a comment in a restore file).
pub fn check_name(name: &str) -> Result<(), UsageError> {
    let max = usize::from(map_checks::NAME_MAX_LEN);
    if name.is_empty() || name.len() > max {
        return usage(format!(
            "name '{}' must have 1 to {max} bytes, not {}",
            shown(name),
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return usage(format!(
            "name '{}' has a space or control character",
            shown(name).escape_debug()
        ));
    }
    if name.starts_with('#') {
        return usage(format!("name '{}' starts with '#'", shown(name)));
    }
    Ok(())
}

/// `map spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX [remote
/// ALIAS is PREFIX [zone N]] [inbound] [pending eagain|drop|hold]
/// [hold-packets N] [hold-bytes N] [replace]`, the words in any order; the
/// hold limits only with `pending hold`,
/// inbound only with from, zone only with remote.
pub fn parse_map(words: &[String]) -> Result<Command, UsageError> {
    let (mapping, replace) = parse_mapping(words)?;
    Ok(Command::Map { mapping, replace })
}

/// The mapping of `map`'s words, and whether they say `replace`.
pub fn parse_mapping(words: &[String]) -> Result<(Mapping, bool), UsageError> {
    let kv = parse_words("map", words, &MAP_KEYWORDS)?;
    let key = required_key(&kv)?;
    let target = parse_target(&kv)?;
    let inbound = kv.contains_key(INBOUND);
    // The kernel's condition too: an inbound flow's destination in `to`
    // needs the one host of `from` it stands for.
    if inbound && target.from.is_none() {
        return usage(format!(
            "'{INBOUND}' is only valid with 'from PREFIX': it admits the remote \
             side's flows to the hosts of a 1:1 mapping"
        ));
    }
    let remote = parse_remote(&kv, &target)?;
    let zone = parse_zone(&kv, remote)?;
    let pending = kv.get("pending").map(|v| parse_pending(v)).transpose()?;
    let hold_packets = hold_limit(
        &kv,
        HOLD_PACKETS.name,
        (map_checks::HOLD_PACKETS_MIN, map_checks::HOLD_PACKETS_MAX),
        pending,
    )?;
    let hold_bytes = hold_limit(
        &kv,
        HOLD_BYTES.name,
        (map_checks::HOLD_BYTES_MIN, map_checks::HOLD_BYTES_MAX),
        pending,
    )?;
    let name = kv.get(NAME.name).cloned();
    if let Some(name) = &name {
        check_name(name)?;
    }
    let mapping = Mapping {
        key,
        target: Some(target),
        pending,
        hold_packets,
        hold_bytes,
        inbound,
        remote,
        zone,
        name,
    };
    Ok((mapping, kv.contains_key(REPLACE.name)))
}

/// `unmap spid=N|reqid=N`
pub fn parse_unmap(words: &[String]) -> Result<Command, UsageError> {
    Ok(Command::Unmap {
        key: parse_unmap_key(words)?,
    })
}

/// The key of `unmap`'s words.
pub fn parse_unmap_key(words: &[String]) -> Result<Key, UsageError> {
    required_key(&parse_words("unmap", words, &KEY_KEYWORDS)?)
}

/// `show [spid=N|reqid=N]`
pub fn parse_show(words: &[String]) -> Result<Command, UsageError> {
    let kv = parse_words("show", words, &KEY_KEYWORDS)?;
    Ok(Command::Show {
        key: parse_key(&kv)?,
    })
}

/// `flush`
pub fn parse_flush(words: &[String]) -> Result<Command, UsageError> {
    parse_words("flush", words, &[])?;
    Ok(Command::Flush)
}

/// `save`
pub fn parse_save(words: &[String]) -> Result<Command, UsageError> {
    parse_words("save", words, &[])?;
    Ok(Command::Save)
}

/// `restore [FILE]`; without FILE, or with `-`, standard input.
pub fn parse_restore(words: &[String]) -> Result<Command, UsageError> {
    match words {
        [] => Ok(Command::Restore { file: "-".into() }),
        [file] => Ok(Command::Restore { file: file.clone() }),
        [_, extra, ..] => usage(format!(
            "unexpected argument '{}': 'restore' takes one FILE",
            shown(extra)
        )),
    }
}

/// `monitor [count N]`, N >= 1.
pub fn parse_monitor(words: &[String]) -> Result<Command, UsageError> {
    let kv = parse_words("monitor", words, &MONITOR_KEYWORDS)?;
    let count = kv
        .get(COUNT.name)
        .map(|v| number(COUNT.name, v, 1, u64::MAX))
        .transpose()?;
    Ok(Command::Monitor { count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn err(r: Result<Command, UsageError>) -> String {
        r.expect_err("expected a usage error").0
    }

    #[test]
    fn map_forms() {
        let want = Command::Map {
            mapping: Mapping::new(Key::Spid(305), Target::addr("10.20.30.2")),
            replace: false,
        };
        assert_eq!(parse_map(&w("spid=305 to 10.20.30.2")).unwrap(), want);
        assert_eq!(parse_map(&w("spid 305 to 10.20.30.2")).unwrap(), want);
        assert_eq!(parse_map(&w("to 10.20.30.2 spid 305")).unwrap(), want);
        assert_eq!(parse_map(&w("spid=305 to=10.20.30.2")).unwrap(), want);
        assert_eq!(
            parse_map(&w("spid=305 to 2001:db8::2 replace")).unwrap(),
            Command::Map {
                mapping: Mapping::new(Key::Spid(305), Target::addr("2001:db8::2")),
                replace: true,
            }
        );
    }

    fn map_of(key: Key, target: Target) -> Command {
        Command::Map {
            mapping: Mapping::new(key, target),
            replace: false,
        }
    }

    fn prefix(addr: &str, len: u8) -> Prefix {
        Prefix {
            addr: addr.parse().unwrap(),
            len,
        }
    }

    #[test]
    fn map_name() {
        let want = Command::Map {
            mapping: Mapping {
                name: Some("home/net".into()),
                ..Mapping::new(Key::Reqid(3), Target::addr("10.3.0.1"))
            },
            replace: false,
        };
        for words in [
            "reqid=3 name home/net to 10.3.0.1",
            "reqid 3 to 10.3.0.1 name=home/net",
            "name home/net reqid=3 to 10.3.0.1",
        ] {
            assert_eq!(parse_map(&w(words)).unwrap(), want, "{words}");
        }
        // 63 bytes is the kernel's most; any non-space text, UTF-8 too.
        let longest = "c".repeat(63);
        for name in [longest.as_str(), "office-lan", "bureau/réseau", "a"] {
            let words = [w("reqid=3 to 10.3.0.1 name"), vec![name.to_string()]].concat();
            let Command::Map { mapping, .. } = parse_map(&words).unwrap() else {
                panic!("not a map")
            };
            assert_eq!(mapping.name.as_deref(), Some(name));
        }
        let too_long = "c".repeat(64);
        for (name, msg) in [
            (too_long.as_str(), format!("name '{too_long}' must have 1 to 63 bytes, not 64")),
            ("home net", "name 'home net' has a space or control character".into()),
            ("home\tnet", "name 'home\\tnet' has a space or control character".into()),
            ("a\0b", "name 'a\\0b' has a space or control character".into()),
            ("#net", "name '#net' starts with '#'".into()),
        ] {
            let words = [w("reqid=3 to 10.3.0.1 name"), vec![name.to_string()]].concat();
            assert_eq!(err(parse_map(&words)), msg, "{name:?}");
        }
        assert_eq!(
            err(parse_map(&w("reqid=3 to 10.3.0.1 name="))),
            "missing value for 'name'"
        );
        assert_eq!(
            err(parse_map(&w("reqid=3 name a to 10.3.0.1 name b"))),
            "'name' given more than once"
        );
        // A name is no key: unmap and show take none.
        assert_eq!(
            err(parse_unmap(&w("name home/net"))),
            "unknown keyword 'name' for 'unmap' (expected: spid, reqid)"
        );
    }

    #[test]
    fn map_reqid() {
        let want = map_of(Key::Reqid(7), Target::addr("10.20.30.2"));
        for words in [
            "reqid=7 to 10.20.30.2",
            "reqid 7 to 10.20.30.2",
            "to 10.20.30.2 reqid +7",
            "reqid=7 to 10.20.30.2/32",
        ] {
            assert_eq!(parse_map(&w(words)).unwrap(), want, "{words}");
        }
        assert_eq!(
            parse_map(&w("reqid=4294967295 to 10.20.30.2")).unwrap(),
            map_of(Key::Reqid(u32::MAX), Target::addr("10.20.30.2"))
        );
        // Any reqid but 0: no direction bits as in a policy index.
        assert_eq!(
            parse_unmap(&w("reqid 306")).unwrap(),
            Command::Unmap {
                key: Key::Reqid(306)
            }
        );
        assert_eq!(
            parse_show(&w("reqid=7")).unwrap(),
            Command::Show {
                key: Some(Key::Reqid(7))
            }
        );
        for r in [
            parse_map(&w("reqid=0 to 10.20.30.2")),
            parse_map(&w("reqid -0 to 10.20.30.2")),
            parse_unmap(&w("reqid 0")),
            parse_show(&w("reqid=0")),
        ] {
            assert_eq!(err(r), REQID_ZERO);
        }
        assert_eq!(
            REQID_ZERO,
            "reqid 0 means any to the kernel; pin a reqid in the IKE config"
        );
        for (words, want) in [
            ("reqid -1", "reqid -1 is out of range (1-4294967295)"),
            (
                "reqid 4294967296",
                "reqid 4294967296 is out of range (1-4294967295)",
            ),
            ("reqid x", "reqid 'x' is not a number"),
            ("reqid 7.0", "reqid 7.0 is not a whole number"),
            ("reqid", "missing value for 'reqid'"),
            ("reqid 7 reqid 8", "'reqid' given more than once"),
        ] {
            assert_eq!(err(parse_unmap(&w(words))), want, "{words}");
        }
        let both = "'spid' and 'reqid' both given: a mapping is named by one key, \
                    spid=N (a policy index) or reqid=N (the policies of a reqid)";
        assert_eq!(err(parse_map(&w("spid=305 reqid=7 to 10.20.30.2"))), both);
        assert_eq!(err(parse_unmap(&w("reqid 7 spid 305"))), both);
        assert_eq!(err(parse_show(&w("spid=305 reqid=7"))), both);
        assert_eq!(
            err(parse_map(&w("to 10.20.30.2"))),
            "missing 'spid=N' or 'reqid=N'"
        );
    }

    #[test]
    fn map_prefixes() {
        let netmap = |from, to| Target {
            to,
            from: Some(from),
        };
        assert_eq!(
            parse_map(&w("spid=305 from 192.168.1.0/24 to 10.20.30.0/24")).unwrap(),
            map_of(
                Key::Spid(305),
                netmap(prefix("192.168.1.0", 24), prefix("10.20.30.0", 24))
            )
        );
        assert_eq!(
            parse_map(&w("reqid 7 to=fd00:2::/64 from=fd00:1::/64")).unwrap(),
            map_of(
                Key::Reqid(7),
                netmap(prefix("fd00:1::", 64), prefix("fd00:2::", 64))
            )
        );
        // `from A`: the full length, so one host to one address.
        let host = map_of(
            Key::Reqid(7),
            netmap(prefix("192.168.1.7", 32), prefix("10.20.30.7", 32)),
        );
        for words in [
            "reqid 7 from 192.168.1.7 to 10.20.30.7",
            "reqid 7 from 192.168.1.7/32 to 10.20.30.7/32",
            "reqid 7 from 192.168.1.7 to 10.20.30.7/32",
        ] {
            assert_eq!(parse_map(&w(words)).unwrap(), host, "{words}");
        }
        // /0 is a prefix too, all of the family.
        assert_eq!(
            parse_map(&w("spid 305 from ::/0 to 2001:db8::/0")).map_err(|e| e.0),
            Err("2001:db8::/0 has host bits set; did you mean ::/0?".into())
        );
        // With the other keywords, in any order.
        let Command::Map { mapping, replace } = parse_map(&w(
            "pending hold from 192.168.1.0/24 replace spid 305 to 10.20.30.0/24 hold-packets 5",
        ))
        .unwrap() else {
            panic!("not a map command")
        };
        assert!(replace);
        assert_eq!(
            (mapping.pending, mapping.hold_packets),
            (Some(pending_mode::HOLD), Some(5))
        );
        assert_eq!(
            mapping.target.unwrap().to_string(),
            "from 192.168.1.0/24 to 10.20.30.0/24"
        );
    }

    /// `inbound`: a flag among map's keywords, in any place; only with
    /// `from`, as the kernel has it.
    #[test]
    fn map_inbound() {
        let want = Command::Map {
            mapping: Mapping {
                inbound: true,
                ..Mapping::new(Key::Reqid(7), crate::proto::tests::lan_target())
            },
            replace: false,
        };
        for words in [
            "reqid=7 from 192.168.1.0/24 to 10.20.30.0/24 inbound",
            "inbound reqid=7 from 192.168.1.0/24 to 10.20.30.0/24",
            "reqid=7 from 192.168.1.0/24 inbound to 10.20.30.0/24",
        ] {
            assert_eq!(parse_map(&w(words)).unwrap(), want, "{words}");
        }
        let Command::Map { mapping, replace } = parse_map(&w(
            "spid 305 inbound from 192.168.1.7 to 10.20.30.7 pending drop replace",
        ))
        .unwrap() else {
            panic!("not a map command")
        };
        assert!(mapping.inbound && replace);
        let (plain, _) = parse_mapping(&w("reqid=7 from 192.168.1.0/24 to 10.20.30.0/24")).unwrap();
        assert!(!plain.inbound);
        let without_from = "'inbound' is only valid with 'from PREFIX': it admits the remote \
                            side's flows to the hosts of a 1:1 mapping";
        for (words, want) in [
            ("spid=305 to 10.20.30.2 inbound", without_from),
            ("inbound reqid=7 to 10.20.30.2/32", without_from),
            (
                "spid=305 to 10.20.30.2 inbound=yes",
                "'inbound' takes no value",
            ),
            (
                "spid=305 from 192.168.1.7 to 10.20.30.2 inbound inbound",
                "'inbound' given more than once",
            ),
        ] {
            assert_eq!(err(parse_map(&w(words))), want, "{words}");
        }
    }

    /// `remote ALIAS is PREFIX [zone N]`: anywhere among map's words, a
    /// bare address a full-length prefix; refused incomplete, across
    /// families, of unequal lengths, and a zone without remote or out of
    /// 1-65535.
    #[test]
    fn map_remote() {
        let twice = |zone| Mapping {
            remote: Some(Remote {
                alias: "10.99.1.0".parse().unwrap(),
                real: "192.168.1.0".parse().unwrap(),
                len: 24,
            }),
            zone,
            ..Mapping::new(Key::Spid(305), crate::proto::tests::lan_target())
        };
        for words in [
            "spid=305 from 192.168.1.0/24 to 10.20.30.0/24 remote 10.99.1.0/24 is 192.168.1.0/24",
            "remote 10.99.1.0/24 spid=305 is=192.168.1.0/24 from 192.168.1.0/24 to 10.20.30.0/24",
            "is 192.168.1.0/24 from 192.168.1.0/24 remote=10.99.1.0/24 to 10.20.30.0/24 spid 305",
        ] {
            assert_eq!(parse_mapping(&w(words)).unwrap(), (twice(None), false), "{words}");
        }
        for words in [
            "spid=305 from 192.168.1.0/24 to 10.20.30.0/24 remote 10.99.1.0/24 is 192.168.1.0/24 \
             zone 11 replace",
            "zone=11 spid=305 replace from 192.168.1.0/24 to 10.20.30.0/24 \
             remote 10.99.1.0/24 is 192.168.1.0/24",
        ] {
            assert_eq!(parse_mapping(&w(words)).unwrap(), (twice(Some(11)), true), "{words}");
        }
        let (m, _) = parse_mapping(&w(
            "spid=305 from 192.168.1.0/24 to 10.20.30.0/24 inbound \
             remote 10.99.1.0/24 is 192.168.1.0/24 zone 65535",
        ))
        .unwrap();
        assert!(m.inbound && m.zone == Some(65535));
        // A bare address is one host, as for from and to.
        let (m, _) = parse_mapping(&w("spid=305 to 10.20.30.2 remote 10.99.1.5 is 192.168.1.5/32"))
            .unwrap();
        let want = Remote {
            alias: "10.99.1.5".parse().unwrap(),
            real: "192.168.1.5".parse().unwrap(),
            len: 32,
        };
        assert_eq!(m.remote, Some(want));
        let (m, _) =
            parse_mapping(&w("reqid 3 to 2001:db8::2 remote fd00:99::/64 is fd00:1::/64")).unwrap();
        assert_eq!(m.remote.map(|r| (r.real, r.len)), Some(("fd00:1::".parse().unwrap(), 64)));
        for (words, want) in [
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0/24",
                "'remote' needs 'is PREFIX': the remote prefix, as the policies name it, \
                 that local hosts address as the alias",
            ),
            (
                "spid=305 to 10.20.30.2 is 192.168.1.0/24",
                "'is' needs 'remote ALIAS': the prefix local hosts address the remote prefix by",
            ),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0/24 is 192.168.1.0/25",
                "remote 10.99.1.0/24 and is 192.168.1.0/25 differ in prefix length; \
                 the alias stands for the remote prefix host for host",
            ),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0 is 192.168.1.0/24",
                "remote 10.99.1.0/32 and is 192.168.1.0/24 differ in prefix length; \
                 the alias stands for the remote prefix host for host",
            ),
            (
                "spid=305 to 10.20.30.2 remote fd00:99::/64 is 192.168.1.0/24",
                "remote fd00:99::/64 is IPv6 and to 10.20.30.2/32 is IPv4; \
                 a mapping translates within one family",
            ),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0/24 is fd00:1::/64",
                "is fd00:1::/64 is IPv6 and to 10.20.30.2/32 is IPv4; \
                 a mapping translates within one family",
            ),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.1/24 is 192.168.1.0/24",
                "10.99.1.1/24 has host bits set; did you mean 10.99.1.0/24?",
            ),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0/24 is 192.168.1.0/24 zone 0",
                "zone 0 is out of range (1-65535)",
            ),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0/24 is 192.168.1.0/24 zone 65536",
                "zone 65536 is out of range (1-65535)",
            ),
            (
                "spid=305 to 10.20.30.2 zone 11",
                "'zone' is only valid with 'remote ALIAS is PREFIX': it is the conntrack \
                 zone of the flows with the remote prefix",
            ),
            ("spid=305 to 10.20.30.2 remote", "missing value for 'remote'"),
            (
                "spid=305 to 10.20.30.2 remote 10.99.1.0/24 is 192.168.1.0/24 remote 10.98.1.0/24",
                "'remote' given more than once",
            ),
        ] {
            assert_eq!(err(parse_map(&w(words))), want, "{words}");
        }
    }

    #[test]
    fn map_prefix_refusals() {
        for (words, want) in [
            (
                "reqid=7 from 192.168.1.0/24 to 10.20.30.0/25",
                "from 192.168.1.0/24 and to 10.20.30.0/25 differ in prefix length; \
                 a 1:1 mapping needs equal lengths",
            ),
            (
                "reqid=7 from 192.168.1.0/24 to 10.20.30.7",
                "from 192.168.1.0/24 and to 10.20.30.7/32 differ in prefix length; \
                 a 1:1 mapping needs equal lengths",
            ),
            (
                "reqid=7 from 192.168.1.0/24 to 10.20.30.5/24",
                "10.20.30.5/24 has host bits set; did you mean 10.20.30.0/24?",
            ),
            (
                "reqid=7 from 192.168.1.1/24 to 10.20.30.0/24",
                "192.168.1.1/24 has host bits set; did you mean 192.168.1.0/24?",
            ),
            (
                "reqid=7 from fd00:1::1/64 to fd00:2::/64",
                "fd00:1::1/64 has host bits set; did you mean fd00:1::/64?",
            ),
            (
                "reqid=7 from 192.168.1.0/24 to fd00::/24",
                "from 192.168.1.0/24 is IPv4 and to fd00::/24 is IPv6; \
                 a mapping translates within one family",
            ),
            (
                "reqid=7 from fd00:1::/64 to 10.20.30.0/24",
                "from fd00:1::/64 is IPv6 and to 10.20.30.0/24 is IPv4; \
                 a mapping translates within one family",
            ),
            (
                "spid=305 to 10.20.30.0/24",
                "to 10.20.30.0/24 is a prefix: name the source prefix it maps 1:1, \
                 'from PREFIX/24 to 10.20.30.0/24'",
            ),
            (
                "spid=305 to 10.20.30.2/33",
                "10.20.30.2/33: prefix length 33 is out of range (0-32)",
            ),
            (
                "spid=305 from fd00:1::/129 to fd00:2::/64",
                "fd00:1::/129: prefix length 129 is out of range (0-128)",
            ),
            (
                "spid=305 to 10.20.30.2/x",
                "10.20.30.2/x: prefix length 'x' is not a number",
            ),
            (
                "spid=305 to 10.20.30.2/",
                "10.20.30.2/: prefix length '' is not a number",
            ),
            (
                "spid=305 from 192.168.1/24 to 10.20.30.0/24",
                "'192.168.1/24' is not an IPv4 or IPv6 prefix",
            ),
            ("spid=305 from 192.168.1.0/24", "missing 'to ADDR'"),
            // The next word is the value, even if it is a keyword.
            (
                "spid=305 from to 10.20.30.2",
                "unknown keyword '10.20.30.2' for 'map' \
                 (expected: spid, reqid, name, from, to, remote, is, zone, inbound, pending, hold-packets, hold-bytes, replace)",
            ),
            (
                "spid=305 to 224.0.0.0/4 from 10.0.0.0/4",
                "224.0.0.0 cannot be used as a source address",
            ),
        ] {
            assert_eq!(err(parse_map(&w(words))), want, "{words}");
        }
        assert_eq!(
            err(parse_unmap(&w("reqid=7 from 192.168.1.0/24"))),
            "unknown keyword 'from' for 'unmap' (expected: spid, reqid)"
        );
    }

    #[test]
    fn completion_words_are_the_grammar() {
        assert_eq!(
            completion_words("map"),
            [
                "spid",
                "reqid",
                "name",
                "from",
                "to",
                "remote",
                "is",
                "zone",
                "inbound",
                "pending",
                "hold-packets",
                "hold-bytes",
                "replace",
                "eagain",
                "drop",
                "hold"
            ]
        );
        assert_eq!(completion_words("unmap"), ["spid", "reqid"]);
        assert_eq!(completion_words("show"), ["spid", "reqid"]);
        assert_eq!(completion_words("monitor"), ["count"]);
        assert!(completion_words("flush").is_empty());
    }

    #[test]
    fn map_pending() {
        use crate::uapi::pending_mode;
        let with = |replace, pending| Command::Map {
            mapping: Mapping {
                key: Key::Spid(305),
                target: Some(Target::addr("10.20.30.2")),
                pending: Some(pending),
                hold_packets: None,
                hold_bytes: None,
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
            replace,
        };
        let drop = with(false, pending_mode::DROP);
        let eagain = with(false, pending_mode::EAGAIN);
        for words in [
            "spid=305 to 10.20.30.2 pending drop",
            "spid=305 to 10.20.30.2 pending=drop",
            "pending drop spid 305 to 10.20.30.2",
            "spid=305 pending=drop to=10.20.30.2",
        ] {
            assert_eq!(parse_map(&w(words)).unwrap(), drop, "{words}");
        }
        assert_eq!(
            parse_map(&w("spid=305 to 10.20.30.2 pending eagain")).unwrap(),
            eagain
        );
        assert_eq!(
            parse_map(&w("spid=305 to 10.20.30.2 pending=eagain")).unwrap(),
            eagain
        );
        assert_eq!(
            parse_map(&w("spid=305 to 10.20.30.2 pending drop replace")).unwrap(),
            with(true, pending_mode::DROP)
        );
        assert_eq!(
            parse_map(&w("spid=305 to 10.20.30.2 replace pending eagain")).unwrap(),
            with(true, pending_mode::EAGAIN)
        );
    }

    #[test]
    fn map_pending_errors() {
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30.2 pending block"))),
            "unknown pending mode 'block' (expected: eagain, drop, hold)"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30.2 pending=DROP"))),
            "unknown pending mode 'DROP' (expected: eagain, drop, hold)"
        );
        // The next word is the value, even if it is a keyword.
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30.2 pending replace"))),
            "unknown pending mode 'replace' (expected: eagain, drop, hold)"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30.2 pending"))),
            "missing value for 'pending'"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30.2 pending="))),
            "missing value for 'pending'"
        );
        assert_eq!(
            err(parse_map(&w(
                "spid=305 to 1.2.3.4 pending drop pending=eagain"
            ))),
            "'pending' given more than once"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 pending drop"))),
            "missing 'to ADDR'"
        );
        assert_eq!(
            err(parse_unmap(&w("spid=305 pending drop"))),
            "unknown keyword 'pending' for 'unmap' (expected: spid, reqid)"
        );
    }

    #[test]
    fn map_hold() {
        let hold = |hold_packets, hold_bytes, replace| Command::Map {
            mapping: Mapping {
                key: Key::Spid(305),
                target: Some(Target::addr("10.20.30.2")),
                pending: Some(pending_mode::HOLD),
                hold_packets,
                hold_bytes,
                inbound: false,
                remote: None,
                zone: None,
                name: None,
            },
            replace,
        };
        assert_eq!(
            parse_map(&w("spid=305 to 10.20.30.2 pending hold")).unwrap(),
            hold(None, None, false)
        );
        for words in [
            "spid=305 to 10.20.30.2 pending hold hold-packets 500 hold-bytes 1048576",
            "spid=305 to 10.20.30.2 hold-bytes=1048576 hold-packets=500 pending=hold",
            "hold-packets 500 spid 305 pending hold to 10.20.30.2 hold-bytes 1048576",
        ] {
            assert_eq!(
                parse_map(&w(words)).unwrap(),
                hold(Some(500), Some(1048576), false),
                "{words}"
            );
        }
        assert_eq!(
            parse_map(&w(
                "spid=305 to 10.20.30.2 pending hold hold-packets 1 replace"
            ))
            .unwrap(),
            hold(Some(1), None, true)
        );
        // The bounds of the spec, inclusive.
        assert_eq!(
            parse_map(&w(
                "spid=305 to 10.20.30.2 pending hold hold-packets 10000 hold-bytes 16777216"
            ))
            .unwrap(),
            hold(Some(10000), Some(16777216), false)
        );
        assert_eq!(
            parse_map(&w("spid=305 to 10.20.30.2 pending hold hold-bytes 1")).unwrap(),
            hold(None, Some(1), false)
        );
    }

    #[test]
    fn map_hold_errors() {
        for (words, want) in [
            (
                "spid=305 to 10.20.30.2 hold-packets 500",
                "'hold-packets' is only valid with 'pending hold'",
            ),
            (
                "spid=305 to 10.20.30.2 pending drop hold-bytes 4096",
                "'hold-bytes' is only valid with 'pending hold'",
            ),
            (
                "spid=305 to 10.20.30.2 pending eagain hold-packets 0",
                "'hold-packets' is only valid with 'pending hold'",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-packets 0",
                "hold-packets 0 is out of range (1-10000)",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-packets 10001",
                "hold-packets 10001 is out of range (1-10000)",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-packets -1",
                "hold-packets -1 is out of range (1-10000)",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-packets 4294967296",
                "hold-packets 4294967296 is out of range (1-10000)",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-bytes 0",
                "hold-bytes 0 is out of range (1-16777216)",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-bytes 16777217",
                "hold-bytes 16777217 is out of range (1-16777216)",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-bytes 256KiB",
                "hold-bytes '256KiB' is not a number",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-packets",
                "missing value for 'hold-packets'",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-bytes=",
                "missing value for 'hold-bytes'",
            ),
            (
                "spid=305 to 10.20.30.2 pending hold hold-bytes 1 hold-bytes 2",
                "'hold-bytes' given more than once",
            ),
            (
                "spid=305 to 10.20.30.2 pending Hold",
                "unknown pending mode 'Hold' (expected: eagain, drop, hold)",
            ),
        ] {
            assert_eq!(err(parse_map(&w(words))), want, "{words}");
        }
        assert_eq!(
            err(parse_show(&w("hold-packets 5"))),
            "unknown keyword 'hold-packets' for 'show' (expected: spid, reqid)"
        );
    }

    #[test]
    fn map_errors() {
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30.2 bogus"))),
            "unknown keyword 'bogus' for 'map' \
             (expected: spid, reqid, name, from, to, remote, is, zone, inbound, pending, hold-packets, hold-bytes, replace)"
        );
        assert_eq!(err(parse_map(&w("spid=305 to"))), "missing value for 'to'");
        assert_eq!(
            err(parse_map(&w("spid= to 1.2.3.4"))),
            "missing value for 'spid'"
        );
        assert_eq!(
            err(parse_map(&w("to 1.2.3.4"))),
            "missing 'spid=N' or 'reqid=N'"
        );
        assert_eq!(err(parse_map(&w("spid 305"))), "missing 'to ADDR'");
        assert_eq!(
            err(parse_map(&w("spid=abc to 1.2.3.4"))),
            "spid 'abc' is not a number"
        );
        assert_eq!(
            err(parse_map(&w("spid=-1 to 1.2.3.4"))),
            "spid -1 is out of range (0-4294967295)"
        );
        assert_eq!(
            err(parse_map(&w("spid=4294967297 to 1.2.3.4"))),
            "spid 4294967297 is out of range (0-4294967295)"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 to 10.20.30"))),
            "'10.20.30' is not an IPv4 or IPv6 address"
        );
        // A full-length prefix is the address itself.
        assert_eq!(
            parse_map(&w("spid=305 to 10.0.0.1/32")).unwrap(),
            parse_map(&w("spid=305 to 10.0.0.1")).unwrap()
        );
        assert_eq!(
            err(parse_map(&w("spid=305 to 0.0.0.0"))),
            "0.0.0.0 cannot be used as a source address"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 to 1.2.3.4 replace=yes"))),
            "'replace' takes no value"
        );
        assert_eq!(
            err(parse_map(&w("spid=305 spid=313 to 1.2.3.4"))),
            "'spid' given more than once"
        );
    }

    #[test]
    fn numbers_out_of_range_are_numbers() {
        // Each numeric keyword: a number outside the field's bounds is out
        // of range, whatever its size or sign; only non-numbers are "not a
        // number".
        for (words, want) in [
            (
                "spid 4294967297 to 1.2.3.4",
                "spid 4294967297 is out of range (0-4294967295)",
            ),
            (
                "spid -1 to 1.2.3.4",
                "spid -1 is out of range (0-4294967295)",
            ),
            (
                "spid 99999999999999999999999999 to 1.2.3.4",
                "spid 99999999999999999999999999 is out of range (0-4294967295)",
            ),
            ("spid 30x5 to 1.2.3.4", "spid '30x5' is not a number"),
            ("spid - to 1.2.3.4", "spid '-' is not a number"),
            ("spid + to 1.2.3.4", "spid '+' is not a number"),
            ("spid . to 1.2.3.4", "spid '.' is not a number"),
            ("spid 1e3 to 1.2.3.4", "spid '1e3' is not a number"),
            ("spid 305.0 to 1.2.3.4", "spid 305.0 is not a whole number"),
            ("spid .5 to 1.2.3.4", "spid .5 is not a whole number"),
            (
                "spid=305 to 1.2.3.4 pending hold hold-packets 99999999999",
                "hold-packets 99999999999 is out of range (1-10000)",
            ),
            (
                "spid=305 to 1.2.3.4 pending hold hold-bytes -5",
                "hold-bytes -5 is out of range (1-16777216)",
            ),
            (
                "spid=305 to 1.2.3.4 pending hold hold-bytes 1.5",
                "hold-bytes 1.5 is not a whole number",
            ),
        ] {
            assert_eq!(err(parse_map(&w(words))), want, "{words}");
        }
        // The bounds themselves are in range: 0 and u32::MAX are policy
        // indexes (of other directions than out); -0 and +305 are numbers.
        assert!(err(parse_map(&w("spid 0 to 1.2.3.4"))).contains("(0 & 7 = 0, in)"));
        assert!(err(parse_map(&w("spid -0 to 1.2.3.4"))).contains("(0 & 7 = 0, in)"));
        assert!(err(parse_show(&w("spid 4294967295"))).contains("(4294967295 & 7 = 7, invalid)"));
        assert_eq!(
            parse_unmap(&w("spid +305")).unwrap(),
            Command::Unmap {
                key: Key::Spid(305)
            }
        );
        assert_eq!(
            parse_unmap(&w("spid 4294967289")).unwrap(),
            Command::Unmap {
                key: Key::Spid(4294967289)
            }
        );
        assert_eq!(
            err(parse_monitor(&w("count -18446744073709551616"))),
            "count -18446744073709551616 is out of range (1-18446744073709551615)"
        );
    }

    #[test]
    fn netns_names() {
        for name in ["lab", "a.b", "-x", "ns 1", "..."] {
            assert_eq!(check_netns(name), Ok(()), "{name}");
        }
        assert_eq!(
            check_netns("").unwrap_err().0,
            "missing value for '-n' (NETNS)"
        );
        for name in ["a/b", "/run/netns/lab", ".", ".."] {
            assert_eq!(
                check_netns(name).unwrap_err().0,
                format!(
                    "'{name}' is not a network namespace name \
                     (a name in /run/netns, as 'ip netns list' prints it)"
                )
            );
        }
        let long = "/".repeat(1000);
        assert!(check_netns(&long).unwrap_err().0.len() < 200);
    }

    #[test]
    fn long_input_is_shown_shortened() {
        assert_eq!(shown("abc"), "abc");
        let max = "x".repeat(SHOWN_MAX);
        assert_eq!(shown(&max), max);
        let long = format!(
            "{}{}",
            "a".repeat(SHOWN_MAX),
            "b".repeat(100_000 - SHOWN_MAX)
        );
        let short = format!("{}... (100000 characters)", "a".repeat(SHOWN_MAX));
        assert_eq!(shown(&long), short);
        // Characters, not bytes: no multi-byte character is cut.
        let wide = "\u{e9}".repeat(SHOWN_MAX + 1);
        assert_eq!(
            shown(&wide),
            format!(
                "{}... ({} characters)",
                "\u{e9}".repeat(SHOWN_MAX),
                SHOWN_MAX + 1
            )
        );
        // Every place that quotes a word of the command line.
        let digits = "7".repeat(100_000);
        let short_digits = format!("{}... (100000 characters)", "7".repeat(SHOWN_MAX));
        for (r, want) in [
            (
                parse_map(std::slice::from_ref(&long)),
                format!(
                    "unknown keyword '{short}' for 'map' \
                     (expected: spid, reqid, name, from, to, remote, is, zone, inbound, pending, hold-packets, hold-bytes, replace)"
                ),
            ),
            (
                parse_map(&[format!("{long}=1")]),
                format!(
                    "unknown keyword '{short}' for 'map' \
                     (expected: spid, reqid, name, from, to, remote, is, zone, inbound, pending, hold-packets, hold-bytes, replace)"
                ),
            ),
            (
                parse_flush(std::slice::from_ref(&long)),
                format!("unknown keyword '{short}': 'flush' takes no arguments"),
            ),
            (
                parse_map(
                    &w("to 1.2.3.4 spid")
                        .into_iter()
                        .chain([long.clone()])
                        .collect::<Vec<_>>(),
                ),
                format!("spid '{short}' is not a number"),
            ),
            (
                parse_show(&[format!("spid={digits}")]),
                format!("spid {short_digits} is out of range (0-4294967295)"),
            ),
            (
                parse_map(
                    &w("spid 305 to")
                        .into_iter()
                        .chain([long.clone()])
                        .collect::<Vec<_>>(),
                ),
                format!("'{short}' is not an IPv4 or IPv6 address"),
            ),
            (
                parse_map(
                    &w("spid 305 to 1.2.3.4 pending")
                        .into_iter()
                        .chain([long.clone()])
                        .collect::<Vec<_>>(),
                ),
                format!("unknown pending mode '{short}' (expected: eagain, drop, hold)"),
            ),
            (
                parse_map(
                    &w("spid 305 to 1.2.3.4 pending hold hold-bytes")
                        .into_iter()
                        .chain([digits.clone()])
                        .collect::<Vec<_>>(),
                ),
                format!("hold-bytes {short_digits} is out of range (1-16777216)"),
            ),
            (
                parse_monitor(&[format!("count={long}")]),
                format!("count '{short}' is not a number"),
            ),
        ] {
            let got = err(r);
            assert_eq!(got, want);
            assert!(got.len() < 256, "{got}");
        }
    }

    #[test]
    fn wrong_direction() {
        assert_eq!(
            err(parse_map(&w("spid=306 to 10.20.30.2"))),
            "spid 306 is not an outbound policy index (306 & 7 = 2, fwd); \
             only out policies (index & 7 == 1) can be mapped"
        );
        assert_eq!(
            err(parse_unmap(&w("spid 304"))),
            "spid 304 is not an outbound policy index (304 & 7 = 0, in); \
             only out policies (index & 7 == 1) can be mapped"
        );
        assert!(err(parse_show(&w("spid=308"))).contains("(308 & 7 = 4, socket out)"));
        assert_eq!(policy_dir_name(7), "invalid");
    }

    #[test]
    fn unmap_show_flush() {
        assert_eq!(
            parse_unmap(&w("spid=313")).unwrap(),
            Command::Unmap {
                key: Key::Spid(313)
            }
        );
        assert_eq!(
            parse_unmap(&w("spid 313")).unwrap(),
            Command::Unmap {
                key: Key::Spid(313)
            }
        );
        assert_eq!(err(parse_unmap(&[])), "missing 'spid=N' or 'reqid=N'");
        assert_eq!(
            err(parse_unmap(&w("spid=313 to 1.2.3.4"))),
            "unknown keyword 'to' for 'unmap' (expected: spid, reqid)"
        );
        assert_eq!(parse_show(&[]).unwrap(), Command::Show { key: None });
        assert_eq!(
            parse_show(&w("spid 9")).unwrap(),
            Command::Show {
                key: Some(Key::Spid(9))
            }
        );
        assert_eq!(err(parse_show(&w("spid"))), "missing value for 'spid'");
        assert_eq!(parse_flush(&[]).unwrap(), Command::Flush);
        assert_eq!(
            err(parse_flush(&w("all"))),
            "unknown keyword 'all': 'flush' takes no arguments"
        );
    }

    #[test]
    fn save_and_restore() {
        assert_eq!(parse_save(&[]).unwrap(), Command::Save);
        assert_eq!(
            err(parse_save(&w("/etc/xfrm-nat.conf"))),
            "unknown keyword '/etc/xfrm-nat.conf': 'save' takes no arguments"
        );
        let restore = |file: &str| Command::Restore { file: file.into() };
        assert_eq!(parse_restore(&[]).unwrap(), restore("-"));
        assert_eq!(parse_restore(&w("-")).unwrap(), restore("-"));
        assert_eq!(
            parse_restore(&w("/etc/xfrm-nat.conf")).unwrap(),
            restore("/etc/xfrm-nat.conf")
        );
        // Any one word is a file name, even one that looks like a keyword.
        assert_eq!(parse_restore(&w("spid=305")).unwrap(), restore("spid=305"));
        assert_eq!(
            err(parse_restore(&w("a.conf b.conf"))),
            "unexpected argument 'b.conf': 'restore' takes one FILE"
        );
    }

    #[test]
    fn monitor() {
        assert_eq!(
            parse_monitor(&[]).unwrap(),
            Command::Monitor { count: None }
        );
        for words in ["count 3", "count=3"] {
            assert_eq!(
                parse_monitor(&w(words)).unwrap(),
                Command::Monitor { count: Some(3) },
                "{words}"
            );
        }
        assert_eq!(
            parse_monitor(&w("count 18446744073709551615")).unwrap(),
            Command::Monitor {
                count: Some(u64::MAX)
            }
        );
        assert_eq!(err(parse_monitor(&w("count"))), "missing value for 'count'");
        assert_eq!(
            err(parse_monitor(&w("count="))),
            "missing value for 'count'"
        );
        for (bad, want) in [
            ("0", "count 0 is out of range (1-18446744073709551615)"),
            ("-1", "count -1 is out of range (1-18446744073709551615)"),
            ("x", "count 'x' is not a number"),
            ("1.5", "count 1.5 is not a whole number"),
            (
                "18446744073709551616",
                "count 18446744073709551616 is out of range (1-18446744073709551615)",
            ),
        ] {
            assert_eq!(err(parse_monitor(&w(&format!("count {bad}")))), want);
        }
        assert_eq!(
            err(parse_monitor(&w("count 1 count 2"))),
            "'count' given more than once"
        );
        assert_eq!(
            err(parse_monitor(&w("spid 305"))),
            "unknown keyword 'spid' for 'monitor' (expected: count)"
        );
        assert_eq!(
            err(parse_monitor(&w("all"))),
            "unknown keyword 'all' for 'monitor' (expected: count)"
        );
    }
}
