// SPDX-License-Identifier: GPL-2.0
//! Per-network-namespace state (`struct pernet_operations`).
//!
//! Each namespace gets one [`Entry`]: the user's state `T`, the namespace
//! it belongs to, a work item, and what borrows the namespace (e.g. hook
//! registrations).  It is created when the namespace (or the module) comes
//! up and retired when it goes.  The namespace's slot holds an RCU pointer,
//! so callbacks that may race with the namespace's exit (netfilter hooks,
//! xfrm key-manager events) find either the live entry or nothing.

use core::{
    marker::PhantomData,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering},
};

use kernel::{error::from_result, error::to_result, ffi, new_mutex, prelude::*, sync::Mutex, types::Opaque};

use crate::bindings;
use crate::net::rcu::{self, RcuBox, RcuPointer, ReadGuard};
use crate::net::work::{Work, WorkHandler};

/// A network namespace (`struct net`).
#[repr(transparent)]
pub struct Net(Opaque<bindings::net>);

impl Net {
    /// # Safety
    ///
    /// `ptr` must point to a live `struct net` for the lifetime `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::net) -> &'a Net {
        // SAFETY: `Net` is transparent over `struct net`; validity is the
        // caller's promise.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The C pointer.
    pub fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }
}

/// The id the kernel assigns to a pernet subsystem (`pernet_operations.id`),
/// and whether the subsystem is registered.
pub struct PernetId {
    id: AtomicU32,
    /// `FREE`, `CLAIMED` while a [`Registration`] registers or has
    /// registered the subsystem but lookups must not use `id` yet, or
    /// `REGISTERED`.  Lookups use `id` only when `REGISTERED`, which is set
    /// once registered and cleared, followed by a grace period, before
    /// unregistering, so that a lookup inside a read-side section never
    /// reads a slot the kernel is freeing.
    state: AtomicU8,
}

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const REGISTERED: u8 = 2;

impl PernetId {
    /// An unassigned id, for a `static`.
    pub const fn new() -> Self {
        Self { id: AtomicU32::new(0), state: AtomicU8::new(FREE) }
    }
}

/// A family of types that borrow a namespace for `'net`, e.g. registrations
/// of hooks that must go before the namespace does.  An [`Entry`] keeps one
/// while the namespace lives ([`Entry::with_bound`]); the borrow keeps the
/// values from being kept anywhere else.
pub trait NetBound: 'static {
    /// The values, borrowing the namespace.
    /// `Unpin`: they sit in a mutex, which 7.x lets a guard change only for
    /// `Unpin` data.
    type Of<'net>: Send + Unpin;

    /// Creates the values for `net` (process context, may sleep).
    fn new(net: &Net) -> Result<Self::Of<'_>>;
}

/// No values bound to the namespace.
impl NetBound for () {
    type Of<'net> = ();

    fn new(_net: &Net) -> Result {
        Ok(())
    }
}

/// State kept for every network namespace.
pub trait PernetState: Send + Sync + Sized + 'static {
    /// What the entry keeps that borrows the namespace.
    type Bound: NetBound;

    /// Where the kernel stores this subsystem's id.
    fn id() -> &'static PernetId;

    /// Creates the state of a new namespace.
    fn init(net: &Net) -> impl PinInit<Self, Error>;

    /// The job of the entry's work item ([`Entry::schedule`]); runs in
    /// process context and may sleep.
    fn run(entry: &Entry<Self>);

    /// Tears down a namespace's state.  Runs in process context and may
    /// sleep, after the work item is cancelled for good; afterwards the
    /// bound values are dropped and the entry is freed after a grace
    /// period.
    fn exit(entry: &Entry<Self>);
}

type BoundOf<'net, T> = <<T as PernetState>::Bound as NetBound>::Of<'net>;

/// The per-namespace entry of a [`Registration`]: the state, its
/// namespace, its work item and the values bound to the namespace.
///
/// # Invariants
///
/// `net` is the namespace of the entry and outlives it: the entry is
/// retired in the namespace's pernet exit, and the namespace is freed only
/// after an RCU barrier, which waits for the entry's free.  `work` is
/// cancelled in that exit, after which `exiting` keeps it from being
/// scheduled again, before the entry is retired.
#[pin_data]
pub struct Entry<T: PernetState> {
    net: *mut bindings::net,
    exiting: AtomicBool,
    #[pin]
    work: Work<Entry<T>>,
    #[pin]
    bound: Mutex<Option<BoundOf<'static, T>>>,
    #[pin]
    state: T,
}

// SAFETY: A `struct net` is usable from any thread; the other fields are
// `Send` (`T`, the work item, the bound values behind a mutex).
unsafe impl<T: PernetState> Send for Entry<T> {}
// SAFETY: Shared access reads `net` (a pointer usable from any thread) and
// otherwise goes through `T: Sync`, atomics, the work item and a mutex.
unsafe impl<T: PernetState> Sync for Entry<T> {}

