// SPDX-License-Identifier: GPL-2.0
//! Hold mode: packets of new flows that a mapping translates while its
//! policy's SA is pending are kept, translated, in the mapping's queue, and
//! released in order once an SA is installed.
//!
//! The queue logic (bounds, deadlines, counters) is `logic::hold`; this
//! file binds it to packets.  The packet path queues (softirq); the
//! namespace's work item releases and expires (process context, BH
//! disabled per packet as on the output path).  Both take the queue's
//! BH-safe spinlock only to move packets in and out.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::{prelude::*, sync::Arc};

use crate::logic::addr::Family;
use crate::logic::hold::{HoldCounters, HoldLimits, HoldQueue};
use crate::logic::request::Refusal;
use crate::net::param;
use crate::net::bh_lock::SpinLockBh;
use crate::net::output::{self, OutputContext};
use crate::net::pernet::Net;
use crate::net::rcu::ReadGuard;
use crate::net::skb::{OwnedSkb, StolenSkb};
use crate::net::xfrm::{self, SpdAnswer};

/// The hold queue of one mapping in hold mode.  Shared by the snapshots
/// that hold the mapping; packets still queued when the last goes are
/// dropped with it.
#[pin_data]
pub(crate) struct Held {
    family: Family,
    order: Release,
    /// What the queue counts against `max_hold_bytes_total`, if anything.
    _reservation: Option<Reservation>,
    #[pin]
    queue: SpinLockBh<HoldQueue<OwnedSkb>>,
}

/// Bytes reserved by the hold queues of all namespaces, against
/// `max_hold_bytes_total`.
static RESERVED: AtomicU64 = AtomicU64::new(0);

/// A share of `max_hold_bytes_total`, given back when dropped.  Each
/// namespace's owner may reserve up to `max_hold_bytes` for its queues;
/// held packets of forwarded flows are charged to no memory cgroup, so
/// without this bound each network namespace a user creates would add
/// that much.
pub(crate) struct Reservation(u64);

impl Reservation {
    /// Reserves `bytes`, or says how far over the limit that would go.
    pub(crate) fn take(bytes: u64) -> Result<Self, Refusal> {
        let limit = param::max_hold_bytes_total();
        let mut wanted = 0;
        RESERVED
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                wanted = r.saturating_add(bytes);
                (wanted <= limit).then_some(wanted)
            })
            .map_err(|_| Refusal::HoldMemoryTotal { wanted, limit })?;
        Ok(Self(bytes))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        RESERVED.fetch_sub(self.0, Ordering::AcqRel);
    }
}

/// How a queue lets its packets go once SAs come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// Oldest first, stopping at the first whose SA is still pending: the
    /// packets of one mapping, which leave in the order they came.
    InOrder,
    /// Each as soon as its SA is there; those still waiting keep their
    /// order: packets of unrelated flows, which must not wait for one
    /// another (the namespace's queue of non-blocking senders).
    EachReady,
}

/// What became of a packet the queue tried to send.
enum Attempt {
    /// Its SA is still pending: the packet, to queue again.
    Pending(OwnedSkb),
    /// Sent.
    Sent,
    /// Dropped.
    Failed,
}

/// What [`Held::keep`] did with a packet.
pub(crate) enum Kept {
    /// Queued; `first` if the queue was empty before.
    Queued { first: bool },
    /// Dropped, and counted: the queue is full, or the packet could not be
    /// translated or its route kept.
    Dropped,
}

/// What a queue looks like, for `show`.
pub(crate) struct HoldView {
    /// Its bounds.
    pub(crate) limits: HoldLimits,
    /// Its counters.
    pub(crate) counters: HoldCounters,
    /// Packets in it now.
    pub(crate) queued: usize,
}

