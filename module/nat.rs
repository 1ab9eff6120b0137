// SPDX-License-Identifier: GPL-2.0
//! The packet path: choosing the SNAT of a new flow, admitting the flows the
//! remote side starts towards an inbound mapping, and keeping NATed flows
//! from leaving without IPsec; and the registration of those hooks.

use kernel::{c_str, prelude::*, sync::Arc};

use crate::hold::{Held, Kept};
use crate::logic::addr::Family;
use crate::logic::request::PendingMode;
use crate::logic::selector::Flow;
use crate::logic::stats::Counter;
use crate::logic::table::Inbound;
use crate::net::conntrack::{Conn, Direction, Label};
use crate::net::netfilter::{
    self, Hook, HookPoint, HookState, Verdict, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST,
    NF_IP_PRI_NAT_SRC,
};
use crate::net::pernet::{Net, NetBound};
use crate::net::rcu::{Global, Publication, ReadGuard};
use crate::net::skb::{SkBuff, StolenSkb};
use crate::net::work::{self, Workqueue};
use crate::net::xfrm::{self, SpdAnswer};
use crate::snapshot::Stats;
use crate::state::NetState;

/// The conntrack label of every NAT binding the module makes: bit 127, the
/// last, to keep clear of labels numbered from 0 in connlabel.conf.  It
/// keeps a binding guarded for its whole life, whatever happens to its
/// mapping later, and shows users which entries are the module's.
pub(crate) const BINDING_LABEL: Label = match Label::new(127) {
    Some(l) => l,
    None => panic!("no such label"),
};

/// The conntrack label of the flows an inbound mapping admitted, besides
/// [`BINDING_LABEL`]: their replies must leave through a tunnel.
pub(crate) const INBOUND_LABEL: Label = match Label::new(126) {
    Some(l) => l,
    None => panic!("no such label"),
};

/// What a local sender gets for a fail-closed drop.
const EHOSTUNREACH: i32 = crate::bindings::EHOSTUNREACH as i32;
/// What a local sender gets while the SA is pending.
const EAGAIN: i32 = crate::bindings::EAGAIN as i32;

/// Where connects refused while the SA is pending are aborted: in process
/// context, as aborting takes the socket lock, which the connecting task
/// holds while its SYN passes the hook.
static ABORTS: Global<Workqueue> = Global::new();

/// The abort workqueue, published for the hooks while it lives.  Must be
/// dropped after the hooks are unregistered; dropping it drains the queued
/// aborts.
pub(crate) struct Aborts {
    _wq: Publication<Workqueue>,
}

impl Aborts {
    /// Creates and publishes the workqueue.
    pub(crate) fn new() -> Result<Self> {
        let wq = KBox::new(Workqueue::new(c_str!("xfrm_nat"))?, GFP_KERNEL)?;
        Ok(Self { _wq: ABORTS.publish(wq)? })
    }
}

/// The hooks of a namespace that has had a mapping.  Until its first
/// mapping the module costs a namespace nothing, not even conntrack.  Then
/// they stay until the namespace goes or the module is unloaded, because
/// the NAT bindings they made outlive the mappings: the NAT core must go on
/// translating their replies back, and [`FailClosedHook`] must go on
/// guarding them (both by their [`BINDING_LABEL`]).
pub(crate) struct Hooks<'net> {
    _snat4: netfilter::Registration<'net, SnatHook>,
    _snat6: netfilter::Registration<'net, SnatHook>,
    _inbound4: netfilter::Registration<'net, InboundHook>,
    _inbound6: netfilter::Registration<'net, InboundHook>,
    _guard4: netfilter::Registration<'net, FailClosedHook>,
    _guard6: netfilter::Registration<'net, FailClosedHook>,
}

/// Our SNAT runs just before iptables' and nftables' srcnat (priority 100),
/// so a mapping wins over a catch-all masquerade on the WAN interface.  A
/// NAT chain at a priority below 99 runs first and its binding stands.
pub(crate) const SNAT_PRIORITY: i32 = NF_IP_PRI_NAT_SRC - 1;
/// The fail-closed check runs after NAT re-routed the packet into a bundle.
pub(crate) const FAIL_CLOSED_PRIORITY: i32 = NF_IP_PRI_NAT_SRC + 1;
/// Inbound mappings translate just before iptables' and nftables' dstnat
/// (priority -100), so that a DNAT rule cannot take a flow the remote side
/// started towards a mapped prefix.
pub(crate) const INBOUND_PRIORITY: i32 = NF_IP_PRI_NAT_DST - 1;

