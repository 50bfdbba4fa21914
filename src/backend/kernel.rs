//! The Linux kernel backend: POSIX message queues through `mq_*` (nix to
//! open and unlink by name, libc for the per-call system calls so the hot path
//! is one call with no conversions), readiness through ppoll, and the meaning of
//! each errno value turned into a detail that names the cause and the fix.

use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::{self, MQ_OFlag, MqAttr};
use nix::sys::stat::Mode;

use crate::error::{errno_text, Error, ErrorKind};
use crate::limits::{self, bytes_text, queue_cost};

/// What a non-waiting attempt returned.
pub(crate) enum Attempt<T> {
    /// The operation completed.
    Done(T),
    /// The queue is full (send) or empty (receive) right now.
    NotNow,
    /// The descriptor is non-blocking (`block = false`): do not wait at all.
    NonBlocking,
    /// Some other failure.
    Failed(Errno),
}

/// Which readiness to wait for.
#[derive(Clone, Copy)]
pub(crate) enum Interest {
    Readable,
    Writable,
}

/// An absolute CLOCK_REALTIME deadline of zero: the kernel's fast path for
/// "do not wait" (schedule_hrtimeout returns at once for an expiry of 0),
/// which costs the same as an O_NONBLOCK call and leaves O_NONBLOCK alone.
const EXPIRED: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// Parameters of an mq_open call.
pub(crate) struct OpenRequest<'a> {
    pub name: &'a str,
    pub read: bool,
    pub write: bool,
    pub create: bool,
    pub exclusive: bool,
    pub nonblocking: bool,
    pub mode: u32,
    pub max_messages: i64,
    pub max_message_size: i64,
}

/// An open kernel message queue: the handle's descriptor, plus a second,
/// O_NONBLOCK descriptor on the same queue for try-once calls (an O_NONBLOCK
/// call returns before the kernel's wait machinery, which even a zero deadline
/// enters). Both are closed by [`KernelQueue::shutdown`] or on drop.
#[derive(Debug)]
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
    shut: AtomicBool,
}

/// How often a wait looks whether the handle was closed when it has no waker.
const NO_WAKER_SLICE: Duration = Duration::from_millis(50);

