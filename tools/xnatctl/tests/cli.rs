//! The binary's behaviour on mistakes: message, usage line, exit status,
//! and nothing sent (these fail before a socket is opened).

use std::process::Command;

fn xnatctl(args: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xnatctl"))
        .args(args.split_whitespace())
        .output()
        .expect("run xnatctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn wrong_direction_is_refused_locally() {
    let (code, out, err) = xnatctl("map spid=306 to 10.20.30.2");
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "xnatctl: spid 306 is not an outbound policy index (306 & 7 = 2, fwd); \
         only out policies (index & 7 == 1) can be mapped\n\
         usage: xnatctl map spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX \
         [remote ALIAS is PREFIX [zone N]] [inbound] [pending eagain|drop|hold] [hold-packets N] [hold-bytes N] [replace]\n"
    );
}

#[test]
fn grammar_errors() {
    let cases = [
        (
            "map spid 305 to 10.20.30",
            "'10.20.30' is not an IPv4 or IPv6 address",
        ),
        (
            "map spid=305 via 1.2.3.4",
            "unknown keyword 'via' for 'map'",
        ),
        ("-j show spid=x", "spid 'x' is not a number"),
        (
            "map spid=305 to 10.20.30.2 pending=block",
            "unknown pending mode 'block' (expected: eagain, drop, hold)",
        ),
        (
            "map spid=305 to 10.20.30.2 hold-packets 500",
            "'hold-packets' is only valid with 'pending hold'",
        ),
        (
            "map spid=305 to 10.20.30.2 pending drop hold-bytes=4096",
            "'hold-bytes' is only valid with 'pending hold'",
        ),
        (
            "map spid=305 to 10.20.30.2 pending hold hold-packets 10001",
            "hold-packets 10001 is out of range (1-10000)",
        ),
        (
            "map spid=305 to 10.20.30.2 pending hold hold-bytes 0",
            "hold-bytes 0 is out of range (1-16777216)",
        ),
        (
            "map spid=305 to 10.20.30.2 pending",
            "missing value for 'pending'",
        ),
        ("unmap spid", "missing value for 'spid'"),
        (
            "flush now",
            "unknown keyword 'now': 'flush' takes no arguments",
        ),
        (
            "monitor count 0",
            "count 0 is out of range (1-18446744073709551615)",
        ),
        (
            "map spid=4294967297 to 10.20.30.2",
            "spid 4294967297 is out of range (0-4294967295)",
        ),
        (
            "map spid -1 to 10.20.30.2",
            "spid -1 is out of range (0-4294967295)",
        ),
        ("-j monitor count", "missing value for 'count'"),
        (
            "monitor spid 305",
            "unknown keyword 'spid' for 'monitor' (expected: count)",
        ),
    ];
    for (args, want) in cases {
        let (code, _, err) = xnatctl(args);
        assert_eq!(code, 2, "{args}");
        assert!(
            err.starts_with(&format!("xnatctl: {want}")),
            "{args}: {err}"
        );
    }
}

/// The reqid keys and prefix mappings: every refusal is told before
/// anything is sent (status 2, so also without the module).
#[test]
fn reqid_and_prefix_refusals() {
    let cases = [
        (
            "map reqid=0 to 10.20.30.2",
            "reqid 0 means any to the kernel; pin a reqid in the IKE config",
        ),
        (
            "unmap reqid 0",
            "reqid 0 means any to the kernel; pin a reqid in the IKE config",
        ),
        (
            "show reqid=0",
            "reqid 0 means any to the kernel; pin a reqid in the IKE config",
        ),
        (
            "map spid=305 reqid=7 to 10.20.30.2",
            "'spid' and 'reqid' both given",
        ),
        ("unmap", "missing 'spid=N' or 'reqid=N'"),
        (
            "map reqid=7 from 192.168.1.0/24 to 10.20.30.0/25",
            "from 192.168.1.0/24 and to 10.20.30.0/25 differ in prefix length; \
             a 1:1 mapping needs equal lengths",
        ),
        (
            "map reqid=7 from 192.168.1.0/24 to 10.20.30.5/24",
            "10.20.30.5/24 has host bits set; did you mean 10.20.30.0/24?",
        ),
        (
            "map reqid=7 from fd00:1::/64 to 10.20.30.0/24",
            "from fd00:1::/64 is IPv6 and to 10.20.30.0/24 is IPv4",
        ),
        (
            "map spid=305 to 10.20.30.0/24",
            "to 10.20.30.0/24 is a prefix",
        ),
        (
            "map reqid=7 from 192.168.1.0/33 to 10.20.30.0/24",
            "192.168.1.0/33: prefix length 33 is out of range (0-32)",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = xnatctl(args);
        assert_eq!((code, out.as_str()), (2, ""), "{args}");
        assert!(
            err.starts_with(&format!("xnatctl: {want}")),
            "{args}: {err}"
        );
    }
}

/// `inbound` without `from` is refused as the kernel would refuse it.
#[test]
fn inbound_without_from_is_refused_locally() {
    let (code, out, err) = xnatctl("map spid=305 to 10.20.30.2 inbound");
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with(
            "xnatctl: 'inbound' is only valid with 'from PREFIX': it admits the remote \
             side's flows to the hosts of a 1:1 mapping\nusage: xnatctl map "
        ),
        "{err}"
    );
}

