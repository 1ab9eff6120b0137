// SPDX-License-Identifier: GPL-2.0
//! Address families and addresses in the kernel's `xfrm_address_t` layout.

/// `AF_INET` from the socket ABI.
pub const AF_INET: u16 = 2;
/// `AF_INET6` from the socket ABI.
pub const AF_INET6: u16 = 10;

/// The address family of a mapping, a policy or a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an `AF_*` value, if it is one xfrm_nat handles.
    pub fn from_af(af: u16) -> Option<Self> {
        match af {
            AF_INET => Some(Self::V4),
            AF_INET6 => Some(Self::V6),
            _ => None,
        }
    }

    /// The `AF_*` value.
    pub fn af(self) -> u16 {
        match self {
            Self::V4 => AF_INET,
            Self::V6 => AF_INET6,
        }
    }

    /// Bytes in an address of this family.
    pub fn addr_len(self) -> usize {
        match self {
            Self::V4 => 4,
            Self::V6 => 16,
        }
    }

    /// The longest prefix of this family.
    pub fn max_prefix(self) -> u8 {
        match self {
            Self::V4 => 32,
            Self::V6 => 128,
        }
    }

    /// The name users know, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}

/// An address in network byte order, laid out like `xfrm_address_t` and
/// `nf_inet_addr`: IPv4 in the first four bytes, the rest zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    /// The address from the four 32-bit words of a C address union
    /// (`nf_inet_addr`, `xfrm_address_t`), in memory order.
    pub fn from_ne_words(w: [u32; 4]) -> Self {
        let b = w.map(u32::to_ne_bytes);
        Self([
            b[0][0], b[0][1], b[0][2], b[0][3], b[1][0], b[1][1], b[1][2], b[1][3], //
            b[2][0], b[2][1], b[2][2], b[2][3], b[3][0], b[3][1], b[3][2], b[3][3],
        ])
    }

    /// The four 32-bit words of a C address union, in memory order.
    pub fn ne_words(&self) -> [u32; 4] {
        let a = &self.0;
        [
            u32::from_ne_bytes([a[0], a[1], a[2], a[3]]),
            u32::from_ne_bytes([a[4], a[5], a[6], a[7]]),
            u32::from_ne_bytes([a[8], a[9], a[10], a[11]]),
            u32::from_ne_bytes([a[12], a[13], a[14], a[15]]),
        ]
    }

    /// An IPv4 address from its four bytes in network order.
    pub fn v4(octets: [u8; 4]) -> Self {
        let mut a = [0; 16];
        a[..4].copy_from_slice(&octets);
        Self(a)
    }

    /// Parses 4 or 16 bytes of a netlink attribute, telling the family
    /// from the length.
    pub fn from_wire(bytes: &[u8]) -> Option<(Family, Self)> {
        let family = match bytes.len() {
            4 => Family::V4,
            16 => Family::V6,
            _ => return None,
        };
        let mut a = [0; 16];
        a[..bytes.len()].copy_from_slice(bytes);
        Some((family, Self(a)))
    }

    /// The significant bytes for `family`.
    pub fn bytes(&self, family: Family) -> &[u8] {
        &self.0[..family.addr_len()]
    }

    /// The address with all bits after the first `prefix_len` cleared.
    pub fn masked(&self, prefix_len: u8) -> Self {
        Self((self.bits() & prefix_mask(prefix_len)).to_be_bytes())
    }

    /// The first `prefix_len` bits of `self` followed by the rest of
    /// `host`: how a 1:1 prefix mapping translates a source.
    pub fn splice(&self, prefix_len: u8, host: &Addr) -> Self {
        let mask = prefix_mask(prefix_len);
        Self(((self.bits() & mask) | (host.bits() & !mask)).to_be_bytes())
    }

    /// Whether the first `prefix_len` bits equal those of `prefix`.
    pub fn in_prefix(&self, prefix: &Addr, prefix_len: u8) -> bool {
        (self.bits() ^ prefix.bits()) & prefix_mask(prefix_len) == 0
    }

    /// The address as one number, its first bit the most significant: the
    /// packet path masks and compares addresses per new flow, and this
    /// makes that a few register operations instead of a byte loop.
    fn bits(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

/// The first `prefix_len` bits set (all 128 from 128 on).
fn prefix_mask(prefix_len: u8) -> u128 {
    u128::MAX.checked_shl(128u32.saturating_sub(u32::from(prefix_len))).unwrap_or(0)
}

/// Writes an address the way `ip` prints it.
pub struct Display<'a>(pub Family, pub &'a Addr);

impl core::fmt::Display for Display<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let a = &self.1 .0;
        match self.0 {
            Family::V4 => write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
            Family::V6 => {
                // RFC 5952: the longest run (>= 2) of zero groups becomes "::".
                let g = |i: usize| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
                let (mut best, mut best_len, mut i) = (8, 0, 0);
                while i < 8 {
                    let start = i;
                    while i < 8 && g(i) == 0 {
                        i += 1;
                    }
                    if i - start > best_len && i - start >= 2 {
                        best = start;
                        best_len = i - start;
                    }
                    i += 1;
                }
                let mut i = 0;
                while i < 8 {
                    if i == best {
                        f.write_str("::")?;
                        i += best_len;
                        continue;
                    }
                    if i != 0 && i != best + best_len {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", g(i))?;
                    i += 1;
                }
                Ok(())
            }
        }
    }
}
