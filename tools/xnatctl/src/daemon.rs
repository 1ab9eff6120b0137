//! `xnatctl daemon`: the mappings of the child-keyed configuration
//! (`childconf`), bound to the children that strongSwan's charon reports
//! over vici, whatever reqid it assigned them.
//!
//! At start-up and on each reconnection it reconciles: charon's installed
//! children (`list-sas`) and trap policies (`list-policies`, their reqid from
//! the SPD), then the kernel's named mappings that no line names any
//! more.  Then it waits for child-updown and child-rekey events; no
//! polling.  Its only state is the configuration: the mappings are the
//! kernel's, so a restart of the daemon finds them as it left them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

use crate::args::Options;
use crate::childconf::{self, ChildLine, ChildState};
use crate::cli::Command;
use crate::error::Error;
use crate::proto::{Key, Mapping, ReportedMapping, Request};
use crate::vici::{self, Section};
use crate::{mappings, nl, open, spd};

/// What `xnatctl daemon` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub config_dir: PathBuf,
    pub vici: String,
}

/// Waits between reconnections to charon, doubling from the first to
/// the last: short, since a connection attempt to a local socket costs
/// next to nothing, and children that come back under new reqids are
/// only bound once the daemon is connected again.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_LAST: Duration = Duration::from_secs(5);
/// After an event, how long the daemon waits for more before it acts:
/// the events of a burst (charon restarting, thousands of children
/// coming up) then go to the kernel together (see `nl::request_each`).
const BURST_GAP: Duration = Duration::from_millis(20);
const BURST_MAX: usize = 4096;
/// Up to this many changes, each mapping's state is read back alone;
/// beyond, from one dump.
const READ_BACK_EACH: usize = 32;

/// Set by SIGHUP: read the configuration again.
static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn ask_reload(_: libc::c_int) {
    RELOAD.store(true, Ordering::Relaxed);
}

/// SIGHUP sets [`RELOAD`], and interrupts the wait for charon's events
/// (no SA_RESTART), so that the daemon reloads at once.
fn catch_sighup() -> anyhow::Result<()> {
    // SAFETY: an all-zero sigaction is a valid value (no flags, empty
    // mask) before the handler is filled in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = ask_reload as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is
    // async-signal-safe; `action` is initialised and outlives the call.
    let r = unsafe { libc::sigaction(libc::SIGHUP, &action, std::ptr::null_mut()) };
    match r {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()).context("cannot catch SIGHUP"),
    }
}

/// One line per action, on standard error (journald under systemd).
fn log(line: impl AsRef<str>) {
    eprintln!("{}", line.as_ref());
}

/// A child as charon reports it: `CONNECTION/CHILD` and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub name: String,
    pub state: ChildState,
}

/// What an event says of a child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Up, rekeyed, or found at start-up: map it.
    Up(Child),
    /// Gone down: its mapping stays, so that fail-closed keeps its flows
    /// from leaving in the clear.
    Down { name: String, reqid: u32 },
}

/// The child's name in a `child-sas` section `section` named
/// `section_name`: its `name`, or (charon before 5.3) the section's name,
/// which newer ones suffix with `-UNIQUEID`.
fn child_name<'a>(section_name: &'a str, section: &'a Section) -> &'a str {
    section.str("name").unwrap_or(section_name)
}

/// The name of a child's mapping: `CONNECTION/CHILD`, and for an IKE SA
/// to which this end gave a virtual IP (a responder that road warriors
/// share one connection of) `CONNECTION/CHILD@VIP`, its first remote
/// virtual IP, so that each peer's child has a mapping of its own, under
/// a name that stays while the pool leases the peer that address.
fn instance_name(conn: &str, child: &str, ike: &Section) -> String {
    match ike.list("remote-vips").iter().find_map(|v| v.parse::<std::net::IpAddr>().ok()) {
        Some(vip) => format!("{conn}/{child}@{vip}"),
        None => format!("{conn}/{child}"),
    }
}

/// The state of `child` of the IKE SA `ike`.
fn child_state(ike: &Section, child: &Section) -> ChildState {
    ChildState {
        reqid: child.str("reqid").and_then(|r| r.parse().ok()).unwrap_or(0),
        vips: ike
            .list("local-vips")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect(),
        local_ts: child.list("local-ts").to_vec(),
        remote_ts: child.list("remote-ts").to_vec(),
    }
}

