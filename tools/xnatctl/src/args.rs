//! The command line: clap's definition of the options and subcommands,
//! and how the words of a subcommand reach the grammar of `cli`.
//!
//! The options are defined once, in [`Options`]: clap takes them before the
//! subcommand, and [`split_options`] finds them among the subcommand's
//! words by the same definitions, for clap to parse them again.

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

use std::path::PathBuf;

use crate::cli::{self, Command};
use crate::{childconf, daemon, updown, vici};

const MAP_USAGE: &str = "xnatctl map spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX \
                         [remote ALIAS is PREFIX [zone N]] [inbound] [pending eagain|drop|hold] [hold-packets N] [hold-bytes N] [replace]";
const UNMAP_USAGE: &str = "xnatctl unmap spid=N|reqid=N";
const SHOW_USAGE: &str = "xnatctl [-j [-p]] [-s] show [spid=N|reqid=N]";
const FLUSH_USAGE: &str = "xnatctl flush";
const MONITOR_USAGE: &str = "xnatctl [-j [-p]] [-t] monitor [count N]";
const SAVE_USAGE: &str = "xnatctl save";
const RESTORE_USAGE: &str = "xnatctl restore [FILE]";
const COMPLETION_USAGE: &str = "xnatctl completion bash|zsh|fish";
const DAEMON_USAGE: &str = "xnatctl [-n NETNS] daemon [--config-dir DIR] [--vici PATH]";
const UPDOWN_USAGE: &str =
    "xnatctl [-n NETNS] updown [--config-dir DIR] [--chain SCRIPT [ARGS]...]";
const USAGE: &str = "xnatctl [-n NETNS] [-j [-p]] [-s] [-t] <COMMAND> [WORDS]...\n       \
                     xnatctl [-n NETNS] -f FILE\n       \
                     xnatctl completion bash|zsh|fish";

const AFTER_HELP: &str = "\
Keywords take their value after '=' or as the next word (spid=305 or spid 305).
A mapping is named by a policy index (spid=N, as 'ip xfrm policy' prints it)
or by a reqid (reqid=N: every out policy with a template of that reqid, as the
IKE daemon re-adds them under new indexes). 'from PREFIX to PREFIX' maps a
source prefix 1:1 into another of the same length, host part kept (NETMAP);
with 'inbound' the remote side may also open flows to the to prefix, through
the tunnel only, and they reach the same host part in from.
'remote ALIAS is PREFIX' (twice NAT) lets local hosts address a remote prefix
that overlaps their own as ALIAS: their flows to ALIAS go to the same host part
in PREFIX, sources mapped as usual; 'zone N' puts those flows in conntrack
zone N, so that two sites with the same LAN keep identical flows apart.
'name NAME' names the mapping after the IKE child it is kept for
(CONN/CHILD): a named map deletes the other mapping of that name, in the
same change, and one that the key's policies cannot carry is installed
inactive with a warning instead of refused.
While the policy's SA is being negotiated, a new flow is refused with EAGAIN
(pending eagain, the default), silently dropped (pending drop), or queued
until the SA is installed (pending hold; at most hold-packets packets, default
100, and hold-bytes bytes of packet memory, default 262144).

Examples:
  xnatctl map spid=305 to 10.20.30.2
  xnatctl map reqid=7 to 10.20.30.2
  xnatctl map reqid=7 name home/net to 10.20.30.2
  xnatctl map spid=305 to 2001:db8::2 replace
  xnatctl map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24
  xnatctl map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24 inbound replace
  xnatctl map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24 remote 10.99.1.0/24 is 192.168.1.0/24 zone 11 inbound
  xnatctl map spid=305 to 10.20.30.2 pending drop replace
  xnatctl map spid=305 to 10.20.30.2 pending hold hold-packets 500
  xnatctl show
  xnatctl -s show
  xnatctl -j show spid 305
  xnatctl -n lab -j -p show
  xnatctl unmap reqid=7
  xnatctl monitor
  xnatctl -t monitor
  xnatctl save >/etc/xfrm-nat.conf
  xnatctl restore /etc/xfrm-nat.conf
  xnatctl -f changes.txt
  xnatctl completion bash >/usr/share/bash-completion/completions/xnatctl