impl Drop for KernelQueue {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn errno_result(r: libc::c_int) -> Result<(), Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl KernelQueue {
    /// Opens (or creates) a queue. Descriptors are always close-on-exec.
    pub fn open(req: &OpenRequest<'_>) -> Result<KernelQueue, Errno> {
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
            shut: AtomicBool::new(false),
        })
    }

    /// Closes both descriptors; later calls do nothing. The caller guarantees
    /// that no other call on this queue is in progress or will start.
    pub fn shutdown(&self) {
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

    /// The descriptor (on Linux an mqd_t is a file descriptor usable with poll/epoll).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Try once: send if there is room now, never wait.
    #[inline]
    pub fn try_send(&self, msg: &[u8], priority: u32) -> Attempt<()> {
        if self.nb_fd < 0 {
            return self.attempt_send(msg, priority);
        }
        // SAFETY: as in `send`, on the O_NONBLOCK twin.
        let r = unsafe { libc::mq_send(self.nb_fd, msg.as_ptr().cast(), msg.len(), priority) };
        if r == 0 {
            Attempt::Done(())
        } else {
            classify_nb(Errno::last())
        }
    }

    /// Try once: receive if a message waits now, never wait.
    #[inline]
    pub fn try_receive(&self, buf: &mut [u8]) -> Attempt<(usize, u32)> {
        if self.nb_fd < 0 {
            return self.attempt_receive(buf);
        }
        let mut prio = 0u32;
        // SAFETY: as in `receive`, on the O_NONBLOCK twin.
        let n =
            unsafe { libc::mq_receive(self.nb_fd, buf.as_mut_ptr().cast(), buf.len(), &mut prio) };
        if n >= 0 {
            Attempt::Done((n as usize, prio))
        } else {
            classify_nb(Errno::last())
        }
    }

    /// Send without waiting on the handle's own descriptor, telling a
    /// non-blocking handle ([`Attempt::NonBlocking`]) from a full queue.
    #[inline]
    pub fn attempt_send(&self, msg: &[u8], priority: u32) -> Attempt<()> {
        // SAFETY: `msg` is a valid slice for reads of `msg.len()` bytes and
        // EXPIRED a valid timespec; the descriptor is open.
        let r = unsafe {
            libc::mq_timedsend(self.fd, msg.as_ptr().cast(), msg.len(), priority, &EXPIRED)
        };
        if r == 0 {
            Attempt::Done(())
        } else {
            classify(Errno::last())
        }
    }

    /// Receive without waiting on the handle's own descriptor, telling a
    /// non-blocking handle ([`Attempt::NonBlocking`]) from an empty queue.
    #[inline]
    pub fn attempt_receive(&self, buf: &mut [u8]) -> Attempt<(usize, u32)> {
        let mut prio = 0u32;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes, `prio` is a
        // valid u32 and EXPIRED a valid timespec; the descriptor is open.
        let r = unsafe {
            libc::mq_timedreceive(
                self.fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut prio,
                &EXPIRED,
            )
        };
        if r >= 0 {
            Attempt::Done((r as usize, prio))
        } else {
            classify(Errno::last())
        }
    }

    /// Makes sure the handle has its close waker before a wait; the caller
    /// then checks whether the handle is closed (after a SeqCst fence, paired
    /// with the one in close), so a close either is seen or wakes the wait.
    pub fn prepare_wait(&self) {
        self.waker.get_or_init(|| {
            // SAFETY: plain eventfd(2) call; the descriptor is owned by `waker`.
            unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }
        });
    }

    /// Ends every wait of this handle, now and later (the handle is closing).
    pub fn wake_waiters(&self) {
        if let Some(&w) = self.waker.get() {
            if w >= 0 {
                // SAFETY: `w` is this handle's open eventfd; writing 8 bytes
                // from a valid u64 is its protocol. Never read, so it stays
                // readable.
                unsafe { libc::eventfd_write(w, 1) };
            }
        }
    }

    /// Waits until the queue is readable/writable, the handle is being closed
    /// ([`KernelQueue::wake_waiters`]), or `timeout` passes (ppoll measures
    /// a relative timeout on CLOCK_MONOTONIC). Returns whether something
    /// became ready; the caller tells which by trying again.
    pub fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Result<bool, Errno> {
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
        if r < 0 {
            Err(Errno::last())
        } else {
            Ok(r > 0)
        }
    }

    /// (flags, max_messages, max_message_size, current_messages)
    pub fn getattr(&self) -> Result<(i64, i64, i64, i64), Errno> {
        // SAFETY: mq_attr is plain data; all-zero is a valid value.
        let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
        // SAFETY: `a` is a valid, writable mq_attr; the descriptor is open.
        errno_result(unsafe { libc::mq_getattr(self.fd, &mut a) })?;
        Ok((a.mq_flags, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs))
    }

    /// Whether the flags from [`KernelQueue::getattr`] say "blocking".
    pub fn flags_block(flags: i64) -> bool {
        flags & libc::O_NONBLOCK as i64 == 0
    }

    /// Whether the descriptor blocks (O_NONBLOCK clear).
    pub fn blocking(&self) -> Result<bool, Errno> {
        let (flags, ..) = self.getattr()?;
        Ok(Self::flags_block(flags))
    }

    /// Sets or clears O_NONBLOCK on this handle's descriptor only.
    pub fn set_blocking(&self, block: bool) -> Result<(), Errno> {
        // SAFETY: mq_attr is plain data; all-zero is a valid value.
        let mut a: libc::mq_attr = unsafe { std::mem::zeroed() };
        a.mq_flags = if block { 0 } else { libc::O_NONBLOCK as i64 };
        // SAFETY: `a` is a valid mq_attr, the old-value pointer may be null;
        // the descriptor is open. Only mq_flags is used by mq_setattr.
        errno_result(unsafe { libc::mq_setattr(self.fd, &a, std::ptr::null_mut()) })
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

/// Errors of a call on the O_NONBLOCK twin: EAGAIN means "not now".
#[inline]
fn classify_nb<T>(e: Errno) -> Attempt<T> {
    match e {
        Errno::EAGAIN => Attempt::NotNow,
        other => Attempt::Failed(other),
    }
}

#[inline]
fn classify<T>(e: Errno) -> Attempt<T> {
    match e {
        Errno::ETIMEDOUT => Attempt::NotNow,
        Errno::EAGAIN => Attempt::NonBlocking,
        other => Attempt::Failed(other),
    }
}

/// Removes a queue's name. Open handles keep working.
pub(crate) fn unlink(name: &str) -> Result<(), Errno> {
    mqueue::mq_unlink(name)
}

/// The kernel's ceiling on fs.mqueue.msg_max (HARD_MSGMAX).
const HARD_MSGMAX: i64 = 65536;
/// The kernel's ceiling on fs.mqueue.msgsize_max (HARD_MSGSIZEMAX).
const HARD_MSGSIZEMAX: i64 = 16 * 1024 * 1024;

/// Where the mqueue filesystem is normally mounted.
pub(crate) const MQUEUE_MOUNT: &str = "/dev/mqueue";

/// Whether this process is (nearly) out of descriptors: listing
/// /proc/self/fd itself needs one, so failing to open it with EMFILE is the
/// answer too. Returns the number open (when known) and the limit.
fn descriptor_pressure() -> (bool, Option<u64>, u64) {
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(s, _)| s)
        .unwrap_or(u64::MAX);
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => {
            // The count includes the directory's own descriptor.
            let open = (dir.count() as u64).saturating_sub(1);
            (open + 2 >= nofile, Some(open), nofile)
        }
        Err(e) => (e.raw_os_error() == Some(libc::EMFILE), None, nofile),
    }
}

