// SPDX-License-Identifier: GPL-2.0
//! RCU: read-side critical sections, and heap objects published to RCU
//! readers and freed only after a grace period.

use core::{marker::PhantomData, ptr::NonNull, sync::atomic::AtomicPtr, sync::atomic::Ordering};

use kernel::{alloc::Flags, prelude::*, types::Opaque};

use crate::bindings;

/// An RCU read-side critical section; it ends when the guard is dropped.
///
/// Not `Send`: the section must end on the CPU context that began it.
pub struct ReadGuard(PhantomData<*mut ()>);

impl ReadGuard {
    /// Enters a read-side critical section.
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock` has no preconditions; the matching unlock is
        // in `Drop`.
        unsafe { bindings::xnat_rcu_read_lock() };
        Self(PhantomData)
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        // SAFETY: The guard was created by `rcu_read_lock` in `new`.
        unsafe { bindings::xnat_rcu_read_unlock() };
    }
}

#[pin_data]
#[repr(C)]
struct RcuNode<T> {
    head: Opaque<bindings::callback_head>,
    #[pin]
    value: T,
}

/// An owned, pinned heap object that can be handed to RCU readers and is
/// then freed with [`RcuBox::drop_after_grace_period`].
///
/// # Invariants
///
/// `self.0` points to a valid `RcuNode<T>` allocated by `KBox`, owned by
/// this `RcuBox`, that never moves.
pub struct RcuBox<T: Send + Sync + 'static>(NonNull<RcuNode<T>>);

// SAFETY: `RcuBox<T>` owns a `T`, which is `Send + Sync`.
unsafe impl<T: Send + Sync + 'static> Send for RcuBox<T> {}
// SAFETY: Shared access only hands out `&T`, and `T: Sync`.
unsafe impl<T: Send + Sync + 'static> Sync for RcuBox<T> {}

impl<T: Send + Sync + 'static> RcuBox<T> {
    /// Allocates and initialises a `T` in place.
    pub fn pin_init<E>(init: impl PinInit<T, E>, flags: Flags) -> Result<Self, E>
    where
        E: From<kernel::alloc::AllocError>,
    {
        let node = KBox::try_pin_init(try_pin_init!(RcuNode { head: Opaque::uninit(), value <- init }? E), flags)?;
        // SAFETY: The node is never moved out of its allocation: it is only
        // reached through the raw pointer and freed in place.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(node) });
        // INVARIANT: `raw` comes from `KBox::into_raw`, so it is valid and owned.
        // SAFETY: `KBox::into_raw` never returns null.
        Ok(Self(unsafe { NonNull::new_unchecked(raw) }))
    }

    /// Allocates a `T`.
    pub fn new(value: T, flags: Flags) -> Result<Self> {
        // Not `Self::pin_init(value, ..)`: 7.x's pin-init implements
        // `PinInit<T, E>` for a plain `T` only with `E = Infallible`.
        let raw = KBox::into_raw(KBox::new(RcuNode { head: Opaque::uninit(), value }, flags)?);
        // INVARIANT: `raw` comes from `KBox::into_raw`, so it is valid and
        // owned, and nothing moves the node out of its allocation.
        // SAFETY: `KBox::into_raw` never returns null.
        Ok(Self(unsafe { NonNull::new_unchecked(raw) }))
    }

    /// Frees the object once every RCU reader that may still see it is done.
    pub fn drop_after_grace_period(self) {
        let node = self.0.as_ptr();
        core::mem::forget(self);
        // SAFETY: `node` is valid and owned (type invariant); ownership moves
        // to the callback, which runs once, after a grace period.
        unsafe { bindings::call_rcu((*node).head.get(), Some(Self::free_callback)) };
    }

    unsafe extern "C" fn free_callback(head: *mut bindings::callback_head) {
        // SAFETY: `head` is the `head` field of an `RcuNode<T>` passed to
        // `call_rcu` by `drop_after_grace_period`; `head` is its first field
        // of a `repr(C)` struct, so the pointers are equal.
        let node = head.cast::<RcuNode<T>>();
        // SAFETY: The node came from `KBox::into_raw` and nobody else owns it
        // (see `drop_after_grace_period`).
        drop(unsafe { KBox::from_raw(node) });
    }

    fn into_raw(self) -> *mut RcuNode<T> {
        let raw = self.0.as_ptr();
        core::mem::forget(self);
        raw
    }

    /// # Safety
    ///
    /// `raw` must come from [`RcuBox::into_raw`] and be owned by the caller.
    unsafe fn from_raw(raw: *mut RcuNode<T>) -> Self {
        // SAFETY: Per the function's contract.
        Self(unsafe { NonNull::new_unchecked(raw) })
    }
}

impl<T: Send + Sync + 'static> core::ops::Deref for RcuBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The node is valid for as long as `self` (type invariant).
        unsafe { &(*self.0.as_ptr()).value }
    }
}

impl<T: Send + Sync + 'static> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // A published `RcuBox` is retired through `drop_after_grace_period`,
        // never dropped directly, so no reader can see this node.
        // SAFETY: The node came from `KBox::into_raw` and is owned by `self`.
        drop(unsafe { KBox::from_raw(self.0.as_ptr()) });
    }
}

/// A pointer that RCU readers follow and a serialised writer replaces.
///
/// Readers get `&T` valid for their critical section; replaced objects are
/// freed after a grace period.
pub struct RcuPointer<T: Send + Sync + 'static> {
    ptr: AtomicPtr<RcuNode<T>>,
}

impl<T: Send + Sync + 'static> RcuPointer<T> {
    /// A pointer to nothing.
    pub const fn null() -> Self {
        Self { ptr: AtomicPtr::new(core::ptr::null_mut()) }
    }

    /// The current object, for the length of the read-side section.
    pub fn get<'a>(&'a self, _guard: &'a ReadGuard) -> Option<&'a T> {
        // Acquire pairs with the Release of `replace`, as rcu_dereference()
        // pairs with rcu_assign_pointer().
        let p = self.ptr.load(Ordering::Acquire);
        // `replace` frees an object only a grace period after unpublishing it.
        // SAFETY: Published by `replace`; `_guard` holds the read-side section.
        unsafe { p.as_ref().map(|n| &n.value) }
    }

    /// The current object, for a writer.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock that serialises writers of this pointer,
    /// so the object cannot be retired while the reference lives.
    pub unsafe fn get_locked(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: Only writers retire objects, and the caller excludes them.
        unsafe { p.as_ref().map(|n| &n.value) }
    }

    /// Publishes `new` and retires the previous object after a grace period.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock that serialises writers of this pointer.
    pub unsafe fn replace(&self, new: Option<RcuBox<T>>) {
        let new = new.map_or(core::ptr::null_mut(), RcuBox::into_raw);
        let old = self.ptr.swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` was published by a previous `replace`, which took
            // it from `RcuBox::into_raw`; it is now unreachable for new readers.
            unsafe { RcuBox::from_raw(old) }.drop_after_grace_period();
        }
    }
}

impl<T: Send + Sync + 'static> Drop for RcuPointer<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` excludes other writers.
        unsafe { self.replace(None) };
    }
}

/// Waits until every RCU read-side section that began before the call has
/// ended.  Sleeps.
pub fn synchronize() {
    // SAFETY: No preconditions; callers are in process context.
    unsafe { bindings::synchronize_rcu() };
}

/// On drop, waits until every RCU callback queued so far has run: the
/// callbacks of [`RcuBox`] run module code, which must outlive them.
pub struct BarrierOnDrop;

impl Drop for BarrierOnDrop {
    fn drop(&mut self) {
        // SAFETY: No preconditions; may sleep (module exit is process context).
        unsafe { bindings::rcu_barrier() };
    }
}
