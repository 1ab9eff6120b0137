// SPDX-License-Identifier: GPL-2.0
//! The explain operation: what the packet path would do with a new
//! outgoing flow now, and why, like a firewall's packet tracer.
//!
//! The mapping is chosen by the packet path's own decision
//! ([`nat::decide`]).  Only its SPD lookup is replaced: the packet path
//! asks `xfrm_lookup()`, which sends the key manager an ACQUIRE when the
//! policy's SA is missing, and there is no way to ask it not to (none of
//! its flags does).  Here the SPD is walked for the policy that a lookup
//! with mark 0, if_id 0, no socket policy and no security context would
//! give the translated flow ([`SpdChoice`]), and its templates' SAs are
//! looked up with `xfrm_stateonly_find()`, which makes no larval state
//! ([`xfrm::policy_sas`]).  Nothing is counted, no conntrack entry is
//! made, no packet is held.

use kernel::prelude::*;

use crate::logic::addr::{Addr, Family};
use crate::logic::explain::{self, Choice, SpdAction, SpdChoice, SpdPolicy};
use crate::logic::policy::MAX_TEMPLATES;
use crate::logic::request::PendingMode;
use crate::logic::selector::Flow;
use crate::logic::table::MapKey;
use crate::logic::uapi::{explain as attr, explain_candidate as candidate, explain_outcome as outcome, kind, Attr};
use crate::nat::{self, NewFlow};
use crate::net::genetlink::{Attrs, Info};
use crate::net::pernet::Net;
use crate::net::xfrm::{self, PolicySas, SpdAnswer};
use crate::netlink::{put, value};
use crate::snapshot::Snapshot;
use crate::state::Ns;

/// The policy that the SPD gives `flow` of `family`, if one selects it.
fn spd_policy_for(net: &Net, family: Family, flow: &Flow) -> Option<SpdPolicy> {
    let mut choice = SpdChoice::new(family, *flow);
    xfrm::for_each_policy(net, |p| {
        if let Some(sp) = p.spd_policy() {
            choice.offer(&sp);
        }
    });
    choice.chosen()
}

/// What the SPD and SAD gave the translated flow.
#[derive(Default)]
struct SpdSeen {
    /// The policy chosen, if any.
    policy: Option<SpdPolicy>,
    /// Its SAs' SPIs, if they are all there.
    spis: Option<([u32; MAX_TEMPLATES], usize)>,
    /// Its SAs could not be looked up.
    unresolved: bool,
}

/// Answers the explain request in `info`.
pub(crate) fn explain(state: &Ns, info: &mut Info<'_>) -> Result {
    let (Some(src), Some(dst)) = (value(info, attr::SRC), value(info, attr::DST)) else {
        info.set_error_message("explain needs the flow's src and dst");
        return Err(EINVAL);
    };
    let (Some((family, saddr)), Some((dst_family, daddr))) = (Addr::from_wire(src), Addr::from_wire(dst)) else {
        info.set_error_message("src and dst must be 4 (IPv4) or 16 (IPv6) bytes");
        return Err(EINVAL);
    };
    if family != dst_family {
        info.set_error_message("src and dst must be of one family");
        return Err(EINVAL);
    }
    let proto = value(info, attr::PROTO).unwrap_or(0);
    let (sport, dport) = (value(info, attr::SPORT).unwrap_or(0), value(info, attr::DPORT).unwrap_or(0));
    // ICMP's type and code travel as the ports, as xnatctl's words have them.
    let flow = Flow::from_tuple(saddr, daddr, proto, sport.to_be(), dport.to_be(), sport as u8, dport as u8, 0);
    let net = info.net();
    let mut msg = info.reply(crate::logic::uapi::cmd::EXPLAIN)?;
    state.with_snapshot(|t| answer(net, t, family, flow, &mut msg.attrs()))?;
    info.send_reply(msg)
}

