//! `restore FILE` and `-f FILE`: a file of mappings or of commands made
//! into one map-set request, which the kernel applies whole or not at all.

use std::io::Read;

use anyhow::anyhow;

use crate::args::Options;
use crate::batch::{self, Origin};
use crate::error::{self, Error};
use crate::proto::{Mapping, Request};
use crate::{mappings, nl, open};

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

/// The namespace's mappings, as the kernel reports them (without state).
fn current_mappings(conn: &mut nl::Conn) -> Result<Vec<Mapping>, Error> {
    Ok(mappings(conn.dump_snapshot()?)?
        .into_iter()
        .map(|r| r.mapping)
        .collect())
}

/// Replace the namespace's set by `mappings` in one map-set request; a
/// refused one is told at its `origins` in the file `name`.
fn set_all(
    conn: &mut nl::Conn,
    name: &str,
    mappings: Vec<Mapping>,
    origins: &[Origin],
) -> Result<(), Error> {
    match conn.request(&Request::MapSet { mappings }) {
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
pub fn restore(file: &str, opts: &Options) -> Result<(), Error> {
    let name = batch::display_name(file);
    let parsed = batch::parse_restore(name, &read_input(file)?)?;
    let (lines, mappings): (Vec<usize>, Vec<Mapping>) = parsed.into_iter().unzip();
    let origins: Vec<Origin> = lines.into_iter().map(Origin::Line).collect();
    let mut conn = open(opts)?;
    set_all(&mut conn, name, mappings, &origins)
}

/// `-f FILE`: parse all of it, apply it to the current set, then one
/// map-set.  Another writer may change the set between the dump and the
/// map-set; its change is then lost.
pub fn apply_batch(file: &str, opts: &Options) -> Result<(), Error> {
    let name = batch::display_name(file);
    let cmds = batch::parse_batch(name, &read_input(file)?)?;
    let mut conn = open(opts)?;
    if cmds.is_empty() {
        return Ok(());
    }
    let current = current_mappings(&mut conn)?;
    let set = batch::apply(name, current, &cmds).map_err(Error::Refused)?;
    let (origins, mappings): (Vec<Origin>, Vec<Mapping>) = set.into_iter().unzip();
    set_all(&mut conn, name, mappings, &origins)
}
