// SPDX-License-Identifier: GPL-2.0
//! Conntrack entries, their NAT bindings, and zone templates.

use kernel::{error::to_result, ffi, prelude::*, types::Opaque};

use crate::bindings;
use crate::logic::addr::{Addr, Family};
use crate::net::netfilter::KernelVerdict;
use crate::net::pernet::Net;
use crate::net::skb::SkBuff;

/// A conntrack label: one of the 128 bits that `conntrack -L -o labels`
/// prints and nftables' `ct label` matches.
///
/// # Invariants
///
/// The bit is below 128, within every labels extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(u32);

impl Label {
    /// Label `bit`.  Meant for a `const` item: there a bit past the 128
    /// fails the build; elsewhere `build_error!` makes such a call fail to
    /// link (`#[inline]`, as for `genetlink::Name::new`).
    #[inline]
    pub const fn new(bit: u32) -> Self {
        if bit >= 128 {
            kernel::build_error!("a conntrack label is one of 128 bits");
        }
        // INVARIANT: Checked above.
        Self(bit)
    }
}

/// Deletes every conntrack entry of `net` that carries `label`, as
/// `conntrack -D` would.  Sleeps.
pub fn delete_labelled(net: &Net, label: Label) {
    /// # Safety
    ///
    /// Called by `nf_ct_iterate_cleanup_net` only, with an entry it is
    /// iterating over, valid for the call, and the `data` given below.
    unsafe extern "C" fn has(ct: *mut bindings::nf_conn, data: *mut ffi::c_void) -> ffi::c_int {
        // `data` carries the label's bit, not a pointer.
        let bit = data as usize as u32;
        // SAFETY: Valid entry (see above).
        ffi::c_int::from(unsafe { bindings::xnat_ct_has_label(ct, bit) })
    }
    let iter = bindings::nf_ct_iter_data {
        net: net.as_ptr(),
        data: label.0 as usize as *mut ffi::c_void,
        portid: 0,
        report: 0,
    };
    // SAFETY: `net` is live, `iter` outlives the call, and `has` reads only
    // the entries it is given.
    unsafe { bindings::nf_ct_iterate_cleanup_net(Some(has), &iter) };
}

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
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// IP protocol.
    pub proto: u8,
    /// Source port (`u.all`), network order.
    pub src_port: u16,
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
        let (src_port, icmp_type, icmp_code) = unsafe { (t.src.u.all, t.dst.u.icmp.type_, t.dst.u.icmp.code) };
        Tuple {
            src: addr_of(&t.src.u3),
            dst: addr_of(&t.dst.u3),
            proto: t.dst.protonum,
            src_port,
            icmp_type,
            icmp_code,
        }
    }

    /// Whether the entry is confirmed: in the table, its NAT set for
    /// good (`nf_nat_setup_info` leaves a confirmed entry as it is).
    pub fn is_confirmed(&self) -> bool {
        // SAFETY: Valid entry; reads one bit of its status word.
        unsafe { bindings::xnat_ct_is_confirmed(self.0.get()) }
    }

    /// Removes the entry from the table, as if it had timed out: the
    /// flow's next packet makes a new one.  Packets holding it keep it
    /// until they are freed.
    pub fn kill(&self) {
        // SAFETY: Valid entry; `nf_ct_delete` copes with one deleted
        // meanwhile (it reports that, which does not matter here).
        unsafe { bindings::xnat_ct_kill(self.0.get()) };
    }

    fn has_status(&self, bit: bindings::ip_conntrack_status) -> bool {
        // SAFETY: Valid entry; `status` is a word read atomically by design.
        let status = unsafe { core::ptr::read_volatile(&(*self.0.get()).status) };
        status & u64::from(bit) as ffi::c_ulong != 0
    }

    /// Whether NAT changed the source of this connection.
    pub fn is_source_natted(&self) -> bool {
        self.has_status(bindings::ip_conntrack_status_IPS_SRC_NAT)
    }

    /// Whether NAT changed the destination of this connection.
    pub fn is_destination_natted(&self) -> bool {
        self.has_status(bindings::ip_conntrack_status_IPS_DST_NAT)
    }

    /// Whether the connection carries `label`.
    pub fn has_label(&self, label: Label) -> bool {
        // SAFETY: Valid entry; the labels extension, when there is one, is
        // read with the bitops conntrack itself uses.
        unsafe { bindings::xnat_ct_has_label(self.0.get(), label.0) }
    }

    /// Sets `label` on the connection, keeping its other labels.  An entry
    /// without labels gets room for them first: only the entries the
    /// module binds pay for the extension, not every entry of the
    /// namespace, as `nf_connlabels_get` would make them.  Conntrack lets
    /// an entry's extensions grow only until it is confirmed, so an entry
    /// without labels that is confirmed, or that finds no memory for them,
    /// fails with `ENOSPC`.
    ///
    /// Must be called where [`Conn::setup_snat`] may be: from a NAT hook
    /// function, for a new connection, which leaves an unconfirmed entry to
    /// the CPU that runs the hook.
    pub fn add_label(&self, label: Label) -> Result {
        let ct = self.0.get();
        // SAFETY: Valid entry; reads one bit of its status word.
        if !unsafe { bindings::xnat_ct_is_confirmed(ct) } {
            // Does nothing if the entry has labels already; without memory
            // the entry stays without, which the bit set below reports.
            // SAFETY: Valid entry, unconfirmed, so only this CPU reaches it
            // (see above) and its extensions may move, as the NAT core's
            // masquerade adds its own extension from the same hook.
            unsafe { bindings::xnat_ct_labels_ext_add(ct) };
        }
        // One atomic bit set: `nf_connlabels_replace` would rewrite all four
        // words of the labels, per new flow.
        // SAFETY: Valid entry; the bit is below 128 by `Label`'s invariant,
        // so within the extension's bits.
        to_result(unsafe { bindings::xnat_ct_set_label(ct, label.0) })
    }

    /// Binds the connection's source NAT to `addr` (ports kept when
    /// possible).  Fails with the verdict of `nf_nat_setup_info` when it
    /// is not `NF_ACCEPT` (a drop), which the hook returns for its packet.
    ///
    /// Must be called from a NAT hook function at a source NAT hook
    /// (post-routing, local in) for a new connection whose source
    /// manipulation is not set up yet; the NAT core guarantees the latter
    /// for functions registered with
    /// [`crate::net::netfilter::Registration::nat`].
    pub fn setup_snat(&self, family: Family, addr: &Addr) -> Result<(), KernelVerdict> {
        self.setup_nat(family, addr, bindings::nf_nat_manip_type_NF_NAT_MANIP_SRC)
    }

    /// Binds the connection's destination NAT to `addr`, as
    /// [`Conn::setup_snat`] does its source, from a NAT hook function at a
    /// destination NAT hook (pre-routing, local out).
    pub fn setup_dnat(&self, family: Family, addr: &Addr) -> Result<(), KernelVerdict> {
        self.setup_nat(family, addr, bindings::nf_nat_manip_type_NF_NAT_MANIP_DST)
    }

    fn setup_nat(&self, family: Family, addr: &Addr, manip: bindings::nf_nat_manip_type) -> Result<(), KernelVerdict> {
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
        let verdict = unsafe { bindings::nf_nat_setup_info(self.0.get(), &range, manip) };
        if verdict == bindings::NF_ACCEPT {
            Ok(())
        } else {
            Err(KernelVerdict::from_kernel(verdict))
        }
    }
}


