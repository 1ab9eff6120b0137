// SPDX-License-Identifier: GPL-2.0
//! A work item embedded in a longer-lived object, for deferring from atomic
//! context to process context, now or at a deadline.
//!
//! `kernel::workqueue` in 6.12 needs `Arc` ownership and cannot cancel; the
//! per-namespace entry (`net::pernet::Entry`) owns its work item and must
//! cancel it on exit.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::{ffi, prelude::*, types::Opaque};

use crate::bindings;

/// Runs a work item's job: the owner of a [`Work`] field.
///
/// # Safety
///
/// Implementers embed exactly one `Work<Self>` in `Self`, and
/// [`WorkHandler::from_work`], given a pointer to that field of a `Self`,
/// returns a pointer to that `Self` (the field's `container_of`), as
/// upstream's `HasWork::work_container_of` does: [`Work`]'s callback
/// dereferences the result as a live `Self`.
pub unsafe trait WorkHandler: Sync + 'static {
    /// The job; runs in process context and may sleep.
    fn run(&self);

    /// The owner of `work`.
    ///
    /// # Safety
    ///
    /// `work` must point to the [`Work`] field of a `Self` (see the
    /// trait's safety section).
    unsafe fn from_work(work: *const Work<Self>) -> *const Self
    where
        Self: Sized;
}

/// A `struct delayed_work` on the system workqueue that calls `T::run`,
/// now or after a delay; asked for several times, it runs by the earliest
/// deadline asked for.
///
/// Dropping does not cancel: the owner may be freed from an RCU callback,
/// where `cancel_delayed_work_sync` must not be called.  The owner cancels
/// earlier, as [`Work::new`] requires.
///
/// # Invariants
///
/// After [`Work::new`]'s initialiser ran, `work` is initialised and stays
/// at its address (the type is pinned).
#[pin_data]
pub struct Work<T: WorkHandler> {
    #[pin]
    work: Opaque<bindings::delayed_work>,
    /// The earliest deadline (in [`jiffies`]) asked for since the work
    /// last started, `u64::MAX` for none.  Lowered before the work is
    /// armed for it, reset when the work starts.
    armed: AtomicU64,
    _owner: PhantomData<T>,
}

// SAFETY: The work item can be queued from any thread; the handler is `Sync`.
unsafe impl<T: WorkHandler> Send for Work<T> {}
// SAFETY: All operations take `&self` and are thread-safe in C.
unsafe impl<T: WorkHandler> Sync for Work<T> {}

impl<T: WorkHandler> Work<T> {
    /// Initialises a work item in place.
    ///
    /// # Safety
    ///
    /// The work item must be initialised as the `Work<T>` field of a `T`
    /// (the field that `T::from_work` maps back to its `T`), and that `T`
    /// must call [`Work::cancel_sync`], after which it no longer schedules
    /// the work, before the work item is dropped.
    pub unsafe fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `INIT_DELAYED_WORK` initialises the work item in place.
            work <- Opaque::ffi_init(|slot| unsafe { bindings::xnat_init_delayed_work(slot, Some(Self::callback)) }),
            armed: AtomicU64::new(u64::MAX),
            _owner: PhantomData,
        })
    }

    /// Runs the work as soon as possible, also if it is waiting for a
    /// delay.  Safe in atomic context.
    pub fn schedule(&self) {
        // Lowered first, so that a call for a later deadline after this
        // leaves the run alone; armed in any case, as a timer already due
        // may still wait for the timer wheel's granularity.
        self.armed.fetch_min(jiffies(), Ordering::AcqRel);
        self.queue_in(0);
    }

    /// Runs the work within `delay` jiffies: now, if it is queued for
    /// later, it is queued for then instead.  Safe in atomic context.
    pub fn schedule_after(&self, delay: u64) {
        let mut deadline = jiffies().saturating_add(delay);
        // Only the caller that lowers the deadline arms the work: one that
        // finds it as early already leaves it to the one that set it, who
        // arms it or has (or the work started since and saw what this
        // caller did before: the reset in `callback` reads this RMW).
        if self.armed.fetch_min(deadline, Ordering::AcqRel) <= deadline {
            return;
        }
        loop {
            self.queue_in(deadline.saturating_sub(jiffies()));
            // A caller that lowered the deadline further meanwhile may have
            // armed the work before this call moved it later: then arm it
            // again for that deadline.  Early runs are harmless; only a
            // late one is not.
            let now_armed = self.armed.load(Ordering::Acquire);
            if now_armed >= deadline {
                return;
            }
            deadline = now_armed;
        }
    }

    /// Queues the work, or moves its timer, to `delay` jiffies from now.
    fn queue_in(&self, delay: u64) {
        let delay = ffi::c_ulong::try_from(delay).unwrap_or(ffi::c_ulong::MAX);
        // SAFETY: Initialised (type invariant).
        unsafe { bindings::xnat_mod_delayed_work(self.work.get(), delay) };
    }

    /// Cancels the work and waits for a running instance to finish.  May
    /// sleep.
    pub fn cancel_sync(&self) {
        // SAFETY: Initialised (type invariant).
        unsafe { bindings::cancel_delayed_work_sync(self.work.get()) };
    }

    /// # Safety
    ///
    /// Called by the workqueue core only, with the `work` of the
    /// `delayed_work` of a `Work<T>` initialised by [`Work::new`].
    unsafe extern "C" fn callback(work: *mut bindings::work_struct) {
        // SAFETY: The callback is only installed on the `work` of a
        // `delayed_work`.
        let dwork = unsafe { bindings::xnat_to_delayed_work(work) };
        // SAFETY: `dwork` is the `work` field of a `Work<T>` (`Opaque` is
        // transparent), so stepping back by the field's offset stays inside
        // that `Work<T>`.
        let this = unsafe { kernel::container_of!(dwork.cast::<Opaque<bindings::delayed_work>>(), Self, work) };
        // From here on a new deadline must arm the work again, however late:
        // this run may not see what comes after it starts.  An RMW, so that
        // the run sees what every caller that found the deadline early
        // enough did before (all writes of `armed` are RMWs).
        // SAFETY: `this` is the work item of a live `T`: owners cancel it
        // before they go away.
        unsafe { (*this).armed.swap(u64::MAX, Ordering::AcqRel) };
        // SAFETY: `this` is the work field of a `T` (`Work::new`'s contract),
        // which `T::from_work` maps to that `T` (the trait's contract); the
        // `T` is live: owners cancel the work before they go away.
        let owner = unsafe { &*T::from_work(this) };
        owner.run();
    }
}