/// The children of the IKE SAs of `msg` (list-sa, child-updown,
/// child-rekey: a section per IKE SA, named after its connection, with
/// a `child-sas` section), each given by `pick` from its section (for
/// child-rekey, the `new` one).
fn children_of<'a>(
    msg: &'a Section,
    pick: impl Fn(&'a Section) -> Option<&'a Section>,
) -> Vec<(String, &'a Section, &'a Section)> {
    let mut out = Vec::new();
    for (conn, ike) in msg.sections() {
        let Some(children) = ike.section("child-sas") else {
            continue;
        };
        for (section_name, section) in children.sections() {
            let Some(child) = pick(section) else {
                continue;
            };
            let name = instance_name(conn, child_name(section_name, child), ike);
            out.push((name, ike, child));
        }
    }
    out
}

/// What the event `event` (its message `msg`) says of children; nothing
/// for other events.
pub fn updates_of_event(event: &str, msg: &Section) -> Vec<Update> {
    let up = msg.str("up") == Some("yes");
    let rekey = match event {
        "child-updown" => false,
        "child-rekey" => true,
        _ => return Vec::new(),
    };
    children_of(msg, |s| match rekey {
        true => s.section("new"),
        false => Some(s),
    })
    .into_iter()
    .map(|(name, ike, child)| {
        let state = child_state(ike, child);
        match rekey || up {
            true => Update::Up(Child { name, state }),
            false => Update::Down {
                name,
                reqid: state.reqid,
            },
        }
    })
    .collect()
}

/// The installed children of a `list-sa` message.
pub fn children_of_listing(msg: &Section) -> Vec<Child> {
    children_of(msg, Some)
        .into_iter()
        .filter(|(_, _, child)| {
            !matches!(
                child.str("state"),
                Some("DELETING" | "DELETED" | "DESTROYING")
            )
        })
        .map(|(name, ike, child)| Child {
            name,
            state: child_state(ike, child),
        })
        .filter(|c| c.state.reqid != 0)
        .collect()
}

/// A trap policy of a `list-policy` message: its child's name and
/// selectors.  Its section is `CONN/CHILD` with keys `ike` and `child`
/// (before 5.6, only the child's name).
pub fn traps_of_listing(msg: &Section) -> Vec<(String, Section)> {
    msg.sections()
        .map(|(section_name, s)| {
            let name = match (s.str("ike"), s.str("child")) {
                (Some(ike), Some(child)) => format!("{ike}/{child}"),
                _ => section_name.to_string(),
            };
            (name, s.clone())
        })
        .collect()
}

/// The reqid of a trap policy, from the SPD: that of the out policy
/// between its first pair of selectors that are prefixes.
fn trap_reqid(policies: &[spd::OutPolicy], trap: &Section) -> Option<u32> {
    let prefix = |ts: &String| childconf::ts_prefix(ts);
    let local = trap.list("local-ts").iter().filter_map(prefix);
    let remote: Vec<_> = trap.list("remote-ts").iter().filter_map(prefix).collect();
    for src in local {
        for dst in &remote {
            if let Some(reqid) = spd::reqid_of(policies, src, *dst) {
                return Some(reqid);
            }
        }
    }
    None
}

/// The line of a child's mapping in the log: `home/net: reqid 3, to
/// 10.3.0.1`.
pub fn subject(name: &str, mapping: &Mapping) -> String {
    match &mapping.target {
        Some(target) => format!("{name}: reqid {}, {target}", mapping.key.value()),
        None => format!("{name}: reqid {}", mapping.key.value()),
    }
}

/// The mapping requests of `children` (the last state of each wins) that
/// have a line, their decisions and warnings logged.
fn plan(lines: &[ChildLine], children: Vec<Child>) -> Vec<(String, Mapping)> {
    let mut last: Vec<Child> = Vec::new();
    for child in children {
        last.retain(|c| c.name != child.name);
        last.push(child);
    }
    let mut planned = Vec::new();
    for child in last {
        let Some(line) = childconf::line_of(lines, &child.name) else {
            continue;
        };
        match childconf::mapping(line, &child.state) {
            Ok(plan) => {
                for warning in &plan.warnings {
                    log(format!(
                        "{}: warning: {warning}",
                        subject(&child.name, &plan.mapping)
                    ));
                }
                planned.push((child.name, plan.mapping));
            }
            Err(why) => log(format!(
                "{}: reqid {}: not mapped ({}): {why}",
                child.name, child.state.reqid, line.origin
            )),
        }
    }
    planned
}

