// SPDX-License-Identifier: GPL-2.0
//! The xfrm SPD: reading policies, and learning of policy changes by
//! registering as a key manager (`struct xfrm_mgr`).

use core::marker::PhantomData;

use kernel::{prelude::*, types::Opaque};

use crate::bindings;
use crate::logic::addr::{Addr, Family};
use crate::logic::explain::{SpdAction, SpdPolicy};
use crate::logic::policy::{Reqids, Rival, SeenPolicy, MAX_TEMPLATES, XFRM_POLICY_OUT};
use crate::logic::sa::SaKey;
use crate::logic::selector::{DestSelector, Selector};
use crate::logic::table::SaScope;
use crate::net::pernet::Net;
use crate::net::rcu::ReadGuard;
use crate::net::output::OutputContext;
use crate::net::skb::{OwnedSkb, SkBuff};

/// Reads one field of a kernel object that other CPUs may write, once, as
/// `READ_ONCE()` does: through a raw pointer to the field, never through a
/// reference to the object (whose refcount, lock, lifetime counters and
/// state other CPUs write meanwhile), as `kernel::net::phy` reads
/// `struct phy_device`.  A racing write may leave a field wider than a word
/// torn; callers read fields that are fixed once the object is published,
/// or where a torn value decides one event or flow only (said where read).
///
/// # Safety
///
/// `field` points to a field of an object that is live for the call.
unsafe fn read_once<T: Copy>(field: *const T) -> T {
    // SAFETY: Valid for reads (the caller's promise); a volatile read is not
    // elided, repeated or merged with others.
    unsafe { core::ptr::read_volatile(field) }
}

/// The number of elements of the array `_array` points to.
fn array_len<T, const N: usize>(_array: *const [T; N]) -> usize {
    N
}

/// An xfrm policy (`struct xfrm_policy`).
///
/// # Invariants
///
/// A `&Policy` is only made for a policy that is live (held by the SPD
/// walk's lock, the caller's reference or a bundle's) for the reference's
/// life.
#[repr(transparent)]
pub struct Policy(Opaque<bindings::xfrm_policy>);

/// The address `a`, a copy [`read_once`] made of a kernel object's field.
fn addr_of(a: &bindings::xfrm_address_t) -> Addr {
    // SAFETY: Every bit pattern of the union is a valid `[u32; 4]`.
    Addr::from_ne_words(unsafe { a.a6 })
}

impl Policy {
    fn as_ptr(&self) -> *const bindings::xfrm_policy {
        self.0.get()
    }

    /// Whether this is a main-type (not sub) policy.
    pub fn is_main(&self) -> bool {
        // SAFETY: A live policy (type invariant); the type is set before it
        // is inserted.
        u32::from(unsafe { read_once(&raw const (*self.as_ptr()).type_) }) == bindings::XFRM_POLICY_TYPE_MAIN
    }

    /// The policy's index: its direction in the low 3 bits.
    pub fn index(&self) -> u32 {
        // SAFETY: As above; the index is set when it is inserted, before the
        // SPD or a bundle has it.
        unsafe { read_once(&raw const (*self.as_ptr()).index) }
    }

    /// Its templates, in order.
    fn templates(&self) -> impl Iterator<Item = *const bindings::xfrm_tmpl> + '_ {
        let p = self.as_ptr();
        // SAFETY: A live policy (type invariant); the number of templates is
        // set before it is inserted.
        let nr = usize::from(unsafe { read_once(&raw const (*p).xfrm_nr) });
        // SAFETY: As above; only the field's address is taken.
        let vec = unsafe { &raw const (*p).xfrm_vec };
        // With `i` below the array's length, each pointer is to an element.
        (0..nr.min(array_len(vec))).map(move |i| vec.cast::<bindings::xfrm_tmpl>().wrapping_add(i))
    }

    /// The reqids of its templates, in template order.
    pub fn template_reqids(&self) -> impl Iterator<Item = u32> + '_ {
        // SAFETY: A template of a live policy (`templates`); a reqid is set
        // before the policy is inserted.
        self.templates().map(|t| unsafe { read_once(&raw const (*t).reqid) })
    }

    /// Whether every template names both tunnel endpoints, so that the
    /// SAs it resolves to do not depend on the flow's route.
    pub fn templates_have_endpoints(&self) -> bool {
        self.templates().all(|t| {
            // SAFETY: A template of a live policy (`templates`).  A
            // migration (`xfrm_policy_migrate()`) rewrites the endpoints
            // under the policy's lock, which this does not take: a torn
            // address decides for this one look.
            let (saddr, daddr) = unsafe { (read_once(&raw const (*t).saddr), read_once(&raw const (*t).id.daddr)) };
            let any = |a: &bindings::xfrm_address_t| addr_of(a).0 == [0; 16];
            !any(&saddr) && !any(&daddr)
        })
    }

    /// The selector, priority, mark mask and interface id: fixed once the
    /// policy is inserted (an update inserts a new policy).
    fn match_fields(&self) -> (bindings::xfrm_selector, u32, u32, u32) {
        let p = self.as_ptr();
        // SAFETY: A live policy (type invariant).
        unsafe {
            (
                read_once(&raw const (*p).selector),
                read_once(&raw const (*p).priority),
                read_once(&raw const (*p).mark.m),
                read_once(&raw const (*p).if_id),
            )
        }
    }

    /// Index, family, selector, priority and template reqids, if the
    /// family is one xfrm_nat knows.
    pub fn seen(&self) -> Option<SeenPolicy> {
        let (sel, priority, _, _) = self.match_fields();
        let (family, selector) = selector_of(&sel)?;
        Some(SeenPolicy { index: self.index(), reqids: Reqids::new(self.template_reqids()), family, selector, priority })
    }

    /// The policy as a rival for the flows of bound policies.
    pub fn rival(&self) -> Rival {
        let (sel, _, mark_mask, if_id) = self.match_fields();
        let (family, selector) = match selector_of(&sel) {
            Some((family, selector)) => (Some(family), selector),
            None => (None, Selector::default()),
        };
        // SAFETY: A live policy (type invariant).
        let labelled = unsafe { bindings::xnat_xp_has_security(self.0.get()) };
        Rival { index: self.index(), family, selector, keyed: mark_mask != 0 || if_id != 0 || labelled }
    }
}

