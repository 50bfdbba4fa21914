//! The Linux kernel backend: POSIX message queues through `mq_*` (nix to
//! open and unlink by name, libc for the per-call system calls so the hot path
//! is one call with no conversions), readiness through ppoll, and the meaning of
//! each errno value turned into a detail that names the cause and the fix.

use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
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
    shut: AtomicBool,
}

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
            shut: AtomicBool::new(false),
        })
    }

    /// Closes both descriptors; later calls do nothing. The caller guarantees
    /// that no other call on this queue is in progress or will start.
    pub fn shutdown(&self) {
        if self.shut.swap(true, Ordering::AcqRel) {
            return;
        }
        for fd in [self.nb_fd, self.fd] {
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

    /// Blocking (per the descriptor's state) send.
    #[inline]
    pub fn send(&self, msg: &[u8], priority: u32) -> Result<(), Errno> {
        // SAFETY: `msg` is valid for reads of `msg.len()` bytes; the
        // descriptor is open while a call is in progress.
        errno_result(unsafe { libc::mq_send(self.fd, msg.as_ptr().cast(), msg.len(), priority) })
    }

    /// Blocking (per the descriptor's state) receive.
    #[inline]
    pub fn receive(&self, buf: &mut [u8]) -> Result<(usize, u32), Errno> {
        let mut prio = 0u32;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes and `prio`
        // is a valid u32; the descriptor is open while a call is in progress.
        let n = unsafe { libc::mq_receive(self.fd, buf.as_mut_ptr().cast(), buf.len(), &mut prio) };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok((n as usize, prio))
        }
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

    /// Waits until the queue is readable/writable or `timeout` passes
    /// (ppoll measures a relative timeout on CLOCK_MONOTONIC).
    /// Returns whether the descriptor became ready.
    pub fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Result<bool, Errno> {
        let events = match interest {
            Interest::Readable => libc::POLLIN,
            Interest::Writable => libc::POLLOUT,
        };
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
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
        // SAFETY: `pfd` is one valid pollfd, `tsp` is null or points to a
        // valid timespec, and a null sigmask means "keep the current mask".
        let r = unsafe { libc::ppoll(&mut pfd, 1, tsp, std::ptr::null()) };
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

/// glibc's `struct sigevent` with the SIGEV_THREAD members of its union
/// spelled out (the libc crate exposes only the thread-id member).
/// 64 bytes on Linux: value, signo, notify, then a 48-byte union.
#[repr(C)]
struct SigEventThread {
    value: libc::sigval,
    signo: libc::c_int,
    notify: libc::c_int,
    function: Option<extern "C" fn(libc::sigval)>,
    attribute: *mut libc::pthread_attr_t,
    _pad: [u8; 32],
}

const _: () =
    assert!(std::mem::size_of::<SigEventThread>() == std::mem::size_of::<libc::sigevent>());

extern "C" {
    #[link_name = "mq_notify"]
    fn mq_notify_raw(mqdes: libc::mqd_t, sevp: *const SigEventThread) -> libc::c_int;
}

/// Runs on the thread glibc creates for a SIGEV_THREAD delivery. The value
/// is a registration id, never a pointer (see crate::notify).
extern "C" fn notify_trampoline(value: libc::sigval) {
    // No panic may unwind into the C library's thread.
    let _ = std::panic::catch_unwind(|| crate::notify::deliver(value.sival_ptr as usize as u64));
}

impl KernelQueue {
    fn notify_raw(&self, ev: Option<&SigEventThread>) -> Result<(), Errno> {
        let p = ev.map_or(std::ptr::null(), |e| e as *const SigEventThread);
        // SAFETY: `p` is null (cancel) or points to a fully initialised
        // sigevent-compatible struct that lives across the call; glibc copies
        // what it needs. The descriptor is open while `self` lives.
        let r = unsafe { mq_notify_raw(self.fd, p) };
        if r == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    }

    /// Asks for `signo` when the queue goes from empty to non-empty.
    pub fn notify_signal(&self, signo: i32) -> Result<(), Errno> {
        self.notify_raw(Some(&SigEventThread {
            value: libc::sigval {
                sival_ptr: self.fd as usize as *mut libc::c_void,
            },
            signo,
            notify: libc::SIGEV_SIGNAL,
            function: None,
            attribute: std::ptr::null_mut(),
            _pad: [0; 32],
        }))
    }

    /// Asks for a delivery of registration `id` on a new thread (SIGEV_THREAD)
    /// when the queue goes from empty to non-empty.
    pub fn notify_thread(&self, id: u64) -> Result<(), Errno> {
        self.notify_raw(Some(&SigEventThread {
            value: libc::sigval {
                sival_ptr: id as usize as *mut libc::c_void,
            },
            signo: 0,
            notify: libc::SIGEV_THREAD,
            function: Some(notify_trampoline),
            attribute: std::ptr::null_mut(),
            _pad: [0; 32],
        }))
    }

    /// Removes this process's registration, if it holds one (a no-op otherwise).
    pub fn notify_cancel(&self) -> Result<(), Errno> {
        self.notify_raw(None)
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
