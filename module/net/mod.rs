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
//! requests act on.  Each file covers one C subsystem.
//!
//! Safe items are sound for every caller, not only for the module's own
//! use of them: a packet a hook keeps is a [`skb::StolenSkb`], bound to the
//! hook call (whose RCU section its route may be lent for), until
//! `pin_route` makes an [`skb::OwnedSkb`], the only kind that
//! [`xfrm::reroute`] and [`output::send_rerouted`] take; a hook cannot
//! return a verdict that takes a packet it does not own
//! ([`netfilter::KernelVerdict`]); kernel objects other CPUs write are
//! read field by field through raw pointers.
//!
//! Not a layer independent of this module, though: it uses types of the
//! kernel-independent crate `logic` (`crate::logic`), which has no kernel
//! dependency and no `unsafe`, where a copy of its own would be the same
//! type twice:
//! - `logic::addr::{Addr, Family}` (conntrack, netfilter, output, xfrm):
//!   plain values, an address and the two families;
//! - `logic::fmt::FixedBuf` (genetlink): formatting into a fixed buffer,
//!   for extack messages and string attributes;
//! - `logic::uapi::{AttrKind, AttrPolicy, Checks, Op, OpSpec}` (genetlink):
//!   the generated description of the family's operations and policies,
//!   from which the family is registered;
//! - `logic::policy::{Reqids, Rival, SeenPolicy}`, `logic::sa::SaKey`,
//!   `logic::selector::{DestSelector, Selector}` and
//!   `logic::table::SaScope` (xfrm): what the policy walk, the key manager
//!   and an SPD answer report, built where the C structures are read.
//!
//! `param` reads this module's own parameters, which `xnat_helpers.c`
//! defines.  Moving a file to `rust/kernel/net/` would take replacing those
//! by types of its own; nothing here depends on the module's state, hooks
//! or netlink family (`crate::state`, `crate::nat` and so on).

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
