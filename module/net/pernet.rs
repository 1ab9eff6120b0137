// SPDX-License-Identifier: GPL-2.0
//! Per-network-namespace state (`struct pernet_operations`).
//!
//! Each namespace gets one `T`, created when the namespace (or the module)
//! comes up and retired when it goes.  The namespace's slot holds an RCU
//! pointer, so callbacks that may race with the namespace's exit (netfilter
//! hooks, xfrm key-manager events) find either the live state or nothing.

use core::{marker::PhantomData, sync::atomic::AtomicU32, sync::atomic::Ordering};

use kernel::{error::from_result, prelude::*, types::Opaque};

use crate::bindings;
use crate::net::rcu::{RcuBox, RcuPointer, ReadGuard};

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

/// A pointer to a namespace kept by an object that the namespace's exit
/// destroys, so that the object may use the namespace for its whole life.
pub struct NetRef(*mut bindings::net);

// SAFETY: A `struct net` is usable from any thread.
unsafe impl Send for NetRef {}
// SAFETY: As above.
unsafe impl Sync for NetRef {}

impl NetRef {
    /// Remembers `net`.
    pub fn new(net: &Net) -> Self {
        Self(net.as_ptr())
    }

    /// The namespace.
    ///
    /// # Safety
    ///
    /// The namespace must still be live, e.g. because the owner of `self` is
    /// destroyed by the namespace's pernet exit.
    pub unsafe fn get(&self) -> &Net {
        // SAFETY: Per the function's contract.
        unsafe { Net::from_raw(self.0) }
    }
}

/// The id the kernel assigns to a pernet subsystem (`pernet_operations.id`).
pub struct PernetId(AtomicU32);

impl PernetId {
    /// An unassigned id, for a `static`.
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }
}

/// State kept for every network namespace.
pub trait PernetState: Send + Sync + Sized + 'static {
    /// Where the kernel stores this subsystem's id.
    fn id() -> &'static PernetId;

    /// Creates the state of a new namespace.
    fn init(net: &Net) -> Result<RcuBox<Self>>;

    /// Tears down a namespace's state; it is freed after a grace period.
    /// Runs in process context and may sleep.
    fn exit(&self, net: &Net);
}

/// A registered pernet subsystem.
///
/// # Invariants
///
/// `ops` is registered with the kernel for as long as `self` lives.
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
    pub fn register() -> Result<Self> {
        let ops = KBox::new(Opaque::new(bindings::pernet_operations::default()), GFP_KERNEL)?;
        let raw = ops.get();
        // SAFETY: `raw` is valid and not yet shared with the kernel.
        unsafe {
            (*raw).init = Some(Self::init_callback);
            (*raw).exit = Some(Self::exit_callback);
            (*raw).id = T::id().0.as_ptr();
            (*raw).size = core::mem::size_of::<RcuPointer<T>>();
        }
        // SAFETY: `raw` is a fully initialised `pernet_operations` that lives
        // in `ops` until `Drop` unregisters it.
        to_result(unsafe { bindings::register_pernet_subsys(raw) })?;
        // INVARIANT: Registered just above.
        Ok(Self { ops, _state: PhantomData })
    }

    /// The state of `net`, if it has one.
    pub fn get<'a>(net: &Net, guard: &'a ReadGuard) -> Option<&'a T> {
        // SAFETY: `net` is live; its slot lives as long as the namespace,
        // which outlives every read-side section that can reach it.
        let slot: &'a RcuPointer<T> = unsafe { Self::slot(net) };
        slot.get(guard)
    }

    /// # Safety
    ///
    /// The subsystem must be registered and `net` live for `'a`.
    unsafe fn slot<'a>(net: &Net) -> &'a RcuPointer<T> {
        let id = T::id().0.load(Ordering::Relaxed);
        // SAFETY: The kernel allocated `size_of::<RcuPointer<T>>()` zeroed
        // bytes for this id in every namespace; all-zero is a null pointer.
        unsafe { &*bindings::xnat_net_generic(net.as_ptr(), id).cast::<RcuPointer<T>>() }
    }

    unsafe extern "C" fn init_callback(net: *mut bindings::net) -> ffi::c_int {
        from_result(|| {
            // SAFETY: The kernel passes a namespace being set up.
            let net = unsafe { Net::from_raw(net) };
            let state = T::init(net)?;
            // SAFETY: Namespace init and exit are serialised by the kernel
            // (pernet_ops_rwsem), so this is the only writer.
            unsafe { Self::slot(net).replace(Some(state)) };
            Ok(0)
        })
    }

    unsafe extern "C" fn exit_callback(net: *mut bindings::net) {
        // SAFETY: The kernel passes a namespace being dismantled.
        let net = unsafe { Net::from_raw(net) };
        // SAFETY: See `init_callback`.
        let slot = unsafe { Self::slot(net) };
        // SAFETY: Serialised as in `init_callback`.
        if let Some(state) = unsafe { slot.get_locked() } {
            state.exit(net);
        }
        // SAFETY: Serialised as in `init_callback`; readers that still hold
        // the state keep it until their grace period ends.
        unsafe { slot.replace(None) };
    }
}

impl<T: PernetState> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant); `T::exit` runs for every
        // namespace before this returns.
        unsafe { bindings::unregister_pernet_subsys(self.ops.get()) };
    }
}

use kernel::error::to_result;
use kernel::ffi;