/// Send the mappings `planned` (each replacing its key's and its name's),
/// then log what became of each: mapped, inactive with the kernel's
/// reason, or refused.
fn bind(kernel: &mut nl::Conn, planned: Vec<(String, Mapping)>) -> Result<(), Error> {
    if planned.is_empty() {
        return Ok(());
    }
    let reqs: Vec<Request> = planned
        .iter()
        .map(|(_, mapping)| Request::MapNew {
            mapping: mapping.clone(),
            replace: true,
        })
        .collect();
    let outcomes = kernel.request_each(&reqs);
    let mut done = Vec::new();
    for ((name, mapping), outcome) in planned.into_iter().zip(outcomes) {
        match outcome {
            Ok(()) => done.push((name, mapping)),
            Err(e) => {
                let cmd = Command::Map {
                    mapping: mapping.clone(),
                    replace: true,
                };
                log(format!(
                    "{}: refused: {}",
                    subject(&name, &mapping),
                    e.message(&cmd)
                ));
            }
        }
    }
    let states = read_back(kernel, &done)?;
    for (name, mapping) in done {
        let line = subject(&name, &mapping);
        match states.get(&mapping.key).and_then(|r| r.reason.as_deref()) {
            Some(reason) => log(format!("{line}: inactive: {reason}")),
            None => log(format!("{line}: mapped")),
        }
    }
    Ok(())
}

/// The kernel's report of the mappings of `done`, by key.
fn read_back(
    kernel: &mut nl::Conn,
    done: &[(String, Mapping)],
) -> Result<HashMap<Key, ReportedMapping>, Error> {
    let reported = match done.len() {
        0 => Vec::new(),
        n if n <= READ_BACK_EACH => {
            let mut all = Vec::new();
            for (_, mapping) in done {
                all.extend(mappings(
                    kernel.request(&Request::MapGet { key: mapping.key })?,
                )?);
            }
            all
        }
        _ => mappings(kernel.request(&Request::MapDump)?)?,
    };
    Ok(reported.into_iter().map(|r| (r.mapping.key, r)).collect())
}

/// Delete the kernel's named mappings that no line names: the
/// configuration is what removes a mapping.
fn prune(kernel: &mut nl::Conn, lines: &[ChildLine]) -> Result<(), Error> {
    let stale: Vec<(String, Key)> = mappings(kernel.dump_snapshot()?)?
        .into_iter()
        .filter_map(|r| Some((r.mapping.name?, r.mapping.key)))
        .filter(|(name, _)| childconf::line_of(lines, name).is_none())
        .collect();
    let reqs: Vec<Request> = stale
        .iter()
        .map(|(_, key)| Request::MapDel { key: *key })
        .collect();
    for ((name, key), outcome) in stale.iter().zip(kernel.request_each(&reqs)) {
        match outcome {
            Ok(()) => log(format!(
                "{name}: {key}: unmapped: no line of the configuration names it"
            )),
            Err(e) => log(format!(
                "{name}: {key}: cannot unmap: {}",
                e.message(&Command::Unmap { key: *key })
            )),
        }
    }
    Ok(())
}

/// Bind every configured child charon has now, installed or trapped;
/// then delete the mappings of children the configuration lost.
fn reconcile(kernel: &mut nl::Conn, lines: &[ChildLine], socket: &str) -> anyhow::Result<()> {
    let mut query = vici::Client::connect(socket)?;
    let sas = query.stream("list-sas", "list-sa", &[("noblock", "yes")])?;
    let mut children: Vec<Child> = sas.iter().flat_map(children_of_listing).collect();
    let pols = query.stream("list-policies", "list-policy", &[("trap", "yes")])?;
    let traps: Vec<(String, Section)> = pols
        .iter()
        .flat_map(traps_of_listing)
        .filter(|(name, _)| !children.iter().any(|c| &c.name == name))
        .filter(|(name, _)| childconf::line_of(lines, name).is_some())
        .collect();
    if !traps.is_empty() {
        let policies = spd::out_policies()?;
        for (name, trap) in traps {
            match trap_reqid(&policies, &trap) {
                Some(reqid) => children.push(Child {
                    name,
                    state: ChildState {
                        reqid,
                        vips: Vec::new(),
                        local_ts: trap.list("local-ts").to_vec(),
                        remote_ts: trap.list("remote-ts").to_vec(),
                    },
                }),
                None => log(format!(
                    "{name}: trap policy without an out policy in the SPD"
                )),
            }
        }
    }
    bind(kernel, plan(lines, children))
        .map_err(|e| anyhow::anyhow!("{}", e.message(&Command::Save)))?;
    prune(kernel, lines).map_err(|e| anyhow::anyhow!("{}", e.message(&Command::Save)))?;
    Ok(())
}

