//! What each errno value of the kernel's calls means, turned into an error
//! whose detail names the cause and the fix.

use nix::errno::Errno;

use super::limits::{self, bytes_text, queue_cost};
use super::OpenRequest;
use crate::error::{errno_text, Error, ErrorKind};

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
    let err = match e {
        Errno::EEXIST => Error::new(
            ErrorKind::Exists,
            format!(
                "queue {name} already exists and exclusive creation (O_EXCL) was asked for; \
                 open it without O_EXCL, or unlink it first"
            ),
        ),
        Errno::ENOENT => Error::new(
            ErrorKind::NotFound,
            format!("queue {name} does not exist; open it with O_CREAT to create it"),
        ),
        Errno::EACCES => permission_denied(req),
        Errno::EINVAL if req.create => bad_shape(req),
        Errno::EMFILE => out_of_allowance_or_descriptors(req),
        Errno::ENFILE => Error::new(
            ErrorKind::SystemLimit,
            "the system-wide limit on open files was reached (fs.file-max); close files or raise \
             it: sysctl -w fs.file-max=N",
        ),
        Errno::ENOSPC => {
            let queues_max = limits::Limits::read().queues_max;
            Error::new(
                ErrorKind::SystemLimit,
                format!(
                    "the system already has fs.mqueue.queues_max = {queues_max} queues; unlink \
                     unused queues (ls {MQUEUE_MOUNT}) or raise it as root: \
                     sysctl -w fs.mqueue.queues_max={}",
                    queues_max.saturating_mul(2)
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
    err.with_errno(e as i32)
}

/// EACCES: the queue's mode or owner.
fn permission_denied(req: &OpenRequest<'_>) -> Error {
    let name = req.name;
    let access = match (req.read, req.write) {
        (true, true) => "read and write",
        (true, false) => "read",
        _ => "write",
    };
    Error::new(
        ErrorKind::Permission,
        format!(
            "permission denied: queue {name}'s mode or owner does not allow {access} access for \
             this user; ask for less access, or change the queue's mode \
             (ls -l {MQUEUE_MOUNT}{name}; chmod as its owner)"
        ),
    )
}

/// EINVAL at create: which size is out of range, and which limit says so.
fn bad_shape(req: &OpenRequest<'_>) -> Error {
    let l = limits::Limits::read();
    let (m, s) = (req.max_messages, req.max_message_size);
    let (kind, detail) = if m > HARD_MSGMAX {
        (
            ErrorKind::SystemLimit,
            format!(
                "max_messages {m} is above the kernel's ceiling of {HARD_MSGMAX} messages per \
                 queue, which no sysctl raises; ask for at most {} (fs.mqueue.msg_max)",
                l.msg_max
            ),
        )
    } else if s > HARD_MSGSIZEMAX {
        (
            ErrorKind::SystemLimit,
            format!(
                "max_message_size {s} is above the kernel's ceiling of {HARD_MSGSIZEMAX} bytes, \
                 which no sysctl raises; ask for at most {} (fs.mqueue.msgsize_max)",
                l.msgsize_max
            ),
        )
    } else if m > l.msg_max {
        (
            ErrorKind::SystemLimit,
            format!(
                "max_messages {m} is above the system limit fs.mqueue.msg_max = {max}; ask for \
                 at most {max} messages, or raise it as root: sysctl -w fs.mqueue.msg_max={m}",
                max = l.msg_max
            ),
        )
    } else if s > l.msgsize_max {
        (
            ErrorKind::SystemLimit,
            format!(
                "max_message_size {s} is above the system limit fs.mqueue.msgsize_max = {max}; \
                 ask for at most {max} bytes, or raise it as root: \
                 sysctl -w fs.mqueue.msgsize_max={s}",
                max = l.msgsize_max
            ),
        )
    } else {
        (
            ErrorKind::InvalidArgument,
            format!(
                "the kernel rejected creating {} with max_messages {m} and max_message_size {s} \
                 (EINVAL); both must be at least 1 and within fs.mqueue.msg_max = {} and \
                 fs.mqueue.msgsize_max = {}",
                req.name, l.msg_max, l.msgsize_max
            ),
        )
    };
    Error::new(kind, detail)
}

/// EMFILE: this process's descriptors, or (only when creating) the user's
/// RLIMIT_MSGQUEUE allowance.
fn out_of_allowance_or_descriptors(req: &OpenRequest<'_>) -> Error {
    let (fds_exhausted, open, nofile) = descriptor_pressure();
    // Without O_CREAT no allowance is charged: EMFILE can only be descriptors.
    if fds_exhausted || !req.create {
        let open = open.map_or_else(|| "all".to_string(), |n| n.to_string());
        return Error::new(
            ErrorKind::SystemLimit,
            format!(
                "this process has {open} descriptors open, at its limit RLIMIT_NOFILE = \
                 {nofile}; close some handles (each pmq queue handle uses two descriptors), or \
                 raise it with `ulimit -n`"
            ),
        );
    }
    let (soft, _) = limits::rlimit_msgqueue();
    let cost = queue_cost(req.max_messages, req.max_message_size);
    Error::new(
        ErrorKind::SystemLimit,
        format!(
            "creating {} needs {cost} bytes of this user's message-queue allowance \
             RLIMIT_MSGQUEUE ({} x {} bytes plus overhead), and the user's existing queues \
             leave less than that of the limit of {}; unlink unused queues \
             (ls {MQUEUE_MOUNT}), create smaller ones (fewer or smaller messages), or raise \
             the limit: `ulimit -q` / LimitMSGQUEUE= in systemd / msgqueue in \
             /etc/security/limits.conf",
            req.name,
            req.max_messages,
            req.max_message_size,
            bytes_text(soft)
        ),
    )
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
/// The pid holding a queue's notification registration, from the mqueue
/// filesystem ("NOTIFY_PID:<pid>"), if it can be read. Never call this from a
/// process that may hold the registration: closing the file drops it.
fn notify_holder(name: &str) -> Option<i32> {
    let text = std::fs::read_to_string(format!("{MQUEUE_MOUNT}{name}")).ok()?;
    let field = text
        .split_whitespace()
        .find_map(|f| f.strip_prefix("NOTIFY_PID:"))?;
    field.parse().ok().filter(|&pid| pid != 0)
}

/// The error for a refused registration (EBUSY). `own` says whether a
/// handle of this process may hold it: then the mqueue filesystem is not
/// read, because closing any descriptor of the queue (that file included)
/// makes Linux drop the registration of the process that holds it.
pub(super) fn describe_busy(name: &str, own: bool) -> Error {
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
    .with_errno(libc::EBUSY)
}

/// Turns any other mq_notify failure into an error.
pub(super) fn describe_notify_error(e: Errno) -> Error {
    let err = match e {
        Errno::EINVAL => Error::fixed(
            ErrorKind::InvalidArgument,
            "the kernel rejected the notification request (invalid signal number)",
        ),
        Errno::ENOMEM => Error::fixed(
            ErrorKind::OutOfMemory,
            "out of memory for the notification thread",
        ),
        Errno::EAGAIN => Error::fixed(
            ErrorKind::SystemLimit,
            "no thread could be started to read notifications; the process or system is at \
             its thread limit (ulimit -u, kernel.threads-max)",
        ),
        other => Error::new(
            ErrorKind::Os,
            format!("mq_notify failed: {}", errno_text(other as i32)),
        ),
    };
    err.with_errno(e as i32)
}