save prints the mappings as lines 'map spid=N|reqid=N [name NAME] [from
PREFIX] to ADDR|PREFIX [remote ALIAS is PREFIX] [zone N] [inbound] pending MODE
[hold-packets N hold-bytes N]'; restore makes the
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

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "xnatctl",
    version,
    about = "Source-NAT new outgoing flows into IPsec (xfrm) policies",
    override_usage = USAGE,
    arg_required_else_help = true,
    after_help = AFTER_HELP
)]
pub struct Args {
    #[command(flatten)]
    options: Options,

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
    /// keeping its host part.  `inbound` (with from only) also admits the flows
    /// the remote side starts towards the to prefix: one that arrived decrypted
    /// by an SA of a bound policy's reqid reaches the same host part in from,
    /// and its replies leave through the tunnel only; any other is dropped and
    /// counted (inbound-refused).
    ///
    /// `remote ALIAS is PREFIX` (twice NAT): local hosts address the remote
    /// prefix PREFIX, which may overlap their own LAN, as ALIAS (same family
    /// as to, same length).  Their flows to ALIAS get the same host part in
    /// PREFIX as destination before the route and policy lookup, and their
    /// source mapped as usual; with inbound, flows from PREFIX appear from
    /// ALIAS.  Such a mapping takes only flows to its alias.  `zone N`
    /// (1-65535, with remote only) is the conntrack zone of the flows with
    /// the remote prefix, for two sites with the same LAN behind one mapped
    /// prefix; a zone a raw-table rule set stands.
    ///
    /// `name NAME` (1-63 bytes, no white space, not starting with '#') names the
    /// mapping after the IKE child it is kept for (strongSwan's CONN/CHILD,
    /// libreswan's connection), as a daemon does.  A named map deletes the
    /// other mapping of that name in the same change (the child came back under
    /// another reqid); one whose key's policies exist but cannot carry it is
    /// installed inactive, its reason printed as a warning, instead of refused.
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
    /// List the mappings (all, or the one of a key): state, pending mode, bound policies, flows
    ///
    /// The ADDRESS column gives the target as map takes it, followed by the
    /// remote prefix, zone and `inbound` where the mapping has them.  With -s also each mapping's selector and
    /// counters, as ip -s; with -j everything, as JSON.
    #[command(override_usage = SHOW_USAGE)]
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
    /// `map KEY [name NAME] TARGET [remote ALIAS is PREFIX] [zone N] [inbound] STATE [policies N,...] pending MODE [hold-packets N
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
    /// PREFIX] to ADDR|PREFIX [remote ALIAS is PREFIX] [zone N] [inbound]
    /// pending MODE`, followed for pending hold by
    /// `hold-packets N hold-bytes N`.  `xnatctl save | xnatctl restore`
    /// changes nothing.
    #[command(override_usage = SAVE_USAGE)]
    Save {
        #[arg(value_name = "WORDS", allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Make the mappings of FILE (default and '-': standard input) the namespace's whole set
    ///
    /// FILE has a `map spid=N|reqid=N [from PREFIX] to ADDR|PREFIX [remote
    /// ALIAS is PREFIX] [zone N] [inbound] [pending MODE] [hold-packets N] [hold-bytes N]` line per mapping (as save
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
    /// Keep the mappings of /etc/xfrm-nat.d bound to strongSwan's children (vici)
    ///
    /// Runs until killed.  Each line `map child=CONN/CHILD WORDS` of the files
    /// DIR/*.conf (WORDS those of map after the key; `to vip` the virtual IP of
    /// the child's IKE SA) is mapped with the child's reqid, whatever charon
    /// assigned, and named CONN/CHILD: at start-up for the installed children
    /// and trap policies, then on each child-updown and child-rekey event.  A
    /// child going down keeps its mapping; a named mapping that no line names
    /// is deleted at start-up and on SIGHUP, which also reads the files again.
    /// If charon goes away, the daemon reconnects and reconciles; the mappings
    /// stay in the kernel meanwhile.  One log line per action on stderr.
    #[command(override_usage = DAEMON_USAGE)]
    Daemon {
        /// The directory of the *.conf files
        #[arg(long, value_name = "DIR", default_value = childconf::DEFAULT_DIR, value_hint = clap::ValueHint::DirPath)]
        config_dir: PathBuf,
        /// charon's vici socket
        #[arg(long, value_name = "PATH", default_value = vici::DEFAULT_SOCKET, value_hint = clap::ValueHint::FilePath)]
        vici: String,
    },
    /// libreswan's leftupdown= hook: map the connection's line of /etc/xfrm-nat.d
    ///
    /// Reads PLUTO_VERB, PLUTO_CONNECTION, PLUTO_SA_REQID, PLUTO_MY_SOURCEIP
    /// (`to vip`), PLUTO_MY_CLIENT and PLUTO_PEER_CLIENT.  On route-* and
    /// up-* verbs it maps the line `map child=CONN ...` of the connection
    /// (or of its template) with the connection's reqid, named after the
    /// connection; on down-* and unroute-* it keeps the mapping.  Then it
    /// runs the --chain script (libreswan's /usr/libexec/ipsec/_updown) with
    /// the same environment and ARGS; the first failure is the exit status.
    #[command(override_usage = UPDOWN_USAGE)]
    Updown {
        /// The directory of the *.conf files
        #[arg(long, value_name = "DIR", default_value = childconf::DEFAULT_DIR, value_hint = clap::ValueHint::DirPath)]
        config_dir: PathBuf,
        /// The updown script to run after, with the same environment
        #[arg(long, value_name = "SCRIPT", value_hint = clap::ValueHint::FilePath)]
        chain: Option<String>,
        /// The arguments of the chained script
        #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true, requires = "chain")]
        args: Vec<String>,
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
            Sub::Daemon { .. } => "daemon",
            Sub::Updown { .. } => "updown",
        }
    }

