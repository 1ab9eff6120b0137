//! Errors, and how each is told to the user.

use std::io;

use crate::cli::{Command, UsageError};

#[derive(Debug)]
pub enum Error {
    /// A mistake on the command line: nothing was sent.
    Usage(UsageError),
    /// The controller does not know the xfrm_nat family.
    NotLoaded,
    /// The kernel refused the request.
    Kernel { errno: i32, extack: Option<String> },
    /// A command of a batch file that the current set refuses, found by
    /// xnatctl before anything was sent: the message names the line.
    Refused(String),
    /// The namespace of `-n` cannot be entered: the message says why.
    Netns(String),
    /// Anything else (socket trouble, a reply we cannot read).
    Other(anyhow::Error),
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Other(e)
    }
}

/// strerror(3) text of an errno, without Rust's " (os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// strerror(3) text of an I/O error, or its own text if it has no errno.
pub fn io_strerror(e: &io::Error) -> String {
    e.raw_os_error().map_or_else(|| e.to_string(), strerror)
}

fn what(cmd: &Command) -> String {
    match cmd {
        Command::Map { mapping, .. } => match &mapping.target {
            Some(target) => format!("cannot map {} {target}", mapping.key),
            None => format!("cannot map {}", mapping.key),
        },
        Command::Unmap { key } => format!("cannot unmap {key}"),
        Command::Show { key: Some(key) } => format!("cannot show {key}"),
        Command::Show { key: None } => "cannot show mappings".into(),
        Command::Flush => "cannot flush mappings".into(),
        Command::Monitor { .. } => "cannot monitor events".into(),
        Command::Save => "cannot save mappings".into(),
        Command::Restore { .. } => "cannot restore mappings".into(),
        Command::Batch { .. } => "cannot apply the batch file".into(),
        Command::Completion { .. } => "cannot print the completion script".into(),
        Command::Daemon(_) => "daemon".into(),
        Command::Updown(_) => "updown".into(),
    }
}

impl Error {
    /// The message for the user, in the terms of the command they gave.
    pub fn message(&self, cmd: &Command) -> String {
        match self {
            Error::Usage(e) => e.0.clone(),
            Error::NotLoaded => format!(
                "xfrm_nat module not loaded (generic netlink family '{}' not found); \
                 try: modprobe xfrm_nat / insmod xfrm_nat.ko",
                crate::uapi::FAMILY_NAME
            ),
            Error::Kernel { errno, extack } => {
                match (*errno, cmd) {
                    (
                        libc::EPERM,
                        Command::Map { .. }
                        | Command::Unmap { .. }
                        | Command::Flush
                        | Command::Restore { .. }
                        | Command::Batch { .. },
                    ) => return "permission denied: changing mappings needs CAP_NET_ADMIN".into(),
                    // genetlink's answer to a command the family lacks.
                    (libc::EOPNOTSUPP, Command::Restore { .. } | Command::Batch { .. }) => {
                        return format!(
                            "the {} module does not know map-set (older than this xnatctl?)",
                            crate::uapi::FAMILY_NAME
                        )
                    }
                    (libc::EEXIST, Command::Map { mapping, .. }) => {
                        return format!(
                            "{} is already mapped; add 'replace' to change it",
                            mapping.key
                        )
                    }
                    (libc::ENOENT, Command::Unmap { key } | Command::Show { key: Some(key) }) => {
                        return format!("{key} is not mapped")
                    }
                    _ => {}
                }
                match extack {
                    Some(msg) => format!("{msg} ({})", strerror(*errno)),
                    None => format!("{}: {}", what(cmd), strerror(*errno)),
                }
            }
            Error::Refused(msg) | Error::Netns(msg) => msg.clone(),
            Error::Other(e) => format!("{}: {e:#}", what(cmd)),
        }
    }

    /// 2 for a usage error (as clap's own), 1 for any other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Key, Mapping, Prefix, Target};

    fn map() -> Command {
        Command::Map {
            mapping: Mapping::new(Key::Spid(305), Target::addr("10.20.30.2")),
            replace: false,
        }
    }

    fn kernel(errno: i32, extack: Option<&str>) -> Error {
        Error::Kernel {
            errno,
            extack: extack.map(String::from),
        }
    }

    #[test]
    fn strerror_text() {
        assert_eq!(strerror(libc::EEXIST), "File exists");
        assert_eq!(strerror(libc::EINVAL), "Invalid argument");
    }

