// SPDX-License-Identifier: GPL-2.0
//! The key-manager sink: what the xfrm core tells key managers about
//! policies and SAs, turned into work for the namespace's work item.

use core::sync::atomic::Ordering;

use crate::logic::sa::SaKey;
use crate::net::pernet::Net;
use crate::net::rcu::ReadGuard;
use crate::net::xfrm::{self, PolicyChange, SaChange};
use crate::state::{NetState, JOB_RESYNC};

/// Learns of SPD changes from the xfrm core.
pub(crate) struct PolicyEvents;

impl xfrm::PolicyEvents for PolicyEvents {
    fn policy_changed(net: &Net, change: PolicyChange<'_>) {
        let guard = ReadGuard::new();
        // Events come from process context (netlink, PF_KEY) and from
        // softirq (policy expiry timers), so no mutex here: the change is
        // logged, the work item resyncs, and scheduling it is safe against
        // the namespace's exit (`Entry::schedule`).
        if let Some(ns) = NetState::of(net, &guard) {
            ns.log_spd_change(change);
            ns.spd_changed();
            ns.jobs.fetch_or(JOB_RESYNC, Ordering::Relaxed);
            ns.schedule();
        }
    }

    fn sa_requested(net: &Net, spid: u32, request: SaKey) {
        let guard = ReadGuard::new();
        let Some(ns) = NetState::of(net, &guard) else { return };
        // An ACQUIRE shows that an SA the packet path may have counted on
        // is missing, whichever policy it is for.
        ns.xfrm_event();
        if !ns.snapshot(&guard).is_some_and(|t| t.binds_policy(spid)) {
            return;
        }
        if ns.sa_requests.lock().acquired(spid, request) {
            ns.schedule();
        }
    }

    fn sa_changed(net: &Net, change: SaChange) {
        // Counters and soft expiries come every few packets; they must not
        // end what the packet path learned about SAs.
        if let SaChange::Unchanged = change {
            return;
        }
        let guard = ReadGuard::new();
        let Some(ns) = NetState::of(net, &guard) else { return };
        ns.xfrm_event();
        match change {
            SaChange::Installed(key) => {
                ns.sa_installs.fetch_add(1, Ordering::Relaxed);
                ns.sa_requests.lock().installed(&key);
                // Held packets may wait for this SA even without a request
                // on record (e.g. the ACQUIRE came before the mapping).
                ns.schedule();
            }
            SaChange::RequestGone(key) => ns.sa_requests.lock().expired(&key),
            SaChange::Unchanged | SaChange::Other => (),
        }
    }
}