impl Policy {
    /// The policy as the explain operation weighs it
    /// ([`crate::logic::explain::SpdChoice`]), if a lookup of an outbound
    /// flow with mark 0, if_id 0 and no security context may give it to
    /// the flow: an outbound main policy whose mark value is 0, of if_id
    /// 0, without a security context.
    pub fn spd_policy(&self) -> Option<SpdPolicy> {
        if !self.is_main() || self.index() & 7 != XFRM_POLICY_OUT {
            return None;
        }
        let (sel, priority, _, if_id) = self.match_fields();
        let p = self.as_ptr();
        // SAFETY: A live policy (type invariant).  Mark, action and the
        // number of templates are fixed once the policy is inserted; `pos`
        // is set when a policy is linked (all renumbered when it would
        // wrap), under the SPD lock, which the walk that shows us the
        // policy holds.
        let (mark, pos, action, templates) = unsafe {
            (
                read_once(&raw const (*p).mark.v),
                read_once(&raw const (*p).pos),
                read_once(&raw const (*p).action),
                read_once(&raw const (*p).xfrm_nr),
            )
        };
        // SAFETY: A live policy (type invariant).
        let labelled = unsafe { bindings::xnat_xp_has_security(p) };
        // A flow of mark 0 matches a policy only if its mark value is 0
        // (`(fl->flowi_mark & pol->mark.m) != pol->mark.v`).
        if mark != 0 || if_id != 0 || labelled {
            return None;
        }
        let (family, selector) = selector_of(&sel)?;
        let action = if u32::from(action) == bindings::XFRM_POLICY_BLOCK {
            SpdAction::Block
        } else if templates == 0 {
            SpdAction::Pass
        } else {
            SpdAction::Transform
        };
        Some(SpdPolicy { index: self.index(), priority, pos, family, selector, action })
    }
}

/// What the SAD holds for the templates of a policy, for one flow.
pub enum PolicySas {
    /// A valid SA for every template that needs one: their SPIs, outermost
    /// first.
    Ready {
        /// The SPIs, `count` of them.
        spis: [u32; MAX_TEMPLATES],
        /// How many.
        count: usize,
    },
    /// A template that needs an SA has no valid one: a packet would find
    /// its SA pending (and send an ACQUIRE, unless one is under way).
    Pending,
    /// The policy is gone.
    Gone,
    /// A tunnel template lacks an endpoint, which would come from the
    /// flow's route: not looked up.
    Unresolved,
}

/// A reference to a policy that `xfrm_policy_byid()` took, dropped with
/// this.
///
/// # Invariants
///
/// `ptr` is a live policy, on which this owns one reference.
struct HeldPolicy(core::ptr::NonNull<bindings::xfrm_policy>);

impl HeldPolicy {
    /// The outbound main policy of `index` with mark 0 and if_id 0.
    fn out_main(net: &Net, index: u32) -> Option<Self> {
        let mark = bindings::xfrm_mark::default();
        let mut err = 0;
        // SAFETY: `net` is live; `mark` and `err` are locals valid for the
        // call.  Without `delete`, the lookup takes a reference on the
        // policy it returns, and changes nothing.
        let ptr = unsafe {
            bindings::xfrm_policy_byid(
                net.as_ptr(),
                &mark,
                0,
                bindings::XFRM_POLICY_TYPE_MAIN as u8,
                XFRM_POLICY_OUT as i32,
                index,
                0,
                &mut err,
            )
        };
        // INVARIANT: A non-null result is a live policy with a reference
        // for the caller.
        core::ptr::NonNull::new(ptr).map(Self)
    }

    fn policy(&self) -> &Policy {
        // SAFETY: Live while `self` holds its reference (type invariant),
        // which outlives the borrow; `Policy` is a transparent wrapper.
        // INVARIANT: Likewise.
        unsafe { &*self.0.as_ptr().cast::<Policy>() }
    }
}

impl Drop for HeldPolicy {
    fn drop(&mut self) {
        // SAFETY: The reference this owns (type invariant), given back once.
        unsafe { bindings::xnat_xfrm_pol_put(self.0.as_ptr()) };
    }
}

/// What a template asks of an SA, from a copy of its fields.
struct TemplateKey {
    mode: u8,
    proto: u8,
    reqid: u32,
    optional: bool,
    encap_family: u16,
    saddr: bindings::xfrm_address_t,
    daddr: bindings::xfrm_address_t,
}

impl TemplateKey {
    /// # Safety
    ///
    /// `t` is a template of a live policy (`Policy::templates`).
    unsafe fn of(t: *const bindings::xfrm_tmpl) -> Self {
        // SAFETY: The caller's promise; a template is fixed once its policy
        // is inserted but for a migration's endpoints, which decide this one
        // look only.
        unsafe {
            Self {
                mode: read_once(&raw const (*t).mode),
                proto: read_once(&raw const (*t).id.proto),
                reqid: read_once(&raw const (*t).reqid),
                optional: read_once(&raw const (*t).optional) != 0,
                encap_family: read_once(&raw const (*t).encap_family),
                saddr: read_once(&raw const (*t).saddr),
                daddr: read_once(&raw const (*t).id.daddr),
            }
        }
    }
}

