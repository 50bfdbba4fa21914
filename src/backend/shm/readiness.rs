//! A readiness descriptor for poll / epoll / Go's poller: an eventfd kept
//! level-correct by a helper thread that watches the queue's change word.
//!
//! An eventfd is readable while its counter is above 0 and writable while
//! it is below 2^64 - 2, so one descriptor says all three states: empty
//! (0: writable only), some messages (1: both), full (2^64 - 2: readable
//! only). Made on the first request, stopped at close.
//!
//! fork: only the forking thread exists in a child, so a child never has
//! the parent's helper. A descriptor and helper belong to the process that
//! made them (its pid is recorded): in a child, the first request makes a
//! new descriptor with its own helper, and close never joins the parent's
//! thread. The inherited descriptor (the parent's, kept up to date only by
//! the parent's helper) stays open, untouched, until the child's close, so
//! a number the child still polls is never reused under it.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::futex;
use super::lock::Policy;
use super::map::Mapping;
use super::ring::lease::now_ns;
use crate::backend::{sys, Wake};

const FULL: u64 = u64::MAX - 1;

fn pid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

struct Running {
    fd: RawFd,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    /// Keeps the mapping alive for the helper, which holds only a pointer
    /// (so a child, where the helper does not exist, counts it right).
    map: Arc<Mapping>,
    /// The process whose helper this is.
    pid: libc::pid_t,
}

/// The helper's view of the mapping: a pointer kept valid by
/// `Running::map`, which is dropped only after the helper was joined.
struct MapPtr(*const Mapping);
// SAFETY: Mapping is Sync (every handle's threads share it through an Arc);
// the pointer is only dereferenced while `Running::map` keeps it alive.
unsafe impl Send for MapPtr {}

#[derive(Default)]
struct State {
    running: Option<Running>,
    /// Descriptors inherited over fork (the parent's): closed at stop.
    inherited: Vec<RawFd>,
}

#[derive(Default)]
pub(super) struct Readiness {
    state: Mutex<State>,
    /// Set once stopped: no helper is started afterwards.
    stopped: AtomicBool,
}

impl Readiness {
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// The descriptor, made (with its helper) on first use in this process.
    pub fn fd(&self, map: &Arc<Mapping>) -> Option<RawFd> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = st.running.as_ref() {
            if run.pid == pid() {
                return Some(run.fd);
            }
        }
        // A helper of another process (we are a fork child): not ours.
        if let Some(run) = st.running.take() {
            let fd = orphan(run);
            st.inherited.push(fd);
        }
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: plain eventfd(2) call; the descriptor is owned by `Running`.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return None;
        }
        // The level is right before anyone has the descriptor, so the
        // helper's first look, if nothing moved, changes nothing (no
        // readable flicker on an empty queue just opened). Registered on
        // the change line first, as the helper does: a move after this
        // bumps the word, so the first look gives the edges of a move
        // made before the helper ran (a poller may have failed around it).
        let first = (map.ring().watch_changes().1, level(map));
        if first.1 > 0 {
            // SAFETY: eventfd's protocol: an 8-byte write of a valid u64 to
            // our own fresh, non-blocking descriptor.
            unsafe { libc::write(fd, (&first.1 as *const u64).cast(), 8) };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (MapPtr(Arc::as_ptr(map)), Arc::clone(&stop));
        let spawned = sys::spawn_with_signals_blocked(
            std::thread::Builder::new().name("pmq-shm-ready".into()),
            move || {
                let m = m;
                // SAFETY: see MapPtr: `Running::map` outlives this thread.
                follow(unsafe { &*m.0 }, fd, &s, first)
            },
        );
        match spawned {
            Ok(thread) => {
                st.running = Some(Running {
                    fd,
                    stop,
                    thread,
                    map: Arc::clone(map),
                    pid: pid(),
                });
                Some(fd)
            }
            Err(_) => {
                // SAFETY: ours, unused.
                unsafe { libc::close(fd) };
                None
            }
        }
    }

    /// Stops this process's helper and closes the descriptors (close /
    /// shutdown / drop).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let (run, inherited) = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            (st.running.take(), std::mem::take(&mut st.inherited))
        };
        let mut fds = inherited;
        if let Some(run) = run {
            if run.pid == pid() {
                run.stop.store(true, Ordering::SeqCst);
                let word = &run.map.head().changed.0.word;
                word.fetch_add(1, Ordering::SeqCst);
                futex::futex_wake(word, i32::MAX);
                let _ = run.thread.join();
                // The helper has ended; nothing else writes the eventfd
                // (users only poll it).
                fds.push(run.fd);
            } else {
                fds.push(orphan(run));
            }
        }
        for fd in fds {
            // SAFETY: descriptors this handle owns in this process (its own
            // eventfd, or its copies of the parent's); no one else closes them.
            unsafe { libc::close(fd) };
        }
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Gives up a helper inherited over fork: its thread does not exist in
/// this process (so it is neither joined nor detached), its mapping
/// reference is dropped, and its descriptor (this process's copy of the
/// parent's) is returned to be closed at stop.
fn orphan(run: Running) -> RawFd {
    let Running {
        fd, thread, map, ..
    } = run;
    // pthread_join / pthread_detach on a thread of the parent would act on
    // a copy of its descriptor: leave the handle alone.
    std::mem::forget(thread);
    drop(map);
    fd
}

