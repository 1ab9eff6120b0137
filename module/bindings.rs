// SPDX-License-Identifier: GPL-2.0
//! Module-local bindings to the C API (see `Kbuild` and `bindings_helper.h`).
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
#![allow(unknown_lints)]

use kernel::ffi;

include!("bindings_generated.rs");
