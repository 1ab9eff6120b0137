// SPDX-License-Identifier: GPL-2.0
//! The one shared-ownership pointer of the core logic, with fallible
//! allocation: the nodes of [`super::pmap::PMap`], which successive
//! snapshots of the table share.
//!
//! In the kernel this is `kernel::sync::Arc`, allocated with
//! `GFP_KERNEL_ACCOUNT` (tables are built in process context, charged to
//! the writer's memory cgroup); on the host `alloc::sync::Arc`.

use super::vec::AllocError;

#[cfg(MODULE)]
pub type Rc<T> = kernel::sync::Arc<T>;
#[cfg(not(MODULE))]
pub type Rc<T> = alloc::sync::Arc<T>;

/// Moves `value` into a new shared allocation.
pub fn new<T>(value: T) -> Result<Rc<T>, AllocError> {
    #[cfg(MODULE)]
    {
        kernel::sync::Arc::new(value, kernel::alloc::flags::GFP_KERNEL_ACCOUNT).map_err(|_| AllocError)
    }
    #[cfg(not(MODULE))]
    {
        // The host's allocator aborts on failure: tests do not exercise it.
        Ok(alloc::sync::Arc::new(value))
    }
}
