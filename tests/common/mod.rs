//! What the Rust test crates share (`mod common;` in each tests/*.rs):
//! unique queue names carrying this run's prefix (prefix.rs) and ONE guard
//! that unlinks them from their backend when dropped, also when the test
//! fails. cli/tests reaches prefix.rs by path.
#![allow(dead_code)]

pub mod prefix;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use pmq::BackendKind;

/// Both backends, for tests that run one body on each.
pub const BACKENDS: [BackendKind; 2] = [BackendKind::Kernel, BackendKind::Shm];

/// Unlinks queue names from their backends when dropped (test end or
/// panic). A name that is already gone is fine.
#[derive(Default)]
pub struct Unlink(Vec<(BackendKind, String)>);

impl Unlink {
    /// Guards `name` on backend `kind`.
    pub fn on(kind: BackendKind, name: impl Into<String>) -> Self {
        Unlink(vec![(kind, name.into())])
    }

    /// Guards `name` on both backends (for tests that may create it on either).
    pub fn both(name: impl Into<String>) -> Self {
        let name = name.into();
        Unlink(BACKENDS.iter().map(|&k| (k, name.clone())).collect())
    }

    /// The (first) name guarded.
    pub fn name(&self) -> &str {
        self.0.first().map_or("", |(_, n)| n.as_str())
    }

    /// Guards one more name.
    pub fn add(&mut self, kind: BackendKind, name: impl Into<String>) {
        self.0.push((kind, name.into()));
    }
}

impl Drop for Unlink {
    fn drop(&mut self) {
        for (kind, name) in &self.0 {
            let _ = pmq::unlink_from(*kind, name);
        }
    }
}

/// A fresh queue name `/PREFIX-<base>-<tag>-<pid>-<n>` (this run's prefix).
pub fn unique_name(base: &str, tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    prefix::named(format!(
        "/pmq-{base}-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A fresh name on backend `kind` and the guard that unlinks it.
pub fn unique(kind: BackendKind, base: &str, tag: &str) -> (String, Unlink) {
    let name = unique_name(base, tag);
    (name.clone(), Unlink::on(kind, name))
}

/// A fresh shared-memory queue name and its guard.
pub fn unique_shm(base: &str, tag: &str) -> (String, Unlink) {
    unique(BackendKind::Shm, base, tag)
}

/// This thread's id.
pub fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// The system call thread `tid` of this process sleeps in, if known.
pub fn thread_syscall(tid: libc::pid_t) -> Option<libc::c_long> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Starts `f` on a new thread and returns its join handle with the thread's
/// id (known before `f` runs), for [`wait_blocked_in`] and [`wait_blocked`].
pub fn spawn_waiter<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (thread::JoinHandle<T>, libc::pid_t) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        tx.send(gettid()).unwrap();
        f()
    });
    (handle, rx.recv().unwrap())
}

/// Waits (at most 10 s, a failure bound only) until thread `tid` sleeps in
/// system call `nr`: a wake-up test then knows the waiter really waits,
/// whatever the machine's speed. Without /proc it waits 200 ms instead.
pub fn wait_blocked_in(tid: libc::pid_t, nr: libc::c_long) {
    let end = Instant::now() + Duration::from_secs(10);
    if thread_syscall(tid).is_none() && std::fs::metadata("/proc/self/task").is_err() {
        thread::sleep(Duration::from_millis(200));
        return;
    }
    while Instant::now() < end {
        if thread_syscall(tid) == Some(nr) {
            thread::sleep(Duration::from_millis(20));
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!(
        "thread {tid} never blocked in system call {nr} (last seen: {:?})",
        thread_syscall(tid)
    );
}

/// The system calls a pmq wait may sleep in on backend `kind`: the kernel
/// backend in ppoll (bounded waits, queue descriptor and close event) or in
/// the kernel's own mq_timedsend/mq_timedreceive (untimed waits, ended on
/// close by a directed signal); the shm backend in a futex wait.
pub fn wait_syscalls(kind: BackendKind) -> &'static [libc::c_long] {
    match kind {
        BackendKind::Shm => &[libc::SYS_futex],
        _ => &[
            libc::SYS_ppoll,
            libc::SYS_mq_timedsend,
            libc::SYS_mq_timedreceive,
        ],
    }
}

/// Waits (at most 5 s) until thread `tid` sleeps in a pmq wait on backend
/// `kind`.
pub fn wait_blocked(tid: libc::pid_t, kind: BackendKind) {
    let end = Instant::now() + Duration::from_secs(5);
    if thread_syscall(tid).is_none() && std::fs::metadata("/proc/self/task").is_err() {
        thread::sleep(Duration::from_millis(200));
        return;
    }
    while Instant::now() < end {
        if thread_syscall(tid).is_some_and(|nr| wait_syscalls(kind).contains(&nr)) {
            thread::sleep(Duration::from_millis(20));
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("thread {tid} never blocked in a {kind:?} wait");
}

/// How long to sleep after a lease of `visibility` so that it has surely
/// ended: the shm store judges leases by CLOCK_MONOTONIC_COARSE with one
/// tick of slack (never early), and that clock may lag a tick behind the
/// true time: visibility + 2 ticks + 1 ms. (A longer sleep only makes the
/// end surer; it never makes a test depend on the machine's speed.)
#[allow(dead_code)]
pub fn past_lease_end(visibility: std::time::Duration) -> std::time::Duration {
    // SAFETY: `t` is a valid timespec for clock_getres to fill.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let tick = if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut t) } == 0 {
        std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    } else {
        std::time::Duration::from_millis(10)
    };
    visibility + 2 * tick + std::time::Duration::from_millis(1)
}

/// CLOCK_MONOTONIC_COARSE now (the shm store's lease clock).
#[allow(dead_code)]
pub fn coarse_now() -> std::time::Duration {
    // SAFETY: `t` is a valid timespec for clock_gettime to fill.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut t) };
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Sleeps, right after a lease with `visibility` was taken, until the
/// store's own clock says it ended: [`past_lease_end`], then on until
/// CLOCK_MONOTONIC_COARSE itself is past the lease's end as the store
/// judges it (its time at the lease, read here after it, + visibility +
/// one tick). A loaded VM can hold that clock back more than a tick; the
/// wait follows the clock, not a guess of its lag (bounded: 60 s).
#[allow(dead_code)]
pub fn sleep_past_lease_end(visibility: std::time::Duration) {
    let leased = coarse_now();
    let slack = past_lease_end(visibility) - visibility;
    std::thread::sleep(past_lease_end(visibility));
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while coarse_now() <= leased + visibility + slack {
        assert!(
            std::time::Instant::now() < give_up,
            "CLOCK_MONOTONIC_COARSE did not pass a lease's end in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
