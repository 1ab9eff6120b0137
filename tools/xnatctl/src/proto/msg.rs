//! Messages of the xfrm_nat family, as they are built and sent.


use netlink_packet_core::{
    DecodeError, Emitable, Nla, NlaBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, Parseable,
    ParseableParametrized, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};

use super::codec::nlas;
use super::*;
use crate::uapi::{self};

/// A message of the xfrm_nat family: command and top-level attributes,
/// of the `map` set unless the command's attribute set is another (`A`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XnatMsg<A = MapAttr> {
    pub cmd: u8,
    pub attrs: Vec<A>,
}

impl<A: std::fmt::Debug> GenlFamily for XnatMsg<A> {
    fn family_name() -> &'static str {
        uapi::FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        uapi::FAMILY_VERSION
    }
}

impl<A: Nla> Emitable for XnatMsg<A> {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl<A> ParseableParametrized<[u8], GenlHeader> for XnatMsg<A>
where
    A: for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(XnatMsg {
            cmd: header.cmd,
            attrs: nlas(buf)?,
        })
    }
}

impl XnatMsg<ExplainAttr> {
    /// The whole netlink message of an explain request of `attrs`.
    pub fn encode_explain(attrs: Vec<ExplainAttr>, family_id: u16, seq: u32) -> Vec<u8> {
        let mut genl = GenlMessage::from_payload(XnatMsg { cmd: uapi::cmd::EXPLAIN, attrs });
        genl.set_resolved_family_id(family_id);
        encode(genl, NLM_F_REQUEST | NLM_F_ACK, seq)
    }
}

pub(super) fn encode<F>(genl: GenlMessage<F>, flags: u16, seq: u32) -> Vec<u8>
where
    F: GenlFamily + Emitable + std::fmt::Debug,
{
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}
