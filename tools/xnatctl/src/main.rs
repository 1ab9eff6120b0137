//! xnatctl: configure the xfrm_nat kernel module over generic netlink.
//!
//!     xnatctl map spid=N|reqid=N [from PREFIX] to ADDR|PREFIX
//!                 [pending eagain|drop|hold] [hold-packets N]
//!                 [hold-bytes N] [replace]
//!     xnatctl unmap spid=N|reqid=N
//!     xnatctl [-j] show [spid=N|reqid=N]
//!     xnatctl flush
//!     xnatctl [-j] monitor [count N]
//!     xnatctl save
//!     xnatctl restore [FILE]
//!     xnatctl -f FILE
//!     xnatctl completion bash|zsh|fish
//!
//! Options anywhere: -j (JSON), -p (JSON pretty-printed), -t (monitor:
//! timestamps), -n NETNS (in the network namespace /run/netns/NETNS).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{CommandFactory, Parser, Subcommand};

// The numbers of the family, generated from the netlink spec.
#[path = "../../../module/logic/src/uapi.rs"]
#[allow(dead_code)]
mod uapi;

mod batch;
mod cli;
mod error;
mod netns;
mod nl;
mod output;
mod proto;

use batch::Origin;
use cli::{Command, Options};
use error::Error;
use proto::{Event, MapEntry, Mapping, Request};

const MAP_USAGE: &str = "xnatctl map spid=N|reqid=N [from PREFIX] to ADDR|PREFIX \
                         [pending eagain|drop|hold] [hold-packets N] [hold-bytes N] [replace]";
const UNMAP_USAGE: &str = "xnatctl unmap spid=N|reqid=N";
const SHOW_USAGE: &str = "xnatctl [-j [-p]] show [spid=N|reqid=N]";
const FLUSH_USAGE: &str = "xnatctl flush";
const MONITOR_USAGE: &str = "xnatctl [-j [-p]] [-t] monitor [count N]";
const SAVE_USAGE: &str = "xnatctl save";
const RESTORE_USAGE: &str = "xnatctl restore [FILE]";
const COMPLETION_USAGE: &str = "xnatctl completion bash|zsh|fish";
const USAGE: &str = "xnatctl [-n NETNS] [-j [-p]] [-t] <COMMAND> [WORDS]...\n       \
                     xnatctl [-n NETNS] -f FILE\n       \
                     xnatctl completion bash|zsh|fish";

const AFTER_HELP: &str = "\
Keywords take their value after '=' or as the next word (spid=305 or spid 305).
A mapping is named by a policy index (spid=N, as 'ip xfrm policy' prints it)
or by a reqid (reqid=N: every out policy with a template of that reqid, as the
IKE daemon re-adds them under new indexes). 'from PREFIX to PREFIX' maps a
source prefix 1:1 into another of the same length, host part kept (NETMAP).
While the policy's SA is being negotiated, a new flow is refused with EAGAIN
(pending eagain, the default), silently dropped (pending drop), or queued
until the SA is installed (pending hold; at most hold-packets packets, default
100, and hold-bytes bytes of packet memory, default 262144).

Examples:
  xnatctl map spid=305 to 10.20.30.2
  xnatctl map reqid=7 to 10.20.30.2
  xnatctl map spid=305 to 2001:db8::2 replace
  xnatctl map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24
  xnatctl map spid=305 to 10.20.30.2 pending drop replace
  xnatctl map spid=305 to 10.20.30.2 pending hold hold-packets 500
  xnatctl show
  xnatctl -j show spid 305
  xnatctl -n lab -j -p show
  xnatctl unmap reqid=7
  xnatctl monitor
  xnatctl -t monitor
  xnatctl save >/etc/xfrm-nat.conf
  xnatctl restore /etc/xfrm-nat.conf
  xnatctl -f changes.txt
  xnatctl completion bash >/usr/share/bash-completion/completions/xnatctl

