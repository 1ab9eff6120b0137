//! Splitting what the socket returns into netlink messages, and each
//! into a reply the request loop understands.


use netlink_packet_core::{
    DecodeError, NetlinkHeader, NetlinkMessage, NetlinkPayload, ParseableParametrized,
    NLM_F_ACK_TLVS,
};
use netlink_packet_generic::{GenlHeader, GenlMessage};

use super::*;

/// One message read from the socket, as far as the request loop cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<F> {
    /// A message of the family (reply, dump part or notification).
    Msg(F),
    /// NLMSG_ERROR with code 0.
    Ack,
    /// NLMSG_ERROR, or NLMSG_DONE of a failed dump: positive errno.
    Error { errno: i32, extack: Option<String> },
    /// NLMSG_DONE of a dump.
    Done,
    /// Anything else (NOOP, OVERRUN).
    Other,
}

/// Split a receive buffer into its netlink messages.
pub fn split_messages(buf: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        if rest.len() < 16 {
            return Err(DecodeError::from("truncated netlink message header"));
        }
        let len = u32::from_ne_bytes(rest[..4].try_into().unwrap()) as usize;
        if len < 16 || len > rest.len() {
            return Err(DecodeError::from(format!(
                "netlink message length {len} does not fit the {} bytes received",
                rest.len()
            )));
        }
        out.push(&rest[..len]);
        off += (len + 3) & !3;
    }
    Ok(out)
}

/// Split a receive buffer into its netlink messages and decode each.
#[cfg(test)]
pub fn parse_buffer<F>(buf: &[u8]) -> Result<Vec<(NetlinkHeader, Reply<F>)>, DecodeError>
where
    F: ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
{
    split_messages(buf)?
        .into_iter()
        .map(parse_message)
        .collect()
}

/// A generic netlink message's header and attributes, undecoded: decoded
/// as `F` by [`parse_message`] itself, as netlink-packet-core would prefix
/// the error of a malformed attribute with words of its own.
#[derive(Debug)]
struct GenlPayload {
    header: GenlHeader,
    attrs: Vec<u8>,
}

impl ParseableParametrized<[u8], GenlHeader> for GenlPayload {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(GenlPayload {
            header,
            attrs: buf.to_vec(),
        })
    }
}

/// Decode one netlink message (one of [`split_messages`]).
pub fn parse_message<F>(raw: &[u8]) -> Result<(NetlinkHeader, Reply<F>), DecodeError>
where
    F: ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
{
    let msg = NetlinkMessage::<GenlMessage<GenlPayload>>::deserialize(raw)?;
    let reply = match msg.payload {
        NetlinkPayload::InnerMessage(genl) => {
            let GenlPayload { header, attrs } = genl.payload;
            Reply::Msg(F::parse_with_param(&attrs, header)?)
        }
        NetlinkPayload::Error(e) => match e.code {
            None => Reply::Ack,
            Some(code) => Reply::Error {
                errno: code.get().abs(),
                extack: error_extack(msg.header.flags, &e.header),
            },
        },
        NetlinkPayload::Done(d) if d.code < 0 => Reply::Error {
            errno: -d.code,
            extack: if msg.header.flags & NLM_F_ACK_TLVS != 0 {
                extack_msg(&d.extended_ack)
            } else {
                None
            },
        },
        NetlinkPayload::Done(_) => Reply::Done,
        _ => Reply::Other,
    };
    Ok((msg.header, reply))
}
