//! xnatctl: configure the xfrm_nat kernel module over generic netlink.
//!
//!     xnatctl map spid=N to ADDR [pending eagain|drop|hold] [hold-packets N]
//!                 [hold-bytes N] [replace]
//!     xnatctl unmap spid=N
//!     xnatctl [-j] show [spid=N]
//!     xnatctl flush
//!     xnatctl [-j] monitor [count N]

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The numbers of the family, generated from the netlink spec.
#[path = "../../../module/core/src/uapi.rs"]
#[allow(dead_code)]
mod uapi;

mod cli;
mod error;
mod nl;
mod output;
mod proto;

use cli::Command;
use error::Error;
use proto::{Event, Mapping, Request};

const MAP_USAGE: &str = "xnatctl map spid=N to ADDR [pending eagain|drop|hold] \
                         [hold-packets N] [hold-bytes N] [replace]";
const UNMAP_USAGE: &str = "xnatctl unmap spid=N";
const SHOW_USAGE: &str = "xnatctl [-j] show [spid=N]";
const FLUSH_USAGE: &str = "xnatctl flush";
const MONITOR_USAGE: &str = "xnatctl [-j] monitor [count N]";

const AFTER_HELP: &str = "\
Keywords take their value after '=' or as the next word (spid=305 or spid 305).
While the policy's SA is being negotiated, a new flow is refused with EAGAIN
(pending eagain, the default), silently dropped (pending drop), or queued
until the SA is installed (pending hold; at most hold-packets packets, default
100, and hold-bytes bytes of packet memory, default 262144).

Examples:
  xnatctl map spid=305 to 10.20.30.2
  xnatctl map spid=305 to 2001:db8::2 replace
  xnatctl map spid=305 to 10.20.30.2 pending drop replace
  xnatctl map spid=305 to 10.20.30.2 pending hold hold-packets 500
  xnatctl show
  xnatctl -j show spid 305
  xnatctl unmap spid=305
  xnatctl monitor";

#[derive(Parser, Debug)]
#[command(
    name = "xnatctl",
    version,
    about = "Source-NAT new outgoing flows into IPsec (xfrm) policies",
    after_help = AFTER_HELP
)]
struct Args {
    /// Print JSON instead of a table (show) or text lines (monitor)
    #[arg(short = 'j', long = "json", global = true)]
    json: bool,

    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// SNAT new flows that out policy N would carry once their source is ADDR, to ADDR
    ///
    /// While the policy's SA is being negotiated, a new flow is refused with EAGAIN
    /// (pending eagain, the default), silently dropped (pending drop), or queued
    /// and sent once the SA is installed (pending hold).  The hold queue takes at
    /// most hold-packets packets (1-10000, default 100) and hold-bytes bytes of
    /// packet memory (1-16777216, default 262144); both only with pending hold.
    #[command(override_usage = MAP_USAGE)]
    Map {
        #[arg(value_name = "WORDS")]
        words: Vec<String>,
    },
    /// Delete the mapping of policy N
    #[command(override_usage = UNMAP_USAGE)]
    Unmap {
        #[arg(value_name = "WORDS")]
        words: Vec<String>,
    },
    /// List the mappings (all, or the one of policy N), their state and counters
    #[command(override_usage = SHOW_USAGE, alias = "list")]
    Show {
        #[arg(value_name = "WORDS")]
        words: Vec<String>,
    },
    /// Delete all mappings of the network namespace
    #[command(override_usage = FLUSH_USAGE)]
    Flush {
        #[arg(value_name = "WORDS")]
        words: Vec<String>,
    },
    /// Print a line per mapping event (map, unmap, sa) until interrupted, or after N events
    ///
    /// `map spid N to ADDR STATE pending MODE [hold-packets N hold-bytes N]
    /// [selector SELECTOR]` when a mapping is created, replaced, activated or
    /// deactivated; `unmap spid N` when it is deleted; `sa pending spid N` when the
    /// mapped policy's SA is being negotiated (ACQUIRE sent) and `sa established
    /// spid N` when it was installed.  With -j, one JSON object per line.
    #[command(override_usage = MONITOR_USAGE)]
    Monitor {
        #[arg(value_name = "WORDS")]
        words: Vec<String>,
    },
}

impl Sub {
    fn usage(&self) -> &'static str {
        match self {
            Sub::Map { .. } => MAP_USAGE,
            Sub::Unmap { .. } => UNMAP_USAGE,
            Sub::Show { .. } => SHOW_USAGE,
            Sub::Flush { .. } => FLUSH_USAGE,
            Sub::Monitor { .. } => MONITOR_USAGE,
        }
    }

    fn command(&self) -> Result<Command, cli::UsageError> {
        match self {
            Sub::Map { words } => cli::parse_map(words),
            Sub::Unmap { words } => cli::parse_unmap(words),
            Sub::Show { words } => cli::parse_show(words),
            Sub::Flush { words } => cli::parse_flush(words),
            Sub::Monitor { words } => cli::parse_monitor(words),
        }
    }
}

fn mappings(msgs: Vec<proto::XnatMsg>) -> Result<Vec<Mapping>, Error> {
    let mut maps = msgs
        .iter()
        .map(|m| Mapping::from_attrs(&m.attrs))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("bad mapping from the kernel: {e}"))?;
    maps.sort_by_key(|m| m.spid);
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

/// Print the events of the `events` group, one line each, until
/// interrupted or until `count` of them have been printed.
fn monitor(conn: &mut nl::Conn, count: Option<u64>, json: bool) -> Result<(), Error> {
    conn.subscribe(uapi::MCGRP_EVENTS)?;
    exit_on_signals();
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
            let line = if json {
                output::format_event_json(&ev)
            } else {
                output::format_event(&ev, output::ifname)
            };
            let mut out = std::io::stdout().lock();
            match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {}
                // The reader is gone (`xnatctl monitor | head -1`).
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(anyhow::anyhow!(e).context("cannot print").into()),
            }
            printed += 1;
            if count == Some(printed) {
                return Ok(());
            }
        }
    }
}

fn run(cmd: &Command, json: bool) -> Result<(), Error> {
    let mut conn = nl::Conn::open()?;
    match *cmd {
        Command::Map {
            spid,
            addr,
            replace,
            pending,
            hold_packets,
            hold_bytes,
        } => {
            conn.request(&Request::MapNew {
                spid,
                addr,
                replace,
                pending,
                hold_packets,
                hold_bytes,
            })?;
        }
        Command::Unmap { spid } => {
            conn.request(&Request::MapDel { spid })?;
        }
        Command::Flush => {
            conn.request(&Request::Flush)?;
        }
        Command::Show { spid } => {
            let req = match spid {
                Some(spid) => Request::MapGet { spid },
                None => Request::MapDump,
            };
            let maps = mappings(conn.request(&req)?)?;
            let text = if json {
                output::format_json(&maps)
            } else {
                output::format_table(&maps, output::ifname)
            };
            print!("{text}");
        }
        Command::Monitor { count } => monitor(&mut conn, count, json)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cmd = match args.command.command() {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("xnatctl: {e}\nusage: {}", args.command.usage());
            return ExitCode::from(Error::Usage(e).exit_code());
        }
    };
    match run(&cmd, args.json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xnatctl: {}", e.message(&cmd));
            ExitCode::from(e.exit_code())
        }
    }
}
