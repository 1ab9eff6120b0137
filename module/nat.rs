// SPDX-License-Identifier: GPL-2.0
//! The packet path: choosing the SNAT of a new flow; translating the
//! destination of flows sent to a remote alias, and of those the remote
//! side starts towards an inbound mapping; and keeping NATed flows from
//! leaving without IPsec; and the registration of those hooks.

use kernel::{c_str, prelude::*, sync::Arc};

use crate::hold::{Held, Kept};
use crate::logic::addr::{Addr, Family};
use crate::logic::request::PendingMode;
use crate::logic::selector::Flow;
use crate::logic::stats::Counter;
use crate::logic::table::{Found, Inbound};
use crate::net::conntrack::{Conn, Direction, Label};
use crate::net::netfilter::{
    self, Hook, HookPoint, HookState, Verdict, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING,
    NF_IP_PRI_CONNTRACK, NF_IP_PRI_NAT_DST, NF_IP_PRI_NAT_SRC,
};
use crate::net::pernet::{Net, NetBound};
use crate::net::rcu::{Global, Publication, ReadGuard};
use crate::net::skb::{SkBuff, StolenSkb};
use crate::net::work::{self, Workqueue};
use crate::net::xfrm::{self, SpdAnswer};
use crate::snapshot::{Shared, Snapshot, Stats};
use crate::state::NetState;

/// The conntrack label of every NAT binding the module makes: bit 127, the
/// last, to keep clear of labels numbered from 0 in connlabel.conf.  It
/// keeps a binding guarded for its whole life, whatever happens to its
/// mapping later, and shows users which entries are the module's.
pub(crate) const BINDING_LABEL: Label = Label::new(127);

/// The conntrack label of the flows an inbound mapping admitted, besides
/// [`BINDING_LABEL`]: their replies must leave through a tunnel.
pub(crate) const INBOUND_LABEL: Label = Label::new(126);

/// The conntrack label of the flows sent to a remote alias, besides
/// [`BINDING_LABEL`]: their destination is the remote site's, which may be
/// a local one too, so they must leave through a tunnel; and only the
/// alias's mapping may translate their source.
pub(crate) const REMOTE_LABEL: Label = Label::new(125);

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
    _arriving4: netfilter::Registration<'net, DnatHook>,
    _arriving6: netfilter::Registration<'net, DnatHook>,
    _local4: netfilter::Registration<'net, DnatHook>,
    _local6: netfilter::Registration<'net, DnatHook>,
    _zone_arriving4: netfilter::Registration<'net, ZoneHook>,
    _zone_arriving6: netfilter::Registration<'net, ZoneHook>,
    _zone_local4: netfilter::Registration<'net, ZoneHook>,
    _zone_local6: netfilter::Registration<'net, ZoneHook>,
    _guard4: netfilter::Registration<'net, FailClosedHook>,
    _guard6: netfilter::Registration<'net, FailClosedHook>,
}

/// Our SNAT runs just before iptables' and nftables' srcnat (priority 100),
/// so a mapping wins over a catch-all masquerade on the WAN interface.  A
/// NAT chain at a priority below 99 runs first and its binding stands.
pub(crate) const SNAT_PRIORITY: i32 = NF_IP_PRI_NAT_SRC - 1;
/// The fail-closed check runs after NAT re-routed the packet into a bundle.
pub(crate) const FAIL_CLOSED_PRIORITY: i32 = NF_IP_PRI_NAT_SRC + 1;
/// Destinations are translated just before iptables' and nftables' dstnat
/// (priority -100), so that a DNAT rule cannot take a flow the remote side
/// started towards a mapped prefix, or one sent to a remote alias.
pub(crate) const DNAT_PRIORITY: i32 = NF_IP_PRI_NAT_DST - 1;
/// Zones are attached just before conntrack looks the packet up, after the
/// raw table (priority -300), whose zone stands.
pub(crate) const ZONE_PRIORITY: i32 = NF_IP_PRI_CONNTRACK - 1;

