// SPDX-License-Identifier: GPL-2.0
//! The packet path: choosing the SNAT of a new flow, and keeping NATed flows
//! from leaving without IPsec.

use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::{c_str, prelude::*, sync::Arc};

use crate::logic::addr::Family;
use crate::logic::request::PendingMode;
use crate::logic::selector::Flow;
use crate::net::conntrack::{Conn, Direction, Label};
use crate::net::netfilter::{Hook, HookState, Verdict};
use crate::hold::{Held, Kept};
use crate::net::rcu::{self, ReadGuard};
use crate::net::skb::{OwnedSkb, SkBuff};
use crate::net::work::{self, Workqueue};
use crate::net::xfrm;
use crate::state::{NetState, Stats};

const NF_ACCEPT: u32 = crate::bindings::NF_ACCEPT;

/// The conntrack label of every NAT binding the module makes: bit 127, the
/// last, to keep clear of labels numbered from 0 in connlabel.conf.  It
/// keeps a binding guarded for its whole life, whatever happens to its
/// mapping later, and shows users which entries are the module's.
pub const BINDING_LABEL: Label = match Label::new(127) {
    Some(l) => l,
    None => panic!("no such label"),
};

/// `EHOSTUNREACH`: what a local sender gets for a fail-closed drop.
const EHOSTUNREACH: i32 = 113;
/// `EAGAIN`: what a local sender gets while the SA is pending.
const EAGAIN: i32 = 11;

/// Where connects refused while the SA is pending are aborted: in process
/// context, as aborting takes the socket lock, which the connecting task
/// holds while its SYN passes the hook.
static ABORTS: AtomicPtr<Workqueue> = AtomicPtr::new(core::ptr::null_mut());

/// The abort workqueue, published for the hooks while it lives.  Must be
/// dropped after the hooks are unregistered.
pub struct Aborts {
    _wq: KBox<Workqueue>,
}

impl Aborts {
    /// Creates and publishes the workqueue.
    pub fn new() -> Result<Self> {
        let wq = KBox::new(Workqueue::new(c_str!("xfrm_nat"))?, GFP_KERNEL)?;
        ABORTS.store(core::ptr::from_ref(&*wq).cast_mut(), Ordering::Release);
        Ok(Self { _wq: wq })
    }
}

impl Drop for Aborts {
    fn drop(&mut self) {
        ABORTS.store(core::ptr::null_mut(), Ordering::Release);
        // A hook that loaded the pointer is inside an RCU read-side section;
        // after this, none is.  Dropping `_wq` then drains queued aborts.
        rcu::synchronize();
    }
}

/// The flow as the selectors see it: conntrack's original tuple, leaving
/// through the hook's output device.
fn original_flow(ct: &Conn, state: &HookState<'_>) -> Flow {
    let t = ct.tuple(Direction::Original);
    Flow::from_tuple(t.dst, t.proto, t.src_port, t.dst_port, t.icmp_type, t.icmp_code, state.out_ifindex())
}

/// A new flow of a mapping whose policy's SA is pending, in eagain or drop
/// mode.
fn refuse_pending<K>(skb: &SkBuff, mode: PendingMode, stats: &Stats) -> Verdict<K> {
    match mode {
        // A hold-mode mapping always has its queue.
        PendingMode::Drop | PendingMode::Hold => {
            stats.pending_drops.fetch_add(1, Ordering::Relaxed);
            Verdict::DropSilently
        }
        PendingMode::Eagain => {
            stats.pending_refused.fetch_add(1, Ordering::Relaxed);
            // A TCP connect ignores the error of its SYN and would wait for
            // the retransmit timer; abort it so that connect() fails now.
            if let Some(sock) = skb.connecting_tcp_socket() {
                let guard = ReadGuard::new();
                let wq = ABORTS.load(Ordering::Acquire);
                // SAFETY: A published workqueue lives until `Aborts::drop`
                // has waited for this read-side section (see there).
                if let Some(wq) = unsafe { wq.as_ref() } {
                    // Without memory the connect falls back to the
                    // retransmit timer; the socket reference goes with
                    // the closure.
                    let _ = wq.spawn(move || sock.abort(EAGAIN));
                }
                drop(guard);
            }
            Verdict::DropWithErrno(EAGAIN)
        }
    }
}

fn transformed(skb: &SkBuff, family: Family) -> bool {
    match family {
        Family::V4 => skb.ipv4_xfrm_transformed(),
        Family::V6 => skb.ipv6_xfrm_transformed(),
    }
}

