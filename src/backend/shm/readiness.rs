//! A readiness descriptor for poll / epoll / Go's poller: an eventfd kept
//! level-correct by a helper thread that watches the queue's change word.
//!
//! An eventfd is readable while its counter is above 0 and writable while
//! it is below 2^64 - 2, so one descriptor says all three states: empty
//! (0: writable only), some messages (1: both), full (2^64 - 2: readable
//! only). Made on the first request, stopped at close.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::layout::*;
use super::map::Mapping;
use super::sync;
use crate::backend::Wake;

const FULL: u64 = u64::MAX - 1;

struct Running {
    fd: RawFd,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

#[derive(Default)]
pub(super) struct Readiness {
    running: Mutex<Option<Running>>,
    /// Set once stopped: no helper is started afterwards.
    stopped: AtomicBool,
}

impl Readiness {
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// The descriptor, made (with its helper) on first use.
    pub fn fd(&self, map: &Arc<Mapping>) -> Option<RawFd> {
        let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = r.as_ref() {
            return Some(run.fd);
        }
        if self.stopped.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: plain eventfd(2) call; the descriptor is owned by `Running`.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (Arc::clone(map), Arc::clone(&stop));
        let old = block_signals();
        let spawned = std::thread::Builder::new()
            .name("pmq-shm-ready".into())
            .spawn(move || follow(&m, fd, &s));
        // SAFETY: restores the mask saved by block_signals.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        match spawned {
            Ok(thread) => {
                *r = Some(Running { fd, stop, thread });
                Some(fd)
            }
            Err(_) => {
                // SAFETY: ours, unused.
                unsafe { libc::close(fd) };
                None
            }
        }
    }

    /// Stops the helper and closes the descriptor (close / shutdown).
    pub fn stop(&self, map: &Mapping) {
        self.stopped.store(true, Ordering::Release);
        let run = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(run) = run {
            run.stop.store(true, Ordering::SeqCst);
            map.u32(OFF_CHANGE_WORD).fetch_add(1, Ordering::SeqCst);
            sync::futex_wake(map.u32(OFF_CHANGE_WORD), i32::MAX);
            let _ = run.thread.join();
            // SAFETY: the helper has ended; nothing else writes the eventfd
            // (users only poll it).
            unsafe { libc::close(run.fd) };
        }
    }
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data filled by sigfillset; pthread_sigmask
    // reads `all` and writes `old`.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    }
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

fn follow(m: &Mapping, fd: RawFd, stop: &AtomicBool) {
    let max = m.shape.max_messages;
    while !stop.load(Ordering::SeqCst) {
        // Registered under the lock with the word read, as waiters do: a
        // mover after this changes the word or sees the registration.
        let (v, count) = match m.lock() {
            Ok(_g) => {
                m.u32(OFF_CHANGE_WAITERS).fetch_add(1, Ordering::SeqCst);
                (
                    m.u32(OFF_CHANGE_WORD).load(Ordering::SeqCst),
                    m.u64(OFF_COUNT).load(Ordering::Relaxed),
                )
            }
            Err(_) => return,
        };
        let target = match count {
            0 => 0,
            c if c >= max => FULL,
            _ => 1,
        };
        set_level(fd, target);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Wake::Failed(_) = sync::futex_wait(m.u32(OFF_CHANGE_WORD), v, None) {
            return;
        }
    }
}
