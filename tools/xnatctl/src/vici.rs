//! A blocking client of strongSwan's vici protocol, as much of it as the
//! daemon needs: named commands, streamed listings (`list-sas`,
//! `list-policies`) and event registration.
//!
//! The wire format (strongSwan's src/libcharon/plugins/vici/README.md):
//! a packet is a 32-bit big-endian length, then a type byte, then for the
//! named types a name (8-bit length), then a message.  A message is a
//! sequence of elements: section start (name), section end, key/value
//! (name, 16-bit length value), list start (name), list item (16-bit
//! length value), list end.  It is small enough to write here rather
//! than pull an async runtime in for it (see Documentation/xfrm_nat.rst,
//! "Mappings driven by the IKE daemon").

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use anyhow::{anyhow, bail, Context};

/// The socket charon listens on, as Debian's strongSwan configures it.
pub const DEFAULT_SOCKET: &str = "/var/run/charon.vici";

mod packet {
    pub const CMD_REQUEST: u8 = 0;
    pub const CMD_RESPONSE: u8 = 1;
    pub const CMD_UNKNOWN: u8 = 2;
    pub const EVENT_REGISTER: u8 = 3;
    pub const EVENT_CONFIRM: u8 = 5;
    pub const EVENT_UNKNOWN: u8 = 6;
    pub const EVENT: u8 = 7;
}

mod element {
    pub const SECTION_START: u8 = 1;
    pub const SECTION_END: u8 = 2;
    pub const KEY_VALUE: u8 = 3;
    pub const LIST_START: u8 = 4;
    pub const LIST_ITEM: u8 = 5;
    pub const LIST_END: u8 = 6;
}

/// charon refuses larger packets (VICI_MESSAGE_SIZE_MAX, 512 KiB); a
/// length beyond it means the stream is out of step.
const PACKET_MAX: usize = 512 * 1024;

/// A value of a message: a string, a list of strings or a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    List(Vec<String>),
    Section(Section),
}

/// A section, its entries in the order sent (names may repeat in
/// principle; lookups take the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section(pub Vec<(String, Value)>);

impl Section {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A list's items; none for a list that is absent (charon leaves out
    /// empty ones, e.g. `local-vips`).
    pub fn list(&self, name: &str) -> &[String] {
        match self.get(name) {
            Some(Value::List(items)) => items,
            _ => &[],
        }
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        match self.get(name)? {
            Value::Section(s) => Some(s),
            _ => None,
        }
    }

    /// The subsections, by name.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.0.iter().filter_map(|(n, v)| match v {
            Value::Section(s) => Some((n.as_str(), s)),
            _ => None,
        })
    }
}

