// SPDX-License-Identifier: GPL-2.0
//! The mapping set of one network namespace, and its writers.
//!
//! Writers (netlink requests, the policy resync of the work item) serialise
//! on the namespace's `mappings` lock; they build a new [`Snapshot`] and
//! publish it with RCU.  The packet path only follows the snapshot.  What
//! else a namespace keeps comes with its pernet entry
//! ([`crate::net::pernet::Entry`]): its work item, and the hooks
//! (`namespace.rs`), which are registered with the first mapping.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::{prelude::*, sync::Arc};

use crate::hold::{Held, Release};
use crate::logic::addr::Family;
use crate::logic::hold::HoldLimits;
use crate::logic::policy::{Rival, SeenPolicy, XFRM_POLICY_OUT};
use crate::logic::request::{self, MapKey, MapRequest, NetLimits, PendingMode, Refusal};
use crate::logic::sa::{PendingSas, SaEvent};
use crate::logic::table::{Entry as MapEntry, Inactive, Mapping, Table};
use crate::logic::vec::{self, AllocError};
use crate::net::bh_lock::SpinLockBh;
use crate::net::param;
use crate::net::pernet::{self, Entry, Net};
use crate::net::rcu::{RcuBox, RcuMutex, RcuMutexGuard, ReadGuard};
use crate::net::work;
use crate::net::xfrm;
use crate::snapshot::{mapping_for, request_of, Shared, Snapshot};

/// What the `mappings` lock protects besides the snapshot pointer.
pub(crate) struct Config {
    /// Set at exit: no snapshot may be published any more.
    pub(crate) dead: bool,
}

/// Jobs for the work item, besides releasing and expiring held packets,
/// which it does on every run.
pub(crate) const JOB_RESYNC: u32 = 1 << 0;

/// One namespace's state.
#[pin_data]
pub(crate) struct NetState {
    /// The snapshot the packet path reads; its lock serialises writers.
    #[pin]
    pub(crate) mappings: RcuMutex<Snapshot, Config>,
    /// `JOB_*` bits for the next run of the work item.
    pub(crate) jobs: AtomicU32,
    /// SAs installed so far; see [`NetState::sa_generation`].
    pub(crate) sa_installs: AtomicU64,
    /// SPD and SAD events so far; see [`NetState::xfrm_epoch`].
    xfrm_events: AtomicU64,
    /// SPD events so far; see [`NetState::spd_generation`].
    spd_changes: AtomicU64,
    /// Open SA requests of mapped policies, for SA events.
    #[pin]
    pub(crate) sa_requests: SpinLockBh<PendingSas>,
    /// Where the packets of non-blocking senders wait for a pending SA in
    /// eagain mode, per family ([`NetState::nonblock_queue`]).
    nonblock: [Arc<Held>; 2],
}

/// The bounds of a namespace's queue of non-blocking senders' packets, per
/// family: each holds one packet per connect (a SYN) or datagram that met
/// a pending SA, for as long as IKE takes.
const NONBLOCK_LIMITS: HoldLimits = HoldLimits { packets: 64, bytes: 128 * 1024 };

/// A namespace's state with what its pernet entry adds: the namespace, the
/// work item, the hooks.
pub(crate) type Ns = Entry<NetState>;

/// The registration type of the pernet subsystem.
pub(crate) type Pernet = pernet::Registration<NetState>;

/// A change to announce on the netlink `events` group.
pub(crate) enum Event {
    /// Created, replaced, or its bound policies changed.
    Changed(MapKey),
    /// Deleted.
    Deleted(MapKey),
}

/// Announces an [`Event`] of `net` with the snapshot after the change
/// (`netlink::notify`); passed in by the callers of the writers, which
/// call it with the lock held, so that announcements keep the order of the
/// changes.
pub(crate) type Notify = fn(&Net, Option<&Snapshot>, Event);