/// The SAs that outbound main policy `index` (mark 0, if_id 0) would give
/// a flow of `family` from `saddr` to `daddr`, found as the SPD lookup
/// resolves templates (`xfrm_tmpl_resolve_one()`), but with
/// `xfrm_stateonly_find()`: a template without an SA makes no larval
/// state, so no ACQUIRE is sent, and only valid SAs count.  Takes the
/// SPD's and SAD's locks, so not from inside a walk.
pub fn policy_sas(net: &Net, index: u32, family: Family, saddr: &Addr, daddr: &Addr) -> PolicySas {
    let Some(held) = HeldPolicy::out_main(net, index) else { return PolicySas::Gone };
    let address = |a: &Addr| bindings::xfrm_address_t { a6: a.ne_words() };
    let (mut af, mut s, mut d) = (family.af(), address(saddr), address(daddr));
    let mut spis = [0u32; MAX_TEMPLATES];
    let mut count = 0;
    for t in held.policy().templates() {
        // SAFETY: A template of the policy `held` keeps live.
        let key = unsafe { TemplateKey::of(t) };
        if u32::from(key.mode) == bindings::XFRM_MODE_TUNNEL || u32::from(key.mode) == bindings::XFRM_MODE_BEET {
            // The next (inner) template sees this tunnel's ends; without
            // both, they would come from the route, which is not looked up.
            (af, s, d) = (key.encap_family, key.saddr, key.daddr);
            if addr_of(&s).0 == [0; 16] || addr_of(&d).0 == [0; 16] {
                return PolicySas::Unresolved;
            }
        }
        // SAFETY: `net` is live; the addresses are locals valid for the
        // call, which only reads them (its prototype lacks the `const`).  A
        // non-null result carries a reference for the caller.
        let x = unsafe {
            bindings::xfrm_stateonly_find(net.as_ptr(), 0, 0, &mut d, &mut s, af, key.mode, key.proto, key.reqid)
        };
        let Some(x) = core::ptr::NonNull::new(x) else {
            if key.optional {
                continue;
            }
            return PolicySas::Pending;
        };
        // SAFETY: The state is live while the reference the lookup took is
        // held; the SPI is fixed once the state is inserted.
        let spi = unsafe { read_once(&raw const (*x.as_ptr()).id.spi) };
        // SAFETY: The reference the lookup took, given back once.
        unsafe { bindings::xnat_xfrm_state_put(x.as_ptr()) };
        if let Some(slot) = spis.get_mut(count) {
            *slot = u32::from_be(spi);
            count += 1;
        }
    }
    PolicySas::Ready { spis, count }
}

/// A selector of a family xfrm_nat knows, from a copy [`read_once`] made.
fn selector_of(s: &bindings::xfrm_selector) -> Option<(Family, Selector)> {
    let selector = Selector {
        saddr: addr_of(&s.saddr),
        dest: DestSelector {
            daddr: addr_of(&s.daddr),
            dport: s.dport,
            dport_mask: s.dport_mask,
            sport: s.sport,
            sport_mask: s.sport_mask,
            ifindex: s.ifindex,
            prefixlen_d: s.prefixlen_d,
            prefixlen_s: s.prefixlen_s,
            proto: s.proto,
        },
    };
    Some((Family::from_af(s.family)?, selector))
}

/// The route an SPD lookup returned for a flow that a policy applies to:
/// a chain of `struct xfrm_dst`, one per SA, ending in the plain route.
///
/// # Invariants
///
/// Only made for a reference held by the lookup's caller, whose first
/// `dst_entry` has an SA (`dst->xfrm`), for the life of the `&Bundle`.
#[repr(transparent)]
pub struct Bundle(Opaque<bindings::dst_entry>);

impl Bundle {
    fn as_ptr(&self) -> *const bindings::dst_entry {
        self.0.get()
    }

    /// The index of the policy the bundle was made for, if it was made for
    /// one main policy (no sub policy).
    pub fn policy(&self) -> Option<u32> {
        self.policy_ref().map(Policy::index)
    }

    /// The policy the bundle was made for, if one main policy.
    fn policy_ref(&self) -> Option<&Policy> {
        // SAFETY: A bundle (type invariant) is a `struct xfrm_dst`.
        if unsafe { bindings::xnat_xfrm_dst_num_pols(self.as_ptr()) } != 1 {
            return None;
        }
        // SAFETY: As above; the bundle holds a reference on its policies.
        let xp = unsafe { bindings::xnat_xfrm_dst_policy(self.as_ptr()) };
        // SAFETY: Held by the bundle for as long as `self` lives.
        // INVARIANT: Likewise, for the reference, which borrows `self`.
        (!xp.is_null()).then(|| unsafe { &*xp.cast::<Policy>() })
    }

    /// Which flows of the policy each SA of the bundle serves, outermost
    /// first.
    pub fn sas(&self) -> impl Iterator<Item = SaScope> + '_ {
        // A template without a local (or remote) address takes it from the
        // route of each flow (`xfrm_tmpl_resolve_one()`): the SA found for
        // one flow says nothing of the others.
        let fixed = self.policy_ref().is_some_and(|p| p.templates_have_endpoints());
        let mut dst = self.as_ptr();
        core::iter::from_fn(move || {
            if dst.is_null() {
                return None;
            }
            // SAFETY: `dst` is the bundle's first route or a child of a
            // route of it; each holds a reference on its child and its SA.
            let x = unsafe { bindings::xnat_dst_xfrm(dst) };
            if x.is_null() {
                return None;
            }
            // SAFETY: As above.
            dst = unsafe { bindings::xnat_xfrm_dst_child(dst) };
            // SAFETY: The route holds the state for as long as `self` lives.
            Some(if fixed { unsafe { SaState::from_raw(x) }.scope() } else { SaScope::SomeFlows })
        })
    }
}

