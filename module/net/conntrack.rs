// SPDX-License-Identifier: GPL-2.0
//! Conntrack entries and source NAT bindings.

use kernel::types::Opaque;

use crate::bindings;
use crate::logic::addr::{Addr, Family};

/// A packet's direction within its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the initiator.
    Original,
    /// Towards the initiator.
    Reply,
}

/// One direction of a connection, as conntrack parsed it.
#[derive(Clone, Copy, Debug)]
pub struct Tuple {
    /// Destination address.
    pub dst: Addr,
    /// IP protocol.
    pub proto: u8,
    /// Source port (`u.all`), network order.
    pub src_port: u16,
    /// Destination port (`u.all`), network order.
    pub dst_port: u16,
    /// ICMP type, meaningful for ICMP only.
    pub icmp_type: u8,
    /// ICMP code, meaningful for ICMP only.
    pub icmp_code: u8,
}

/// A conntrack entry (`struct nf_conn`).
#[repr(transparent)]
pub struct Conn(Opaque<bindings::nf_conn>);

fn addr_of(a: &bindings::nf_inet_addr) -> Addr {
    // SAFETY: Every bit pattern of the union is a valid `[u32; 4]`.
    Addr::from_ne_words(unsafe { a.all })
}

impl Conn {
    /// # Safety
    ///
    /// `ptr` must point to a conntrack entry that stays valid for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::nf_conn) -> &'a Conn {
        // SAFETY: Transparent wrapper; validity is the caller's promise.
        unsafe { &*ptr.cast::<Conn>() }
    }

    /// The tuple of one direction.
    pub fn tuple(&self, dir: Direction) -> Tuple {
        let idx = match dir {
            Direction::Original => 0,
            Direction::Reply => 1,
        };
        // Tuples are fixed once the entry is attached to packets, but for NAT
        // setup of the reply tuple, done on the CPU owning the unconfirmed entry.
        // SAFETY: The entry is valid; see above for the tuple's stability.
        let t = unsafe { &(*self.0.get()).tuplehash[idx].tuple };
        // SAFETY: The port unions are plain integers in every variant.
        let (src_port, dst_port, icmp_type, icmp_code) =
            unsafe { (t.src.u.all, t.dst.u.all, t.dst.u.icmp.type_, t.dst.u.icmp.code) };
        Tuple {
            dst: addr_of(&t.dst.u3),
            proto: t.dst.protonum,
            src_port,
            dst_port,
            icmp_type,
            icmp_code,
        }
    }

    /// Whether NAT changed the source of this connection.
    pub fn is_source_natted(&self) -> bool {
        // SAFETY: Valid entry; `status` is a word read atomically by design.
        let status = unsafe { core::ptr::read_volatile(&(*self.0.get()).status) };
        status & u64::from(bindings::ip_conntrack_status_IPS_SRC_NAT) as ffi::c_ulong != 0
    }

    /// Binds the connection's source NAT to `addr` (ports kept when
    /// possible).  Returns the netfilter verdict of `nf_nat_setup_info`.
    ///
    /// Must be called from a NAT hook function for a new connection whose
    /// source manipulation is not set up yet; the NAT core guarantees that
    /// for functions registered through [`crate::net::netfilter::NatHook`].
    pub fn setup_snat(&self, family: Family, addr: &Addr) -> u32 {
        let mut range = bindings::nf_nat_range2::default();
        range.flags = bindings::NF_NAT_RANGE_MAP_IPS as u32;
        let mut words = addr.ne_words();
        if family == Family::V4 {
            words = [words[0], 0, 0, 0];
        }
        range.min_addr.all = words;
        range.max_addr.all = words;
        // SAFETY: Valid, unconfirmed entry owned by this CPU (see above);
        // `range` is a valid range for the call.
        unsafe { bindings::nf_nat_setup_info(self.0.get(), &range, bindings::nf_nat_manip_type_NF_NAT_MANIP_SRC) }
    }
}

use kernel::ffi;
