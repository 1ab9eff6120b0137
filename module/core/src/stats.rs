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
    /// New flows of non-blocking local senders dropped while the SA was
    /// pending (eagain mode), which `EAGAIN` would have made spin.
    pub pending_nonblock_drops: AtomicU32,
}