    /// The words after the subcommand, as clap collected them: all of them
    /// once the first is in, options included (see [`split_options`]).
    fn words(&self) -> &[String] {
        match self {
            Sub::Map { words }
            | Sub::Unmap { words }
            | Sub::Show { words }
            | Sub::Flush { words }
            | Sub::Monitor { words }
            | Sub::Save { words }
            | Sub::Restore { words } => words,
            Sub::Completion { .. } | Sub::Daemon { .. } | Sub::Updown { .. } => &[],
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
            Sub::Daemon { .. } => DAEMON_USAGE,
            Sub::Updown { .. } => UPDOWN_USAGE,
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
            Sub::Daemon { config_dir, vici } => Ok(Command::Daemon(daemon::Settings {
                config_dir: config_dir.clone(),
                vici: vici.clone(),
            })),
            Sub::Updown {
                config_dir,
                chain,
                args,
            } => Ok(Command::Updown(updown::Settings {
                config_dir: config_dir.clone(),
                chain: chain.clone(),
                args: args.clone(),
            })),
        }
    }
}

/// The options that may be given anywhere: before the command, where clap
/// takes them, or among its words, where [`split_options`] finds them.
#[derive(Parser, Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Print JSON instead of a table (show) or text lines (monitor)
    #[arg(short = 'j', long = "json", global = true)]
    pub json: bool,

    /// Pretty-print the JSON of -j (without -j: no effect)
    #[arg(short = 'p', long = "pretty", global = true)]
    pub pretty: bool,

    /// show: also print each mapping's selector and counters, as ip -s
    #[arg(short = 's', long = "stats", global = true)]
    pub stats: bool,

    /// monitor: begin each event with the time it was printed
    #[arg(short = 't', long = "timestamp", global = true)]
    pub timestamp: bool,

    /// Work in the network namespace NETNS (/run/netns/NETNS), as ip -n
    // Not global: a subcommand's -n would silently replace this one;
    // among a subcommand's words, split_options takes it.
    #[arg(short = 'n', long = "netns", value_name = "NETNS")]
    pub netns: Option<String>,
}

impl Options {
    /// These options and `other`'s together: a flag is set if either sets
    /// it; `-n` may be given once only.
    fn merge(self, other: Options) -> Result<Options, clap::Error> {
        let netns = match (self.netns, other.netns) {
            (Some(_), Some(_)) => {
                return Err(Args::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "the argument '--netns <NETNS>' cannot be used multiple times",
                ))
            }
            (a, b) => a.or(b),
        };
        Ok(Options {
            json: self.json || other.json,
            pretty: self.pretty || other.pretty,
            stats: self.stats || other.stats,
            timestamp: self.timestamp || other.timestamp,
            netns,
        })
    }
}