/// An xfrm state, an SA (`struct xfrm_state`), read field by field.
///
/// # Invariants
///
/// A `&SaState` is only made for a state that is live (held by the caller
/// or by a route) for the reference's life.
#[repr(transparent)]
struct SaState(Opaque<bindings::xfrm_state>);

impl SaState {
    /// # Safety
    ///
    /// `x` must point to a state that stays live for `'a`.
    unsafe fn from_raw<'a>(x: *const bindings::xfrm_state) -> &'a Self {
        // SAFETY: Transparent wrapper; validity is the caller's promise.
        // INVARIANT: Likewise.
        unsafe { &*x.cast::<Self>() }
    }

    fn as_ptr(&self) -> *const bindings::xfrm_state {
        self.0.get()
    }

    /// The SA's identity: fixed from its creation (an update that changes
    /// it makes a new state).
    fn key(&self) -> SaKey {
        let x = self.as_ptr();
        // SAFETY: A live state (type invariant).
        unsafe {
            SaKey {
                family: read_once(&raw const (*x).props.family),
                proto: read_once(&raw const (*x).id.proto),
                mode: read_once(&raw const (*x).props.mode),
                reqid: read_once(&raw const (*x).props.reqid),
                daddr: addr_of(&read_once(&raw const (*x).id.daddr)),
                saddr: addr_of(&read_once(&raw const (*x).props.saddr)),
            }
        }
    }

    /// Whether the SA is usable (`XFRM_STATE_VALID`), as its state read
    /// now says; the state changes under the SA's lock, not taken here.
    fn is_valid(&self) -> bool {
        // SAFETY: A live state (type invariant).
        u32::from(unsafe { read_once(&raw const (*self.as_ptr()).km.state) }) == bindings::XFRM_STATE_VALID
    }

    /// Whether the state is larval: only `__xfrm_init_state`, which a
    /// larval state (made by `xfrm_state_find` for an ACQUIRE, or by
    /// `xfrm_find_acq`) never went through, sets its type, and nothing
    /// clears it before the state is freed.
    fn is_larval(&self) -> bool {
        // SAFETY: A live state (type invariant).
        unsafe { read_once(&raw const (*self.as_ptr()).type_) }.is_null()
    }

    /// Which flows the SAD's lookup would give the SA.  In tunnel and BEET
    /// mode its endpoints come from the policy's template, so only its
    /// selector (if it has one), its mark and its security context tell
    /// flows apart.
    fn scope(&self) -> SaScope {
        let x = self.as_ptr();
        // SAFETY: A live state (type invariant).  An update
        // (`xfrm_state_update()`) may rewrite the selector and mark under
        // the SA's lock, not taken here: a torn value decides for this one
        // bundle.
        let (mode, mark_mask, sel) =
            unsafe { (read_once(&raw const (*x).props.mode), read_once(&raw const (*x).mark.m), read_once(&raw const (*x).sel)) };
        let mode = u32::from(mode);
        let template_endpoints = mode == bindings::XFRM_MODE_TUNNEL || mode == bindings::XFRM_MODE_BEET;
        // An offloaded SA can go with its device without an event
        // (`xfrm_dev_state_flush()` notifies no key manager).
        // SAFETY: A live state.
        let (labelled, offloaded) = unsafe { (bindings::xnat_xs_has_security(x), bindings::xnat_xs_offloaded(x)) };
        if !template_endpoints || mark_mask != 0 || labelled || offloaded {
            return SaScope::SomeFlows;
        }
        if sel.family == 0 {
            return SaScope::EveryFlow;
        }
        match selector_of(&sel) {
            Some((family, selector)) => SaScope::Selected(family, selector),
            None => SaScope::SomeFlows,
        }
    }
}

/// Who asks the SPD about a packet that leaves by a device: the output
/// path, or an xfrm interface, which looks its packets up itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Egress {
    /// The output path (`nf_xfrm_me_harder()` after NAT): `if_id` 0, the
    /// packet's socket and its own policy.
    Stack,
    /// An xfrm interface of the hook's namespace (`xfrmi_xmit()`): its
    /// `if_id`, its link as the output device, no socket.
    Interface {
        /// The interface's `if_id`.
        if_id: u32,
        /// The ifindex of its underlying device, 0 for none.
        link: i32,
    },
    /// An xfrm interface whose lookup cannot be foreseen: one in
    /// collect_md mode, whose `if_id` a BPF program sets after the hooks,
    /// or one whose packets are looked up in another namespace.
    Unforeseen,
}

/// `rtnl_link_ops.kind` of xfrm interfaces.
const XFRM_INTERFACE_KIND: &[u8] = b"xfrm";

impl Egress {
    /// How the SPD will be asked about a packet of `net` leaving by `dev`
    /// (null or valid for the call).
    ///
    /// # Safety
    ///
    /// `dev` is null or a device that stays valid for the call.
    pub unsafe fn of_device(net: &Net, dev: *const bindings::net_device) -> Self {
        // SAFETY: `dev` is null or valid (the caller's promise); a kind is
        // a string that lives as long as its link ops are registered,
        // which a device of theirs keeps them.
        let kind = unsafe { bindings::xnat_dev_link_kind(dev) };
        // SAFETY: As above: a NUL-terminated string valid for the call.
        if kind.is_null() || unsafe { core::ffi::CStr::from_ptr(kind.cast()) }.to_bytes() != XFRM_INTERFACE_KIND {
            return Self::Stack;
        }
        // SAFETY: A device of kind "xfrm" is an xfrm interface, whose
        // private area is its `struct xfrm_if`; it lives with the device.
        let xi = unsafe { bindings::xnat_netdev_priv(dev) }.cast::<bindings::xfrm_if>();
        // SAFETY: `xi` is valid (above); the fields are set at creation and
        // changed only by `xfrmi_change()` under RTNL.  They are read once
        // here without it, as `xfrmi_xmit()` reads them: a change racing
        // the read may mix old and new values, which decide this one flow.
        let (xi_net, p) = unsafe { (core::ptr::read_volatile(&raw const (*xi).net), core::ptr::read_volatile(&raw const (*xi).p)) };
        if p.collect_md || xi_net != net.as_ptr() {
            return Self::Unforeseen;
        }
        Self::Interface { if_id: p.if_id, link: p.link }
    }

