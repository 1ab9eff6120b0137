//! Resolving the family: its id and multicast groups, from the generic
//! netlink controller.


use netlink_packet_core::{
    DecodeError, DefaultNla,
    NlaBuffer, Parseable, ParseableParametrized, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlHeader, GenlMessage};

use super::codec::{fixed, nlas, string};
use super::*;

/// CTRL_CMD_GETFAMILY for the family `name` (uapi::FAMILY_NAME), to learn
/// its id and multicast groups; without a name, a dump of all families.
pub fn encode_get_family(name: Option<&str>, seq: u32) -> Vec<u8> {
    let genl = GenlMessage::from_payload(GenlCtrl {
        cmd: GenlCtrlCmd::GetFamily,
        nlas: name
            .map(|n| GenlCtrlAttrs::FamilyName(n.to_string()))
            .into_iter()
            .collect(),
    });
    let flags = match name {
        Some(_) => NLM_F_REQUEST | NLM_F_ACK,
        None => NLM_F_REQUEST | NLM_F_DUMP,
    };
    encode(genl, flags, seq)
}

/// A message of the genetlink controller (nlctrl).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtrlMsg {
    pub attrs: Vec<CtrlAttr>,
}

impl ParseableParametrized<[u8], GenlHeader> for CtrlMsg {
    fn parse_with_param(buf: &[u8], _: GenlHeader) -> Result<Self, DecodeError> {
        Ok(CtrlMsg { attrs: nlas(buf)? })
    }
}

/// An attribute of a controller reply, as far as xnatctl reads one; the
/// others, newer ones included, are kept as they came, so that a newer
/// kernel's reply still decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtrlAttr {
    FamilyId(u16),
    FamilyName(String),
    McastGroups(Vec<McastGroup>),
    Other(DefaultNla),
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for CtrlAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        const CTRL_ATTR_FAMILY_ID: u16 = 1;
        const CTRL_ATTR_FAMILY_NAME: u16 = 2;
        const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
        let v = buf.value();
        Ok(match buf.kind() {
            CTRL_ATTR_FAMILY_ID => CtrlAttr::FamilyId(u16::from_ne_bytes(fixed("family-id", v)?)),
            CTRL_ATTR_FAMILY_NAME => CtrlAttr::FamilyName(string(v)),
            CTRL_ATTR_MCAST_GROUPS => CtrlAttr::McastGroups(nlas(v)?),
            _ => CtrlAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// One group of CTRL_ATTR_MCAST_GROUPS (a nest whose type is its index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McastGroup(pub Vec<McastGrpAttr>);

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for McastGroup {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        Ok(McastGroup(nlas(buf.value())?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McastGrpAttr {
    Name(String),
    Id(u32),
    Other(DefaultNla),
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for McastGrpAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
        const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
        let v = buf.value();
        Ok(match buf.kind() {
            CTRL_ATTR_MCAST_GRP_NAME => McastGrpAttr::Name(string(v)),
            CTRL_ATTR_MCAST_GRP_ID => {
                McastGrpAttr::Id(u32::from_ne_bytes(fixed("mcast-grp-id", v)?))
            }
            _ => McastGrpAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// What the controller told about the family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Family {
    pub id: u16,
    /// Multicast groups by name and id (for `monitor`).
    pub mcast_groups: Vec<(String, u32)>,
}

impl Family {
    /// The family a controller reply tells, if it has an id.
    pub fn from_ctrl(attrs: &[CtrlAttr]) -> Option<Family> {
        let mut fam = Family::default();
        for a in attrs {
            match a {
                CtrlAttr::FamilyId(id) => fam.id = *id,
                CtrlAttr::McastGroups(groups) => {
                    for g in groups {
                        let (mut name, mut id) = (None, None);
                        for ga in &g.0 {
                            match ga {
                                McastGrpAttr::Name(n) => name = Some(n.clone()),
                                McastGrpAttr::Id(i) => id = Some(*i),
                                McastGrpAttr::Other(_) => {}
                            }
                        }
                        if let (Some(n), Some(i)) = (name, id) {
                            fam.mcast_groups.push((n, i));
                        }
                    }
                }
                CtrlAttr::FamilyName(_) | CtrlAttr::Other(_) => {}
            }
        }
        (fam.id != 0).then_some(fam)
    }

    /// Id of a multicast group, to subscribe to (uapi::MCGRP_*).
    pub fn mcast_group(&self, name: &str) -> Option<u32> {
        self.mcast_groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }
}
