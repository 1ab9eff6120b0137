// SPDX-License-Identifier: GPL-2.0
//! Socket buffers, as far as netfilter hooks need them.

use kernel::types::Opaque;

use crate::bindings;
use crate::net::conntrack::{Conn, Direction};

/// A `struct sk_buff` seen by a hook.
#[repr(transparent)]
pub struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    /// # Safety
    ///
    /// `ptr` must point to an skb that stays valid for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a SkBuff {
        // SAFETY: Transparent wrapper; validity is the caller's promise.
        unsafe { &*ptr.cast::<SkBuff>() }
    }

    /// Whether an IPv4 packet is the output of an xfrm transform (the ESP
    /// packet, not the plaintext).
    pub fn ipv4_xfrm_transformed(&self) -> bool {
        // SAFETY: Valid skb (type invariant of the reference); IPCB is the
        // control block of IPv4 packets in the output path.
        let flags = unsafe { bindings::xnat_ipcb_flags(self.0.get()) };
        flags & bindings::XNAT_IPSKB_XFRM_TRANSFORMED != 0
    }

    /// Whether an IPv6 packet is the output of an xfrm transform.
    pub fn ipv6_xfrm_transformed(&self) -> bool {
        // SAFETY: As above, for IP6CB.
        let flags = unsafe { bindings::xnat_ip6cb_flags(self.0.get()) };
        flags & bindings::XNAT_IP6SKB_XFRM_TRANSFORMED != 0
    }

    /// Whether the packet's route is an xfrm bundle, i.e. it will be
    /// transformed on output.
    pub fn routed_into_xfrm(&self) -> bool {
        // SAFETY: Valid skb.
        !unsafe { bindings::xnat_skb_dst_xfrm(self.0.get()) }.is_null()
    }

    /// The conntrack entry attached to the packet, and the packet's direction
    /// in it.
    pub fn conntrack(&self) -> Option<(&Conn, Direction)> {
        let mut info = 0;
        // SAFETY: Valid skb; `info` is a valid out-parameter.
        let ct = unsafe { bindings::xnat_nf_ct_get(self.0.get(), &mut info) };
        if ct.is_null() {
            return None;
        }
        // IP_CT_IS_REPLY is added to the state of reply-direction packets.
        let dir = if info >= bindings::ip_conntrack_info_IP_CT_IS_REPLY {
            Direction::Reply
        } else {
            Direction::Original
        };
        // SAFETY: The skb holds a reference to its conntrack entry, which
        // therefore lives at least as long as the skb reference.
        Some((unsafe { Conn::from_raw(ct) }, dir))
    }
}
