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
         usage: xnatctl map spid=N to ADDR [pending eagain|drop|hold] \
         [hold-packets N] [hold-bytes N] [replace]\n"
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

#[test]
fn help_shows_the_grammar() {
    let (code, out, _) = xnatctl("map --help");
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "Usage: xnatctl map spid=N to ADDR [pending eagain|drop|hold] \
             [hold-packets N] [hold-bytes N] [replace]"
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
        out.contains("xnatctl map spid=305 to 10.20.30.2 pending hold hold-packets 500"),
        "{out}"
    );
    assert!(out.contains("xnatctl monitor"), "{out}");
    let (code, out, _) = xnatctl("monitor --help");
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: xnatctl [-j] monitor [count N]"),
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
         usage: xnatctl [-j] monitor [count N]\n"
    );
}
