// SPDX-License-Identifier: GPL-2.0
//! What the packet path reads: the snapshot of a namespace's mappings, and
//! the part of a mapping that its snapshots share (counters, hold queue,
//! conntrack zone).

use kernel::{prelude::*, sync::Arc};

use crate::hold::{Held, Release, Reservation};
use crate::state::ChangeError;
use crate::logic::request::{self, MapRequest, PendingMode};
use crate::logic::table::{Mapping, Table};
use crate::net::conntrack::ZoneTemplate;
use crate::net::pernet::Net;

pub(crate) use crate::logic::stats::Stats;

/// What the snapshots holding a mapping share: its counters, its hold queue
/// in hold mode, and the template of its remote prefix's conntrack zone.
/// The hold queue is a separate allocation, so that other mappings do not
/// pay for it.
#[derive(Clone)]
pub(crate) struct Shared {
    /// The counters.
    pub(crate) counters: Arc<Stats>,
    /// The hold queue, in hold mode.
    pub(crate) hold: Option<Arc<Held>>,
    /// The template of the zone, if the remote prefix has one.
    pub(crate) zone: Option<ZoneTemplate>,
}

/// The counters are what most users of a mapping's shared part want.
impl core::ops::Deref for Shared {
    type Target = Stats;

    fn deref(&self) -> &Stats {
        &self.counters
    }
}

/// What the packet path reads.
pub(crate) type Snapshot = Table<Shared>;

/// The shared part of a mapping made for `req` where `old` was: the
/// counters stay while the translation does; the hold queue, whose packets
/// are translated already, only if the translation and bounds do.
pub(crate) fn shared_for(net: &Net, req: &MapRequest, old: Option<&Mapping<Shared>>) -> Result<Shared, ChangeError> {
    let same_nat = old
        .filter(|m| m.family == req.family && m.nat == req.nat && m.nat_len == req.nat_len && m.from == req.from);
    let counters = match same_nat {
        Some(m) => m.stats.counters.clone(),
        None => Arc::new(Stats::default(), GFP_KERNEL_ACCOUNT)?,
    };
    let hold = match (req.pending, same_nat.and_then(|m| m.stats.hold.as_ref())) {
        (PendingMode::Hold, Some(h)) if h.view().limits == req.hold => Some(h.clone()),
        (PendingMode::Hold, _) => {
            let reservation = Reservation::take(request::hold_reservation(&req.hold))?;
            Some(Held::new(req.family, req.hold, Release::InOrder, Some(reservation))?)
        }
        _ => None,
    };
    let zone_of = |m: &Mapping<Shared>| m.remote.map_or(0, |r| r.zone);
    let zone = match req.remote.map_or(0, |r| r.zone) {
        0 => None,
        id => match old.filter(|m| zone_of(m) == id).and_then(|m| m.stats.zone.as_ref()) {
            Some(t) => Some(t.clone()),
            None => Some(ZoneTemplate::new(net, id)?),
        },
    };
    Ok(Shared { counters, hold, zone })
}

/// The mapping `req` makes where `old` was (see [`shared_for`]).
pub(crate) fn mapping_for(
    net: &Net,
    req: &MapRequest,
    old: Option<&Mapping<Shared>>,
) -> Result<Mapping<Shared>, ChangeError> {
    Ok(Mapping {
        key: req.key,
        family: req.family,
        nat: req.nat,
        nat_len: req.nat_len,
        from: req.from,
        pending: req.pending,
        inbound: req.inbound,
        remote: req.remote,
        name: req.name,
        stats: shared_for(net, req, old)?,
    })
}

/// The request that would make `m` as it is.
pub(crate) fn request_of(m: &Mapping<Shared>) -> MapRequest {
    let hold = m.stats.hold.as_ref().map(|h| h.view().limits).unwrap_or_default();
    MapRequest {
        key: m.key,
        family: m.family,
        nat: m.nat,
        nat_len: m.nat_len,
        from: m.from,
        pending: m.pending,
        hold,
        inbound: m.inbound,
        remote: m.remote,
        name: m.name,
    }
}
