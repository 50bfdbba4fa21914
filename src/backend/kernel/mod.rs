//! The Linux kernel backend: POSIX message queues through `mq_*` (nix to
//! open and unlink by name, libc for the per-call system calls so the hot path
//! is one call with no conversions), waits without a timeout inside the
//! kernel's own blocking call (see `waiters`), bounded waits in ppoll (a
//! monotonic timeout), and the meaning of each errno value turned into a
//! detail that names the cause and the fix.

use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::{self, MQ_OFlag, MqAttr};
use nix::sys::stat::Mode;

use super::{
    Attempt, Attributes, Interest, NotifyError, OpenRequest, Patience, QueueBackend, Wake,
};
use crate::error::{Error, Result};
use waiters::{Blocked, Dir, Waiters};

mod describe;
pub(crate) mod limits;
mod notify;
mod waiters;

pub(crate) use describe::{describe_io_error, describe_open_error, describe_unlink_error};

/// An absolute CLOCK_REALTIME deadline of zero: the kernel's fast path for
/// "do not wait" (schedule_hrtimeout returns at once for an expiry of 0),
/// which costs the same as an O_NONBLOCK call and leaves O_NONBLOCK alone.
const EXPIRED: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// An open kernel message queue: the handle's descriptor, plus a second,
/// O_NONBLOCK descriptor on the same queue for try-once calls (an O_NONBLOCK
/// call returns before the kernel's wait machinery, which even a zero deadline
/// enters). Both are closed by [`KernelQueue::shutdown`] or on drop.
#[derive(Debug)]
// In this order: what a send or receive reads (the descriptors, the
// blocking hint) shares the first cache line.
#[repr(C)]
pub(crate) struct KernelQueue {
    fd: RawFd,
    /// The O_NONBLOCK twin, or -1 when it could not be opened (no /proc):
    /// try-once calls then use a zero deadline on `fd`.
    nb_fd: RawFd,
    /// An eventfd, made on the first wait, that [`KernelQueue::wake_waiters`]
    /// makes readable for good, so every wait of the handle (they all wait in
    /// ppoll on it as well) ends when the handle is closed. -1 when it could
    /// not be made: waits then wake every [`NO_WAKER_SLICE`] to look.
    waker: OnceLock<RawFd>,
    /// The threads waiting inside the kernel's own call, for close to wake.
    waiters: Waiters,
    shut: AtomicBool,
}

/// How often a wait looks whether the handle was closed when it has no waker.
const NO_WAKER_SLICE: Duration = Duration::from_millis(50);

impl Drop for KernelQueue {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn errno_result(r: libc::c_int) -> std::result::Result<(), Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl KernelQueue {
    /// Opens (or creates) a queue. Descriptors are always close-on-exec.
    fn open_raw(req: &OpenRequest<'_>) -> std::result::Result<KernelQueue, Errno> {
        let mut flags = MQ_OFlag::O_CLOEXEC;
        flags |= match (req.read, req.write) {
            (true, true) => MQ_OFlag::O_RDWR,
            (false, true) => MQ_OFlag::O_WRONLY,
            _ => MQ_OFlag::O_RDONLY,
        };
        if req.create {
            flags |= MQ_OFlag::O_CREAT;
        }
        if req.exclusive {
            flags |= MQ_OFlag::O_EXCL;
        }
        if req.nonblocking {
            flags |= MQ_OFlag::O_NONBLOCK;
        }
        let attr = MqAttr::new(0, req.max_messages, req.max_message_size, 0);
        let mode = Mode::from_bits_truncate(req.mode as libc::mode_t);
        let mqd = mqueue::mq_open(
            req.name,
            flags,
            mode,
            if req.create { Some(&attr) } else { None },
        )?;
        let fd = mqd.into_raw_fd();
        // Re-opening the descriptor through /proc gives a new open file
        // description of the same queue, so its O_NONBLOCK is its own.
        let nb_fd = std::fs::OpenOptions::new()
            .read(req.read)
            .write(req.write)
            .custom_flags(libc::O_NONBLOCK)
            .open(format!("/proc/self/fd/{fd}"))
            .map_or(-1, IntoRawFd::into_raw_fd);
        Ok(KernelQueue {
            fd,
            nb_fd,
            waker: OnceLock::new(),
            waiters: Waiters::new(),
            shut: AtomicBool::new(false),
        })
    }

    // Try-once calls use the O_NONBLOCK twin when the caller will not wait
    // (it returns before the kernel's wait machinery), else the handle's own
    // descriptor with a zero deadline, which tells a non-blocking handle
    // (EAGAIN) from a full / empty queue (ETIMEDOUT).

