// SPDX-License-Identifier: GPL-2.0
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/netns/generic.h>
#include <net/dst.h>
#include <net/tcp.h>
#include <net/netfilter/nf_conntrack_ecache.h>
#include <net/netfilter/nf_conntrack_labels.h>
#include <net/netfilter/nf_nat.h>
#include "xnat_helpers.h"
#include "xnat_uapi.h"

/* Without labels the module cannot mark the NAT bindings it makes, and its
 * fail-closed guarantee for them would not hold (Documentation/xfrm_nat.rst).
 */
#ifndef CONFIG_NF_CONNTRACK_LABELS
#error "xfrm_nat needs CONFIG_NF_CONNTRACK_LABELS=y"
#endif

struct nf_conn *xnat_nf_ct_get(const struct sk_buff *skb, enum ip_conntrack_info *ctinfo)
{
	return nf_ct_get(skb, ctinfo);
}

bool xnat_ct_has_label(const struct nf_conn *ct, unsigned int bit)
{
	struct nf_conn_labels *labels = nf_ct_labels_find(ct);

	return labels && test_bit(bit, labels->bits);
}

int xnat_ct_set_label(struct nf_conn *ct, unsigned int bit)
{
	struct nf_conn_labels *labels = nf_ct_labels_find(ct);

	if (!labels)
		return -ENOSPC;
	if (!test_and_set_bit(bit, labels->bits))
		nf_conntrack_event_cache(IPCT_LABEL, ct);
	return 0;
}

bool xnat_ct_is_confirmed(const struct nf_conn *ct)
{
	return nf_ct_is_confirmed(ct);
}

/* nf_ct_labels_ext_add() without its test of labels_used, which
 * nf_connlabels_get() would set for the whole namespace.  An entry that has
 * labels keeps them; xnat_ct_set_label() tells whether there are any. */
void xnat_ct_labels_ext_add(struct nf_conn *ct)
{
	nf_ct_ext_add(ct, NF_CT_EXT_LABELS, GFP_ATOMIC);
}

struct xfrm_state *xnat_skb_dst_xfrm(const struct sk_buff *skb)
{
	return skb_dst(skb) ? skb_dst(skb)->xfrm : NULL;
}

struct sec_path *xnat_skb_sec_path(const struct sk_buff *skb)
{
	return skb_sec_path(skb);
}

struct xfrm_state *xnat_dst_xfrm(const struct dst_entry *dst)
{
	return dst->xfrm;
}

struct dst_entry *xnat_xfrm_dst_child(const struct dst_entry *dst)
{
	return xfrm_dst_child(dst);
}

/*
 * Only the routes of a bundle, which have an SA (dst->xfrm), are struct
 * xfrm_dst, and callers pass only those, as the kernel's own users do; the
 * test keeps any other route from being read as one (0, NULL).
 */
int xnat_xfrm_dst_num_pols(const struct dst_entry *dst)
{
	return dst->xfrm ? ((const struct xfrm_dst *)dst)->num_pols : 0;
}

const struct xfrm_policy *xnat_xfrm_dst_policy(const struct dst_entry *dst)
{
	return dst->xfrm ? ((const struct xfrm_dst *)dst)->pols[0] : NULL;
}

bool xnat_xs_has_security(const struct xfrm_state *x)
{
#ifdef CONFIG_SECURITY_NETWORK_XFRM
	return x->security;
#else
	return false;
#endif
}

bool xnat_xs_offloaded(const struct xfrm_state *x)
{
#ifdef CONFIG_XFRM_OFFLOAD
	return READ_ONCE(x->xso.dev);
#else
	return false;
#endif
}

u16 xnat_ipcb_flags(const struct sk_buff *skb)
{
	return IPCB(skb)->flags;
}

u16 xnat_ip6cb_flags(const struct sk_buff *skb)
{
	return IP6CB(skb)->flags;
}

int xnat_dev_ifindex(const struct net_device *dev)
{
	return dev ? dev->ifindex : 0;
}

const char *xnat_dev_link_kind(const struct net_device *dev)
{
	return dev && dev->rtnl_link_ops ? dev->rtnl_link_ops->kind : NULL;
}

const void *xnat_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

bool xnat_xp_has_security(const struct xfrm_policy *xp)
{
#ifdef CONFIG_SECURITY_NETWORK_XFRM
	return xp->security;
#else
	return false;
#endif
}

