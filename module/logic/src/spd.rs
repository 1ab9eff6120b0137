// SPDX-License-Identifier: GPL-2.0
//! What xfrm_nat knows of the SPD: the outbound main policies by index and
//! by template reqid, kept current from the key-manager events
//! ([`SpdChange`]), so that a writer finds the policies a key names in
//! O(log P) instead of walking all P of them, which a concentrator with
//! thousands of children would pay on every map.
//!
//! The kernel keeps no index of policies by reqid, and finds a policy by
//! index only with its mark and interface: hence this copy.  It is exact as
//! long as no event is lost; when one is (no memory for the log, a flush,
//! an event that does not name its policy), the writer walks the SPD again.

use super::pmap::PMap;
use super::policy::SeenPolicy;
use super::table::MapKey;
use super::vec::{self, AllocError, Vec};

/// An SPD event, as the key-manager sink logs it for the writer.
#[derive(Clone, Copy, Debug)]
pub enum SpdChange {
    /// An outbound main policy was added, or updated in place: its state
    /// now.
    Put(SeenPolicy),
    /// The policy of this index is gone (deleted or expired), or is no
    /// longer one a mapping may bind.
    Gone(u32),
}

/// The outbound main policies of a namespace.
#[derive(Clone, Default)]
pub struct SpdIndex {
    policies: PMap<u32, SeenPolicy>,
    /// (reqid, index) for each distinct reqid of each policy's templates.
    by_reqid: PMap<(u32, u32), ()>,
}

impl SpdIndex {
    /// The index of `policies`, outbound main ones with distinct indexes
    /// (a later one replaces an earlier one of its index).
    pub fn of(policies: impl IntoIterator<Item = SeenPolicy>) -> Result<Self, AllocError> {
        let mut spd = Self::default();
        for p in policies {
            spd.apply(SpdChange::Put(p), |_| Ok(()))?;
        }
        Ok(spd)
    }

    /// Applies `change`, and passes `touched` each key whose policies it
    /// may have changed: the index's spid, and each reqid the policy had
    /// before or has now.  On failure the index may be half changed: the
    /// caller must build it again.
    pub fn apply(&mut self, change: SpdChange, mut touched: impl FnMut(MapKey) -> Result<(), AllocError>) -> Result<(), AllocError> {
        let index = match change {
            SpdChange::Put(p) => p.index,
            SpdChange::Gone(index) => index,
        };
        touched(MapKey::Spid(index))?;
        if let Some(old) = self.policies.get(&index).copied() {
            for &r in old.reqids.as_slice() {
                self.by_reqid = self.by_reqid.remove(&(r, index))?;
                touched(MapKey::Reqid(r))?;
            }
            self.policies = self.policies.remove(&index)?;
        }
        if let SpdChange::Put(p) = change {
            for &r in p.reqids.as_slice() {
                self.by_reqid = self.by_reqid.insert((r, index), ())?;
                touched(MapKey::Reqid(r))?;
            }
            self.policies = self.policies.insert(index, p)?;
        }
        Ok(())
    }

    /// The policies `key` names, by index.
    pub fn named(&self, key: MapKey) -> Result<Vec<SeenPolicy>, AllocError> {
        let mut out = Vec::new();
        match key {
            MapKey::Spid(index) => {
                if let Some(p) = self.policies.get(&index) {
                    vec::push(&mut out, *p)?;
                }
            }
            MapKey::Reqid(reqid) => {
                for (&(_, index), _) in self.by_reqid.iter_from(&(reqid, 0)).take_while(|((r, _), _)| *r == reqid) {
                    if let Some(p) = self.policies.get(&index) {
                        vec::push(&mut out, *p)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}
