// SPDX-License-Identifier: GPL-2.0
//! The state of one network namespace: its mappings, the snapshot the packet
//! path reads, and the hooks, which exist from the first mapping on.
//!
//! Writers (netlink requests, the policy resync work) serialise on
//! `config`; they build a new [`Snapshot`] and publish it with RCU.  The
//! packet path only follows `snapshot`.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

use crate::hold::Held;
use crate::logic::addr::Family;
use crate::logic::request::{self, MapRequest, NetLimits, PendingMode, Refusal, SeenPolicy};
use crate::logic::sa::{PendingSas, SaKey};
use crate::logic::table::{Mapping, Table};
use crate::logic::vec::{self, AllocError};
use crate::nat::{FailClosedHook, SnatHook, BINDING_LABEL};
use crate::net::conntrack::{self, LabelsInUse};
use crate::net::netfilter::{self, HookPoint, NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC};
use crate::net::pernet::{self, Net, NetRef, PernetId, PernetState};
use crate::net::bh_lock::SpinLockBh;
use crate::net::param;
use crate::net::rcu::{self, RcuBox, RcuPointer, ReadGuard};
use crate::net::work::{self, Work, WorkHandler};
use crate::net::xfrm::{self, SaChange};
use crate::netlink::{self, Event};

/// Counters of one mapping, shared by every snapshot that holds it.
#[derive(Default)]
pub struct Stats {
    /// New flows translated.
    pub flows: AtomicU64,
    /// Packets dropped because they would have left without IPsec.
    pub fail_closed_drops: AtomicU64,
    /// New flows refused while the SA was pending (eagain mode).  32 bits
    /// keep the counters in a 32-byte allocation: a flow is refused at most
    /// once per attempt and IKE answers within seconds.
    pub pending_refused: AtomicU32,
    /// New flows dropped while the SA was pending (drop mode).
    pub pending_drops: AtomicU32,
}

/// What the snapshots holding a mapping share: its counters, and its hold
/// queue in hold mode.  The hold queue is a separate allocation, so that
/// other mappings do not pay for it.
#[derive(Clone)]
pub struct Shared {
    /// The counters.
    pub counters: Arc<Stats>,
    /// The hold queue, in hold mode.
    pub hold: Option<Arc<Held>>,
}

/// The counters are what most users of a mapping's shared part want.
impl core::ops::Deref for Shared {
    type Target = Stats;

    fn deref(&self) -> &Stats {
        &self.counters
    }
}

/// What the packet path reads.
pub type Snapshot = Table<Shared>;

/// Jobs for the work item, besides releasing and expiring held packets,
/// which it does on every run.
const JOB_RESYNC: u32 = 1 << 0;

/// The hooks of a namespace that has had a mapping.  Until its first
/// mapping the module costs a namespace nothing, not even conntrack.  Then
/// they stay until the namespace goes or the module is unloaded, because
/// the NAT bindings they made outlive the mappings: the NAT core must go on
/// translating their replies back, and [`FailClosedHook`] must go on
/// guarding them (both by their [`BINDING_LABEL`]).
struct Hooks {
    _snat4: netfilter::Registration<SnatHook>,
    _snat6: netfilter::Registration<SnatHook>,
    _guard4: netfilter::Registration<FailClosedHook>,
    _guard6: netfilter::Registration<FailClosedHook>,
    /// Taken before the hooks, so every entry they can bind has room for
    /// the label.
    _labels: LabelsInUse,
}

/// Our SNAT runs just before iptables' and nftables' srcnat (priority 100),
/// so a mapping wins over a catch-all masquerade on the WAN interface.  A
/// NAT chain at a priority below 99 runs first and its binding stands.
pub const SNAT_PRIORITY: i32 = NF_IP_PRI_NAT_SRC - 1;
/// The fail-closed check runs after NAT re-routed the packet into a bundle.
pub const FAIL_CLOSED_PRIORITY: i32 = NF_IP_PRI_NAT_SRC + 1;

