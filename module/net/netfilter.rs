// SPDX-License-Identifier: GPL-2.0
//! Netfilter hooks: plain hooks and NAT lookup functions.
//!
//! A NAT lookup function is registered with the NAT core
//! (`nf_nat_ipv{4,6}_register_fn`), as iptables' and nftables' nat tables
//! are.  The core calls it only for new connections whose NAT binding is not
//! set up yet, in priority order, and stops at the first that binds.

use core::marker::PhantomData;

use kernel::{error::to_result, prelude::*, types::Opaque};

use crate::bindings;
use crate::logic::addr::Family;
use crate::net::pernet::Net;
use crate::net::skb::{SkBuff, StolenSkb};

/// What a hook decides for a packet.  `K` is what a hook that keeps
/// packets ([`Hook::keep`]) needs to know to keep one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<K = core::convert::Infallible> {
    /// Let the packet continue.
    Accept,
    /// Drop the packet; a local sender gets `errno` (positive) from its call.
    DropWithErrno(i32),
    /// Drop the packet without telling a local sender: its call succeeds.
    DropSilently,
    /// A verdict a kernel call gave for this packet, passed on.
    Kernel(KernelVerdict),
    /// Take the packet over: it is handed to [`Hook::keep`] with the value,
    /// and a local sender's call succeeds.
    Keep(K),
}

impl<K> Verdict<K> {
    /// The C value (`NF_*`, `NF_DROP_ERR()`).
    pub fn to_raw(&self) -> u32 {
        match *self {
            Self::Accept => bindings::NF_ACCEPT,
            // NF_DROP_ERR(-errno)
            Self::DropWithErrno(errno) => ((errno as u32) << 16) | bindings::NF_DROP,
            // The callback frees or hands over the packet: see
            // `Registration::callback`.
            Self::DropSilently | Self::Keep(_) => bindings::NF_STOLEN,
            Self::Kernel(KernelVerdict(v)) => v,
        }
    }
}

/// A verdict the kernel gave for a packet, for the hook to return as its
/// own.  Only `net/` makes one, from the return value of a kernel call on
/// the hook's packet (e.g. [`crate::net::conntrack::Conn::setup_snat`]):
/// a safe hook cannot return `NF_STOLEN`, which would leak the packet, or
/// `NF_QUEUE` without owning the packet.
///
/// # Invariants
///
/// The verdict (its low byte) is `NF_ACCEPT` or `NF_DROP`: the packet
/// stays the caller's, to pass on or free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelVerdict(u32);

impl KernelVerdict {
    /// The verdict `raw` that a kernel call returned; one that would take
    /// the packet over (none of the calls `net/` passes on returns such)
    /// is taken as a drop.
    pub(in crate::net) fn from_kernel(raw: u32) -> Self {
        match raw & bindings::NF_VERDICT_MASK {
            // INVARIANT: Checked by the match.
            bindings::NF_ACCEPT | bindings::NF_DROP => Self(raw),
            // INVARIANT: A plain drop.
            _ => Self(bindings::NF_DROP),
        }
    }
}

/// The context of a hook call.
pub struct HookState<'a>(&'a bindings::nf_hook_state);

impl HookState<'_> {
    /// The namespace the packet is in.
    pub fn net(&self) -> &Net {
        // SAFETY: The hook state's namespace is live during the call.
        unsafe { Net::from_raw(self.0.net) }
    }

    /// The address family of the hook.
    pub fn family(&self) -> Option<Family> {
        match u32::from(self.0.pf) {
            bindings::NFPROTO_IPV4 => Some(Family::V4),
            bindings::NFPROTO_IPV6 => Some(Family::V6),
            _ => None,
        }
    }

    /// The hook point, `NF_INET_*`.
    pub fn hooknum(&self) -> u32 {
        u32::from(self.0.hook)
    }

    /// Index of the output device, 0 if none.
    pub fn out_ifindex(&self) -> i32 {
        // SAFETY: `out` is null or a device live during the call.
        unsafe { bindings::xnat_dev_ifindex(self.0.out) }
    }

    /// How the SPD will be asked about the packet, by the device it
    /// leaves by.
    pub fn egress(&self) -> crate::net::xfrm::Egress {
        // SAFETY: `out` is null or a device live during the call.
        unsafe { crate::net::xfrm::Egress::of_device(self.net(), self.0.out) }
    }
}

