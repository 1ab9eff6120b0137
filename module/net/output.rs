// SPDX-License-Identifier: GPL-2.0
//! Finishing the output of a packet that a source-NAT lookup function kept
//! at post-routing: what the NAT core and the IP output path would have
//! done with it, done later.
//!
//! At the hook: [`apply_source_nat`] (the NAT core's `nf_nat_packet()`).
//! At release, with bottom halves disabled as on the output path:
//! [`crate::net::xfrm::reroute`] (the NAT core's `nf_xfrm_me_harder()`),
//! then [`send_rerouted`]: conntrack confirmation with helpers
//! (`nf_confirm()`, the last post-routing hook) and `dst_output()` with the
//! "rerouted" flag, as `ip_finish_output()` does for a packet NAT sent into
//! a bundle.  Post-routing hooks that run after source NAT and before
//! confirmation do not see released packets; the kernel's own xfrm hold
//! queue re-sends packets the same way.

use core::marker::PhantomData;

use kernel::prelude::*;

use crate::bindings;
use crate::logic::addr::Family;
use crate::net::netfilter::{nfproto, NF_INET_POST_ROUTING};
use crate::net::pernet::Net;
use crate::net::rcu::ReadGuard;
use crate::net::skb::OwnedSkb;

/// Bottom halves disabled, and an RCU read-side section, as in softirq:
/// the context the output path after the hooks expects.
pub struct OutputContext {
    _rcu: ReadGuard,
    _not_send: PhantomData<*mut ()>,
}

impl OutputContext {
    /// Disables bottom halves and enters an RCU read-side section.
    pub fn enter() -> Self {
        let rcu = ReadGuard::new();
        // SAFETY: Re-enabled in `Drop`, on the same CPU context (not `Send`).
        unsafe { bindings::xnat_local_bh_disable() };
        Self { _rcu: rcu, _not_send: PhantomData }
    }
}

impl Drop for OutputContext {
    fn drop(&mut self) {
        // Nested inside the RCU section, which `_rcu` ends after this.
        // SAFETY: Disabled in `enter`.
        unsafe { bindings::xnat_local_bh_enable() };
    }
}

/// Translates the packet by its connection's source NAT binding, which the
/// caller just set up.  Call in the NAT lookup function's context.
pub fn apply_source_nat(skb: &mut OwnedSkb) -> Result {
    let mut info = 0;
    // SAFETY: Owned, valid skb; `info` is a valid out-parameter.
    let ct = unsafe { bindings::xnat_nf_ct_get(skb.as_ptr(), &mut info) };
    if ct.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: `ct` is the skb's entry (held by the skb), bound by the caller
    // in the hook; `nf_nat_packet` may reallocate the skb's data only.
    let verdict = unsafe { bindings::nf_nat_packet(ct, info, NF_INET_POST_ROUTING, skb.as_ptr()) };
    if verdict == bindings::NF_ACCEPT {
        Ok(())
    } else {
        Err(EPERM)
    }
}

/// Confirms the packet's connection and sends the packet into the xfrm
/// bundle that [`crate::net::xfrm::reroute`] attached.  The packet is gone
/// either way; an error says it was dropped.
pub fn send_rerouted(net: &Net, skb: OwnedSkb, family: Family, _ctx: &OutputContext) -> Result {
    let mut state = bindings::nf_hook_state::default();
    state.hook = NF_INET_POST_ROUTING as u8;
    state.pf = nfproto(family);
    state.net = net.as_ptr();
    state.sk = skb.raw_sk();
    // SAFETY: Owned, valid skb with a route it holds (type invariant).
    state.out = unsafe { bindings::xnat_skb_dst_dev(skb.as_ptr()) };
    // `state` is the post-routing hook the packet would have passed, and
    // `_ctx` gives `nf_confirm` a hook's context (BH disabled, RCU held).
    // SAFETY: Owned skb; valid state; the context is as `nf_confirm` needs.
    let verdict = unsafe { bindings::nf_confirm(core::ptr::null_mut(), skb.as_ptr(), &state) };
    if verdict != bindings::NF_ACCEPT {
        // E.g. a retransmitted SYN whose connection the first one set up.
        return Err(EEXIST);
    }
    // SAFETY: Owned skb; the flags are the IP control block's, which the
    // output path reads.
    unsafe {
        match family {
            Family::V4 => bindings::xnat_ipcb_set_flags(skb.as_ptr(), bindings::XNAT_IPSKB_REROUTED),
            Family::V6 => bindings::xnat_ip6cb_set_flags(skb.as_ptr(), bindings::XNAT_IP6SKB_REROUTED),
        }
    }
    let sk = skb.raw_sk();
    // SAFETY: `dst_output` takes ownership of the skb; `sk` is the skb's own
    // socket (or null), which the skb keeps alive.
    let ret = unsafe { bindings::xnat_dst_output(net.as_ptr(), sk, skb.into_raw()) };
    // Positive values are congestion notices of a queue further down.
    kernel::error::to_result(ret.min(0))
}