impl Hooks {
    fn register(net: &Net) -> Result<Self> {
        let at = |family, priority| HookPoint { family, hooknum: NF_INET_POST_ROUTING, priority };
        // SAFETY: `Hooks` lives in the namespace's state, which drops it in
        // `exit`, before the namespace is freed.
        unsafe {
            let labels = LabelsInUse::new(net, BINDING_LABEL)?;
            Ok(Self {
                _snat4: netfilter::Registration::nat(net, at(Family::V4, SNAT_PRIORITY))?,
                _snat6: netfilter::Registration::nat(net, at(Family::V6, SNAT_PRIORITY))?,
                _guard4: netfilter::Registration::hook(net, at(Family::V4, FAIL_CLOSED_PRIORITY))?,
                _guard6: netfilter::Registration::hook(net, at(Family::V6, FAIL_CLOSED_PRIORITY))?,
                _labels: labels,
            })
        }
    }
}

struct Config {
    hooks: Option<Hooks>,
    dead: bool,
}

/// One namespace's state.
#[pin_data]
pub struct NetState {
    net: NetRef,
    #[pin]
    config: Mutex<Config>,
    snapshot: RcuPointer<Snapshot>,
    /// Set at exit.  Key-manager events and the packet path test it inside
    /// an RCU read-side section before scheduling the work, so after a
    /// grace period no new schedule can follow the final cancel.
    exiting: AtomicBool,
    /// `JOB_*` bits for the next run of `work`.
    jobs: AtomicU32,
    /// SAs installed so far; see [`NetState::sa_generation`].
    sa_installs: AtomicU64,
    /// Open SA requests of mapped policies, for SA events.
    #[pin]
    sa_requests: SpinLockBh<PendingSas>,
    /// Resyncs mappings after SPD changes, announces SA events, releases
    /// held packets once their SA is installed and drops expired ones.
    #[pin]
    work: Work<NetState>,
}

static NET_ID: PernetId = PernetId::new();

/// The registration type of the pernet subsystem.
pub type Pernet = pernet::Registration<NetState>;

impl PernetState for NetState {
    fn id() -> &'static PernetId {
        &NET_ID
    }

    fn init(net: &Net) -> Result<RcuBox<Self>> {
        RcuBox::pin_init(
            try_pin_init!(Self {
                net: NetRef::new(net),
                config <- new_mutex!(Config { hooks: None, dead: false }),
                snapshot: RcuPointer::null(),
                exiting: AtomicBool::new(false),
                jobs: AtomicU32::new(0),
                sa_installs: AtomicU64::new(0),
                sa_requests <- crate::new_spinlock_bh!(PendingSas::default(), "xfrm_nat_sa_requests"),
                // `exit` sets `exiting` and waits a grace period, so no event
                // schedules the work any more, then cancels it.
                // SAFETY: `exit` cancels the work before the state is retired.
                work <- unsafe { Work::new() },
            }? Error),
            GFP_KERNEL,
        )
    }

    fn exit(&self, _net: &Net) {
        self.exiting.store(true, Ordering::Relaxed);
        rcu::synchronize();
        self.work.cancel_sync();
        let mut cfg = self.config.lock();
        cfg.dead = true;
        // Unpublish here, in process context, so the snapshot's RCU callback
        // is queued before the module's rcu_barrier() and not from the
        // state's own callback.
        // SAFETY: `config` is held.
        unsafe { self.snapshot.replace(None) };
        // Without the hooks nothing translates the replies of the bindings
        // they made, nor guards them: they go first (the namespace's own
        // entries go anyway when it is deleted; this is for module unload).
        if cfg.hooks.is_some() {
            conntrack::delete_labelled(self.net(), BINDING_LABEL);
        }
        cfg.hooks = None;
    }
}

impl WorkHandler for NetState {
    fn run(&self) {
        let jobs = self.jobs.swap(0, Ordering::Relaxed);
        if jobs & JOB_RESYNC != 0 {
            if let Err(e) = self.resync_policies() {
                let errno = match e {
                    ChangeError::Kernel(e) => e.to_errno(),
                    ChangeError::Refused(r) | ChangeError::RefusedEntry(_, r) => -r.errno(),
                };
                pr_warn!("policy resync failed ({errno}); mappings stay as they were until the next policy change\n");
            }
        }
        self.announce_sa_events();
        self.service_hold_queues();
    }