/// A workqueue of the module's own, so that unloading can wait for the jobs
/// queued on it ([`Workqueue::spawn`]) before the module's code goes.
///
/// # Invariants
///
/// `wq` is a live workqueue owned by `self`.
pub struct Workqueue {
    wq: core::ptr::NonNull<bindings::workqueue_struct>,
}

// SAFETY: Workqueues are used from any context; queueing is thread-safe.
unsafe impl Send for Workqueue {}
// SAFETY: As above.
unsafe impl Sync for Workqueue {}

#[repr(C)]
struct Job<F> {
    // First, so that the work pointer is the job pointer.
    work: bindings::work_struct,
    run: Option<F>,
}

impl Workqueue {
    /// Creates a workqueue named `name`.
    pub fn new(name: &'static kernel::str::CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string that outlives the
        // workqueue (it is `'static`).
        let wq = unsafe { bindings::xnat_alloc_workqueue(name.as_char_ptr()) };
        // INVARIANT: Checked non-null, and owned from here on.
        Ok(Self { wq: core::ptr::NonNull::new(wq).ok_or(ENOMEM)? })
    }

    /// Runs `run` once, later, in process context.  Callable in atomic
    /// context; fails only if the job cannot be allocated.
    pub fn spawn<F: FnOnce() + Send + 'static>(&self, run: F) -> Result {
        let job = KBox::new(Job { work: bindings::work_struct::default(), run: Some(run) }, GFP_ATOMIC)?;
        let raw = KBox::into_raw(job);
        // Queueing hands the job's ownership to `Self::run_job`, which frees
        // it; until then it does not move.
        // SAFETY: `raw` is a valid, owned job; `INIT_WORK` initialises in place.
        unsafe {
            bindings::xnat_init_work(&mut (*raw).work, Some(Self::run_job::<F>));
            bindings::xnat_queue_work(self.wq.as_ptr(), &mut (*raw).work);
        }
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the workqueue core only, once, with the `work` of a job
    /// that `spawn` queued.
    unsafe extern "C" fn run_job<F: FnOnce() + Send + 'static>(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the first field of a `repr(C)` `Job<F>` that
        // `spawn` leaked from a `KBox` and queued once; it runs once.
        let mut job = unsafe { KBox::from_raw(work.cast::<Job<F>>()) };
        if let Some(run) = job.run.take() {
            run();
        }
    }
}

impl Drop for Workqueue {
    fn drop(&mut self) {
        // SAFETY: Owned (type invariant); destroying drains queued jobs.
        unsafe { bindings::destroy_workqueue(self.wq.as_ptr()) };
    }
}

/// The jiffies clock, as a 64-bit count that does not wrap.
pub fn jiffies() -> u64 {
    // SAFETY: Reads the clock; no preconditions.
    unsafe { bindings::xnat_jiffies64() }
}