    /// As [`Egress::of_device`], for the device of the packet's route.
    pub fn of_route(net: &Net, skb: &SkBuff) -> Self {
        // SAFETY: Valid skb; its route, if any, holds its device.
        let dev = unsafe { bindings::xnat_skb_dst_dev(skb.as_ptr()) };
        // SAFETY: Null or held by the packet's route for the call.
        unsafe { Self::of_device(net, dev) }
    }
}

/// What the SPD gives a flow.
pub enum SpdAnswer<R> {
    /// A bundle, which the caller saw and made `R` of.
    Bundle(R),
    /// The plain route: no policy applies, or one (of the SPD or of the
    /// flow's socket) lets it pass untransformed.
    Plain,
    /// A policy applies whose SA is not there yet: the lookup has asked
    /// the key manager for one, by ACQUIRE.
    Pending,
}

/// Asks the SPD about the packet's flow, as if its source were `saddr` if
/// given, exactly as it will be asked after source NAT: by `egress`, with
/// the packet's mark and, from the output path, its socket.  If it gives a
/// bundle, `inspect` sees it before it is released.  Errors are the
/// lookup's but for a pending SA: e.g. `EPERM` for a blocking policy.
///
/// `_rcu` proves the read-side critical section in which a reference may
/// be taken on the packet's route, which the packet may hold without one.
pub fn ask_spd<R>(
    _rcu: &ReadGuard,
    net: &Net,
    skb: &SkBuff,
    family: Family,
    saddr: Option<&Addr>,
    egress: Egress,
    inspect: impl FnOnce(&Bundle) -> R,
) -> Result<SpdAnswer<R>> {
    let mut fl = decode_flow(net, skb, family)?;
    // Writing union fields is safe; `family` says which one is in use.
    match (family, saddr) {
        (Family::V4, Some(saddr)) => fl.u.ip4.saddr = saddr.ne_words()[0],
        (Family::V6, Some(saddr)) => fl.u.ip6.saddr.in6_u.u6_addr8 = saddr.0,
        (_, None) => (),
    }
    let (sk, if_id) = match egress {
        Egress::Stack => {
            let sk = skb.raw_sk();
            // As the NAT core: a socket of another namespace (the packet
            // crossed a veth) has no say.
            // SAFETY: A non-null `sk` is the skb's socket, valid with it.
            let foreign = !sk.is_null() && unsafe { bindings::xnat_sock_net(sk) } != net.as_ptr();
            (if foreign { core::ptr::null_mut() } else { sk }, 0)
        }
        Egress::Interface { if_id, link } => {
            // `flowi_oif`, common to the union's members; writing is safe.
            fl.u.__fl_common.flowic_oif = link;
            (core::ptr::null_mut(), if_id)
        }
        Egress::Unforeseen => return Err(Error::from_errno(-(bindings::EOPNOTSUPP as i32))),
    };
    // SAFETY: Valid skb, inside RCU (`_rcu`).
    let route = unsafe { bindings::xnat_skb_dst_hold_safe(skb.as_ptr()) };
    if route.is_null() {
        return Err(Error::from_errno(-(bindings::EHOSTUNREACH as i32)));
    }
    // SAFETY: `xfrm_lookup_with_ifid` takes our reference on `route`
    // (released on error) and returns a reference we release below; `fl`
    // and `sk` (null or the skb's socket) are valid for the call.
    let dst = unsafe { bindings::xfrm_lookup_with_ifid(net.as_ptr(), route, &fl, sk, 0, if_id) };
    let dst = match kernel::error::from_err_ptr(dst) {
        Ok(dst) => dst,
        Err(e) if sa_pending(&e) => return Ok(SpdAnswer::Pending),
        Err(e) => return Err(e),
    };
    // SAFETY: A route we hold (see above).
    let answer = if unsafe { bindings::xnat_dst_xfrm(dst) }.is_null() {
        SpdAnswer::Plain
    } else {
        // SAFETY: A route with an SA is a bundle.  INVARIANT: Our reference
        // outlives the call.
        SpdAnswer::Bundle(inspect(unsafe { &*dst.cast::<Bundle>() }))
    };
    // SAFETY: We own this reference (see above).
    unsafe { bindings::dst_release(dst) };
    Ok(answer)
}

