// SPDX-License-Identifier: GPL-2.0
//! Generic netlink families with per-operation strict policies, replies,
//! dumps and multicast notifications.

use core::marker::PhantomData;

use kernel::{error::from_result, error::to_result, prelude::*, types::Opaque};

use crate::bindings;
use crate::logic::fmt::FixedBuf;
use crate::logic::uapi::{AttrKind, AttrPolicy, Checks, Op, OpSpec, Range};
use crate::net::Gfp;
use crate::net::pernet::{self, Entry, Net};

/// A generic netlink family implemented in Rust, whose requests act on the
/// per-namespace state `State` of the requester's namespace.
pub trait Family: 'static {
    /// The per-namespace state the requests act on.
    type State: pernet::PernetState;

    /// The family name.
    const NAME: Name;
    /// The family version.
    const VERSION: u8;
    /// Its operations, as the spec gives them: each do and dump of these
    /// is registered, and dispatched to [`Family::doit`] or
    /// [`Family::dumpit`] by its [`Op`].
    const OPS: &'static [OpSpec];
    /// The policy of each do and dump of [`Family::OPS`] whose request
    /// carries attributes, built at compile time ([`Policy`]).
    const POLICIES: &'static [OpPolicy];
    /// Its multicast groups, by name; referred to by position.
    const MCGRPS: &'static [Name];

    /// Handles a do-request of `op`, with the state of the requester's
    /// namespace.
    fn doit(op: Op, state: &Entry<Self::State>, info: &mut Info<'_>) -> Result;

    /// Adds messages to a dump of `op`; returns whether the dump is
    /// complete.
    fn dumpit(op: Op, dump: &mut Dump<'_>) -> Result<bool>;
}

/// A registered family.
///
/// # Invariants
///
/// `family` is registered while `self` lives; `ops` and `mcgrps`, which
/// it points to, are not touched until it is unregistered (the policies
/// they point to are `static`).
/// `_pernet`, the subsystem of the state the requests act on, is dropped
/// only after the family is unregistered, which waits for running
/// requests (fields drop after `Drop::drop`).
pub struct Registration<F: Family> {
    family: KBox<Opaque<bindings::genl_family>>,
    _ops: KVec<bindings::genl_split_ops>,
    _mcgrps: KVec<bindings::genl_multicast_group>,
    _pernet: pernet::Registration<F::State>,
    _family: PhantomData<F>,
}

// SAFETY: The family can be unregistered from any process-context thread.
unsafe impl<F: Family> Send for Registration<F> {}
// SAFETY: Shared access only sends multicasts, which the core serialises.
unsafe impl<F: Family> Sync for Registration<F> {}

/// `GENL_NAMSIZ`: the room for a family or multicast group name, NUL
/// included.
const NAME_SIZE: usize = bindings::GENL_NAMSIZ as usize;

/// A family or multicast group name, NUL-terminated in the array the
/// genetlink core copies it from.
///
/// # Invariants
///
/// The array holds at most `NAME_SIZE - 1` non-NUL bytes, then NULs.
#[derive(Clone, Copy)]
pub struct Name([ffi::c_char; NAME_SIZE]);

impl Name {
    /// The name `name`.  Meant for a `const` item, as the trait's
    /// [`Family::NAME`] and [`Family::MCGRPS`] are: there a name that does
    /// not fit `GENL_NAMSIZ` with its NUL, or holds a NUL, fails the
    /// build, where the core would cut it or take it as shorter.  Outside
    /// a `const` context, `build_error!` makes such a call fail to link;
    /// `#[inline]` keeps the function from being compiled on its own,
    /// where the unreachable `build_error!` calls would be linked in.
    #[inline]
    pub const fn new(name: &str) -> Self {
        let bytes = name.as_bytes();
        if bytes.len() >= NAME_SIZE {
            kernel::build_error!("genetlink name too long: GENL_NAMSIZ is 16 bytes, NUL included");
        }
        let mut out = [0; NAME_SIZE];
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == 0 {
                kernel::build_error!("genetlink name with a NUL inside");
            }
            out[i] = bytes[i] as ffi::c_char;
            i += 1;
        }
        // INVARIANT: Checked above; the rest of `out` is NULs.
        Self(out)
    }
}

