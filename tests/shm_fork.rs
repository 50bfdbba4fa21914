//! The shared-memory backend's readiness descriptor across fork: a child may close what it inherited even when the
//! parent had made a readiness descriptor (whose helper thread exists only
//! in the parent), and a child's `fileno()` is a descriptor of its own that
//! keeps working after the parent closed its handle.
//!
//! Each child reports by its exit status; the parent drives every step by
//! pipes (no sleeps), and a poll timeout of seconds is only a failure bound.

mod common;

use pmq::{BackendKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;

use common::Unlink;

fn unique(tag: &str) -> (String, Unlink) {
    common::unique_shm("shm-fork", tag)
}

fn opts() -> OpenOptions {
    let mut o = Queue::options();
    o.backend(SHM).max_messages(4).max_message_size(16);
    o
}

fn pipe() -> (i32, i32) {
    let mut p = [0i32; 2];
    // SAFETY: `p` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
    (p[0], p[1])
}

fn put(fd: i32) {
    // SAFETY: one byte from a valid buffer to our pipe.
    assert_eq!(unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) }, 1);
}

/// Reads one byte (false at EOF: the other side went away).
fn get(fd: i32) -> bool {
    let mut b = 0u8;
    // SAFETY: one byte into a valid buffer from our pipe.
    unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) == 1 }
}

/// Whether `fd` turns readable within `ms` milliseconds.
fn readable_within(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 && p.revents & libc::POLLIN != 0 }
}

/// Runs `child` in a fork child (its return value is the exit status; a
/// panic exits 101) and returns the child's pid.
fn spawn(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs only `child` (pmq calls, which support a fork
    // child) and leaves with _exit, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: ends the child without running the parent's atexit work.
        unsafe { libc::_exit(code) };
    }
    pid
}

fn exit_status(pid: libc::pid_t) -> i32 {
    let mut ws = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut ws, 0) }, pid);
    assert!(libc::WIFEXITED(ws), "child died: wait status {ws:#x}");
    libc::WEXITSTATUS(ws)
}

/// Close (and drop) of an inherited handle in the child returns Ok
/// when the parent had a readiness descriptor (a helper thread) before
/// fork. It used to join the parent's helper, which does not exist in the
/// child, and panic ("threads should not terminate unexpectedly").
#[test]
fn child_closes_a_handle_whose_readiness_helper_is_the_parents() {
    for round in 0..3 {
        let (name, _g) = unique("close");
        let q = opts()
            .create(true)
            .exclusive(true)
            .open(Some(&name))
            .unwrap();
        let parent_fd = q.fileno().unwrap();
        // A second handle in the child: its drop (free) without close.
        let q2 = opts().open(Some(&name)).unwrap();
        q2.fileno().unwrap();
        let pid = spawn(|| {
            if q.close().is_err() {
                return 2;
            }
            drop(q2);
            0
        });
        assert_eq!(
            exit_status(pid),
            0,
            "round {round}: child close/free failed"
        );
        // The parent's descriptor and helper are untouched by the child.
        q.send(b"m", 1, Timeout::TryOnce).unwrap();
        assert!(readable_within(parent_fd, 5000), "round {round}");
        q.close().unwrap();
    }
}

/// After the parent closed its handle (its helper stopped), the
/// child's `fileno()` gives a live descriptor of its own, readable once a
/// message arrives; the one from before fork stays open (harmless) until
/// the child closes its handle.
#[test]
fn child_fileno_works_after_the_parent_closed() {
    for round in 0..3 {
        let (name, _g) = unique("poll");
        let q = opts()
            .create(true)
            .exclusive(true)
            .open(Some(&name))
            .unwrap();
        let inherited = q.fileno().unwrap();
        let (to_child_r, to_child_w) = pipe();
        let (to_parent_r, to_parent_w) = pipe();
        let pid = spawn(|| {
            if !get(to_child_r) {
                return 2; // parent went away
            }
            // The parent's handle is closed: its helper is gone.
            let fd = match q.fileno() {
                Ok(fd) => fd,
                Err(_) => return 3,
            };
            if fd == inherited {
                return 4; // the dead descriptor again
            }
            if q.fileno().ok() != Some(fd) {
                return 5; // one descriptor per handle and process
            }
            if readable_within(fd, 0) {
                return 6; // empty queue reads as readable
            }
            put(to_parent_w);
            if !readable_within(fd, 5000) {
                return 7; // the message never showed
            }
            // The inherited descriptor is still open (not reused) until close.
            // SAFETY: F_GETFD only queries the descriptor.
            if unsafe { libc::fcntl(inherited, libc::F_GETFD) } < 0 {
                return 8;
            }
            if q.close().is_err() {
                return 9;
            }
            // SAFETY: as above.
            let closed = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0;
            if !closed(fd) || !closed(inherited) {
                return 10; // close released both
            }
            0
        });
        // SAFETY: the child's ends, closed once here (so a child that ends
        // early shows as EOF, not as a hang).
        unsafe {
            libc::close(to_child_r);
            libc::close(to_parent_w);
        }
        q.close().unwrap();
        put(to_child_w);
        assert!(get(to_parent_r), "round {round}: child ended early");
        let sender = opts().open(Some(&name)).unwrap();
        sender.send(b"wake", 2, Timeout::TryOnce).unwrap();
        assert_eq!(exit_status(pid), 0, "round {round}");
        for fd in [to_child_w, to_parent_r] {
            // SAFETY: our pipe's descriptors, closed once.
            unsafe { libc::close(fd) };
        }
    }
}