/// The reqid of the SA that decrypted `skb` last, the innermost of its
/// secpath, if that SA is in tunnel or BEET mode: the child whose tunnel
/// the packet came out of.  `None` for a packet that no SA decrypted, or
/// whose innermost SA is in transport mode (its addresses are the peers'
/// own, not a tunnel's inner ones).
pub fn decrypted_by(skb: &SkBuff) -> Option<u32> {
    // SAFETY: Valid skb.
    let sp = unsafe { bindings::xnat_skb_sec_path(skb.as_ptr()) };
    if sp.is_null() {
        return None;
    }
    // SAFETY: The skb holds its secpath extension, which nobody writes
    // while it is attached to more than one skb, and only the CPU that
    // owns the skb otherwise: this one.
    let len = unsafe { read_once(&raw const (*sp).len) };
    let last = usize::try_from(len).ok()?.checked_sub(1)?;
    // SAFETY: As above; `xvec` is an array, indexed within its bounds.
    let xvec = unsafe { &raw const (*sp).xvec };
    if last >= array_len(xvec) {
        return None;
    }
    // SAFETY: As above.
    let x = unsafe { read_once(xvec.cast::<*mut bindings::xfrm_state>().add(last)) };
    if x.is_null() {
        return None;
    }
    // SAFETY: The secpath holds a reference on each of its states, so the
    // state lives at least as long as `skb`'s borrow.
    let key = unsafe { SaState::from_raw(x) }.key();
    let mode = u32::from(key.mode);
    (mode == bindings::XFRM_MODE_TUNNEL || mode == bindings::XFRM_MODE_BEET).then_some(key.reqid)
}

/// Whether an SPD lookup failed because a policy applies whose SA is not
/// there yet: `EREMOTE` with `net.core.xfrm_larval_drop` set, else `EAGAIN`.
pub fn sa_pending(e: &Error) -> bool {
    let errno = -e.to_errno();
    errno == bindings::EREMOTE as i32 || errno == bindings::EAGAIN as i32
}

/// The flow of a packet as the SPD sees it (`__xfrm_decode_session`).
fn decode_flow(net: &Net, skb: &SkBuff, family: Family) -> Result<bindings::flowi> {
    let mut fl = bindings::flowi::default();
    let af = u32::from(family.af());
    // SAFETY: Valid skb and namespace; `fl` is a local the call fills in.
    kernel::error::to_result(unsafe { bindings::__xfrm_decode_session(net.as_ptr(), skb.as_ptr(), &mut fl, af, 0) })?;
    Ok(fl)
}

/// How long the kernel waits for an answer to an ACQUIRE before it drops
/// the request (`net.core.xfrm_acq_expires`), in jiffies.
pub fn acquire_lifetime(net: &Net) -> u64 {
    // SAFETY: Reads a sysctl of a live namespace.
    let secs = unsafe { bindings::xnat_acq_expires(net.as_ptr()) };
    u64::from(secs) * bindings::XNAT_HZ as u64
}

/// Routes a translated packet into the bundle of the policy its flow now
/// matches, as the NAT core's `nf_xfrm_me_harder()` does after source NAT.
/// Fails with `EREMOTE` or `EAGAIN` while that policy's SA is pending (the
/// packet is left as it was), or with another error.
pub fn reroute(net: &Net, skb: &mut OwnedSkb, family: Family, _ctx: &OutputContext) -> Result {
    let fl = decode_flow(net, skb, family)?;
    let raw = skb.as_ptr();
    // The packet's route is its own reference (`OwnedSkb`'s invariant,
    // from `StolenSkb::pin_route`) and not a bundle (the hook only keeps
    // packets routed in the clear).
    // SAFETY: Owned skb with a held route (type invariant).
    let route = unsafe { bindings::xnat_skb_dst_clone(raw) };
    if route.is_null() {
        return Err(Error::from_errno(-(bindings::EHOSTUNREACH as i32)));
    }
    let mut sk = skb.raw_sk();
    // SAFETY: A non-null `sk` is the skb's socket, kept alive by the skb.
    if !sk.is_null() && unsafe { bindings::xnat_sock_net(sk) } != net.as_ptr() {
        sk = core::ptr::null_mut();
    }
    // SAFETY: `xfrm_lookup` takes the reference on `route` (released on
    // error); `fl` and `sk` are valid for the call.
    let dst = kernel::error::from_err_ptr(unsafe { bindings::xfrm_lookup(net.as_ptr(), route, &fl, sk, 0) })?;
    // The device the packet was about to leave by may have gone while it
    // was kept; from here on it leaves by the bundle's, which the bundle
    // holds (as `ip_output()` sets it from the route).
    // INVARIANT: The skb's route stays one it holds: `dst` is a reference
    // we own, given to the skb.
    // SAFETY: Owned skb; `dst`, non-null (an error is returned above), is
    // a reference we own, given to the skb.
    unsafe {
        bindings::xnat_skb_dst_replace(raw, dst);
        bindings::xnat_skb_set_dev(raw, bindings::xnat_skb_dst_dev(raw));
    }
    // A new output device may need more link-layer headroom.
    // SAFETY: Owned skb with the route just set.
    let (headroom, needed) = unsafe { (bindings::xnat_skb_headroom(raw), bindings::xnat_skb_dst_hh_len(raw)) };
    if headroom < needed {
        let grow = ffi::c_int::try_from(needed - headroom).map_err(|_| ENOMEM)?;
        // SAFETY: Owned, unshared skb; BH is disabled (`_ctx`), as
        // `GFP_ATOMIC` expects in this path.
        let ret = unsafe { bindings::pskb_expand_head(raw, grow, 0, bindings::XNAT_GFP_ATOMIC) };
        if ret != 0 {
            return Err(ENOMEM);
        }
    }
    Ok(())
}

