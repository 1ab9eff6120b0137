/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel structures the Rust side reads or writes in place, written
 * once, as an X-macro list: each entry names a structure and, for an
 * offset, a field (a path such as id.daddr may name a nested one).
 *
 *   XNAT_SIZE(s)                  sizeof(struct s)
 *   XNAT_FIELD(s, f)              offsetof(struct s, f)
 *   XNAT_FIELD_AS(s, f, rust_f)   the same, for a field bindgen renames
 *                                 (a Rust keyword gets a `_`)
 *
 * xnat_helpers.c expands the list into the C compiler's values
 * (xnat_layout()).  Kbuild runs this file through the preprocessor with
 * XNAT_LAYOUT_RUST defined into layout_generated.rs, an array of
 * net/layout.rs's macros that give bindgen's values of the same entries,
 * in the same order; net/layout.rs compares the two when the module loads.
 * The comparison has to be at run time between the two compilers: values
 * bindgen's own libclang computed (a constant in bindings_helper.h) would
 * agree with bindgen's layout by construction.
 *
 * No include guard: it is meant to be expanded more than once.
 */
#ifdef XNAT_LAYOUT_RUST
#define XNAT_SIZE(s) size!(s),
#define XNAT_FIELD(s, f) field!(s, f),
#define XNAT_FIELD_AS(s, f, rust_f) field!(s, rust_f),
[
#endif
XNAT_SIZE(sk_buff)
XNAT_FIELD(sk_buff, len)
XNAT_SIZE(genl_info)
XNAT_FIELD(genl_info, genlhdr)
XNAT_SIZE(genl_family)
XNAT_FIELD(genl_family, split_ops)
XNAT_FIELD(genl_family, mcgrps)
XNAT_FIELD(genl_family, module)
XNAT_SIZE(nf_hook_ops)
XNAT_FIELD(nf_hook_ops, priority)
XNAT_SIZE(pernet_operations)
XNAT_FIELD(pernet_operations, size)
XNAT_SIZE(xfrm_mgr)
XNAT_FIELD(xfrm_mgr, notify_policy)
XNAT_FIELD(xfrm_mgr, migrate)
XNAT_FIELD(nf_conn, tuplehash)
XNAT_FIELD(nf_conn, status)
XNAT_SIZE(nf_conntrack_tuple_hash)
XNAT_SIZE(nf_nat_range2)
XNAT_FIELD(nf_nat_range2, max_addr)
XNAT_SIZE(flowi)
XNAT_FIELD(flowi4, saddr)
XNAT_FIELD(flowi6, saddr)
XNAT_FIELD(km_event, event)
XNAT_FIELD(km_event, net)
XNAT_FIELD(xfrm_policy, index)
XNAT_FIELD(xfrm_policy, priority)
XNAT_FIELD(xfrm_policy, selector)
XNAT_FIELD_AS(xfrm_policy, type, type_)
XNAT_FIELD(xfrm_policy, xfrm_nr)
XNAT_FIELD(xfrm_policy, xfrm_vec)
XNAT_FIELD(xfrm_policy, mark)
XNAT_FIELD(xfrm_policy, if_id)
XNAT_FIELD(xfrm_policy, pos)
XNAT_FIELD(xfrm_policy, action)
XNAT_FIELD(xfrm_if, net)
XNAT_FIELD(xfrm_if, p)
XNAT_FIELD(xfrm_if_parms, if_id)
XNAT_FIELD(xfrm_if_parms, collect_md)
XNAT_SIZE(xfrm_tmpl)
XNAT_FIELD(xfrm_tmpl, reqid)
XNAT_FIELD(xfrm_tmpl, saddr)
XNAT_FIELD(xfrm_tmpl, id.daddr)
XNAT_FIELD(xfrm_tmpl, id.proto)
XNAT_FIELD(xfrm_tmpl, encap_family)
XNAT_FIELD(xfrm_tmpl, mode)
XNAT_FIELD(xfrm_tmpl, optional)
XNAT_SIZE(xfrm_selector)
XNAT_SIZE(xfrm_state)
XNAT_FIELD(xfrm_state, id.daddr)
XNAT_FIELD(xfrm_state, id.spi)
XNAT_FIELD(xfrm_state, id.proto)
XNAT_FIELD(xfrm_state, props.saddr)
XNAT_FIELD(xfrm_state, props.reqid)
XNAT_FIELD(xfrm_state, props.family)
XNAT_FIELD(xfrm_state, props.mode)
XNAT_FIELD(xfrm_state, sel)
XNAT_FIELD(xfrm_state, mark)
XNAT_FIELD(xfrm_state, km.state)
XNAT_FIELD_AS(xfrm_state, type, type_)
XNAT_SIZE(sec_path)
XNAT_FIELD(sec_path, len)
XNAT_FIELD(sec_path, xvec)
/* Made or embedded by the module itself. */
XNAT_SIZE(delayed_work)
XNAT_SIZE(work_struct)
XNAT_SIZE(xfrm_policy_walk)
XNAT_SIZE(nf_ct_iter_data)
XNAT_SIZE(nf_hook_state)
XNAT_SIZE(nla_policy)
XNAT_SIZE(genl_split_ops)
#ifdef XNAT_LAYOUT_RUST
]
#endif
