// SPDX-License-Identifier: GPL-2.0
//! The name of a mapping: the IKE child that a daemon keeps it for
//! (strongSwan's `CONNECTION/CHILD`, libreswan's connection).  A daemon
//! finds the mapping again by it when the child comes back under another
//! reqid, so the kernel holds it rather than the daemon.

use core::fmt;

use super::uapi::map_checks::NAME_MAX_LEN;

/// The longest name, in bytes, without the NUL the attribute carries.
pub const MAX_LEN: usize = NAME_MAX_LEN as usize;

/// A mapping's name, kept inline (a mapping is copied whole into every
/// snapshot that holds it: no allocation, no pointer to free).
///
/// The rules are xnatctl's, so that whatever the kernel holds `xnatctl
/// save` writes as one word that `restore` reads back: 1 to [`MAX_LEN`]
/// bytes of UTF-8, no white space or control character, not starting
/// with `#` (a comment in a restore file).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MapName {
    /// The name, then zeroes.
    bytes: [u8; MAX_LEN],
    /// INVARIANT: `1..=MAX_LEN`, and `bytes[..len]` is a name by the
    /// rules above.
    len: u8,
}

/// Why a name attribute's payload is no name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadName;

impl MapName {
    /// The name a `name` attribute's payload carries: the text before its
    /// NUL (the netlink core has checked that one comes within
    /// [`MAX_LEN`] + 1 bytes; a payload without one is taken whole).
    pub fn from_wire(payload: &[u8]) -> Result<Self, BadName> {
        let text = match payload.iter().position(|&b| b == 0) {
            Some(end) => &payload[..end],
            None => payload,
        };
        if text.is_empty() || text.len() > MAX_LEN || text[0] == b'#' {
            return Err(BadName);
        }
        let s = core::str::from_utf8(text).map_err(|_| BadName)?;
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BadName);
        }
        let mut bytes = [0; MAX_LEN];
        bytes[..text.len()].copy_from_slice(text);
        // INVARIANT: checked above: 1..=MAX_LEN bytes of UTF-8 by the rules.
        Ok(Self { bytes, len: text.len() as u8 })
    }

    /// The name's bytes, without a NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        // The invariant makes it UTF-8; the fallback is never taken.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Display for MapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MapName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
