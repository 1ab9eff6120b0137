// SPDX-License-Identifier: GPL-2.0
//! The counters of one mapping.  Here rather than in the module so that the
//! host build can measure them (`examples/bench_lookup.rs`).

use core::sync::atomic::{AtomicU32, AtomicU64};

/// Counters of one mapping, shared by every snapshot that holds it.
#[derive(Default)]
pub struct Stats {
    /// New flows translated.
    pub flows: AtomicU64,
    /// Packets dropped because they would have left without IPsec.
    pub fail_closed_drops: AtomicU64,
    /// New flows refused while the SA was pending (eagain mode).  32 bits
    /// are enough for the pending counters: a flow meets them at most once
    /// per attempt, and IKE answers within seconds.
    pub pending_refused: AtomicU32,
    /// New flows dropped while the SA was pending (drop mode).
    pub pending_drops: AtomicU32,
    /// New flows of non-blocking local senders (`O_NONBLOCK`, or kernel
    /// sockets, which nobody waits on) that met a pending SA in eagain
    /// mode.  `EAGAIN` would make such a sender spin, and a drop would cost
    /// it a retransmission timeout; instead its packet waits, translated,
    /// in the namespace's queue for such packets (64 packets and 128 KiB
    /// per address family) and leaves as soon as the SA is installed.  It
    /// is dropped if that queue is full or no SA comes within
    /// `net.core.xfrm_acq_expires`.
    pub pending_nonblock_held: AtomicU32,
    /// New flows whose source the mapping admits and whose destination its
    /// policy selects, but which the SPD, asked as the packet will be
    /// asked after translation (its socket's policy, its mark, the xfrm
    /// interface it leaves by, a policy of higher precedence), does not
    /// give to a policy the mapping binds.  They are left untranslated:
    /// e.g. an IKE daemon's own packets on a full-tunnel policy, which its
    /// socket's bypass policy keeps out of the tunnel.
    pub declined: AtomicU64,
    /// Packets of flows that conntrack confirmed before they could be
    /// translated (they began before the first mapping of the namespace,
    /// e.g. while a filter-only ruleset kept conntrack active).  Conntrack
    /// cannot translate a confirmed flow; its entry is removed and the
    /// packet dropped, so that the flow's next packet starts a new flow
    /// that is translated.
    pub stale_entries: AtomicU64,
}
