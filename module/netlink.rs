// SPDX-License-Identifier: GPL-2.0
//! The `xfrm_nat` generic netlink family
//! (Documentation/netlink/specs/xfrm_nat.yaml).

use kernel::prelude::*;

use crate::logic::nla;
use crate::logic::request::{self, MapAttrs, Refusal};
use crate::logic::sa::SaEvent;
use crate::logic::table::{Entry, MapKey};
use crate::logic::stats::Counter;
use crate::logic::uapi::{self, cmd, kind, map, map_attr, map_entry_policy, map_state, sa_state, selector, Attr, Op, OpSpec};
use crate::net::conntrack;
use crate::net::genetlink::{self, Attrs, Dump, Info, Name, OpPolicy, Policy};
use crate::net::pernet::Net;
use crate::net::rcu::{Global, Publication, ReadGuard};
use crate::net::Gfp;
use crate::snapshot::{Shared, Snapshot};
use crate::state::{ChangeError, Event, NetState, Ns, Pernet};

/// The family.
pub(crate) struct XfrmNat;

/// The policy of the do or dump of `$cmd`, from the spec's attributes of
/// its request; `$nests`: the policy of each nest among them.
macro_rules! request_policy {
    ($name:ident = $cmd:expr, $dump:expr, $nests:expr) => {
        static $name: Policy<{ genetlink::policy_len(genetlink::attrs_of(&uapi::OPS, $cmd, $dump)) }> =
            Policy::new(genetlink::attrs_of(&uapi::OPS, $cmd, $dump), $nests);
    };
}

/// A mapping of map-set.
static MAP_ENTRY: Policy<{ genetlink::policy_len(&map_entry_policy::ALL) }> = Policy::new(&map_entry_policy::ALL, &[]);
request_policy!(MAP_NEW = cmd::MAP_NEW, false, &[]);
request_policy!(MAP_DEL = cmd::MAP_DEL, false, &[]);
request_policy!(MAP_GET = cmd::MAP_GET, false, &[]);
request_policy!(MAP_SET = cmd::MAP_SET, false, &[(map_attr::MAPPING, MAP_ENTRY.as_ref())]);

// An operation of the spec that gains request attributes does not build
// until its policy is listed in `POLICIES`.
const _: () = assert!(genetlink::policies_cover(&uapi::OPS, <XfrmNat as genetlink::Family>::POLICIES));

/// The registration type.
pub(crate) type Registration = genetlink::Registration<XfrmNat>;

/// The registered family, for notifications.
static FAMILY: Global<Registration> = Global::new();

/// The registered family, published for [`notify`] while it lives.
///
/// Dropping it unregisters the family, which waits for every running
/// request handler, and then the pernet subsystem it owns
/// ([`genetlink::Registration`]): no handler can outlive the state it
/// acts on.
pub(crate) struct Published {
    _reg: Publication<Registration>,
}

impl Published {
    /// Registers and publishes the family, with the pernet subsystem of the
    /// state its requests act on.
    pub(crate) fn register(module: &'static ThisModule, pernet: Pernet) -> Result<Self> {
        let reg = KBox::new(Registration::register(module, pernet)?, GFP_KERNEL)?;
        Ok(Self { _reg: FAMILY.publish(reg)? })
    }
}

