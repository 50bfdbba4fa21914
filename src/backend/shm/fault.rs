//! Fault injection (cargo feature `fault-injection`, off by default and
//! never in the shipped library): a named kill point before every group of
//! stores to shared memory inside a critical section. A process started
//! with `PMQ_FAULT_KILL=<point>` (and optionally `PMQ_FAULT_SKIP=<n>`, the
//! hits to let pass first) SIGKILLs itself there, so a test can kill a
//! process at exactly that instruction and check what the survivors see.
//! `PMQ_FAULT_PAUSE=<point>` (with `PMQ_FAULT_PAUSE_MS`) sleeps there
//! instead, e.g. to hold the lock while others wait for it.
//! `PMQ_FAULT_STOP=<point>` stops the process there (SIGSTOP) until a
//! SIGCONT: a holder stopped inside the lock, reached by progress, not time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Every kill point, in the order a send / receive / repair / registration
/// / create / open reaches them.
pub const POINTS: &[&str] = &[
    "send.locked",
    "send.header",
    "send.data",
    "send.committed",
    "send.published",
    "receive.locked",
    "receive.drained",
    "receive.receipt",
    "receive.written",
    "receive.committed",
    "receive.freed",
    "lease.committed",
    "ack.locked",
    "ack.committed",
    "nack.locked",
    "nack.linked",
    "sweep.requeued",
    "wake.taken",
    "repair.p",
    "repair.c",
    "repair.freeing",
    "repair.relinking",
    "notify.locked",
    "notify.registered",
    "cancel.locked",
    "create.allocated",
    "create.initialised",
    "create.linked",
    "open.claimed",
];

struct Config {
    point: Option<String>,
    skip: u64,
    /// `PMQ_FAULT_PAUSE=<point>`: sleep there `PMQ_FAULT_PAUSE_MS` (so a
    /// test can hold the queue's lock while other processes wait for it).
    pause: Option<(String, u64)>,
    /// `PMQ_FAULT_STOP=<point>`: raise SIGSTOP there (every hit).
    stop: Option<String>,
}

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| Config {
        point: std::env::var("PMQ_FAULT_KILL").ok(),
        skip: std::env::var("PMQ_FAULT_SKIP")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        pause: std::env::var("PMQ_FAULT_PAUSE").ok().map(|p| {
            let ms = std::env::var("PMQ_FAULT_PAUSE_MS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(100);
            (p, ms)
        }),
        stop: std::env::var("PMQ_FAULT_STOP").ok(),
    })
}

static HITS: AtomicU64 = AtomicU64::new(0);

/// Kill point `name`: SIGKILLs this process if it is the one asked for.
pub fn hit(name: &'static str) {
    debug_assert!(POINTS.contains(&name), "kill point {name} is not in POINTS");
    let c = config();
    if let Some((p, ms)) = &c.pause {
        if p == name {
            std::thread::sleep(std::time::Duration::from_millis(*ms));
        }
    }
    if c.stop.as_deref() == Some(name) {
        // SAFETY: raising a signal has no memory-safety preconditions.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
    if c.point.as_deref() == Some(name) && HITS.fetch_add(1, Ordering::Relaxed) >= c.skip {
        // SAFETY: raising a signal has no memory-safety preconditions.
        unsafe { libc::raise(libc::SIGKILL) };
    }
}
