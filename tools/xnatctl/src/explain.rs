//! `xnatctl explain from ADDR to ADDR [udp|tcp|icmp|proto N] [sport N]
//! [dport N]`: asks the kernel what it would do with a new flow now, and
//! prints its answer.  Every verdict here is the kernel's (the explain
//! operation); this only puts its attributes into words or JSON.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::args::Options;
use crate::error::Error;
use crate::output::JsonStyle;
use crate::print;
use crate::proto::{ExplainAttr, ExplainCandidateAttr, Key};
use crate::uapi::{explain_outcome, explain_why, name_of, pending_mode};

/// The flow of an `explain` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol; 0: none given.
    pub proto: u8,
    /// Ports, or ICMP type (`sport`) and code (`dport`).
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

impl Flow {
    fn attrs(&self) -> Vec<ExplainAttr> {
        let mut attrs = vec![ExplainAttr::Src(self.src), ExplainAttr::Dst(self.dst)];
        if self.proto != 0 {
            attrs.push(ExplainAttr::Proto(self.proto));
        }
        attrs.extend(self.sport.map(ExplainAttr::Sport));
        attrs.extend(self.dport.map(ExplainAttr::Dport));
        attrs
    }
}

/// A mapping, and why the kernel says it takes the flow or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub key: Option<Key>,
    pub why: Option<u8>,
    pub reason: String,
}

/// The kernel's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    pub outcome: Option<u8>,
    pub key: Option<Key>,
    pub addr: Option<IpAddr>,
    pub remote_dst: Option<IpAddr>,
    pub policy: Option<u32>,
    pub spis: Vec<u32>,
    pub pending: Option<u8>,
    pub detail: Option<String>,
    pub candidates: Vec<Candidate>,
    pub omitted: u32,
}

impl Explanation {
    pub fn from_attrs(attrs: Vec<ExplainAttr>) -> Explanation {
        let mut e = Explanation::default();
        for a in attrs {
            match a {
                ExplainAttr::Outcome(v) => e.outcome = Some(v),
                ExplainAttr::Spid(v) => e.key = Some(Key::Spid(v)),
                ExplainAttr::Reqid(v) => e.key = Some(Key::Reqid(v)),
                ExplainAttr::Addr(v) => e.addr = Some(v),
                ExplainAttr::RemoteDst(v) => e.remote_dst = Some(v),
                ExplainAttr::Policy(v) => e.policy = Some(v),
                ExplainAttr::Spi(v) => e.spis.push(v),
                ExplainAttr::Pending(v) => e.pending = Some(v),
                ExplainAttr::Detail(v) => e.detail = Some(v),
                ExplainAttr::Candidate(nest) => e.candidates.push(candidate(nest)),
                ExplainAttr::Omitted(v) => e.omitted = v,
                _ => {}
            }
        }
        e
    }
}

fn candidate(attrs: Vec<ExplainCandidateAttr>) -> Candidate {
    let mut c = Candidate { key: None, why: None, reason: String::new() };
    for a in attrs {
        match a {
            ExplainCandidateAttr::Spid(v) => c.key = Some(Key::Spid(v)),
            ExplainCandidateAttr::Reqid(v) => c.key = Some(Key::Reqid(v)),
            ExplainCandidateAttr::Why(v) => c.why = Some(v),
            ExplainCandidateAttr::Reason(v) => c.reason = v,
            ExplainCandidateAttr::Other(_) => {}
        }
    }
    c
}

/// `explain`: ask, then print the answer as text or, with -j, JSON.
pub fn run(conn: &mut crate::nl::Conn, flow: &Flow, opts: &Options) -> Result<(), Error> {
    let e = Explanation::from_attrs(conn.explain(flow.attrs())?);
    let text = match print::json_style(opts) {
        Some(style) => {
            let v = to_json(&e);
            print::json_text(match style {
                JsonStyle::Compact => serde_json::to_string(&v),
                JsonStyle::Pretty => serde_json::to_string_pretty(&v),
            })? + "\n"
        }
        None => to_text(&e),
    };
    print::print_out(text.as_bytes()).map_err(print::print_error)
}

