// SPDX-License-Identifier: GPL-2.0
//! The kernel-independent logic: the host crate in `logic/`
//! (built there for `cargo test`, including property tests (proptest) in
//! `logic/tests/properties.rs`).
// The files are the host crate's public API, of which the module uses part.
#![allow(dead_code, unreachable_pub)]

#[path = "logic/src/addr.rs"]
pub(crate) mod addr;
#[path = "logic/src/explain.rs"]
pub(crate) mod explain;
#[path = "logic/src/fmt.rs"]
pub(crate) mod fmt;
#[path = "logic/src/hold.rs"]
pub(crate) mod hold;
#[path = "logic/src/name.rs"]
pub(crate) mod name;
#[path = "logic/src/htrie.rs"]
pub(crate) mod htrie;
#[path = "logic/src/nla.rs"]
pub(crate) mod nla;
#[path = "logic/src/pmap.rs"]
pub(crate) mod pmap;
#[path = "logic/src/policy.rs"]
pub(crate) mod policy;
#[path = "logic/src/rc.rs"]
pub(crate) mod rc;
#[path = "logic/src/request.rs"]
pub(crate) mod request;
#[path = "logic/src/sa.rs"]
pub(crate) mod sa;
#[path = "logic/src/selector.rs"]
pub(crate) mod selector;
#[path = "logic/src/spd.rs"]
pub(crate) mod spd;
#[path = "logic/src/stats.rs"]
pub(crate) mod stats;
#[path = "logic/src/table.rs"]
pub(crate) mod table;
#[path = "logic/src/uapi.rs"]
pub(crate) mod uapi;
#[path = "logic/src/vec.rs"]
pub(crate) mod vec;
