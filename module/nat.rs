// SPDX-License-Identifier: GPL-2.0
//! The packet path: choosing the SNAT of a new flow, and keeping NATed flows
//! from leaving without IPsec.

use core::sync::atomic::Ordering;

use crate::logic::addr::Family;
use crate::logic::selector::Flow;
use crate::net::conntrack::Direction;
use crate::net::netfilter::{Hook, HookState, Verdict};
use crate::net::rcu::ReadGuard;
use crate::net::skb::SkBuff;
use crate::state::NetState;

/// `EHOSTUNREACH`: what a local sender gets for a fail-closed drop.
const EHOSTUNREACH: i32 = 113;

fn transformed(skb: &SkBuff, family: Family) -> bool {
    match family {
        Family::V4 => skb.ipv4_xfrm_transformed(),
        Family::V6 => skb.ipv6_xfrm_transformed(),
    }
}

/// The NAT lookup function: called by the NAT core once per new connection
/// that has no source binding yet.
pub struct SnatHook;

impl Hook for SnatHook {
    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        // An ESP packet, or a flow that the SPD already sends into a tunnel
        // as it is, is not ours to translate.
        if transformed(skb, family) || skb.routed_into_xfrm() {
            return Verdict::Accept;
        }
        let Some((ct, _)) = skb.conntrack() else { return Verdict::Accept };
        let guard = ReadGuard::new();
        let Some(table) = NetState::of(state.net(), &guard).and_then(|s| s.snapshot(&guard)) else {
            return Verdict::Accept;
        };
        let t = ct.tuple(Direction::Original);
        let flow = Flow::from_tuple(t.dst, t.proto, t.src_port, t.dst_port, t.icmp_type, t.icmp_code, state.out_ifindex());
        let Some(mapping) = table.lookup(family, &flow) else { return Verdict::Accept };
        let verdict = ct.setup_snat(family, &mapping.nat);
        if verdict == Verdict::Accept.to_raw() {
            mapping.stats.flows.fetch_add(1, Ordering::Relaxed);
        }
        // After this, the NAT core's nf_xfrm_me_harder() looks the NATed flow
        // up in the SPD and routes it into the policy's bundle.
        Verdict::Raw(verdict)
    }
}

/// Drops packets of flows translated to a mapped address that are about to
/// leave without a bundle, e.g. because the policy went away under a live
/// flow.  Costs a tunneled packet one pointer test.
pub struct FailClosedHook;

impl Hook for FailClosedHook {
    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        if skb.routed_into_xfrm() || transformed(skb, family) {
            return Verdict::Accept;
        }
        let Some((ct, Direction::Original)) = skb.conntrack() else { return Verdict::Accept };
        if !ct.is_source_natted() {
            return Verdict::Accept;
        }
        let nat = ct.tuple(Direction::Reply).dst;
        let guard = ReadGuard::new();
        let Some(table) = NetState::of(state.net(), &guard).and_then(|s| s.snapshot(&guard)) else {
            return Verdict::Accept;
        };
        if !table.has_nat_addr(family, &nat) {
            return Verdict::Accept;
        }
        let t = ct.tuple(Direction::Original);
        let flow = Flow::from_tuple(t.dst, t.proto, t.src_port, t.dst_port, t.icmp_type, t.icmp_code, state.out_ifindex());
        if let Some(m) = table.by_nat_addr(family, &nat, &flow) {
            m.stats.fail_closed_drops.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::DropWithErrno(EHOSTUNREACH)
    }
}