/// A packet [`SnatHook`] keeps for a mapping in hold mode.
pub struct HoldFor {
    queue: Arc<Held>,
    /// The SA is there; the packet queues only behind older ones.
    sa_ready: bool,
    /// [`NetState::sa_generation`] before the SPD lookup: if an SA came
    /// since, the release that it triggered may have missed this packet.
    sa_generation: u64,
}

/// The NAT lookup function: called by the NAT core once per new connection
/// that has no source binding yet.
pub struct SnatHook;

impl Hook for SnatHook {
    type Kept = HoldFor;

    fn keep(kept: HoldFor, skb: OwnedSkb, state: &HookState<'_>) {
        let lifetime = xfrm::acquire_lifetime(state.net());
        match kept.queue.keep(skb, work::jiffies().saturating_add(lifetime)) {
            Kept::Queued { first } => {
                let guard = ReadGuard::new();
                if let Some(ns) = NetState::of(state.net(), &guard) {
                    let sa_ready = kept.sa_ready || ns.sa_generation() != kept.sa_generation;
                    ns.packet_held(first, sa_ready, lifetime);
                }
            }
            // Counted by the queue when it was full.
            Kept::Dropped => (),
        }
    }

    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict<HoldFor> {
        let Some(family) = state.family() else { return Verdict::Accept };
        // An ESP packet, or a flow that the SPD already sends into a tunnel
        // as it is, is not ours to translate.
        if transformed(skb, family) || skb.routed_into_xfrm() {
            return Verdict::Accept;
        }
        let Some((ct, _)) = skb.conntrack() else { return Verdict::Accept };
        let guard = ReadGuard::new();
        let Some(ns) = NetState::of(state.net(), &guard) else { return Verdict::Accept };
        let Some(table) = ns.snapshot(&guard) else { return Verdict::Accept };
        let Some(mapping) = table.lookup(family, &original_flow(ct, state)) else { return Verdict::Accept };
        let sa_generation = ns.sa_generation();
        // The NAT core looks the translated flow up after us, but turns a
        // pending SA into EREMOTE (or a hang, for TCP).  Looking it up here
        // first (once per new flow) also sends the key manager its ACQUIRE.
        let pending = xfrm::lookup_with_source(state.net(), skb, family, &mapping.nat).is_err_and(|e| xfrm::sa_pending(&e));
        // In hold mode a new flow also queues behind held packets, so that
        // they leave in the order they came.
        let hold = mapping.stats.hold.as_ref().filter(|q| pending || !q.is_empty());
        if pending && hold.is_none() {
            return refuse_pending(skb, mapping.pending, &mapping.stats);
        }
        // Labelled before it is bound: a binding without the label would
        // not be guarded once its mapping goes.  An entry without room for
        // labels predates the hooks; dropping its first packet frees it,
        // and the sender's retry gets an entry that has room.
        if ct.add_label(BINDING_LABEL).is_err() {
            return Verdict::DropSilently;
        }
        let verdict = ct.setup_snat(family, &mapping.nat);
        if verdict != NF_ACCEPT {
            return Verdict::Raw(verdict);
        }
        mapping.stats.flows.fetch_add(1, Ordering::Relaxed);
        if let Some(queue) = hold {
            // `keep` translates it, as the NAT core would after us.
            return Verdict::Keep(HoldFor { queue: queue.clone(), sa_ready: !pending, sa_generation });
        }
        // After this, the NAT core's nf_xfrm_me_harder() looks the NATed flow
        // up in the SPD and routes it into the policy's bundle.
        Verdict::Accept
    }
}

/// Drops packets of flows the module bound (their entries carry
/// [`BINDING_LABEL`], whether or not their mapping still exists), or that
/// are translated to a mapped address, that are about to leave without a
/// bundle, e.g. because the policy went away under a live flow.  Costs a
/// tunneled packet one pointer test.
pub struct FailClosedHook;

impl Hook for FailClosedHook {
    type Kept = core::convert::Infallible;

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
        let table = NetState::of(state.net(), &guard).and_then(|s| s.snapshot(&guard));
        let mapped = table.is_some_and(|t| t.has_nat_addr(family, &nat));
        if !mapped && !ct.has_label(BINDING_LABEL) {
            return Verdict::Accept;
        }
        if let Some(m) = table.and_then(|t| t.by_nat_addr(family, &nat, &original_flow(ct, state))) {
            m.stats.fail_closed_drops.fetch_add(1, Ordering::Relaxed);
        }
        Verdict::DropWithErrno(EHOSTUNREACH)
    }
}