    unsafe fn from_work(work: *const Work<Self>) -> *const Self {
        kernel::container_of!(work, Self, work)
    }
}

/// Learns of SPD changes from the xfrm core.
pub struct PolicyEvents;

impl xfrm::PolicyEvents for PolicyEvents {
    fn policy_changed(net: &Net) {
        let guard = ReadGuard::new();
        // Events come from process context (netlink, PF_KEY) and from
        // softirq (policy expiry timers), so no lock here: see `exiting`.
        if let Some(state) = Pernet::get(net, &guard) {
            state.jobs.fetch_or(JOB_RESYNC, Ordering::Relaxed);
            state.kick();
        }
    }

    fn sa_requested(net: &Net, spid: u32, request: SaKey) {
        let guard = ReadGuard::new();
        let Some(state) = Pernet::get(net, &guard) else { return };
        if state.snapshot(&guard).and_then(|t| t.get(spid)).is_none() {
            return;
        }
        if state.sa_requests.lock().acquired(spid, request) {
            state.kick();
        }
    }

    fn sa_changed(net: &Net, change: SaChange) {
        let guard = ReadGuard::new();
        let Some(state) = Pernet::get(net, &guard) else { return };
        match change {
            SaChange::Installed(key) => {
                state.sa_installs.fetch_add(1, Ordering::Relaxed);
                state.sa_requests.lock().installed(&key);
                // Held packets may wait for this SA even without a request
                // on record (e.g. the ACQUIRE came before the mapping).
                state.kick();
            }
            SaChange::RequestGone(key) => state.sa_requests.lock().expired(&key),
        }
    }
}

/// The policy with index `spid` in `net`, if any (of a family xfrm_nat
/// knows).
fn find_policy(net: &Net, spid: u32) -> Option<SeenPolicy> {
    let mut found = None;
    xfrm::for_each_policy(net, |p| {
        if p.index() == spid && p.is_main() {
            found = p.seen();
        }
    });
    found
}

/// The shared part of a mapping made for `req` where `old` was: the
/// counters stay while the address does; the hold queue, whose packets are
/// translated already, only if the address and bounds do.
fn shared_for(req: &MapRequest, old: Option<&Mapping<Shared>>) -> Result<Shared, ChangeError> {
    let same_nat = old.filter(|m| m.family == req.family && m.nat == req.nat);
    let counters = match same_nat {
        Some(m) => m.stats.counters.clone(),
        None => Arc::new(Stats::default(), GFP_KERNEL_ACCOUNT)?,
    };
    let hold = match (req.pending, same_nat.and_then(|m| m.stats.hold.as_ref())) {
        (PendingMode::Hold, Some(h)) if h.view().limits == req.hold => Some(h.clone()),
        (PendingMode::Hold, _) => Some(Held::new(req.family, req.hold)?),
        _ => None,
    };
    Ok(Shared { counters, hold })
}

fn request_of(m: &Mapping<Shared>) -> MapRequest {
    let hold = m.stats.hold.as_ref().map(|h| h.view().limits).unwrap_or_default();
    MapRequest { spid: m.spid, family: m.family, nat: m.nat, pending: m.pending, hold }
}

/// Why a configuration change failed.
pub enum ChangeError {
    /// Refused, with a reason for the user.
    Refused(Refusal),
    /// Entry `.0` (from 0) of a map-set request refused.
    RefusedEntry(usize, Refusal),
    /// A kernel error.
    Kernel(Error),
}

impl From<Error> for ChangeError {
    fn from(e: Error) -> Self {
        Self::Kernel(e)
    }
}

impl From<kernel::alloc::AllocError> for ChangeError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Self::Kernel(ENOMEM)
    }
}

impl From<AllocError> for ChangeError {
    fn from(_: AllocError) -> Self {
        Self::Kernel(ENOMEM)
    }
}

impl From<Refusal> for ChangeError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl NetState {
    fn net(&self) -> &Net {
        // SAFETY: The state is dropped before its namespace.
        unsafe { self.net.get() }
    }

