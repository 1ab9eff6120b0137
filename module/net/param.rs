// SPDX-License-Identifier: GPL-2.0
//! The module's parameters (`/sys/module/xfrm_nat/parameters/`), declared
//! with `module_param()` in the C helpers, which 6.12's `module!` cannot.

use crate::bindings;

/// `max_mappings`: mappings per network namespace.
pub fn max_mappings() -> usize {
    // SAFETY: No preconditions; reads a word the kernel may change at any
    // time, with READ_ONCE.
    let v = unsafe { bindings::xnat_param_max_mappings() };
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// `max_hold_bytes_total`: bytes the hold queues of all namespaces
/// together may reserve.
pub fn max_hold_bytes_total() -> u64 {
    // SAFETY: As for `max_mappings`.
    let v = unsafe { bindings::xnat_param_max_hold_bytes_total() };
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// `max_hold_bytes`: bytes the hold queues of one namespace may reserve.
pub fn max_hold_bytes() -> u64 {
    // SAFETY: As for `max_mappings`.
    let v = unsafe { bindings::xnat_param_max_hold_bytes() };
    u64::try_from(v).unwrap_or(u64::MAX)
}