/// Whether the kernel keeps conntrack zones (`CONFIG_NF_CONNTRACK_ZONES`):
/// without them a template's zone is ignored.
pub const ZONES: bool = bindings::XNAT_NF_CONNTRACK_ZONES != 0;

/// A conntrack template of a zone (`nf_ct_tmpl_alloc()`), as iptables' CT
/// target keeps one per rule: attached to a packet before conntrack sees
/// it, it makes conntrack look the packet up, and track its connection, in
/// that zone.
///
/// # Invariants
///
/// `tmpl` is a template on which `self` holds a reference.
pub struct ZoneTemplate {
    tmpl: core::ptr::NonNull<bindings::nf_conn>,
}

// SAFETY: A template is not changed once made; its reference count is
// atomic, so it may be shared and dropped on any CPU.
unsafe impl Send for ZoneTemplate {}
// SAFETY: As above.
unsafe impl Sync for ZoneTemplate {}

impl ZoneTemplate {
    /// A template of zone `id` in `net`, for both directions.  Sleeps.
    pub fn new(net: &Net, id: u16) -> Result<Self> {
        let zone = bindings::nf_conntrack_zone { id, flags: 0, dir: bindings::XNAT_NF_CT_DEFAULT_ZONE_DIR };
        // SAFETY: `net` is live; `zone` is read during the call only.
        let tmpl = unsafe { bindings::nf_ct_tmpl_alloc(net.as_ptr(), &zone, bindings::XNAT_GFP_KERNEL) };
        let tmpl = core::ptr::NonNull::new(tmpl).ok_or(ENOMEM)?;
        // Conntrack must never insert the template itself.
        // SAFETY: Ours alone until returned.
        unsafe { bindings::xnat_ct_set_confirmed(tmpl.as_ptr()) };
        // INVARIANT: The allocation's reference is ours.
        Ok(Self { tmpl })
    }

    /// Attaches the template to `skb` if conntrack has not seen it yet and
    /// no earlier rule attached a template of its own (a zone set in the
    /// raw table stands).  Called from a hook that runs before conntrack's.
    pub fn attach_to(&self, skb: &SkBuff) {
        // SAFETY: Valid skb, which the hook owns for the call.
        if unsafe { bindings::xnat_skb_get_nfct(skb.as_ptr()) } != 0 {
            return;
        }
        // SAFETY: A live template (type invariant): the reference taken
        // here goes to the skb, which drops it with its conntrack state.
        unsafe {
            bindings::xnat_nf_conntrack_get(self.tmpl.as_ptr());
            bindings::xnat_nf_ct_set(skb.as_ptr(), self.tmpl.as_ptr(), bindings::ip_conntrack_info_IP_CT_NEW);
        }
    }
}

impl Clone for ZoneTemplate {
    fn clone(&self) -> Self {
        // SAFETY: A live template (type invariant).
        unsafe { bindings::xnat_nf_conntrack_get(self.tmpl.as_ptr()) };
        // INVARIANT: The reference just taken.
        Self { tmpl: self.tmpl }
    }
}

impl Drop for ZoneTemplate {
    fn drop(&mut self) {
        // SAFETY: Our reference (type invariant); the last one frees the
        // template (`nf_ct_tmpl_free()`, conntrack's code, not ours).
        unsafe { bindings::xnat_nf_ct_put(self.tmpl.as_ptr()) };
    }
}