impl<T: PernetState> core::ops::Deref for Entry<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.state
    }
}

impl<T: PernetState> Entry<T> {
    /// The namespace of the entry.
    pub fn net(&self) -> &Net {
        // SAFETY: The namespace outlives the entry (type invariant).
        unsafe { Net::from_raw(self.net) }
    }

    /// Runs `f` on the values bound to the namespace, which it may create
    /// (from the `&Net` it is given) or drop.  Sleeps (a mutex).
    pub fn with_bound<R>(&self, f: impl for<'net> FnOnce(&'net Net, &'net mut Option<BoundOf<'net, T>>) -> R) -> R {
        let mut guard = self.bound.lock();
        let slot: *mut Option<BoundOf<'static, T>> = &mut *guard;
        // The values are stored with `'static` for the namespace's lifetime,
        // which no type can name; they live no longer than the entry, which
        // the namespace outlives (type invariant), and `f`, which must work
        // for any `'net`, can neither keep them nor store values that borrow
        // anything else.
        // SAFETY: The types differ only in lifetimes, so the layout is the
        // same; the guard keeps the slot locked while `f` runs.
        f(self.net(), unsafe { &mut *slot.cast::<Option<BoundOf<'_, T>>>() })
    }

    /// Creates the bound values unless they exist.  Sleeps.
    pub fn bind(&self) -> Result {
        self.with_bound(|net, bound| {
            if bound.is_none() {
                *bound = Some(T::Bound::new(net)?);
            }
            Ok(())
        })
    }

    /// Runs the work item now, also if it waits for a delay.  Callable in
    /// atomic context, inside or outside an RCU read-side section; does
    /// nothing once the namespace is exiting.
    pub fn schedule(&self) {
        self.schedule_inner(None);
    }

    /// Runs the work item within `delay` jiffies (sooner if it is queued
    /// for sooner); as [`Entry::schedule`] otherwise.
    pub fn schedule_after(&self, delay: u64) {
        self.schedule_inner(Some(delay));
    }

    fn schedule_inner(&self, delay: Option<u64>) {
        // Inside a read-side section, so that after `exiting` is set and a
        // grace period has passed no new schedule can follow the final
        // cancel (see `Registration::exit_callback`).
        let _guard = ReadGuard::new();
        if self.exiting.load(Ordering::Relaxed) {
            return;
        }
        match delay {
            None => self.work.schedule(),
            Some(delay) => self.work.schedule_after(delay),
        }
    }
}

// SAFETY: `Entry<T>` has one `Work<Self>`, its `work` field, which
// `from_work` maps back to the entry with `container_of!`.
unsafe impl<T: PernetState> WorkHandler for Entry<T> {
    fn run(&self) {
        T::run(self);
    }

    unsafe fn from_work(work: *const Work<Self>) -> *const Self {
        // SAFETY: The caller passes the `work` field of a live `Entry<T>`,
        // so stepping back by the field's offset stays in that object.
        unsafe { kernel::container_of!(work, Self, work) }
    }
}

/// A registered pernet subsystem.
///
/// # Invariants
///
/// `ops` is registered with the kernel for as long as `self` lives, and
/// `T::id().state` is `REGISTERED` meanwhile, but for the grace period
/// `Drop` waits for before unregistering.
pub struct Registration<T: PernetState> {
    ops: KBox<Opaque<bindings::pernet_operations>>,
    _state: PhantomData<T>,
}

// SAFETY: The registration only holds a pointer the kernel reads; it can be
// dropped from any thread.
unsafe impl<T: PernetState> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing.
unsafe impl<T: PernetState> Sync for Registration<T> {}

impl<T: PernetState> Registration<T> {
    /// Registers the subsystem; `T::init` runs for every existing namespace.
    /// Fails with `EBUSY` if it is registered already: the kernel keeps one
    /// id per `PernetId`.
    pub fn register() -> Result<Self> {
        let id = T::id();
        id.state.compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed).map_err(|_| EBUSY)?;
        match Self::register_ops() {
            Ok(ops) => {
                id.state.store(REGISTERED, Ordering::Release);
                // INVARIANT: Registered, and marked so.
                Ok(Self { ops, _state: PhantomData })
            }
            Err(e) => {
                id.state.store(FREE, Ordering::Release);
                Err(e)
            }
        }
    }

    fn register_ops() -> Result<KBox<Opaque<bindings::pernet_operations>>> {
        let ops = KBox::new(Opaque::new(bindings::pernet_operations::default()), GFP_KERNEL)?;
        let raw = ops.get();
        // SAFETY: `raw` is valid and not yet shared with the kernel.
        unsafe {
            (*raw).init = Some(Self::init_callback);
            (*raw).exit = Some(Self::exit_callback);
            (*raw).id = T::id().id.as_ptr();
            (*raw).size = core::mem::size_of::<RcuPointer<Entry<T>>>();
        }
        // SAFETY: `raw` is a fully initialised `pernet_operations` that lives
        // in `ops` until `Drop` unregisters it.
        to_result(unsafe { bindings::register_pernet_subsys(raw) })?;
        Ok(ops)
    }

    /// The entry of `net`, if it has one.
    pub fn get<'a>(net: &Net, guard: &'a ReadGuard) -> Option<&'a Entry<T>> {
        if T::id().state.load(Ordering::Acquire) != REGISTERED {
            return None;
        }
        // SAFETY: The subsystem is registered and stays so until `guard`
        // ends (see `PernetId::state`), and the caller's `&Net` keeps
        // the namespace, hence its slot, for the call, during which the
        // slot is read; the entry it points to is kept by the read-side
        // section, for `'a`.
        let slot: &'a RcuPointer<Entry<T>> = unsafe { Self::slot(net) };
        slot.get(guard)
    }

    /// The entry of `net`, for as long as the caller keeps the namespace
    /// from exiting and the subsystem registered.
    ///
    /// # Safety
    ///
    /// `net` must not be dismantled, nor the subsystem unregistered, during
    /// `'a`.
    pub(in crate::net) unsafe fn get_unguarded<'a>(net: &'a Net) -> Option<&'a Entry<T>> {
        let guard = ReadGuard::new();
        let entry = Self::get(net, &guard).map(core::ptr::from_ref);
        drop(guard);
        // SAFETY: The entry is retired only by the namespace's exit or by
        // unregistration, neither of which can happen during `'a` (the
        // function's contract).
        entry.map(|e| unsafe { &*e })
    }

    /// # Safety
    ///
    /// The subsystem must be registered and `net` live for `'a`.
    unsafe fn slot<'a>(net: &Net) -> &'a RcuPointer<Entry<T>> {
        let id = T::id().id.load(Ordering::Relaxed);
        // SAFETY: The kernel allocated `size_of::<RcuPointer<..>>()` zeroed
        // bytes for this id in every namespace; all-zero is a null pointer.
        unsafe { &*bindings::xnat_net_generic(net.as_ptr(), id).cast::<RcuPointer<Entry<T>>>() }
    }

    /// # Safety
    ///
    /// Called by the kernel only (`pernet_operations.init`), with a
    /// namespace being set up, serialised with `exit_callback` by
    /// `pernet_ops_rwsem`.
    unsafe extern "C" fn init_callback(net: *mut bindings::net) -> ffi::c_int {
        from_result(|| {
            // SAFETY: The kernel passes a namespace being set up.
            let net = unsafe { Net::from_raw(net) };
            // Before the macro, in which `net` names the field.
            let state = T::init(net);
            let entry = RcuBox::pin_init(
                try_pin_init!(Entry::<T> {
                    // INVARIANT: This namespace's exit retires the entry.
                    net: net.as_ptr(),
                    exiting: AtomicBool::new(false),
                    // SAFETY: Initialised as the entry's `work` field, which
                    // `Entry::from_work` maps back to; `exit_callback`
                    // cancels the work for good before the entry is retired.
                    work <- unsafe { Work::new() },
                    bound <- new_mutex!(None, "xfrm_nat_pernet_bound"),
                    state <- state,
                }? Error),
                GFP_KERNEL,
            )?;
            // SAFETY: Namespace init and exit are serialised by the kernel
            // (pernet_ops_rwsem), so this is the only writer, and the
            // subsystem is being registered or is registered.
            unsafe { Self::slot(net).replace(Some(entry)) };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the kernel only (`pernet_operations.exit`), with a
    /// namespace being dismantled, serialised as for `init_callback`.
    unsafe extern "C" fn exit_callback(net: *mut bindings::net) {
        // SAFETY: The kernel passes a namespace being dismantled.
        let net = unsafe { Net::from_raw(net) };
        // SAFETY: Registered (exit runs before unregistration completes)
        // and `net` is live for the call.
        let slot = unsafe { Self::slot(net) };
        // SAFETY: Serialised as in `init_callback`, and the reference is not
        // used after the `replace` below.
        if let Some(entry) = unsafe { slot.get_locked() } {
            entry.exiting.store(true, Ordering::Relaxed);
            // Schedules test `exiting` inside a read-side section: after
            // this none can follow the cancel.
            rcu::synchronize();
            entry.work.cancel_sync();
            T::exit(entry);
            drop(entry.bound.lock().take());
        }
        // SAFETY: Serialised as in `init_callback`; readers that still hold
        // the entry keep it until their grace period ends.
        unsafe { slot.replace(None) };
    }
}

impl<T: PernetState> Drop for Registration<T> {
    fn drop(&mut self) {
        T::id().state.store(CLAIMED, Ordering::Release);
        // Lookups that saw it registered are inside read-side sections.
        rcu::synchronize();
        // SAFETY: Registered (type invariant); the exit callback runs for
        // every namespace before this returns.
        unsafe { bindings::unregister_pernet_subsys(self.ops.get()) };
        T::id().state.store(FREE, Ordering::Release);
    }
}
