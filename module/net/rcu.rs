// SPDX-License-Identifier: GPL-2.0
//! RCU: read-side critical sections, and heap objects published to RCU
//! readers and freed only after a grace period.

use core::{marker::PhantomData, ptr::NonNull, sync::atomic::AtomicPtr, sync::atomic::Ordering};

use kernel::{
    alloc::Flags,
    prelude::*,
    str::CStr,
    sync::lock::{mutex::MutexBackend, Guard},
    sync::Mutex,
    types::Opaque,
};

use crate::bindings;
use crate::net::compat;

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

    /// # Safety
    ///
    /// Called by RCU only, once, with the `head` that
    /// `drop_after_grace_period` passed to `call_rcu`.
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
/// freed after a grace period.  Writers are serialised by something this
/// type does not know of, hence the `unsafe` writer side: outside `net/`,
/// use [`RcuMutex`], whose guard is the proof of the lock.
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
        // SAFETY: A non-null pointer was published by `replace` from a live
        // node, which is freed only a grace period after it is unpublished;
        // `_guard`, which the result borrows, keeps that grace period from
        // ending.
        unsafe { p.as_ref().map(|n| &n.value) }
    }

    /// The current object, for a writer.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock that serialises writers of this pointer
    /// for as long as the reference lives, so the object cannot be retired
    /// meanwhile.
    pub(in crate::net) unsafe fn get_locked(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: Only writers retire objects, and the caller excludes them.
        unsafe { p.as_ref().map(|n| &n.value) }
    }

    /// Publishes `new` and retires the previous object after a grace period.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock that serialises writers of this
    /// pointer, and hold no reference from [`RcuPointer::get_locked`].
    pub(in crate::net) unsafe fn replace(&self, new: Option<RcuBox<T>>) {
        let new = new.map_or(core::ptr::null_mut(), RcuBox::into_raw);
        let old = self.ptr.swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` was published by a previous `replace`, which took
            // it from `RcuBox::into_raw`, and the swap made it unreachable for
            // new readers; writers are serialised, so it is ours.
            unsafe { RcuBox::from_raw(old) }.drop_after_grace_period();
        }
    }
}

impl<T: Send + Sync + 'static> Drop for RcuPointer<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` excludes other writers and outstanding
        // `get_locked` references.
        unsafe { self.replace(None) };
    }
}

/// A mutex over `U` whose holder is also the one writer of an RCU pointer
/// to a `T`: RCU readers follow the pointer without the lock, and the guard
/// ([`RcuMutexGuard`]) is the proof of the lock the writer side needs, in
/// the manner of `kernel::sync::LockedBy` but with the pointer and the lock
/// in one object, so the proof cannot come from another lock.
#[pin_data]
pub struct RcuMutex<T: Send + Sync + 'static, U> {
    #[pin]
    lock: Mutex<U>,
    ptr: RcuPointer<T>,
}

/// Creates an [`RcuMutex`] initialiser with a lock class of its own.
#[macro_export]
macro_rules! new_rcu_mutex {
    ($inner:expr, $name:literal) => {
        $crate::net::rcu::RcuMutex::new($inner, ::kernel::c_str!($name), ::kernel::static_lock_class!())
    };
}

impl<T: Send + Sync + 'static, U> RcuMutex<T, U> {
    /// A mutex over `data`, with a null pointer.
    pub fn new(data: U, name: &'static CStr, key: compat::StaticLockClass) -> impl PinInit<Self> {
        pin_init!(Self { lock <- Mutex::new(data, name, key), ptr: RcuPointer::null() })
    }

    /// The current object, for the length of the read-side section.
    pub fn get<'a>(&'a self, guard: &'a ReadGuard) -> Option<&'a T> {
        self.ptr.get(guard)
    }

    /// Takes the lock: the writer side.  Sleeps.
    pub fn lock(&self) -> RcuMutexGuard<'_, T, U> {
        // INVARIANT: `guard` is of the lock that serialises writers of `ptr`.
        RcuMutexGuard { guard: self.lock.lock(), ptr: &self.ptr }
    }
}

/// The lock of an [`RcuMutex`], held: access to the `U`, and the writer side
/// of the pointer.
///
/// # Invariants
///
/// `guard` holds the lock that serialises the writers of `ptr`.
pub struct RcuMutexGuard<'a, T: Send + Sync + 'static, U> {
    guard: Guard<'a, U, MutexBackend>,
    ptr: &'a RcuPointer<T>,
}

impl<T: Send + Sync + 'static, U> RcuMutexGuard<'_, T, U> {
    /// The current object.  The borrow of the guard keeps [`Self::replace`]
    /// from retiring it while the reference lives.
    pub fn current(&self) -> Option<&T> {
        // SAFETY: The lock is held (type invariant) for as long as `self`,
        // which the result borrows; `replace` takes `&mut self`, so no
        // returned reference lives when it runs.
        unsafe { self.ptr.get_locked() }
    }

    /// Publishes `new`; the previous object is freed after a grace period.
    pub fn replace(&mut self, new: Option<RcuBox<T>>) {
        // SAFETY: The lock is held (type invariant); `&mut self` excludes
        // references from `current`.
        unsafe { self.ptr.replace(new) }
    }
}

impl<T: Send + Sync + 'static, U> core::ops::Deref for RcuMutexGuard<'_, T, U> {
    type Target = U;

    fn deref(&self) -> &U {
        &self.guard
    }
}

// `U: Unpin`, as 7.x's `Guard` asks for `DerefMut`.
impl<T: Send + Sync + 'static, U: Unpin> core::ops::DerefMut for RcuMutexGuard<'_, T, U> {
    fn deref_mut(&mut self) -> &mut U {
        &mut self.guard
    }
}

/// A global pointer to one heap object, which RCU readers may follow while a
/// [`Publication`] owns the object: for objects (a netlink family, a
/// workqueue) that callbacks with no other way to reach them use, and that
/// go away before the module does.
pub struct Global<T> {
    ptr: AtomicPtr<T>,
}

impl<T: Send + Sync + 'static> Global<T> {
    /// Nothing published, for a `static`.
    pub const fn new() -> Self {
        Self { ptr: AtomicPtr::new(core::ptr::null_mut()) }
    }

    /// The published object, if any, for the length of the read-side
    /// section.
    pub fn get<'a>(&'static self, _guard: &'a ReadGuard) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: A non-null pointer is the object of a live `Publication`:
        // its `drop` clears the pointer and waits for a grace period before
        // freeing the object, and `_guard`, which the result borrows, keeps
        // that grace period from ending.
        unsafe { p.as_ref() }
    }

    /// Publishes `value` until the result is dropped.  Fails with `EBUSY`
    /// if an object is published already.
    pub fn publish(&'static self, value: KBox<T>) -> Result<Publication<T>> {
        let p = core::ptr::from_ref(&*value).cast_mut();
        self.ptr.compare_exchange(core::ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed).map_err(|_| EBUSY)?;
        Ok(Publication { slot: self, value })
    }
}

/// Owns the object published in a [`Global`]; dropping it unpublishes the
/// object, waits for the readers that may still see it, then drops it.
/// Sleeps when dropped.
pub struct Publication<T: Send + Sync + 'static> {
    slot: &'static Global<T>,
    value: KBox<T>,
}

impl<T: Send + Sync + 'static> core::ops::Deref for Publication<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send + Sync + 'static> Drop for Publication<T> {
    fn drop(&mut self) {
        self.slot.ptr.store(core::ptr::null_mut(), Ordering::Release);
        // A reader that loaded the pointer is inside a read-side section;
        // after this none is, and `value` is dropped after this function.
        synchronize();
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