/// The words of `words` that are [`Options`] (with the value of one that
/// takes a value, glued to it as `--netns=lab` or `-nlab`, so that a value
/// starting with '-' stays a value), and the other words.  An option is
/// found anywhere up to a `--`, which is dropped; a word starting with '-'
/// that names no option (`spid -1`, `--replace`) is left to the grammar,
/// which tells the mistake better than clap.  `-h` and `--help` count as
/// options.
pub fn split_options(words: &[String]) -> (Vec<String>, Vec<String>) {
    let mut cmd = Options::command();
    cmd.build();
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let mut options = Vec::new();
    let mut rest = Vec::with_capacity(words.len());
    let mut it = words.iter();
    while let Some(word) = it.next() {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(name, _)| name);
            match cmd.get_arguments().find(|a| a.get_long() == Some(name)) {
                Some(arg) if takes_value(arg) && !long.contains('=') => match it.next() {
                    Some(value) => options.push(format!("{word}={value}")),
                    None => options.push(word.clone()),
                },
                Some(_) => options.push(word.clone()),
                None => rest.push(word.clone()),
            }
            continue;
        }
        // A cluster of short options (`-jp`, `-n lab`, `-jnlab`): each
        // letter an option's, up to the first that takes a value, which
        // takes the rest of the word, or else the next word.
        let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) else {
            rest.push(word.clone());
            continue;
        };
        let mut value_next = Some(false);
        for (at, c) in shorts.char_indices() {
            match cmd.get_arguments().find(|a| a.get_short() == Some(c)) {
                Some(arg) if takes_value(arg) => {
                    value_next = Some(at + c.len_utf8() == shorts.len());
                    break;
                }
                Some(_) => {}
                None => {
                    value_next = None;
                    break;
                }
            }
        }
        match (value_next, it.as_slice().first()) {
            (None, _) => rest.push(word.clone()),
            (Some(true), Some(value)) => {
                options.push(format!("{word}{value}"));
                it.next();
            }
            (Some(_), _) => options.push(word.clone()),
        }
    }
    rest.extend(it.cloned());
    (rest, options)
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run the command with these options.
    Run(Command, Options),
    /// A mistake in the subcommand's words, and the subcommand's usage line.
    Usage(cli::UsageError, &'static str),
    /// A subcommand's help, asked for among its words (`map spid 305 -h`).
    Help(clap::builder::StyledStr),
    /// clap's own answer: help, the version, or a mistake clap found.
    Clap(clap::Error),
}

/// The long help of the subcommand `name`, as `xnatctl NAME --help` prints
/// it.
fn subcommand_help(name: &str) -> clap::builder::StyledStr {
    let mut cmd = Args::command().bin_name("xnatctl");
    cmd.build();
    match cmd.find_subcommand_mut(name) {
        Some(sub) => sub.render_long_help(),
        None => cmd.render_long_help(),
    }
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
pub fn parse_args(argv: impl IntoIterator<Item = OsString>) -> Parsed {
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => return Parsed::Clap(shorten_clap_error(e)),
    };
    let command = match (args.command, args.file) {
        (None, Some(file)) => return checked(Command::Batch { file }, args.options, USAGE),
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
    let (words, options) = split_options(command.words());
    let program = std::iter::once(OsString::from("xnatctl"));
    let among_words =
        match Options::try_parse_from(program.chain(options.into_iter().map(Into::into))) {
            Ok(opts) => opts,
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                return Parsed::Help(subcommand_help(command.name()))
            }
            Err(e) => return Parsed::Clap(shorten_clap_error(e)),
        };
    let opts = match args.options.merge(among_words) {
        Ok(opts) => opts,
        Err(e) => return Parsed::Clap(e),
    };
    match command.command(&words) {
        Ok(cmd) => checked(cmd, opts, command.usage()),
        Err(e) => Parsed::Usage(e, command.usage()),
    }
}