/// A hook function.
pub trait Hook: 'static {
    /// What [`Hook::hook`] passes to [`Hook::keep`]; `Infallible` for a
    /// hook that keeps nothing.
    type Kept;

    /// Decides for one packet.  Runs in softirq or with BH disabled, inside
    /// an RCU read-side section: must not sleep.
    fn hook(skb: &SkBuff, state: &HookState<'_>) -> Verdict<Self::Kept>;

    /// Takes over a packet for which [`Hook::hook`] returned
    /// [`Verdict::Keep`], right after it, in the same context; to keep it
    /// beyond the call, pin its route ([`StolenSkb::pin_route`]).  The
    /// default drops it.
    fn keep(kept: Self::Kept, skb: StolenSkb<'_>, state: &HookState<'_>) {
        let _ = (kept, state);
        drop(skb);
    }
}

/// Where in the stack a hook runs.
#[derive(Clone, Copy)]
pub struct HookPoint {
    /// Address family.
    pub family: Family,
    /// `NF_INET_*`.
    pub hooknum: u32,
    /// Priority; lower runs first.
    pub priority: i32,
}

/// Post-routing: where new flows leave, and are source-NATed.
pub const NF_INET_POST_ROUTING: u32 = bindings::nf_inet_hooks_NF_INET_POST_ROUTING;
/// Pre-routing: where new flows arrive, and are destination-NATed.
pub const NF_INET_PRE_ROUTING: u32 = bindings::nf_inet_hooks_NF_INET_PRE_ROUTING;
/// Local out: where the host's own new flows are destination-NATed.
pub const NF_INET_LOCAL_OUT: u32 = bindings::nf_inet_hooks_NF_INET_LOCAL_OUT;
/// Priority of source NAT (iptables' nat table, nftables' srcnat).
pub const NF_IP_PRI_NAT_SRC: i32 = bindings::nf_ip_hook_priorities_NF_IP_PRI_NAT_SRC;
/// Priority of conntrack's own hook, which looks a packet up.
pub const NF_IP_PRI_CONNTRACK: i32 = bindings::nf_ip_hook_priorities_NF_IP_PRI_CONNTRACK;
/// Priority of destination NAT (iptables' nat table, nftables' dstnat).
pub const NF_IP_PRI_NAT_DST: i32 = bindings::nf_ip_hook_priorities_NF_IP_PRI_NAT_DST;

