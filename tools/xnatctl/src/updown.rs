//! `xnatctl updown`: libreswan's `leftupdown=` hook.  pluto runs it at
//! each step of a connection with the step in PLUTO_VERB and the
//! connection in the other PLUTO_* variables; on the steps that install
//! the connection's policies (route-*, up-*) it maps the connection's
//! line of the child-keyed configuration, as `xnatctl daemon` does for
//! strongSwan; on the others it leaves the mapping as it is.  With
//! `--chain SCRIPT` it then runs SCRIPT (libreswan's own
//! /usr/libexec/ipsec/_updown), with the same environment and arguments.

use std::path::PathBuf;

use crate::args::Options;
use crate::childconf::{self, ChildState};
use crate::cli::Command;
use crate::error::Error;
use crate::proto::Request;
use crate::{daemon, mappings, open, spd};

/// What `xnatctl updown` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub config_dir: PathBuf,
    /// The script to run after, and its arguments.
    pub chain: Option<String>,
    pub args: Vec<String>,
}

/// What a call of the hook asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The connection's policies are being installed (route-*) or its SA
    /// came up (up-*): map it with this state.
    Map {
        connection: String,
        /// With PLUTO_SA_REQID as the reqid, which `act` checks
        /// against the SPD ([`reqid_in_spd`]).
        state: ChildState,
        /// Whether the SA has ESP (PLUTO_SA_TYPE is not AH alone).
        esp: bool,
    },
    /// The connection goes down or is unrouted: its mapping stays, so
    /// that fail-closed keeps its flows from leaving in the clear.
    Keep { connection: String },
    /// Any other step (prepare-*), or a verb this xnatctl does not know.
    Nothing,
}

/// The highest reqid libreswan takes as it is: one it picks itself is
/// above, a base of four (its `gen_reqid()`).
const MANUAL_REQID_MAX: u32 = 0x3fff;

/// The reqids pluto's out policy may have, most likely first:
/// PLUTO_SA_REQID itself (libreswan 5 gives the ESP SA's), then, for a
/// reqid pluto picked, the base's ESP reqid, base + 1 (libreswan 4 gives
/// the connection's base, and its `reqid_esp()` adds one; AH alone keeps
/// the base).
fn candidate_reqids(given: u32, esp: bool) -> impl Iterator<Item = u32> {
    let plus_one = (esp && given > MANUAL_REQID_MAX).then(|| given.wrapping_add(1));
    core::iter::once(given).chain(plus_one)
}

/// Of the candidates, the first that a template of an out policy of the
/// SPD has; else PLUTO_SA_REQID as it is (no policy has either yet, e.g.
/// libreswan 4's trap, whose template has reqid 0: the up step that
/// follows maps again).
fn reqid_in_spd(given: u32, esp: bool, policies: &[spd::OutPolicy]) -> u32 {
    candidate_reqids(given, esp)
        .find(|r| policies.iter().any(|p| p.reqids.contains(r)))
        .unwrap_or(given)
}

/// The step that the PLUTO_* variables (`var` reads one) describe.
/// PLUTO_SA_REQID is libreswan's name (PLUTO_REQID is taken too).
pub fn step(var: impl Fn(&str) -> Option<String>) -> Result<Step, String> {
    let verb = var("PLUTO_VERB").ok_or("PLUTO_VERB is not set: not run by pluto?")?;
    let verb = verb.strip_suffix("-v6").unwrap_or(&verb);
    let connection = || var("PLUTO_CONNECTION").ok_or("PLUTO_CONNECTION is not set");
    match verb {
        "route-client" | "route-host" | "up-client" | "up-host" => {
            let reqid = var("PLUTO_SA_REQID")
                .or_else(|| var("PLUTO_REQID"))
                .ok_or("PLUTO_SA_REQID is not set")?;
            let reqid: u32 = reqid
                .parse()
                .map_err(|_| format!("PLUTO_SA_REQID '{reqid}' is not a number"))?;
            let esp = !var("PLUTO_SA_TYPE").is_some_and(|t| t.contains("AH") && !t.contains("ESP"));
            let list = |name| var(name).into_iter().filter(|v| !v.is_empty()).collect();
            let vips = var("PLUTO_MY_SOURCEIP")
                .iter()
                .flat_map(|v| v.split([',', ' ']))
                .filter_map(|v| v.parse().ok())
                .collect();
            Ok(Step::Map {
                connection: connection()?,
                esp,
                state: ChildState {
                    reqid,
                    vips,
                    local_ts: list("PLUTO_MY_CLIENT"),
                    remote_ts: list("PLUTO_PEER_CLIENT"),
                },
            })
        }
        "down-client" | "down-host" | "unroute-client" | "unroute-host" => Ok(Step::Keep {
            connection: connection()?,
        }),
        _ => Ok(Step::Nothing),
    }
}

