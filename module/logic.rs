// SPDX-License-Identifier: GPL-2.0
//! The kernel-independent logic, shared with the host crate in `core/`
//! (built there for `cargo test`, including property tests (proptest) in
//! `core/tests/properties.rs`).
// The files are the host crate's public API, of which the module uses part.
#![allow(dead_code, unreachable_pub)]

#[path = "core/src/addr.rs"]
pub(crate) mod addr;
#[path = "core/src/fmt.rs"]
pub(crate) mod fmt;
#[path = "core/src/hold.rs"]
pub(crate) mod hold;
#[path = "core/src/nla.rs"]
pub(crate) mod nla;
#[path = "core/src/policy.rs"]
pub(crate) mod policy;
#[path = "core/src/request.rs"]
pub(crate) mod request;
#[path = "core/src/sa.rs"]
pub(crate) mod sa;
#[path = "core/src/selector.rs"]
pub(crate) mod selector;
#[path = "core/src/stats.rs"]
pub(crate) mod stats;
#[path = "core/src/table.rs"]
pub(crate) mod table;
#[path = "core/src/uapi.rs"]
pub(crate) mod uapi;
#[path = "core/src/vec.rs"]
pub(crate) mod vec;
