//! The generic netlink socket: family lookup and request/reply exchanges.

use std::os::fd::AsRawFd;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context};
use netlink_packet_core::{NetlinkHeader, ParseableParametrized, NLM_F_DUMP_INTR};
use netlink_packet_generic::GenlHeader;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::error::Error;
use crate::proto::{
    encode_get_family, parse_events, parse_message, split_messages, CtrlMsg, Event, Family, Reply,
    Request, XnatMsg,
};

pub struct Conn {
    sock: Socket,
    seq: u32,
    pub family: Family,
}

/// What one request brought back: the messages of the family asked,
/// decoded.
struct Exchange<F> {
    msgs: Vec<F>,
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
        // Error messages from the kernel (extack), and errors that do not
        // echo the request (NLM_F_CAPPED: a map-set is megabytes, which an
        // uncapped error would send back); older kernels lack these
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
        let ex = match self.exchange::<CtrlMsg>(&encode_get_family(Some(name), seq), seq, false) {
            Err(Error::Kernel {
                errno: libc::ENOENT,
                ..
            }) => return Err(Error::NotLoaded),
            r => r?,
        };
        let msg = ex
            .msgs
            .first()
            .ok_or_else(|| anyhow!("the genetlink controller sent no family"))?;
        Ok(Family::from_ctrl(&msg.attrs)
            .ok_or_else(|| anyhow!("the genetlink controller's reply has no family id"))?)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send one request and collect the messages answering it, until its
    /// ACK (or error) or, for a dump, NLMSG_DONE.  A dump may span many
    /// receive buffers.
    fn exchange<F>(&mut self, bytes: &[u8], seq: u32, dump: bool) -> Result<Exchange<F>, Error>
    where
        F: ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
    {
        self.sock
            .send(bytes, 0)
            .context("cannot send to the kernel")?;
        let mut ex = Exchange {
            msgs: Vec::new(),
            interrupted: false,
        };
        loop {
            for (header, reply) in self.recv_replies::<F>()? {
                if header.sequence_number != seq {
                    continue; // not ours (e.g. a notification)
                }
                ex.interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
                match reply {
                    Reply::Msg(m) => ex.msgs.push(m),
                    Reply::Ack if !dump => return Ok(ex),
                    Reply::Done if dump => return Ok(ex),
                    Reply::Error { errno, extack } => return Err(Error::Kernel { errno, extack }),
                    Reply::Ack | Reply::Done | Reply::Other => {}
                }
            }
        }
    }

    /// The messages of the next datagram, decoded.
    fn recv_replies<F>(&self) -> Result<Vec<(NetlinkHeader, Reply<F>)>, Error>
    where
        F: ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
    {
        let buf = self
            .recv_datagram()
            .context("cannot receive from the kernel")?;
        let mut replies = Vec::new();
        for raw in split_messages(&buf).context("bad reply from the kernel")? {
            replies.push(parse_message::<F>(raw).context("bad reply from the kernel")?);
        }
        Ok(replies)
    }

    /// Receive one datagram.  The buffer is larger than any the kernel
    /// sends here (dump messages are at most 32 KiB; errors do not echo the
    /// request, see `connect`), and its size matters: the kernel sizes the
    /// messages of a dump by the largest receive so far, so a dump of
    /// 10,000 mappings comes in about 100 messages instead of 800 of 4 KiB,
    /// each a round trip.
    fn recv_datagram(&self) -> std::io::Result<Vec<u8>> {
        const ROOM: usize = 64 * 1024;
        let mut buf = Vec::with_capacity(ROOM);
        // MSG_TRUNC: the datagram's whole length, even if it did not fit.
        let len = self.sock.recv(&mut buf, libc::MSG_TRUNC)?;
        if len > buf.len() {
            return Err(std::io::Error::other(format!(
                "a reply of {len} bytes did not fit the receive buffer of {ROOM}"
            )));
        }
        Ok(buf)
    }