/// The line of `connection`: its own, or for an instance of a template
/// (`rw[3]`), the template's.
fn line_of<'a>(
    lines: &'a [childconf::ChildLine],
    connection: &str,
) -> Option<&'a childconf::ChildLine> {
    childconf::line_of(lines, connection).or_else(|| {
        let template = connection.split_once('[')?.0;
        childconf::line_of(lines, template)
    })
}

/// Map what the step asks for; the log line of what was done.
fn act(settings: &Settings, opts: &Options, step: Step) -> Result<Option<String>, Error> {
    let (connection, state) = match step {
        Step::Nothing => return Ok(None),
        Step::Keep { connection } => {
            return Ok(Some(format!("{connection}: down; its mapping stays")))
        }
        Step::Map { connection, mut state, esp } => {
            // The SPD tells which reqid pluto's policy has; without it,
            // PLUTO_SA_REQID as it is.
            match spd::out_policies() {
                Ok(policies) => state.reqid = reqid_in_spd(state.reqid, esp, &policies),
                Err(e) => eprintln!("{connection}: warning: cannot read the SPD ({e:#}): reqid {} as pluto gave it", state.reqid),
            }
            (connection, state)
        }
    };
    let lines = childconf::load_dir(&settings.config_dir)?;
    let Some(line) = line_of(&lines, &connection) else {
        return Ok(None);
    };
    let plan = childconf::mapping(line, &state).map_err(|why| {
        Error::Refused(format!(
            "{connection}: reqid {}: not mapped ({}): {why}",
            state.reqid, line.origin
        ))
    })?;
    let mut mapping = plan.mapping;
    // An instance of a template gets a name of its own: names are unique.
    mapping.name = Some(connection.clone());
    let what = daemon::subject(&connection, &mapping);
    for warning in &plan.warnings {
        eprintln!("{what}: warning: {warning}");
    }
    let mut kernel = open(opts)?;
    let cmd = Command::Map {
        mapping: mapping.clone(),
        replace: true,
    };
    kernel
        .request(&Request::MapNew {
            mapping: mapping.clone(),
            replace: true,
        })
        .map_err(|e| Error::Refused(format!("{what}: refused: {}", e.message(&cmd))))?;
    let reported = mappings(kernel.request(&Request::MapGet { key: mapping.key })?)?;
    Ok(Some(
        match reported.first().and_then(|r| r.reason.as_deref()) {
            Some(reason) => format!("{what}: inactive: {reason}"),
            None => format!("{what}: mapped"),
        },
    ))
}

/// Run the chained script with the same environment and arguments; its
/// exit status.
fn chain(script: &str, args: &[String]) -> Result<std::process::ExitStatus, Error> {
    std::process::Command::new(script)
        .args(args)
        .status()
        .map_err(|e| Error::Refused(format!("cannot run {script}: {e}")))
}