impl genetlink::Family for XfrmNat {
    type State = NetState;
    const NAME: Name = Name::new(uapi::FAMILY_NAME);
    const VERSION: u8 = crate::logic::uapi::FAMILY_VERSION;
    const OPS: &'static [OpSpec] = &uapi::OPS;
    const POLICIES: &'static [OpPolicy] = &[
        OpPolicy { cmd: cmd::MAP_NEW, dump: false, policy: MAP_NEW.as_ref() },
        OpPolicy { cmd: cmd::MAP_DEL, dump: false, policy: MAP_DEL.as_ref() },
        OpPolicy { cmd: cmd::MAP_GET, dump: false, policy: MAP_GET.as_ref() },
        OpPolicy { cmd: cmd::MAP_SET, dump: false, policy: MAP_SET.as_ref() },
    ];
    const MCGRPS: &'static [Name] = &[Name::new(uapi::MCGRP_EVENTS)];

    // The matches name every operation of the spec: one added there does
    // not build until it is handled here.
    fn doit(op: Op, state: &Ns, info: &mut Info<'_>) -> Result {
        let result = match op {
            Op::MapNew => {
                let req = request::map_request(MapAttrs {
                    spid: value(info, map::SPID),
                    reqid: value(info, map::REQID),
                    addr: value(info, map::ADDR),
                    prefix_len: value(info, map::PREFIX_LEN),
                    from: value(info, map::FROM),
                    from_prefix_len: value(info, map::FROM_PREFIX_LEN),
                    pending: value(info, map::PENDING),
                    hold_packets: value(info, map::HOLD_PACKETS),
                    hold_bytes: value(info, map::HOLD_BYTES),
                    inbound: value(info, map::INBOUND).is_some(),
                    remote: value(info, map::REMOTE),
                    remote_alias: value(info, map::REMOTE_ALIAS),
                    remote_prefix_len: value(info, map::REMOTE_PREFIX_LEN),
                    zone: value(info, map::ZONE),
                    // Its bytes, NUL included: the logic checks the text.
                    name: info.attr_bytes(map::NAME.id),
                })
                .and_then(|r| request::check_zone(r, conntrack::ZONES));
                let replace = value(info, map::REPLACE).is_some();
                match req {
                    Ok(req) => state.map(req, replace, notify),
                    Err(r) => Err(ChangeError::Refused(r)),
                }
            }
            Op::MapDel => match key_of(info) {
                Ok(key) => state.unmap(key, notify),
                Err(r) => Err(ChangeError::Refused(r)),
            },
            Op::Flush => state.flush(notify),
            Op::MapSet => map_set(state, info),
            Op::MapGet => return get(state, info),
        };
        result.map_err(|e| refuse(info, e))
    }

    fn dumpit(op: Op, dump: &mut Dump<'_>) -> Result<bool> {
        match op {
            Op::MapGet => (),
            // The spec gives them no dump, so they are not registered as one.
            Op::MapNew | Op::MapDel | Op::Flush | Op::MapSet => return Err(crate::net::eopnotsupp()),
        }
        let guard = ReadGuard::new();
        let Some(table) = NetState::of(dump.net(), &guard).and_then(|s| s.snapshot(&guard)) else {
            return Ok(true);
        };
        // The cursor is the next key to send as `MapKey::cursor`, plus one
        // (0: not started; past any key: done).
        let from = dump.cursor();
        let Some(start) = (match from {
            0 => Some(MapKey::Spid(0)),
            c => MapKey::from_cursor(c - 1),
        }) else {
            return Ok(true);
        };
        for e in table.entries_from(start) {
            if !dump.add(cmd::MAP_GET, |a| put_mapping(a, &e))? {
                dump.set_cursor(e.key.cursor() + 1);
                return Ok(false);
            }
        }
        dump.set_cursor(u64::MAX);
        Ok(true)
    }
}

/// The key a map-del or map-get request names.
fn key_of(info: &Info<'_>) -> Result<MapKey, Refusal> {
    request::map_key(value(info, map::SPID), value(info, map::REQID))
}

/// Reads the entries of a map-set request and applies them.
fn map_set(state: &Ns, info: &Info<'_>) -> Result<(), ChangeError> {
    let entries = nla::Attrs::new(info.attr_stream()).filter(|(kind, _)| *kind == map_attr::MAPPING);
    // The message bounds the count; one more than allowed is enough to refuse.
    let mut reqs = KVVec::new();
    for (i, (_, entry)) in entries.enumerate() {
        let req = request::map_entry_attrs(entry)
            .and_then(request::map_request)
            .and_then(|r| request::check_zone(r, conntrack::ZONES));
        match req {
            Ok(req) => reqs.push(req, GFP_KERNEL_ACCOUNT)?,
            Err(r) => return Err(ChangeError::RefusedEntry(i, r)),
        }
        if reqs.len() > request::MAX_MAPPINGS {
            break;
        }
    }
    state.set_all(reqs, notify)
}

fn refuse(info: &mut Info<'_>, e: ChangeError) -> Error {
    match e {
        ChangeError::Refused(r) => {
            info.set_error_message(r);
            Error::from_errno(-r.errno())
        }
        ChangeError::RefusedEntry(i, r) => {
            info.set_error_message(format_args!("entry {}: {r}", i + 1));
            Error::from_errno(-r.errno())
        }
        ChangeError::Kernel(e) => e,
    }
}

fn get(state: &Ns, info: &mut Info<'_>) -> Result {
    let key = match key_of(info) {
        Ok(key) => key,
        Err(r) => {
            info.set_error_message(r);
            return Err(Error::from_errno(-r.errno()));
        }
    };
    let mut msg = info.reply(cmd::MAP_GET)?;
    let found = state.with_snapshot(|t| match t.get(key) {
        Some(e) => put_mapping(&mut msg.attrs(), &e).map(|()| true),
        None => Ok(false),
    })?;
    if !found {
        info.set_error_message(Refusal::NotMapped(key));
        return Err(ENOENT);
    }
    info.send_reply(msg)
}

