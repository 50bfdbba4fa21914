//! The kernel backend's waits: a send or receive without a
//! timeout sleeps inside the kernel's own mq_timedsend / mq_timedreceive (one
//! system call, like raw mq_*), a bounded one in ppoll (monotonic timeout),
//! and close ends both kinds promptly, from any thread:
//! - close wakes a blocked send and receive, timed and untimed, with nothing
//!   moved;
//! - more threads than a handle has kernel slots wait on one handle: the
//!   extra ones wait in ppoll, messages reach exactly one waiter each, close
//!   ends the rest;
//! - close racing threads that are just entering the wait, many rounds;
//! - pmq's wake signal never reaches the user's code: no wake signal is
//!   left pending after the call, and a user handler sees exactly its own
//!   signals (EINTR without SA_RESTART; SA_RESTART resumes a kernel wait as
//!   it resumes raw mq_receive, while a bounded wait still ends);
//! - a thread that blocks every signal still gets woken by close (its wait
//!   falls back to ppoll);
//! - fork: a child that closes an inherited handle returns at once and does
//!   not disturb the parent's waiter.
//!
//! Queues are small and unlinked by a guard. Kernel only (the shm backend
//! waits on its own futex; its close tests are in tests/shm.rs).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use pmq::{ErrorKind, Queue, Timeout};

use common::Unlink;

fn small(tag: &str, max_messages: i64) -> (Queue, Unlink) {
    let (name, guard) = common::unique(pmq::BackendKind::Kernel, "kw", tag);
    let q = Queue::options()
        .exclusive(true)
        .max_messages(max_messages)
        .max_message_size(16)
        .open(Some(&name))
        .expect("create test queue");
    (q, guard)
}

use common::{gettid, spawn_waiter, thread_syscall, wait_blocked_in};

/// The system call a wait of this kind sleeps in.
fn wait_syscall(send: bool, timeout: Timeout) -> libc::c_long {
    match (timeout, send) {
        (Timeout::Forever, false) => libc::SYS_mq_timedreceive,
        (Timeout::Forever, true) => libc::SYS_mq_timedsend,
        _ => libc::SYS_ppoll,
    }
}

#[test]
fn close_wakes_blocked_send_and_receive_timed_and_untimed() {
    for send in [false, true] {
        for timeout in [Timeout::Forever, Timeout::After(Duration::from_secs(60))] {
            let (q, _g) = small("wake", 1);
            let other = Queue::open(q.name()).unwrap();
            if send {
                other.send(b"full", 0, Timeout::TryOnce).unwrap();
            }
            let q = Arc::new(q);
            let (waiter, tid) = {
                let q = Arc::clone(&q);
                spawn_waiter(move || {
                    if send {
                        q.send(b"late", 1, timeout).map(|()| 0)
                    } else {
                        q.receive_vec(timeout).map(|(m, _)| m.len())
                    }
                })
            };
            wait_blocked_in(tid, wait_syscall(send, timeout));
            let t0 = Instant::now();
            q.close().unwrap();
            let e = waiter.join().unwrap().unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Closed,
                "{send} {timeout:?}: {}",
                e.detail()
            );
            assert!(t0.elapsed() < Duration::from_secs(2), "{send} {timeout:?}");
            // Nothing moved.
            let want = if send { 1 } else { 0 };
            assert_eq!(
                other.current_messages().unwrap(),
                want,
                "{send} {timeout:?}"
            );
        }
    }
}