/// Calls `f` for every live policy of `net`.
///
/// `f` runs under the SPD's spinlock with BH disabled: it must not sleep or
/// allocate with `GFP_KERNEL`.
pub fn for_each_policy<F: FnMut(&Policy)>(net: &Net, mut f: F) {
    let mut walk = bindings::xfrm_policy_walk::default();
    /// # Safety
    ///
    /// Called by `xfrm_policy_walk` only, under the SPD lock, with a live
    /// policy and the `data` given below.
    unsafe extern "C" fn visit<F: FnMut(&Policy)>(
        xp: *mut bindings::xfrm_policy,
        _dir: ffi::c_int,
        _count: ffi::c_int,
        data: *mut ffi::c_void,
    ) -> ffi::c_int {
        // SAFETY: `data` is the `&mut F` passed below, live for the walk.
        let f = unsafe { &mut *data.cast::<F>() };
        // SAFETY: The walk holds the SPD lock, so `xp` is live for the call.
        // INVARIANT: Likewise; `f` cannot keep the reference beyond it.
        f(unsafe { &*xp.cast::<Policy>() });
        0
    }
    // SAFETY: `walk` is a local, initialised by `_init` and finished by
    // `_done` before it goes out of scope; `net` is live.
    unsafe {
        bindings::xfrm_policy_walk_init(&mut walk, bindings::XFRM_POLICY_TYPE_ANY as u8);
        bindings::xfrm_policy_walk(net.as_ptr(), &mut walk, Some(visit::<F>), core::ptr::from_mut(&mut f).cast());
        bindings::xfrm_policy_walk_done(&mut walk, net.as_ptr());
    }
}

/// What became of an SA, as the key manager interface reports it.
#[derive(Clone, Copy, Debug)]
pub enum SaChange {
    /// An SA was added or updated and is usable.
    Installed(SaKey),
    /// A larval state (an unanswered ACQUIRE) expired or was deleted.
    RequestGone(SaKey),
    /// The set of SAs is as it was: an SA's counters were reported
    /// (`XFRM_MSG_NEWAE`, every few packets while `ip xfrm monitor`
    /// listens) or its soft lifetime ran out (it still works).
    Unchanged,
    /// Anything else: an SA may be gone (deleted, expired, flushed, moved
    /// by a migration).
    Other,
}

/// What happened to a policy, as the key manager interface reports it.
pub enum PolicyChange<'a> {
    /// It was added, updated, or its soft lifetime ran out (it still
    /// works): the policy, live for the call.
    Put(&'a Policy),
    /// The policy of this index was deleted, or expired for good.
    Gone(u32),
    /// A flush, or an event that names no policy: any may have changed.
    Unknown,
}

/// Receives SPD and SAD events.  All are called in atomic context (inside
/// `rcu_read_lock`, sometimes under the SPD or SAD lock, sometimes from a
/// timer): they must not sleep; defer the work.
pub trait PolicyEvents: 'static {
    /// A policy of `net` was added, updated, deleted, or the SPD flushed.
    fn policy_changed(net: &Net, change: PolicyChange<'_>);

    /// The kernel asks key managers for an SA for policy `spid` (ACQUIRE).
    fn sa_requested(net: &Net, spid: u32, request: SaKey);

    /// An SA of `net` changed, or was reported on ([`SaChange::Unchanged`]).
    fn sa_changed(net: &Net, change: SaChange);
}

/// A registered key manager that only listens.
///
/// # Invariants
///
/// `mgr` is registered while `self` lives.
pub struct KeyManager<E: PolicyEvents> {
    mgr: KBox<Opaque<bindings::xfrm_mgr>>,
    _events: PhantomData<E>,
}

// SAFETY: Unregistration may happen from any thread in process context.
unsafe impl<E: PolicyEvents> Send for KeyManager<E> {}
// SAFETY: `&KeyManager` exposes nothing.
unsafe impl<E: PolicyEvents> Sync for KeyManager<E> {}

impl<E: PolicyEvents> KeyManager<E> {
    /// Registers the key manager.
    pub fn register() -> Result<Self> {
        let mgr = KBox::new(Opaque::new(bindings::xfrm_mgr::default()), GFP_KERNEL)?;
        let raw = mgr.get();
        // The core calls `acquire` and `compile_policy` without a NULL check,
        // so they must be set; both decline.  `migrate` is only called with
        // CONFIG_XFRM_MIGRATE, but the member is there without it.
        // SAFETY: `raw` is valid and not yet shared.
        unsafe {
            (*raw).notify_policy = Some(Self::notify_policy);
            (*raw).notify = Some(Self::notify);
            (*raw).acquire = Some(Self::acquire);
            (*raw).compile_policy = Some(Self::compile_policy);
            (*raw).migrate = Some(Self::migrate);
            bindings::xfrm_register_km(raw);
        }
        // INVARIANT: Registered above.
        Ok(Self { mgr, _events: PhantomData })
    }

    /// # Safety
    ///
    /// Called by the xfrm core only (`xfrm_mgr.notify_policy`), in atomic
    /// context, with a valid event and a null or valid, held policy.
    unsafe extern "C" fn notify_policy(
        xp: *mut bindings::xfrm_policy,
        _dir: ffi::c_int,
        c: *const bindings::km_event,
    ) -> ffi::c_int {
        // Events about one policy leave `c->net` unset (xfrm_user does not
        // fill it in); only a flush, which has no policy, carries it.
        let net = if xp.is_null() {
            // SAFETY: The core passes a valid event.
            unsafe { (*c).net }
        } else {
            // SAFETY: The core passes a valid, held policy.
            unsafe { bindings::xnat_xp_net(xp) }
        };
        if net.is_null() {
            return 0;
        }
        let change = if xp.is_null() {
            PolicyChange::Unknown
        } else {
            // SAFETY: The core passes a valid event; every bit pattern of
            // the union's `u32` is a valid `hard`.
            let (event, hard) = unsafe { ((*c).event, (*c).data.hard) };
            // SAFETY: The core passes a valid, held policy.
            // INVARIANT: It is live for the call, which the reference
            // cannot outlive.
            let policy = unsafe { &*xp.cast::<Policy>() };
            match event {
                bindings::XFRM_MSG_DELPOLICY => PolicyChange::Gone(policy.index()),
                bindings::XFRM_MSG_POLEXPIRE if hard != 0 => PolicyChange::Gone(policy.index()),
                bindings::XFRM_MSG_NEWPOLICY | bindings::XFRM_MSG_UPDPOLICY | bindings::XFRM_MSG_POLEXPIRE => {
                    PolicyChange::Put(policy)
                }
                _ => PolicyChange::Unknown,
            }
        };
        // SAFETY: The namespace of a policy being changed is live.
        E::policy_changed(unsafe { Net::from_raw(net) }, change);
        0
    }

