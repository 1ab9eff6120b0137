// SPDX-License-Identifier: GPL-2.0
//! SA requests (ACQUIREs) of mapped policies, followed until an SA answers
//! them, for the "SA pending" and "SA established" events.
//!
//! The key manager callbacks that feed this run in atomic context, so the
//! list never allocates: it has a fixed capacity, and a request that does
//! not fit goes unannounced (events are best effort).

use super::addr::Addr;

/// What an installed SA must match to answer an ACQUIRE: the larval
/// state's identity, as `xfrm_state_find()` made it from the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaKey {
    /// Address family of the SA (AF_INET, AF_INET6).
    pub family: u16,
    /// IPsec protocol (ESP, AH, COMP).
    pub proto: u8,
    /// Transport, tunnel, ...
    pub mode: u8,
    /// The template's reqid; 0 matches any.
    pub reqid: u32,
    /// The SA's destination (the tunnel's remote end).
    pub daddr: Addr,
    /// The SA's source.
    pub saddr: Addr,
}

impl SaKey {
    /// Whether an SA installed with `installed` answers this request.
    pub fn answered_by(&self, installed: &SaKey) -> bool {
        self.family == installed.family
            && self.proto == installed.proto
            && self.mode == installed.mode
            && self.daddr == installed.daddr
            && self.saddr == installed.saddr
            && (self.reqid == 0 || self.reqid == installed.reqid)
    }
}

/// An event to announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaEvent {
    /// The kernel asked the key manager for an SA for policy `spid`.
    Pending(u32),
    /// An SA that request asked for was installed.
    Established(u32),
}

#[derive(Clone, Copy, Debug)]
struct Request {
    spid: u32,
    key: SaKey,
    /// Order of arrival, for announcing oldest first.
    seq: u64,
    announced: bool,
    established: bool,
}

/// The open requests of one namespace.
pub struct PendingSas {
    requests: [Option<Request>; Self::CAPACITY],
    next_seq: u64,
}

impl Default for PendingSas {
    fn default() -> Self {
        Self { requests: [None; Self::CAPACITY], next_seq: 0 }
    }
}

impl PendingSas {
    /// Room for this many open requests at once.
    pub const CAPACITY: usize = 32;

    fn remove_where(&mut self, gone: impl Fn(&Request) -> bool) {
        for slot in self.requests.iter_mut() {
            if slot.as_ref().is_some_and(&gone) {
                *slot = None;
            }
        }
    }

    /// Notes an ACQUIRE for policy `spid`.  A new request of the same
    /// policy replaces an open one.  Returns whether there is something to
    /// announce.
    ///
    /// When the list is full, the oldest request that was announced and
    /// not answered makes room.  Not every request that goes unanswered is
    /// reported gone ([`PendingSas::expired`]): the kernel makes no larval
    /// state when no key manager takes the ACQUIRE, and a flush of the SAD
    /// reports no state.  Such a request would otherwise stay for good.
    pub fn acquired(&mut self, spid: u32, key: SaKey) -> bool {
        let request = Request { spid, key, seq: self.next_seq, announced: false, established: false };
        self.next_seq += 1;
        let same = self.requests.iter().position(|r| r.is_some_and(|r| r.spid == spid));
        let Some(slot) = same.or_else(|| self.requests.iter().position(Option::is_none)).or_else(|| self.oldest_stale())
        else {
            return false;
        };
        self.requests[slot] = Some(request);
        true
    }

    /// The slot of the oldest request whose "pending" event went out and
    /// that no SA answered.
    fn oldest_stale(&self) -> Option<usize> {
        let stale = self.requests.iter().enumerate().filter_map(|(i, r)| Some((i, r.as_ref()?)));
        stale.filter(|(_, r)| r.announced && !r.established).min_by_key(|(_, r)| r.seq).map(|(i, _)| i)
    }

    /// Notes an installed SA.  Returns whether it answered a request.
    pub fn installed(&mut self, key: &SaKey) -> bool {
        let mut any = false;
        for r in self.requests.iter_mut().flatten() {
            if !r.established && r.key.answered_by(key) {
                r.established = true;
                any = true;
            }
        }
        any
    }

    /// Forgets requests whose larval state expired unanswered.
    pub fn expired(&mut self, key: &SaKey) {
        self.remove_where(|r| !r.established && r.key == *key);
    }

    /// Forgets the requests of a policy that is no longer mapped.
    pub fn forget(&mut self, spid: u32) {
        self.remove_where(|r| r.spid == spid);
    }

    /// The next event to announce, oldest request first.  A request that
    /// was answered before it was announced yields both events, in order.
    pub fn next_event(&mut self) -> Option<SaEvent> {
        let slot = self
            .requests
            .iter_mut()
            .filter(|r| r.is_some_and(|r| !r.announced || r.established))
            .min_by_key(|r| r.map_or(u64::MAX, |r| r.seq))?;
        let r = slot.as_mut()?;
        if !r.announced {
            r.announced = true;
            return Some(SaEvent::Pending(r.spid));
        }
        let spid = r.spid;
        *slot = None;
        Some(SaEvent::Established(spid))
    }
}