/// Turns an mq_open failure into an error that names the cause and the fix.
pub(crate) fn describe_open_error(e: Errno, req: &OpenRequest<'_>) -> Error {
    let name = req.name;
    let errno = e as i32;
    let err = match e {
        Errno::EEXIST => Error::new(
            ErrorKind::Exists,
            format!(
                "queue {name} already exists and exclusive creation (O_EXCL) was asked for; \
                 open it without O_EXCL, or remove it first (pmq_unlink / `pmq rm {name}`)"
            ),
        ),
        Errno::ENOENT => Error::new(
            ErrorKind::NotFound,
            format!("queue {name} does not exist; pass O_CREAT (PMQ_O_CREAT) to create it"),
        ),
        Errno::EACCES => {
            let access = match (req.read, req.write) {
                (true, true) => "read and write",
                (true, false) => "read",
                _ => "write",
            };
            Error::new(
                ErrorKind::Permission,
                format!(
                    "permission denied: queue {name}'s mode or owner does not allow {access} access \
                     for this user; ask for less access, or change the queue's mode \
                     (ls -l {MQUEUE_MOUNT}{name}; chmod as its owner)"
                ),
            )
        }
        Errno::EINVAL if req.create => {
            let l = limits::Limits::read();
            if req.max_messages > HARD_MSGMAX {
                Error::new(
                    ErrorKind::SystemLimit,
                    format!(
                        "max_messages {} is above the kernel's ceiling of {HARD_MSGMAX} messages \
                         per queue, which no sysctl raises; ask for at most {} (fs.mqueue.msg_max)",
                        req.max_messages, l.msg_max
                    ),
                )
            } else if req.max_message_size > HARD_MSGSIZEMAX {
                Error::new(
                    ErrorKind::SystemLimit,
                    format!(
                        "max_message_size {} is above the kernel's ceiling of {HARD_MSGSIZEMAX} \
                         bytes, which no sysctl raises; ask for at most {} (fs.mqueue.msgsize_max)",
                        req.max_message_size, l.msgsize_max
                    ),
                )
            } else if req.max_messages > l.msg_max {
                Error::new(
                    ErrorKind::SystemLimit,
                    format!(
                        "max_messages {} is above the system limit fs.mqueue.msg_max = {}; \
                         ask for at most {} messages, or raise it as root: \
                         sysctl -w fs.mqueue.msg_max={}",
                        req.max_messages, l.msg_max, l.msg_max, req.max_messages
                    ),
                )
            } else if req.max_message_size > l.msgsize_max {
                Error::new(
                    ErrorKind::SystemLimit,
                    format!(
                        "max_message_size {} is above the system limit fs.mqueue.msgsize_max = {}; \
                         ask for at most {} bytes, or raise it as root: \
                         sysctl -w fs.mqueue.msgsize_max={}",
                        req.max_message_size, l.msgsize_max, l.msgsize_max, req.max_message_size
                    ),
                )
            } else {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the kernel rejected creating {name} with max_messages {} and \
                         max_message_size {} (EINVAL); both must be at least 1 and within \
                         fs.mqueue.msg_max = {} and fs.mqueue.msgsize_max = {}",
                        req.max_messages, req.max_message_size, l.msg_max, l.msgsize_max
                    ),
                )
            }
        }
        Errno::EMFILE => {
            let (fds_exhausted, open, nofile) = descriptor_pressure();
            // Without O_CREAT no allowance is charged: EMFILE can only be descriptors.
            if fds_exhausted || !req.create {
                let open = open.map_or_else(|| "all".to_string(), |n| n.to_string());
                Error::new(
                    ErrorKind::SystemLimit,
                    format!(
                        "this process has {open} descriptors open, at its limit \
                         RLIMIT_NOFILE = {nofile}; close some handles (each pmq queue handle \
                         uses two descriptors), or raise it with `ulimit -n`"
                    ),
                )
            } else {
                let (soft, _) = limits::rlimit_msgqueue();
                let cost = queue_cost(req.max_messages, req.max_message_size);
                Error::new(
                    ErrorKind::SystemLimit,
                    format!(
                        "creating {name} needs {cost} bytes of this user's message-queue \
                         allowance RLIMIT_MSGQUEUE ({} x {} bytes plus overhead), and the user's \
                         existing queues leave less than that of the limit of {}; unlink unused \
                         queues (ls {MQUEUE_MOUNT}), create smaller ones (fewer or smaller \
                         messages), or raise the limit: `ulimit -q` / LimitMSGQUEUE= in systemd / \
                         msgqueue in /etc/security/limits.conf",
                        req.max_messages,
                        req.max_message_size,
                        bytes_text(soft)
                    ),
                )
            }
        }
        Errno::ENFILE => Error::new(
            ErrorKind::SystemLimit,
            "the system-wide limit on open files was reached (fs.file-max); close files or raise \
             it: sysctl -w fs.file-max=N",
        ),
        Errno::ENOSPC => {
            let l = limits::Limits::read();
            Error::new(
                ErrorKind::SystemLimit,
                format!(
                    "the system already has fs.mqueue.queues_max = {} queues; unlink unused \
                     queues (ls {MQUEUE_MOUNT}) or raise it as root: sysctl -w fs.mqueue.queues_max={}",
                    l.queues_max,
                    l.queues_max.saturating_mul(2)
                ),
            )
        }
        Errno::ENOMEM => Error::new(
            ErrorKind::OutOfMemory,
            format!("the kernel is out of memory for queue {name}; try smaller queues"),
        ),
        Errno::ENAMETOOLONG => Error::new(
            ErrorKind::InvalidArgument,
            format!("queue name {name:?} is too long (the limit is 255 bytes after the slash)"),
        ),
        Errno::ENOSYS => not_supported(),
        other => Error::new(
            ErrorKind::Os,
            format!("mq_open({name}) failed: {}", errno_text(other as i32)),
        ),
    };
    err.with_errno(errno)
}