save prints the mappings as lines 'map spid=N|reqid=N [from PREFIX] to
ADDR|PREFIX pending MODE [hold-packets N hold-bytes N]'; restore makes the
mappings of such a file (blank lines and # comments allowed) the namespace's
whole set, and -f applies a file of map, unmap and flush lines; both in one
request, which the kernel applies whole or not at all.";

/// The words after a subcommand, taken as they come (the grammar is
/// `cli`'s, which tells mistakes better than clap could), with the
/// subcommand's keywords as possible values: the completion scripts offer
/// them, and nothing checks a word against them.
#[derive(Clone)]
struct Words(&'static str);

impl clap::builder::TypedValueParser for Words {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            cli::completion_words(self.0)
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "xnatctl",
    version,
    about = "Source-NAT new outgoing flows into IPsec (xfrm) policies",
    override_usage = USAGE,
    arg_required_else_help = true,
    after_help = AFTER_HELP
)]
struct Args {
    /// Print JSON instead of a table (show) or text lines (monitor)
    #[arg(short = 'j', long = "json", global = true)]
    json: bool,

    /// Pretty-print the JSON of -j (without -j: no effect)
    #[arg(short = 'p', long = "pretty", global = true)]
    pretty: bool,

    /// monitor: begin each event with the time it was printed
    #[arg(short = 't', long = "timestamp", global = true)]
    timestamp: bool,

    /// Work in the network namespace NETNS (/run/netns/NETNS), as ip -n
    // Not global: a subcommand's -n would silently replace this one;
    // among a subcommand's words, cli::split_options takes it.
    #[arg(short = 'n', long = "netns", value_name = "NETNS")]
    netns: Option<String>,

    /// Apply the map, unmap and flush lines of FILE ('-': standard input) in one request, all or none
    #[arg(short = 'f', long = "file", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    file: Option<String>,

    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// SNAT new flows that the key's out policies would carry once their source is translated
    ///
    /// The key is a policy index (spid=N) or a reqid (reqid=N: every out policy
    /// with a template of that reqid, followed as the IKE daemon re-adds them).
    /// `to ADDR` translates any source to ADDR; `from PREFIX to PREFIX`
    /// translates a source prefix 1:1 into another of the same length, each host
    /// keeping its host part.
    ///
    /// While the policy's SA is being negotiated, a new flow is refused with EAGAIN
    /// (pending eagain, the default), silently dropped (pending drop), or queued
    /// and sent once the SA is installed (pending hold).  The hold queue takes at
    /// most hold-packets packets (1-10000, default 100) and hold-bytes bytes of
    /// packet memory (1-16777216, default 262144); both only with pending hold.
    #[command(override_usage = MAP_USAGE)]
    Map {
        #[arg(
            value_name = "WORDS",
            allow_hyphen_values = true,
            value_parser = Words("map"),
            hide_possible_values = true
        )]
        words: Vec<String>,
    },
    /// Delete the mapping of a policy index or a reqid
    #[command(override_usage = UNMAP_USAGE)]
    Unmap {
        #[arg(
            value_name = "WORDS",
            allow_hyphen_values = true,
            value_parser = Words("unmap"),
            hide_possible_values = true
        )]
        words: Vec<String>,
    },
    /// List the mappings (all, or the one of a key), their state, bound policies and counters
    #[command(override_usage = SHOW_USAGE, alias = "list")]
    Show {
        #[arg(
            value_name = "WORDS",
            allow_hyphen_values = true,
            value_parser = Words("show"),
            hide_possible_values = true
        )]
        words: Vec<String>,
    },
    /// Delete all mappings of the network namespace
    #[command(override_usage = FLUSH_USAGE)]
    Flush {
        #[arg(value_name = "WORDS", allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Print a line per mapping event (map, unmap, sa) until interrupted, or after N events
    ///
    /// `map KEY TARGET STATE [policies N,...] pending MODE [hold-packets N
    /// hold-bytes N] [selector SELECTOR] [reason "..."]` when a mapping is
    /// created, replaced, activated or deactivated (KEY `spid N` or `reqid N`,
    /// TARGET `to ADDR` or `from PREFIX to PREFIX`); `unmap KEY` when it is
    /// deleted; `sa pending spid N` when the SA of bound policy N is being
    /// negotiated (ACQUIRE sent) and `sa established spid N` when it was
    /// installed.  With -j, one JSON object per line.
    #[command(override_usage = MONITOR_USAGE)]
    Monitor {
        #[arg(
            value_name = "WORDS",
            allow_hyphen_values = true,
            value_parser = Words("monitor"),
            hide_possible_values = true
        )]
        words: Vec<String>,
    },
    /// Print the mappings as a file that restore reads back
    ///
    /// A first line `# xnatctl save`, then one line per mapping, spid
    /// mappings first, each sorted by number: `map spid=N|reqid=N [from
    /// PREFIX] to ADDR|PREFIX pending MODE`, followed for pending hold by
    /// `hold-packets N hold-bytes N`.  `xnatctl save | xnatctl restore`
    /// changes nothing.
    #[command(override_usage = SAVE_USAGE)]
    Save {
        #[arg(value_name = "WORDS", allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Make the mappings of FILE (default and '-': standard input) the namespace's whole set
    ///
    /// FILE has a `map spid=N|reqid=N [from PREFIX] to ADDR|PREFIX [pending
    /// MODE] [hold-packets N] [hold-bytes N]` line per mapping (as save
    /// prints them; no `replace`, each key once), blank lines and comments from a word starting with
    /// `#` to the end of the line.  The whole file is checked first; a
    /// mistake is told as FILE:LINE and nothing is sent.  Then one request
    /// replaces the set: the kernel checks every mapping and applies all or
    /// none, and the packet path sees the old set or the new one, never a
    /// mix.  A mapping left as it was keeps its counters and hold queue.
    /// An empty file empties the set.
    #[command(override_usage = RESTORE_USAGE)]
    Restore {
        #[arg(
            value_name = "WORDS",
            allow_hyphen_values = true,
            value_hint = clap::ValueHint::FilePath
        )]
        words: Vec<String>,
    },
    /// Print the completion script of SHELL (bash, zsh or fish)
    ///
    /// Needs neither the module nor privileges, e.g.
    /// `xnatctl completion bash >/usr/share/bash-completion/completions/xnatctl`,
    /// `xnatctl completion zsh >/usr/share/zsh/vendor-completions/_xnatctl`,
    /// `xnatctl completion fish >/usr/share/fish/vendor_completions.d/xnatctl.fish`.
    #[command(override_usage = COMPLETION_USAGE)]
    Completion {
        #[arg(value_enum, value_name = "SHELL")]
        shell: cli::Shell,
    },
}

