// SPDX-License-Identifier: GPL-2.0
//! Policy selectors and the flows they are matched against.
//!
//! Mirrors `xfrm_selector_match()` (not exported), with one difference that
//! is the point of xfrm_nat: the flow's source is not taken from the packet
//! but is the mapping's NAT address, checked once per mapping by
//! [`Selector::admits_source`] rather than per flow.

use super::addr::{Addr, Family};

/// IANA protocol numbers whose "ports" in a selector are ICMP type and code.
pub const IPPROTO_ICMP: u8 = 1;
/// ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// What an xfrm policy selects, as in `struct xfrm_selector`.  Ports and
/// masks are kept in network byte order, like the kernel keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Source prefix.
    pub saddr: Addr,
    /// Everything else.
    pub dest: DestSelector,
}

/// A selector without its source address, which a mapping does not need to
/// keep: the source is the mapping's address, checked against the policy
/// once ([`Selector::admits_source`]), and the source prefix is that
/// address masked to `prefixlen_s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestSelector {
    /// Destination prefix.
    pub daddr: Addr,
    /// Destination port (or ICMP code), network order.
    pub dport: u16,
    /// Mask for `dport`.
    pub dport_mask: u16,
    /// Source port (or ICMP type), network order.
    pub sport: u16,
    /// Mask for `sport`.
    pub sport_mask: u16,
    /// Output interface index, 0 for any.
    pub ifindex: i32,
    /// Length of the destination prefix.
    pub prefixlen_d: u8,
    /// Length of the source prefix.
    pub prefixlen_s: u8,
    /// IP protocol, 0 for any.
    pub proto: u8,
}

/// The parts of a new outgoing flow the decision looks at, as conntrack saw
/// them in the original direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    /// Source address, before translation.
    pub saddr: Addr,
    /// Destination address.
    pub daddr: Addr,
    /// IP protocol.
    pub proto: u8,
    /// Source port, or for ICMP the type, network order (as xfrm sees it).
    pub sport: u16,
    /// Destination port, or for ICMP the code, network order.
    pub dport: u16,
    /// Output interface index.
    pub oif: i32,
}

impl Flow {
    /// Builds a flow from conntrack's original tuple.  `src_port` and
    /// `dst_port` are the tuple's `u.all` fields; for ICMP, xfrm selects on
    /// type and code instead, which conntrack keeps in the destination part.
    pub fn from_tuple(saddr: Addr, daddr: Addr, proto: u8, src_port: u16, dst_port: u16, icmp_type: u8, icmp_code: u8, oif: i32) -> Self {
        let (sport, dport) = match proto {
            IPPROTO_ICMP | IPPROTO_ICMPV6 => (u16::from(icmp_type).to_be(), u16::from(icmp_code).to_be()),
            _ => (src_port, dst_port),
        };
        Self { saddr, daddr, proto, sport, dport, oif }
    }
}

impl Selector {
    /// Whether a packet with source `nat` satisfies the source half of the
    /// selector.  A mapping whose address fails this can never match.
    pub fn admits_source(&self, nat: &Addr) -> bool {
        nat.in_prefix(&self.saddr, self.dest.prefixlen_s)
    }

    /// Whether every flow of a mapping of `nat`/`nat_len` that a policy
    /// of destination selector `policy` carries also matches this selector.
    /// `xfrm_state_find()` passes over an SA whose selector does not match
    /// the flow, so an SA whose selector covers its policy's serves every
    /// flow of the policy, not only the one it was found for.
    pub fn covers_flows_of(&self, policy: &DestSelector, nat: &Addr, nat_len: u8) -> bool {
        let s = &self.dest;
        let within = |outer: &Addr, outer_len: u8, inner: &Addr, inner_len: u8| {
            outer_len <= inner_len && inner.in_prefix(outer, outer_len)
        };
        // Only the bits the policy fixes can be relied on in a flow.
        let ports = |port: u16, mask: u16, inner_port: u16, inner_mask: u16| {
            mask & !inner_mask == 0 && (port ^ inner_port) & mask == 0
        };
        within(&self.saddr, s.prefixlen_s, nat, nat_len)
            && within(&s.daddr, s.prefixlen_d, &policy.daddr, policy.prefixlen_d)
            && ports(s.dport, s.dport_mask, policy.dport, policy.dport_mask)
            && ports(s.sport, s.sport_mask, policy.sport, policy.sport_mask)
            && (s.proto == 0 || s.proto == policy.proto)
            && (s.ifindex == 0 || s.ifindex == policy.ifindex)
    }

    /// Whether the prefix lengths are possible in `family`.
    pub fn is_valid_for(&self, family: Family) -> bool {
        self.dest.prefixlen_d <= family.max_prefix() && self.dest.prefixlen_s <= family.max_prefix()
    }
}

impl DestSelector {
    /// The destination prefix, masked.
    pub fn dest_prefix(&self) -> Addr {
        self.daddr.masked(self.prefixlen_d)
    }

    /// Whether the flow satisfies everything but the source address.
    pub fn matches_flow(&self, flow: &Flow) -> bool {
        flow.daddr.in_prefix(&self.daddr, self.prefixlen_d)
            && (flow.dport ^ self.dport) & self.dport_mask == 0
            && (flow.sport ^ self.sport) & self.sport_mask == 0
            && (self.proto == 0 || self.proto == flow.proto)
            && (self.ifindex == 0 || self.ifindex == flow.oif)
    }
}