/// The highest attribute type of `attrs` (0 for none).
const fn max_attr(attrs: &[AttrPolicy]) -> u16 {
    let (mut max, mut i) = (0, 0);
    while i < attrs.len() {
        if attrs[i].attr > max {
            max = attrs[i].attr;
        }
        i += 1;
    }
    max
}

/// The length of the policy array of `attrs`: indexed by attribute type.
pub const fn policy_len(attrs: &[AttrPolicy]) -> usize {
    max_attr(attrs) as usize + 1
}

/// The `nla_policy` array of a request's attributes, indexed by type, as
/// the netlink core validates them.  Built at compile time (in a
/// `static`), so that a spec the module cannot enforce fails the build.
pub struct Policy<const N: usize> {
    table: [bindings::nla_policy; N],
}

// SAFETY: Never written after it is built; its pointers are to `'static`
// data that is never written either (the spec's bounds, other policies).
unsafe impl<const N: usize> Sync for Policy<N> {}

/// A [`Policy`] as an operation points to it.
#[derive(Clone, Copy)]
pub struct PolicyRef {
    table: *const bindings::nla_policy,
    maxattr: u16,
}

// SAFETY: It points to a `Policy` in a `static`, which is `Sync`.
unsafe impl Sync for PolicyRef {}
// SAFETY: As for `Sync`.
unsafe impl Send for PolicyRef {}

/// The policy of the do (`dump` false) or dump of command `cmd`.
pub struct OpPolicy {
    pub cmd: u8,
    pub dump: bool,
    pub policy: PolicyRef,
}

