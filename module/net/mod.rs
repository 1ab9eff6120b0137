// SPDX-License-Identifier: GPL-2.0
//! Safe abstractions over the C networking API the module uses.
//!
//! Every FFI call and every `unsafe` block, fn and impl of the module lives
//! below this module (and in the generated bindings); `make unsafe-check`
//! (scripts/check-unsafe.sh) fails otherwise.  Each `unsafe` block says
//! why it is sound (`// SAFETY:`), each unsafe fn and C callback what it
//! requires (`# Safety`), and types with invariants where they are
//! established (`// INVARIANT:`).  Contracts that callers used to keep by
//! hand are types here: the writer lock of an RCU pointer is the guard of
//! [`rcu::RcuMutex`]; objects that callbacks find through a global are
//! [`rcu::Global`]s owned by a [`rcu::Publication`]; per-namespace state
//! comes in a [`pernet::Entry`] that knows its namespace, owns its work
//! item and keeps what borrows the namespace (hook registrations, which
//! cannot outlive it); a genetlink family owns the pernet subsystem its
//! requests act on.  Each file covers one C subsystem and is written so
//! that it could move to `rust/kernel/net/`.

pub mod bh_lock;
pub mod compat;
pub mod conntrack;
pub mod genetlink;
pub mod layout;
pub mod netfilter;
pub mod output;
pub mod param;
pub mod pernet;
pub mod rcu;
pub mod skb;
pub mod work;
pub mod xfrm;

use kernel::error::Error;

use crate::bindings;

/// `EMSGSIZE`, which `kernel::error::code` lacks in 6.12.
pub fn emsgsize() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as i32))
}

/// `EOPNOTSUPP`, likewise.
pub fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as i32))
}

/// Allocation context of a netlink message.
#[derive(Clone, Copy)]
pub enum Gfp {
    /// Process context, may sleep.
    Kernel,
    /// Atomic context (softirq, RCU read-side sections): does not sleep.
    Atomic,
}

impl Gfp {
    fn raw(self) -> bindings::gfp_t {
        match self {
            Self::Kernel => bindings::XNAT_GFP_KERNEL,
            Self::Atomic => bindings::XNAT_GFP_ATOMIC,
        }
    }
}
