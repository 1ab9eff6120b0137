//! xnatctl: configure the xfrm_nat kernel module over generic netlink.
//!
//!     xnatctl map spid=N|reqid=N [from PREFIX] to ADDR|PREFIX [inbound]
//!                 [pending eagain|drop|hold] [hold-packets N]
//!                 [hold-bytes N] [replace]
//!     xnatctl unmap spid=N|reqid=N
//!     xnatctl [-j [-p]] [-s] show [spid=N|reqid=N]
//!     xnatctl flush
//!     xnatctl [-j [-p]] [-t] monitor [count N]
//!     xnatctl save
//!     xnatctl restore [FILE]
//!     xnatctl -f FILE
//!     xnatctl completion bash|zsh|fish
//!     xnatctl daemon [--config-dir DIR] [--vici PATH]
//!     xnatctl updown [--config-dir DIR] [--chain SCRIPT [ARGS]...]
//!
//! Options anywhere (`args::Options`): -j (JSON), -p (JSON pretty-printed),
//! -s (show: selectors and counters), -t (monitor: timestamps), -n NETNS
//! (in the network namespace /run/netns/NETNS).
//!
//! `args` reads the command line, `cli` is the grammar of a command's
//! words, `run` below does what they ask, with `monitor`, `files` (restore
//! and -f) and `completions` for the commands that are more than a request;
//! `daemon` (with `vici`, `spd`) and `updown` bind the child-keyed
//! configuration of `childconf` to the IKE daemon's children.

use std::process::ExitCode;

// The numbers of the family, generated from the netlink spec.
#[path = "../../../module/logic/src/uapi.rs"]
#[allow(dead_code)]
mod uapi;

mod args;
mod batch;
mod childconf;
mod cli;
mod completions;
mod daemon;
mod error;
mod files;
mod monitor;
mod netns;
mod nl;
mod output;
mod print;
mod proto;
mod spd;
mod updown;
mod vici;

use args::{Options, Parsed};
use cli::Command;
use error::Error;
use proto::{ReportedMapping, Request};

/// The mappings of the kernel's answer `msgs`, sorted by key.
fn mappings(msgs: Vec<proto::XnatMsg>) -> Result<Vec<ReportedMapping>, Error> {
    let mut maps = msgs
        .iter()
        .map(|m| ReportedMapping::from_attrs(&m.attrs))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("bad mapping from the kernel: {e}"))?;
    maps.sort_by_key(|m| m.mapping.key);
    Ok(maps)
}

/// A socket of the xfrm_nat family, in the namespace of `-n` if given.
fn open(opts: &Options) -> Result<nl::Conn, Error> {
    if let Some(name) = &opts.netns {
        netns::enter(name)?;
    }
    nl::Conn::open()
}

/// Send `req`, which the kernel answers with an acknowledgement only.
fn request(opts: &Options, req: &Request) -> Result<(), Error> {
    open(opts)?.request(req).map(drop)
}

/// `show [KEY]`: the table (with `-s` its detail lines), or with `-j`
/// the JSON.
fn show(key: Option<proto::Key>, opts: &Options) -> Result<(), Error> {
    let req = match key {
        Some(key) => Request::MapGet { key },
        None => Request::MapDump,
    };
    let maps = mappings(open(opts)?.request(&req)?)?;
    let detail = match opts.stats {
        true => output::Detail::Stats,
        false => output::Detail::Brief,
    };
    let text = match print::json_style(opts) {
        Some(style) => print::json_text(output::format_json(&maps, style))?,
        None => output::format_table(&maps, detail, output::ifname),
    };
    print::print_out(text.as_bytes()).map_err(print::print_error)
}

/// `save`: the mappings as a restore file.
fn save(opts: &Options) -> Result<(), Error> {
    let maps = mappings(open(opts)?.dump_snapshot()?)?;
    let text = batch::format_save(&maps).map_err(|e| anyhow::anyhow!(e))?;
    print::print_out(text.as_bytes()).map_err(print::print_error)
}

/// `map`: map-new.  The kernel installs a named mapping that its key's
/// policies cannot carry rather than refuse it (a daemon's mapping stays
/// visible in `show`); it is read back, and its reason told as a warning.
fn map(mapping: &proto::Mapping, replace: bool, opts: &Options) -> Result<(), Error> {
    let mut conn = open(opts)?;
    conn.request(&Request::MapNew {
        mapping: mapping.clone(),
        replace,
    })?;
    let Some(name) = &mapping.name else {
        return Ok(());
    };
    let key = mapping.key;
    for m in mappings(conn.request(&Request::MapGet { key })?)? {
        if let Some(reason) = m.reason {
            eprintln!("xnatctl: warning: {key} {name}: inactive: {reason}");
        }
    }
    Ok(())
}

fn run(cmd: &Command, opts: &Options) -> Result<(), Error> {
    match cmd {
        Command::Map { mapping, replace } => map(mapping, *replace, opts),
        Command::Unmap { key } => request(opts, &Request::MapDel { key: *key }),
        Command::Flush => request(opts, &Request::Flush),
        Command::Show { key } => show(*key, opts),
        Command::Monitor { count } => monitor::run(&mut open(opts)?, *count, opts),
        Command::Save => save(opts),
        Command::Restore { file } => files::restore(file, opts),
        Command::Batch { file } => files::apply_batch(file, opts),
        Command::Completion { shell } => completions::print(*shell),
        Command::Daemon(settings) => daemon::run(settings, opts),
        Command::Updown(settings) => updown::run(settings, opts),
    }
}

fn main() -> ExitCode {
    let (cmd, opts) = match args::parse_args(std::env::args_os()) {
        Parsed::Run(cmd, opts) => (cmd, opts),
        Parsed::Usage(e, usage) => {
            eprintln!("xnatctl: {e}\nusage: {usage}");
            return ExitCode::from(Error::Usage(e).exit_code());
        }
        Parsed::Help(help) => return print::help(&help),
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
