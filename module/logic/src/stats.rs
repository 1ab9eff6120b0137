// SPDX-License-Identifier: GPL-2.0
//! The counters of one mapping.  Here rather than in the module so that the
//! host build can measure them (`examples/bench_lookup.rs`).
//!
//! They are the spec's ([`Counter`], generated from the `stats` attribute
//! set): a counter added to the spec is kept, reported and shown once the
//! code that counts it calls [`Stats::count`].

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

pub use super::uapi::Counter;

/// Whether the hold queue keeps `c` itself, under its lock, with the
/// queue (`hold::HoldCounters`): a mapping's [`Stats`] has no slot for it.
pub const fn in_hold_queue(c: Counter) -> bool {
    use Counter::*;
    matches!(c, Held | Released | HoldOverflowDrops | HoldTimeoutDrops | HoldErrorDrops | HoldQueued)
}

/// The counters kept in 32 bits, which is enough for them: a flow meets
/// them at most once per attempt; the pending ones only until IKE answers,
/// within seconds; stale entries only if they began before the
/// namespace's first mapping; a refused inbound attempt is dropped
/// before conntrack keeps it, like a pending drop.  Every other counter
/// of [`Stats`] has 64.  With them, a mapping's counters and their
/// refcount fit a 64-byte allocation.
pub const NARROW: [Counter; 6] = [
    Counter::PendingRefused,
    Counter::PendingDrops,
    Counter::PendingNonblockHeld,
    Counter::PendingNonblockDrops,
    Counter::StaleEntries,
    Counter::InboundRefused,
];

const fn is_narrow(c: Counter) -> bool {
    let mut j = 0;
    while j < NARROW.len() {
        if NARROW[j].index() == c.index() {
            return true;
        }
        j += 1;
    }
    false
}

/// Where [`Stats`] keeps each counter, by [`Counter::index`].
#[derive(Clone, Copy)]
enum Slot {
    Wide(u8),
    Narrow(u8),
    /// In the hold queue.
    None,
}

const SLOT: [Slot; Counter::COUNT] = {
    let mut slot = [Slot::None; Counter::COUNT];
    let (mut wide, mut narrow) = (0, 0);
    let mut i = 0;
    while i < Counter::COUNT {
        let c = Counter::ALL[i];
        if is_narrow(c) {
            slot[i] = Slot::Narrow(narrow);
            narrow += 1;
        } else if !in_hold_queue(c) {
            slot[i] = Slot::Wide(wide);
            wide += 1;
        }
        i += 1;
    }
    slot
};

/// How many counters [`Stats`] keeps in 64 bits.
const WIDE: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < Counter::COUNT {
        if matches!(SLOT[i], Slot::Wide(_)) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Counters of one mapping, shared by every snapshot that holds it.  What
/// each counts is the spec's doc of its attribute ([`Counter`]).
pub struct Stats {
    wide: [AtomicU64; WIDE],
    narrow: [AtomicU32; NARROW.len()],
}

impl Default for Stats {
    fn default() -> Self {
        // Const items, not inline const blocks: the 6.12 kernel's minimum
        // rustc predates those.
        #[allow(clippy::declare_interior_mutable_const)]
        const ZERO64: AtomicU64 = AtomicU64::new(0);
        #[allow(clippy::declare_interior_mutable_const)]
        const ZERO32: AtomicU32 = AtomicU32::new(0);
        Self { wide: [ZERO64; WIDE], narrow: [ZERO32; NARROW.len()] }
    }
}

impl Stats {
    /// Adds one to `counter`; nothing for a counter the hold queue keeps.
    pub fn count(&self, counter: Counter) {
        match SLOT[counter.index()] {
            Slot::Wide(i) => {
                if let Some(c) = self.wide.get(usize::from(i)) {
                    c.fetch_add(1, Relaxed);
                }
            }
            Slot::Narrow(i) => {
                if let Some(c) = self.narrow.get(usize::from(i)) {
                    c.fetch_add(1, Relaxed);
                }
            }
            Slot::None => (),
        }
    }

    /// The value of `counter`, `None` for one the hold queue keeps.
    pub fn get(&self, counter: Counter) -> Option<u64> {
        match SLOT[counter.index()] {
            Slot::Wide(i) => self.wide.get(usize::from(i)).map(|c| c.load(Relaxed)),
            Slot::Narrow(i) => self.narrow.get(usize::from(i)).map(|c| c.load(Relaxed).into()),
            Slot::None => None,
        }
    }
}