impl Sub {
    /// The subcommand's name (not an alias).
    fn name(&self) -> &'static str {
        match self {
            Sub::Map { .. } => "map",
            Sub::Unmap { .. } => "unmap",
            Sub::Show { .. } => "show",
            Sub::Flush { .. } => "flush",
            Sub::Monitor { .. } => "monitor",
            Sub::Save { .. } => "save",
            Sub::Restore { .. } => "restore",
            Sub::Completion { .. } => "completion",
        }
    }

    /// The words after the subcommand, as clap collected them: all of them
    /// once the first is in, options included (see `cli::split_options`).
    fn words(&self) -> &[String] {
        match self {
            Sub::Map { words }
            | Sub::Unmap { words }
            | Sub::Show { words }
            | Sub::Flush { words }
            | Sub::Monitor { words }
            | Sub::Save { words }
            | Sub::Restore { words } => words,
            Sub::Completion { .. } => &[],
        }
    }

    fn usage(&self) -> &'static str {
        match self {
            Sub::Map { .. } => MAP_USAGE,
            Sub::Unmap { .. } => UNMAP_USAGE,
            Sub::Show { .. } => SHOW_USAGE,
            Sub::Flush { .. } => FLUSH_USAGE,
            Sub::Monitor { .. } => MONITOR_USAGE,
            Sub::Save { .. } => SAVE_USAGE,
            Sub::Restore { .. } => RESTORE_USAGE,
            Sub::Completion { .. } => COMPLETION_USAGE,
        }
    }

    /// The command of `words` (the subcommand's words without options).
    fn command(&self, words: &[String]) -> Result<Command, cli::UsageError> {
        match self {
            Sub::Map { .. } => cli::parse_map(words),
            Sub::Unmap { .. } => cli::parse_unmap(words),
            Sub::Show { .. } => cli::parse_show(words),
            Sub::Flush { .. } => cli::parse_flush(words),
            Sub::Monitor { .. } => cli::parse_monitor(words),
            Sub::Save { .. } => cli::parse_save(words),
            Sub::Restore { .. } => cli::parse_restore(words),
            Sub::Completion { shell } => Ok(Command::Completion { shell: *shell }),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
enum Parsed {
    /// Run the command with these options (`help` not set).
    Run(Command, Options),
    /// A mistake in the subcommand's words, and the subcommand's usage line.
    Usage(cli::UsageError, &'static str),
    /// clap's own answer: help, the version, or a mistake clap found.
    Clap(clap::Error),
}

/// A clap error with every piece of user input it quotes shortened as
/// `cli::shown` does, and without tips that quote a long one.
fn shorten_clap_error(mut e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let context: Vec<(ContextKind, ContextValue)> =
        e.context().map(|(k, v)| (k, v.clone())).collect();
    for (kind, value) in context {
        let value = match value {
            ContextValue::String(s) => ContextValue::String(cli::shown(&s).into_owned()),
            ContextValue::Strings(v) => {
                ContextValue::Strings(v.iter().map(|s| cli::shown(s).into_owned()).collect())
            }
            // "to pass '-x' as a value, use '-- -x'" and the like.
            ContextValue::StyledStrs(v) if kind == ContextKind::Suggested => {
                ContextValue::StyledStrs(
                    v.into_iter()
                        .filter(|tip| tip.to_string().chars().count() <= 2 * cli::SHOWN_MAX)
                        .collect(),
                )
            }
            _ => continue,
        };
        e.insert(kind, value);
    }
    e
}

/// Parses the command line (`argv`, the program's name first).
fn parse_args(argv: impl IntoIterator<Item = OsString>) -> Parsed {
    let argv: Vec<OsString> = argv.into_iter().collect();
    let args = match Args::try_parse_from(&argv) {
        Ok(args) => args,
        Err(e) => return Parsed::Clap(shorten_clap_error(e)),
    };
    let given = Options {
        json: args.json,
        pretty: args.pretty,
        timestamp: args.timestamp,
        netns: args.netns,
        help: false,
    };
    let command = match (args.command, args.file) {
        (None, Some(file)) => return checked(Command::Batch { file }, Ok(given), USAGE),
        (Some(command), None) => command,
        (Some(command), Some(_)) => {
            return Parsed::Clap(Args::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "'-f FILE' takes no command ('{}'): the commands are the lines of FILE",
                    command.name()
                ),
            ))
        }
        (None, None) => {
            return Parsed::Clap(Args::command().error(
                clap::error::ErrorKind::MissingSubcommand,
                "a command, or '-f FILE', is required",
            ))
        }
    };
    let (words, opts) = match cli::split_options(command.words()) {
        Ok(split) => split,
        Err(e) => return Parsed::Usage(e, command.usage()),
    };
    if opts.help {
        // The subcommand's help, as `xnatctl SUB --help` prints it.
        let program = argv.first().cloned().unwrap_or_else(|| "xnatctl".into());
        let help = [program, command.name().into(), "--help".into()];
        return match Args::try_parse_from(help) {
            Err(e) => Parsed::Clap(e),
            Ok(_) => unreachable!("--help parses as a request for help"),
        };
    }
    match command.command(&words) {
        Ok(cmd) => checked(cmd, given.merge(opts), command.usage()),
        Err(e) => Parsed::Usage(e, command.usage()),
    }
}

/// `cmd` to run with `opts`, once the options are found right.
fn checked(cmd: Command, opts: Result<Options, cli::UsageError>, usage: &'static str) -> Parsed {
    let opts = match opts {
        Ok(opts) => opts,
        Err(e) => return Parsed::Usage(e, usage),
    };
    match opts.netns.as_deref().map(cli::check_netns) {
        Some(Err(e)) => Parsed::Usage(e, usage),
        _ => Parsed::Run(cmd, opts),
    }
}

fn mappings(msgs: Vec<proto::XnatMsg>) -> Result<Vec<Mapping>, Error> {
    let mut maps = msgs
        .iter()
        .map(|m| Mapping::from_attrs(&m.attrs))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("bad mapping from the kernel: {e}"))?;
    maps.sort_by_key(|m| m.key);
    Ok(maps)
}