/// A remote prefix without its alias's counterpart, or of another
/// length, and a zone without remote are refused before anything is sent.
#[test]
fn remote_mistakes_are_refused_locally() {
    for (args, want) in [
        (
            "map spid=305 to 10.20.30.2 remote 10.99.1.0/24",
            "xnatctl: 'remote' needs 'is PREFIX'",
        ),
        (
            "map spid=305 from 192.168.1.0/24 to 10.20.30.0/24 \
             remote 10.99.1.0/24 is 192.168.1.0/25",
            "xnatctl: remote 10.99.1.0/24 and is 192.168.1.0/25 differ in prefix length",
        ),
        (
            "map spid=305 to 10.20.30.2 zone 11",
            "xnatctl: 'zone' is only valid with 'remote ALIAS is PREFIX'",
        ),
    ] {
        let (code, out, err) = xnatctl(args);
        assert_eq!((code, out.as_str()), (2, ""), "{args}");
        assert!(err.starts_with(want), "{args}: {err}");
    }
}

#[test]
fn help_shows_the_grammar() {
    let (code, out, _) = xnatctl("map --help");
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "Usage: xnatctl map spid=N|reqid=N [name NAME] [from PREFIX] to ADDR|PREFIX \
             [remote ALIAS is PREFIX [zone N]] [inbound] [pending eagain|drop|hold] [hold-packets N] [hold-bytes N] [replace]"
        ),
        "{out}"
    );
    let (code, out, _) = xnatctl("--help");
    assert_eq!(code, 0);
    assert!(out.contains("xnatctl map spid=305 to 10.20.30.2"), "{out}");
    assert!(
        out.contains("xnatctl map spid=305 to 10.20.30.2 pending drop replace"),
        "{out}"
    );
    assert!(
        out.contains("xnatctl map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24 inbound replace"),
        "{out}"
    );
    assert!(
        out.contains("xnatctl map spid=305 to 10.20.30.2 pending hold hold-packets 500"),
        "{out}"
    );
    assert!(out.contains("xnatctl monitor"), "{out}");
    assert!(out.contains("xnatctl map reqid=7 to 10.20.30.2"), "{out}");
    assert!(
        out.contains("xnatctl map reqid 7 from 192.168.1.0/24 to 10.20.30.0/24"),
        "{out}"
    );
    let (code, out, _) = xnatctl("monitor --help");
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: xnatctl [-j [-p]] [-t] monitor [count N]"),
        "{out}"
    );
}

#[test]
fn monitor_usage_line() {
    let (code, out, err) = xnatctl("monitor count=x");
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "xnatctl: count 'x' is not a number\n\
         usage: xnatctl [-j [-p]] [-t] monitor [count N]\n"
    );
}

/// Runs xnatctl with `args` and `stdin` as its standard input.
fn xnatctl_with_input(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xnatctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xnatctl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file's mistakes are told as FILE:LINE before any socket is opened
/// (so also where the module is not loaded), with status 2 and no usage
/// line.
#[test]
fn file_mistakes_are_told_by_line() {
    let dir = std::env::temp_dir().join(format!("xnatctl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("bad.conf");
    std::fs::write(
        &conf,
        "# two good lines, then one the grammar refuses\n\
         map spid=305 to 10.20.30.2\n\
         map spid=17 to 10.9.0.17 pending drop  # trailing\n\
         map spid=25 to not-an-address\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let (code, out, err) = xnatctl_with_input(&["restore", conf], "");
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        format!("xnatctl: {conf}:4: 'not-an-address' is not an IPv4 or IPv6 address\n")
    );

    let (code, _, err) = xnatctl_with_input(
        &["restore", "-"],
        "map spid=305 to 10.20.30.2\nmap spid=305 to 10.20.30.3\n",
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: <stdin>:2: spid 305 is mapped twice (lines 1 and 2)\n"
    );
    let (code, _, err) = xnatctl_with_input(&["restore"], "\nmap spid=305 to 1.2.3.4 replace\n");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: <stdin>:2: 'replace' has no place in a restore file: \
         restore replaces the whole set\n"
    );

    let (code, _, err) = xnatctl_with_input(&["-f", "-"], "flush\nunmap spid=305\nshow\n");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: <stdin>:3: unknown command 'show' in a batch file \
         (expected: map, unmap, flush)\n"
    );

    let (code, _, err) = xnatctl_with_input(
        &["restore"],
        "map reqid=7 to 10.20.30.2\nmap spid=9 to 10.20.30.9\nmap reqid 7 to 10.20.30.3\n",
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: <stdin>:3: reqid 7 is mapped twice (lines 1 and 3)\n"
    );
    let (code, _, err) =
        xnatctl_with_input(&["-f", "-"], "unmap reqid=7\nmap reqid=0 to 10.20.30.2\n");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: <stdin>:2: reqid 0 means any to the kernel; pin a reqid in the IKE config\n"
    );

    let missing = dir.join("missing.conf");
    let missing = missing.to_str().unwrap();
    let (code, _, err) = xnatctl_with_input(&["restore", missing], "");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "xnatctl: cannot restore mappings: cannot read {missing}: No such file or directory\n"
        )
    );
    let (code, _, err) = xnatctl_with_input(&["--file", missing], "");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "xnatctl: cannot apply the batch file: cannot read {missing}: \
             No such file or directory\n"
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_usage() {
    let (code, out, err) = xnatctl("restore a.conf b.conf");
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "xnatctl: unexpected argument 'b.conf': 'restore' takes one FILE\n\
         usage: xnatctl restore [FILE]\n"
    );
    let (code, _, err) = xnatctl("save -x");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: unknown keyword '-x': 'save' takes no arguments\n\
         usage: xnatctl save\n"
    );
    let (code, _, err) = xnatctl("-f cmds unmap spid=305");
    assert_eq!(code, 2);
    assert!(
        err.contains("'-f FILE' takes no command ('unmap')"),
        "{err}"
    );
    let (code, out, _) = xnatctl("--help");
    assert_eq!(code, 0);
    for want in [
        "xnatctl [-n NETNS] -f FILE",
        "-f, --file <FILE>",
        "save ",
        "restore ",
        "xnatctl save >/etc/xfrm-nat.conf",
        "xnatctl restore /etc/xfrm-nat.conf",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let (code, out, _) = xnatctl("restore --help");
    assert_eq!(code, 0);
    assert!(out.contains("Usage: xnatctl restore [FILE]"), "{out}");
    assert!(out.contains("An empty file empties the set."), "{out}");
}