    #[test]
    fn user_terms() {
        assert_eq!(
            Error::NotLoaded.message(&Command::Flush),
            "xfrm_nat module not loaded (generic netlink family 'xfrm_nat' not found); \
             try: modprobe xfrm_nat / insmod xfrm_nat.ko"
        );
        assert_eq!(
            kernel(libc::EPERM, None).message(&Command::Flush),
            "permission denied: changing mappings needs CAP_NET_ADMIN"
        );
        assert_eq!(
            kernel(libc::EEXIST, Some("mapping exists")).message(&map()),
            "spid 305 is already mapped; add 'replace' to change it"
        );
        assert_eq!(
            kernel(libc::ENOENT, None).message(&Command::Unmap {
                key: Key::Spid(313)
            }),
            "spid 313 is not mapped"
        );
        assert_eq!(
            kernel(libc::ENOENT, None).message(&Command::Show {
                key: Some(Key::Spid(9))
            }),
            "spid 9 is not mapped"
        );
        assert_eq!(
            kernel(libc::ENOENT, None).message(&Command::Unmap { key: Key::Reqid(7) }),
            "reqid 7 is not mapped"
        );
        let lan = |replace| Command::Map {
            mapping: Mapping::new(
                Key::Reqid(7),
                Target {
                    to: Prefix {
                        addr: "10.20.30.0".parse().unwrap(),
                        len: 24,
                    },
                    from: Some(Prefix {
                        addr: "192.168.1.0".parse().unwrap(),
                        len: 24,
                    }),
                },
            ),
            replace,
        };
        assert_eq!(
            kernel(libc::EEXIST, None).message(&lan(false)),
            "reqid 7 is already mapped; add 'replace' to change it"
        );
        // The kernel's own words, as for any refusal it explains.
        assert_eq!(
            kernel(
                libc::EINVAL,
                Some("no policy of reqid 7 admits 10.20.30.0/24")
            )
            .message(&lan(true)),
            "no policy of reqid 7 admits 10.20.30.0/24 (Invalid argument)"
        );
        assert_eq!(
            kernel(libc::EINVAL, None).message(&lan(true)),
            "cannot map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24: Invalid argument"
        );
        assert_eq!(
            kernel(libc::EINVAL, Some("spid 306 is not an out policy")).message(&map()),
            "spid 306 is not an out policy (Invalid argument)"
        );
        assert_eq!(
            kernel(libc::EINVAL, None).message(&map()),
            "cannot map spid 305 to 10.20.30.2: Invalid argument"
        );
        assert_eq!(
            kernel(libc::ENOMEM, None).message(&Command::Show { key: None }),
            "cannot show mappings: Cannot allocate memory"
        );
        let e = Error::Other(anyhow::anyhow!("boom").context("receiving a reply"));
        assert_eq!(
            e.message(&Command::Flush),
            "cannot flush mappings: receiving a reply: boom"
        );
        assert_eq!(
            kernel(libc::EPERM, None).message(&Command::Monitor { count: None }),
            "cannot monitor events: Operation not permitted"
        );
        assert_eq!(Error::from(UsageError("x".into())).exit_code(), 2);
    }

    #[test]
    fn file_commands() {
        let restore = Command::Restore {
            file: "/etc/xfrm-nat.conf".into(),
        };
        let batch = Command::Batch { file: "-".into() };
        for cmd in [&restore, &batch] {
            assert_eq!(
                kernel(libc::EPERM, None).message(cmd),
                "permission denied: changing mappings needs CAP_NET_ADMIN"
            );
            // No map-new or map-del was sent: EEXIST and ENOENT are the
            // kernel's to explain.
            assert_eq!(
                kernel(libc::EEXIST, Some("x.conf:3: something")).message(cmd),
                "x.conf:3: something (File exists)"
            );
        }
        assert_eq!(
            kernel(libc::EINVAL, None).message(&restore),
            "cannot restore mappings: Invalid argument"
        );
        assert_eq!(
            kernel(libc::EINVAL, None).message(&batch),
            "cannot apply the batch file: Invalid argument"
        );
        assert_eq!(
            kernel(libc::EPERM, None).message(&Command::Save),
            "cannot save mappings: Operation not permitted"
        );
        assert_eq!(
            kernel(libc::EOPNOTSUPP, None).message(&batch),
            "the xfrm_nat module does not know map-set (older than this xnatctl?)"
        );
        let e = Error::Refused("cmds:2: spid 305 is not mapped".into());
        assert_eq!(e.message(&batch), "cmds:2: spid 305 is not mapped");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(Error::NotLoaded.exit_code(), 1);
    }
}