impl<'net> Hooks<'net> {
    fn register(net: &'net Net) -> Result<Self> {
        let at = |family, priority| HookPoint { family, hooknum: NF_INET_POST_ROUTING, priority };
        let arriving = |family| HookPoint { family, hooknum: NF_INET_PRE_ROUTING, priority: INBOUND_PRIORITY };
        Ok(Self {
            _snat4: netfilter::Registration::nat(net, at(Family::V4, SNAT_PRIORITY))?,
            _snat6: netfilter::Registration::nat(net, at(Family::V6, SNAT_PRIORITY))?,
            _inbound4: netfilter::Registration::nat(net, arriving(Family::V4))?,
            _inbound6: netfilter::Registration::nat(net, arriving(Family::V6))?,
            _guard4: netfilter::Registration::hook(net, at(Family::V4, FAIL_CLOSED_PRIORITY))?,
            _guard6: netfilter::Registration::hook(net, at(Family::V6, FAIL_CLOSED_PRIORITY))?,
        })
    }
}

/// [`Hooks`] as what a namespace's pernet entry keeps for the namespace.
pub(crate) struct HooksOf;

impl NetBound for HooksOf {
    type Of<'net> = Hooks<'net>;

    fn new(net: &Net) -> Result<Hooks<'_>> {
        Hooks::register(net)
    }
}

/// The flow as the SPD will see it after source NAT, untranslated: the
/// original source, and the destination after any destination NAT (the
/// reply tuple's source), leaving through the hook's output device.
fn flow_of(ct: &Conn, state: &HookState<'_>) -> Flow {
    let (o, r) = (ct.tuple(Direction::Original), ct.tuple(Direction::Reply));
    Flow::from_tuple(o.src, r.src, o.proto, o.src_port, r.src_port, o.icmp_type, o.icmp_code, state.out_ifindex())
}

