//! The reqids of the kernel's outbound IPsec policies, by selector, from
//! a dump of the SPD (what `ip xfrm policy` lists).
//!
//! strongSwan's `list-policies` reports a trap policy's traffic selectors but
//! not its reqid, which the daemon needs as the mapping's key; charon
//! installed the trap's policies with it, so the SPD has it.

use anyhow::{bail, Context};
use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_sys::{protocols::NETLINK_XFRM, Socket, SocketAddr};

use crate::proto::Prefix;

const XFRM_MSG_GETPOLICY: u16 = 21;
const XFRM_MSG_NEWPOLICY: u16 = 19;
const XFRMA_TMPL: u16 = 5;
const XFRM_POLICY_OUT: u8 = 1;
const NLMSG_HDR_LEN: usize = 16;

/// Layout of struct xfrm_userpolicy_info (uapi linux/xfrm.h): the
/// selector (daddr, saddr, ports, family, prefix lengths) at its start,
/// the direction after the lifetimes, priority and index.
mod policy_info {
    pub const DADDR: usize = 0;
    pub const SADDR: usize = 16;
    pub const FAMILY: usize = 40;
    pub const PREFIXLEN_D: usize = 42;
    pub const PREFIXLEN_S: usize = 43;
    pub const DIR: usize = 160;
    pub const LEN: usize = 168;
}

/// Layout of struct xfrm_user_tmpl: the reqid after the SA id, family
/// and source address; one template per element of XFRMA_TMPL.
mod user_tmpl {
    pub const REQID: usize = 44;
    pub const LEN: usize = 64;
}

/// An outbound policy: its selector's source and destination prefixes and
/// the reqids of its templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutPolicy {
    pub src: Prefix,
    pub dst: Prefix,
    pub reqids: Vec<u32>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn addr_at(b: &[u8], at: usize, family: u16) -> Option<std::net::IpAddr> {
    let raw: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    match family as i32 {
        libc::AF_INET => Some(std::net::Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]).into()),
        libc::AF_INET6 => Some(std::net::Ipv6Addr::from(raw).into()),
        _ => None,
    }
}

/// The outbound policy of the payload of an XFRM_MSG_NEWPOLICY message;
/// None for another direction or family.
pub fn parse_policy(payload: &[u8]) -> Option<OutPolicy> {
    use policy_info::*;
    if *payload.get(DIR)? != XFRM_POLICY_OUT {
        return None;
    }
    let family = u16_at(payload, FAMILY)?;
    let prefix = |addr_at_off, len_off| {
        Some(Prefix {
            addr: addr_at(payload, addr_at_off, family)?,
            len: *payload.get(len_off)?,
        })
    };
    let src = prefix(SADDR, PREFIXLEN_S)?;
    let dst = prefix(DADDR, PREFIXLEN_D)?;
    let mut reqids = Vec::new();
    let mut attrs = payload.get(LEN..)?;
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0)? as usize;
        let kind = u16_at(attrs, 2)? & 0x3fff;
        if len < 4 || len > attrs.len() {
            break;
        }
        if kind == XFRMA_TMPL {
            reqids.extend(
                attrs[4..len]
                    .chunks_exact(user_tmpl::LEN)
                    .filter_map(|t| u32_at(t, user_tmpl::REQID)),
            );
        }
        attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Some(OutPolicy { src, dst, reqids })
}

/// The outbound policies of the SPD of the current network namespace.
pub fn out_policies() -> anyhow::Result<Vec<OutPolicy>> {
    let mut sock = Socket::new(NETLINK_XFRM).context("cannot open an xfrm netlink socket")?;
    sock.bind_auto()
        .context("cannot bind the xfrm netlink socket")?;
    sock.connect(&SocketAddr::new(0, 0))
        .context("cannot connect the xfrm netlink socket")?;
    let mut req = Vec::with_capacity(NLMSG_HDR_LEN);
    req.extend_from_slice(&(NLMSG_HDR_LEN as u32).to_ne_bytes());
    req.extend_from_slice(&XFRM_MSG_GETPOLICY.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    sock.send(&req, 0)
        .context("cannot ask the kernel for its policies")?;
    let mut policies = Vec::new();
    loop {
        let (buf, _) = sock
            .recv_from_full()
            .context("cannot receive the kernel's policies")?;
        let mut rest = buf.as_slice();
        while rest.len() >= NLMSG_HDR_LEN {
            let len = u32_at(rest, 0).unwrap_or(0) as usize;
            let kind = u16_at(rest, 4).unwrap_or(0);
            if len < NLMSG_HDR_LEN || len > rest.len() {
                bail!("bad message in the kernel's policy dump");
            }
            match kind {
                NLMSG_DONE => return Ok(policies),
                NLMSG_ERROR => bail!("the kernel refused to list its policies"),
                XFRM_MSG_NEWPOLICY => {
                    policies.extend(parse_policy(&rest[NLMSG_HDR_LEN..len]));
                }
                _ => {}
            }
            rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        }
    }
}

/// The reqid of the first outbound policy from `src` to `dst` that has
/// one: charon gives a child's policies one reqid.
pub fn reqid_of(policies: &[OutPolicy], src: Prefix, dst: Prefix) -> Option<u32> {
    policies
        .iter()
        .filter(|p| p.src == src && p.dst == dst)
        .flat_map(|p| p.reqids.iter().copied())
        .find(|r| *r != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(dir: u8, reqid: u32) -> Vec<u8> {
        let mut b = vec![0u8; policy_info::LEN];
        b[policy_info::DADDR..policy_info::DADDR + 4].copy_from_slice(&[10, 2, 0, 0]);
        b[policy_info::SADDR..policy_info::SADDR + 4].copy_from_slice(&[10, 1, 0, 0]);
        b[policy_info::FAMILY..policy_info::FAMILY + 2]
            .copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        b[policy_info::PREFIXLEN_D] = 16;
        b[policy_info::PREFIXLEN_S] = 24;
        b[policy_info::DIR] = dir;
        let mut tmpl = vec![0u8; user_tmpl::LEN];
        tmpl[user_tmpl::REQID..user_tmpl::REQID + 4].copy_from_slice(&reqid.to_ne_bytes());
        b.extend_from_slice(&((4 + user_tmpl::LEN) as u16).to_ne_bytes());
        b.extend_from_slice(&XFRMA_TMPL.to_ne_bytes());
        b.extend(tmpl);
        b
    }

    #[test]
    fn reads_an_out_policy_and_its_reqid() {
        let p = parse_policy(&policy(XFRM_POLICY_OUT, 7)).expect("out policy");
        assert_eq!(p.src.addr.to_string(), "10.1.0.0");
        assert_eq!(p.src.len, 24);
        assert_eq!(p.dst.len, 16);
        assert_eq!(p.reqids, [7]);
        assert_eq!(reqid_of(&[p.clone()], p.src, p.dst), Some(7));
        assert_eq!(reqid_of(&[p.clone()], p.dst, p.src), None);
        assert!(parse_policy(&policy(0, 7)).is_none());
        assert!(parse_policy(&[0u8; 10]).is_none());
    }
}
