//! The generic netlink socket: family lookup and request/reply exchanges.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context};
use netlink_packet_core::NLM_F_DUMP_INTR;
use netlink_packet_generic::ctrl::GenlCtrl;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::error::Error;
use crate::proto::{
    encode_get_family, parse_buffer, parse_events, split_messages, Event, Family, Reply, Request,
    XnatMsg,
};

pub struct Conn {
    sock: Socket,
    seq: u32,
    pub family: Family,
}

/// What one request brought back: the family's messages, raw and decoded.
struct Exchange {
    raw: Vec<Vec<u8>>,
    msgs: Vec<XnatMsg>,
    interrupted: bool,
}

impl Conn {
    /// Open a socket and look the xfrm_nat family up.
    pub fn open() -> Result<Conn, Error> {
        let mut conn = Conn::connect()?;
        conn.family = conn.resolve(crate::uapi::FAMILY_NAME)?;
        Ok(conn)
    }

    fn connect() -> Result<Conn, Error> {
        let mut sock =
            Socket::new(NETLINK_GENERIC).context("cannot open a generic netlink socket")?;
        sock.bind_auto().context("cannot bind the netlink socket")?;
        sock.connect(&SocketAddr::new(0, 0))
            .context("cannot connect the netlink socket")?;
        // Error messages from the kernel (extack); older kernels lack these
        // options, which only makes errors terser.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        let seq = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        Ok(Conn {
            sock,
            seq,
            family: Family::default(),
        })
    }

    /// The id and groups of a family, by name; NotLoaded if it is unknown.
    fn resolve(&mut self, name: &str) -> Result<Family, Error> {
        let seq = self.next_seq();
        let ex = match self.exchange(&encode_get_family(Some(name), seq), seq, false) {
            Err(Error::Kernel {
                errno: libc::ENOENT,
                ..
            }) => return Err(Error::NotLoaded),
            r => r?,
        };
        let raw = ex
            .raw
            .first()
            .ok_or_else(|| anyhow!("the genetlink controller sent no family"))?;
        let family = match parse_buffer::<GenlCtrl>(raw) {
            Ok(msgs) => msgs.into_iter().find_map(|(_, r)| match r {
                Reply::Msg(ctrl) => Family::from_ctrl(&ctrl.nlas),
                _ => None,
            }),
            // An attribute newer than netlink-packet-generic: read it raw.
            Err(_) => parse_buffer::<XnatMsg>(raw)
                .context("cannot decode the genetlink controller's reply")?
                .into_iter()
                .find_map(|(_, r)| match r {
                    Reply::Msg(m) => Family::from_raw(&m.attrs),
                    _ => None,
                }),
        };
        Ok(family.ok_or_else(|| anyhow!("the genetlink controller's reply has no family id"))?)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send one request and collect the messages answering it, until its
    /// ACK (or error) or, for a dump, NLMSG_DONE.  A dump may span many
    /// receive buffers.
    fn exchange(&mut self, bytes: &[u8], seq: u32, dump: bool) -> Result<Exchange, Error> {
        self.sock
            .send(bytes, 0)
            .context("cannot send to the kernel")?;
        let mut ex = Exchange {
            raw: Vec::new(),
            msgs: Vec::new(),
            interrupted: false,
        };
        loop {
            let (buf, _) = self
                .sock
                .recv_from_full()
                .context("cannot receive from the kernel")?;
            for raw in split_messages(&buf).context("bad reply from the kernel")? {
                let (header, reply) = parse_buffer::<XnatMsg>(raw)
                    .context("bad reply from the kernel")?
                    .pop()
                    .expect("one message");
                if header.sequence_number != seq {
                    continue; // not ours (e.g. a notification)
                }
                ex.interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
                match reply {
                    Reply::Msg(m) => {
                        ex.raw.push(raw.to_vec());
                        ex.msgs.push(m);
                    }
                    Reply::Ack if !dump => return Ok(ex),
                    Reply::Done if dump => return Ok(ex),
                    Reply::Error { errno, extack } => return Err(Error::Kernel { errno, extack }),
                    Reply::Ack | Reply::Done | Reply::Other => {}
                }
            }
        }
    }

    /// Send a request to the xfrm_nat family; return its reply messages.
    pub fn request(&mut self, req: &Request) -> Result<Vec<XnatMsg>, Error> {
        let seq = self.next_seq();
        let ex = self.exchange(&req.encode(self.family.id, seq), seq, req.is_dump())?;
        if ex.interrupted {
            eprintln!(
                "xnatctl: warning: mappings changed during the listing; it may be inconsistent"
            );
        }
        Ok(ex.msgs)
    }

    /// Join the family's multicast group `name` (uapi::MCGRP_*).
    pub fn subscribe(&mut self, name: &str) -> Result<(), Error> {
        let id = self.family.mcast_group(name).ok_or_else(|| {
            anyhow!(
                "the {} module has no '{name}' multicast group (older than this xnatctl?)",
                crate::uapi::FAMILY_NAME
            )
        })?;
        // Room for bursts (a flush of many mappings); the kernel caps it
        // at net.core.rmem_max, which is fine.
        let _ = self.sock.set_rx_buf_sz(1 << 20);
        self.sock
            .add_membership(id)
            .map_err(|e| match e.raw_os_error() {
                Some(errno) => Error::Kernel {
                    errno,
                    extack: None,
                },
                None => Error::Other(anyhow!(e).context(format!("cannot join group '{name}'"))),
            })
    }

    /// Wait for notifications of the joined groups; return the events of
    /// the next buffer received (possibly none: see parse_events).  Events
    /// lost to a receive buffer overrun are warned about, then the wait
    /// goes on.
    pub fn recv_events(
        &mut self,
    ) -> Result<Vec<Result<Event, netlink_packet_core::DecodeError>>, Error> {
        loop {
            match self.sock.recv_from_full() {
                Ok((buf, _)) => {
                    return Ok(parse_events(&buf, self.family.id)
                        .context("bad notification from the kernel")?)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    eprintln!("xnatctl: warning: events were lost (receive buffer overrun)");
                }
                Err(e) => return Err(anyhow!(e).context("cannot receive from the kernel").into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Talks to the running kernel's genetlink controller (no module
    /// needed): family lookup, NotLoaded, and a multi-part dump.  Every
    /// Linux host has one, so a failure to connect fails the test.
    #[test]
    fn kernel_controller() {
        let mut c = match Conn::connect() {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot open a generic netlink socket on this host: {}",
                e.message(&crate::cli::Command::Flush)
            ),
        };
        let ctrl = c.resolve("nlctrl").unwrap();
        assert_eq!(ctrl.id, 0x10); // GENL_ID_CTRL
        assert!(ctrl.mcast_group("notify").is_some());
        // (Family names are at most 15 bytes, GENL_NAMSIZ - 1.)
        match c.resolve("xnat_nosuch") {
            Err(Error::NotLoaded) => {}
            r => panic!("unknown family: {r:?}"),
        }

        let seq = c.next_seq();
        let ex = c
            .exchange(&encode_get_family(None, seq), seq, true)
            .unwrap();
        let names: Vec<String> = ex
            .raw
            .iter()
            .flat_map(|raw| parse_buffer::<GenlCtrl>(raw).unwrap())
            .filter_map(|(_, r)| match r {
                Reply::Msg(m) => m.nlas.into_iter().find_map(|a| match a {
                    netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs::FamilyName(n) => Some(n),
                    _ => None,
                }),
                _ => None,
            })
            .collect();
        assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
        assert_eq!(names.len(), ex.msgs.len());

        // Joining a group, by the controller's own (no privilege needed).
        c.family = ctrl;
        c.subscribe("notify").unwrap();
        match c.subscribe("nosuch") {
            Err(Error::Other(e)) => assert_eq!(
                e.to_string(),
                "the xfrm_nat module has no 'nosuch' multicast group (older than this xnatctl?)"
            ),
            r => panic!("unknown group: {r:?}"),
        }
    }
}