#[test]
fn many_threads_wait_on_one_handle() {
    const THREADS: usize = 24; // three times a handle's kernel slots
    const SENT: usize = 5;
    let (q, _g) = small("many", 10);
    let q = Arc::new(q);
    let feeder = Queue::open(q.name()).unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let mut tids = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..THREADS {
        let (tx, rx) = std::sync::mpsc::channel();
        let (q, got) = (Arc::clone(&q), Arc::clone(&got));
        handles.push(thread::spawn(move || {
            tx.send(gettid()).unwrap();
            let r = q.receive_vec(Timeout::Forever);
            if r.is_ok() {
                got.fetch_add(1, Ordering::SeqCst);
            }
            r
        }));
        tids.push(rx.recv().unwrap());
    }
    // Every thread waits: some inside the kernel's receive, the rest in ppoll.
    let end = Instant::now() + Duration::from_secs(10);
    let (in_kernel, in_ppoll) = loop {
        let calls: Vec<_> = tids.iter().map(|&t| thread_syscall(t)).collect();
        let k = calls
            .iter()
            .filter(|c| **c == Some(libc::SYS_mq_timedreceive))
            .count();
        let p = calls
            .iter()
            .filter(|c| **c == Some(libc::SYS_ppoll))
            .count();
        if k + p == THREADS || Instant::now() > end {
            break (k, p);
        }
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        in_kernel + in_ppoll,
        THREADS,
        "{in_kernel} in kernel, {in_ppoll} in ppoll"
    );
    assert!(in_kernel >= 1, "no waiter sleeps in the kernel's receive");
    for i in 0..SENT {
        feeder.send(&[i as u8], 0, Timeout::Forever).unwrap();
    }
    let end = Instant::now() + Duration::from_secs(10);
    while got.load(Ordering::SeqCst) < SENT && Instant::now() < end {
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(got.load(Ordering::SeqCst), SENT);
    q.close().unwrap();
    let mut closed = 0;
    for h in handles {
        match h.join().unwrap() {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Closed, "{}", e.detail());
                closed += 1;
            }
        }
    }
    assert_eq!(closed, THREADS - SENT);
    assert_eq!(got.load(Ordering::SeqCst), SENT);
    assert_eq!(feeder.current_messages().unwrap(), 0);
}

/// Close while threads are entering the wait: every one returns Closed
/// (a wake signal that lands just before the system call is sent again).
#[test]
fn close_races_threads_entering_the_wait() {
    const ROUNDS: usize = 300;
    const THREADS: usize = 3;
    let (first, _g) = small("race", 1);
    for round in 0..ROUNDS {
        let q = Arc::new(Queue::open(first.name()).unwrap());
        let go = Arc::new(Barrier::new(THREADS + 1));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (q, go) = (Arc::clone(&q), Arc::clone(&go));
                thread::spawn(move || {
                    go.wait();
                    q.receive_vec(Timeout::Forever).map(|_| ())
                })
            })
            .collect();
        go.wait();
        // Vary where close lands: from "before anyone waits" to "all asleep".
        let until = Instant::now() + Duration::from_micros((round % 100) as u64 * 2);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        q.close().unwrap();
        for h in handles {
            let e = h.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Closed, "round {round}: {}", e.detail());
        }
    }
    assert_eq!(first.current_messages().unwrap(), 0);
}

/// The real-time signals that have a handler now (pmq's wake signal is one;
/// this test binary installs none of its own).
fn rt_signals_with_handlers() -> Vec<libc::c_int> {
    (libc::SIGRTMIN()..=libc::SIGRTMAX())
        .filter(|&s| {
            // SAFETY: a null new action only reads the current one.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(s, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction != libc::SIG_DFL
                    && old.sa_sigaction != libc::SIG_IGN
            }
        })
        .collect()
}

/// The real-time signals pending for the calling thread.
fn rt_pending() -> Vec<libc::c_int> {
    // SAFETY: sigset_t is plain data filled by sigpending.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        assert_eq!(libc::sigpending(&mut set), 0);
        (libc::SIGRTMIN()..=libc::SIGRTMAX())
            .filter(|&s| libc::sigismember(&set, s) == 1)
            .collect()
    }
}

#[test]
fn wake_signal_never_reaches_user_code() {
    for round in 0..20 {
        let (q, _g) = small("leak", 1);
        let q = Arc::new(q);
        let (waiter, tid) = {
            let q = Arc::clone(&q);
            spawn_waiter(move || {
                let r = q.receive_vec(Timeout::Forever);
                // Right after pmq's call: nothing of pmq's is pending here.
                (r, rt_pending())
            })
        };
        wait_blocked_in(tid, libc::SYS_mq_timedreceive);
        // pmq installed exactly one handler, on a real-time signal.
        assert_eq!(rt_signals_with_handlers().len(), 1, "round {round}");
        q.close().unwrap();
        let (r, pending) = waiter.join().unwrap();
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Closed);
        assert!(pending.is_empty(), "round {round}: pending {pending:?}");
    }
}