fn answer(net: &Net, t: &Snapshot, family: Family, mut flow: Flow, a: &mut Attrs<'_>) -> Result {
    // As the destination NAT hook does for a flow from the LAN or the host.
    let sent_to = flow.daddr;
    let alias_owner = t.alias_mapping(family, &sent_to).and_then(|m| Some((m.key, m.remote?)));
    let alias = alias_owner.map(|(key, r)| {
        flow.daddr = r.real_of(&sent_to);
        key
    });
    if alias.is_some() {
        put(a, attr::REMOTE_DST, flow.daddr.bytes(family))?;
    }
    // A flow that the SPD sends into a tunnel as it is never reaches the
    // NAT hook as one to translate.
    if let Some(p) = spd_policy_for(net, family, &flow).filter(|p| p.action == SpdAction::Transform) {
        put(a, attr::OUTCOME, outcome::UNTOUCHED)?;
        put(a, attr::POLICY, p.index)?;
        put(a, attr::DETAIL, &format_args!("policy {} takes it as it is, without NAT", p.index))?;
        return put_candidates(a, t, family, &flow, alias, None);
    }
    let mut seen = SpdSeen::default();
    let decision = nat::decide(t, family, &flow, alias_owner.map(|_| &sent_to), |_, nat| {
        let translated = Flow { saddr: *nat, ..flow };
        seen.policy = spd_policy_for(net, family, &translated);
        let Some(p) = seen.policy else { return Ok(SpdAnswer::Plain) };
        match p.action {
            SpdAction::Block => return Err(EPERM),
            SpdAction::Pass => return Ok(SpdAnswer::Plain),
            SpdAction::Transform => (),
        }
        match xfrm::policy_sas(net, p.index, family, nat, &flow.daddr) {
            PolicySas::Ready { spis, count } => {
                seen.spis = Some((spis, count));
                Ok(SpdAnswer::Bundle(Some(p.index)))
            }
            PolicySas::Pending => Ok(SpdAnswer::Pending),
            PolicySas::Gone => Err(ENOENT),
            PolicySas::Unresolved => {
                seen.unresolved = true;
                Ok(SpdAnswer::Bundle(Some(p.index)))
            }
        }
    });
    let chosen = match &decision {
        NewFlow::NotTaken => None,
        NewFlow::Declined { found, .. } | NewFlow::Translate { found, .. } => {
            t.get(found.mapping.key).and_then(|e| explain::choice_of(&e, found.policy))
        }
    };
    if let Some(c) = chosen {
        put_key(a, attr::SPID, attr::REQID, c.key)?;
    }
    let spd_index = seen.policy.map(|p| p.index);
    match &decision {
        NewFlow::NotTaken => match alias {
            Some(owner) => {
                put(a, attr::OUTCOME, outcome::FAIL_CLOSED_DROP)?;
                put(a, attr::DETAIL, &format_args!("sent to the remote alias of {owner}, which binds no policy that selects it"))?;
            }
            None => put(a, attr::OUTCOME, outcome::UNTOUCHED)?,
        },
        NewFlow::Declined { found, answer } => {
            put(a, attr::ADDR, found.mapping.translate(&flow.saddr).bytes(family))?;
            if let Some(index) = spd_index {
                put(a, attr::POLICY, index)?;
            }
            let into_tunnel = matches!(answer, Ok(SpdAnswer::Bundle(_)));
            let dropped = alias.is_some() && !into_tunnel;
            put(a, attr::OUTCOME, if dropped { outcome::FAIL_CLOSED_DROP } else { outcome::DECLINED })?;
            let key = found.mapping.key;
            let gives = seen.policy.map(|p| (p.index, p.action));
            match gives {
                Some((index, SpdAction::Transform)) => {
                    put(a, attr::DETAIL, &format_args!("the SPD gives it policy {index}, which {key} does not bind"))?
                }
                Some((index, SpdAction::Pass)) => {
                    put(a, attr::DETAIL, &format_args!("the SPD lets it pass by bypass policy {index}"))?
                }
                Some((index, SpdAction::Block)) => put(a, attr::DETAIL, &format_args!("policy {index} blocks it"))?,
                None => put(a, attr::DETAIL, &"the SPD gives it no policy")?,
            }
        }
        NewFlow::Translate { found, nat, pending } => {
            put(a, attr::ADDR, nat.bytes(family))?;
            if let Some(index) = spd_index {
                put(a, attr::POLICY, index)?;
            }
            if *pending {
                put(a, attr::OUTCOME, outcome::PENDING)?;
                let mode = if found.mapping.stats.hold.is_some() { PendingMode::Hold } else { found.mapping.pending };
                put(a, attr::PENDING, mode.to_wire())?;
            } else {
                put(a, attr::OUTCOME, outcome::NAT)?;
                for spi in seen.spis.iter().flat_map(|(spis, n)| spis.iter().take(*n)) {
                    put(a, attr::SPI, *spi)?;
                }
                if seen.unresolved {
                    put(a, attr::DETAIL, &"its SAs were not looked up: a template's tunnel endpoint comes from the route")?;
                }
            }
        }
    }
    put_candidates(a, t, family, &flow, alias, chosen)
}

/// Puts `key` as the attribute `spid` or `reqid` of a set.
fn put_key(a: &mut Attrs<'_>, spid: Attr<kind::U32>, reqid: Attr<kind::U32>, key: MapKey) -> Result {
    match key {
        MapKey::Spid(v) => put(a, spid, v),
        MapKey::Reqid(v) => put(a, reqid, v),
    }
}

/// Lists every mapping with why it takes the flow or not, the chosen one
/// first, for as long as the reply has room; then how many were left out.
fn put_candidates(a: &mut Attrs<'_>, t: &Snapshot, family: Family, flow: &Flow, alias: Option<MapKey>, chosen: Option<Choice<'_>>) -> Result {
    let first = chosen.and_then(|c| t.get(c.key));
    let rest = t.entries().filter(|e| chosen.is_none_or(|c| c.key != e.key));
    let mut listed = 0u32;
    for e in Iterator::chain(first.into_iter(), rest) {
        let why = explain::why(&e, family, flow, alias, chosen);
        let put_one = a.nest(crate::logic::uapi::explain_attr::CANDIDATE, |a| {
            put_key(a, candidate::SPID, candidate::REQID, e.key)?;
            put(a, candidate::WHY, why.to_wire())?;
            put(a, candidate::REASON, &why)
        });
        if put_one.is_err() {
            break;
        }
        listed += 1;
    }
    let omitted = u32::try_from(t.len()).unwrap_or(u32::MAX).saturating_sub(listed);
    if omitted > 0 {
        // The room for this was not reserved: a reply that cannot take it
        // still lists what it could.
        let _ = put(a, attr::OMITTED, omitted);
    }
    Ok(())
}
