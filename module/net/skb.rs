// SPDX-License-Identifier: GPL-2.0
//! Socket buffers, as far as netfilter hooks need them.

use kernel::types::Opaque;

use crate::bindings;
use crate::logic::addr::{Addr, Family};
use crate::net::conntrack::{Conn, Direction};

/// A `struct sk_buff` seen by a hook.
#[repr(transparent)]
pub struct SkBuff(Opaque<bindings::sk_buff>);

impl SkBuff {
    /// # Safety
    ///
    /// `ptr` must point to an skb that stays valid for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a SkBuff {
        // SAFETY: Transparent wrapper; validity is the caller's promise.
        unsafe { &*ptr.cast::<SkBuff>() }
    }

    /// Whether an IPv4 packet is the output of an xfrm transform (the ESP
    /// packet, not the plaintext).
    pub fn ipv4_xfrm_transformed(&self) -> bool {
        // SAFETY: Valid skb (type invariant of the reference); IPCB is the
        // control block of IPv4 packets in the output path.
        let flags = unsafe { bindings::xnat_ipcb_flags(self.0.get()) };
        flags & bindings::XNAT_IPSKB_XFRM_TRANSFORMED != 0
    }

    /// Whether an IPv6 packet is the output of an xfrm transform.
    pub fn ipv6_xfrm_transformed(&self) -> bool {
        // SAFETY: As above, for IP6CB.
        let flags = unsafe { bindings::xnat_ip6cb_flags(self.0.get()) };
        flags & bindings::XNAT_IP6SKB_XFRM_TRANSFORMED != 0
    }

    /// Whether the packet's route is an xfrm bundle, i.e. it will be
    /// transformed on output.
    pub fn routed_into_xfrm(&self) -> bool {
        // SAFETY: Valid skb.
        !unsafe { bindings::xnat_skb_dst_xfrm(self.0.get()) }.is_null()
    }

    /// The local TCP socket whose connect this packet is the SYN of (the
    /// socket is in SYN-SENT), held, with that connect attempt.
    pub fn connecting_tcp_socket(&self) -> Option<HeldSock> {
        // SAFETY: Valid skb; a non-null `sk` is a socket the skb holds.
        let sk = unsafe { bindings::xnat_skb_sk(self.0.get()) };
        if sk.is_null() {
            return None;
        }
        // SAFETY: `sk` is valid while the skb is.  A SYN-SENT socket is a
        // full socket, so reading `sk_protocol` after the state is sound.
        let connecting = unsafe {
            u32::from(bindings::xnat_sk_state(sk)) == bindings::TCP_SYN_SENT
                && u32::from(bindings::xnat_sk_protocol(sk)) == bindings::IPPROTO_TCP
        };
        if !connecting {
            return None;
        }
        // The packet must be the socket's own SYN: a tunnel's packet (GRE,
        // VXLAN) carries the socket of the packet it encapsulates.
        let syn = self.tcp_syn()?;
        // SAFETY: A full socket (see above), valid while the skb is.
        let ports = unsafe { (bindings::xnat_inet_sport(sk), bindings::xnat_inet_dport(sk)) };
        if ports != (syn.sport, syn.dport) {
            return None;
        }
        // SAFETY: `sk` is valid; the reference is dropped by `HeldSock`.
        unsafe { bindings::xnat_sock_hold(sk) };
        // INVARIANT: Held above.
        Some(HeldSock { sk, isn: syn.seq })
    }

    /// The ports (as in the header) and sequence number of a TCP SYN
    /// without ACK, if the packet is one, over IPv4 or over IPv6 without
    /// extension headers (as TCP sends a SYN).
    fn tcp_syn(&self) -> Option<TcpSyn> {
        const FRAG_OFFSET: u16 = 0x1fff;
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        let tcp = bindings::IPPROTO_TCP as u8;
        // SAFETY: Valid skb.
        let l3 = unsafe { bindings::xnat_skb_network_offset(self.0.get()) };
        let [version] = self.read::<1>(l3)?;
        let l4 = match version >> 4 {
            4 => {
                let ip = self.read::<20>(l3)?;
                if ip[9] != tcp || u16::from_be_bytes([ip[6], ip[7]]) & FRAG_OFFSET != 0 {
                    return None;
                }
                l3.checked_add(i32::from(ip[0] & 0xf) * 4)?
            }
            6 => {
                let ip = self.read::<40>(l3)?;
                if ip[6] != tcp {
                    return None;
                }
                l3.checked_add(40)?
            }
            _ => return None,
        };
        let th = self.read::<20>(l4)?;
        if th[13] & (SYN | ACK) != SYN {
            return None;
        }
        Some(TcpSyn {
            sport: u16::from_ne_bytes([th[0], th[1]]),
            dport: u16::from_ne_bytes([th[2], th[3]]),
            seq: u32::from_be_bytes([th[4], th[5], th[6], th[7]]),
        })
    }

    /// The source and destination addresses of the packet's IP header,
    /// read before conntrack has a tuple of it.
    pub fn addresses(&self, family: Family) -> Option<(Addr, Addr)> {
        // SAFETY: Valid skb.
        let l3 = unsafe { bindings::xnat_skb_network_offset(self.0.get()) };
        match family {
            Family::V4 => {
                let ip = self.read::<20>(l3)?;
                let word = |at: usize| [ip[at], ip[at + 1], ip[at + 2], ip[at + 3]];
                Some((Addr::v4(word(12)), Addr::v4(word(16))))
            }
            Family::V6 => {
                let ip = self.read::<40>(l3)?;
                let mut src = [0; 16];
                let mut dst = [0; 16];
                src.copy_from_slice(ip.get(8..24)?);
                dst.copy_from_slice(ip.get(24..40)?);
                Some((Addr(src), Addr(dst)))
            }
        }
    }

    /// `N` bytes of the packet from `offset`, if it has them.
    fn read<const N: usize>(&self, offset: i32) -> Option<[u8; N]> {
        let mut buf = [0u8; N];
        let len = i32::try_from(N).ok()?;
        // SAFETY: Valid skb; `buf` has room for the `len` bytes the call
        // may copy into it.
        let p = unsafe { bindings::xnat_skb_header_pointer(self.0.get(), offset, len, buf.as_mut_ptr().cast()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: A non-null result points to `len` bytes: in the skb's
        // linear data, valid while the skb is, or in `buf`.
        Some(unsafe { p.cast::<[u8; N]>().read() })
    }

    /// Whether the packet was sent by a local socket whose file is in
    /// non-blocking mode (`O_NONBLOCK`).  Such a sender takes `EAGAIN` as
    /// "poll for room, then retry", so the caller must not answer it with
    /// `EAGAIN` for anything poll cannot see.  A per-call `MSG_DONTWAIT` on
    /// a blocking socket leaves no trace in the skb and is not seen.
    ///
    /// A full socket without a file counts as non-blocking: a kernel
    /// socket (an MPTCP subflow, a tunnel's or a network file system's)
    /// or one whose file was closed has no caller blocked in a system call
    /// to hand `EAGAIN` to, and its connect must not be aborted; its
    /// packet is better held until the SA is installed.
    pub fn sender_is_nonblocking(&self) -> bool {
        let sk = self.raw_sk();
        // SAFETY: A non-null `sk` is valid while the skb is; request and
        // time-wait sockets are not full sockets and have no file.
        if sk.is_null() || !unsafe { bindings::xnat_sk_fullsock(sk) } {
            return false;
        }
        // SAFETY: `sk` is a valid full socket, whose `sk_callback_lock` is
        // what `sock_orphan()` takes to clear `sk_socket`: while it is held
        // and `sk_socket` is set, the socket's file has not been released.
        unsafe { bindings::xnat_sk_callback_read_lock(sk) };
        // SAFETY: Under the lock (see above), `sk_socket` and, when set, its
        // `file` are valid.  `f_flags` changes under `fcntl()` without this
        // lock (the helper reads it once); a racing change may be missed or
        // seen, either is fine.
        let nonblocking = unsafe {
            let sock = bindings::xnat_sk_socket(sk);
            let file = if sock.is_null() { core::ptr::null_mut() } else { bindings::xnat_socket_file(sock) };
            file.is_null() || bindings::xnat_file_flags(file) & bindings::XNAT_O_NONBLOCK != 0
        };
        // SAFETY: Taken above.
        unsafe { bindings::xnat_sk_callback_read_unlock(sk) };
        nonblocking
    }

    /// The socket that sent the packet, if local (null otherwise).
    pub(in crate::net) fn raw_sk(&self) -> *mut bindings::sock {
        // SAFETY: Valid skb.
        unsafe { bindings::xnat_skb_sk(self.0.get()) }
    }

    /// Whether the packet's socket has an outbound policy of its own
    /// (`setsockopt(IP_XFRM_POLICY)`, as IKE daemons set a bypass on
    /// theirs), which the SPD lookup takes instead of the SPD's.
    pub fn socket_has_out_policy(&self) -> bool {
        // SAFETY: A non-null `sk` is valid while the skb is; the helper
        // only tests the policy pointer, as the lookup does.
        unsafe { bindings::xnat_sk_has_out_policy(self.raw_sk()) }
    }

    /// The C pointer.
    pub(in crate::net) fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// The conntrack entry attached to the packet, and the packet's direction
    /// in it.
    pub fn conntrack(&self) -> Option<(&Conn, Direction)> {
        let mut info = 0;
        // SAFETY: Valid skb; `info` is a valid out-parameter.
        let ct = unsafe { bindings::xnat_nf_ct_get(self.0.get(), &mut info) };
        if ct.is_null() {
            return None;
        }
        // IP_CT_IS_REPLY is added to the state of reply-direction packets.
        let dir = if info >= bindings::ip_conntrack_info_IP_CT_IS_REPLY {
            Direction::Reply
        } else {
            Direction::Original
        };
        // SAFETY: The skb holds a reference to its conntrack entry, which
        // therefore lives at least as long as the skb reference.
        Some((unsafe { Conn::from_raw(ct) }, dir))
    }
}

/// What a TCP SYN says of its connect.
struct TcpSyn {
    /// The ports, in network byte order.
    sport: u16,
    dport: u16,
    /// The initial sequence number.
    seq: u32,
}

/// A reference to a TCP socket, and the connect attempt it was taken for.
///
/// # Invariants
///
/// `sk` is a socket on which `self` holds a reference.
pub struct HeldSock {
    sk: *mut bindings::sock,
    /// The initial sequence number of the attempt's SYN.
    isn: u32,
}

// SAFETY: A socket reference may be dropped and used from any thread.
unsafe impl Send for HeldSock {}

impl HeldSock {
    /// Aborts the connect attempt with `errno` (positive), so that the
    /// `connect` waiting for it returns that error, if the socket is still
    /// making that attempt: a later attempt, or the connection if the
    /// attempt got through meanwhile, is left alone.  Takes the socket
    /// lock, so process context only.
    pub fn abort(self, errno: i32) {
        // SAFETY: Held socket (type invariant); the helper and `tcp_abort`
        // take the socket lock and cope with a socket closed meanwhile.
        unsafe { bindings::xnat_tcp_abort_connect(self.sk, self.isn, errno) };
    }
}

impl Drop for HeldSock {
    fn drop(&mut self) {
        // SAFETY: Drops the reference `self` holds.
        unsafe { bindings::xnat_sock_put(self.sk) };
    }
}

/// A packet a hook took over (`NF_STOLEN`), for the rest of the hook call
/// `'hook`.  It is owned, but its route may be one the output path lent it
/// only for the RCU read-side section the hook runs in (a "noref" dst),
/// so it cannot outlive the call: [`StolenSkb::pin_route`] makes of it an
/// [`OwnedSkb`], which can.  Freed on drop.
///
/// # Invariants
///
/// `ptr` is a valid skb that nothing else frees or uses concurrently, and
/// its route, if any, is live for `'hook`.
pub struct StolenSkb<'hook> {
    ptr: core::ptr::NonNull<bindings::sk_buff>,
    _hook: core::marker::PhantomData<&'hook ()>,
}