    /// (flags, max_messages, max_message_size, current_messages)
    fn getattr(&self) -> Result<libc::mq_attr> {
        // SAFETY: mq_attr is plain data; all-zero is a valid value.
        let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
        // SAFETY: `a` is a valid, writable mq_attr; the descriptor is open.
        errno_result(unsafe { libc::mq_getattr(self.fd, &mut a) })
            .map_err(|e| describe_io_error(e, "mq_getattr"))?;
        Ok(a)
    }

    /// One attempt that does not wait: on the O_NONBLOCK twin when the
    /// caller will not wait, else on the handle's descriptor with a zero
    /// deadline (which tells a non-blocking handle from a full queue).
    #[inline]
    fn try_send_now(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        let nb = !p.will_wait() && self.nb_fd >= 0;
        // SAFETY: `msg` is a valid slice for reads of `msg.len()` bytes and
        // EXPIRED a valid timespec; both descriptors are open.
        let r = unsafe {
            if nb {
                libc::mq_send(self.nb_fd, msg.as_ptr().cast(), msg.len(), priority)
            } else {
                libc::mq_timedsend(self.fd, msg.as_ptr().cast(), msg.len(), priority, &EXPIRED)
            }
        };
        if r == 0 {
            Attempt::Done(())
        } else {
            classify(Errno::last(), nb, "mq_timedsend")
        }
    }

    /// See [`KernelQueue::try_send_now`].
    #[inline]
    fn try_receive_now(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        let nb = !p.will_wait() && self.nb_fd >= 0;
        let mut prio = 0u32;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes, `prio` is a
        // valid u32 and EXPIRED a valid timespec; both descriptors are open.
        let n = unsafe {
            if nb {
                libc::mq_receive(self.nb_fd, buf.as_mut_ptr().cast(), buf.len(), &mut prio)
            } else {
                libc::mq_timedreceive(
                    self.fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut prio,
                    &EXPIRED,
                )
            }
        };
        if n >= 0 {
            Attempt::Done((n as usize, prio))
        } else {
            classify(Errno::last(), nb, "mq_timedreceive")
        }
    }

    // A call without a timeout: a plain try on the O_NONBLOCK twin (what
    // raw mq_send costs when there is room), then, if the queue is full, a
    // sleep inside the kernel's own blocking call on the handle's descriptor
    // (EAGAIN there: the handle is non-blocking). After a try that had to
    // wait, the next few calls block at once (one system call, like raw
    // mq_*, when a peer keeps the queue full / empty as in ping-pong).
    // Where the kernel wait is not possible (see waiters), the zero-deadline
    // try, and the core waits in ppoll.

    #[inline]
    fn send_forever(&self, msg: &[u8], priority: u32) -> Attempt<()> {
        if self.waiters.prefer_blocking(Dir::Send) {
            return self.send_blocking(msg, priority);
        }
        match self.try_send_now(msg, priority, Patience::Once) {
            Attempt::NotNow => self.send_after_try(msg, priority),
            other => other,
        }
    }

    /// The try found the queue full: block from now on for a while.
    #[inline(never)]
    fn send_after_try(&self, msg: &[u8], priority: u32) -> Attempt<()> {
        if self.nb_fd >= 0 {
            self.waiters.found_waiting(Dir::Send);
        }
        self.send_blocking(msg, priority)
    }

    #[inline(never)]
    fn send_blocking(&self, msg: &[u8], priority: u32) -> Attempt<()> {
        // SAFETY: `msg` is a valid slice for reads of `msg.len()` bytes; the
        // descriptor is open (the core counts this call).
        let blocked = self.waiters.block(|| unsafe {
            libc::mq_send(self.fd, msg.as_ptr().cast(), msg.len(), priority) as isize
        });
        match self.kernel_outcome(blocked, "mq_send") {
            Some(a) => a.map_done(|_| ()),
            None => self.try_send_now(msg, priority, Patience::Forever),
        }
    }

    #[inline]
    fn receive_forever(&self, buf: &mut [u8]) -> Attempt<(usize, u32)> {
        if self.waiters.prefer_blocking(Dir::Receive) {
            return self.receive_blocking(buf);
        }
        match self.try_receive_now(buf, Patience::Once) {
            Attempt::NotNow => self.receive_after_try(buf),
            other => other,
        }
    }

    /// The try found the queue empty: block from now on for a while.
    #[inline(never)]
    fn receive_after_try(&self, buf: &mut [u8]) -> Attempt<(usize, u32)> {
        if self.nb_fd >= 0 {
            self.waiters.found_waiting(Dir::Receive);
        }
        self.receive_blocking(buf)
    }

    #[inline(never)]
    fn receive_blocking(&self, buf: &mut [u8]) -> Attempt<(usize, u32)> {
        let mut prio = 0u32;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes and `prio`
        // is a valid u32; the descriptor is open (the core counts this call).
        let blocked = self.waiters.block(|| unsafe {
            libc::mq_receive(self.fd, buf.as_mut_ptr().cast(), buf.len(), &mut prio)
        });
        match self.kernel_outcome(blocked, "mq_receive") {
            Some(a) => a.map_done(|n| (n, prio)),
            None => self.try_receive_now(buf, Patience::Forever),
        }
    }