/// Why a configuration change failed.
pub(crate) enum ChangeError {
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

type Writer<'a> = RcuMutexGuard<'a, Snapshot, Config>;

/// What one walk of the SPD gives a snapshot: the outbound main policies
/// that the keys of the mappings name, every outbound policy as a rival for
/// their flows (`Table::judge_sole`), and the SPD generation before it.
struct SpdWalk {
    named: KVVec<SeenPolicy>,
    rivals: KVVec<Rival>,
    generation: u64,
}

impl SpdWalk {
    /// Walks the SPD of `net` for `mappings`.
    ///
    /// Two walks: one counts, so that the second, which runs under the
    /// SPD's spinlock, has its room already.  A policy added between the
    /// walks may be left out; its addition scheduled a resync, which binds
    /// it, and moved the SPD generation past `generation`.
    fn of(net: &Net, ns: &NetState, mappings: &[Mapping<Shared>]) -> Result<Self, ChangeError> {
        let generation = ns.spd_generation();
        let mut spids = KVVec::with_capacity(mappings.len(), GFP_KERNEL)?;
        let mut reqids = KVVec::with_capacity(mappings.len(), GFP_KERNEL)?;
        for m in mappings {
            match m.key {
                MapKey::Spid(v) => spids.push(v, GFP_KERNEL)?,
                MapKey::Reqid(v) => reqids.push(v, GFP_KERNEL)?,
            }
        }
        spids.sort_unstable();
        reqids.sort_unstable();
        // One test for both walks, so that they agree on what they count;
        // cheap for the policies it passes over, which are most of a large SPD.
        let named = |p: &xfrm::Policy| {
            let index = p.index();
            let is_named = p.is_main()
                && (spids.binary_search(&index).is_ok() || p.template_reqids().any(|r| reqids.binary_search(&r).is_ok()));
            if is_named {
                p.seen()
            } else {
                None
            }
        };
        let outbound = |p: &xfrm::Policy| p.index() & 7 == XFRM_POLICY_OUT;
        let (mut n_named, mut n_rivals) = (0usize, 0usize);
        xfrm::for_each_policy(net, |p| {
            if outbound(p) {
                n_rivals += 1;
                n_named += usize::from(named(p).is_some());
            }
        });
        let mut walk = Self {
            named: KVVec::with_capacity(n_named, GFP_KERNEL_ACCOUNT)?,
            rivals: KVVec::with_capacity(n_rivals, GFP_KERNEL_ACCOUNT)?,
            generation,
        };
        xfrm::for_each_policy(net, |p| {
            if !outbound(p) {
                return;
            }
            // Within the capacity reserved above, push does not allocate.
            if let Some(s) = named(p).filter(|_| walk.named.len() < walk.named.capacity()) {
                let _ = walk.named.push(s, GFP_NOWAIT);
            }
            if walk.rivals.len() < walk.rivals.capacity() {
                let _ = walk.rivals.push(p.rival(), GFP_NOWAIT);
            }
        });
        Ok(walk)
    }
}

impl NetState {
    /// The initial state of a namespace: no mappings.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            mappings <- crate::new_rcu_mutex!(Config { dead: false }, "xfrm_nat_mappings"),
            jobs: AtomicU32::new(0),
            sa_installs: AtomicU64::new(0),
            xfrm_events: AtomicU64::new(0),
            spd_changes: AtomicU64::new(0),
            sa_requests <- crate::new_spinlock_bh!(PendingSas::default(), "xfrm_nat_sa_requests"),
            nonblock: [
                Held::new(Family::V4, NONBLOCK_LIMITS, Release::EachReady, None)?,
                Held::new(Family::V6, NONBLOCK_LIMITS, Release::EachReady, None)?,
            ],
        }? Error)
    }

    /// The state of `net`.
    pub(crate) fn of<'a>(net: &Net, guard: &'a ReadGuard) -> Option<&'a Ns> {
        Pernet::get(net, guard)
    }

    /// The snapshot the packet path sees.
    pub(crate) fn snapshot<'a>(&'a self, guard: &'a ReadGuard) -> Option<&'a Snapshot> {
        self.mappings.get(guard)
    }

    /// Counts SAs installed in the namespace.  The packet path reads it
    /// before its SPD lookup and again after queueing: if it moved, the
    /// work item that the new SA scheduled may have found the queue empty,
    /// so the packet asks for a run of its own.  (The queue's lock orders
    /// the work's look at the queue against the second read.)
    pub(crate) fn sa_generation(&self) -> u64 {
        self.sa_installs.load(Ordering::Relaxed)
    }

    /// The epoch of what the packet path learns about SAs from its SPD
    /// lookups (`Found::learn_sa_ready`): any SPD or SAD event of the
    /// namespace that may change which SAs exist, and any ACQUIRE, ends it,
    /// as it may have taken an SA away or changed which policy a flow gets.  Read before the lookup that learns, so that an
    /// event during the lookup voids what it learned.
    pub(crate) fn xfrm_epoch(&self) -> u64 {
        self.xfrm_events.load(Ordering::Acquire)
    }

    /// Called by the key-manager sink for every SPD and SAD event of the
    /// namespace but those that leave the SAs as they were, after the core
    /// applied it, and for every ACQUIRE: a lookup that starts after this
    /// sees the change.
    pub(crate) fn xfrm_event(&self) {
        self.xfrm_events.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts SPD changes: a snapshot's judgement of which bound policies
    /// are sole (`Table::judge_sole`) holds while this is the generation
    /// it was made at.  Read before the walk that judges, so that a change
    /// during the walk voids the judgement until the resync it schedules.
    pub(crate) fn spd_generation(&self) -> u64 {
        self.spd_changes.load(Ordering::Acquire)
    }

    /// Called by the key-manager sink for every SPD event, after the core
    /// applied it.
    pub(crate) fn spd_changed(&self) {
        self.spd_changes.fetch_add(1, Ordering::AcqRel);
        self.xfrm_event();
    }

    /// The queue where packets of non-blocking senders of `family` wait
    /// for a pending SA in eagain mode: `EAGAIN` would make such a sender
    /// spin, and a drop would cost its connect a retransmission timeout.
    pub(crate) fn nonblock_queue(&self, family: Family) -> &Arc<Held> {
        match family {
            Family::V4 => &self.nonblock[0],
            Family::V6 => &self.nonblock[1],
        }
    }

    /// Drops the packets waiting in the queues of non-blocking senders
    /// (the namespace is going).
    pub(crate) fn drop_nonblock_packets(&self) {
        for q in self.nonblock.iter() {
            q.expire(u64::MAX);
        }
    }

    /// The next SA event to announce, if any.
    pub(crate) fn next_sa_event(&self) -> Option<SaEvent> {
        self.sa_requests.lock().next_event()
    }
}