/// A new flow of a mapping without a hold queue whose policy's SA is
/// pending: `None` if its packet should wait in the namespace's queue of
/// non-blocking senders, else the verdict.
///
/// In eagain mode only a blocking sender is refused with `EAGAIN`.  A
/// non-blocking one (asyncio, Go, tokio, curl, Python sockets with a
/// timeout) would poll, find the socket writable at once, and send again:
/// a busy loop for as long as IKE takes.  A kernel socket (an MPTCP
/// subflow) has nobody waiting on it.  Dropping their packet would cost a
/// connect its SYN retransmission, up to seconds after the SA came; so
/// it waits, translated, and leaves as soon as the SA is installed.
fn refuse_pending<K>(skb: &SkBuff, mode: PendingMode, stats: &Stats) -> Option<Verdict<K>> {
    match mode {
        // A hold-mode mapping always has its queue.
        PendingMode::Drop | PendingMode::Hold => {
            stats.count(Counter::PendingDrops);
            Some(Verdict::DropSilently)
        }
        PendingMode::Eagain if skb.sender_is_nonblocking() => {
            stats.count(Counter::PendingNonblockHeld);
            None
        }
        PendingMode::Eagain => {
            stats.count(Counter::PendingRefused);
            // A blocking TCP connect ignores the error of its SYN and would
            // wait for the retransmit timer; abort it so that connect()
            // fails now.
            if let Some(sock) = skb.connecting_tcp_socket() {
                let guard = ReadGuard::new();
                if let Some(wq) = ABORTS.get(&guard) {
                    // Without memory the connect falls back to the
                    // retransmit timer; the socket reference goes with
                    // the closure.
                    let _ = wq.spawn(move || sock.abort(EAGAIN));
                }
                drop(guard);
            }
            Some(Verdict::DropWithErrno(EAGAIN))
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
pub(crate) struct HoldFor {
    queue: Arc<Held>,
    /// The SA is there; the packet queues only behind older ones.
    sa_ready: bool,
    /// [`NetState::sa_generation`] before the SPD lookup: if an SA came
    /// since, the release that it triggered may have missed this packet.
    sa_generation: u64,
    /// The counters of the mapping, if `queue` is the namespace's queue of
    /// non-blocking senders, whose own counters nobody sees: its drops
    /// are counted to the mapping.
    nonblock_of: Option<Arc<Stats>>,
}

/// The NAT lookup function: called by the NAT core once per new connection
/// that has no source binding yet.
pub(crate) struct SnatHook;

impl Hook for SnatHook {
    type Kept = HoldFor;

    fn keep(kept: HoldFor, skb: StolenSkb<'_>, state: &HookState<'_>) {
        let lifetime = xfrm::acquire_lifetime(state.net());
        match kept.queue.keep(skb, work::jiffies().saturating_add(lifetime)) {
            Kept::Queued { first } => {
                let guard = ReadGuard::new();
                if let Some(ns) = NetState::of(state.net(), &guard) {
                    let sa_ready = kept.sa_ready || ns.sa_generation() != kept.sa_generation;
                    ns.packet_held(first, sa_ready, lifetime);
                }
            }
            // A mapping's hold queue counts its drops itself.
            Kept::Dropped => {
                if let Some(stats) = kept.nonblock_of {
                    stats.count(Counter::PendingNonblockDrops);
                }
            }
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
        let flow = flow_of(ct, state);
        let Some(found) = table.find(family, &flow) else { return Verdict::Accept };
        let mapping = found.mapping;
        let nat = mapping.translate(&flow.saddr);
        let sa_generation = ns.sa_generation();
        // The flow is translated only if the SPD, asked as the NAT core (or
        // the xfrm interface the packet leaves by) will ask it after NAT,
        // gives it a policy of this mapping: not if its socket bypasses
        // the SPD (an IKE daemon's), a policy of higher precedence takes
        // it, or a mark or if_id keeps the mapped policy from it.  The
        // NAT core turns a pending SA into EREMOTE (or a hang, for TCP);
        // asking first also sends the key manager its ACQUIRE.
        //
        // Once a lookup has shown that the policy's SAs serve all the
        // binding's flows, and while the policy is the only one the SPD
        // could give them, new flows skip this until the next SPD or SAD
        // event: one SPD lookup per new flow, the NAT core's, while the SA
        // is there.
        let egress = state.egress();
        let epoch = ns.xfrm_epoch();
        let known = egress == xfrm::Egress::Stack
            && found.sole
            && table.spd_generation() == ns.spd_generation()
            && found.sa_known_ready(epoch)
            && !skb.socket_has_out_policy();
        let pending = !known && {
            let answer = xfrm::ask_spd(&guard, state.net(), skb, family, Some(&nat), egress, |bundle| {
                let chosen = bundle.policy();
                if chosen == Some(found.policy) {
                    found.learn_sa_ready(epoch, bundle.sas());
                }
                chosen
            });
            match answer {
                Ok(SpdAnswer::Bundle(Some(index))) if found.mapping_binds(index) => false,
                // The kernel does not say which policy's SA is pending: the
                // mapping's policy selects the flow, so it is taken as
                // that one's, and the pending mode applies.  Once the SA
                // is there, the bundle decides.
                Ok(SpdAnswer::Pending) => true,
                _ => {
                    mapping.stats.count(Counter::Declined);
                    return Verdict::Accept;
                }
            }
        };
        // Conntrack confirmed the entry before the hooks could translate
        // it (it predates the namespace's first mapping): it cannot be
        // translated now, and would leave untranslated for as long as its
        // packets keep it alive.  The next packet starts afresh.
        if ct.is_confirmed() {
            ct.kill();
            mapping.stats.count(Counter::StaleEntries);
            return Verdict::DropSilently;
        }
        // In hold mode a new flow also queues behind held packets, so that
        // they leave in the order they came.
        let (hold, nonblock) = match mapping.stats.hold.as_ref() {
            Some(queue) => ((pending || !queue.is_empty()).then_some(queue), false),
            None if pending => match refuse_pending(skb, mapping.pending, &mapping.stats) {
                Some(verdict) => return verdict,
                None => (Some(ns.nonblock_queue(family)), true),
            },
            None => (None, false),
        };
        // Labelled before it is bound: a binding without the label would
        // not be guarded once its mapping goes.  An entry that cannot take
        // the label (no memory) is left unbound and its packet dropped:
        // untranslated, it would leave outside the tunnel.
        if ct.add_label(BINDING_LABEL).is_err() {
            return Verdict::DropSilently;
        }
        if let Err(verdict) = ct.setup_snat(family, &nat) {
            return Verdict::Kernel(verdict);
        }
        mapping.stats.count(Counter::Flows);
        if let Some(queue) = hold {
            // `keep` translates it, as the NAT core would after us.
            let nonblock_of = nonblock.then(|| mapping.stats.counters.clone());
            return Verdict::Keep(HoldFor { queue: queue.clone(), sa_ready: !pending, sa_generation, nonblock_of });
        }
        // After this, the NAT core's nf_xfrm_me_harder() looks the NATed flow
        // up in the SPD and routes it into the policy's bundle.
        Verdict::Accept
    }
}

/// The flow that the replies of a flow arriving from outside would be
/// before any translation: from the address it was sent to back to its
/// source, as the out policy will see it.
fn reply_flow_of(ct: &Conn) -> Flow {
    let (o, r) = (ct.tuple(Direction::Original), ct.tuple(Direction::Reply));
    Flow::from_tuple(o.dst, o.src, o.proto, r.src_port, o.src_port, r.icmp_type, r.icmp_code, 0)
}

/// The NAT lookup function of flows arriving: called by the NAT core once
/// per new connection that has no destination binding yet.  A flow towards
/// an inbound mapping's prefix is translated to its host in the mapping's
/// from prefix if an SA of a policy the mapping binds decrypted it, and
/// dropped otherwise.
pub(crate) struct InboundHook;

impl Hook for InboundHook {
    type Kept = core::convert::Infallible;

    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        let Some((ct, _)) = skb.conntrack() else { return Verdict::Accept };
        let guard = ReadGuard::new();
        let Some(ns) = NetState::of(state.net(), &guard) else { return Verdict::Accept };
        let Some(table) = ns.snapshot(&guard) else { return Verdict::Accept };
        let (mapping, host) = match table.admit_inbound(family, &reply_flow_of(ct), xfrm::decrypted_by(skb)) {
            Inbound::NotOurs => return Verdict::Accept,
            Inbound::Admit { mapping, host } => (mapping, host),
            // Plaintext from the WAN, another tunnel's, the LAN's: not
            // translated, and not routed on towards wherever the mapped
            // prefix leads either.
            Inbound::Refuse(mapping) => {
                mapping.stats.count(Counter::InboundRefused);
                return Verdict::DropSilently;
            }
        };
        // As for outbound flows (see `SnatHook`).
        if ct.is_confirmed() {
            ct.kill();
            mapping.stats.count(Counter::StaleEntries);
            return Verdict::DropSilently;
        }
        // Both labels before the binding: the replies of a translated flow
        // that lacked them would not be held to the tunnel.
        if ct.add_label(BINDING_LABEL).is_err() || ct.add_label(INBOUND_LABEL).is_err() {
            return Verdict::DropSilently;
        }
        if let Err(verdict) = ct.setup_dnat(family, &host) {
            return Verdict::Kernel(verdict);
        }
        mapping.stats.count(Counter::InboundFlows);
        // The NAT core translates the destination after us; the forward
        // policy check then sees the original one (`nf_nat_decode_session`).
        // The replies are translated back at post-routing, where the NAT
        // core's `nf_xfrm_me_harder()` routes them into the policy's bundle.
        Verdict::Accept
    }
}

/// Drops packets of flows the module bound (their entries carry
/// [`BINDING_LABEL`], whether or not their mapping still exists), or that
/// are translated to a mapped address, that are about to leave without a
/// bundle or an xfrm interface, e.g. because the policy went away under a
/// live flow; and replies of flows an inbound mapping admitted
/// ([`INBOUND_LABEL`]) that are about to leave so.  Costs a tunneled
/// packet one pointer test.
pub(crate) struct FailClosedHook;

impl Hook for FailClosedHook {
    type Kept = core::convert::Infallible;

    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        if skb.routed_into_xfrm() || transformed(skb, family) {
            return Verdict::Accept;
        }
        let Some((ct, dir)) = skb.conntrack() else { return Verdict::Accept };
        let guard = ReadGuard::new();
        let table = NetState::of(state.net(), &guard).and_then(|s| s.snapshot(&guard));
        // The translated address, and the flow to count a drop to.
        let (nat, flow) = match dir {
            Direction::Original if ct.is_source_natted() => {
                let nat = ct.tuple(Direction::Reply).dst;
                let mapped = table.is_some_and(|t| t.has_nat_addr(family, &nat));
                if !mapped && !ct.has_label(BINDING_LABEL) {
                    return Verdict::Accept;
                }
                (nat, flow_of(ct, state))
            }
            // Whether or not its mapping is still there.
            Direction::Reply if ct.has_label(INBOUND_LABEL) => (ct.tuple(Direction::Original).dst, reply_flow_of(ct)),
            _ => return Verdict::Accept,
        };
        // An xfrm interface looks its packets up itself and sends nothing
        // without an SA (`xfrmi_xmit2()`): the route to it is the tunnel.
        if state.egress() != xfrm::Egress::Stack {
            return Verdict::Accept;
        }
        if let Some(m) = table.and_then(|t| t.by_nat_addr(family, &nat, &flow)) {
            m.stats.count(Counter::FailClosedDrops);
        }
        Verdict::DropWithErrno(EHOSTUNREACH)
    }
}
