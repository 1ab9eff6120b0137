// SPDX-License-Identifier: GPL-2.0
//! Kernel-independent logic of xfrm_nat.
//!
//! The same files are compiled into the kernel module (included with
//! `#[path]` from `module/xnat_main.rs`, where `cfg(MODULE)` is set) and, through
//! this crate root, on the host for `cargo test`: the tests in `tests/`,
//! including randomized property tests (proptest) in `tests/properties.rs`;
//! there is no coverage-guided fuzzing.  They therefore
//! use only `core` plus the fallible vector from [`vec`], and refer to each
//! other with `super::`.
#![no_std]

#[cfg(not(MODULE))]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod addr;
pub mod explain;
pub mod fmt;
pub mod hold;
pub mod htrie;
pub mod name;
pub mod nla;
pub mod pmap;
pub mod policy;
pub mod rc;
pub mod request;
pub mod sa;
pub mod selector;
pub mod spd;
pub mod stats;
pub mod table;
pub mod uapi;
pub mod vec;