    /// # Safety
    ///
    /// Called by the xfrm core only (`xfrm_mgr.notify`), in atomic context,
    /// with a valid event and a null or valid, held state.
    unsafe extern "C" fn notify(x: *mut bindings::xfrm_state, c: *const bindings::km_event) -> ffi::c_int {
        // A flush has no state, and carries its namespace.
        if x.is_null() {
            // SAFETY: The core passes a valid event.
            let net = unsafe { (*c).net };
            if !net.is_null() {
                // SAFETY: The namespace being flushed is live.
                E::sa_changed(unsafe { Net::from_raw(net) }, SaChange::Other);
            }
            return 0;
        }
        // SAFETY: The core passes a valid, held state, live for the call,
        // and a valid event; `data` is read as `hard`, which it is for
        // `XFRM_MSG_EXPIRE` (`km_state_expired`), and any bit pattern is a
        // valid `u32`.
        let (state, event, hard) = unsafe { (SaState::from_raw(x), (*c).event, (*c).data.hard != 0) };
        // By the time a state's expiry or deletion is reported,
        // `__xfrm_state_delete` has made it DEAD, whatever it was; whether
        // it was larval its type still says.
        let change = match event {
            bindings::XFRM_MSG_NEWSA | bindings::XFRM_MSG_UPDSA if state.is_valid() => SaChange::Installed(state.key()),
            bindings::XFRM_MSG_NEWAE => SaChange::Unchanged,
            bindings::XFRM_MSG_EXPIRE if !hard => SaChange::Unchanged,
            bindings::XFRM_MSG_EXPIRE | bindings::XFRM_MSG_DELSA if state.is_larval() => {
                SaChange::RequestGone(state.key())
            }
            _ => SaChange::Other,
        };
        // SAFETY: A state's namespace outlives the state.
        let net = unsafe { bindings::xnat_xs_net(x) };
        // SAFETY: As above; the namespace is live during the call.
        E::sa_changed(unsafe { Net::from_raw(net) }, change);
        0
    }

    /// # Safety
    ///
    /// Called by the xfrm core only (`xfrm_mgr.acquire`), in atomic
    /// context, with the larval state it just made and the held policy it
    /// is for (either may be null).
    unsafe extern "C" fn acquire(
        x: *mut bindings::xfrm_state,
        _t: *mut bindings::xfrm_tmpl,
        xp: *mut bindings::xfrm_policy,
    ) -> ffi::c_int {
        if !x.is_null() && !xp.is_null() {
            // SAFETY: The core passes the larval state it just made and the
            // held policy it is for, live for the call; the policy's
            // namespace is live.  INVARIANT: The `&Policy` lives only in
            // this block.
            unsafe {
                let policy = &*xp.cast::<Policy>();
                E::sa_requested(Net::from_raw(bindings::xnat_xp_net(xp)), policy.index(), SaState::from_raw(x).key());
            }
        }
        // Nonzero: this manager does not negotiate SAs.
        -(bindings::EOPNOTSUPP as ffi::c_int)
    }

    /// # Safety
    ///
    /// Called by the xfrm core only (`xfrm_mgr.compile_policy`).
    unsafe extern "C" fn compile_policy(
        _sk: *mut bindings::sock,
        _opt: ffi::c_int,
        _data: *mut u8,
        _len: ffi::c_int,
        _dir: *mut ffi::c_int,
    ) -> *mut bindings::xfrm_policy {
        // `*dir` is left as it is: `xfrm_user_policy()` starts it at
        // -EINVAL and tries the next manager while it is negative, so the
        // error of the manager before this one (or -EINVAL) is what
        // setsockopt(IP_XFRM_POLICY) returns, as without this manager.
        core::ptr::null_mut()
    }

    /// # Safety
    ///
    /// Called by the xfrm core only (`xfrm_mgr.migrate`, from
    /// `km_migrate()` inside `rcu_read_lock`), with the namespace of the
    /// migration.
    unsafe extern "C" fn migrate(
        _sel: *const bindings::xfrm_selector,
        _dir: u8,
        _type: u8,
        _m: *const bindings::xfrm_migrate,
        _num_migrate: ffi::c_int,
        _k: *const bindings::xfrm_kmaddress,
        net: *mut bindings::net,
        _encap: *const bindings::xfrm_encap_tmpl,
    ) -> ffi::c_int {
        // `xfrm_migrate()` announces the migration after it moved the SAs
        // and rewrote the policy's templates, none of which it reports to
        // `notify` or `notify_policy`.
        if !net.is_null() {
            // SAFETY: The namespace of a migration in progress is live.
            E::sa_changed(unsafe { Net::from_raw(net) }, SaChange::Other);
        }
        // Nonzero: this manager sends no MIGRATE message.  `km_migrate()`
        // calls every manager whatever each returns.
        -(bindings::EOPNOTSUPP as ffi::c_int)
    }
}

impl<E: PolicyEvents> Drop for KeyManager<E> {
    fn drop(&mut self) {
        // `xfrm_unregister_km` waits for an RCU grace period, so no callback
        // runs once it returns and `mgr` can be freed.
        // SAFETY: Registered (type invariant).
        unsafe { bindings::xfrm_unregister_km(self.mgr.get()) };
    }
}

use kernel::ffi;