fn outcome_name(e: &Explanation) -> &'static str {
    e.outcome.and_then(|o| name_of(&explain_outcome::NAMES, o)).unwrap_or("unknown")
}

fn pending_name(mode: u8) -> &'static str {
    name_of(&pending_mode::NAMES, mode).unwrap_or("unknown")
}

/// What a pending mode does with the flow's packet, in the words of the
/// man page.
fn pending_effect(mode: u8) -> &'static str {
    match mode {
        pending_mode::EAGAIN => {
            "a blocking local sender gets EAGAIN; a non-blocking one's packet waits for the SA; \
             a forwarded packet is dropped"
        }
        pending_mode::DROP => "the packet is dropped",
        pending_mode::HOLD => "the packet is held, translated, until the SA is installed",
        _ => "unknown mode",
    }
}

/// The kernel's answer in words: the verdict, then each mapping and why.
pub fn to_text(e: &Explanation) -> String {
    let mut out = String::new();
    let detail = e.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
    let verdict = match e.outcome {
        Some(explain_outcome::NAT) => "nat".to_string(),
        Some(explain_outcome::PENDING) => {
            let mode = e.pending.unwrap_or(pending_mode::EAGAIN);
            format!("pending, mode {}: {}", pending_name(mode), pending_effect(mode))
        }
        Some(explain_outcome::DECLINED) => format!("declined, leaves untranslated{detail}"),
        Some(explain_outcome::FAIL_CLOSED_DROP) => format!("fail-closed drop (EHOSTUNREACH){detail}"),
        Some(explain_outcome::UNTOUCHED) if e.detail.is_none() => "untouched: no mapping takes it".to_string(),
        _ => format!("{}{detail}", outcome_name(e)),
    };
    let _ = writeln!(out, "verdict: {verdict}");
    if let Some(key) = e.key {
        let _ = writeln!(out, "mapping: {key}");
    }
    if let Some(dst) = e.remote_dst {
        let _ = writeln!(out, "remote:  {dst} (the destination the alias stands for)");
    }
    if let Some(addr) = e.addr {
        let _ = writeln!(out, "address: {addr}");
    }
    if let Some(policy) = e.policy {
        let _ = writeln!(out, "policy:  {policy}");
    }
    match e.outcome {
        Some(explain_outcome::NAT) if e.spis.is_empty() => {
            let _ = writeln!(out, "sa:      not looked up{detail}");
        }
        Some(explain_outcome::NAT) => {
            let spis: Vec<String> = e.spis.iter().map(|s| format!("0x{s:08x}")).collect();
            let _ = writeln!(out, "sa:      spi {}", spis.join(", "));
        }
        Some(explain_outcome::PENDING) => {
            let _ = writeln!(out, "sa:      none: pending");
        }
        _ => {}
    }
    if !e.candidates.is_empty() {
        let _ = writeln!(out, "mappings:");
    }
    let width = e.candidates.iter().map(|c| key_text(c.key).len()).max().unwrap_or(0);
    for c in &e.candidates {
        let _ = writeln!(out, "  {:width$}  {}", key_text(c.key), c.reason);
    }
    if e.omitted > 0 {
        let _ = writeln!(out, "  ({} more mappings not listed: the reply had no room)", e.omitted);
    }
    out
}

fn key_text(key: Option<Key>) -> String {
    key.map(|k| k.to_string()).unwrap_or_else(|| "?".into())
}

fn key_json(key: Key, obj: &mut Map<String, Value>) {
    obj.insert(key.keyword().into(), json!(key.value()));
}