/// The error for a kernel without POSIX message queues.
pub(crate) fn not_supported() -> Error {
    Error::new(
        ErrorKind::NotSupported,
        "this kernel has no POSIX message queues (CONFIG_POSIX_MQUEUE is off)",
    )
    .with_errno(libc::ENOSYS)
}

/// Turns an mq_unlink failure into an error.
pub(crate) fn describe_unlink_error(e: Errno, name: &str) -> Error {
    let err = match e {
        Errno::ENOENT => Error::new(
            ErrorKind::NotFound,
            format!("queue {name} does not exist (already unlinked?)"),
        ),
        Errno::EACCES | Errno::EPERM => Error::new(
            ErrorKind::Permission,
            format!("permission denied unlinking {name}: only its owner (or root) may remove it"),
        ),
        other => Error::new(
            ErrorKind::Os,
            format!("mq_unlink({name}) failed: {}", errno_text(other as i32)),
        ),
    };
    err.with_errno(e as i32)
}

/// Turns a send/receive/attribute failure into an error.
pub(crate) fn describe_io_error(e: Errno, what: &'static str) -> Error {
    let err = match e {
        Errno::EINTR => Error::fixed(
            ErrorKind::Interrupted,
            "a signal arrived during the wait and its handler returned; nothing was sent or \
             received, call again (or open with retry_on_interrupt to retry automatically)",
        ),
        Errno::EAGAIN => Error::fixed(
            ErrorKind::WouldBlock,
            "the handle is non-blocking (block = false) and the call could not complete now",
        ),
        Errno::EBADF => Error::fixed(
            ErrorKind::Permission,
            "the handle was not opened for this direction (send needs write access, receive \
             needs read access)",
        ),
        Errno::EMSGSIZE => Error::fixed(
            ErrorKind::MessageTooLarge,
            "the message does not fit the queue's max_message_size",
        ),
        Errno::EINVAL => Error::fixed(
            ErrorKind::InvalidArgument,
            "the kernel rejected the call's arguments (priority or timeout)",
        ),
        Errno::ENOMEM => Error::fixed(ErrorKind::OutOfMemory, "the kernel is out of memory"),
        other => Error::new(
            ErrorKind::Os,
            format!("{what} failed: {}", errno_text(other as i32)),
        ),
    };
    err.with_errno(e as i32)
}

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
                        set_all_signals(libc::SIG_UNBLOCK);
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

