// SPDX-License-Identifier: GPL-2.0
//! A namespace's life: its state comes with the namespace (or the module),
//! its work item does what events and the packet path cannot do in their
//! context, and its exit takes down the hooks and the bindings they made.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use crate::nat::{HooksOf, BINDING_LABEL};
use crate::net::conntrack;
use crate::net::pernet::{Entry, Net, PernetId, PernetState};
use crate::netlink;
use crate::state::{ChangeError, NetState, JOB_JUDGE, JOB_RESYNC};

static NET_ID: PernetId = PernetId::new();

impl PernetState for NetState {
    type Bound = HooksOf;

    fn id() -> &'static PernetId {
        &NET_ID
    }

    fn init(_net: &Net) -> impl PinInit<Self, Error> {
        NetState::new()
    }

    /// Resyncs mappings after SPD changes, announces SA events, releases
    /// held packets once their SA is installed and drops expired ones.
    fn run(ns: &Entry<Self>) {
        let jobs = ns.jobs.swap(0, Ordering::Relaxed);
        if jobs & JOB_RESYNC != 0 {
            if let Err(e) = ns.resync_policies(netlink::notify) {
                pr_warn!("policy resync failed ({}); mappings stay as they were until the next policy change\n", errno_of(e));
            }
        }
        if jobs & JOB_JUDGE != 0 {
            if let Err(e) = ns.judge_if_due() {
                // Not sole means that the packet path asks the SPD: right,
                // only slower, until the next change judges again.
                pr_warn!("judging sole policies failed ({})\n", errno_of(e));
            }
        }
        while let Some(event) = ns.next_sa_event() {
            netlink::notify_sa(ns.net(), event);
        }
        ns.service_hold_queues();
    }

    fn exit(ns: &Entry<Self>) {
        let mut w = ns.mappings.lock();
        w.dead = true;
        // Unpublish here, in process context, so the snapshot's RCU callback
        // is queued before the module's rcu_barrier() and not from the
        // state's own callback.
        w.replace(None);
        // Without the hooks nothing translates the replies of the bindings
        // they made, nor guards them: they go first (the namespace's own
        // entries go anyway when it is deleted; this is for module unload).
        ns.with_bound(|net, hooks| {
            if hooks.is_some() {
                conntrack::delete_labelled(net, BINDING_LABEL);
            }
            *hooks = None;
        });
        // Held packets hold routes and devices of the namespace, which is
        // going; with the hooks gone, no more come.
        ns.drop_nonblock_packets();
    }
}

fn errno_of(e: ChangeError) -> i32 {
    match e {
        ChangeError::Kernel(e) => e.to_errno(),
        ChangeError::Refused(r) | ChangeError::RefusedEntry(_, r) => -r.errno(),
    }
}