    /// The state of `net`.
    pub fn of<'a>(net: &Net, guard: &'a ReadGuard) -> Option<&'a NetState> {
        Pernet::get(net, guard)
    }

    /// The snapshot the packet path sees.
    pub fn snapshot<'a>(&'a self, guard: &'a ReadGuard) -> Option<&'a Snapshot> {
        self.snapshot.get(guard)
    }

    /// Runs `f` on the current snapshot with writers excluded.
    pub fn with_snapshot<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        let _cfg = self.config.lock();
        // SAFETY: `config` serialises writers of `snapshot`.
        let empty = Table::empty();
        f(unsafe { self.snapshot.get_locked() }.unwrap_or(&empty))
    }

    /// Publishes `next`, registering the hooks with the first mapping (see
    /// [`Hooks`] for why they stay).  On failure nothing changes.
    fn publish(&self, cfg: &mut Config, next: Snapshot) -> Result {
        if cfg.dead {
            return Err(ENODEV);
        }
        if next.is_empty() {
            // SAFETY: `config` is held.
            unsafe { self.snapshot.replace(None) };
            return Ok(());
        }
        if cfg.hooks.is_none() {
            cfg.hooks = Some(Hooks::register(self.net())?);
        }
        let boxed = RcuBox::new(next, GFP_KERNEL_ACCOUNT)?;
        // SAFETY: `config` is held.
        unsafe { self.snapshot.replace(Some(boxed)) };
        Ok(())
    }

    /// Creates or replaces the mapping of `req.spid`.
    pub fn map(&self, req: MapRequest, replace: bool) -> Result<(), ChangeError> {
        let mut cfg = self.config.lock();
        // SAFETY: `config` is held.
        let empty = Table::empty();
        let cur = unsafe { self.snapshot.get_locked() }.unwrap_or(&empty);
        let old = cur.get(req.spid);
        if old.is_some() && !replace {
            return Err(Refusal::Exists(req.spid).into());
        }
        let others = cur.mappings().iter().filter(|m| m.spid != req.spid);
        let held = others
            .clone()
            .filter_map(|m| m.stats.hold.as_ref())
            .fold(0u64, |sum, h| sum.saturating_add(request::hold_reservation(&h.view().limits)));
        let limits = NetLimits { mappings: param::max_mappings(), hold_bytes: param::max_hold_bytes() };
        request::check_limits(&req, others.count(), held, &limits)?;
        let policy = request::evaluate_policy(&req, find_policy(self.net(), req.spid))?;
        let stats = shared_for(&req, old)?;
        let new = Mapping { spid: req.spid, family: req.family, nat: req.nat, pending: req.pending, policy, stats };
        let mut next = cur.edited(|m| (m.spid != req.spid).then(|| m.clone()))?;
        vec::push(&mut next, new)?;
        let next = Table::build(next)?;
        self.publish(&mut cfg, next)?;
        self.announce(&cfg, Event::Changed(req.spid));
        Ok(())
    }

    /// Replaces the whole mapping set with `reqs`, in one snapshot (map-set
    /// in the spec): every entry is checked before anything changes.
    pub fn set_all(&self, reqs: KVVec<MapRequest>) -> Result<(), ChangeError> {
        let limits = NetLimits { mappings: param::max_mappings(), hold_bytes: param::max_hold_bytes() };
        let max = limits.mappings.min(request::MAX_MAPPINGS);
        if reqs.len() > max {
            return Err(Refusal::TooMany(max).into());
        }
        let held = reqs
            .iter()
            .filter(|r| r.pending == PendingMode::Hold)
            .fold(0u64, |sum, r| sum.saturating_add(request::hold_reservation(&r.hold)));
        if held > limits.hold_bytes {
            return Err(Refusal::HoldMemory { wanted: held, limit: limits.hold_bytes }.into());
        }
        // By spid, each with its entry number for refusals.
        let mut entries = KVVec::with_capacity(reqs.len(), GFP_KERNEL_ACCOUNT)?;
        for (i, r) in reqs.into_iter().enumerate() {
            entries.push((i, r), GFP_KERNEL_ACCOUNT)?;
        }
        entries.sort_unstable_by_key(|(i, r)| (r.spid, *i));
        if let Some(w) = entries.windows(2).find(|w| w[0].1.spid == w[1].1.spid) {
            return Err(ChangeError::RefusedEntry(w[1].0, Refusal::Duplicate(w[1].1.spid)));
        }

        let mut cfg = self.config.lock();
        // One SPD walk for all entries; filled under the SPD spinlock, so
        // allocated beforehand.
        let mut seen: KVVec<Option<SeenPolicy>> = KVVec::from_elem(None, entries.len(), GFP_KERNEL_ACCOUNT)?;
        xfrm::for_each_policy(self.net(), |p| {
            if !p.is_main() {
                return;
            }
            if let Ok(i) = entries.binary_search_by_key(&p.index(), |(_, r)| r.spid) {
                if let Some(slot) = seen.get_mut(i) {
                    *slot = p.seen();
                }
            }
        });
        let empty = Table::empty();
        // SAFETY: `config` is held.
        let cur = unsafe { self.snapshot.get_locked() }.unwrap_or(&empty);
        let mut next = vec::with_capacity(entries.len())?;
        let mut changed = KVVec::new();
        for ((i, req), seen) in entries.iter().zip(seen.iter()) {
            let policy = request::evaluate_policy(req, *seen).map_err(|r| ChangeError::RefusedEntry(*i, r))?;
            let old = cur.get(req.spid);
            let new = Mapping {
                spid: req.spid,
                family: req.family,
                nat: req.nat,
                pending: req.pending,
                policy,
                stats: shared_for(req, old)?,
            };
            if old.is_none_or(|o| request_of(o) != *req || o.policy != policy) {
                changed.push(req.spid, GFP_KERNEL)?;
            }
            vec::push(&mut next, new)?;
        }
        // Gone from the set: `cur` is not to be read after `publish`.
        let mut deleted = KVVec::new();
        for m in cur.mappings() {
            if entries.binary_search_by_key(&m.spid, |(_, r)| r.spid).is_err() {
                deleted.push(m.spid, GFP_KERNEL)?;
            }
        }
        self.publish(&mut cfg, Table::build(next)?)?;
        for &spid in deleted.iter() {
            self.sa_requests.lock().forget(spid);
            self.announce(&cfg, Event::Deleted(spid));
        }
        for &spid in changed.iter() {
            self.announce(&cfg, Event::Changed(spid));
        }
        Ok(())
    }

    /// Deletes the mapping of `spid`.
    pub fn unmap(&self, spid: u32) -> Result<(), ChangeError> {
        let mut cfg = self.config.lock();
        let empty = Table::empty();
        // SAFETY: `config` is held.
        let cur = unsafe { self.snapshot.get_locked() }.unwrap_or(&empty);
        if cur.get(spid).is_none() {
            return Err(Refusal::NotMapped(spid).into());
        }
        let next = Table::build(cur.edited(|m| (m.spid != spid).then(|| m.clone()))?)?;
        self.publish(&mut cfg, next)?;
        self.sa_requests.lock().forget(spid);
        self.announce(&cfg, Event::Deleted(spid));
        Ok(())
    }

    /// Deletes all mappings.
    pub fn flush(&self) -> Result<(), ChangeError> {
        let mut cfg = self.config.lock();
        // SAFETY: `config` is held.
        let Some(cur) = (unsafe { self.snapshot.get_locked() }) else { return Ok(()) };
        let mut spids = KVec::with_capacity(cur.len(), GFP_KERNEL)?;
        for m in cur.mappings() {
            spids.push(m.spid, GFP_KERNEL)?;
        }
        self.publish(&mut cfg, Table::empty())?;
        for &spid in spids.iter() {
            self.sa_requests.lock().forget(spid);
            self.announce(&cfg, Event::Deleted(spid));
        }
        Ok(())
    }

    /// Re-reads the mapped policies after an SPD change.
    fn resync_policies(&self) -> Result<(), ChangeError> {
        let mut cfg = self.config.lock();
        // SAFETY: `config` is held.
        let Some(cur) = (unsafe { self.snapshot.get_locked() }) else { return Ok(()) };
        let n = cur.len();
        // Filled under the SPD spinlock, so allocated beforehand.
        let mut seen: KVec<Option<SeenPolicy>> = KVec::from_elem(None, n, GFP_KERNEL)?;
        xfrm::for_each_policy(self.net(), |p| {
            if !p.is_main() {
                return;
            }
            if let Ok(i) = cur.mappings().binary_search_by_key(&p.index(), |m| m.spid) {
                if let Some(slot) = seen.get_mut(i) {
                    *slot = p.seen();
                }
            }
        });
        let mut changed = KVec::new();
        let mut i = 0;
        let next = cur.edited(|m| {
            let policy = request::evaluate_policy(&request_of(m), seen.get(i).copied().flatten()).ok().flatten();
            i += 1;
            // Without memory for the list, the change still takes effect;
            // only its event is lost.
            if policy != m.policy {
                let _ = changed.push(m.spid, GFP_KERNEL);
            }
            Some(Mapping { policy, ..m.clone() })
        })?;
        if changed.is_empty() {
            return Ok(());
        }
        self.publish(&mut cfg, Table::build(next)?)?;
        for &spid in changed.iter() {
            self.announce(&cfg, Event::Changed(spid));
        }
        Ok(())
    }

    /// Runs the work item now.  Callable in atomic context, inside or
    /// outside an RCU read-side section.
    fn kick(&self) {
        self.schedule_work(None);
    }

    /// Runs the work item now, or after `delay` jiffies unless it is queued
    /// already, but not once the state is exiting (see `exiting`).
    fn schedule_work(&self, delay: Option<u64>) {
        let _guard = ReadGuard::new();
        if self.exiting.load(Ordering::Relaxed) {
            return;
        }
        match delay {
            None => self.work.schedule(),
            Some(delay) => self.work.schedule_after(delay),
        }
    }

    /// Counts SAs installed in the namespace.  The packet path reads it
    /// before its SPD lookup and again after queueing: if it moved, the
    /// work item that the new SA scheduled may have found the queue empty,
    /// so the packet asks for a run of its own.  (The queue's lock orders
    /// the work's look at the queue against the second read.)
    pub fn sa_generation(&self) -> u64 {
        self.sa_installs.load(Ordering::Relaxed)
    }

    /// Called by the packet path after it queued a packet: runs the work
    /// now if the SA is there already (the packet queued behind others to
    /// keep the order), or else at the packet's deadline if it is the
    /// first in its queue (later ones have later deadlines).
    pub fn packet_held(&self, first: bool, sa_ready: bool, lifetime: u64) {
        if sa_ready {
            self.kick();
        } else if first {
            self.schedule_work(Some(lifetime));
        }
    }

    fn announce_sa_events(&self) {
        loop {
            let Some(event) = self.sa_requests.lock().next_event() else { break };
            netlink::notify_sa(self.net(), event);
        }
    }

    /// Releases what can go, drops what expired, and arms the work for the
    /// next deadline.
    fn service_hold_queues(&self) {
        // Taken out of the snapshot under the mutex, then served without
        // it: releasing runs the output path.
        let queues = {
            let _cfg = self.config.lock();
            // SAFETY: `config` is held.
            let Some(cur) = (unsafe { self.snapshot.get_locked() }) else { return };
            let mut queues = KVec::new();
            for h in cur.mappings().iter().filter_map(|m| m.stats.hold.as_ref()) {
                if !h.is_empty() && queues.push(h.clone(), GFP_KERNEL).is_err() {
                    // Without memory, serve the rest at the next run.
                    self.schedule_work(Some(1));
                    break;
                }
            }
            queues
        };
        let now = work::jiffies();
        let mut next: Option<u64> = None;
        for h in queues.iter() {
            h.expire(now);
            if let Some(deadline) = h.release(self.net()) {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        if let Some(deadline) = next {
            self.schedule_work(Some(deadline.saturating_sub(work::jiffies()).max(1)));
        }
    }

    fn announce(&self, _cfg: &Config, event: Event) {
        // SAFETY: Called with `config` held (the `_cfg` borrow proves it).
        let snap = unsafe { self.snapshot.get_locked() };
        netlink::notify(self.net(), snap, event);
    }
}