/// The configuration again, if SIGHUP asked for it: whether it did.  A
/// configuration with a mistake is logged and the previous one kept.
fn reload_if_asked(settings: &Settings, lines: &mut Vec<ChildLine>) -> bool {
    if !RELOAD.swap(false, Ordering::Relaxed) {
        return false;
    }
    match childconf::load_dir(&settings.config_dir) {
        Ok(new) => {
            log(format!(
                "reloaded {}: {} child(ren) configured",
                settings.config_dir.display(),
                new.len()
            ));
            *lines = new;
        }
        Err(e) => log(format!(
            "not reloaded, the previous configuration stays: {}",
            e.0
        )),
    }
    true
}

/// The events that follow a first one within [`BURST_GAP`] of each
/// other, up to [`BURST_MAX`]; and the error that ended the connection,
/// if one did.
fn gather_burst(
    events: &mut vici::Client,
    burst: &mut Vec<vici::Packet>,
) -> anyhow::Result<Option<std::io::Error>> {
    events.set_read_timeout(Some(BURST_GAP))?;
    let mut ended = None;
    while burst.len() < BURST_MAX {
        match events.recv() {
            Ok(p) => burst.push(p),
            Err(e) if vici::is_pause(&e) => break,
            Err(e) => {
                ended = Some(e);
                break;
            }
        }
    }
    events.set_read_timeout(None)?;
    Ok(ended)
}

/// Connected to charon: reconcile, then follow its events until the
/// connection ends (an error, for the caller to reconnect).
fn session(
    settings: &Settings,
    lines: &mut Vec<ChildLine>,
    kernel: &mut nl::Conn,
    backoff: &mut Duration,
) -> anyhow::Result<Infallible> {
    // Registered before the listings, so that no change falls between.
    let mut events = vici::Client::connect(&settings.vici)?;
    events.register("child-updown")?;
    events.register("child-rekey")?;
    reload_if_asked(settings, lines);
    reconcile(kernel, lines, &settings.vici)?;
    log(format!(
        "connected to charon at {}, reconciled",
        settings.vici
    ));
    *backoff = BACKOFF_FIRST;
    loop {
        let first = match events.recv() {
            Ok(p) => p,
            Err(e) if vici::is_pause(&e) => {
                if reload_if_asked(settings, lines) {
                    reconcile(kernel, lines, &settings.vici)?;
                }
                continue;
            }
            Err(e) => return Err(e).context("lost the connection to charon"),
        };
        let mut burst = vec![first];
        let ended = gather_burst(&mut events, &mut burst)?;
        let mut ups = Vec::new();
        for p in burst.iter().filter(|p| vici::is_event(p)) {
            for update in updates_of_event(&p.name, &p.message) {
                match update {
                    Update::Up(child) => ups.push(child),
                    Update::Down { name, reqid } if childconf::line_of(lines, &name).is_some() => {
                        log(format!("{name}: reqid {reqid}: down; its mapping stays"))
                    }
                    Update::Down { .. } => {}
                }
            }
        }
        bind(kernel, plan(lines, ups))
            .map_err(|e| anyhow::anyhow!("{}", e.message(&Command::Save)))?;
        if let Some(e) = ended {
            return Err(e).context("lost the connection to charon");
        }
    }
}