impl<'net> Hooks<'net> {
    fn register(net: &'net Net) -> Result<Self> {
        let at = |family, priority| HookPoint { family, hooknum: NF_INET_POST_ROUTING, priority };
        let dnat = |family, hooknum| HookPoint { family, hooknum, priority: DNAT_PRIORITY };
        let zone = |family, hooknum| HookPoint { family, hooknum, priority: ZONE_PRIORITY };
        Ok(Self {
            _snat4: netfilter::Registration::nat(net, at(Family::V4, SNAT_PRIORITY))?,
            _snat6: netfilter::Registration::nat(net, at(Family::V6, SNAT_PRIORITY))?,
            _arriving4: netfilter::Registration::nat(net, dnat(Family::V4, NF_INET_PRE_ROUTING))?,
            _arriving6: netfilter::Registration::nat(net, dnat(Family::V6, NF_INET_PRE_ROUTING))?,
            _local4: netfilter::Registration::nat(net, dnat(Family::V4, NF_INET_LOCAL_OUT))?,
            _local6: netfilter::Registration::nat(net, dnat(Family::V6, NF_INET_LOCAL_OUT))?,
            _zone_arriving4: netfilter::Registration::hook(net, zone(Family::V4, NF_INET_PRE_ROUTING))?,
            _zone_arriving6: netfilter::Registration::hook(net, zone(Family::V6, NF_INET_PRE_ROUTING))?,
            _zone_local4: netfilter::Registration::hook(net, zone(Family::V4, NF_INET_LOCAL_OUT))?,
            _zone_local6: netfilter::Registration::hook(net, zone(Family::V6, NF_INET_LOCAL_OUT))?,
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
        // Sent to an alias: its mapping's, or nobody's (and then the
        // fail-closed hook drops it).
        let alias = ct.has_label(REMOTE_LABEL).then(|| ct.tuple(Direction::Original).dst);
        let sa_generation = ns.sa_generation();
        // Once a lookup has shown that the policy's SAs serve all the
        // binding's flows, and while the policy is the only one the SPD
        // could give them, new flows skip the SPD lookup until the next SPD
        // or SAD event: one SPD lookup per new flow, the NAT core's, while
        // the SA is there.
        let egress = state.egress();
        let epoch = ns.xfrm_epoch();
        let decision = decide(table, family, &flow, alias.as_ref(), |found, nat| {
            let known = egress == xfrm::Egress::Stack
                && found.sole
                && table.spd_generation() == ns.spd_generation()
                && found.sa_known_ready(epoch)
                && !skb.socket_has_out_policy();
            if known {
                return Ok(SpdAnswer::Bundle(Some(found.policy)));
            }
            xfrm::ask_spd(&guard, state.net(), skb, family, Some(nat), egress, |bundle| {
                let chosen = bundle.policy();
                if chosen == Some(found.policy) {
                    found.learn_sa_ready(epoch, bundle.sas());
                }
                chosen
            })
        });
        let (found, nat, pending) = match decision {
            NewFlow::NotTaken => return Verdict::Accept,
            NewFlow::Declined { found, .. } => {
                found.mapping.stats.count(Counter::Declined);
                return Verdict::Accept;
            }
            NewFlow::Translate { found, nat, pending } => (found, nat, pending),
        };
        let mapping = found.mapping;
        if let Some(verdict) = drop_if_stale(ct, &mapping.stats) {
            return verdict;
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

/// What the packet path decides for a new outgoing flow.
pub(crate) enum NewFlow<'t> {
    /// No mapping takes it: it leaves as it is, but for one sent to a
    /// remote alias, which the fail-closed hook drops.
    NotTaken,
    /// A mapping takes it, but the SPD, asked as after translation, gives
    /// it `answer`: not a policy the mapping binds, nor a pending SA.  It
    /// leaves untranslated (and dropped, if sent to an alias, unless into
    /// another tunnel).
    Declined {
        /// The mapping's binding that selects the flow.
        found: Found<'t, Shared>,
        /// What the SPD gave it: a bundle of the policy of this index (if
        /// one main policy), the plain route, or an error.
        answer: Result<SpdAnswer<Option<u32>>>,
    },
    /// The mapping translates it to `nat`; `pending`: the policy's SA is
    /// not there yet, and the mapping's pending mode applies.
    Translate {
        /// The mapping's binding that selects the flow.
        found: Found<'t, Shared>,
        /// Its new source.
        nat: Addr,
        /// Whether the SA is pending.
        pending: bool,
    },
}

/// The decision for a new outgoing flow that [`SnatHook`] takes for each
/// packet, and the explain operation for a flow it is told of: the mapping
/// that takes `flow` (for one sent to remote alias `alias`, that alias's
/// mapping, or none), and what the SPD, asked by `ask_spd` as it will be
/// asked after the flow's source is translated to the address given,
/// gives it.  The flow is translated only if the SPD gives it a policy of
/// the mapping: not if its socket bypasses the SPD (an IKE daemon's), a
/// policy of higher precedence takes it, or a mark or if_id keeps the
/// mapped policy from it.  The NAT core turns a pending SA into EREMOTE
/// (or a hang, for TCP); asking first also sends the key manager its
/// ACQUIRE, when `ask_spd` is the packet's own lookup.
pub(crate) fn decide<'t>(
    table: &'t Snapshot,
    family: Family,
    flow: &Flow,
    alias: Option<&Addr>,
    ask_spd: impl FnOnce(&Found<'t, Shared>, &Addr) -> Result<SpdAnswer<Option<u32>>>,
) -> NewFlow<'t> {
    let found = match alias {
        Some(alias) => table.alias_mapping(family, alias).and_then(|m| table.find_for_alias(m.key, flow)),
        None => table.find(family, flow),
    };
    let Some(found) = found else { return NewFlow::NotTaken };
    let nat = found.mapping.translate(&flow.saddr);
    match ask_spd(&found, &nat) {
        Ok(SpdAnswer::Bundle(Some(index))) if found.mapping_binds(index) => NewFlow::Translate { found, nat, pending: false },
        // The kernel does not say which policy's SA is pending: the
        // mapping's policy selects the flow, so it is taken as that
        // one's, and the pending mode applies.  Once the SA is there, the
        // bundle decides.
        Ok(SpdAnswer::Pending) => NewFlow::Translate { found, nat, pending: true },
        answer => NewFlow::Declined { found, answer },
    }
}

/// Conntrack confirmed the entry before the hooks could translate it (it
/// predates the namespace's first mapping): it cannot be translated now,
/// and would pass untranslated for as long as its packets keep it alive.
/// It is removed and its packet dropped; the next packet starts afresh.
fn drop_if_stale<K>(ct: &Conn, stats: &Stats) -> Option<Verdict<K>> {
    if !ct.is_confirmed() {
        return None;
    }
    ct.kill();
    stats.count(Counter::StaleEntries);
    Some(Verdict::DropSilently)
}

/// The flow that the replies of a flow arriving from outside would be
/// before any translation: from the address it was sent to back to its
/// source, as the out policy will see it.
fn reply_flow_of(ct: &Conn) -> Flow {
    let (o, r) = (ct.tuple(Direction::Original), ct.tuple(Direction::Reply));
    Flow::from_tuple(o.dst, o.src, o.proto, r.src_port, o.src_port, r.icmp_type, r.icmp_code, 0)
}

/// The NAT lookup function of destinations: called by the NAT core once
/// per new connection that has no destination binding yet, arriving
/// (pre-routing) or sent by the host (local out).
///
/// * A flow towards an inbound mapping's prefix is translated to its host
///   in the mapping's from prefix if an SA of a policy the mapping binds
///   decrypted it, and dropped otherwise.  If its source is in the
///   mapping's remote prefix, that becomes the alias.
/// * A flow from a local host or the host itself towards a remote alias
///   gets the remote address the alias stands for; [`SnatHook`] then
///   translates its source by the alias's mapping only.
pub(crate) struct DnatHook;

impl Hook for DnatHook {
    type Kept = core::convert::Infallible;

    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        let Some((ct, _)) = skb.conntrack() else { return Verdict::Accept };
        let guard = ReadGuard::new();
        let Some(ns) = NetState::of(state.net(), &guard) else { return Verdict::Accept };
        let Some(table) = ns.snapshot(&guard) else { return Verdict::Accept };
        if !table.translates_destinations() {
            return Verdict::Accept;
        }
        let decrypted = xfrm::decrypted_by(skb);
        // The remote side sends to the mapped prefix, never to an alias,
        // which is a name only local hosts use.
        if decrypted.is_none() {
            let alias = ct.tuple(Direction::Original).dst;
            if let Some(remote) = table.alias_mapping(family, &alias).and_then(|m| Some((m, m.remote?))) {
                return translate(ct, family, &[REMOTE_LABEL], &remote.1.real_of(&alias), None, &remote.0.stats);
            }
        }
        // The host's own flows are not inbound: the prefix is not local.
        if state.hooknum() == NF_INET_LOCAL_OUT {
            return Verdict::Accept;
        }
        match table.admit_inbound(family, &reply_flow_of(ct), decrypted) {
            Inbound::NotOurs => Verdict::Accept,
            Inbound::Admit { mapping, host, source } => {
                let verdict = translate(ct, family, &[INBOUND_LABEL], &host, source.as_ref(), &mapping.stats);
                if verdict == Verdict::Accept {
                    mapping.stats.count(Counter::InboundFlows);
                }
                verdict
            }
            // Plaintext from the WAN, another tunnel's, the LAN's: not
            // translated, and not routed on towards wherever the mapped
            // prefix leads either.
            Inbound::Refuse(mapping) => {
                mapping.stats.count(Counter::InboundRefused);
                Verdict::DropSilently
            }
        }
    }
}

/// Puts the packets of a mapping's flows with its remote prefix into the
/// mapping's conntrack zone, before conntrack looks them up: those sent
/// to its alias, and those that arrive decrypted by an SA of a policy it
/// binds, from the remote prefix to its own.  Two sites with the same LAN
/// can then have flows of identical tuples at once.  Runs for every
/// packet while some mapping has a zone, as conntrack does.
pub(crate) struct ZoneHook;

impl Hook for ZoneHook {
    type Kept = core::convert::Infallible;

    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        let guard = ReadGuard::new();
        let Some(table) = NetState::of(state.net(), &guard).and_then(|ns| ns.snapshot(&guard)) else {
            return Verdict::Accept;
        };
        if !table.has_zones() {
            return Verdict::Accept;
        }
        let Some((saddr, daddr)) = skb.addresses(family) else { return Verdict::Accept };
        let mapping = match xfrm::decrypted_by(skb) {
            Some(reqid) => table.zone_of_arriving(family, &saddr, &daddr, reqid),
            None => table.alias_mapping(family, &daddr),
        };
        if let Some(template) = mapping.and_then(|m| m.stats.zone.as_ref()) {
            template.attach_to(skb);
        }
        Verdict::Accept
    }
}

/// Binds a new connection's destination to `dst` (and its source to
/// `src`, if given), labelled as the module's with `labels` too.
fn translate(ct: &Conn, family: Family, labels: &[Label], dst: &Addr, src: Option<&Addr>, stats: &Stats) -> Verdict {
    if let Some(verdict) = drop_if_stale(ct, stats) {
        return verdict;
    }
    // The labels before the binding: a translated flow that lacked them
    // would not be held to the tunnel.
    if ct.add_label(BINDING_LABEL).is_err() || labels.iter().any(|&l| ct.add_label(l).is_err()) {
        return Verdict::DropSilently;
    }
    if let Err(verdict) = ct.setup_dnat(family, dst) {
        return Verdict::Kernel(verdict);
    }
    // Set here, a source binding stands at post-routing, where the NAT core
    // then skips `SnatHook`.
    if let Some(src) = src {
        if let Err(verdict) = ct.setup_snat(family, src) {
            return Verdict::Kernel(verdict);
        }
    }
    // The NAT core translates the packet after us.  The forward policy
    // check then sees the addresses as they were (`nf_nat_decode_session`);
    // at post-routing the NAT core's `nf_xfrm_me_harder()` routes the
    // flow's packets (or, for an inbound flow, its replies) into the
    // policy's bundle.
    Verdict::Accept
}

/// Drops packets of flows the module bound (their entries carry
/// [`BINDING_LABEL`], whether or not their mapping still exists), or that
/// are translated to a mapped address, that are about to leave without a
/// bundle or an xfrm interface, e.g. because the policy went away under a
/// live flow; packets of flows sent to a remote alias ([`REMOTE_LABEL`]);
/// and replies of flows an inbound mapping admitted ([`INBOUND_LABEL`])
/// that are about to leave so.  Costs a tunneled packet one pointer test,
/// and another an untranslated one.
pub(crate) struct FailClosedHook;

impl Hook for FailClosedHook {
    type Kept = core::convert::Infallible;

    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict {
        let Some(family) = state.family() else { return Verdict::Accept };
        if skb.routed_into_xfrm() || transformed(skb, family) {
            return Verdict::Accept;
        }
        let Some((ct, dir)) = skb.conntrack() else { return Verdict::Accept };
        let (snat, dnat) = (ct.is_source_natted(), ct.is_destination_natted());
        if !snat && !dnat {
            return Verdict::Accept;
        }
        let guard = ReadGuard::new();
        let table = NetState::of(state.net(), &guard).and_then(|s| s.snapshot(&guard));
        let inbound = dnat && ct.has_label(INBOUND_LABEL);
        // What the drop is counted to: the mapping of an alias, or of a
        // translated address and the flow.  Labelled flows are guarded
        // whether or not their mapping is still there.
        let counted_to = match dir {
            // An inbound flow enters the LAN in the clear.
            Direction::Original if inbound => return Verdict::Accept,
            Direction::Original if dnat && ct.has_label(REMOTE_LABEL) => {
                let alias = ct.tuple(Direction::Original).dst;
                table.and_then(|t| t.alias_mapping(family, &alias))
            }
            Direction::Original if snat => {
                let nat = ct.tuple(Direction::Reply).dst;
                let mapped = table.is_some_and(|t| t.has_nat_addr(family, &nat));
                if !mapped && !ct.has_label(BINDING_LABEL) {
                    return Verdict::Accept;
                }
                table.and_then(|t| t.by_nat_addr(family, &nat, &flow_of(ct, state)))
            }
            Direction::Reply if inbound => {
                let nat = ct.tuple(Direction::Original).dst;
                table.and_then(|t| t.by_nat_addr(family, &nat, &reply_flow_of(ct)))
            }
            _ => return Verdict::Accept,
        };
        // An xfrm interface looks its packets up itself and sends nothing
        // without an SA (`xfrmi_xmit2()`): the route to it is the tunnel.
        if state.egress() != xfrm::Egress::Stack {
            return Verdict::Accept;
        }
        if let Some(m) = counted_to {
            m.stats.count(Counter::FailClosedDrops);
        }
        Verdict::DropWithErrno(EHOSTUNREACH)
    }
}
