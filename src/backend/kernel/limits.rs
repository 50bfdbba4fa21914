//! The kernel's limits on POSIX message queues, read when asked (never frozen at
//! build time), and the arithmetic the kernel uses to charge a queue against
//! RLIMIT_MSGQUEUE.

use std::fs;

const PROC_DIR: &str = "/proc/sys/fs/mqueue";

/// Kernel default for `msg_max` when /proc cannot be read.
pub const FALLBACK_MSG_MAX: i64 = 10;
/// Kernel default for `msgsize_max` when /proc cannot be read.
pub const FALLBACK_MSGSIZE_MAX: i64 = 8192;
/// Kernel default for `queues_max` when /proc cannot be read.
pub const FALLBACK_QUEUES_MAX: i64 = 256;
/// Highest priority on Linux: sysconf(_SC_MQ_PRIO_MAX) - 1.
pub const PRIORITY_MAX: u32 = 32767;
/// Longest name the kernel accepts after the leading slash (NAME_MAX): the
/// kernel backend's limit. The shared-memory backend's is
/// [`SHM_NAME_MAX`](crate::SHM_NAME_MAX) (251); see
/// [`BackendKind::name_max`](crate::BackendKind::name_max).
pub const NAME_MAX: usize = 255;
/// `RLIM_INFINITY` as reported by [`Limits`].
pub const RLIMIT_INFINITY: u64 = u64::MAX;

/// The system's message-queue limits, read at the moment of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `/proc/sys/fs/mqueue/msg_max`: the most messages a queue may hold (sysctl fs.mqueue.msg_max).
    pub msg_max: i64,
    /// `/proc/sys/fs/mqueue/msgsize_max`: the largest message size (sysctl fs.mqueue.msgsize_max).
    pub msgsize_max: i64,
    /// `/proc/sys/fs/mqueue/queues_max`: queues allowed system-wide (sysctl fs.mqueue.queues_max).
    pub queues_max: i64,
    /// `/proc/sys/fs/mqueue/msg_default`: capacity the kernel uses when none is given.
    pub msg_default: i64,
    /// `/proc/sys/fs/mqueue/msgsize_default`: message size the kernel uses when none is given.
    pub msgsize_default: i64,
    /// RLIMIT_MSGQUEUE soft limit in bytes (`ulimit -q`), or [`RLIMIT_INFINITY`].
    pub rlimit_soft: u64,
    /// RLIMIT_MSGQUEUE hard limit in bytes, or [`RLIMIT_INFINITY`].
    pub rlimit_hard: u64,
    /// Highest message priority (sysconf(_SC_MQ_PRIO_MAX) - 1).
    pub priority_max: u32,
}

fn read_proc(file: &str, fallback: i64) -> i64 {
    fs::read_to_string(format!("{PROC_DIR}/{file}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(fallback)
}

/// `msg_max` now (the default capacity of a new pmq queue).
pub fn msg_max() -> i64 {
    read_proc("msg_max", FALLBACK_MSG_MAX)
}

/// `msgsize_max` now (the default message size of a new pmq queue).
pub fn msgsize_max() -> i64 {
    read_proc("msgsize_max", FALLBACK_MSGSIZE_MAX)
}

/// RLIMIT_MSGQUEUE (soft, hard) in bytes.
pub fn rlimit_msgqueue() -> (u64, u64) {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_MSGQUEUE) {
        Ok((soft, hard)) => (soft, hard),
        Err(_) => (RLIMIT_INFINITY, RLIMIT_INFINITY),
    }
}

/// Highest priority accepted by this system.
pub fn priority_max() -> u32 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_MQ_PRIO_MAX) };
    if v > 0 {
        (v - 1).min(u32::MAX as libc::c_long) as u32
    } else {
        PRIORITY_MAX
    }
}

impl Limits {
    /// Reads every limit now.
    pub fn read() -> Limits {
        let (rlimit_soft, rlimit_hard) = rlimit_msgqueue();
        Limits {
            msg_max: msg_max(),
            msgsize_max: msgsize_max(),
            queues_max: read_proc("queues_max", FALLBACK_QUEUES_MAX),
            msg_default: read_proc("msg_default", FALLBACK_MSG_MAX),
            msgsize_default: read_proc("msgsize_default", FALLBACK_MSGSIZE_MAX),
            rlimit_soft,
            rlimit_hard,
            priority_max: priority_max(),
        }
    }
}

/// Bytes the kernel charges against RLIMIT_MSGQUEUE for a queue of this shape
/// (ipc/mqueue.c on 64-bit: 48-byte message headers plus one 48-byte priority
/// tree node per possible distinct priority in use, plus the payload space).
/// 0 when either argument is below 1: no such queue can be created.
pub fn queue_cost(max_messages: i64, max_message_size: i64) -> u64 {
    const MSG_HEADER: u64 = 48;
    const TREE_NODE: u64 = 48;
    if max_messages < 1 || max_message_size < 1 {
        return 0;
    }
    let (m, s) = (max_messages as u64, max_message_size as u64);
    // Saturating throughout: a huge shape costs u64::MAX, never a wrapped value.
    let tree = m
        .saturating_mul(MSG_HEADER)
        .saturating_add(m.min(PRIORITY_MAX as u64 + 1) * TREE_NODE);
    tree.saturating_add(m.saturating_mul(s))
}

/// Renders a byte count for a detail message ("800 KiB", "unlimited").
pub(crate) fn bytes_text(b: u64) -> String {
    if b == RLIMIT_INFINITY {
        "unlimited".to_string()
    } else if b >= 1024 && b % 1024 == 0 {
        format!("{} KiB", b / 1024)
    } else {
        format!("{b} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_shapes_saturate_instead_of_wrapping() {
        assert!(queue_cost(1 << 60, 1) >= queue_cost(1 << 59, 1));
        assert_eq!(queue_cost(i64::MAX, 1), u64::MAX);
        assert_eq!(queue_cost(i64::MAX, i64::MAX), u64::MAX);
        assert_eq!(queue_cost(1 << 62, 1), u64::MAX);
        // A shape no queue can have costs nothing (every binding agrees).
        for (m, s) in [(0, 1), (1, 0), (-1, 8192), (10, -5), (i64::MIN, i64::MIN)] {
            assert_eq!(queue_cost(m, s), 0, "cost({m}, {s})");
        }
        // Monotonic in each argument over a wide sweep.
        let mut last = 0;
        for k in 0..63 {
            let c = queue_cost(1i64 << k, 1);
            assert!(c >= last, "cost(2^{k}, 1) = {c} < {last}");
            last = c;
        }
    }

    #[test]
    fn default_queue_cost_matches_the_kernel() {
        // 10 x 8192 payload + 10 headers + 10 tree nodes: about 9 such queues fit in 800 KiB.
        assert_eq!(queue_cost(10, 8192), 82880);
        assert_eq!(819200 / queue_cost(10, 8192), 9);
    }

    #[test]
    fn limits_read_sane_values() {
        let l = Limits::read();
        assert!(l.msg_max >= 1);
        assert!(l.msgsize_max >= 128);
        assert!(l.queues_max >= 0);
        assert!(l.rlimit_soft <= l.rlimit_hard);
        assert_eq!(l.priority_max, PRIORITY_MAX);
    }
}
