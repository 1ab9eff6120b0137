// SPDX-License-Identifier: GPL-2.0
//! What differs between the in-kernel Rust APIs of 6.12 and 7.x, in one
//! place.  `Kbuild` sets the cfg `xnat_kernel_7` on 7.x trees; apart from
//! this file only `bh_lock.rs` tests it (7.x's `Backend` trait has two more
//! methods, which an `impl` cannot leave out, nor have on 6.12).

/// What `kernel::static_lock_class!()` gives, and lock constructors take:
/// a plain reference on 6.12, pinned on 7.x.
#[cfg(not(xnat_kernel_7))]
pub type StaticLockClass = &'static kernel::sync::LockClassKey;
#[cfg(xnat_kernel_7)]
pub type StaticLockClass = core::pin::Pin<&'static kernel::sync::LockClassKey>;

/// `kernel::prelude::module!` with one author.  6.12 spells the key
/// `author: "..."`; 7.x only accepts a list, `authors: ["..."]`.  Same
/// fields, in the same order, as `module!` otherwise.
macro_rules! module_one_author {
    (type: $type:tt, name: $name:tt, author: $author:tt, $($rest:tt)*) => {
        #[cfg(not(xnat_kernel_7))]
        ::kernel::prelude::module! { type: $type, name: $name, author: $author, $($rest)* }
        #[cfg(xnat_kernel_7)]
        ::kernel::prelude::module! { type: $type, name: $name, authors: [$author], $($rest)* }
    };
}
pub(crate) use module_one_author;