/// What a publication announces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Announce {
    /// The mappings that are new, deleted or changed, found by comparing
    /// the snapshots; nothing is published if none is (a resync that found
    /// nothing new).
    Changes,
    /// This key's, which a request named, whether or not it changed, and
    /// no other: the request changed no other mapping (map or unmap of one
    /// key, see [`Table::with_one`]), so the snapshots are not compared.
    OnlyKey(MapKey),
    /// A named map that took the name from the mapping of `from`, which
    /// it deleted: both keys, and no other.
    Renamed { from: MapKey, to: MapKey },
}

/// The key of the mapping other than `req`'s own that has `req`'s name,
/// which a map-new of `req` deletes: the child it was kept for came back
/// under another key.  Names are unique, so there is at most one.
fn same_name(cur: &Snapshot, req: &MapRequest) -> Option<MapKey> {
    let name = req.name?;
    cur.entries().find(|e| e.key != req.key && e.name == Some(name)).map(|e| e.key)
}

/// Whether `new` differs from `old` in what users see of it.
fn differs(old: &MapEntry<'_, Shared>, new: &MapEntry<'_, Shared>) -> bool {
    request_of(old) != request_of(new) || !old.same_binding(new)
}

/// Refuses a map-set whose entries (`(entry number, request)`) give a
/// name twice, naming the later entry.  Sorted by name, in O(n log n): a
/// set may have 65536 entries.
fn check_unique_names(entries: &[(usize, MapRequest)]) -> Result<(), ChangeError> {
    let mut named = KVVec::new();
    for (i, r) in entries {
        if let Some(name) = &r.name {
            named.push((name.as_bytes(), *i), GFP_KERNEL_ACCOUNT)?;
        }
    }
    named.sort_unstable();
    match named.windows(2).find(|w| w[0].0 == w[1].0) {
        Some(w) => Err(ChangeError::RefusedEntry(w[1].1, Refusal::DuplicateName)),
        None => Ok(()),
    }
}