/// Sets the eventfd's counter to `target`, waking both kinds of waiter on
/// the way, also when the level does not change: every change the helper
/// sees is an edge for edge-triggered users (tokio's AsyncFd, Go's poller).
/// Otherwise a waiter whose attempt failed in a state the helper never saw
/// (the queue full for an instant while the helper still saw it empty, or
/// empty for an instant between two sends) would clear its readiness and
/// never get a new edge while the level it polls stayed the same.
/// A write wakes EPOLLIN waiters and a read EPOLLOUT ones, so: add 1 (so
/// the read below has something to take; refused, harmlessly, when the
/// counter is at its top), drain, then add the target.
fn set_level(fd: RawFd, target: u64) {
    let one = 1u64;
    let mut v = 0u64;
    // SAFETY: eventfd's protocol: 8-byte reads and writes of a valid u64;
    // the descriptor is non-blocking, so a refused write or an empty read
    // returns EAGAIN at once.
    unsafe {
        libc::write(fd, (&one as *const u64).cast(), 8);
        libc::read(fd, (&mut v as *mut u64).cast(), 8);
        if target > 0 {
            libc::write(fd, (&target as *const u64).cast(), 8);
        }
    }
}

/// The level a receive and a send would find now: 0 (empty: writable
/// only), 1 (both) or FULL (readable only). Readable when a receive could
/// take a message (leased ones do not count; a queue full of leases reads
/// as neither readable nor full, the closest level an eventfd has: senders
/// see room).
fn level(m: &Mapping) -> u64 {
    let r = m.ring();
    match (r.visible(), r.count()) {
        (0, _) => 0,
        (_, c) if c >= m.shape.max_messages => FULL,
        _ => 1,
    }
}

/// The helper's loop. `last` is the change word and level it last set:
/// a look that finds both the same changes nothing, so an idle queue's
/// descriptor stays still (the edges of `set_level` would otherwise make
/// an empty queue readable for an instant every slice, and wake every
/// poller of it). Every move bumps the word, so every move a waiter could
/// have failed around still gives its edges.
fn follow(m: &Mapping, fd: RawFd, stop: &AtomicBool, mut last: (u32, u64)) {
    let r = m.ring();
    while !stop.load(Ordering::SeqCst) {
        // Registered with the word read first, as waiters do: a mover after
        // this changes the word or sees the registration.
        let (word, v) = r.watch_changes();
        // Leases out: give back what is due here (expired leases, dead
        // holders'), so the level shows a message that came back without
        // any send; a poller (tokio's AsyncFd, Go's, asyncio) waits on this
        // descriptor alone and would otherwise never learn of it. Tries the
        // consumers' lock once: a busy lock's holder sweeps itself.
        let leases_out = r.head().consumers.0.leased.load(Ordering::Relaxed) != 0;
        if leases_out {
            let _ = r.sweep_with(None, true, || Policy::Brief);
        }
        let now = (v, level(m));
        if now != last {
            set_level(fd, now.1);
            last = now;
        }
        if stop.load(Ordering::SeqCst) || m.damaged() {
            return;
        }
        // Sliced: a mover killed between its commit and its wake-up of
        // this line leaves the level wrong only until the slice ends.
        let mut slice = super::ring::SLICE;
        if leases_out {
            // Awake again when the next lease is due to be looked at.
            let next = r.head().consumers.0.next_sweep.load(Ordering::Relaxed);
            let left = std::time::Duration::from_nanos(next.saturating_sub(now_ns()));
            slice = slice.min(left.max(std::time::Duration::from_millis(1)));
        }
        let slice = futex::deadline_after(slice);
        if let Wake::Failed(_) = futex::futex_wait(word, v, Some(&slice)) {
            return;
        }
    }
}
