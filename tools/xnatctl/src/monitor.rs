//! `monitor`: the events of the family's multicast group, as lines.

use crate::args::Options;
use crate::error::Error;
use crate::print::{json_style, json_text, print_error, print_out};
use crate::proto::Event;
use crate::{nl, output, uapi};

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

/// Print the events of the `events` group, one line each (with `-j -p`, a
/// pretty-printed object each), until interrupted or until `count` of them
/// have been printed; with `-t`, each stamped with the time.
pub fn run(conn: &mut nl::Conn, count: Option<u64>, opts: &Options) -> Result<(), Error> {
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