fn put_key(a: &mut Attrs<'_>, key: MapKey) -> Result {
    match key {
        MapKey::Spid(v) => put(a, map::SPID, v),
        MapKey::Reqid(v) => put(a, map::REQID, v),
    }
}

fn put_mapping(a: &mut Attrs<'_>, e: &Entry<'_, Shared>) -> Result {
    let m = e.mapping;
    let hold = m.stats.hold.as_ref().map(|h| h.view());
    put_key(a, m.key)?;
    put(a, map::ADDR, m.nat.bytes(m.family))?;
    if let Some(from) = &m.from {
        put(a, map::PREFIX_LEN, m.nat_len)?;
        put(a, map::FROM, from.bytes(m.family))?;
        put(a, map::FROM_PREFIX_LEN, m.nat_len)?;
    }
    let state = if e.is_active() { map_state::ACTIVE } else { map_state::INACTIVE };
    put(a, map::STATE, state)?;
    if let Some(why) = &e.inactive {
        put(a, map::REASON, why)?;
    }
    put(a, map::PENDING, m.pending.to_wire())?;
    if m.inbound {
        put(a, map::INBOUND, ())?;
    }
    if let Some(r) = &m.remote {
        put(a, map::REMOTE, r.real.bytes(m.family))?;
        put(a, map::REMOTE_ALIAS, r.alias.bytes(m.family))?;
        put(a, map::REMOTE_PREFIX_LEN, r.len)?;
        if r.zone != 0 {
            put(a, map::ZONE, r.zone)?;
        }
    }
    if let Some(name) = &m.name {
        put(a, map::NAME, name)?;
    }
    if let Some(h) = &hold {
        put(a, map::HOLD_PACKETS, h.limits.packets)?;
        put(a, map::HOLD_BYTES, h.limits.bytes)?;
    }
    for b in e.bindings {
        put(a, map::POLICY, b.index)?;
    }
    if let Some(b) = e.bindings.first() {
        let s = &b.policy.selector;
        a.nest(map_attr::SELECTOR, |a| {
            put(a, selector::FAMILY, m.family.af())?;
            put(a, selector::DADDR, s.daddr.bytes(m.family))?;
            // The mapping keeps no source selector: the policy admits the
            // mapped address or prefix, so this is the selector's source
            // prefix.
            put(a, selector::SADDR, m.nat.masked(s.prefixlen_s).bytes(m.family))?;
            put(a, selector::PREFIXLEN_D, s.prefixlen_d)?;
            put(a, selector::PREFIXLEN_S, s.prefixlen_s)?;
            put(a, selector::PROTO, s.proto)?;
            put(a, selector::DPORT, s.dport)?;
            put(a, selector::DPORT_MASK, s.dport_mask)?;
            put(a, selector::SPORT, s.sport)?;
            put(a, selector::SPORT_MASK, s.sport_mask)?;
            put(a, selector::IFINDEX, s.ifindex)?;
            put(a, selector::PRIORITY, b.policy.priority)?;
            put(a, selector::INDEX, b.index)
        })?;
    }
    a.nest(map_attr::STATS, |a| {
        let c = hold.as_ref().map(|h| h.counters).unwrap_or_default();
        for counter in Counter::ALL {
            // The mapping's own counters, else those its hold queue keeps
            // (`stats::in_hold_queue`); 0 without a queue.
            let v = match counter {
                Counter::Held => c.held,
                Counter::Released => c.released,
                Counter::HoldOverflowDrops => c.overflow_drops,
                Counter::HoldTimeoutDrops => c.timeout_drops,
                Counter::HoldErrorDrops => c.error_drops,
                Counter::HoldQueued => hold.as_ref().map_or(0, |h| h.queued as u64),
                other => m.stats.get(other).unwrap_or(0),
            };
            a.put_uint(counter.attr(), v)?;
        }
        Ok(())
    })
}

/// How a value of an attribute of spec type `Self` (a [`kind`]) is put in
/// a message and read from a request: the width and byte order are the
/// spec's, not chosen at each use.
trait Wire {
    type Value<'v>;
    fn put(a: &mut Attrs<'_>, id: u16, v: Self::Value<'_>) -> Result;
    /// The value of a request attribute (validated as this type by the
    /// policy).
    fn get<'a>(info: &Info<'a>, id: u16) -> Option<Self::Value<'a>>;
}

/// Puts `v` as `attr`.
fn put<K: Wire>(a: &mut Attrs<'_>, attr: Attr<K>, v: K::Value<'_>) -> Result {
    K::put(a, attr.id, v)
}