/// The request attributes of the do (`dump` false) or dump of `cmd` in
/// `ops`; none if there is no such operation.
pub const fn attrs_of(ops: &'static [OpSpec], cmd: u8, dump: bool) -> &'static [AttrPolicy] {
    let mut i = 0;
    while i < ops.len() {
        if ops[i].cmd == cmd {
            let attrs = if dump { ops[i].dump_attrs } else { ops[i].do_attrs };
            if let Some(attrs) = attrs {
                return attrs;
            }
        }
        i += 1;
    }
    &[]
}

/// Whether `policies` has a policy of the attributes of each do and dump
/// of `ops` whose request carries attributes (for a compile-time assert).
// Only called in a `const _` item, which rustc 1.85 (Debian 13's kernel
// toolchain) does not count as a use.
#[allow(dead_code)]
pub const fn policies_cover(ops: &'static [OpSpec], policies: &[OpPolicy]) -> bool {
    let mut i = 0;
    while i < ops.len() {
        let mut dump = 0;
        while dump < 2 {
            let attrs = attrs_of(ops, ops[i].cmd, dump == 1);
            if !attrs.is_empty() {
                let mut found = false;
                let mut j = 0;
                while j < policies.len() {
                    let p = &policies[j];
                    found |= p.cmd == ops[i].cmd && p.dump == (dump == 1) && p.policy.maxattr == max_attr(attrs);
                    j += 1;
                }
                if !found {
                    return false;
                }
            }
            dump += 1;
        }
        i += 1;
    }
    true
}

/// The bindgen name of the core's range type, which [`Range`] mirrors.
type RangeValidation = bindings::netlink_range_validation;

// The spec's bounds are pointed to as the core's ranges.
const _: () = assert!(
    core::mem::size_of::<Range>() == core::mem::size_of::<RangeValidation>()
        && core::mem::align_of::<Range>() == core::mem::align_of::<RangeValidation>()
);

impl<const N: usize> Policy<N> {
    /// The policy of `attrs`; `nests` is the policy of each nest among
    /// them, by attribute type.  It stops the build (`build_error!`: in a
    /// `static`, at evaluation; called at run time, at link time, so that
    /// it never panics) if `N` is not [`policy_len`] of `attrs`, a nest has
    /// no policy of its attributes, or a check of the spec is one the
    /// netlink core cannot make on the attribute's type.
    pub const fn new(attrs: &'static [AttrPolicy], nests: &[(u16, PolicyRef)]) -> Self {
        if N != policy_len(attrs) {
            kernel::build_error!("policy length is not the highest attribute type + 1");
        }
        // SAFETY: `nla_policy` is integers and a union of integers, raw
        // pointers and an `Option` of a function pointer, for all of which
        // all zeroes is valid: the policy of no attribute (`NLA_UNSPEC`,
        // refused in strict mode).
        let mut table: [bindings::nla_policy; N] = unsafe { core::mem::zeroed() };
        let mut i = 0;
        while i < attrs.len() {
            let a = &attrs[i];
            table[a.attr as usize] = Self::entry(a, nests);
            i += 1;
        }
        Self { table }
    }

    const fn entry(a: &'static AttrPolicy, nests: &[(u16, PolicyRef)]) -> bindings::nla_policy {
        // SAFETY: As in `new`.
        let mut p: bindings::nla_policy = unsafe { core::mem::zeroed() };
        let Checks { range, min_len, max_len } = &a.checks;
        let int = matches!(a.kind, AttrKind::U8 | AttrKind::U16 | AttrKind::U32 | AttrKind::U64 | AttrKind::Uint);
        let len_ok = matches!(a.kind, AttrKind::Binary) || (min_len.is_none() && matches!(a.kind, AttrKind::String));
        if !int && range.is_some() {
            kernel::build_error!("a value range on a non-integer attribute");
        }
        if !len_ok && (min_len.is_some() || max_len.is_some()) {
            kernel::build_error!("a length check the core cannot make");
        }
        p.type_ = match a.kind {
            AttrKind::U8 => bindings::NLA_U8,
            AttrKind::U16 => bindings::NLA_U16,
            AttrKind::U32 => bindings::NLA_U32,
            AttrKind::U64 => bindings::NLA_U64,
            AttrKind::Uint => bindings::NLA_UINT,
            AttrKind::Flag => bindings::NLA_FLAG,
            AttrKind::String => bindings::NLA_NUL_STRING,
            AttrKind::Binary => bindings::NLA_BINARY,
            AttrKind::Nest(_) => bindings::NLA_NESTED,
        } as u8;
        // The classic maximum of a binary or string, checked before any
        // range: a longer payload fails as "Attribute failed policy
        // validation".
        p.len = match max_len {
            Some(hi) => *hi,
            None => 0,
        };
        if let Some(lo) = min_len {
            // Writing union fields is safe; the validation type makes the
            // core read these.  A binary's range bounds its length; the
            // policy dump and extack show a range (not a pointer to one)
            // as min-length and max-length.
            if *lo > i16::MAX as u16 {
                kernel::build_error!("min-len does not fit the policy");
            }
            p.__bindgen_anon_1.__bindgen_anon_1.min = *lo as i16;
            p.validation_type = match max_len {
                Some(hi) => {
                    if *hi > i16::MAX as u16 {
                        kernel::build_error!("max-len does not fit the policy");
                    }
                    p.__bindgen_anon_1.__bindgen_anon_1.max = *hi as i16;
                    bindings::XNAT_NLA_VALIDATE_RANGE
                }
                None => bindings::XNAT_NLA_VALIDATE_MIN,
            };
        } else if let Some(r) = range {
            p.validation_type = bindings::XNAT_NLA_VALIDATE_RANGE_PTR;
            // Writing a union field is safe; the validation type makes the
            // core read this one.  The spec's own bounds, as integer
            // bounds need not fit the policy's s16 fields; `Range` has the
            // layout of the core's type (asserted above).
            p.__bindgen_anon_1.range = core::ptr::from_ref(r).cast::<RangeValidation>();
        }
        if let AttrKind::Nest(inner) = a.kind {
            // `len` is the nest's highest attribute type.
            p.len = max_attr(inner);
            let nested = Self::nested(a.attr, nests);
            if nested.maxattr != p.len {
                kernel::build_error!("the nest's policy is not of its attributes");
            }
            // Writing a union field is safe; NLA_NESTED makes the core
            // read this one.
            p.__bindgen_anon_1.nested_policy = nested.table;
        }
        p
    }

    const fn nested(attr: u16, nests: &[(u16, PolicyRef)]) -> PolicyRef {
        let mut i = 0;
        while i < nests.len() {
            if nests[i].0 == attr {
                return nests[i].1;
            }
            i += 1;
        }
        kernel::build_error!("a nest without the policy of its attributes")
    }

    /// The policy, for an operation or a nest.
    pub const fn as_ref(&'static self) -> PolicyRef {
        PolicyRef { table: self.table.as_ptr(), maxattr: (N - 1) as u16 }
    }
}

/// The do or dump of the operation the core dispatched `cmd` to, with the
/// attributes its request may carry.
fn find_op(ops: &[OpSpec], cmd: u8, dump: bool) -> Option<(Op, &'static [AttrPolicy])> {
    let o = ops.iter().find(|o| o.cmd == cmd)?;
    let attrs = if dump { o.dump_attrs } else { o.do_attrs }?;
    Some((o.op, attrs))
}

impl<F: Family> Registration<F> {
    /// Registers the family for `module`.  It keeps `pernet`, the
    /// subsystem of the state its requests act on, until it is unregistered.
    pub fn register(module: &'static kernel::ThisModule, pernet: pernet::Registration<F::State>) -> Result<Self> {
        let mut ops = KVec::with_capacity(2 * F::OPS.len(), GFP_KERNEL)?;
        // The core wants split ops in command order, a do before the dump of
        // its command, and refuses them otherwise: the spec's list order.
        for op in F::OPS {
            for (dump, attrs) in [(false, op.do_attrs), (true, op.dump_attrs)] {
                let Some(attrs) = attrs else { continue };
                let mut o = bindings::genl_split_ops::default();
                o.cmd = op.cmd;
                // The spec's flags: uns-admin-perm is CAP_NET_ADMIN in the
                // user namespace that owns the network namespace.
                if op.admin_perm {
                    o.flags |= bindings::GENL_ADMIN_PERM as u8;
                }
                if op.uns_admin_perm {
                    o.flags |= bindings::GENL_UNS_ADMIN_PERM as u8;
                }
                // Writing a union field is safe; the CAP flag picks the
                // variant the core will read.
                if dump {
                    o.__bindgen_anon_1.__bindgen_anon_2.dumpit = Some(Self::dumpit_callback);
                    o.flags |= bindings::GENL_CMD_CAP_DUMP as u8;
                } else {
                    o.__bindgen_anon_1.__bindgen_anon_1.doit = Some(Self::doit_callback);
                    o.flags |= bindings::GENL_CMD_CAP_DO as u8;
                }
                if !attrs.is_empty() {
                    // The family's `POLICIES` are checked against its
                    // `OPS` at compile time ([`policies_cover`]).
                    let p = F::POLICIES.iter().find(|p| p.cmd == op.cmd && p.dump == dump).ok_or(EINVAL)?;
                    o.policy = p.policy.table;
                    o.maxattr = u32::from(p.policy.maxattr);
                }
                ops.push(o, GFP_KERNEL)?;
            }
        }
        let mut mcgrps = KVec::with_capacity(F::MCGRPS.len(), GFP_KERNEL)?;
        for name in F::MCGRPS {
            let mut g = bindings::genl_multicast_group::default();
            g.name = name.0;
            mcgrps.push(g, GFP_KERNEL)?;
        }

        let family = KBox::new(Opaque::new(bindings::genl_family::default()), GFP_KERNEL)?;
        let raw = family.get();
        // SAFETY: `raw` is valid and not yet shared; the arrays it points to
        // move into `Self` with it and are heap buffers that do not move.
        unsafe {
            (*raw).name = F::NAME.0;
            (*raw).version = u32::from(F::VERSION);
            (*raw).set_netnsok(1);
            (*raw).split_ops = ops.as_ptr();
            (*raw).n_split_ops = ops.len() as u8;
            (*raw).mcgrps = mcgrps.as_ptr();
            (*raw).n_mcgrps = mcgrps.len() as u8;
            (*raw).module = module.as_ptr().cast();
            to_result(bindings::genl_register_family(raw))?;
        }
        // INVARIANT: Registered above.
        Ok(Self { family, _ops: ops, _mcgrps: mcgrps, _pernet: pernet, _family: PhantomData })
    }

    /// Sends `msg` to the listeners of multicast group `group` (an index
    /// into [`Family::MCGRPS`]) in `net`.  No listener is not an error.
    pub fn multicast(&self, net: &Net, msg: Message, group: u32, flags: Gfp) {
        let skb = msg.finish();
        // SAFETY: Registered family (type invariant); `skb` is a finished
        // message whose ownership passes to the call.
        unsafe {
            bindings::xnat_genlmsg_multicast_netns(self.family.get(), net.as_ptr(), skb, 0, group, flags.raw());
        }
    }

    /// Whether anybody in `net` listens to multicast group `group`: without
    /// listeners, a notification need not be built.
    pub fn has_listeners(&self, net: &Net, group: u32) -> bool {
        // SAFETY: Registered family (type invariant) and a live namespace.
        unsafe { bindings::xnat_genl_has_listeners(self.family.get(), net.as_ptr(), group) }
    }

    /// A message of this family, to be multicast or sent as a reply.
    pub fn message(&self, cmd: u8, flags: Gfp) -> Result<Message> {
        Message::new(self.family.get(), 0, 0, cmd, 0, flags)
    }

    /// # Safety
    ///
    /// Called by the genetlink core only (`genl_split_ops.doit` of a
    /// registered family), with a valid, parsed request for the call whose
    /// `attrs`, if any, has the op's `maxattr + 1` entries.
    unsafe extern "C" fn doit_callback(_skb: *mut bindings::sk_buff, info: *mut bindings::genl_info) -> ffi::c_int {
        from_result(|| {
            // SAFETY: `genlhdr` is valid for a parsed request.
            let cmd = unsafe { (*(*info).genlhdr).cmd };
            // The op the core dispatched to, hence the policy it parsed with.
            let (op, attrs) = find_op(F::OPS, cmd, false).ok_or_else(super::eopnotsupp)?;
            // SAFETY: A valid request for the call, parsed with `op`'s policy.
            let mut info = unsafe { Info::from_raw(info, max_attr(attrs)) };
            let net = info.net();
            // SAFETY: The requesting socket holds its namespace for the
            // request, so it is not dismantled; and the pernet subsystem is
            // unregistered only after the family, which waits for this
            // handler (type invariant).
            let Some(state) = (unsafe { pernet::Registration::<F::State>::get_unguarded(net) }) else {
                return Err(ENODEV);
            };
            F::doit(op, state, &mut info)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the netlink core only (`genl_split_ops.dumpit` of a
    /// registered family), with a valid skb to fill and a valid callback.
    unsafe extern "C" fn dumpit_callback(skb: *mut bindings::sk_buff, cb: *mut bindings::netlink_callback) -> ffi::c_int {
        from_result(|| {
            // SAFETY: The core passes a valid skb and callback for the call.
            let mut dump = unsafe { Dump::from_raw(skb, cb) };
            let (op, _) = find_op(F::OPS, dump.cmd(), true).ok_or_else(super::eopnotsupp)?;
            let done = F::dumpit(op, &mut dump)?;
            // SAFETY: Valid skb.
            let len = unsafe { (*skb).len } as i32;
            // A positive length asks for another call; zero ends the dump.
            // Not done with nothing added means one message exceeds a skb.
            if len == 0 && !done {
                return Err(super::emsgsize());
            }
            Ok(len)
        })
    }
}

impl<F: Family> Drop for Registration<F> {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant).  Unregistering waits for
        // running operations, after which nothing uses the arrays.
        unsafe { bindings::genl_unregister_family(self.family.get()) };
    }
}

/// A received do-request.
///
/// # Invariants
///
/// `raw` is a valid request for `'a`; its `attrs`, unless null, has
/// `maxattr + 1` entries.
pub struct Info<'a> {
    raw: *mut bindings::genl_info,
    maxattr: u16,
    _life: PhantomData<&'a mut bindings::genl_info>,
}

impl<'a> Info<'a> {
    /// # Safety
    ///
    /// `raw` must be a valid request for `'a`, parsed with a policy whose
    /// highest attribute type is `maxattr`.
    unsafe fn from_raw(raw: *mut bindings::genl_info, maxattr: u16) -> Self {
        // INVARIANT: The caller's promise.
        Self { raw, maxattr, _life: PhantomData }
    }

    /// The payload of an attribute of the request; `None` if absent or not
    /// in the op's policy.
    pub fn attr_bytes(&self, attr: u16) -> Option<&'a [u8]> {
        if attr > self.maxattr {
            return None;
        }
        // SAFETY: The request is valid and `attrs`, which the helper checks
        // for NULL, has `maxattr + 1` entries (type invariant).
        let nla = unsafe { bindings::xnat_genl_info_attr(self.raw, u32::from(attr)) };
        if nla.is_null() {
            return None;
        }
        // SAFETY: A validated attribute: its payload is `nla_len` bytes,
        // valid as long as the request.
        unsafe {
            let len = bindings::xnat_nla_len(nla);
            Some(core::slice::from_raw_parts(bindings::xnat_nla_data(nla).cast::<u8>(), len as usize))
        }
    }

    /// The request's attributes, as a stream to read with
    /// [`crate::logic::nla::Attrs`]: the way to see every occurrence of an
    /// attribute that repeats (each was validated by the policy).
    pub fn attr_stream(&self) -> &'a [u8] {
        let mut len: ffi::c_int = 0;
        // SAFETY: The request is valid; the helper writes the length of the
        // attributes that follow the family header.
        let data = unsafe { bindings::xnat_genl_info_attr_stream(self.raw, &mut len) };
        match usize::try_from(len) {
            // SAFETY: `len` bytes at `data` are the received message's, valid
            // as long as the request.
            Ok(len) if !data.is_null() => unsafe { core::slice::from_raw_parts(data.cast::<u8>(), len) },
            _ => &[],
        }
    }

    /// A u32 attribute (validated as such by the policy).
    pub fn attr_u32(&self, attr: u16) -> Option<u32> {
        let b = self.attr_bytes(attr)?;
        Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
    }

    /// A u8 attribute (validated as such by the policy).
    pub fn attr_u8(&self, attr: u16) -> Option<u8> {
        self.attr_bytes(attr)?.first().copied()
    }

    /// A u16 attribute, in host byte order (validated as such by the
    /// policy).
    pub fn attr_u16(&self, attr: u16) -> Option<u16> {
        let b = self.attr_bytes(attr)?;
        Some(u16::from_ne_bytes([*b.first()?, *b.get(1)?]))
    }

    /// Whether a flag attribute is present.
    pub fn attr_flag(&self, attr: u16) -> bool {
        self.attr_bytes(attr).is_some()
    }

    /// The namespace of the requesting socket.
    pub fn net(&self) -> &'a Net {
        // SAFETY: The requesting socket keeps its namespace alive during the
        // request.
        unsafe { Net::from_raw(bindings::xnat_genl_info_net(self.raw)) }
    }

    /// Sets the extack message the requester sees with the error.
    pub fn set_error_message(&mut self, msg: impl core::fmt::Display) {
        use core::fmt::Write;
        let mut buf = FixedBuf::<80>::new();
        let _ = write!(buf, "{msg}");
        let mut cstr = [0u8; 81];
        cstr[..buf.as_bytes().len()].copy_from_slice(buf.as_bytes());
        // SAFETY: Valid request; `extack` may be null, which the macro
        // behind the helper handles; `cstr` is NUL-terminated and is copied.
        unsafe { bindings::xnat_extack_set_msg((*self.raw).extack, cstr.as_ptr().cast()) };
    }

    /// Starts the reply to this request.
    pub fn reply(&self, cmd: u8) -> Result<Message> {
        // SAFETY: Valid request.
        let (family, portid, seq) = unsafe { ((*self.raw).family, (*self.raw).snd_portid, (*self.raw).snd_seq) };
        Message::new(family, portid, seq, cmd, 0, Gfp::Kernel)
    }

    /// Sends a reply built with [`Info::reply`].
    pub fn send_reply(&self, msg: Message) -> Result {
        let skb = msg.finish();
        // SAFETY: Valid request; ownership of `skb` passes to the call.
        to_result(unsafe { bindings::xnat_genlmsg_reply(skb, self.raw) })
    }
}

