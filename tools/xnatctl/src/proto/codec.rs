//! The encoding of attribute values, which the generated codecs
//! ([`super::attrs`]) call: integers of the spec's width, addresses,
//! strings, nests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, NlasIterator, Parseable,
};

pub const AF_INET: u16 = libc::AF_INET as u16;
pub const AF_INET6: u16 = libc::AF_INET6 as u16;

/// Decodes a run of attributes into `T`, one per attribute, in order.
pub fn nlas<T>(buf: &[u8]) -> Result<Vec<T>, DecodeError>
where
    T: for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    NlasIterator::new(buf)
        .map(|nla| nla.and_then(|nla| T::parse(&nla)))
        .collect()
}

/// The payload of a nest of `attrs`.
pub fn nest_value<T: Nla>(attrs: &[T]) -> Vec<u8> {
    let mut value = vec![0u8; attrs.buffer_len()];
    attrs.emit(&mut value);
    value
}

/// The payload of an attribute kept as it came.
pub fn other_payload(nla: &DefaultNla) -> Vec<u8> {
    let mut v = vec![0; nla.value_len()];
    nla.emit_value(&mut v);
    v
}

/// Implements `Nla` for an attribute enum from its `kind_bits` (the type,
/// with NLA_F_NESTED where it nests) and its `payload`.
macro_rules! nla_by_payload {
    ($t:ty) => {
        impl netlink_packet_core::Nla for $t {
            fn value_len(&self) -> usize {
                self.payload().len()
            }
            fn kind(&self) -> u16 {
                self.kind_bits()
            }
            fn emit_value(&self, buffer: &mut [u8]) {
                buffer.copy_from_slice(&self.payload());
            }
        }
    };
}
pub(crate) use nla_by_payload;

fn bad(what: &str, len: usize) -> DecodeError {
    DecodeError::from(format!("attribute {what} has unexpected length {len}"))
}

pub fn fixed<const N: usize>(what: &str, v: &[u8]) -> Result<[u8; N], DecodeError> {
    v.try_into().map_err(|_| bad(what, v.len()))
}

/// ynl `uint`: 4 or 8 bytes, host order.
pub fn uint(what: &str, v: &[u8]) -> Result<u64, DecodeError> {
    match v.len() {
        4 => Ok(u32::from_ne_bytes(fixed(what, v)?) as u64),
        8 => Ok(u64::from_ne_bytes(fixed(what, v)?)),
        n => Err(bad(what, n)),
    }
}

/// An address: 4 or 16 bytes, network order.
pub fn ip(what: &str, v: &[u8]) -> Result<IpAddr, DecodeError> {
    match v.len() {
        4 => Ok(IpAddr::V4(Ipv4Addr::from(fixed::<4>(what, v)?))),
        16 => Ok(IpAddr::V6(Ipv6Addr::from(fixed::<16>(what, v)?))),
        n => Err(bad(what, n)),
    }
}

pub fn ip_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A NUL-terminated string attribute; the kernel's text, so invalid UTF-8
/// is shown rather than refused.
pub fn string(v: &[u8]) -> String {
    let v = v.split(|b| *b == 0).next().unwrap_or(v);
    String::from_utf8_lossy(v).into_owned()
}