/// `xnatctl updown`: the mapping first (fail-closed: its flows are held
/// from the moment the policies exist), then the chained script, which
/// runs even when the mapping failed, so that the connection's routes
/// and addresses do not depend on xfrm_nat.  The first failure is the
/// outcome.
pub fn run(settings: &Settings, opts: &Options) -> Result<(), Error> {
    let mapped = step(|name| std::env::var(name).ok())
        .map_err(Error::Refused)
        .and_then(|s| act(settings, opts, s));
    if let Ok(Some(line)) = &mapped {
        eprintln!("{line}");
    }
    let chained = match &settings.chain {
        Some(script) => chain(script, &settings.args)?,
        None => return mapped.map(drop),
    };
    mapped?;
    match chained.success() {
        true => Ok(()),
        false => Err(Error::Refused(format!(
            "{}: {chained}",
            settings.chain.as_deref().unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn step_of(vars: &[(&str, &str)]) -> Result<Step, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        step(|name| vars.get(name).cloned())
    }

    #[test]
    fn up_and_route_map() {
        for verb in ["up-client", "route-client", "up-host-v6", "route-host"] {
            let s = step_of(&[
                ("PLUTO_VERB", verb),
                ("PLUTO_CONNECTION", "office"),
                ("PLUTO_SA_REQID", "16388"),
                ("PLUTO_MY_SOURCEIP", "10.3.0.1"),
                ("PLUTO_MY_CLIENT", "10.3.0.1/32"),
                ("PLUTO_PEER_CLIENT", "10.0.0.0/8"),
            ]);
            assert_eq!(
                s,
                Ok(Step::Map {
                    connection: "office".into(),
                    esp: true,
                    state: ChildState {
                        reqid: 16388,
                        vips: vec!["10.3.0.1".parse().expect("address")],
                        local_ts: vec!["10.3.0.1/32".into()],
                        remote_ts: vec!["10.0.0.0/8".into()],
                    }
                }),
                "{verb}"
            );
        }
    }

    #[test]
    fn the_reqid_is_the_one_pluto_s_policy_has() {
        let prefix = |a: &str, len| crate::proto::Prefix { addr: a.parse().expect("address"), len };
        let policy = |reqid: u32| spd::OutPolicy {
            src: prefix("10.20.30.3", 32),
            dst: prefix("10.0.0.0", 8),
            reqids: vec![reqid],
        };
        // libreswan 5 gives the ESP SA's reqid: as it is.
        assert_eq!(reqid_in_spd(16393, true, &[policy(16389), policy(16393)]), 16393);
        // libreswan 4 gives the base of one it picked: ESP is base + 1.
        assert_eq!(reqid_in_spd(16392, true, &[policy(16389), policy(16393)]), 16393);
        // AH alone keeps the base; a pinned one is as it is.
        assert_eq!(reqid_in_spd(16392, false, &[policy(16393)]), 16392);
        assert_eq!(reqid_in_spd(100, true, &[policy(101)]), 100);
        // No policy has either yet (libreswan 4's trap, reqid 0).
        assert_eq!(reqid_in_spd(16392, true, &[policy(0)]), 16392);
    }

    #[test]
    fn down_keeps_and_others_do_nothing() {
        for verb in ["down-client", "unroute-host-v6"] {
            let s = step_of(&[("PLUTO_VERB", verb), ("PLUTO_CONNECTION", "office")]);
            assert_eq!(
                s,
                Ok(Step::Keep {
                    connection: "office".into()
                })
            );
        }
        assert_eq!(
            step_of(&[("PLUTO_VERB", "prepare-client")]),
            Ok(Step::Nothing)
        );
    }

    #[test]
    fn missing_or_bad_variables() {
        assert!(step_of(&[]).is_err());
        let no_reqid = step_of(&[("PLUTO_VERB", "up-client"), ("PLUTO_CONNECTION", "c")]);
        assert_eq!(no_reqid, Err("PLUTO_SA_REQID is not set".into()));
        let old_name = step_of(&[
            ("PLUTO_VERB", "up-client"),
            ("PLUTO_CONNECTION", "c"),
            ("PLUTO_REQID", "7"),
            ("PLUTO_MY_SOURCEIP", ""),
        ]);
        assert!(
            matches!(old_name, Ok(Step::Map { state, .. }) if state.reqid == 7 && state.vips.is_empty())
        );
        let bad = step_of(&[
            ("PLUTO_VERB", "up-client"),
            ("PLUTO_CONNECTION", "c"),
            ("PLUTO_SA_REQID", "x"),
        ]);
        assert!(bad.is_err());
    }

    #[test]
    fn instances_take_their_templates_line() {
        let lines = childconf::parse_file("t", b"map child=rw to vip\n").expect("parses");
        assert!(line_of(&lines, "rw[3]").is_some());
        assert!(line_of(&lines, "rw").is_some());
        assert!(line_of(&lines, "other[1]").is_none());
    }
}
