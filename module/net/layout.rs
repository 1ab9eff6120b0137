// SPDX-License-Identifier: GPL-2.0
//! bindgen's view of the kernel structures the module reads or writes in
//! place, checked against the C compiler's when the module loads.
//!
//! bindgen lays structures out by itself, from the tree's headers and C
//! flags.  On a debug (KASAN, lockdep) 7.3 tree it once put
//! `sock::sk_callback_lock` 64 bytes before where the kernel has it, and
//! lockdep caught the module taking a "lock" that was not one.  A field at
//! the wrong offset is memory corruption, so a module whose bindings
//! disagree with the kernel on any field it touches refuses to load.
//! Fields of `struct sock` and its file are read through C helpers instead.
//!
//! The entries are written once, in `module/xnat_layout.h`, which says how
//! both sides are made from it.

use core::mem::{offset_of, size_of};

use kernel::prelude::*;

use crate::bindings;

/// `(name, bindgen's size of struct s)`, for an entry `XNAT_SIZE(s)`.
macro_rules! size {
    ($s:ident) => {
        (concat!("sizeof(struct ", stringify!($s), ")"), size_of::<bindings::$s>())
    };
}

/// `(name, bindgen's offset of field f)`, for `XNAT_FIELD(s, f)`.
macro_rules! field {
    ($s:ident, $($f:tt)+) => {
        (concat!(stringify!($s), ".", stringify!($($f)+)), offset_of!(bindings::$s, $($f)+))
    };
}

/// bindgen's values of the entries of the list in `xnat_layout.h`, in its
/// order: Kbuild preprocesses the list into an array of the macros above.
const FIELDS: &[(&str, usize)] = &include!("../layout_generated.rs");

/// Fails with `EINVAL`, naming the first field, if bindgen and the C
/// compiler disagree on where a field is or how large a structure is.
pub fn check() -> Result {
    let mut len = 0usize;
    // SAFETY: `len` is valid for writing; the function returns a static
    // array of `len` entries.
    let table = unsafe { bindings::xnat_layout(&mut len) };
    if table.is_null() || len != FIELDS.len() {
        pr_err!("layout table has {} entries, expected {}\n", len, FIELDS.len());
        return Err(EINVAL);
    }
    // SAFETY: See above; the array is static and never written.
    let kernel = unsafe { core::slice::from_raw_parts(table, len) };
    for (&(name, ours), &theirs) in FIELDS.iter().zip(kernel) {
        if ours != theirs {
            pr_err!("{name} is {ours} in the module's bindings but {theirs} in the kernel; not loading\n");
            return Err(EINVAL);
        }
    }
    Ok(())
}