/// The kernel's answer as one JSON object.
pub fn to_json(e: &Explanation) -> Value {
    let mut obj = Map::new();
    obj.insert("outcome".into(), json!(outcome_name(e)));
    if let Some(key) = e.key {
        let mut m = Map::new();
        key_json(key, &mut m);
        obj.insert("mapping".into(), Value::Object(m));
    }
    if let Some(addr) = e.addr {
        obj.insert("addr".into(), json!(addr.to_string()));
    }
    if let Some(dst) = e.remote_dst {
        obj.insert("remote_dst".into(), json!(dst.to_string()));
    }
    if let Some(policy) = e.policy {
        obj.insert("policy".into(), json!(policy));
    }
    if e.outcome == Some(explain_outcome::NAT) {
        obj.insert("spis".into(), json!(e.spis));
    }
    if let Some(mode) = e.pending {
        obj.insert("pending".into(), json!(pending_name(mode)));
    }
    if let Some(detail) = &e.detail {
        obj.insert("detail".into(), json!(detail));
    }
    let candidates: Vec<Value> = e
        .candidates
        .iter()
        .map(|c| {
            let mut m = Map::new();
            if let Some(key) = c.key {
                key_json(key, &mut m);
            }
            let why = c.why.and_then(|w| name_of(&explain_why::NAMES, w)).unwrap_or("unknown");
            m.insert("why".into(), json!(why));
            m.insert("reason".into(), json!(c.reason));
            Value::Object(m)
        })
        .collect();
    obj.insert("candidates".into(), Value::Array(candidates));
    obj.insert("omitted".into(), json!(e.omitted));
    Value::Object(obj)
}

/// The protocol number of a protocol word, for the flow's family.
pub fn proto_number(word: &str, v6: bool) -> Option<u8> {
    match word {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" if v6 => Some(58),
        "icmp" => Some(1),
        "icmpv6" => Some(58),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nat_reply() -> Explanation {
        Explanation::from_attrs(vec![
            ExplainAttr::Outcome(explain_outcome::NAT),
            ExplainAttr::Reqid(3),
            ExplainAttr::Addr("10.3.0.1".parse().unwrap()),
            ExplainAttr::Policy(9),
            ExplainAttr::Spi(0xc0ffee01),
            ExplainAttr::Candidate(vec![
                ExplainCandidateAttr::Reqid(3),
                ExplainCandidateAttr::Why(explain_why::CHOSEN),
                ExplainCandidateAttr::Reason("takes the flow".into()),
            ]),
            ExplainAttr::Candidate(vec![
                ExplainCandidateAttr::Spid(17),
                ExplainCandidateAttr::Why(explain_why::INACTIVE),
                ExplainCandidateAttr::Reason("inactive: no out policy with index 17".into()),
            ]),
        ])
    }

    #[test]
    fn text_of_a_nat_answer() {
        assert_eq!(
            to_text(&nat_reply()),
            "verdict: nat\nmapping: reqid 3\naddress: 10.3.0.1\npolicy:  9\nsa:      spi 0xc0ffee01\nmappings:\n  \
             reqid 3  takes the flow\n  spid 17  inactive: no out policy with index 17\n"
        );
    }

    #[test]
    fn json_of_a_nat_answer() {
        let v = to_json(&nat_reply());
        assert_eq!(v["outcome"], "nat");
        assert_eq!(v["mapping"]["reqid"], 3);
        assert_eq!(v["addr"], "10.3.0.1");
        assert_eq!(v["spis"][0], 0xc0ffee01u32);
        assert_eq!(v["candidates"][1]["spid"], 17);
        assert_eq!(v["candidates"][1]["why"], "inactive");
    }

    #[test]
    fn pending_and_untouched() {
        let e = Explanation::from_attrs(vec![
            ExplainAttr::Outcome(explain_outcome::PENDING),
            ExplainAttr::Pending(pending_mode::DROP),
        ]);
        assert!(to_text(&e).starts_with("verdict: pending, mode drop: the packet is dropped\n"));
        assert!(to_text(&e).contains("sa:      none: pending\n"));
        assert_eq!(to_json(&e)["pending"], "drop");
        let e = Explanation::from_attrs(vec![ExplainAttr::Outcome(explain_outcome::UNTOUCHED)]);
        assert_eq!(to_text(&e), "verdict: untouched: no mapping takes it\n");
    }
}
