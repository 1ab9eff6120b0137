//! Messages of the xfrm_nat family, as they are built and sent.


use netlink_packet_core::{
    DecodeError, Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload, ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};

use super::codec::nlas;
use super::*;
use crate::uapi::{self};

/// A message of the xfrm_nat family: command and top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XnatMsg {
    pub cmd: u8,
    pub attrs: Vec<MapAttr>,
}

impl GenlFamily for XnatMsg {
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

impl Emitable for XnatMsg {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for XnatMsg {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(XnatMsg {
            cmd: header.cmd,
            attrs: nlas(buf)?,
        })
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