    /// The socket's send buffer (SO_SNDBUF, as the kernel counts it).
    fn sndbuf(&self) -> Option<usize> {
        let mut val: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: val and len are valid for writing an int and its size.
        let r = unsafe {
            libc::getsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&mut val as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(val.max(0) as usize)
    }

    fn set_sockopt_int(&self, opt: libc::c_int, val: libc::c_int) -> bool {
        // SAFETY: val is an int, as SO_SNDBUF and SO_SNDBUFFORCE take.
        let r = unsafe {
            libc::setsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&val as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        r == 0
    }

    /// Make the send buffer take a message of `len` bytes: netlink refuses
    /// a larger one (EMSGSIZE) rather than fragment it, and a full
    /// map-set of 65536 mappings is 1-3 MB.  SO_SNDBUFFORCE goes past
    /// net.core.wmem_max (root in the initial user namespace); SO_SNDBUF
    /// is capped by it.  Err: the buffer is still too small; its size.
    fn make_room(&self, len: usize) -> Result<(), usize> {
        let Some(have) = self.sndbuf() else {
            return Ok(()); // unknown: let the send tell
        };
        if fits_sndbuf(len, have) {
            return Ok(());
        }
        // The kernel doubles the value asked for (for its bookkeeping).
        let want = (len + NETLINK_SNDBUF_OVERHEAD + 4096).min(i32::MAX as usize / 2) as libc::c_int;
        if !self.set_sockopt_int(libc::SO_SNDBUFFORCE, want) {
            self.set_sockopt_int(libc::SO_SNDBUF, want);
        }
        match self.sndbuf() {
            Some(have) if !fits_sndbuf(len, have) => Err(have),
            _ => Ok(()),
        }
    }

    /// Send a request to the xfrm_nat family; return its reply messages.
    pub fn request(&mut self, req: &Request) -> Result<Vec<XnatMsg>, Error> {
        let seq = self.next_seq();
        let bytes = req.encode(self.family.id, seq);
        let too_big = |sndbuf| Error::from(anyhow!(too_big_message(req, bytes.len(), sndbuf)));
        self.make_room(bytes.len()).map_err(too_big)?;
        let ex = match self.exchange(&bytes, seq, req.is_dump()) {
            Err(Error::Other(e)) if os_error(&e) == Some(libc::EMSGSIZE) => {
                return Err(too_big(self.sndbuf().unwrap_or(0)))
            }
            r => r?,
        };
        if ex.interrupted {
            eprintln!(
                "xnatctl: warning: mappings changed during the listing; it may be inconsistent"
            );
        }
        Ok(ex.msgs)
    }

    /// Send `reqs` (requests answered by an acknowledgement only), many
    /// in one datagram: netlink hands the kernel each message of it in
    /// turn, and answers each with its own acknowledgement or error.  A
    /// burst of changes then costs a few system calls rather than two per
    /// change, and each still succeeds or fails on its own.  The outcome
    /// of each request, in order.
    pub fn request_each(&mut self, reqs: &[Request]) -> Vec<Result<(), Error>> {
        // Few enough that their acknowledgements (with an extack each on
        // failure) fit the receive buffer while the kernel works through
        // the datagram.
        const PER_DATAGRAM: usize = 128;
        let mut outcomes = Vec::with_capacity(reqs.len());
        for chunk in reqs.chunks(PER_DATAGRAM) {
            let first = self.seq.wrapping_add(1);
            let mut bytes = Vec::new();
            for req in chunk {
                let seq = self.next_seq();
                bytes.extend(req.encode(self.family.id, seq));
            }
            let mut answers: Vec<Option<Result<(), Error>>> = chunk.iter().map(|_| None).collect();
            if let Err(e) = self.send_and_collect(&bytes, first, &mut answers) {
                let text = match e {
                    Error::Other(e) => format!("{e:#}"),
                    e => format!("{e:?}"),
                };
                for slot in answers.iter_mut().filter(|a| a.is_none()) {
                    *slot = Some(Err(anyhow!("{text}").into()));
                }
            }
            outcomes.extend(answers.into_iter().map(|a| {
                a.unwrap_or_else(|| Err(anyhow!("the kernel did not answer").into()))
            }));
        }
        outcomes
    }

    /// Send the requests `bytes`, numbered from `first`, and fill each
    /// slot of `answers` with the kernel's answer to its request.
    fn send_and_collect(
        &mut self,
        bytes: &[u8],
        first: u32,
        answers: &mut [Option<Result<(), Error>>],
    ) -> Result<(), Error> {
        let _ = self.make_room(bytes.len());
        self.sock
            .send(bytes, 0)
            .context("cannot send to the kernel")?;
        let mut pending = answers.len();
        while pending > 0 {
            for (header, reply) in self.recv_replies::<XnatMsg>()? {
                let at = header.sequence_number.wrapping_sub(first) as usize;
                let Some(slot) = answers.get_mut(at).filter(|s| s.is_none()) else {
                    continue; // not ours, or answered already
                };
                *slot = match reply {
                    Reply::Ack => Some(Ok(())),
                    Reply::Error { errno, extack } => Some(Err(Error::Kernel { errno, extack })),
                    Reply::Msg(_) | Reply::Done | Reply::Other => continue,
                };
                pending -= 1;
            }
        }
        Ok(())
    }

    /// All mappings, from a dump that no change interrupted (NLM_F_DUMP_INTR):
    /// what `save` prints and `-f` edits must be one state of the set.
    /// Retried a few times, then an error.
    pub fn dump_snapshot(&mut self) -> Result<Vec<XnatMsg>, Error> {
        const TRIES: usize = 5;
        for _ in 0..TRIES {
            let seq = self.next_seq();
            let ex = self.exchange(&Request::MapDump.encode(self.family.id, seq), seq, true)?;
            if !ex.interrupted {
                return Ok(ex.msgs);
            }
        }
        Err(anyhow!("the mappings changed during each of {TRIES} listings; try again").into())
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
            match self.recv_datagram() {
                Ok(buf) => {
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

/// What netlink_sendmsg keeps of the send buffer for itself: it refuses a
/// message longer than the buffer less this.
const NETLINK_SNDBUF_OVERHEAD: usize = 32;

fn fits_sndbuf(len: usize, sndbuf: usize) -> bool {
    len + NETLINK_SNDBUF_OVERHEAD <= sndbuf
}

/// The errno of an I/O error under `e`'s context, if that is what it is.
fn os_error(e: &anyhow::Error) -> Option<i32> {
    e.downcast_ref::<std::io::Error>()?.raw_os_error()
}

/// Why `req`, encoded in `len` bytes, cannot be sent through a send buffer
/// of `sndbuf` bytes, and what would let it.
fn too_big_message(req: &Request, len: usize, sndbuf: usize) -> String {
    // SO_SNDBUF takes at most wmem_max, and the kernel doubles it.
    let wmem_max = (len + NETLINK_SNDBUF_OVERHEAD).div_ceil(2);
    format!(
        "the request ({}, {len} bytes) does not fit the socket's send buffer \
         ({sndbuf} bytes), and it could not be raised: net.core.wmem_max bounds \
         it for a sender without CAP_NET_ADMIN in the initial user namespace; \
         set net.core.wmem_max to at least {wmem_max}, or run as root there",
        req.contents()
    )
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
            .exchange::<CtrlMsg>(&encode_get_family(None, seq), seq, true)
            .unwrap();
        let names: Vec<String> = ex
            .msgs
            .iter()
            .filter_map(|m| {
                m.attrs.iter().find_map(|a| match a {
                    crate::proto::CtrlAttr::FamilyName(n) => Some(n.clone()),
                    _ => None,
                })
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

    #[test]
    fn too_big_is_explained() {
        let req = Request::MapSet {
            mappings: vec![
                crate::proto::Mapping::new(
                    crate::proto::Key::Spid(305),
                    crate::proto::Target::addr("10.20.30.2")
                );
                65536
            ],
        };
        assert_eq!(
            too_big_message(&req, 2097172, 425984),
            "the request (65536 mappings, 2097172 bytes) does not fit the socket's send \
             buffer (425984 bytes), and it could not be raised: net.core.wmem_max bounds \
             it for a sender without CAP_NET_ADMIN in the initial user namespace; \
             set net.core.wmem_max to at least 1048602, or run as root there"
        );
        assert!(fits_sndbuf(212992 - 32, 212992));
        assert!(!fits_sndbuf(212992 - 31, 212992));
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EMSGSIZE))
            .context("cannot send to the kernel");
        assert_eq!(os_error(&e), Some(libc::EMSGSIZE));
        assert_eq!(os_error(&anyhow!("no errno")), None);
    }

    /// The send buffer on a real socket: left alone for small messages,
    /// raised for a full map-set's size when the sender may (root, or a
    /// large net.core.wmem_max), and then such a message goes through.
    #[test]
    fn send_buffer_for_large_requests() {
        let mut c = Conn::connect().unwrap();
        let before = c.sndbuf().unwrap();
        c.make_room(1000).unwrap();
        assert_eq!(c.sndbuf().unwrap(), before);
        // Nothing takes 3 GiB.
        match c.make_room(3 << 30) {
            Err(have) => assert!(!fits_sndbuf(3 << 30, have)),
            Ok(()) => panic!("a 3 GiB send buffer"),
        }
        // A GETFAMILY of nlctrl padded with attributes the controller does
        // not know to 3 MiB, past any default buffer.
        let seq = c.next_seq();
        let mut msg = encode_get_family(Some("nlctrl"), seq);
        while msg.len() < 3 << 20 {
            let mut pad = vec![0u8; 60000];
            pad[..2].copy_from_slice(&60000u16.to_ne_bytes());
            pad[2..4].copy_from_slice(&0x7ff0u16.to_ne_bytes());
            msg.extend_from_slice(&pad);
        }
        let len = msg.len();
        msg[..4].copy_from_slice(&(len as u32).to_ne_bytes());
        match c.make_room(len) {
            Ok(()) => {
                assert!(fits_sndbuf(len, c.sndbuf().unwrap()));
                // Sent whole: the controller answers (the family, or a
                // refusal of the unknown attributes), not EMSGSIZE.
                match c.exchange::<CtrlMsg>(&msg, seq, false) {
                    Ok(_) | Err(Error::Kernel { .. }) => {}
                    Err(e) => panic!(
                        "a {len}-byte request: {}",
                        e.message(&crate::cli::Command::Flush)
                    ),
                }
            }
            Err(have) => {
                // Only without the privilege, with a small wmem_max.
                assert!(!fits_sndbuf(len, have));
                let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                assert!(
                    wmem_max * 2 < len + 32,
                    "wmem_max {wmem_max}, buffer {have}"
                );
            }
        }
    }
}