impl Entry<NetState> {
    /// Runs `f` on the current snapshot with writers excluded.
    pub(crate) fn with_snapshot<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        let w = self.mappings.lock();
        let empty = Table::empty();
        f(w.current().unwrap_or(&empty))
    }

    /// Publishes `next`, registering the hooks with the first mapping (see
    /// `nat::Hooks` for why they stay).  On failure nothing changes.
    fn publish(&self, w: &mut Writer<'_>, next: Snapshot) -> Result {
        if w.dead {
            return Err(ENODEV);
        }
        if next.is_empty() {
            w.replace(None);
            return Ok(());
        }
        self.bind()?;
        let boxed = RcuBox::new(next, GFP_KERNEL_ACCOUNT)?;
        w.replace(Some(boxed));
        Ok(())
    }

    /// The snapshot of `mappings`, bound to the policies of the namespace.
    fn build(&self, mappings: vec::Vec<Mapping<Shared>>) -> Result<Snapshot, ChangeError> {
        let spd = SpdWalk::of(self.net(), self, &mappings)?;
        let mut t = Table::build(mappings, &spd.named)?;
        t.judge_sole(&spd.rivals, None, spd.generation);
        Ok(t)
    }

    /// Publishes `next` in place of the current snapshot, forgets the SA
    /// requests of policies no longer bound, and announces what changed,
    /// in that order, with the lock held, so that announcements keep the
    /// order of the changes.
    fn commit(&self, w: &mut Writer<'_>, next: Snapshot, notify: Notify, announce: Announce) -> Result<(), ChangeError> {
        let empty = Table::empty();
        let cur = w.current().unwrap_or(&empty);
        // Collected first: `cur` cannot be read after `publish`.
        let mut deleted = KVec::new();
        let mut changed = KVec::new();
        let mut unbound = KVec::new();
        let keys = match announce {
            Announce::Changes => None,
            Announce::OnlyKey(key) => Some([Some(key), None]),
            Announce::Renamed { from, to } => Some([Some(from), Some(to)]),
        };
        if let Some(keys) = keys {
            for key in keys.into_iter().flatten() {
                match (cur.get(key), next.get(key)) {
                    (_, Some(_)) => changed.push(key, GFP_KERNEL)?,
                    (Some(_), None) => deleted.push(key, GFP_KERNEL)?,
                    (None, None) => (),
                }
                for b in cur.get(key).iter().flat_map(|e| e.bindings) {
                    if !next.binds_policy(b.index) {
                        unbound.push(b.index, GFP_KERNEL)?;
                    }
                }
            }
        } else {
            for e in cur.entries() {
                if next.get(e.key).is_none() {
                    deleted.push(e.key, GFP_KERNEL)?;
                }
            }
            for e in next.entries() {
                if cur.get(e.key).is_none_or(|old| differs(&old, &e)) {
                    changed.push(e.key, GFP_KERNEL)?;
                }
            }
            for index in cur.bound_policies() {
                if !next.binds_policy(index) && unbound.last() != Some(&index) {
                    unbound.push(index, GFP_KERNEL)?;
                }
            }
        }
        // A resync that changed nothing users see still publishes when the
        // SPD moved on: the snapshot's judgement of sole policies is only
        // trusted at its own SPD generation (`Table::judge_sole`), so the
        // packet path would otherwise ask the SPD for every new flow until
        // the next visible change.
        let same_spd = next.spd_generation() == cur.spd_generation();
        if announce == Announce::Changes && deleted.is_empty() && changed.is_empty() && same_spd {
            return Ok(());
        }
        self.publish(w, next)?;
        for &index in unbound.iter() {
            self.sa_requests.lock().forget(index);
        }
        for &key in deleted.iter() {
            notify(self.net(), w.current(), Event::Deleted(key));
        }
        for &key in changed.iter() {
            notify(self.net(), w.current(), Event::Changed(key));
        }
        Ok(())
    }

    /// Creates or replaces the mapping of `req.key`.  Refused if policies
    /// of the key exist but none can carry the mapping's flows, unless it
    /// has a name: then it is installed inactive, so that the refusal of a
    /// daemon's mapping stays visible in `show`.  A named one deletes the
    /// other mapping of its name in the same snapshot.
    pub(crate) fn map(&self, req: MapRequest, replace: bool, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let empty = Table::empty();
        let cur = w.current().unwrap_or(&empty);
        let old = cur.get(req.key);
        if old.is_some() && !replace {
            return Err(Refusal::Exists(req.key).into());
        }
        let renamed = same_name(cur, &req);
        let others = cur.mappings().iter().filter(|m| m.key != req.key && Some(m.key) != renamed);
        let held = others
            .clone()
            .filter_map(|m| m.stats.hold.as_ref())
            .fold(0u64, |sum, h| sum.saturating_add(request::hold_reservation(&h.view().limits)));
        let limits = NetLimits { mappings: param::max_mappings(), hold_bytes: param::max_hold_bytes() };
        request::check_limits(&req, others.count(), held, &limits)?;
        let new = mapping_for(self.net(), &req, old.map(|e| e.mapping))?;
        // The other mappings' bindings are current (SPD changes resync
        // them), so only the new one's policies are looked for.
        let spd = SpdWalk::of(self.net(), self, core::slice::from_ref(&new))?;
        let mut next = match renamed {
            Some(from) => cur.with_one(from, None, &[])?.with_one(req.key, Some(new), &spd.named)?,
            None => cur.with_one(req.key, Some(new), &spd.named)?,
        };
        next.judge_sole(&spd.rivals, Some(req.key), spd.generation);
        if let Some(Inactive::Unfit(why)) = next.get(req.key).and_then(|e| e.inactive) {
            if req.name.is_none() {
                return Err(Refusal::Unfit(why).into());
            }
        }
        // The others' aliases do not overlap: an overlap is with this one.
        if let Some((a, b)) = next.alias_overlap() {
            return Err(Refusal::AliasOverlap(if a == req.key { b } else { a }).into());
        }
        let announce = match renamed {
            Some(from) => Announce::Renamed { from, to: req.key },
            None => Announce::OnlyKey(req.key),
        };
        self.commit(&mut w, next, notify, announce)
    }

    /// Replaces the whole mapping set with `reqs`, in one snapshot (map-set
    /// in the spec): every entry is checked before anything changes.
    pub(crate) fn set_all(&self, reqs: KVVec<MapRequest>, notify: Notify) -> Result<(), ChangeError> {
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
        // By key, each with its entry number for refusals.
        let mut entries = KVVec::with_capacity(reqs.len(), GFP_KERNEL_ACCOUNT)?;
        for (i, r) in reqs.into_iter().enumerate() {
            entries.push((i, r), GFP_KERNEL_ACCOUNT)?;
        }
        entries.sort_unstable_by_key(|(i, r)| (r.key, *i));
        if let Some(w) = entries.windows(2).find(|w| w[0].1.key == w[1].1.key) {
            return Err(ChangeError::RefusedEntry(w[1].0, Refusal::Duplicate(w[1].1.key)));
        }
        check_unique_names(&entries)?;

        let mut w = self.mappings.lock();
        let empty = Table::empty();
        let cur = w.current().unwrap_or(&empty);
        let mut next = vec::with_capacity(entries.len())?;
        for (_, req) in entries.iter() {
            vec::push(&mut next, mapping_for(self.net(), req, cur.get(req.key).map(|e| e.mapping))?)?;
        }
        let next = self.build(next)?;
        // Entries are in key order, as the table is: the first refused wins.
        // A named one is installed inactive instead, as by map-new.
        for ((i, _), e) in entries.iter().zip(next.entries()) {
            if let (Some(Inactive::Unfit(why)), None) = (e.inactive, e.name) {
                return Err(ChangeError::RefusedEntry(*i, Refusal::Unfit(why)));
            }
        }
        if let Some((first, second)) = next.alias_overlap() {
            let entry = entries.iter().find(|(_, r)| r.key == second).map_or(0, |(i, _)| *i);
            return Err(ChangeError::RefusedEntry(entry, Refusal::AliasOverlap(first)));
        }
        self.commit(&mut w, next, notify, Announce::Changes)
    }

    /// Deletes the mapping of `key`.
    pub(crate) fn unmap(&self, key: MapKey, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let empty = Table::empty();
        let cur = w.current().unwrap_or(&empty);
        if cur.get(key).is_none() {
            return Err(Refusal::NotMapped(key).into());
        }
        let next = cur.with_one(key, None, &[])?;
        self.commit(&mut w, next, notify, Announce::OnlyKey(key))
    }

    /// Deletes all mappings.
    pub(crate) fn flush(&self, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        if w.current().is_none() {
            return Ok(());
        }
        self.commit(&mut w, Table::empty(), notify, Announce::Changes)
    }

    /// Re-binds the mappings after an SPD change: a reqid mapping picks up
    /// its key's policies under their new indexes, a spid mapping whose
    /// policy went is inactive.
    pub(crate) fn resync_policies(&self, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let Some(cur) = w.current() else { return Ok(()) };
        let next = self.build(cur.edited(|m| Some(m.clone()))?)?;
        self.commit(&mut w, next, notify, Announce::Changes)
    }

    /// Called by the packet path after it queued a packet: runs the work
    /// now if the SA is there already (the packet queued behind others to
    /// keep the order), or else at the packet's deadline if it is the
    /// first in its queue (later ones have later deadlines).
    pub(crate) fn packet_held(&self, first: bool, sa_ready: bool, lifetime: u64) {
        if sa_ready {
            self.schedule();
        } else if first {
            self.schedule_after(lifetime);
        }
    }

    /// Releases what can go, drops what expired, and arms the work for the
    /// next deadline.
    pub(crate) fn service_hold_queues(&self) {
        // Taken out of the snapshot under the lock, then served without it:
        // releasing runs the output path.
        let queues = {
            let w = self.mappings.lock();
            let mut queues = KVec::new();
            let of_mappings = w.current().into_iter().flat_map(|cur| cur.mappings().iter().filter_map(|m| m.stats.hold.as_ref()));
            for h in Iterator::chain(self.nonblock.iter(), of_mappings) {
                if !h.is_empty() && queues.push(Arc::clone(h), GFP_KERNEL).is_err() {
                    // Without memory, serve the rest at the next run.
                    self.schedule_after(1);
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
            self.schedule_after(deadline.saturating_sub(work::jiffies()).max(1));
        }
    }
}