/// SIGINT and SIGTERM end `monitor` with status 0.  Every line is flushed
/// as it is printed, so there is nothing left to write.
fn exit_on_signals() {
    extern "C" fn leave(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(0) }
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only calls _exit.
        unsafe {
            libc::signal(
                sig,
                leave as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

/// Write `text` to standard output and flush it.
fn print_out(text: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text).and_then(|()| out.flush())
}

fn print_error(e: std::io::Error) -> Error {
    anyhow!(e).context("cannot print").into()
}

/// JSON text, or why it cannot be made.
fn json_text(text: serde_json::Result<String>) -> Result<String, Error> {
    text.map_err(|e| anyhow!(e).context("cannot write JSON").into())
}

/// Print the events of the `events` group, one line each (with `-j -p`, a
/// pretty-printed object each), until interrupted or until `count` of them
/// have been printed; with `-t`, each stamped with the time.
fn monitor(conn: &mut nl::Conn, count: Option<u64>, opts: &Options) -> Result<(), Error> {
    conn.subscribe(uapi::MCGRP_EVENTS)?;
    exit_on_signals();
    let style = json_style(opts);
    let mut printed = 0u64;
    loop {
        for ev in conn.recv_events()? {
            let ev: Event = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    eprintln!("xnatctl: warning: skipped an event that cannot be decoded: {e}");
                    continue;
                }
            };
            let now = opts.timestamp.then(output::LocalTime::now);
            let line = match (style, now) {
                (Some(style), now) => json_text(output::format_event_json(
                    &ev,
                    now.map(|t| t.rfc3339()).as_deref(),
                    style,
                ))?,
                (None, Some(now)) => {
                    format!(
                        "[{}] {}",
                        now.text(),
                        output::format_event(&ev, output::ifname)
                    )
                }
                (None, None) => output::format_event(&ev, output::ifname),
            };
            match print_out(line.as_bytes()) {
                Ok(()) => {}
                // The reader is gone (`xnatctl monitor | head -1`).
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(print_error(e)),
            }
            printed += 1;
            if count == Some(printed) {
                return Ok(());
            }
        }
    }
}