/// `xnatctl daemon`: runs until killed.  A mistake in the configuration
/// at start-up, or a kernel without the module, ends it; charon going
/// away does not: it reconnects, with a growing wait.
pub fn run(settings: &Settings, opts: &Options) -> Result<(), Error> {
    let mut lines = childconf::load_dir(&settings.config_dir)?;
    let mut kernel = open(opts)?;
    catch_sighup()?;
    log(format!(
        "{}: {} child(ren) configured",
        settings.config_dir.display(),
        lines.len()
    ));
    let mut backoff = BACKOFF_FIRST;
    loop {
        let Err(e) = session(settings, &mut lines, &mut kernel, &mut backoff);
        log(format!("charon: {e:#}; again in {} s", backoff.as_secs()));
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(BACKOFF_LAST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vici::decode_message;
    use crate::vici::tests::Builder;

    fn ike_with_child(b: &mut Builder, conn: &str, vip: &[&str], child: &str, reqid: &str) {
        b.begin(conn)
            .kv("uniqueid", "1")
            .list("local-vips", vip)
            .begin("child-sas")
            .begin(&format!("{child}-4"))
            .kv("name", child)
            .kv("reqid", reqid)
            .kv("state", "INSTALLED")
            .list("local-ts", &["10.3.0.1/32"])
            .list("remote-ts", &["10.0.0.0/8"])
            .end()
            .end()
            .end();
    }

    #[test]
    fn child_updown_up_and_down() {
        let mut b = Builder::default();
        b.kv("up", "yes");
        ike_with_child(&mut b, "home", &["10.3.0.1"], "net", "3");
        let msg = decode_message(&b.0).expect("decodes");
        let want = Child {
            name: "home/net".into(),
            state: ChildState {
                reqid: 3,
                vips: vec!["10.3.0.1".parse().expect("address")],
                local_ts: vec!["10.3.0.1/32".into()],
                remote_ts: vec!["10.0.0.0/8".into()],
            },
        };
        assert_eq!(updates_of_event("child-updown", &msg), [Update::Up(want)]);
        let mut b = Builder::default();
        ike_with_child(&mut b, "home", &[], "net", "3");
        let msg = decode_message(&b.0).expect("decodes");
        assert_eq!(
            updates_of_event("child-updown", &msg),
            [Update::Down {
                name: "home/net".into(),
                reqid: 3
            }]
        );
        assert!(updates_of_event("ike-updown", &msg).is_empty());
    }

    #[test]
    fn a_responders_children_are_named_after_the_peers_virtual_ips() {
        let mut b = Builder::default();
        b.kv("up", "yes");
        for (id, vip, reqid) in [("1", "10.3.0.1", "5"), ("2", "10.3.0.2", "6")] {
            b.begin("rw")
                .kv("uniqueid", id)
                .list("remote-vips", &[vip])
                .begin("child-sas")
                .begin("net-1")
                .kv("name", "net")
                .kv("reqid", reqid)
                .end()
                .end()
                .end();
        }
        let msg = decode_message(&b.0).expect("decodes");
        let names: Vec<String> = children_of_listing(&msg).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["rw/net@10.3.0.1", "rw/net@10.3.0.2"]);
        // Both are the line of rw/net.
        let lines = childconf::parse_file("t.conf", b"map child=rw/net to 192.0.2.1\n").expect("parses");
        assert!(names.iter().all(|n| childconf::line_of(&lines, n).is_some()));
    }

    #[test]
    fn child_rekey_takes_the_new_sa() {
        let mut b = Builder::default();
        b.begin("office")
            .begin("child-sas")
            .begin("lan-9")
            .begin("old")
            .kv("name", "lan")
            .kv("reqid", "5")
            .end()
            .begin("new")
            .kv("name", "lan")
            .kv("reqid", "5")
            .list("local-ts", &["10.20.0.0/16"])
            .end()
            .end()
            .end()
            .end();
        let msg = decode_message(&b.0).expect("decodes");
        let updates = updates_of_event("child-rekey", &msg);
        let [Update::Up(child)] = updates.as_slice() else {
            panic!("{updates:?}");
        };
        assert_eq!(child.name, "office/lan");
        assert_eq!(child.state.reqid, 5);
        assert_eq!(child.state.local_ts, ["10.20.0.0/16"]);
    }

    #[test]
    fn listings() {
        let mut b = Builder::default();
        ike_with_child(&mut b, "a", &[], "x", "7");
        ike_with_child(&mut b, "b", &[], "y", "0");
        let msg = decode_message(&b.0).expect("decodes");
        let children = children_of_listing(&msg);
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].name, "a/x");
        let mut b = Builder::default();
        b.begin("gw/lan")
            .kv("child", "lan")
            .kv("ike", "gw")
            .list("local-ts", &["10.1.0.0/16"])
            .list("remote-ts", &["10.2.0.0/16"])
            .end();
        let traps = traps_of_listing(&decode_message(&b.0).expect("decodes"));
        assert_eq!(traps[0].0, "gw/lan");
        let out = spd::OutPolicy {
            src: childconf::ts_prefix("10.1.0.0/16").expect("prefix"),
            dst: childconf::ts_prefix("10.2.0.0/16").expect("prefix"),
            reqids: vec![11],
        };
        assert_eq!(trap_reqid(&[out], &traps[0].1), Some(11));
    }

    #[test]
    fn plans_the_configured_children_once() {
        let lines = childconf::parse_file("t", b"map child=home/net to vip\n").expect("parses");
        let child = |reqid, vip: &str| Child {
            name: "home/net".into(),
            state: ChildState {
                reqid,
                vips: vec![vip.parse().expect("address")],
                ..ChildState::default()
            },
        };
        let other = Child {
            name: "other/net".into(),
            ..child(9, "10.9.9.9")
        };
        let planned = plan(
            &lines,
            vec![child(3, "10.3.0.1"), other, child(4, "10.3.0.2")],
        );
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].1.key, Key::Reqid(4));
        assert_eq!(planned[0].1.name.as_deref(), Some("home/net"));
    }
}
