// SPDX-License-Identifier: GPL-2.0
//! Reading a stream of netlink attributes (type-length-value, each padded
//! to 4 bytes), e.g. the entries of a nested attribute.
//!
//! The kernel validates a request against the operation's policy before the
//! module sees it, so a malformed stream is not expected; the reader still
//! stops at the first attribute that does not fit instead of trusting it.

/// The flag bits of an attribute's type (`NLA_F_NESTED`,
/// `NLA_F_NET_BYTEORDER`), which are not part of the type.
const TYPE_MASK: u16 = 0x3fff;
const HEADER: usize = 4;

/// The attributes of a stream, in order: `(type, payload)`.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// The attributes in `stream`.
    pub fn new(stream: &'a [u8]) -> Self {
        Self { rest: stream }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let len = usize::from(u16::from_ne_bytes([*self.rest.first()?, *self.rest.get(1)?]));
        let kind = u16::from_ne_bytes([*self.rest.get(2)?, *self.rest.get(3)?]) & TYPE_MASK;
        let payload = self.rest.get(HEADER..len)?;
        // The last attribute may lack its padding.
        let next = len.saturating_add(3) & !3;
        self.rest = self.rest.get(next..).unwrap_or(&[]);
        Some((kind, payload))
    }
}

/// The payload of a u32 attribute (host byte order), if it is 4 bytes.
pub fn u32_of(payload: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(payload.try_into().ok()?))
}

/// The payload of a u16 attribute, if it is 2 bytes.
pub fn u16_of(payload: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(payload.try_into().ok()?))
}

/// The payload of a u8 attribute, if it is 1 byte.
pub fn u8_of(payload: &[u8]) -> Option<u8> {
    match payload {
        [v] => Some(*v),
        _ => None,
    }
}
