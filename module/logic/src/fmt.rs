// SPDX-License-Identifier: GPL-2.0
//! Formatting into a fixed buffer, for netlink extack messages.

use core::fmt;

/// A `fmt::Write` sink over a fixed array that truncates instead of failing.
///
/// The kernel keeps formatted extack messages in an 80-byte buffer; messages
/// are written so that their meaning survives truncation.
pub struct FixedBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// A write was cut: later ones are dropped, so that the text stays a
    /// prefix of what was written.
    full: bool,
}

impl<const N: usize> FixedBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { buf: [0; N], len: 0, full: false }
    }

    /// The text written so far (always valid UTF-8: truncation backs up to a
    /// character boundary).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The text as bytes, without a terminator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.full {
            return Ok(());
        }
        let room = N.saturating_sub(self.len);
        let mut take = s.len().min(room);
        while take > 0 && !s.is_char_boundary(take) {
            take -= 1;
        }
        self.full = take < s.len();
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}