/// Writes attributes into a message being built.
///
/// # Invariants
///
/// `skb` is a netlink message under construction, after a genetlink
/// header, that the [`Message`] or [`Dump`] this writer was made from owns
/// or fills, and that nothing else writes for `'a`.
pub struct Attrs<'a> {
    skb: *mut bindings::sk_buff,
    _life: PhantomData<&'a mut bindings::sk_buff>,
}

impl Attrs<'_> {
    /// Appends an attribute with raw payload bytes.
    pub fn put_bytes(&mut self, attr: u16, data: &[u8]) -> Result {
        // SAFETY: `skb` is a message under construction owned by the caller;
        // `data` is valid for `len` bytes and copied.
        to_result(unsafe { bindings::nla_put(self.skb, attr.into(), data.len() as i32, data.as_ptr().cast()) })
    }

    /// Appends a NUL-terminated string attribute of what `text` displays,
    /// cut at 127 bytes (on a character boundary).
    pub fn put_string(&mut self, attr: u16, text: impl core::fmt::Display) -> Result {
        use core::fmt::Write;
        let mut buf = FixedBuf::<128>::new();
        let _ = write!(buf, "{text}");
        let mut cstr = [0u8; 128];
        let len = buf.as_bytes().len().min(127);
        cstr[..len].copy_from_slice(&buf.as_bytes()[..len]);
        self.put_bytes(attr, &cstr[..=len])
    }

    /// Appends a u8 attribute.
    pub fn put_u8(&mut self, attr: u16, v: u8) -> Result {
        self.put_bytes(attr, &[v])
    }

    /// Appends a u16 attribute, as stored in memory: host order for plain
    /// `u16`, or a value already in network order for `byte-order:
    /// big-endian` attributes such as ports.
    pub fn put_u16(&mut self, attr: u16, v: u16) -> Result {
        self.put_bytes(attr, &v.to_ne_bytes())
    }

    /// Appends a host-order u32 attribute.
    pub fn put_u32(&mut self, attr: u16, v: u32) -> Result {
        self.put_bytes(attr, &v.to_ne_bytes())
    }

    /// Appends an s32 attribute.
    pub fn put_s32(&mut self, attr: u16, v: i32) -> Result {
        self.put_bytes(attr, &v.to_ne_bytes())
    }

    /// Appends a variable-width unsigned attribute (ynl `uint`).
    pub fn put_uint(&mut self, attr: u16, v: u64) -> Result {
        // SAFETY: As in `put_bytes`.
        to_result(unsafe { bindings::xnat_nla_put_uint(self.skb, attr.into(), v) })
    }

    /// Appends a nested attribute filled by `fill`; if `fill` fails, the
    /// message is left as it was before, so that a caller may stop at the
    /// first nest that has no room and send what fits.
    pub fn nest(&mut self, attr: u16, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: As in `put_bytes`.
        let start = unsafe { bindings::xnat_nla_nest_start(self.skb, attr.into()) };
        if start.is_null() {
            return Err(super::emsgsize());
        }
        if let Err(e) = fill(self) {
            // SAFETY: `start` was returned for this skb above, and nothing
            // after it is kept.
            unsafe { bindings::xnat_nla_nest_cancel(self.skb, start) };
            return Err(e);
        }
        // SAFETY: `start` was returned for this skb above.
        unsafe { bindings::xnat_nla_nest_end(self.skb, start) };
        Ok(())
    }
}