static USER_SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_user_signal(_: libc::c_int) {
    USER_SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// SIGUSR1 with the given flags (this binary's only user of SIGUSR1).
fn install_user_handler(flags: libc::c_int) {
    // SAFETY: a handler that only bumps an atomic; empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count_user_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = flags;
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
}

/// A user's handler: without SA_RESTART a kernel wait ends with Interrupted
/// (EINTR); with SA_RESTART the kernel resumes it (as raw mq_receive), while
/// a bounded wait (ppoll, never restarted) still ends. The handler runs once
/// per signal sent, never for pmq's own wake signal.
#[test]
fn user_signal_handlers_see_their_signals() {
    for (flags, timeout, interrupted) in [
        (0, Timeout::Forever, true),
        (libc::SA_RESTART, Timeout::Forever, false),
        (
            libc::SA_RESTART,
            Timeout::After(Duration::from_secs(60)),
            true,
        ),
    ] {
        install_user_handler(flags);
        let (q, _g) = small("usig", 1);
        let q = Arc::new(q);
        let other = Queue::open(q.name()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                // SAFETY: pthread_self has no preconditions.
                tx.send((gettid(), unsafe { libc::pthread_self() }))
                    .unwrap();
                q.receive_vec(timeout)
            })
        };
        let (tid, pthread) = rx.recv().unwrap();
        let nr = wait_syscall(false, timeout);
        wait_blocked_in(tid, nr);
        let before = USER_SIGNALS.load(Ordering::SeqCst);
        // SAFETY: the thread has not been joined: its handle is valid.
        unsafe { libc::pthread_kill(pthread, libc::SIGUSR1) };
        let end = Instant::now() + Duration::from_secs(10);
        while USER_SIGNALS.load(Ordering::SeqCst) == before && Instant::now() < end {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            USER_SIGNALS.load(Ordering::SeqCst),
            before + 1,
            "{flags} {timeout:?}"
        );
        if interrupted {
            let e = waiter.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Interrupted, "{flags} {timeout:?}");
            assert_eq!(e.errno(), libc::EINTR);
        } else {
            // Resumed by the kernel: still asleep in the same call.
            wait_blocked_in(tid, nr);
            assert!(!waiter.is_finished());
            other.send(b"after", 2, Timeout::Forever).unwrap();
            assert_eq!(waiter.join().unwrap().unwrap(), (b"after".to_vec(), 2));
        }
        // Close afterwards sends pmq's wake signal to no one: the count stays.
        q.close().unwrap();
        assert_eq!(USER_SIGNALS.load(Ordering::SeqCst), before + 1);
    }
}

#[test]
fn thread_blocking_every_signal_is_still_woken_by_close() {
    let (q, _g) = small("masked", 1);
    let q = Arc::new(q);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let q = Arc::clone(&q);
        thread::spawn(move || {
            // SAFETY: sigset_t is plain data; blocks every signal in this
            // thread only.
            unsafe {
                let mut all: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
            }
            tx.send(gettid()).unwrap();
            (q.receive_vec(Timeout::Forever), rt_pending())
        })
    };
    let tid = rx.recv().unwrap();
    // pmq's signal could not reach it: it waits in ppoll instead.
    wait_blocked_in(tid, libc::SYS_ppoll);
    q.close().unwrap();
    let (r, pending) = waiter.join().unwrap();
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Closed);
    assert!(pending.is_empty(), "pending {pending:?}");
}

#[test]
fn child_closing_an_inherited_handle_leaves_the_parents_waiter_alone() {
    let (q, _g) = small("fork", 1);
    let q = Arc::new(q);
    let other = Queue::open(q.name()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (waiter, tid) = {
        let (q, done) = (Arc::clone(&q), Arc::clone(&done));
        spawn_waiter(move || {
            let r = q.receive_vec(Timeout::Forever);
            done.store(true, Ordering::SeqCst);
            r
        })
    };
    wait_blocked_in(tid, libc::SYS_mq_timedreceive);
    // SAFETY: the child only closes the handle (atomics, getpid, clock,
    // close(2); this binary takes no notification lock) and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let t0 = Instant::now();
        let ok = q.close().is_ok() && t0.elapsed() < Duration::from_secs(1);
        // SAFETY: _exit is async-signal-safe and ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status}"
    );
    // The parent's waiter still sleeps in the same wait, undisturbed.
    assert!(!done.load(Ordering::SeqCst));
    wait_blocked_in(tid, libc::SYS_mq_timedreceive);
    other.send(b"still", 1, Timeout::Forever).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), (b"still".to_vec(), 1));
    q.close().unwrap();
}
