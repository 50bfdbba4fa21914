//! Notification requests to the kernel (`mq_notify`), and pmq's own
//! delivery of callback notifications: netlink sockets the kernel sends
//! each registration's cookie to, read by helper threads.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use nix::errno::Errno;

use super::KernelQueue;
use crate::backend::sys;

/// The kernel's `mq_notify` without glibc's wrapper: glibc turns SIGEV_THREAD
/// into a netlink socket shared by the whole process and inherited across
/// fork (so a child's helper thread steals the parent's deliveries); pmq owns
/// that mechanism instead (see [`Delivery`]). `ev` NULL cancels.
fn sys_mq_notify(fd: RawFd, ev: Option<&libc::sigevent>) -> Result<(), Errno> {
    let p = ev.map_or(std::ptr::null(), |e| e as *const libc::sigevent);
    // SAFETY: `p` is NULL (cancel) or points to an initialised sigevent that
    // lives across the call; for SIGEV_THREAD its value points to a 32-byte
    // cookie the kernel copies during the call. The descriptor is open.
    let r = unsafe { libc::syscall(libc::SYS_mq_notify, fd as libc::c_long, p) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

fn sigevent(notify: libc::c_int, signo: libc::c_int, value: *mut libc::c_void) -> libc::sigevent {
    // SAFETY: sigevent is plain data (integers, a union of integers and
    // pointers); all-zero is a valid value.
    let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
    ev.sigev_notify = notify;
    ev.sigev_signo = signo;
    ev.sigev_value = libc::sigval { sival_ptr: value };
    ev
}

/// Length of the cookie the kernel sends back (NOTIFY_COOKIE_LEN); its last
/// byte says why: [`NOTIFY_WOKENUP`] or [`NOTIFY_REMOVED`].
const COOKIE_LEN: usize = 32;
const NOTIFY_WOKENUP: u8 = 1;
const NOTIFY_REMOVED: u8 = 2;
/// Kernel memory one pending registration charges to the socket's receive
/// buffer (an skb for 32 bytes is well under this); a socket takes at most
/// rcvbuf / this many registrations, so `mq_notify` never waits for room.
const CHARGE_PER_REGISTRATION: usize = 2048;

/// One netlink socket the kernel sends notification cookies to, read by its
/// own helper thread.
struct NotifySocket {
    fd: RawFd,
    /// Registrations attached to the socket whose cookie was not read yet.
    outstanding: AtomicU32,
    capacity: u32,
}

impl NotifySocket {
    fn open() -> Result<Arc<NotifySocket>, Errno> {
        // SAFETY: plain socket(2) call; the descriptor is owned by the result.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // As much room as the system allows (net.core.rmem_max caps it).
        let want: libc::c_int = 1 << 20;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `want` is a valid c_int of `len` bytes; failure is harmless.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&want as *const libc::c_int).cast(),
                len,
            )
        };
        let mut got: libc::c_int = 0;
        let mut got_len = len;
        // SAFETY: `got` is a writable c_int and `got_len` its size.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut got as *mut libc::c_int).cast(),
                &mut got_len,
            )
        };
        let rcvbuf = if r == 0 && got > 0 {
            got as usize
        } else {
            212_992
        };
        let capacity = (rcvbuf / CHARGE_PER_REGISTRATION).max(8) as u32;
        Ok(Arc::new(NotifySocket {
            fd,
            outstanding: AtomicU32::new(0),
            capacity,
        }))
    }

    /// Whether one more registration fits without mq_notify having to wait
    /// for room: asked of the kernel (SO_MEMINFO: memory charged to the
    /// socket now against its receive buffer) where it can tell, else our
    /// own count of registrations whose cookie was not read yet.
    fn has_room(&self) -> bool {
        match socket_meminfo(self.fd) {
            Some((charged, rcvbuf)) => charged + 4 * CHARGE_PER_REGISTRATION < rcvbuf,
            None => self.outstanding.load(Ordering::Acquire) < self.capacity,
        }
    }

    /// Reads cookies until the socket goes away: a wake-up runs the
    /// registration's callback on a new thread, a removal forgets it.
    fn serve(&self, deliver: fn(u64), removed: fn(u64)) {
        while self.read_one(0, deliver, removed) != Read::Gone {}
    }

    /// Reads cookies that are already there, without waiting (a registering
    /// thread making room when the helper lags behind).
    fn drain(&self, deliver: fn(u64), removed: fn(u64)) {
        while self.read_one(libc::MSG_DONTWAIT, deliver, removed) == Read::Cookie {}
    }

    /// Reads and handles one cookie: a wake-up runs the registration's
    /// callback on a new thread, a removal forgets it. `removed` must not
    /// wait for the core's lock (the registering thread may hold it here).
    fn read_one(&self, flags: libc::c_int, deliver: fn(u64), removed: fn(u64)) -> Read {
        let mut buf = [0u8; 2 * COOKIE_LEN];
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut alen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `buf` is writable for its length, `addr`/`alen` are a
        // valid address buffer and its size.
        let n = unsafe {
            libc::recvfrom(
                self.fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags,
                (&mut addr as *mut libc::sockaddr_nl).cast(),
                &mut alen,
            )
        };
        if n < 0 {
            return match Errno::last() {
                Errno::EAGAIN if flags & libc::MSG_DONTWAIT != 0 => Read::Empty,
                Errno::EINTR | Errno::ENOBUFS | Errno::EAGAIN | Errno::ENOMEM => Read::Other,
                _ => Read::Gone, // the socket is gone
            };
        }
        // Only the kernel (port 0) sends cookies; ignore anything else.
        if n as usize != COOKIE_LEN || addr.nl_pid != 0 {
            return Read::Other;
        }
        let _ = self
            .outstanding
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1));
        let mut idb = [0u8; 8];
        idb.copy_from_slice(&buf[..8]);
        let id = u64::from_ne_bytes(idb);
        match buf[COOKIE_LEN - 1] {
            NOTIFY_WOKENUP => {
                let spawned = std::thread::Builder::new()
                    .name("pmq-notify".into())
                    .stack_size(8 << 20)
                    .spawn(move || {
                        // Started with all signals blocked (by the helper's
                        // mask); a callback runs with signals unblocked, as
                        // glibc's SIGEV_THREAD callbacks do.
                        sys::unblock_all_signals();
                        deliver(id)
                    });
                if spawned.is_err() {
                    // No thread to be had: run it here rather than lose it.
                    deliver(id);
                }
            }
            NOTIFY_REMOVED => removed(id),
            _ => {}
        }
        Read::Cookie
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Cookie,
    Empty,
    Other,
    Gone,
}