/// `completion SHELL` prints a script naming the commands, with status 0,
/// whatever else the command line says: it opens no socket and enters no
/// namespace (`-n` of a namespace that does not exist is not an error).
#[test]
fn completion_scripts() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef xnatctl"),
        ("fish", "complete -c xnatctl"),
    ] {
        for args in [
            format!("completion {shell}"),
            format!("-n xnatctl-no-such-namespace -j completion {shell}"),
        ] {
            let (code, out, err) = xnatctl(&args);
            assert_eq!((code, err.as_str()), (0, ""), "{args}");
            assert!(out.contains(marker), "{args}: {out}");
            for cmd in [
                "map",
                "unmap",
                "show",
                "flush",
                "monitor",
                "save",
                "restore",
                "completion",
            ] {
                assert!(out.contains(cmd), "{args}: no '{cmd}'");
            }
            // The keywords after the commands, new ones included.
            for word in [
                "spid",
                "reqid",
                "from",
                "to",
                "remote",
                "zone",
                "inbound",
                "pending",
                "hold-packets",
                "hold-bytes",
                "replace",
                "count",
            ] {
                assert!(out.contains(word), "{args}: no '{word}'");
            }
            for opt in ["--json", "--pretty", "--timestamp", "--netns", "--file"] {
                let opt = if shell == "fish" {
                    // fish: `-l json`.
                    opt.trim_start_matches('-')
                } else {
                    opt
                };
                assert!(out.contains(opt), "{args}: no '{opt}'");
            }
        }
    }
    let (code, out, err) = xnatctl("completion tcsh");
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
    assert!(err.contains("[possible values: bash, zsh, fish]"), "{err}");
}

/// `-n NETNS` of a namespace that does not exist: status 1 and the name,
/// before any socket is opened (so also without the module).
#[test]
fn missing_namespace() {
    let name = "xnatctl-no-such-namespace";
    for args in [
        format!("-n {name} show"),
        format!("show -j --netns {name}"),
        format!("--netns={name} flush"),
    ] {
        let (code, out, err) = xnatctl(&args);
        assert_eq!((code, out.as_str()), (1, ""), "{args}");
        assert_eq!(
            err,
            format!(
                "xnatctl: netns {name}: No such file or directory \
                 (/run/netns/{name}; 'ip netns list' lists the names)\n"
            ),
            "{args}"
        );
    }
    // Mistakes in the option itself are usage errors (status 2).
    let (code, _, err) = xnatctl("-n a/b show");
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "xnatctl: 'a/b' is not a network namespace name \
         (a name in /run/netns, as 'ip netns list' prints it)\n\
         usage: xnatctl [-j [-p]] [-s] show [spid=N|reqid=N]\n"
    );
    let (code, _, err) = xnatctl("-n a monitor -n b");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: the argument '--netns <NETNS>' cannot be used multiple times\n"),
        "{err}"
    );
}

/// `--help` tells the new options.
#[test]
fn help_tells_the_options() {
    let (code, out, _) = xnatctl("--help");
    assert_eq!(code, 0);
    for want in [
        "-p, --pretty",
        "-s, --stats",
        "-t, --timestamp",
        "-n, --netns <NETNS>",
        "completion",
        "xnatctl completion bash",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
}
