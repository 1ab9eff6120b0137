/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line copies of the static inline functions and macros the Rust
 * side needs.  Each is a one-line wrapper; no logic lives here, but for
 * xnat_tcp_abort_connect()'s check, which must run under the socket lock.
 */
#ifndef XNAT_HELPERS_H
#define XNAT_HELPERS_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/xfrm.h>

struct nf_conn *xnat_nf_ct_get(const struct sk_buff *skb, enum ip_conntrack_info *ctinfo);
bool xnat_ct_has_label(const struct nf_conn *ct, unsigned int bit);
int xnat_ct_set_label(struct nf_conn *ct, unsigned int bit);
bool xnat_ct_is_confirmed(const struct nf_conn *ct);
void xnat_ct_labels_ext_add(struct nf_conn *ct);
struct xfrm_state *xnat_skb_dst_xfrm(const struct sk_buff *skb);
struct sec_path *xnat_skb_sec_path(const struct sk_buff *skb);
struct xfrm_state *xnat_dst_xfrm(const struct dst_entry *dst);
struct dst_entry *xnat_xfrm_dst_child(const struct dst_entry *dst);
int xnat_xfrm_dst_num_pols(const struct dst_entry *dst);
const struct xfrm_policy *xnat_xfrm_dst_policy(const struct dst_entry *dst);
bool xnat_xs_has_security(const struct xfrm_state *x);
bool xnat_xs_offloaded(const struct xfrm_state *x);
u16 xnat_ipcb_flags(const struct sk_buff *skb);
u16 xnat_ip6cb_flags(const struct sk_buff *skb);
int xnat_dev_ifindex(const struct net_device *dev);
const char *xnat_dev_link_kind(const struct net_device *dev);
const void *xnat_netdev_priv(const struct net_device *dev);
bool xnat_xp_has_security(const struct xfrm_policy *xp);
bool xnat_sk_has_out_policy(const struct sock *sk);
struct dst_entry *xnat_skb_dst_hold_safe(const struct sk_buff *skb);
bool xnat_ct_kill(struct nf_conn *ct);
void xnat_ct_set_confirmed(struct nf_conn *ct);
void xnat_nf_conntrack_get(struct nf_conn *ct);
void xnat_nf_ct_put(struct nf_conn *ct);
unsigned long xnat_skb_get_nfct(const struct sk_buff *skb);
void xnat_nf_ct_set(struct sk_buff *skb, struct nf_conn *ct, enum ip_conntrack_info info);
struct dst_entry *xnat_skb_dst_clone(const struct sk_buff *skb);
struct sock *xnat_skb_sk(const struct sk_buff *skb);
int xnat_skb_network_offset(const struct sk_buff *skb);
const void *xnat_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer);
void xnat_sock_hold(struct sock *sk);
void xnat_sock_put(struct sock *sk);
struct net *xnat_sock_net(const struct sock *sk);
bool xnat_sk_fullsock(const struct sock *sk);
/*
 * Fields of struct sock, socket and file go through the C compiler: on a
 * debug (KASAN, lockdep) 7.3 tree, bindgen put sk_callback_lock at 0x3a0
 * where the kernel has it at 0x3e0.
 */
unsigned char xnat_sk_state(const struct sock *sk);
u16 xnat_sk_protocol(const struct sock *sk);
__be16 xnat_inet_sport(const struct sock *sk);
__be16 xnat_inet_dport(const struct sock *sk);
int xnat_tcp_abort_connect(struct sock *sk, u32 isn, int err);
void xnat_sk_callback_read_lock(struct sock *sk);
void xnat_sk_callback_read_unlock(struct sock *sk);
struct socket *xnat_sk_socket(const struct sock *sk);
struct file *xnat_socket_file(const struct socket *sock);
unsigned int xnat_file_flags(const struct file *file);

struct net *xnat_xp_net(const struct xfrm_policy *xp);
struct net *xnat_xs_net(const struct xfrm_state *x);
u32 xnat_acq_expires(const struct net *net);