impl Held {
    /// A queue with its slots allocated (process context).
    pub(crate) fn new(family: Family, limits: HoldLimits, order: Release, reservation: Option<Reservation>) -> Result<Arc<Self>> {
        let queue = HoldQueue::new(limits).map_err(|_| ENOMEM)?;
        Arc::pin_init(
            pin_init!(Self {
                family,
                order,
                _reservation: reservation,
                queue <- crate::new_spinlock_bh!(queue, "xfrm_nat_hold"),
            }),
            // Charged to the requester, like the slots.
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Bounds, counters and length.
    pub(crate) fn view(&self) -> HoldView {
        let q = self.queue.lock();
        HoldView { limits: q.limits(), counters: q.counters(), queued: q.len() }
    }

    /// Whether packets wait: then a new flow of the mapping queues behind
    /// them even if the SA is there, to keep the order.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.lock().is_empty()
    }

    /// Translates a packet whose connection the caller just bound, and
    /// queues it until `deadline` (jiffies).  Called from the NAT lookup
    /// function's context.
    pub(crate) fn keep(&self, skb: StolenSkb<'_>, deadline: u64) -> Kept {
        let translated = skb.pin_route().and_then(|mut skb| output::apply_source_nat(&mut skb).is_ok().then_some(skb));
        let Some(skb) = translated else {
            self.queue.lock().failed();
            return Kept::Dropped;
        };
        let bytes = skb.truesize();
        let mut q = self.queue.lock();
        let first = q.is_empty();
        match q.push(skb, bytes, deadline) {
            Ok(()) => Kept::Queued { first },
            Err(skb) => {
                drop(q);
                drop(skb);
                Kept::Dropped
            }
        }
    }

    /// Drops packets whose deadline passed.
    pub(crate) fn expire(&self, now: u64) {
        let mut q = self.queue.lock();
        while let Some(skb) = q.expire(now) {
            drop(skb);
        }
    }

    /// Sends what can go (see [`Release`]) and returns the deadline of the
    /// oldest packet left.
    pub(crate) fn release(&self, net: &Net) -> Option<u64> {
        match self.order {
            Release::InOrder => self.release_in_order(net),
            Release::EachReady => self.release_each_ready(net),
        }
    }

    /// Sends queued packets, oldest first, until the queue is empty or the
    /// SA of the oldest is still pending.
    fn release_in_order(&self, net: &Net) -> Option<u64> {
        loop {
            let (skb, bytes, deadline) = self.queue.lock().pop()?;
            match self.attempt(net, skb) {
                Attempt::Pending(skb) => {
                    let evicted = self.queue.lock().put_back(skb, bytes, deadline);
                    drop(evicted);
                    return Some(deadline);
                }
                Attempt::Sent => self.queue.lock().released(),
                Attempt::Failed => self.queue.lock().failed(),
            }
        }
    }

    /// Tries each packet queued now once; those still pending go back to
    /// the head in their order, ahead of packets queued meanwhile, so that
    /// deadlines stay in queueing order.
    fn release_each_ready(&self, net: &Net) -> Option<u64> {
        let n = self.queue.lock().len();
        // Without memory for the list, the next run tries again.
        let Ok(mut waiting) = KVec::with_capacity(n, GFP_KERNEL) else {
            return self.queue.lock().next_deadline();
        };
        for _ in 0..n {
            let Some((skb, bytes, deadline)) = self.queue.lock().pop() else { break };
            match self.attempt(net, skb) {
                // Within the capacity reserved above: does not allocate.
                Attempt::Pending(skb) => {
                    if waiting.push(Some((skb, bytes, deadline)), GFP_NOWAIT).is_err() {
                        self.queue.lock().failed();
                    }
                }
                Attempt::Sent => self.queue.lock().released(),
                Attempt::Failed => self.queue.lock().failed(),
            }
        }
        for (skb, bytes, deadline) in waiting.iter_mut().rev().filter_map(Option::take) {
            let evicted = self.queue.lock().put_back(skb, bytes, deadline);
            drop(evicted);
        }
        self.queue.lock().next_deadline()
    }

    /// Reroutes a packet into its bundle and sends it, unless its SA is
    /// still pending.
    fn attempt(&self, net: &Net, mut skb: OwnedSkb) -> Attempt {
        let ctx = OutputContext::enter();
        let sent = match xfrm::reroute(net, &mut skb, self.family, &ctx) {
            Err(e) if xfrm::sa_pending(&e) => {
                drop(ctx);
                return Attempt::Pending(skb);
            }
            Err(_) => false,
            Ok(()) if skb.routed_into_xfrm() => output::send_rerouted(net, skb, self.family, &ctx).is_ok(),
            // Fail closed: the policy went, and the flow's route is plain
            // now.  A translated packet never leaves in the clear.
            Ok(()) => match xfrm::Egress::of_route(net, &skb) {
                xfrm::Egress::Stack => false,
                // An xfrm interface looks the packet up itself, and would
                // drop it while the SA is pending: ask as it will.
                egress => match xfrm::ask_spd(&ReadGuard::new(), net, &skb, self.family, None, egress, |_| ()) {
                    Ok(SpdAnswer::Pending) => {
                        drop(ctx);
                        return Attempt::Pending(skb);
                    }
                    Ok(SpdAnswer::Bundle(())) => output::send_rerouted(net, skb, self.family, &ctx).is_ok(),
                    _ => false,
                },
            },
        };
        drop(ctx);
        if sent {
            Attempt::Sent
        } else {
            Attempt::Failed
        }
    }
}
