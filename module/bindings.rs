// SPDX-License-Identifier: GPL-2.0
//! Module-local bindings to the C API (see `Kbuild` and `bindings_helper.h`).
// Older compilers (Debian 13's rustc 1.85) do not know every lint named below.
#![allow(unknown_lints)]
#![allow(
    dead_code,
    improper_ctypes,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    unreachable_pub,
    missing_docs,
    clippy::all
)]

use kernel::ffi;

include!("bindings_generated.rs");
