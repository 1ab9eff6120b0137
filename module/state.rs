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

use crate::logic::request::{self, MapRequest, NetLimits, PendingMode, Refusal, SeenPolicy};
use crate::logic::sa::{PendingSas, SaEvent};
use crate::logic::table::{Mapping, Table};
use crate::logic::vec::{self, AllocError};
use crate::net::bh_lock::SpinLockBh;
use crate::net::param;
use crate::net::pernet::{self, Entry, Net};
use crate::net::rcu::{RcuBox, RcuMutex, RcuMutexGuard, ReadGuard};
use crate::net::work;
use crate::net::xfrm;
use crate::snapshot::{request_of, shared_for, Snapshot};

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
    /// Open SA requests of mapped policies, for SA events.
    #[pin]
    pub(crate) sa_requests: SpinLockBh<PendingSas>,
}

/// A namespace's state with what its pernet entry adds: the namespace, the
/// work item, the hooks.
pub(crate) type Ns = Entry<NetState>;

/// The registration type of the pernet subsystem.
pub(crate) type Pernet = pernet::Registration<NetState>;

/// A change to announce on the netlink `events` group.
pub(crate) enum Event {
    /// Created, replaced, activated or deactivated.
    Changed(u32),
    /// Deleted.
    Deleted(u32),
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

impl NetState {
    /// The initial state of a namespace: no mappings.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            mappings <- crate::new_rcu_mutex!(Config { dead: false }, "xfrm_nat_mappings"),
            jobs: AtomicU32::new(0),
            sa_installs: AtomicU64::new(0),
            sa_requests <- crate::new_spinlock_bh!(PendingSas::default(), "xfrm_nat_sa_requests"),
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

    /// The next SA event to announce, if any.
    pub(crate) fn next_sa_event(&self) -> Option<SaEvent> {
        self.sa_requests.lock().next_event()
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

    fn announce(&self, w: &Writer<'_>, notify: Notify, event: Event) {
        notify(self.net(), w.current(), event);
    }

    /// Creates or replaces the mapping of `req.spid`.
    pub(crate) fn map(&self, req: MapRequest, replace: bool, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let empty = Table::empty();
        let cur = w.current().unwrap_or(&empty);
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
        self.publish(&mut w, next)?;
        self.announce(&w, notify, Event::Changed(req.spid));
        Ok(())
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
        // By spid, each with its entry number for refusals.
        let mut entries = KVVec::with_capacity(reqs.len(), GFP_KERNEL_ACCOUNT)?;
        for (i, r) in reqs.into_iter().enumerate() {
            entries.push((i, r), GFP_KERNEL_ACCOUNT)?;
        }
        entries.sort_unstable_by_key(|(i, r)| (r.spid, *i));
        if let Some(w) = entries.windows(2).find(|w| w[0].1.spid == w[1].1.spid) {
            return Err(ChangeError::RefusedEntry(w[1].0, Refusal::Duplicate(w[1].1.spid)));
        }

        let mut w = self.mappings.lock();
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
        let cur = w.current().unwrap_or(&empty);
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
        // Gone from the set: `cur` cannot be read after `publish`.
        let mut deleted = KVVec::new();
        for m in cur.mappings() {
            if entries.binary_search_by_key(&m.spid, |(_, r)| r.spid).is_err() {
                deleted.push(m.spid, GFP_KERNEL)?;
            }
        }
        self.publish(&mut w, Table::build(next)?)?;
        for &spid in deleted.iter() {
            self.sa_requests.lock().forget(spid);
            self.announce(&w, notify, Event::Deleted(spid));
        }
        for &spid in changed.iter() {
            self.announce(&w, notify, Event::Changed(spid));
        }
        Ok(())
    }

    /// Deletes the mapping of `spid`.
    pub(crate) fn unmap(&self, spid: u32, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let empty = Table::empty();
        let cur = w.current().unwrap_or(&empty);
        if cur.get(spid).is_none() {
            return Err(Refusal::NotMapped(spid).into());
        }
        let next = Table::build(cur.edited(|m| (m.spid != spid).then(|| m.clone()))?)?;
        self.publish(&mut w, next)?;
        self.sa_requests.lock().forget(spid);
        self.announce(&w, notify, Event::Deleted(spid));
        Ok(())
    }

    /// Deletes all mappings.
    pub(crate) fn flush(&self, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let Some(cur) = w.current() else { return Ok(()) };
        let mut spids = KVec::with_capacity(cur.len(), GFP_KERNEL)?;
        for m in cur.mappings() {
            spids.push(m.spid, GFP_KERNEL)?;
        }
        self.publish(&mut w, Table::empty())?;
        for &spid in spids.iter() {
            self.sa_requests.lock().forget(spid);
            self.announce(&w, notify, Event::Deleted(spid));
        }
        Ok(())
    }

    /// Re-reads the mapped policies after an SPD change.
    pub(crate) fn resync_policies(&self, notify: Notify) -> Result<(), ChangeError> {
        let mut w = self.mappings.lock();
        let Some(cur) = w.current() else { return Ok(()) };
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
        self.publish(&mut w, Table::build(next)?)?;
        for &spid in changed.iter() {
            self.announce(&w, notify, Event::Changed(spid));
        }
        Ok(())
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
            let Some(cur) = w.current() else { return };
            let mut queues = KVec::new();
            for h in cur.mappings().iter().filter_map(|m| m.stats.hold.as_ref()) {
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