    /// What a wait inside the kernel's blocking call came to, or None when
    /// it could not be made (the caller tries without waiting instead).
    #[inline]
    fn kernel_outcome(&self, b: Blocked, call: &'static str) -> Option<Attempt<usize>> {
        Some(match b {
            Blocked::Unavailable => return None,
            Blocked::Returned(n, _) if n >= 0 => Attempt::Done(n as usize),
            // Closing: "not now", and the core's closed check says the rest.
            Blocked::Closing => Attempt::NotNow,
            Blocked::Returned(_, Errno::EINTR) if self.waiters.closing() => Attempt::NotNow,
            Blocked::Returned(_, Errno::EINTR) => Attempt::Interrupted,
            Blocked::Returned(_, Errno::EAGAIN) => Attempt::NonBlocking,
            Blocked::Returned(_, e) => Attempt::failed(describe_io_error(e, call)),
        })
    }
}

impl QueueBackend for KernelQueue {
    const NAME_MAX: usize = limits::NAME_MAX;
    const PRIORITY_MAX: u32 = limits::PRIORITY_MAX;

    fn default_shape() -> (i64, i64) {
        (limits::msg_max(), limits::msgsize_max())
    }

    fn supported() -> bool {
        cfg!(target_os = "linux")
    }

    fn open(req: &OpenRequest<'_>) -> Result<KernelQueue> {
        KernelQueue::open_raw(req).map_err(|e| describe_open_error(e, req))
    }

    fn unlink(name: &str) -> Result<()> {
        mqueue::mq_unlink(name).map_err(|e| describe_unlink_error(e, name))
    }

    /// Exclusive creation with sizes the kernel refuses: EEXIST if the
    /// queue exists (checked first), EINVAL if not, and nothing is created
    /// or opened either way.
    fn exists(name: &str) -> Result<bool> {
        let attr = MqAttr::new(0, 0, 0, 0);
        let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_CLOEXEC;
        match mqueue::mq_open(name, flags, Mode::S_IRUSR, Some(&attr)) {
            Err(Errno::EEXIST) => Ok(true),
            Err(Errno::EINVAL) => Ok(false),
            Err(e) => Err(super::exists_error(e as i32, name)),
            Ok(mqd) => {
                // A kernel that took zero sizes: undo the creation.
                let _ = mqueue::mq_close(mqd);
                let _ = mqueue::mq_unlink(name);
                Ok(false)
            }
        }
    }

    /// Closes every descriptor; later calls do nothing. The caller
    /// guarantees that no other call on this queue is in progress or will start.
    fn shutdown(&self) {
        if self.shut.swap(true, Ordering::AcqRel) {
            return;
        }
        let waker = self.waker.get().copied().unwrap_or(-1);
        for fd in [waker, self.nb_fd, self.fd] {
            if fd >= 0 {
                // SAFETY: we own these descriptors and close each exactly once
                // (guarded by `shut`); nothing uses them after shutdown.
                unsafe { libc::close(fd) };
            }
        }
    }

    /// On Linux an mqd_t is a file descriptor usable with poll/epoll.
    fn readiness_fd(&self) -> Option<RawFd> {
        Some(self.fd)
    }

    #[inline]
    fn try_send(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        if p == Patience::Forever {
            return self.send_forever(msg, priority);
        }
        self.try_send_now(msg, priority, p)
    }

    #[inline]
    fn try_receive(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        if p == Patience::Forever {
            return self.receive_forever(buf);
        }
        self.try_receive_now(buf, p)
    }

    /// Makes sure the handle has its close waker before a wait.
    fn prepare_wait(&self) {
        self.waker.get_or_init(|| {
            // SAFETY: plain eventfd(2) call; the descriptor is owned by `waker`.
            unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }
        });
    }

    fn wake_waiters(&self) {
        self.waiters.wake_all();
        if let Some(&w) = self.waker.get() {
            if w >= 0 {
                // SAFETY: `w` is this handle's open eventfd; writing 8 bytes
                // from a valid u64 is its protocol. Never read, so it stays
                // readable.
                unsafe { libc::eventfd_write(w, 1) };
            }
        }
    }