/// SO_MEMINFO: 55 in asm-generic/socket.h; mips and sparc number it
/// otherwise, and there pmq falls back to counting.
const SO_MEMINFO: Option<libc::c_int> = if cfg!(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)) {
    None
} else {
    Some(55)
};

/// (bytes charged to the socket's receive side, its receive buffer size).
fn socket_meminfo(fd: RawFd) -> Option<(usize, usize)> {
    let opt = SO_MEMINFO?;
    let mut info = [0u32; 9]; // SK_MEMINFO_VARS
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes; the kernel writes at most
    // that much and sets `len` to what it wrote.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let rcv = libc::SK_MEMINFO_RCVBUF as usize;
    if r == 0 && len as usize >= (rcv + 1) * 4 {
        Some((
            info[libc::SK_MEMINFO_RMEM_ALLOC as usize] as usize,
            info[rcv] as usize,
        ))
    } else {
        None
    }
}

/// pmq's own delivery of callback notifications: per process, netlink
/// sockets the kernel sends each registration's cookie to (the cookie carries
/// the registration id, never a pointer), each read by a helper thread with
/// every signal blocked. Owned by the core's notification state, which holds
/// its lock around every use and resets it in a child after fork (the child
/// closes the inherited sockets and makes its own on first use, so parent and
/// child each get exactly their own notifications).
pub(crate) struct Delivery {
    sockets: Vec<Arc<NotifySocket>>,
    helpers: Vec<std::thread::JoinHandle<()>>,
    /// The parent's, in a child after fork.
    inherited: Vec<Arc<NotifySocket>>,
    inherited_helpers: Vec<std::thread::JoinHandle<()>>,
    deliver: fn(u64),
    removed: fn(u64),
}