/// Reads the bytes of a message, front to back.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        if self.0.len() < n {
            bail!("vici message truncated");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn name(&mut self) -> anyhow::Result<String> {
        let len = self.byte()? as usize;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn value(&mut self) -> anyhow::Result<String> {
        let len = u16::from_be_bytes([self.byte()?, self.byte()?]) as usize;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}

/// The message `bytes`, as a section of its top-level entries.
pub fn decode_message(bytes: &[u8]) -> anyhow::Result<Section> {
    let mut cur = Cursor(bytes);
    // The sections opened and not yet closed, the message itself first.
    let mut open: Vec<(String, Section)> = vec![(String::new(), Section::default())];
    let mut list: Option<(String, Vec<String>)> = None;
    while !cur.0.is_empty() {
        let kind = cur.byte()?;
        let top = &mut open.last_mut().context("vici sections unbalanced")?.1;
        match (kind, &mut list) {
            (element::LIST_ITEM, Some((_, items))) => items.push(cur.value()?),
            (element::LIST_END, Some(_)) => {
                if let Some((name, items)) = list.take() {
                    top.0.push((name, Value::List(items)));
                }
            }
            (_, Some(_)) => bail!("vici element {kind} inside a list"),
            (element::SECTION_START, None) => open.push((cur.name()?, Section::default())),
            (element::SECTION_END, None) => {
                if open.len() < 2 {
                    bail!("vici section end without a start");
                }
                if let Some((name, section)) = open.pop() {
                    let parent = &mut open.last_mut().context("vici sections unbalanced")?.1;
                    parent.0.push((name, Value::Section(section)));
                }
            }
            (element::KEY_VALUE, None) => {
                let name = cur.name()?;
                top.0.push((name, Value::Str(cur.value()?)));
            }
            (element::LIST_START, None) => list = Some((cur.name()?, Vec::new())),
            (other, None) => bail!("unknown vici element type {other}"),
        }
    }
    match (open.pop(), open.is_empty(), list) {
        (Some((_, message)), true, None) => Ok(message),
        _ => bail!("vici message ends inside a section or list"),
    }
}

/// The packet of `kind` named `name` carrying the key/values `kvs`.
pub fn encode_packet(kind: u8, name: &str, kvs: &[(&str, &str)]) -> Vec<u8> {
    let mut body = vec![kind, name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    for (key, value) in kvs {
        body.push(element::KEY_VALUE);
        body.push(key.len() as u8);
        body.extend_from_slice(key.as_bytes());
        body.extend_from_slice(&(value.len() as u16).to_be_bytes());
        body.extend_from_slice(value.as_bytes());
    }
    let mut packet = (body.len() as u32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

/// A packet received: its type, its name (events only) and its message.
#[derive(Debug)]
pub struct Packet {
    pub kind: u8,
    pub name: String,
    pub message: Section,
}

/// The packet in `body` (without its length).
pub fn decode_packet(body: &[u8]) -> anyhow::Result<Packet> {
    let mut cur = Cursor(body);
    let kind = cur.byte()?;
    let name = match kind {
        packet::EVENT => cur.name()?,
        _ => String::new(),
    };
    Ok(Packet {
        kind,
        name,
        message: decode_message(cur.0)?,
    })
}

/// A connection to charon.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    pub fn connect(path: &str) -> anyhow::Result<Client> {
        let stream =
            UnixStream::connect(path).with_context(|| format!("cannot connect to {path}"))?;
        Ok(Client { stream })
    }

    /// Fill `buf`.  Before any byte of it came, an interruption by a
    /// signal or the end of a read timeout is returned as it is (the
    /// daemon reloads on SIGHUP between packets, and gathers a burst with
    /// a timeout); once begun, it reads on through them, since stopping
    /// half-way would leave the stream out of step.
    fn read_full(&mut self, buf: &mut [u8], begun: bool) -> io::Result<()> {
        let mut at = 0;
        while at < buf.len() {
            match self.stream.read(&mut buf[at..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => at += n,
                Err(e) if (begun || at > 0) && is_pause(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next packet.  An error of kind Interrupted, WouldBlock or
    /// TimedOut ([`is_pause`]) when a signal or the read timeout came
    /// before any of it; the caller may call again.
    pub fn recv(&mut self) -> io::Result<Packet> {
        let mut len = [0u8; 4];
        self.read_full(&mut len, false)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > PACKET_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "vici packet too long",
            ));
        }
        let mut body = vec![0u8; len];
        self.read_full(&mut body, true)?;
        decode_packet(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }

    /// How long [`recv`](Self::recv) waits for the start of a packet
    /// (None: for ever).
    pub fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    fn recv_through_signals(&mut self) -> anyhow::Result<Packet> {
        loop {
            match self.recv() {
                Err(e) if is_pause(&e) => continue,
                r => return r.context("cannot read from charon"),
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.stream
            .write_all(bytes)
            .context("cannot write to charon")
    }

    /// Ask charon to send the events `name`.
    pub fn register(&mut self, name: &str) -> anyhow::Result<()> {
        self.send(&encode_packet(packet::EVENT_REGISTER, name, &[]))?;
        loop {
            let p = self.recv_through_signals()?;
            match p.kind {
                packet::EVENT_CONFIRM => return Ok(()),
                packet::EVENT_UNKNOWN => bail!("charon has no '{name}' event"),
                // An event registered before, arriving meanwhile: the
                // caller registers all before it reads any.
                packet::EVENT => continue,
                other => bail!("unexpected vici packet type {other} registering '{name}'"),
            }
        }
    }

    /// Run the command `cmd` whose results charon streams as events
    /// `event` (list-sas: list-sa, list-policies: list-policy); their messages.
    pub fn stream(
        &mut self,
        cmd: &str,
        event: &str,
        args: &[(&str, &str)],
    ) -> anyhow::Result<Vec<Section>> {
        self.register(event)?;
        self.send(&encode_packet(packet::CMD_REQUEST, cmd, args))?;
        let mut results = Vec::new();
        loop {
            let p = self.recv_through_signals()?;
            match p.kind {
                packet::EVENT if p.name == event => results.push(p.message),
                packet::EVENT => {}
                packet::CMD_RESPONSE => return Ok(results),
                packet::CMD_UNKNOWN => return Err(anyhow!("charon has no '{cmd}' command")),
                other => bail!("unexpected vici packet type {other} after '{cmd}'"),
            }
        }
    }
}

/// Whether `p` is an event (of those registered), rather than an answer.
pub fn is_event(p: &Packet) -> bool {
    p.kind == packet::EVENT
}

/// Whether a read error is a pause (a signal, the read timeout), not a
/// failure of the connection.
pub fn is_pause(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds messages as charon would send them.
    #[derive(Default)]
    pub struct Builder(pub Vec<u8>);

    impl Builder {
        fn named(&mut self, kind: u8, name: &str) -> &mut Self {
            self.0.push(kind);
            self.0.push(name.len() as u8);
            self.0.extend_from_slice(name.as_bytes());
            self
        }

        fn value(&mut self, value: &str) {
            self.0
                .extend_from_slice(&(value.len() as u16).to_be_bytes());
            self.0.extend_from_slice(value.as_bytes());
        }

        pub fn begin(&mut self, name: &str) -> &mut Self {
            self.named(element::SECTION_START, name)
        }

        pub fn end(&mut self) -> &mut Self {
            self.0.push(element::SECTION_END);
            self
        }

        pub fn kv(&mut self, name: &str, value: &str) -> &mut Self {
            self.named(element::KEY_VALUE, name).value(value);
            self
        }

        pub fn list(&mut self, name: &str, items: &[&str]) -> &mut Self {
            self.named(element::LIST_START, name);
            for item in items {
                self.0.push(element::LIST_ITEM);
                self.value(item);
            }
            self.0.push(element::LIST_END);
            self
        }
    }

    #[test]
    fn decodes_nested_sections_and_lists() {
        let mut b = Builder::default();
        b.kv("up", "yes")
            .begin("home")
            .list("local-vips", &["10.3.0.1"])
            .begin("child-sas")
            .begin("net-7")
            .kv("name", "net")
            .kv("reqid", "3")
            .list("local-ts", &["10.3.0.1/32", "10.3.0.2/32"])
            .end()
            .end()
            .end();
        let m = decode_message(&b.0).expect("decodes");
        assert_eq!(m.str("up"), Some("yes"));
        let ike = m.section("home").expect("ike section");
        assert_eq!(ike.list("local-vips"), ["10.3.0.1"]);
        assert!(ike.list("remote-vips").is_empty());
        let (name, child) = ike
            .section("child-sas")
            .expect("children")
            .sections()
            .next()
            .expect("child");
        assert_eq!(name, "net-7");
        assert_eq!(child.str("reqid"), Some("3"));
        assert_eq!(child.list("local-ts").len(), 2);
    }

    #[test]
    fn refuses_broken_messages() {
        let mut b = Builder::default();
        b.begin("open");
        assert!(decode_message(&b.0).is_err());
        assert!(decode_message(&[element::SECTION_END]).is_err());
        assert!(decode_message(&[element::KEY_VALUE, 5, b'a']).is_err());
        assert!(decode_message(&[42]).is_err());
        let mut b = Builder::default();
        b.list("l", &["a"]);
        b.0.pop();
        assert!(decode_message(&b.0).is_err());
    }

    #[test]
    fn encodes_a_named_request() {
        let p = encode_packet(packet::CMD_REQUEST, "list-policies", &[("trap", "yes")]);
        assert_eq!(&p[..4], &((p.len() - 4) as u32).to_be_bytes());
        assert_eq!(p[4], packet::CMD_REQUEST);
        assert_eq!(&p[6..19], b"list-policies");
        let m = decode_message(&p[19..]).expect("decodes");
        assert_eq!(m.str("trap"), Some("yes"));
    }

    #[test]
    fn decodes_an_event_packet() {
        let mut body = vec![packet::EVENT, 12];
        body.extend_from_slice(b"child-updown");
        let mut b = Builder::default();
        b.kv("up", "yes");
        body.extend(b.0);
        let p = decode_packet(&body).expect("decodes");
        assert!(is_event(&p));
        assert_eq!(p.name, "child-updown");
        assert_eq!(p.message.str("up"), Some("yes"));
    }
}