/// The JSON style of `-j` (and `-p`); None without `-j`.
fn json_style(opts: &Options) -> Option<output::JsonStyle> {
    match (opts.json, opts.pretty) {
        (false, _) => None,
        (true, false) => Some(output::JsonStyle::Compact),
        (true, true) => Some(output::JsonStyle::Pretty),
    }
}

/// A socket of the xfrm_nat family, in the namespace of `-n` if given.
fn open(opts: &Options) -> Result<nl::Conn, Error> {
    if let Some(name) = &opts.netns {
        netns::enter(name)?;
    }
    nl::Conn::open()
}

/// `completion SHELL`: the script on standard output.  No socket, no
/// namespace: it runs without the module and without privileges.
fn completion(shell: cli::Shell) -> Result<(), Error> {
    let mut script = Vec::new();
    // clap_complete panics if it cannot write: write to memory first.
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut Args::command(),
        "xnatctl",
        &mut script,
    );
    if shell == cli::Shell::Fish {
        script.extend_from_slice(fish_keywords(&Args::command()).as_bytes());
    }
    print_out(&script).map_err(print_error)
}

/// clap_complete's fish script completes no positional argument, so the
/// keywords that bash and zsh get from `Words` are added for fish here,
/// one line per subcommand that has some, with the script's own test of
/// the subcommand.
fn fish_keywords(cmd: &clap::Command) -> String {
    let mut out = String::new();
    for sub in cmd.get_subcommands() {
        let words: Vec<String> = sub
            .get_positionals()
            .flat_map(|arg| arg.get_possible_values())
            .map(|value| value.get_name().to_string())
            .collect();
        if words.is_empty() {
            continue;
        }
        let names: Vec<&str> = std::iter::once(sub.get_name())
            .chain(sub.get_all_aliases())
            .collect();
        out.push_str(&format!(
            "complete -c xnatctl -n \"__fish_xnatctl_using_subcommand {}\" -f -a \"{}\"\n",
            names.join(" "),
            words.join(" ")
        ));
    }
    out
}

/// The bytes of `file` ('-': standard input).
fn read_input(file: &str) -> Result<Vec<u8>, Error> {
    let read = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(file)
    };
    read.map_err(|e| {
        let why = error::io_strerror(&e);
        anyhow!("cannot read {}: {why}", batch::display_name(file)).into()
    })
}

/// The namespace's mappings as entries that recreate them.
fn current_entries(conn: &mut nl::Conn) -> Result<Vec<MapEntry>, Error> {
    mappings(conn.dump_snapshot()?)?
        .iter()
        .map(MapEntry::from_mapping)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!(e).into())
}

/// Replace the namespace's set by `entries` in one map-set request; a
/// refused entry is told at its `origins` in the file `name`.
fn set_all(
    conn: &mut nl::Conn,
    name: &str,
    entries: Vec<MapEntry>,
    origins: &[Origin],
) -> Result<(), Error> {
    match conn.request(&Request::MapSet { entries }) {
        Ok(_) => Ok(()),
        Err(Error::Kernel {
            errno,
            extack: Some(msg),
        }) => Err(Error::Kernel {
            errno,
            extack: Some(batch::locate_refusal(name, &msg, origins).unwrap_or(msg)),
        }),
        Err(e) => Err(e),
    }
}

/// `restore FILE`: parse all of it, then one map-set.
fn restore(file: &str, opts: &Options) -> Result<(), Error> {
    let name = batch::display_name(file);
    let parsed = batch::parse_restore(name, &read_input(file)?)?;
    let (lines, entries): (Vec<usize>, Vec<MapEntry>) = parsed.into_iter().unzip();
    let origins: Vec<Origin> = lines.into_iter().map(Origin::Line).collect();
    let mut conn = open(opts)?;
    set_all(&mut conn, name, entries, &origins)
}

/// `-f FILE`: parse all of it, apply it to the current set, then one
/// map-set.  Another writer may change the set between the dump and the
/// map-set; its change is then lost.
fn apply_batch(file: &str, opts: &Options) -> Result<(), Error> {
    let name = batch::display_name(file);
    let cmds = batch::parse_batch(name, &read_input(file)?)?;
    let mut conn = open(opts)?;
    if cmds.is_empty() {
        return Ok(());
    }
    let current = current_entries(&mut conn)?;
    let set = batch::apply(name, current, &cmds).map_err(Error::Refused)?;
    let (origins, entries): (Vec<Origin>, Vec<MapEntry>) = set.into_iter().unzip();
    set_all(&mut conn, name, entries, &origins)
}

