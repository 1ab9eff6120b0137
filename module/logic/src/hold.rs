// SPDX-License-Identifier: GPL-2.0
//! The hold queue of a mapping in hold mode: packets of new flows that wait
//! for their policy's SA, released in the order they came.
//!
//! The queue is bounded in packets and in bytes, and each packet carries a
//! deadline (the ACQUIRE lifetime after it was queued).  Its slots are
//! allocated when the mapping is made, so queueing from the packet path
//! never allocates.  The caller serialises access (a BH-safe spinlock in the
//! module) and supplies the clock, so that the queue is plain logic.

use super::uapi::map_checks;
use super::vec::{self, AllocError, Vec};

/// Bounds of one hold queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldLimits {
    /// The most packets queued at once.
    pub packets: u32,
    /// The most bytes (the module counts skb truesize) queued at once.
    pub bytes: u32,
}

impl HoldLimits {
    /// As the kernel's own policy hold queue (XFRM_MAX_QUEUE_LEN).
    pub const DEFAULT_PACKETS: u32 = 100;
    /// Room for the default packets at a typical Ethernet truesize.
    pub const DEFAULT_BYTES: u32 = 256 * 1024;
    // The bounds are the spec's `checks` of hold-packets and hold-bytes,
    // which the netlink policy enforces as well.  The slots of a queue are
    // one allocation, hence a modest packet bound.
    /// The fewest packets a limit may allow.
    pub const MIN_PACKETS: u32 = map_checks::HOLD_PACKETS_MIN;
    /// The most packets a limit may allow.
    pub const MAX_PACKETS: u32 = map_checks::HOLD_PACKETS_MAX;
    /// The fewest bytes a limit may allow.
    pub const MIN_BYTES: u32 = map_checks::HOLD_BYTES_MIN;
    /// The most bytes a limit may allow (16 MiB).
    pub const MAX_BYTES: u32 = map_checks::HOLD_BYTES_MAX;

    /// The defaults.
    pub const DEFAULT: Self = Self { packets: Self::DEFAULT_PACKETS, bytes: Self::DEFAULT_BYTES };
}

impl Default for HoldLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Counters of a hold queue, since the mapping was created in hold mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HoldCounters {
    /// Packets queued.
    pub held: u64,
    /// Packets released into the tunnel.
    pub released: u64,
    /// Packets dropped because the queue was full.
    pub overflow_drops: u64,
    /// Packets dropped at their deadline.
    pub timeout_drops: u64,
    /// Packets dropped on release for another reason.
    pub error_drops: u64,
}

struct Slot<P> {
    packet: P,
    bytes: u32,
    deadline: u64,
}

/// A bounded FIFO of packets with deadlines.
pub struct HoldQueue<P> {
    limits: HoldLimits,
    slots: Vec<Option<Slot<P>>>,
    head: usize,
    len: usize,
    bytes: u64,
    counters: HoldCounters,
}

impl<P> HoldQueue<P> {
    /// An empty queue with its slots allocated.
    pub fn new(limits: HoldLimits) -> Result<Self, AllocError> {
        let n = limits.packets as usize;
        let mut slots = vec::with_capacity(n)?;
        for _ in 0..n {
            vec::push(&mut slots, None)?;
        }
        Ok(Self { limits, slots, head: 0, len: 0, bytes: 0, counters: HoldCounters::default() })
    }

    /// The bounds.
    pub fn limits(&self) -> HoldLimits {
        self.limits
    }

    /// The counters.
    pub fn counters(&self) -> HoldCounters {
        self.counters
    }

    /// Packets queued now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no packet is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot `offset` places after the head; `offset` is below the
    /// number of slots.
    fn index(&self, offset: usize) -> usize {
        let i = self.head + offset;
        if i >= self.slots.len() {
            i - self.slots.len()
        } else {
            i
        }
    }

    fn slot(&mut self, i: usize) -> Option<&mut Option<Slot<P>>> {
        self.slots.get_mut(i)
    }

    fn fits(&self, bytes: u32) -> bool {
        self.len < self.slots.len() && self.bytes + u64::from(bytes) <= u64::from(self.limits.bytes)
    }

    /// Queues `packet` at the tail.  A packet that does not fit is handed
    /// back and counted as an overflow drop; the caller drops it.
    pub fn push(&mut self, packet: P, bytes: u32, deadline: u64) -> Result<(), P> {
        if !self.fits(bytes) {
            self.counters.overflow_drops += 1;
            return Err(packet);
        }
        let i = self.index(self.len);
        let Some(slot) = self.slot(i) else { return Err(packet) };
        *slot = Some(Slot { packet, bytes, deadline });
        self.len += 1;
        self.bytes += u64::from(bytes);
        self.counters.held += 1;
        Ok(())
    }

    /// Takes the oldest packet, with its size and deadline, to try to
    /// release it.  It counts as neither released nor dropped until the
    /// caller reports with [`HoldQueue::released`], [`HoldQueue::failed`]
    /// or [`HoldQueue::put_back`].
    pub fn pop(&mut self) -> Option<(P, u32, u64)> {
        if self.len == 0 {
            return None;
        }
        let slot = self.slot(self.head)?.take()?;
        self.head = self.index(1);
        self.len -= 1;
        self.bytes -= u64::from(slot.bytes);
        Some((slot.packet, slot.bytes, slot.deadline))
    }

    /// Returns a popped packet to the head, as its SA is still pending.  If
    /// packets queued meanwhile filled the queue, the newest one is evicted
    /// (an overflow drop) and handed back for the caller to drop.
    pub fn put_back(&mut self, packet: P, bytes: u32, deadline: u64) -> Option<P> {
        let mut evicted = None;
        while !self.fits(bytes) && self.len > 0 {
            let tail = self.index(self.len - 1);
            if let Some(slot) = self.slot(tail).and_then(Option::take) {
                self.bytes -= u64::from(slot.bytes);
                self.counters.overflow_drops += 1;
                // Only one can be handed back; a second eviction (a much
                // larger packet put back) is dropped with the slot.
                evicted = Some(slot.packet);
            }
            self.len -= 1;
        }
        // The slot before the head, which is free: the queue is not full.
        let before = self.index(self.slots.len().saturating_sub(1));
        let Some(slot) = self.slot(before) else { return Some(packet) };
        *slot = Some(Slot { packet, bytes, deadline });
        self.head = before;
        self.len += 1;
        self.bytes += u64::from(bytes);
        evicted
    }

    /// Counts a popped packet as released.
    pub fn released(&mut self) {
        self.counters.released += 1;
    }

    /// Counts a popped packet as dropped on release.
    pub fn failed(&mut self) {
        self.counters.error_drops += 1;
    }

    /// Takes the oldest packet if its deadline is at or before `now`, and
    /// counts it as a timeout drop.  Deadlines are kept in queueing order,
    /// so the caller repeats until `None`.
    pub fn expire(&mut self, now: u64) -> Option<P> {
        if self.next_deadline()? > now {
            return None;
        }
        let (packet, _, _) = self.pop()?;
        self.counters.timeout_drops += 1;
        Some(packet)
    }

    /// The deadline of the oldest packet.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(self.head)?.as_ref().map(|s| s.deadline)
    }
}