/// Blocks (SIG_BLOCK), unblocks (SIG_UNBLOCK) or sets (SIG_SETMASK) every
/// signal for the calling thread; returns the previous mask.
fn set_all_signals(how: libc::c_int) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully, and
    // pthread_sigmask reads `all` and writes `old`, both valid.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(how, &all, &mut old);
        old
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
        let block = set_all_signals(libc::SIG_BLOCK);
        for s in &self.sockets {
            s.drain(deliver, removed);
        }
        // SAFETY: `block` is the mask saved above; restoring it is valid.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &block, std::ptr::null_mut()) };
        if let Some(s) = self.sockets.iter().find(|s| s.has_room()) {
            return Ok(Arc::clone(s));
        }
        let s = NotifySocket::open()?;
        let helper = Arc::clone(&s);
        // The helper (and the callback threads it starts) must not take the
        // process's signals: start it with all of them blocked.
        let old = set_all_signals(libc::SIG_BLOCK);
        let spawned = std::thread::Builder::new()
            .name("pmq-notify-helper".into())
            .spawn(move || helper.serve(deliver, removed));
        // SAFETY: `old` is the mask saved above; restoring it is valid.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
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

impl KernelQueue {
    /// Asks for `signo` when the queue goes from empty to non-empty.
    pub fn notify_signal(&self, signo: i32) -> Result<(), Errno> {
        let ev = sigevent(
            libc::SIGEV_SIGNAL,
            signo,
            self.fd as usize as *mut libc::c_void,
        );
        sys_mq_notify(self.fd, Some(&ev))
    }

    /// Asks for a delivery of registration `id` on a new thread when the
    /// queue goes from empty to non-empty, through `delivery`.
    pub fn notify_thread(&self, id: u64, delivery: &mut Delivery) -> Result<(), Errno> {
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
    pub fn notify_cancel(&self) -> Result<(), Errno> {
        sys_mq_notify(self.fd, None)
    }
}

/// The pid holding a queue's notification registration, from the mqueue
/// filesystem ("NOTIFY_PID:<pid>"), if it can be read. Never call this from a
/// process that may hold the registration: closing the file drops it.
pub(crate) fn notify_holder(name: &str) -> Option<i32> {
    let text = std::fs::read_to_string(format!("{MQUEUE_MOUNT}{name}")).ok()?;
    let field = text
        .split_whitespace()
        .find_map(|f| f.strip_prefix("NOTIFY_PID:"))?;
    field.parse().ok().filter(|&pid| pid != 0)
}

/// Turns an mq_notify failure into an error. `own` says whether a handle of
/// this process may hold the registration: then the mqueue filesystem is not
/// read, because closing any descriptor of the queue (that file included)
/// makes Linux drop the registration of the process that holds it.
pub(crate) fn describe_notify_error(e: Errno, name: &str, own: bool) -> Error {
    let err = match e {
        Errno::EBUSY => {
            let who = if own {
                "another handle of this process may hold it".to_string()
            } else {
                match notify_holder(name) {
                    Some(pid) => format!("process {pid} holds it"),
                    None => "another process holds it".to_string(),
                }
            };
            Error::new(
                ErrorKind::Busy,
                format!(
                    "queue {name} already has a notification registration ({who}); only one \
                     is allowed per queue system-wide: wait until it is delivered or cancelled"
                ),
            )
        }
        Errno::EINVAL => Error::fixed(
            ErrorKind::InvalidArgument,
            "the kernel rejected the notification request (invalid signal number)",
        ),
        Errno::ENOMEM => Error::fixed(
            ErrorKind::OutOfMemory,
            "out of memory for the notification thread",
        ),
        other => Error::new(
            ErrorKind::Os,
            format!("mq_notify({name}) failed: {}", errno_text(other as i32)),
        ),
    };
    err.with_errno(e as i32)
}
