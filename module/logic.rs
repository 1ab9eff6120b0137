// SPDX-License-Identifier: GPL-2.0
//! The kernel-independent logic, shared with the host crate in `core/`
//! (built there for `cargo test`, including property tests (proptest) in
//! `core/tests/properties.rs`).
#![allow(dead_code)]

#[path = "core/src/addr.rs"]
pub mod addr;
#[path = "core/src/fmt.rs"]
pub mod fmt;
#[path = "core/src/hold.rs"]
pub mod hold;
#[path = "core/src/nla.rs"]
pub mod nla;
#[path = "core/src/request.rs"]
pub mod request;
#[path = "core/src/sa.rs"]
pub mod sa;
#[path = "core/src/selector.rs"]
pub mod selector;
#[path = "core/src/table.rs"]
pub mod table;
#[path = "core/src/uapi.rs"]
pub mod uapi;
#[path = "core/src/vec.rs"]
pub mod vec;
