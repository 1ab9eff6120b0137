/* SPDX-License-Identifier: GPL-2.0 */
/* The C API the module binds to; see Kbuild for the allowlist. */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/rcupdate.h>
#include <net/genetlink.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_labels.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/netfilter/nf_nat.h>
#include <net/xfrm.h>
#include <net/tcp.h>
#include "xnat_helpers.h"

/* Macros bindgen cannot see through. */
const gfp_t XNAT_GFP_KERNEL = GFP_KERNEL;
const gfp_t XNAT_GFP_ATOMIC = GFP_ATOMIC;
const u16 XNAT_IPSKB_XFRM_TRANSFORMED = IPSKB_XFRM_TRANSFORMED;
const u16 XNAT_IP6SKB_XFRM_TRANSFORMED = IP6SKB_XFRM_TRANSFORMED;
const size_t XNAT_NLMSG_GOODSIZE = NLMSG_GOODSIZE;
const u8 XNAT_NLA_VALIDATE_RANGE = NLA_VALIDATE_RANGE;
const u8 XNAT_NLA_VALIDATE_MIN = NLA_VALIDATE_MIN;
const u8 XNAT_NLA_VALIDATE_RANGE_PTR = NLA_VALIDATE_RANGE_PTR;
const u16 XNAT_IPSKB_REROUTED = IPSKB_REROUTED;
const u16 XNAT_IP6SKB_REROUTED = IP6SKB_REROUTED;
const unsigned long XNAT_HZ = HZ;
const unsigned int XNAT_O_NONBLOCK = O_NONBLOCK;
const u8 XNAT_NF_CT_DEFAULT_ZONE_DIR = NF_CT_DEFAULT_ZONE_DIR;
const u8 XNAT_NF_CONNTRACK_ZONES = IS_ENABLED(CONFIG_NF_CONNTRACK_ZONES);
