//! `-n NETNS`: work in a named network namespace, as `ip -n` does.
//!
//! `ip netns add NAME` bind-mounts the namespace on /run/netns/NAME;
//! [`enter`] opens that file and moves this (single-threaded) process into
//! the namespace with setns(2), before any netlink socket is opened, so the
//! socket, the family lookup and the interface names are the namespace's.
//! Unlike `ip -n`, nothing else changes: xnatctl reads no /sys nor
//! /etc/netns files.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::cli::{shown, NETNS_RUN_DIR};
use crate::error::{io_strerror as why, Error};

/// What went wrong entering `name`, given the file `path`, the error of
/// open(2) or setns(2) (`opened`: whether open succeeded), as the user is
/// told.
pub fn message(name: &str, path: &Path, opened: bool, e: &io::Error) -> String {
    let name = shown(name);
    let path = shown(&path.to_string_lossy()).into_owned();
    if !opened {
        let hint = match e.raw_os_error() {
            Some(libc::ENOENT) => "; 'ip netns list' lists the names",
            _ => "",
        };
        return format!("netns {name}: {} ({path}{hint})", why(e));
    }
    match e.raw_os_error() {
        // Not a namespace file (or not a network namespace's).
        Some(libc::EINVAL) => format!("netns {name}: {path} is not a network namespace"),
        Some(libc::EPERM) => format!(
            "netns {name}: cannot enter it: {} (needs CAP_SYS_ADMIN)",
            why(e)
        ),
        _ => format!("netns {name}: cannot enter it: {}", why(e)),
    }
}

/// Move this process into the network namespace /run/netns/`name`.
pub fn enter(name: &str) -> Result<(), Error> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    let file = File::open(&path).map_err(|e| Error::Netns(message(name, &path, false, &e)))?;
    // SAFETY: setns only reads the descriptor, which `file` keeps open.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(Error::Netns(message(name, &path, true, &e)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(n: i32) -> io::Error {
        io::Error::from_raw_os_error(n)
    }

    #[test]
    fn messages() {
        let path = Path::new("/run/netns/lab");
        assert_eq!(
            message("lab", path, false, &errno(libc::ENOENT)),
            "netns lab: No such file or directory \
             (/run/netns/lab; 'ip netns list' lists the names)"
        );
        assert_eq!(
            message("lab", path, false, &errno(libc::EACCES)),
            "netns lab: Permission denied (/run/netns/lab)"
        );
        assert_eq!(
            message("lab", path, true, &errno(libc::EPERM)),
            "netns lab: cannot enter it: Operation not permitted (needs CAP_SYS_ADMIN)"
        );
        assert_eq!(
            message("lab", path, true, &errno(libc::EINVAL)),
            "netns lab: /run/netns/lab is not a network namespace"
        );
        assert_eq!(
            message("lab", path, true, &errno(libc::ENOMEM)),
            "netns lab: cannot enter it: Cannot allocate memory"
        );
    }

    #[test]
    fn a_missing_namespace_is_told() {
        let name = "xnatctl-test-no-such-namespace";
        match enter(name) {
            Err(Error::Netns(msg)) => assert!(msg.starts_with(&format!("netns {name}: ")), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}