/* What xfrm_lookup_with_ifid() tests before it looks in the SPD. */
bool xnat_sk_has_out_policy(const struct sock *sk)
{
	sk = sk_const_to_full_sk(sk);
	return sk && sk_fullsock(sk) && rcu_access_pointer(sk->sk_policy[XFRM_POLICY_OUT]);
}

/* A reference to the skb's route, or NULL if it is being freed: a route
 * held without a reference (a socket's or a forwarded packet's) may be,
 * as nf_xfrm_me_harder() knows.  Called under rcu_read_lock(). */
struct dst_entry *xnat_skb_dst_hold_safe(const struct sk_buff *skb)
{
	struct dst_entry *dst = skb_dst(skb);

	return dst && dst_hold_safe(dst) ? dst : NULL;
}

bool xnat_ct_kill(struct nf_conn *ct)
{
	return nf_ct_kill(ct);
}

void xnat_ct_set_confirmed(struct nf_conn *ct)
{
	__set_bit(IPS_CONFIRMED_BIT, &ct->status);
}

void xnat_nf_conntrack_get(struct nf_conn *ct)
{
	nf_conntrack_get(&ct->ct_general);
}

void xnat_nf_ct_put(struct nf_conn *ct)
{
	nf_ct_put(ct);
}

unsigned long xnat_skb_get_nfct(const struct sk_buff *skb)
{
	return skb_get_nfct(skb);
}

void xnat_nf_ct_set(struct sk_buff *skb, struct nf_conn *ct, enum ip_conntrack_info info)
{
	nf_ct_set(skb, ct, info);
}

struct net *xnat_xp_net(const struct xfrm_policy *xp)
{
	return xp_net(xp);
}

struct net *xnat_xs_net(const struct xfrm_state *x)
{
	return xs_net((struct xfrm_state *)x);
}

u32 xnat_acq_expires(const struct net *net)
{
	return READ_ONCE(net->xfrm.sysctl_acq_expires);
}

bool xnat_skb_dst_force(struct sk_buff *skb)
{
	return skb_dst_force(skb);
}

unsigned int xnat_skb_truesize(const struct sk_buff *skb)
{
	return skb->truesize;
}

void xnat_skb_dst_replace(struct sk_buff *skb, struct dst_entry *dst)
{
	skb_dst_drop(skb);
	skb_dst_set(skb, dst);
}

unsigned int xnat_skb_headroom(const struct sk_buff *skb)
{
	return skb_headroom(skb);
}

/* 0 without a route or device: no link-layer header to make room for. */
unsigned int xnat_skb_dst_hh_len(const struct sk_buff *skb)
{
	const struct dst_entry *dst = skb_dst(skb);

	return dst && dst->dev ? dst->dev->hard_header_len : 0;
}

struct net_device *xnat_skb_dst_dev(const struct sk_buff *skb)
{
	return skb_dst(skb) ? skb_dst(skb)->dev : NULL;
}

void xnat_skb_set_dev(struct sk_buff *skb, struct net_device *dev)
{
	skb->dev = dev;
}

void xnat_ipcb_set_flags(struct sk_buff *skb, u16 flags)
{
	IPCB(skb)->flags |= flags;
}

void xnat_ip6cb_set_flags(struct sk_buff *skb, u16 flags)
{
	IP6CB(skb)->flags |= flags;
}

int xnat_dst_output(struct net *net, struct sock *sk, struct sk_buff *skb)
{
	return dst_output(net, sk, skb);
}

void xnat_local_bh_disable(void)
{
	local_bh_disable();
}

void xnat_local_bh_enable(void)
{
	local_bh_enable();
}

u64 xnat_jiffies64(void)
{
	return get_jiffies_64();
}

void xnat_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

void xnat_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

bool xnat_spin_trylock_bh(spinlock_t *lock)
{
	return spin_trylock_bh(lock);
}

void xnat_spin_assert_held(spinlock_t *lock)
{
	lockdep_assert_held(lock);
}

struct dst_entry *xnat_skb_dst_clone(const struct sk_buff *skb)
{
	return dst_clone(skb_dst(skb));
}

struct sock *xnat_skb_sk(const struct sk_buff *skb)
{
	return skb->sk;
}

int xnat_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

const void *xnat_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

void xnat_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