impl<'hook> StolenSkb<'hook> {
    /// # Safety
    ///
    /// The caller transfers its ownership of the valid skb `ptr` (a hook:
    /// it returns `NF_STOLEN` and no longer touches it), and `'hook` ends
    /// no later than the RCU read-side section the skb's route was set in.
    pub(in crate::net) unsafe fn from_raw(ptr: core::ptr::NonNull<bindings::sk_buff>) -> Self {
        // INVARIANT: Ownership and the route's life are the caller's promise.
        Self { ptr, _hook: core::marker::PhantomData }
    }

    /// Makes the packet hold a reference to its route, so that it may be
    /// kept beyond the hook.  `None`, with the packet freed, if it has no
    /// route or the route is going away.
    ///
    /// `skb_dst_force` is valid only in the read-side section the route was
    /// lent for; the proof of that is `'hook`, not a [`ReadGuard`]: a guard
    /// taken later (in a work item, say) is another section, in which a
    /// lent route may be freed already.
    ///
    /// [`ReadGuard`]: crate::net::rcu::ReadGuard
    pub fn pin_route(self) -> Option<OwnedSkb> {
        let ptr = self.ptr;
        core::mem::forget(self);
        // SAFETY: Owned, valid skb whose route, if any, is live for `'hook`,
        // which has not ended: the call is in the section it was lent for.
        if unsafe { bindings::xnat_skb_dst_force(ptr.as_ptr()) } {
            // INVARIANT: Owned (passed on from `self`); `skb_dst_force`
            // returns true when the skb holds a reference on a route.
            Some(OwnedSkb(ptr))
        } else {
            // SAFETY: Owned; `kfree_skb` drops a route whichever kind it is.
            unsafe { bindings::xnat_kfree_skb(ptr.as_ptr()) };
            None
        }
    }
}

