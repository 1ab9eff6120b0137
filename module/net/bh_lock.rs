// SPDX-License-Identifier: GPL-2.0
//! A spinlock that also disables bottom halves: for data shared between the
//! packet path (softirq) and process context.
//!
//! 6.12's `kernel::sync` has `SpinLock`, which taken from process context
//! could be interrupted by a softirq that then spins on it.  This is the
//! same lock taken with `spin_lock_bh()`, as a [`Backend`] of
//! `kernel::sync::Lock`, so guards and lockdep work as for the others.

use kernel::sync::lock::{Backend, Lock};

use crate::bindings;

/// A `spinlock_t` taken with `spin_lock_bh()`.
pub type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Creates a [`SpinLockBh`] initialiser with a lock class of its own.
#[macro_export]
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:literal) => {
        $crate::net::bh_lock::SpinLockBh::new($inner, ::kernel::c_str!($name), ::kernel::static_lock_class!())
    };
}

/// The backend of [`SpinLockBh`].
pub struct SpinLockBhBackend;

// SAFETY: A `spinlock_t` gives mutual exclusion; `relock` keeps the default,
// which locks the same way, with BH disabled.
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(ptr: *mut Self::State, name: *const kernel::ffi::c_char, key: *mut kernel::bindings::lock_class_key) {
        // SAFETY: The caller passes a lock valid for writing and a name and
        // key valid forever.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees `init` ran; the module's bindings
        // declare the same C type under another Rust name.
        unsafe { bindings::xnat_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock, taken by `lock` above.
        unsafe { bindings::xnat_spin_unlock_bh(ptr.cast()) }
    }

    // 7.x's `Backend` also has these two (net/compat.rs).
    #[cfg(xnat_kernel_7)]
    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: The caller guarantees `init` ran, as for `lock`.
        unsafe { bindings::xnat_spin_trylock_bh(ptr.cast()) }.then_some(())
    }

    #[cfg(xnat_kernel_7)]
    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: The caller guarantees `init` ran; lockdep only reads the lock.
        unsafe { bindings::xnat_spin_assert_held(ptr.cast()) }
    }
}