void xnat_sock_put(struct sock *sk)
{
	sock_put(sk);
}

struct net *xnat_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

bool xnat_sk_fullsock(const struct sock *sk)
{
	return sk_fullsock(sk);
}

unsigned char xnat_sk_state(const struct sock *sk)
{
	return READ_ONCE(sk->sk_state);
}

u16 xnat_sk_protocol(const struct sock *sk)
{
	return sk->sk_protocol;
}

__be16 xnat_inet_sport(const struct sock *sk)
{
	return inet_sk(sk)->inet_sport;
}

__be16 xnat_inet_dport(const struct sock *sk)
{
	return inet_sk(sk)->inet_dport;
}

/*
 * tcp_abort() for one connect attempt: only while @sk is still in SYN-SENT
 * with @isn as its initial sequence number (snd_una until the SYN is
 * acknowledged; a new attempt on the socket starts from another), checked
 * under the socket lock, so that a later attempt or a connection that got
 * through is left alone.  tcp_abort() takes that lock itself (lock_sock()
 * does not nest) and is all 7.x exports of it (not tcp_done*()), so the
 * check and the abort take it in turn: a SYN-ACK to a retransmitted SYN in
 * between, a window of microseconds, would still see its connection
 * aborted.  Process context.
 */
int xnat_tcp_abort_connect(struct sock *sk, u32 isn, int err)
{
	bool same;

	lock_sock(sk);
	same = sk->sk_state == TCP_SYN_SENT && tcp_sk(sk)->snd_una == isn;
	release_sock(sk);
	return same ? tcp_abort(sk, err) : -ESRCH;
}

void xnat_sk_callback_read_lock(struct sock *sk)
{
	read_lock_bh(&sk->sk_callback_lock);
}

void xnat_sk_callback_read_unlock(struct sock *sk)
{
	read_unlock_bh(&sk->sk_callback_lock);
}

struct socket *xnat_sk_socket(const struct sock *sk)
{
	return sk->sk_socket;
}

struct file *xnat_socket_file(const struct socket *sock)
{
	return sock->file;
}

unsigned int xnat_file_flags(const struct file *file)
{
	return READ_ONCE(file->f_flags);
}

void xnat_rcu_read_lock(void)
{
	rcu_read_lock();
}

void xnat_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void *xnat_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

void xnat_init_work(struct work_struct *work, work_func_t func)
{
	INIT_WORK(work, func);
}

void xnat_init_delayed_work(struct delayed_work *dwork, work_func_t func)
{
	INIT_DELAYED_WORK(dwork, func);
}

struct delayed_work *xnat_to_delayed_work(struct work_struct *work)
{
	return to_delayed_work(work);
}

/*
 * 7.x renamed system_wq to system_percpu_wq (the same per-CPU queue) and
 * warns once about work queued on the old name; Kbuild probes for it.
 */
#ifdef XNAT_HAVE_SYSTEM_PERCPU_WQ
#define XNAT_SYSTEM_WQ system_percpu_wq
#else
#define XNAT_SYSTEM_WQ system_wq
#endif

bool xnat_mod_delayed_work(struct delayed_work *dwork, unsigned long delay)
{
	return mod_delayed_work(XNAT_SYSTEM_WQ, dwork, delay);
}

/*
 * A workqueue of the kind 6.12's flags 0 gave: per-CPU.  7.x asks for the
 * kind explicitly (WQ_PERCPU or WQ_UNBOUND) and warns when neither is given;
 * Kbuild probes for WQ_PERCPU.
 */
struct workqueue_struct *xnat_alloc_workqueue(const char *name)
{
#ifdef XNAT_HAVE_WQ_PERCPU
	return alloc_workqueue("%s", WQ_PERCPU, 0, name);
#else
	return alloc_workqueue("%s", 0, 0, name);
#endif
}

bool xnat_queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	return queue_work(wq, work);
}

struct sk_buff *xnat_genlmsg_new(size_t payload, gfp_t flags)
{
	return genlmsg_new(payload, flags);
}

void xnat_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void xnat_genlmsg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int xnat_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

int xnat_genlmsg_multicast_netns(const struct genl_family *family, struct net *net,
				 struct sk_buff *skb, u32 portid, unsigned int group, gfp_t flags)
{
	return genlmsg_multicast_netns(family, net, skb, portid, group, flags);
}

void xnat_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