    /// Waits in ppoll on the queue's descriptor and the close waker (a
    /// relative timeout, measured on CLOCK_MONOTONIC).
    fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Wake {
        let events = match interest {
            Interest::Readable => libc::POLLIN,
            Interest::Writable => libc::POLLOUT,
        };
        let waker = self.waker.get().copied().unwrap_or(-1);
        let timeout = if waker < 0 {
            Some(timeout.map_or(NO_WAKER_SLICE, |d| d.min(NO_WAKER_SLICE)))
        } else {
            timeout
        };
        let mut pfd = [
            libc::pollfd {
                fd: self.fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: waker,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let nfds = if waker < 0 { 1 } else { 2 };
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // A bounded wait should end when asked: without this, the thread's
        // timer slack (50 us by default) lets the kernel fire the timeout up
        // to that much late. Only for this wait; restored right after.
        let _slack = ts.as_ref().map(|_| TightTimerSlack::new());
        // SAFETY: `pfd` holds `nfds` valid pollfds, `tsp` is null or points
        // to a valid timespec, and a null sigmask means "keep the current mask".
        let r = unsafe { libc::ppoll(pfd.as_mut_ptr(), nfds, tsp, std::ptr::null()) };
        match r {
            0 => Wake::Elapsed,
            r if r > 0 => Wake::Ready,
            _ => match Errno::last() {
                Errno::EINTR => Wake::Interrupted,
                e => Wake::Failed(describe_io_error(e, "ppoll")),
            },
        }
    }

    fn attributes(&self) -> Result<Attributes> {
        let a = self.getattr()?;
        Ok(Attributes {
            max_messages: a.mq_maxmsg,
            max_message_size: a.mq_msgsize,
            current_messages: a.mq_curmsgs,
            block: a.mq_flags & libc::O_NONBLOCK as libc::c_long == 0,
        })
    }

    fn block(&self) -> Result<bool> {
        Ok(self.attributes()?.block)
    }

    /// Sets or clears O_NONBLOCK on this handle's descriptor only.
    fn set_block(&self, block: bool) -> Result<()> {
        // SAFETY: mq_attr is plain data; all-zero is a valid value.
        let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
        a.mq_flags = if block {
            0
        } else {
            libc::O_NONBLOCK as libc::c_long
        };
        // SAFETY: `a` is a valid mq_attr, the old-value pointer may be null;
        // the descriptor is open. Only mq_flags is used by mq_setattr.
        errno_result(unsafe { libc::mq_setattr(self.fd, &a, std::ptr::null_mut()) })
            .map_err(|e| describe_io_error(e, "mq_setattr"))
    }

    fn notify_signal(&self, signo: i32) -> std::result::Result<(), NotifyError> {
        self.request_signal(signo).map_err(notify_refusal)
    }

    fn notify_callback(
        &self,
        id: u64,
        deliveries: &mut super::Deliveries,
    ) -> std::result::Result<(), NotifyError> {
        self.request_thread(id, deliveries.state())
            .map_err(notify_refusal)
    }

    fn notify_cancel(&self) -> Result<()> {
        self.cancel_request()
            .map_err(describe::describe_notify_error)
    }

    fn busy_error(name: &str, own: bool) -> Error {
        describe::describe_busy(name, own)
    }

    fn dead_receipts(&self) -> Result<Vec<crate::types::DeadReceipt>> {
        Err(Error::fixed(
            crate::error::ErrorKind::NotSupported,
            "the kernel backend keeps no receipts (mq_receive leaves none); receipts of dead \
             receivers exist only on the shared-memory backend (open the queue with backend shm)",
        ))
    }
}

fn notify_refusal(e: Errno) -> NotifyError {
    match e {
        Errno::EBUSY => NotifyError::Busy,
        other => NotifyError::Failed(describe::describe_notify_error(other)),
    }
}

/// Sets the calling thread's timer slack to 1 ns while it lives and puts the
/// previous value back when dropped (PR_SET_TIMERSLACK is per thread).
struct TightTimerSlack(Option<libc::c_ulong>);

impl TightTimerSlack {
    fn new() -> Self {
        // SAFETY: PR_GET_TIMERSLACK takes no pointer arguments.
        let old = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        if old > 1 {
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer (0 would mean
            // "the default", so 1 ns is the tightest value).
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
            TightTimerSlack(Some(old as libc::c_ulong))
        } else {
            TightTimerSlack(None)
        }
    }
}

impl Drop for TightTimerSlack {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: as above; restores the value read in `new`.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, old, 0, 0, 0) };
        }
    }
}

/// What a failed non-waiting call means: on the O_NONBLOCK twin (`nb`)
/// EAGAIN is "not now"; on the handle's own descriptor with a zero deadline
/// ETIMEDOUT is "not now" and EAGAIN says the handle is non-blocking.
#[inline(always)]
fn classify<T>(e: Errno, nb: bool, call: &'static str) -> Attempt<T> {
    match e {
        Errno::EAGAIN if nb => Attempt::NotNow,
        Errno::ETIMEDOUT => Attempt::NotNow,
        Errno::EAGAIN => Attempt::NonBlocking,
        Errno::EINTR => Attempt::Interrupted,
        other => Attempt::failed(describe_io_error(other, call)),
    }
}