/// The value of `attr` in the request, if it has one.
fn value<'a, K: Wire>(info: &Info<'a>, attr: Attr<K>) -> Option<K::Value<'a>> {
    K::get(info, attr.id)
}

/// An integer type of attribute, with the methods of `Attrs` and `Info`
/// that put and read it; without a reader, one the module only sends.
macro_rules! integer {
    ($kind:ty, $value:ty, $put:ident $(, $get:ident)?) => {
        impl Wire for $kind {
            type Value<'v> = $value;
            fn put(a: &mut Attrs<'_>, id: u16, v: $value) -> Result {
                a.$put(id, v)
            }
            fn get(info: &Info<'_>, id: u16) -> Option<$value> {
                integer!(@get info, id $(, $get)?)
            }
        }
    };
    (@get $info:ident, $id:ident, $get:ident) => {
        $info.$get($id)
    };
    (@get $info:ident, $id:ident) => {{
        let _ = ($info, $id);
        None
    }};
}

integer!(kind::U8, u8, put_u8, attr_u8);
integer!(kind::U32, u32, put_u32, attr_u32);
integer!(kind::U16, u16, put_u16, attr_u16);
// The value is the raw big-endian field (`__be16`), as the selector keeps
// it: its bytes go out as they are.
integer!(kind::U16Be, u16, put_u16);
integer!(kind::S32, i32, put_s32);

impl Wire for kind::Binary {
    type Value<'v> = &'v [u8];
    fn put(a: &mut Attrs<'_>, id: u16, v: &[u8]) -> Result {
        a.put_bytes(id, v)
    }
    fn get<'a>(info: &Info<'a>, id: u16) -> Option<&'a [u8]> {
        info.attr_bytes(id)
    }
}

/// Present or not: `Some(())` if the request has it.
impl Wire for kind::Flag {
    type Value<'v> = ();
    fn put(a: &mut Attrs<'_>, id: u16, (): ()) -> Result {
        a.put_bytes(id, &[])
    }
    fn get(info: &Info<'_>, id: u16) -> Option<()> {
        info.attr_flag(id).then_some(())
    }
}


impl Wire for kind::String {
    type Value<'v> = &'v dyn core::fmt::Display;
    fn put(a: &mut Attrs<'_>, id: u16, v: &dyn core::fmt::Display) -> Result {
        a.put_string(id, v)
    }
    fn get<'a>(_: &Info<'a>, _: u16) -> Option<&'a dyn core::fmt::Display> {
        None
    }
}

/// Multicasts `event` to listeners in `net`.  `table` is the snapshot after
/// the change.  Best effort: a listener that misses an event can dump.
/// Messages are built inside the read-side section that keeps the family
/// alive, hence atomic allocations.
pub(crate) fn notify(net: &Net, table: Option<&Snapshot>, event: Event) {
    let guard = ReadGuard::new();
    let Some(reg) = FAMILY.get(&guard) else { return };
    if !reg.has_listeners(net, 0) {
        return;
    }
    let built = match event {
        Event::Changed(key) => {
            let Some(e) = table.and_then(|t| t.get(key)) else { return };
            reg.message(cmd::MAP_CHANGE_NTF, Gfp::Atomic).and_then(|mut msg| put_mapping(&mut msg.attrs(), &e).map(|()| msg))
        }
        Event::Deleted(key) => {
            reg.message(cmd::MAP_DEL_NTF, Gfp::Atomic).and_then(|mut msg| put_key(&mut msg.attrs(), key).map(|()| msg))
        }
    };
    if let Ok(msg) = built {
        reg.multicast(net, msg, 0, Gfp::Atomic);
    }
}

/// Multicasts an SA event of a mapped policy to listeners in `net`.  Best
/// effort, like [`notify`].
pub(crate) fn notify_sa(net: &Net, event: SaEvent) {
    let guard = ReadGuard::new();
    let Some(reg) = FAMILY.get(&guard) else { return };
    if !reg.has_listeners(net, 0) {
        return;
    }
    let (spid, state) = match event {
        SaEvent::Pending(spid) => (spid, sa_state::PENDING),
        SaEvent::Established(spid) => (spid, sa_state::ESTABLISHED),
    };
    let built = reg.message(cmd::SA_NTF, Gfp::Atomic).and_then(|mut msg| {
        let mut a = msg.attrs();
        put(&mut a, map::SPID, spid)?;
        put(&mut a, map::SA_STATE, state)?;
        drop(a);
        Ok(msg)
    });
    if let Ok(msg) = built {
        reg.multicast(net, msg, 0, Gfp::Atomic);
    }
}