struct net *xnat_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

struct net *xnat_genl_dump_net(struct netlink_callback *cb)
{
	return genl_info_net(genl_info_dump(cb));
}

const struct genlmsghdr *xnat_genl_dump_genlhdr(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->genlhdr;
}

const struct genl_family *xnat_genl_dump_family(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->family;
}

u32 xnat_genl_dump_portid(const struct netlink_callback *cb)
{
	return NETLINK_CB(cb->skb).portid;
}

u32 xnat_genl_dump_seq(const struct netlink_callback *cb)
{
	return cb->nlh->nlmsg_seq;
}

const struct nlattr *xnat_genl_info_attr(const struct genl_info *info, unsigned int type)
{
	return info->attrs ? info->attrs[type] : NULL;
}

const void *xnat_genl_info_attr_stream(const struct genl_info *info, int *len)
{
	*len = genlmsg_len(info->genlhdr) - info->family->hdrsize;
	return genlmsg_data(info->genlhdr) + info->family->hdrsize;
}

bool xnat_genl_has_listeners(const struct genl_family *family, struct net *net, unsigned int group)
{
	return genl_has_listeners(family, net, group);
}

const void *xnat_nla_data(const struct nlattr *nla)
{
	return nla_data(nla);
}

int xnat_nla_len(const struct nlattr *nla)
{
	return nla_len(nla);
}

struct nlattr *xnat_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void xnat_nla_nest_end(struct sk_buff *skb, struct nlattr *nest)
{
	nla_nest_end(skb, nest);
}

void xnat_nla_nest_cancel(struct sk_buff *skb, struct nlattr *nest)
{
	nla_nest_cancel(skb, nest);
}

int xnat_nla_put_uint(struct sk_buff *skb, int type, u64 value)
{
	return nla_put_uint(skb, type, value);
}

void xnat_extack_set_msg(struct netlink_ext_ack *extack, const char *msg)
{
	NL_SET_ERR_MSG_FMT(extack, "%s", msg);
}

/*
 * Per-namespace limits, writable by root at any time (module/net/param.rs
 * reads them).  The defaults are the spec's, as NetLimits::DEFAULT of
 * module/logic (xnat_uapi.h is generated from the spec).
 */
static unsigned int max_mappings = XNAT_MAX_MAPPINGS;
module_param(max_mappings, uint, 0644);
MODULE_PARM_DESC(max_mappings, "Mappings per network namespace (at most 65536)");

static unsigned long max_hold_bytes = XNAT_MAX_HOLD_BYTES_DEFAULT;
module_param(max_hold_bytes, ulong, 0644);
MODULE_PARM_DESC(max_hold_bytes, "Bytes the hold queues of one network namespace may reserve");

/*
 * Held packets of forwarded flows belong to no socket and no memory cgroup:
 * without a bound for all namespaces together, each user namespace could
 * pin max_hold_bytes per network namespace it creates.
 */
static unsigned long max_hold_bytes_total = XNAT_MAX_HOLD_BYTES_TOTAL_DEFAULT;
module_param(max_hold_bytes_total, ulong, 0644);
MODULE_PARM_DESC(max_hold_bytes_total, "Bytes the hold queues of all network namespaces together may reserve");

unsigned long xnat_param_max_hold_bytes_total(void)
{
	return READ_ONCE(max_hold_bytes_total);
}

unsigned int xnat_param_max_mappings(void)
{
	return READ_ONCE(max_mappings);
}

unsigned long xnat_param_max_hold_bytes(void)
{
	return READ_ONCE(max_hold_bytes);
}

#define XNAT_SIZE(s) sizeof(struct s),
#define XNAT_FIELD(s, f) offsetof(struct s, f),
#define XNAT_FIELD_AS(s, f, rust_f) offsetof(struct s, f),
static const size_t xnat_layout_table[] = {
#include "xnat_layout.h"
};
#undef XNAT_SIZE
#undef XNAT_FIELD
#undef XNAT_FIELD_AS

const size_t *xnat_layout(size_t *len)
{
	*len = ARRAY_SIZE(xnat_layout_table);
	return xnat_layout_table;
}

void xnat_xfrm_pol_put(struct xfrm_policy *xp)
{
	xfrm_pol_put(xp);
}

void xnat_xfrm_state_put(struct xfrm_state *x)
{
	xfrm_state_put(x);
}
