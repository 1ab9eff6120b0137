// SPDX-License-Identifier: GPL-2.0
//! bindgen's view of the kernel structures the module reads or writes in
//! place, checked against the C compiler's when the module loads.
//!
//! bindgen lays structures out by itself, from the tree's headers and C
//! flags.  On a debug (KASAN, lockdep) 7.3 tree it once put
//! `sock::sk_callback_lock` 64 bytes before where the kernel has it, and
//! lockdep caught the module taking a "lock" that was not one.  A field at
//! the wrong offset is memory corruption, so a module whose bindings
//! disagree with the kernel on any field it touches refuses to load.
//! Fields of `struct sock` and its file are read through C helpers instead.

use core::mem::{offset_of, size_of};

use kernel::prelude::*;

use crate::bindings;

/// The fields, in the order of `xnat_layout_table` in `xnat_helpers.c`.
const FIELDS: [(&str, usize); 58] = [
    ("sizeof(struct sk_buff)", size_of::<bindings::sk_buff>()),
    ("sk_buff.len", offset_of!(bindings::sk_buff, len)),
    ("sizeof(struct genl_info)", size_of::<bindings::genl_info>()),
    ("genl_info.genlhdr", offset_of!(bindings::genl_info, genlhdr)),
    ("sizeof(struct genl_family)", size_of::<bindings::genl_family>()),
    ("genl_family.split_ops", offset_of!(bindings::genl_family, split_ops)),
    ("genl_family.mcgrps", offset_of!(bindings::genl_family, mcgrps)),
    ("genl_family.module", offset_of!(bindings::genl_family, module)),
    ("sizeof(struct nf_hook_ops)", size_of::<bindings::nf_hook_ops>()),
    ("nf_hook_ops.priority", offset_of!(bindings::nf_hook_ops, priority)),
    ("sizeof(struct pernet_operations)", size_of::<bindings::pernet_operations>()),
    ("pernet_operations.size", offset_of!(bindings::pernet_operations, size)),
    ("sizeof(struct xfrm_mgr)", size_of::<bindings::xfrm_mgr>()),
    ("xfrm_mgr.notify_policy", offset_of!(bindings::xfrm_mgr, notify_policy)),
    ("xfrm_mgr.migrate", offset_of!(bindings::xfrm_mgr, migrate)),
    ("nf_conn.tuplehash", offset_of!(bindings::nf_conn, tuplehash)),
    ("nf_conn.status", offset_of!(bindings::nf_conn, status)),
    ("sizeof(struct nf_conntrack_tuple_hash)", size_of::<bindings::nf_conntrack_tuple_hash>()),
    ("sizeof(struct nf_nat_range2)", size_of::<bindings::nf_nat_range2>()),
    ("nf_nat_range2.max_addr", offset_of!(bindings::nf_nat_range2, max_addr)),
    ("sizeof(struct flowi)", size_of::<bindings::flowi>()),
    ("flowi4.saddr", offset_of!(bindings::flowi4, saddr)),
    ("flowi6.saddr", offset_of!(bindings::flowi6, saddr)),
    ("km_event.event", offset_of!(bindings::km_event, event)),
    ("km_event.net", offset_of!(bindings::km_event, net)),
    ("xfrm_policy.index", offset_of!(bindings::xfrm_policy, index)),
    ("xfrm_policy.priority", offset_of!(bindings::xfrm_policy, priority)),
    ("xfrm_policy.selector", offset_of!(bindings::xfrm_policy, selector)),
    ("xfrm_policy.type", offset_of!(bindings::xfrm_policy, type_)),
    ("xfrm_policy.xfrm_nr", offset_of!(bindings::xfrm_policy, xfrm_nr)),
    ("xfrm_policy.xfrm_vec", offset_of!(bindings::xfrm_policy, xfrm_vec)),
    ("xfrm_policy.mark", offset_of!(bindings::xfrm_policy, mark)),
    ("xfrm_policy.if_id", offset_of!(bindings::xfrm_policy, if_id)),
    ("xfrm_if.net", offset_of!(bindings::xfrm_if, net)),
    ("xfrm_if.p", offset_of!(bindings::xfrm_if, p)),
    ("xfrm_if_parms.if_id", offset_of!(bindings::xfrm_if_parms, if_id)),
    ("xfrm_if_parms.collect_md", offset_of!(bindings::xfrm_if_parms, collect_md)),
    ("sizeof(struct xfrm_tmpl)", size_of::<bindings::xfrm_tmpl>()),
    ("xfrm_tmpl.reqid", offset_of!(bindings::xfrm_tmpl, reqid)),
    ("sizeof(struct xfrm_selector)", size_of::<bindings::xfrm_selector>()),
    ("sizeof(struct xfrm_state)", size_of::<bindings::xfrm_state>()),
    ("xfrm_state.id.daddr", offset_of!(bindings::xfrm_state, id.daddr)),
    ("xfrm_state.id.proto", offset_of!(bindings::xfrm_state, id.proto)),
    ("xfrm_state.props.saddr", offset_of!(bindings::xfrm_state, props.saddr)),
    ("xfrm_state.props.reqid", offset_of!(bindings::xfrm_state, props.reqid)),
    ("xfrm_state.props.family", offset_of!(bindings::xfrm_state, props.family)),
    ("xfrm_state.props.mode", offset_of!(bindings::xfrm_state, props.mode)),
    ("xfrm_state.sel", offset_of!(bindings::xfrm_state, sel)),
    ("xfrm_state.mark", offset_of!(bindings::xfrm_state, mark)),
    ("xfrm_state.km.state", offset_of!(bindings::xfrm_state, km.state)),
    ("xfrm_state.type", offset_of!(bindings::xfrm_state, type_)),
    // Made or embedded by the module itself.
    ("sizeof(struct delayed_work)", size_of::<bindings::delayed_work>()),
    ("sizeof(struct work_struct)", size_of::<bindings::work_struct>()),
    ("sizeof(struct xfrm_policy_walk)", size_of::<bindings::xfrm_policy_walk>()),
    ("sizeof(struct nf_ct_iter_data)", size_of::<bindings::nf_ct_iter_data>()),
    ("sizeof(struct nf_hook_state)", size_of::<bindings::nf_hook_state>()),
    ("sizeof(struct nla_policy)", size_of::<bindings::nla_policy>()),
    ("sizeof(struct genl_split_ops)", size_of::<bindings::genl_split_ops>()),
];

/// Fails with `EINVAL`, naming the first field, if bindgen and the C
/// compiler disagree on where a field is or how large a structure is.
pub fn check() -> Result {
    let mut len = 0usize;
    // SAFETY: `len` is valid for writing; the function returns a static
    // array of `len` entries.
    let table = unsafe { bindings::xnat_layout(&mut len) };
    if table.is_null() || len != FIELDS.len() {
        pr_err!("layout table has {} entries, expected {}\n", len, FIELDS.len());
        return Err(EINVAL);
    }
    // SAFETY: See above; the array is static and never written.
    let kernel = unsafe { core::slice::from_raw_parts(table, len) };
    for (&(name, ours), &theirs) in FIELDS.iter().zip(kernel) {
        if ours != theirs {
            pr_err!("{name} is {ours} in the module's bindings but {theirs} in the kernel; not loading\n");
            return Err(EINVAL);
        }
    }
    Ok(())
}
