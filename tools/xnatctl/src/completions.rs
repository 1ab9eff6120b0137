//! `completion SHELL`: the shell completion scripts, made from clap's
//! definition of the command line.

use clap::CommandFactory;

use crate::args::Args;
use crate::cli::Shell;
use crate::error::Error;
use crate::print::{print_error, print_out};

/// `completion SHELL`: the script on standard output.  No socket, no
/// namespace: it runs without the module and without privileges.
pub fn print(shell: Shell) -> Result<(), Error> {
    let mut script = Vec::new();
    // clap_complete panics if it cannot write: write to memory first.
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut Args::command(),
        "xnatctl",
        &mut script,
    );
    if shell == Shell::Fish {
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