impl Delivery {
    /// `deliver(id)` runs a registration's callback (on a new thread);
    /// `removed(id)` forgets a registration the kernel dropped.
    pub(crate) const fn new(deliver: fn(u64), removed: fn(u64)) -> Delivery {
        Delivery {
            sockets: Vec::new(),
            helpers: Vec::new(),
            inherited: Vec::new(),
            inherited_helpers: Vec::new(),
            deliver,
            removed,
        }
    }

    /// A socket with room for one more registration, made (with its helper
    /// thread) when none has room.
    fn socket(&mut self) -> Result<Arc<NotifySocket>, Errno> {
        if let Some(s) = self.sockets.iter().find(|s| s.has_room()) {
            return Ok(Arc::clone(s));
        }
        // Usually the room is taken by cookies the helper has not read yet
        // (a thread registering and cancelling in a loop outpaces it): read
        // them here, and make a new socket only for live registrations.
        let (deliver, removed) = (self.deliver, self.removed);
        {
            let _blocked = sys::SignalsBlocked::new();
            for s in &self.sockets {
                s.drain(deliver, removed);
            }
        }
        if let Some(s) = self.sockets.iter().find(|s| s.has_room()) {
            return Ok(Arc::clone(s));
        }
        let s = NotifySocket::open()?;
        let helper = Arc::clone(&s);
        // The helper (and the callback threads it starts) must not take the
        // process's signals: start it with all of them blocked.
        let spawned = sys::spawn_with_signals_blocked(
            std::thread::Builder::new().name("pmq-notify-helper".into()),
            move || helper.serve(deliver, removed),
        );
        let Ok(thread) = spawned else {
            // SAFETY: we own `s.fd` and nothing else uses it.
            unsafe { libc::close(s.fd) };
            return Err(Errno::EAGAIN);
        };
        self.sockets.push(Arc::clone(&s));
        self.helpers.push(thread);
        Ok(s)
    }

    /// In a child after fork: the sockets and helper threads are the
    /// parent's; close the inherited descriptors and start afresh.
    pub(crate) fn after_fork_in_child(&mut self) {
        for s in &self.sockets {
            // SAFETY: the descriptor was inherited from the parent and is
            // used by no thread of this (single-threaded) child.
            unsafe { libc::close(s.fd) };
        }
        // Kept, never used again: what the parent's helper threads own is
        // still allocated here, and stays reachable (no leak report).
        self.inherited.append(&mut self.sockets);
        self.inherited_helpers.append(&mut self.helpers);
    }
}

impl crate::backend::DeliveryState for Delivery {
    fn new(deliver: fn(u64), removed: fn(u64)) -> Delivery {
        Delivery::new(deliver, removed)
    }

    fn after_fork_in_child(&mut self) {
        Delivery::after_fork_in_child(self)
    }
}

impl KernelQueue {
    /// Asks for `signo` when the queue goes from empty to non-empty.
    pub(super) fn request_signal(&self, signo: i32) -> Result<(), Errno> {
        let ev = sigevent(
            libc::SIGEV_SIGNAL,
            signo,
            self.fd as usize as *mut libc::c_void,
        );
        sys_mq_notify(self.fd, Some(&ev))
    }

    /// Asks for a delivery of registration `id` on a new thread when the
    /// queue goes from empty to non-empty, through `delivery`.
    pub(super) fn request_thread(&self, id: u64, delivery: &mut Delivery) -> Result<(), Errno> {
        let sock = delivery.socket()?;
        let mut cookie = [0u8; COOKIE_LEN];
        cookie[..8].copy_from_slice(&id.to_ne_bytes());
        let ev = sigevent(libc::SIGEV_THREAD, sock.fd, cookie.as_mut_ptr().cast());
        // Counted before the call: the cookie may come back (and be counted
        // off by the helper) before mq_notify has even returned.
        sock.outstanding.fetch_add(1, Ordering::AcqRel);
        let r = sys_mq_notify(self.fd, Some(&ev));
        if r.is_err() {
            sock.outstanding.fetch_sub(1, Ordering::AcqRel);
        }
        r
    }

    /// Removes this process's registration, if it holds one (a no-op otherwise).
    pub(super) fn cancel_request(&self) -> Result<(), Errno> {
        sys_mq_notify(self.fd, None)
    }
}
