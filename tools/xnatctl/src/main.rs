//! xnatctl: configure the xfrm_nat kernel module over generic netlink.
//!
//!     xnatctl map spid=N to ADDR [pending eagain|drop] [replace]
//!     xnatctl unmap spid=N
//!     xnatctl [-j] show [spid=N]
//!     xnatctl flush

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
use proto::{Mapping, Request};

const MAP_USAGE: &str = "xnatctl map spid=N to ADDR [pending eagain|drop] [replace]";
const UNMAP_USAGE: &str = "xnatctl unmap spid=N";
const SHOW_USAGE: &str = "xnatctl [-j] show [spid=N]";
const FLUSH_USAGE: &str = "xnatctl flush";

const AFTER_HELP: &str = "\
Keywords take their value after '=' or as the next word (spid=305 or spid 305).
While the policy's SA is being negotiated, a new flow is refused with EAGAIN
(pending eagain, the default) or silently dropped (pending drop).

Examples:
  xnatctl map spid=305 to 10.20.30.2
  xnatctl map spid=305 to 2001:db8::2 replace
  xnatctl map spid=305 to 10.20.30.2 pending drop replace
  xnatctl show
  xnatctl -j show spid 305
  xnatctl unmap spid=305";

#[derive(Parser, Debug)]
#[command(
    name = "xnatctl",
    version,
    about = "Source-NAT new outgoing flows into IPsec (xfrm) policies",
    after_help = AFTER_HELP
)]
struct Args {
    /// Print JSON instead of a table
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
    /// (pending eagain, the default) or silently dropped (pending drop).
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
}

impl Sub {
    fn usage(&self) -> &'static str {
        match self {
            Sub::Map { .. } => MAP_USAGE,
            Sub::Unmap { .. } => UNMAP_USAGE,
            Sub::Show { .. } => SHOW_USAGE,
            Sub::Flush { .. } => FLUSH_USAGE,
        }
    }

    fn command(&self) -> Result<Command, cli::UsageError> {
        match self {
            Sub::Map { words } => cli::parse_map(words),
            Sub::Unmap { words } => cli::parse_unmap(words),
            Sub::Show { words } => cli::parse_show(words),
            Sub::Flush { words } => cli::parse_flush(words),
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

fn run(cmd: &Command, json: bool) -> Result<(), Error> {
    let mut conn = nl::Conn::open()?;
    match *cmd {
        Command::Map {
            spid,
            addr,
            replace,
            pending,
        } => {
            conn.request(&Request::MapNew {
                spid,
                addr,
                replace,
                pending,
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