impl core::ops::Deref for StolenSkb<'_> {
    type Target = SkBuff;

    fn deref(&self) -> &SkBuff {
        // SAFETY: Valid for as long as `self` owns it.
        unsafe { SkBuff::from_raw(self.ptr.as_ptr()) }
    }
}

impl Drop for StolenSkb<'_> {
    fn drop(&mut self) {
        // SAFETY: Owned (type invariant); `kfree_skb` is callable from
        // softirq context, and its `skb_dst_drop` releases a route only if
        // the skb holds a reference on it, not a lent one.
        unsafe { bindings::xnat_kfree_skb(self.ptr.as_ptr()) };
    }
}

/// A packet the module owns and may keep as long as it likes: one a hook
/// kept, with its route pinned ([`StolenSkb::pin_route`]), the only way to
/// get one.  Freed on drop unless handed back to the stack.
///
/// # Invariants
///
/// `self.0` is a valid skb that nothing else frees or uses concurrently,
/// with a route on which it holds a reference.
pub struct OwnedSkb(core::ptr::NonNull<bindings::sk_buff>);

// SAFETY: An skb that nobody else uses, whose route is its own reference,
// may be handled and freed on any CPU, in process or softirq context.
unsafe impl Send for OwnedSkb {}

impl OwnedSkb {
    /// Gives up ownership, to the C function the pointer is passed to.
    pub(in crate::net) fn into_raw(self) -> *mut bindings::sk_buff {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// The memory the packet accounts for (`truesize`).
    pub fn truesize(&self) -> u32 {
        // SAFETY: Owned, valid skb (type invariant).
        unsafe { bindings::xnat_skb_truesize(self.0.as_ptr()) }
    }
}

impl core::ops::Deref for OwnedSkb {
    type Target = SkBuff;

    fn deref(&self) -> &SkBuff {
        // SAFETY: Valid for as long as `self` owns it.
        unsafe { SkBuff::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for OwnedSkb {
    fn drop(&mut self) {
        // SAFETY: Owned (type invariant); `kfree_skb` is callable from
        // process and softirq context.
        unsafe { bindings::xnat_kfree_skb(self.0.as_ptr()) };
    }
}
