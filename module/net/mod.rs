// SPDX-License-Identifier: GPL-2.0
//! Safe abstractions over the C networking API the module uses.
//!
//! Every FFI call of the module lives below this module.  Most of its
//! `unsafe` code does too; not yet all: `state.rs` still reads and replaces
//! its RCU pointer under a "caller holds the lock" contract and implements
//! `WorkHandler::from_work`, and `nat.rs` and `netlink.rs` each dereference
//! a published global.  Each file covers one C subsystem and is written so
//! that it could move to `rust/kernel/net/`.

pub mod bh_lock;
pub mod compat;
pub mod conntrack;
pub mod genetlink;
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
