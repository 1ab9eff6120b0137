//! Writing to standard output: text, JSON, and help.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::anyhow;

use crate::args::Options;
use crate::error::Error;
use crate::output;

/// Write `text` to standard output and flush it.
pub fn print_out(text: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text).and_then(|()| out.flush())
}

pub fn print_error(e: std::io::Error) -> Error {
    anyhow!(e).context("cannot print").into()
}

/// JSON text, or why it cannot be made.
pub fn json_text(text: serde_json::Result<String>) -> Result<String, Error> {
    text.map_err(|e| anyhow!(e).context("cannot write JSON").into())
}

/// The JSON style of `-j` (and `-p`); None without `-j`.
pub fn json_style(opts: &Options) -> Option<output::JsonStyle> {
    match (opts.json, opts.pretty) {
        (false, _) => None,
        (true, false) => Some(output::JsonStyle::Compact),
        (true, true) => Some(output::JsonStyle::Pretty),
    }
}

/// Print `help` as clap prints its own: styled on a terminal, plain
/// otherwise; status 0, or 1 if it cannot be written (as clap's).
pub fn help(help: &clap::builder::StyledStr) -> ExitCode {
    let text = match std::io::stdout().is_terminal() {
        true => help.ansi().to_string(),
        false => help.to_string(),
    };
    match print_out(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
