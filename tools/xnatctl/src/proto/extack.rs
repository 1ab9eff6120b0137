//! The kernel's extended ACK: the message of a refusal.


use netlink_packet_core::{
    NlasIterator,
    NLM_F_ACK_TLVS, NLM_F_CAPPED,
};

use super::codec::string;

/// The extack message (NLMSGERR_ATTR_MSG) of an NLMSG_ERROR, whose payload
/// after the error code is `after_code`, and whose header flags are `flags`.
pub fn error_extack(flags: u16, after_code: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    // The request's header comes back, with its payload unless capped.
    const NLMSG_HDRLEN: usize = 16;
    let skip = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = u32::from_ne_bytes(after_code.get(..4)?.try_into().ok()?) as usize;
        (len + 3) & !3
    };
    extack_msg(after_code.get(skip..)?)
}

/// The NLMSGERR_ATTR_MSG among extack TLVs.
pub fn extack_msg(tlvs: &[u8]) -> Option<String> {
    const NLMSGERR_ATTR_MSG: u16 = 1;
    for nla in NlasIterator::new(tlvs) {
        let nla = nla.ok()?;
        if nla.kind() == NLMSGERR_ATTR_MSG {
            let msg = string(nla.value()).trim().to_string();
            return (!msg.is_empty()).then_some(msg);
        }
    }
    None
}
