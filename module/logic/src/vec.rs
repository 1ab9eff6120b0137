// SPDX-License-Identifier: GPL-2.0
//! The one growable container of the core logic, with fallible allocation.
//!
//! In the kernel this is `KVVec` allocating with `GFP_KERNEL_ACCOUNT`: the
//! table is only built in process context, under the configuration mutex;
//! kvmalloc falls back to vmalloc, so a table of the largest allowed size
//! (several MiB) needs no contiguous pages; and the memory is charged to
//! the memory cgroup of the process that asked for it.  On the host it is
//! `alloc::vec::Vec` with `try_reserve`.

/// Allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError;

#[cfg(MODULE)]
pub type Vec<T> = kernel::alloc::KVVec<T>;
#[cfg(not(MODULE))]
pub type Vec<T> = alloc::vec::Vec<T>;

/// Creates an empty vector that can hold `n` elements without reallocating.
pub fn with_capacity<T>(n: usize) -> Result<Vec<T>, AllocError> {
    #[cfg(MODULE)]
    {
        kernel::alloc::KVVec::with_capacity(n, kernel::alloc::flags::GFP_KERNEL_ACCOUNT).map_err(|_| AllocError)
    }
    #[cfg(not(MODULE))]
    {
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| AllocError)?;
        Ok(v)
    }
}

/// Appends `value`, growing the vector if needed.
pub fn push<T>(v: &mut Vec<T>, value: T) -> Result<(), AllocError> {
    #[cfg(MODULE)]
    {
        v.push(value, kernel::alloc::flags::GFP_KERNEL_ACCOUNT).map_err(|_| AllocError)
    }
    #[cfg(not(MODULE))]
    {
        v.try_reserve(1).map_err(|_| AllocError)?;
        v.push(value);
        Ok(())
    }
}