/// A message being built, owned until sent.
///
/// # Invariants
///
/// `skb` is a valid, owned netlink message with a genetlink header `hdr`.
pub struct Message {
    skb: *mut bindings::sk_buff,
    hdr: *mut ffi::c_void,
}

impl Message {
    fn new(family: *const bindings::genl_family, portid: u32, seq: u32, cmd: u8, nlflags: i32, flags: Gfp) -> Result<Self> {
        // SAFETY: No preconditions.
        let skb = unsafe { bindings::xnat_genlmsg_new(bindings::XNAT_NLMSG_GOODSIZE as usize, flags.raw()) };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `skb` is new and owned; `family` is registered.
        let hdr = unsafe { bindings::genlmsg_put(skb, portid, seq, family, nlflags, cmd) };
        if hdr.is_null() {
            // SAFETY: Owned, not sent.
            unsafe { bindings::xnat_kfree_skb(skb) };
            return Err(super::emsgsize());
        }
        // INVARIANT: Both set up above.
        Ok(Self { skb, hdr })
    }

    /// The attribute writer.
    pub fn attrs(&mut self) -> Attrs<'_> {
        // INVARIANT: A message we own (type invariant), borrowed mutably for
        // the writer's life.
        Attrs { skb: self.skb, _life: PhantomData }
    }

    fn finish(self) -> *mut bindings::sk_buff {
        // SAFETY: Valid message (type invariant).
        unsafe { bindings::xnat_genlmsg_end(self.skb, self.hdr) };
        let skb = self.skb;
        core::mem::forget(self);
        skb
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: Owned and never sent (sending consumes `self`).
        unsafe { bindings::xnat_kfree_skb(self.skb) };
    }
}