/// `cmd` to run with `opts`, once the options are found right.
fn checked(cmd: Command, opts: Options, usage: &'static str) -> Parsed {
    match opts.netns.as_deref().map(cli::check_netns) {
        Some(Err(e)) => Parsed::Usage(e, usage),
        _ => Parsed::Run(cmd, opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Key;

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
        use crate::uapi::map_checks::*;
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
             (expected: spid, reqid, name, from, to, remote, is, zone, inbound, pending, hold-packets, hold-bytes, replace)"
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
            "show spid 9 --help",
            "show spid 9 -jh",
        ] {
            // Right after the subcommand clap answers; among the words,
            // the subcommand's help is rendered the same.
            let text = match parse(args) {
                Parsed::Clap(e) => {
                    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{args}");
                    e.to_string()
                }
                Parsed::Help(help) => help.to_string(),
                other => panic!("{args}: {other:?}"),
            };
            let want = if args.starts_with("map") {
                MAP_USAGE
            } else {
                SHOW_USAGE
            };
            assert!(text.contains(&format!("Usage: {want}")), "{args}: {text}");
        }
        let after_words = match parse("map spid 305 --help") {
            Parsed::Help(help) => help.to_string(),
            other => panic!("{other:?}"),
        };
        let direct = match parse("map --help") {
            Parsed::Clap(e) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(after_words, direct);
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
            let text = match parse(args) {
                Parsed::Clap(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => e.to_string(),
                Parsed::Help(help) => help.to_string(),
                other => panic!("{args}: {other:?}"),
            };
            assert!(text.contains("Usage: xnatctl restore [FILE]"), "{text}");
        }
    }

    fn run(args: &str) -> (Command, Options) {
        match parse(args) {
            Parsed::Run(cmd, opts) => (cmd, opts),
            other => panic!("{args}: {other:?}"),
        }
    }

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_among_the_words_by_their_definitions() {
        let split = |s: &str| split_options(&w(s));
        assert_eq!(
            split("spid -1 -j to 1.2.3.4 --json"),
            (w("spid -1 to 1.2.3.4"), w("-j --json"))
        );
        assert_eq!(split("spid 305 --help"), (w("spid 305"), w("--help")));
        // Words starting with '-' that name no option are the grammar's.
        assert_eq!(split("-h -x --bogus -1"), (w("-x --bogus -1"), w("-h")));
        assert_eq!(split("to -1.2.3.4 -drop"), (w("to -1.2.3.4 -drop"), vec![]));
        // After '--' nothing is an option.
        assert_eq!(
            split("spid -- -j --help -n x --"),
            (w("spid -j --help -n x --"), vec![])
        );
        // Clusters, and the value of -n in any form, glued to its option.
        assert_eq!(split("count 3 -pt -n lab"), (w("count 3"), w("-pt -nlab")));
        assert_eq!(
            split("--pretty count --netns lab 3 --timestamp -s"),
            (w("count 3"), w("--pretty --netns=lab --timestamp -s"))
        );
        assert_eq!(
            split("-jnlab count=3 --netns=x"),
            (w("count=3"), w("-jnlab --netns=x"))
        );
        // -n takes the next word whatever it is.
        assert_eq!(split("-n -j spid 9"), (w("spid 9"), w("-n-j")));
        assert_eq!(split("spid 9 -n"), (w("spid 9"), w("-n")));
        let opts = |args: &str| run(args).1;
        assert_eq!(opts("show -n -j").netns.as_deref(), Some("-j"));
        assert!(!opts("show -n -j").json);
        assert_eq!(opts("show -js -n-x").netns.as_deref(), Some("-x"));
        assert!(opts("show spid 305 --stats").stats);
        assert!(opts("-s show").stats && opts("show -s").stats);
        // The grammar still tells a word that is no option.
        assert_eq!(
            usage_error("-j map spid -1 to 1.2.3.4").0,
            "spid -1 is out of range (0-4294967295)"
        );
        assert_eq!(
            usage_error("map spid 305 to 1.2.3.4 pending -drop").0,
            "unknown pending mode '-drop' (expected: eagain, drop, hold)"
        );
    }

    /// Every option is one that [`split_options`] finds among the words:
    /// nothing but `Options` defines them.
    #[test]
    fn every_global_option_is_an_option_anywhere() {
        let mut args = Args::command();
        args.build();
        let mut options = Options::command();
        options.build();
        for arg in args.get_arguments().filter(|a| a.is_global_set()) {
            assert!(
                options.get_arguments().any(|o| o.get_id() == arg.get_id()),
                "{}",
                arg.get_id()
            );
        }
        for arg in options.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let word = format!("--{long}");
            assert_eq!(split_options(std::slice::from_ref(&word)).1, vec![word]);
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
            stats: false,
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
        assert!(matches!(cmd, Command::Map { mapping, .. } if mapping.key == Key::Spid(305)));
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
        for argv in [
            &["xnatctl", "-n", "lab", "show", "-n", "other"][..],
            &["xnatctl", "show", "-n", "a", "--netns=b"],
        ] {
            let e = clap_error(argv);
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{e}");
            assert!(
                e.to_string()
                    .contains("the argument '--netns <NETNS>' cannot be used multiple times"),
                "{e}"
            );
        }
        for argv in [
            &["xnatctl", "show", "-n"][..],
            &["xnatctl", "show", "--netns"],
        ] {
            let e = clap_error(argv);
            assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{e}");
            assert!(
                e.to_string()
                    .contains("a value is required for '--netns <NETNS>'"),
                "{e}"
            );
        }
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