/* Held packets. */
bool xnat_skb_dst_force(struct sk_buff *skb);
unsigned int xnat_skb_truesize(const struct sk_buff *skb);
void xnat_skb_dst_replace(struct sk_buff *skb, struct dst_entry *dst);
unsigned int xnat_skb_headroom(const struct sk_buff *skb);
unsigned int xnat_skb_dst_hh_len(const struct sk_buff *skb);
struct net_device *xnat_skb_dst_dev(const struct sk_buff *skb);
void xnat_skb_set_dev(struct sk_buff *skb, struct net_device *dev);
void xnat_ipcb_set_flags(struct sk_buff *skb, u16 flags);
void xnat_ip6cb_set_flags(struct sk_buff *skb, u16 flags);
int xnat_dst_output(struct net *net, struct sock *sk, struct sk_buff *skb);
void xnat_local_bh_disable(void);
void xnat_local_bh_enable(void);
u64 xnat_jiffies64(void);

void xnat_spin_lock_bh(spinlock_t *lock);
void xnat_spin_unlock_bh(spinlock_t *lock);
bool xnat_spin_trylock_bh(spinlock_t *lock);
void xnat_spin_assert_held(spinlock_t *lock);

void xnat_rcu_read_lock(void);
void xnat_rcu_read_unlock(void);

void *xnat_net_generic(const struct net *net, unsigned int id);

void xnat_init_work(struct work_struct *work, work_func_t func);
bool xnat_queue_work(struct workqueue_struct *wq, struct work_struct *work);
void xnat_init_delayed_work(struct delayed_work *dwork, work_func_t func);
struct delayed_work *xnat_to_delayed_work(struct work_struct *work);
bool xnat_mod_delayed_work(struct delayed_work *dwork, unsigned long delay);
struct workqueue_struct *xnat_alloc_workqueue(const char *name);

struct sk_buff *xnat_genlmsg_new(size_t payload, gfp_t flags);
void xnat_genlmsg_end(struct sk_buff *skb, void *hdr);
void xnat_genlmsg_cancel(struct sk_buff *skb, void *hdr);
int xnat_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
int xnat_genlmsg_multicast_netns(const struct genl_family *family, struct net *net,
				 struct sk_buff *skb, u32 portid, unsigned int group, gfp_t flags);
void xnat_kfree_skb(struct sk_buff *skb);
struct net *xnat_genl_info_net(const struct genl_info *info);
struct net *xnat_genl_dump_net(struct netlink_callback *cb);
const struct genlmsghdr *xnat_genl_dump_genlhdr(struct netlink_callback *cb);
const struct genl_family *xnat_genl_dump_family(struct netlink_callback *cb);
u32 xnat_genl_dump_portid(const struct netlink_callback *cb);
u32 xnat_genl_dump_seq(const struct netlink_callback *cb);
const struct nlattr *xnat_genl_info_attr(const struct genl_info *info, unsigned int type);
const void *xnat_genl_info_attr_stream(const struct genl_info *info, int *len);
bool xnat_genl_has_listeners(const struct genl_family *family, struct net *net, unsigned int group);

const void *xnat_nla_data(const struct nlattr *nla);
int xnat_nla_len(const struct nlattr *nla);
struct nlattr *xnat_nla_nest_start(struct sk_buff *skb, int type);
void xnat_nla_nest_end(struct sk_buff *skb, struct nlattr *nest);
void xnat_nla_nest_cancel(struct sk_buff *skb, struct nlattr *nest);
int xnat_nla_put_uint(struct sk_buff *skb, int type, u64 value);
void xnat_extack_set_msg(struct netlink_ext_ack *extack, const char *msg);

unsigned int xnat_param_max_mappings(void);
unsigned long xnat_param_max_hold_bytes(void);
unsigned long xnat_param_max_hold_bytes_total(void);

/*
 * Offsets and sizes of what the Rust side reads or writes in place, as the
 * C compiler lays them out, in the order of the list in xnat_layout.h:
 * net/layout.rs compares bindgen's with them when the module loads.
 */
const size_t *xnat_layout(size_t *len);

void xnat_xfrm_pol_put(struct xfrm_policy *xp);
void xnat_xfrm_state_put(struct xfrm_state *x);

#endif