/// A dump in progress: one call fills one skb; a cursor survives between
/// calls.
///
/// # Invariants
///
/// For `'a`, `skb` is the skb this call of the dump fills, which nothing
/// else writes meanwhile, and `cb` the dump's valid callback, whose request
/// starts with a genetlink header and whose `args` are the dumper's.
pub struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
    _life: PhantomData<&'a mut bindings::netlink_callback>,
}

impl Dump<'_> {
    /// # Safety
    ///
    /// `skb` and `cb` must be what the netlink core passes a genetlink
    /// family's `dumpit`, valid for the lifetime.
    unsafe fn from_raw(skb: *mut bindings::sk_buff, cb: *mut bindings::netlink_callback) -> Self {
        // INVARIANT: The caller's promise; the core hands the skb to one
        // `dumpit` call at a time, and genetlink requests carry the header.
        Self { skb, cb, _life: PhantomData }
    }

    fn cmd(&self) -> u8 {
        // SAFETY: Valid callback; the request holds a genetlink header.
        unsafe { (*bindings::xnat_genl_dump_genlhdr(self.cb)).cmd }
    }

    /// The namespace being dumped.
    pub fn net(&self) -> &Net {
        // SAFETY: The dumping socket keeps its namespace alive.
        unsafe { Net::from_raw(bindings::xnat_genl_dump_net(self.cb)) }
    }

    /// The resume point stored by the previous call (0 at first).
    pub fn cursor(&self) -> u64 {
        // SAFETY: Valid callback; `args` is scratch space for the dumper.
        unsafe { (*self.cb).__bindgen_anon_1.args[0] as u64 }
    }

    /// Stores the resume point for the next call.
    pub fn set_cursor(&mut self, v: u64) {
        // SAFETY: As in `cursor`.
        unsafe { (*self.cb).__bindgen_anon_1.args[0] = v as ffi::c_long };
    }

    /// Adds one message filled by `fill`.  Returns `false`, with the skb
    /// unchanged, if the message does not fit: resume in the next call.
    pub fn add(&mut self, cmd: u8, fill: impl FnOnce(&mut Attrs<'_>) -> Result) -> Result<bool> {
        // SAFETY: Valid callback and skb; the family is the one dumping.
        let hdr = unsafe {
            bindings::genlmsg_put(
                self.skb,
                bindings::xnat_genl_dump_portid(self.cb),
                bindings::xnat_genl_dump_seq(self.cb),
                bindings::xnat_genl_dump_family(self.cb),
                bindings::NLM_F_MULTI as i32,
                cmd,
            )
        };
        if hdr.is_null() {
            return Ok(false);
        }
        // INVARIANT: The skb this call fills (type invariant), after the
        // header put above; `self` is borrowed mutably for the writer's life.
        let mut attrs = Attrs { skb: self.skb, _life: PhantomData };
        match fill(&mut attrs) {
            Ok(()) => {
                // SAFETY: `hdr` was put in this skb above.
                unsafe { bindings::xnat_genlmsg_end(self.skb, hdr) };
                Ok(true)
            }
            Err(e) => {
                // SAFETY: As above.
                unsafe { bindings::xnat_genlmsg_cancel(self.skb, hdr) };
                if e == super::emsgsize() {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

use kernel::ffi;