/// The `NFPROTO_*` value of an address family.
pub fn nfproto(family: Family) -> u8 {
    match family {
        Family::V4 => bindings::NFPROTO_IPV4 as u8,
        Family::V6 => bindings::NFPROTO_IPV6 as u8,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Nat,
}

/// A registered hook or NAT function of one namespace; unregistered on drop.
/// It borrows the namespace, so it cannot outlive it; a state that keeps
/// registrations for the namespace's life keeps them in its pernet entry
/// (`net::pernet::Entry::with_bound`).
///
/// # Invariants
///
/// `ops` is registered in `net` (of kind `kind`) while `self` lives, and
/// `net` is live for `'net`, which `self` cannot outlive.
pub struct Registration<'net, H: Hook> {
    ops: KBox<Opaque<bindings::nf_hook_ops>>,
    net: *mut bindings::net,
    kind: Kind,
    _hook: PhantomData<(H, &'net Net)>,
}

// SAFETY: Unregistration may happen from any process-context thread.
unsafe impl<H: Hook> Send for Registration<'_, H> {}
// SAFETY: `&Registration` exposes nothing.
unsafe impl<H: Hook> Sync for Registration<'_, H> {}

impl<'net, H: Hook> Registration<'net, H> {
    /// Registers `H` as a plain hook.
    pub fn hook(net: &'net Net, at: HookPoint) -> Result<Self> {
        Self::register(net, at, Kind::Plain)
    }

    /// Registers `H` as a NAT lookup function, and takes conntrack in `net`
    /// for the address family, as NAT needs.
    pub fn nat(net: &'net Net, at: HookPoint) -> Result<Self> {
        Self::register(net, at, Kind::Nat)
    }

    fn register(net: &'net Net, at: HookPoint, kind: Kind) -> Result<Self> {
        let ops = KBox::new(Opaque::new(bindings::nf_hook_ops::default()), GFP_KERNEL)?;
        let raw = ops.get();
        // SAFETY: `raw` is valid and not yet shared.
        unsafe {
            (*raw).hook = Some(Self::callback);
            (*raw).pf = nfproto(at.family);
            (*raw).hooknum = at.hooknum;
            (*raw).priority = at.priority;
        }
        let netp = net.as_ptr();
        if kind == Kind::Nat {
            // SAFETY: `netp` is live.
            to_result(unsafe { bindings::nf_ct_netns_get(netp, nfproto(at.family)) })?;
        }
        // SAFETY: `raw` is a complete `nf_hook_ops` that lives in `ops` until
        // `Drop` unregisters it; `netp` is live.
        let ret = unsafe {
            match (kind, at.family) {
                (Kind::Plain, _) => bindings::nf_register_net_hook(netp, raw),
                (Kind::Nat, Family::V4) => bindings::nf_nat_ipv4_register_fn(netp, raw),
                (Kind::Nat, Family::V6) => bindings::nf_nat_ipv6_register_fn(netp, raw),
            }
        };
        if let Err(e) = to_result(ret) {
            if kind == Kind::Nat {
                // SAFETY: Taken above.
                unsafe { bindings::nf_ct_netns_put(netp, nfproto(at.family)) };
            }
            return Err(e);
        }
        // INVARIANT: Registered above; `net` is borrowed for `'net`.
        Ok(Self { ops, net: netp, kind, _hook: PhantomData })
    }

    /// # Safety
    ///
    /// Called by netfilter only (`nf_hook_ops.hook`), with a valid skb and
    /// hook state for the call, in the hook's context (softirq or BH
    /// disabled, inside an RCU read-side section).
    unsafe extern "C" fn callback(
        _priv: *mut ffi::c_void,
        skb: *mut bindings::sk_buff,
        state: *const bindings::nf_hook_state,
    ) -> ffi::c_uint {
        // SAFETY: Netfilter passes a valid skb and state for the call.
        let (skbref, state) = unsafe { (SkBuff::from_raw(skb), HookState(&*state)) };
        let verdict = H::hook(skbref, &state);
        let raw = verdict.to_raw();
        // With NF_STOLEN the hook owns the packet, and its caller sees
        // success.  The borrow `skbref` ended with `H::hook`.
        match (verdict, core::ptr::NonNull::new(skb)) {
            (Verdict::DropSilently, Some(skb)) => {
                // SAFETY: The skb is ours with this verdict; it is dropped
                // within the hook's RCU section, which its route may need.
                drop(unsafe { StolenSkb::from_raw(skb) });
            }
            (Verdict::Keep(kept), Some(skb)) => {
                // SAFETY: As above; `H::keep`, generic over the lifetime,
                // cannot keep the `StolenSkb` beyond the call, which is
                // inside the hook's RCU section.
                H::keep(kept, unsafe { StolenSkb::from_raw(skb) }, &state);
            }
            _ => (),
        }
        raw
    }
}

impl<H: Hook> Drop for Registration<'_, H> {
    fn drop(&mut self) {
        let raw = self.ops.get();
        // The C side waits for or RCU-defers running hooks, and no running
        // hook reads `ops` after unregistration, so `ops` can go with us.
        // SAFETY: Registered in `self.net`, which is live (type invariant).
        unsafe {
            let pf = (*raw).pf;
            match self.kind {
                Kind::Plain => bindings::nf_unregister_net_hook(self.net, raw),
                Kind::Nat => {
                    if pf == bindings::NFPROTO_IPV4 as u8 {
                        bindings::nf_nat_ipv4_unregister_fn(self.net, raw)
                    } else {
                        bindings::nf_nat_ipv6_unregister_fn(self.net, raw)
                    }
                    bindings::nf_ct_netns_put(self.net, pf);
                }
            }
        }
    }
}

use kernel::ffi;