fn run(cmd: &Command, opts: &Options) -> Result<(), Error> {
    match cmd {
        Command::Restore { file } => return restore(file, opts),
        Command::Batch { file } => return apply_batch(file, opts),
        Command::Completion { shell } => return completion(*shell),
        _ => {}
    }
    let mut conn = open(opts)?;
    match cmd {
        Command::Map { entry, replace } => {
            conn.request(&Request::MapNew {
                entry: entry.clone(),
                replace: *replace,
            })?;
        }
        Command::Unmap { key } => {
            conn.request(&Request::MapDel { key: *key })?;
        }
        Command::Flush => {
            conn.request(&Request::Flush)?;
        }
        Command::Show { key } => {
            let req = match key {
                Some(key) => Request::MapGet { key: *key },
                None => Request::MapDump,
            };
            let maps = mappings(conn.request(&req)?)?;
            let text = match json_style(opts) {
                Some(style) => json_text(output::format_json(&maps, style))?,
                None => output::format_table(&maps, output::ifname),
            };
            print_out(text.as_bytes()).map_err(print_error)?;
        }
        Command::Monitor { count } => monitor(&mut conn, *count, opts)?,
        Command::Save => {
            let maps = mappings(conn.dump_snapshot()?)?;
            let text = batch::format_save(&maps).map_err(|e| anyhow!(e))?;
            print_out(text.as_bytes()).map_err(print_error)?;
        }
        Command::Restore { .. } | Command::Batch { .. } | Command::Completion { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let (cmd, opts) = match parse_args(std::env::args_os()) {
        Parsed::Run(cmd, opts) => (cmd, opts),
        Parsed::Usage(e, usage) => {
            eprintln!("xnatctl: {e}\nusage: {usage}");
            return ExitCode::from(Error::Usage(e).exit_code());
        }
        Parsed::Clap(e) => e.exit(),
    };
    match run(&cmd, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xnatctl: {}", e.message(&cmd));
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Key;

    fn parse(args: &str) -> Parsed {
        parse_args(
            std::iter::once("xnatctl")
                .chain(args.split_whitespace())
                .map(OsString::from),
        )
    }

    #[test]
    fn map_help_states_the_specs_hold_bounds() {
        // The help is a doc comment, which cannot name the constants.
        use uapi::map_checks::*;
        let mut cmd = Args::command();
        let help = cmd
            .find_subcommand_mut("map")
            .expect("map")
            .render_long_help()
            .to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for bounds in [
            format!("hold-packets packets ({HOLD_PACKETS_MIN}-{HOLD_PACKETS_MAX}, default"),
            format!("packet memory ({HOLD_BYTES_MIN}-{HOLD_BYTES_MAX}, default"),
        ] {
            assert!(help.contains(&bounds), "{bounds:?} not in {help}");
        }
    }

    fn usage_error(args: &str) -> (String, &'static str) {
        match parse(args) {
            Parsed::Usage(e, usage) => (e.0, usage),
            other => panic!("{args}: expected a usage error, got {other:?}"),
        }
    }

    fn clap_error(argv: &[&str]) -> clap::Error {
        match parse_args(argv.iter().map(OsString::from)) {
            Parsed::Clap(e) => e,
            other => panic!("{argv:?}: expected clap's answer, got {other:?}"),
        }
    }

    #[test]
    fn hyphen_values_reach_the_grammar() {
        assert_eq!(
            usage_error("map spid -1 to 10.20.30.2"),
            ("spid -1 is out of range (0-4294967295)".into(), MAP_USAGE)
        );
        assert_eq!(
            usage_error("monitor count -5"),
            (
                "count -5 is out of range (1-18446744073709551615)".into(),
                MONITOR_USAGE
            )
        );
        assert_eq!(
            usage_error("map spid=305 to 10.20.30.2 pending hold hold-bytes -1"),
            (
                "hold-bytes -1 is out of range (1-16777216)".into(),
                MAP_USAGE
            )
        );
        assert_eq!(
            usage_error("unmap -1").0,
            "unknown keyword '-1' for 'unmap' (expected: spid, reqid)"
        );
        assert_eq!(
            usage_error("map spid 305 to 1.2.3.4 --replace").0,
            "unknown keyword '--replace' for 'map' \
             (expected: spid, reqid, from, to, pending, hold-packets, hold-bytes, replace)"
        );
        assert_eq!(
            usage_error("flush -x").0,
            "unknown keyword '-x': 'flush' takes no arguments"
        );
    }

    #[test]
    fn options_still_work_among_the_words() {
        let show = |spid: Option<u32>| Command::Show {
            key: spid.map(Key::Spid),
        };
        for (args, json) in [
            ("show", false),
            ("-j show", true),
            ("show -j", true),
            ("--json show spid 305", true),
            ("show spid 305 -j", true),
            ("show spid=305 --json", true),
            ("show -j spid 305", true),
            ("list spid 305 -j", true),
        ] {
            let want = if args.contains("305") {
                show(Some(305))
            } else {
                show(None)
            };
            match parse(args) {
                Parsed::Run(cmd, opts) => assert_eq!((cmd, opts.json), (want, json), "{args}"),
                other => panic!("{args}: {other:?}"),
            }
        }
        // '--' ends the options; clap's tip "use '-- -1'" still works.
        match parse("unmap spid -- +313") {
            Parsed::Run(cmd, opts) if opts == Options::default() => {
                assert_eq!(
                    cmd,
                    Command::Unmap {
                        key: Key::Spid(313)
                    }
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            usage_error("show spid 305 -- -j").0,
            "unknown keyword '-j' for 'show' (expected: spid, reqid)"
        );
        for args in [
            "map --help",
            "map -h",
            "map spid 305 --help",
            "map spid -1 -h",
            "list spid 9 --help",
        ] {
            let e = match parse(args) {
                Parsed::Clap(e) => e,
                other => panic!("{args}: {other:?}"),
            };
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{args}");
            let want = if args.starts_with("map") {
                MAP_USAGE
            } else {
                SHOW_USAGE
            };
            assert!(
                e.to_string().contains(&format!("Usage: {want}")),
                "{args}: {e}"
            );
        }
    }

    #[test]
    fn save_restore_and_file() {
        let run = |args: &str| match parse(args) {
            Parsed::Run(cmd, _) => cmd,
            other => panic!("{args}: {other:?}"),
        };
        assert_eq!(run("save"), Command::Save);
        assert_eq!(run("restore"), Command::Restore { file: "-".into() });
        assert_eq!(run("restore -"), Command::Restore { file: "-".into() });
        assert_eq!(
            run("restore /etc/xfrm-nat.conf"),
            Command::Restore {
                file: "/etc/xfrm-nat.conf".into()
            }
        );
        // A file whose name starts with '-' needs a directory ('-j' is
        // the option).
        assert_eq!(
            run("restore ./-j"),
            Command::Restore {
                file: "./-j".into()
            }
        );
        assert!(matches!(
            parse("restore -j"),
            Parsed::Run(Command::Restore { file }, Options { json: true, .. }) if file == "-"
        ));
        for args in ["-f cmds", "--file cmds", "--file=cmds", "-j -f cmds"] {
            assert_eq!(
                run(args),
                Command::Batch {
                    file: "cmds".into()
                },
                "{args}"
            );
        }
        assert_eq!(run("-f -"), Command::Batch { file: "-".into() });
        assert_eq!(
            usage_error("save now"),
            (
                "unknown keyword 'now': 'save' takes no arguments".into(),
                SAVE_USAGE
            )
        );
        assert_eq!(
            usage_error("restore a b"),
            (
                "unexpected argument 'b': 'restore' takes one FILE".into(),
                RESTORE_USAGE
            )
        );
        let e = clap_error(&["xnatctl", "-f", "cmds", "show"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(
            e.to_string().contains(
                "'-f FILE' takes no command ('show'): the commands are the lines of FILE"
            ),
            "{e}"
        );
        let e = clap_error(&["xnatctl", "-j"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingSubcommand);
        assert!(e
            .to_string()
            .contains("a command, or '-f FILE', is required"));
        let e = clap_error(&["xnatctl"]);
        assert_eq!(
            e.kind(),
            clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        let e = clap_error(&["xnatctl", "-f"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        for args in ["restore --help", "restore x.conf -h"] {
            let e = clap_error(
                &std::iter::once("xnatctl")
                    .chain(args.split_whitespace())
                    .collect::<Vec<_>>(),
            );
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
            assert!(
                e.to_string().contains("Usage: xnatctl restore [FILE]"),
                "{e}"
            );
        }
    }

    fn run(args: &str) -> (Command, Options) {
        match parse(args) {
            Parsed::Run(cmd, opts) => (cmd, opts),
            other => panic!("{args}: {other:?}"),
        }
    }

    #[test]
    fn pretty_timestamp_and_netns() {
        let monitor = Command::Monitor { count: Some(2) };
        let all = Options {
            json: true,
            pretty: true,
            timestamp: true,
            netns: Some("lab".into()),
            help: false,
        };
        for args in [
            "-j -p -t -n lab monitor count 2",
            "--json --pretty --timestamp --netns lab monitor count 2",
            "-jpt --netns=lab monitor count 2",
            "-n lab monitor -j count 2 -p -t",
            "-j monitor -t count 2 -n lab -p",
            "monitor count 2 --netns=lab --pretty -t --json",
        ] {
            assert_eq!(run(args), (monitor.clone(), all.clone()), "{args}");
        }
        // Each alone; -p and -t are taken with any command (-p only
        // matters with -j, -t only to monitor, as with ip).
        let (cmd, opts) = run("-p show");
        assert_eq!(cmd, Command::Show { key: None });
        assert_eq!((opts.json, opts.pretty), (false, true));
        assert!(run("show spid 305 -t").1.timestamp);
        let (cmd, opts) = run("-n lab map spid 305 to 10.20.30.2");
        assert!(matches!(cmd, Command::Map { entry, .. } if entry.key == Key::Spid(305)));
        assert_eq!(opts.netns.as_deref(), Some("lab"));
        assert_eq!(
            run("-n lab -f cmds"),
            (
                Command::Batch {
                    file: "cmds".into()
                },
                Options {
                    netns: Some("lab".into()),
                    ..Options::default()
                }
            )
        );
        assert_eq!(run("restore x.conf -n lab").1.netns.as_deref(), Some("lab"));

        // Mistakes with -n, before anything is sent.
        assert_eq!(
            usage_error("-n lab show -n other"),
            ("'-n NETNS' given more than once".into(), SHOW_USAGE)
        );
        assert_eq!(
            usage_error("show -n"),
            ("missing value for '-n' (NETNS)".into(), SHOW_USAGE)
        );
        assert_eq!(
            usage_error("-n a/b flush").0,
            "'a/b' is not a network namespace name \
             (a name in /run/netns, as 'ip netns list' prints it)"
        );
        assert_eq!(
            usage_error("-n .. -f cmds"),
            (
                "'..' is not a network namespace name \
                 (a name in /run/netns, as 'ip netns list' prints it)"
                    .into(),
                USAGE
            )
        );
        let e = clap_error(&["xnatctl", "-n"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{e}");
    }

    #[test]
    fn completion_command() {
        for (shell, want) in [
            ("bash", cli::Shell::Bash),
            ("zsh", cli::Shell::Zsh),
            ("fish", cli::Shell::Fish),
        ] {
            assert_eq!(
                run(&format!("completion {shell}")).0,
                Command::Completion { shell: want }
            );
            // Options are taken, and ignored: no socket, no namespace.
            assert_eq!(
                run(&format!("-n lab completion {shell} -j")).0,
                Command::Completion { shell: want }
            );
        }
        let e = clap_error(&["xnatctl", "completion"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let e = clap_error(&["xnatctl", "completion", "tcsh"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(
            e.to_string().contains("[possible values: bash, zsh, fish]"),
            "{e}"
        );
        let e = clap_error(&["xnatctl", "completion", "bash", "zsh"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        let e = clap_error(&["xnatctl", "completion", "--help"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(e.to_string().contains(COMPLETION_USAGE), "{e}");
    }

    #[test]
    fn clap_errors_quote_long_input_shortened() {
        let long = "a".repeat(100_000);
        let short = format!("{}... (100000 characters)", "a".repeat(cli::SHOWN_MAX));
        let e = clap_error(&["xnatctl", &long]);
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
        let text = e.to_string();
        assert!(
            text.contains(&format!("unrecognized subcommand '{short}'")),
            "{text}"
        );
        assert!(text.len() < 400, "{text}");

        let opt = format!("--{long}");
        let e = clap_error(&["xnatctl", &opt, "show"]);
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        let text = e.to_string();
        let short = format!(
            "--{}... (100002 characters)",
            "a".repeat(cli::SHOWN_MAX - 2)
        );
        assert!(
            text.contains(&format!("unexpected argument '{short}'")),
            "{text}"
        );
        assert!(text.len() < 400, "{text}");

        // Short input is left as clap quotes it.
        let text = clap_error(&["xnatctl", "bogus"]).to_string();
        assert!(text.contains("unrecognized subcommand 'bogus'"), "{text}");
        let text = clap_error(&["xnatctl", "-j", "--bogus", "show"]).to_string();
        assert!(text.contains("unexpected argument '--bogus'"), "{text}");

        // The grammar's errors are shortened by the grammar.
        let (text, _) = usage_error(&format!("map spid 305 to {long}"));
        assert!(text.len() < 200, "{text}");
    }
}
