//! Tests of the own robust lock: exclusion, owner death at SIGKILL (fork
//! children killed while they hold it), fork, coexistence with the C
//! library's robust mutexes in one list, and a scribbled node.

use super::*;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// `n` zeroed locks in shared anonymous memory (visible to fork children),
/// plus one page of shared scratch words after them.
fn shared(n: usize) -> (&'static [RobustLock], &'static [AtomicU64]) {
    let p = shared_bytes(n * 64 + 4096);
    // SAFETY: page-aligned zeroed memory: all-zero RobustLocks and
    // AtomicU64s are valid.
    unsafe {
        (
            std::slice::from_raw_parts(p.cast::<RobustLock>(), n),
            std::slice::from_raw_parts(p.cast::<u8>().add(n * 64).cast::<AtomicU64>(), 512),
        )
    }
}

/// A zeroed shared anonymous mapping of `bytes` (visible to fork children),
/// page aligned, leaked for the test process's life (the ring's tests use
/// it too).
pub(in crate::backend::shm) fn shared_bytes(bytes: usize) -> *mut u8 {
    // SAFETY: a fresh shared anonymous mapping; no memory of ours is
    // touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p.cast()
}

fn head() -> &'static ListHead {
    let h = robust_list_head().expect("this thread has a robust list");
    // SAFETY: this thread's registered head, live as long as the thread
    // (the test's thread outlives every use).
    unsafe { &*h }
}

fn gettid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Entries in this thread's robust list (bounded like the kernel's walk).
fn list_len() -> usize {
    let h = head();
    let head_addr = h as *const ListHead as usize;
    let mut n = 0;
    let mut link = h.next & !1;
    while link != head_addr && n < LIST_LIMIT {
        n += 1;
        link = probe(link).expect("a readable list entry") & !1;
    }
    n
}

/// Forks a child that runs `f` and then waits forever (until killed).
fn fork_holder(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child runs only `f` (locks, atomics, syscalls: no
    // allocation) and then pauses; it never returns into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        f();
        loop {
            // SAFETY: no preconditions.
            unsafe { libc::pause() };
        }
    }
    pid
}

fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut st = 0;
        assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
        assert!(libc::WIFSIGNALED(st), "the holder was killed");
    }
}

/// Waits (by progress, not time) until `word` holds `want`.
fn await_value(word: &AtomicU64, want: u64) {
    while word.load(Ordering::SeqCst) != want {
        std::thread::yield_now();
    }
}

#[test]
fn uncontended_lock_links_and_unlinks() {
    let (locks, _) = shared(1);
    let l = &locks[0];
    let before = head().next;
    let len = list_len();
    {
        let (g, how) = l.lock(None).unwrap();
        assert_eq!(how, Acquired::Clean);
        assert_eq!(l.owner(), gettid());
        assert_eq!(head().next & !1, l.node(STATE.with(Cell::get).off));
        assert_eq!(list_len(), len + 1);
        assert_eq!(head().list_op_pending, 0);
        drop(g);
    }
    assert_eq!(l.word().load(Ordering::SeqCst), 0);
    assert_eq!(head().next, before);
    assert_eq!(list_len(), len);
}

#[test]
fn holder_killed_inside_the_lock_gives_owner_died_then_clean() {
    let (locks, scratch) = shared(1);
    let l = &locks[0];
    let child = fork_holder(|| {
        let (g, _) = l.lock(None).unwrap();
        scratch[0].store(1, Ordering::SeqCst);
        std::mem::forget(g); // dies holding it
    });
    await_value(&scratch[0], 1);
    kill_and_reap(child);
    assert_ne!(
        l.word().load(Ordering::SeqCst) & OWNER_DIED,
        0,
        "the kernel marked it"
    );
    let (g, how) = l.lock(None).unwrap();
    assert_eq!(how, Acquired::OwnerDied);
    drop(g);
    let (g, how) = l.lock(None).unwrap();
    assert_eq!(how, Acquired::Clean);
    drop(g);
}

#[test]
fn a_sleeping_waiter_is_woken_when_the_holder_dies() {
    let (locks, scratch) = shared(1);
    let l = &locks[0];
    let child = fork_holder(|| {
        let (g, _) = l.lock(None).unwrap();
        scratch[0].store(1, Ordering::SeqCst);
        std::mem::forget(g);
    });
    await_value(&scratch[0], 1);
    let waiter = std::thread::spawn(move || {
        let (g, how) = l.lock(None).unwrap();
        drop(g);
        how
    });
    // The waiter has announced itself (it sleeps, or is about to).
    while l.word().load(Ordering::SeqCst) & WAITERS == 0 {
        std::thread::yield_now();
    }
    kill_and_reap(child);
    assert_eq!(waiter.join().unwrap(), Acquired::OwnerDied);
}

#[test]
fn a_fork_child_locks_with_its_own_tid() {
    let (locks, scratch) = shared(1);
    let l = &locks[0];
    drop(l.lock(None).unwrap()); // the parent's thread state is cached
    let parent_tid = gettid();
    let child = fork_holder(|| {
        let (g, _) = l.lock(None).unwrap();
        scratch[1].store(u64::from(gettid()), Ordering::SeqCst);
        scratch[2].store(u64::from(l.owner()), Ordering::SeqCst);
        scratch[0].store(1, Ordering::SeqCst);
        std::mem::forget(g);
    });
    await_value(&scratch[0], 1);
    let child_tid = scratch[1].load(Ordering::SeqCst);
    assert_ne!(child_tid, u64::from(parent_tid));
    assert_eq!(scratch[2].load(Ordering::SeqCst), child_tid);
    kill_and_reap(child);
    // Only the child's own list names the lock: its death marked it.
    let (g, how) = l.lock(None).unwrap();
    assert_eq!(how, Acquired::OwnerDied);
    drop(g);
}

#[test]
fn scribbled_node_words_are_never_followed() {
    let (locks, _) = shared(1);
    let l = &locks[0];
    let before = head().next;
    let len = list_len();
    for pattern in [0x41u8, 0x00, 0xff] {
        let (g, _) = l.lock(None).unwrap();
        // Another writer of the file overwrites the node while we hold it.
        // SAFETY: the node bytes of a lock in our own mapping.
        unsafe { std::ptr::write_bytes(l.node.get().cast::<u8>(), pattern, 60) };
        drop(g);
        assert_eq!(head().next, before, "pattern {pattern:#x}");
        assert_eq!(list_len(), len);
        assert_eq!(l.word().load(Ordering::SeqCst), 0);
    }
}

/// A process-private robust mutex of the C library.
struct LibcRobust(Box<UnsafeCell<libc::pthread_mutex_t>>);
impl LibcRobust {
    fn new(pshared: bool) -> LibcRobust {
        // SAFETY: attr and mutex initialised before use.
        unsafe {
            let m = Box::new(UnsafeCell::new(std::mem::zeroed()));
            let mut a: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut a);
            libc::pthread_mutexattr_setrobust(&mut a, libc::PTHREAD_MUTEX_ROBUST);
            if pshared {
                libc::pthread_mutexattr_setpshared(&mut a, libc::PTHREAD_PROCESS_SHARED);
            }
            assert_eq!(libc::pthread_mutex_init(m.get(), &a), 0);
            libc::pthread_mutexattr_destroy(&mut a);
            LibcRobust(m)
        }
    }
    fn lock(&self) -> i32 {
        // SAFETY: an initialised mutex.
        unsafe { libc::pthread_mutex_lock(self.0.get()) }
    }
    fn unlock(&self) {
        // SAFETY: an initialised mutex this thread holds.
        assert_eq!(unsafe { libc::pthread_mutex_unlock(self.0.get()) }, 0);
    }
}

#[test]
fn coexists_with_libc_robust_mutexes_in_any_order() {
    let (locks, _) = shared(2);
    let m = LibcRobust::new(false);
    let before = head().next;
    let len = list_len();
    // Nested both ways, released in order.
    assert_eq!(m.lock(), 0);
    let g = locks[0].lock(None).unwrap().0;
    assert_eq!(list_len(), len + 2);
    drop(g);
    m.unlock();
    assert_eq!((head().next, list_len()), (before, len));
    let g = locks[0].lock(None).unwrap().0;
    assert_eq!(m.lock(), 0);
    drop(g); // not the head: the slow unlink
    assert_eq!(list_len(), len + 1);
    m.unlock();
    assert_eq!((head().next, list_len()), (before, len));
    // The libc releases the mutex below ours first (it rewrites our node).
    assert_eq!(m.lock(), 0);
    let g = locks[0].lock(None).unwrap().0;
    m.unlock();
    assert_eq!(list_len(), len + 1);
    drop(g);
    assert_eq!((head().next, list_len()), (before, len));
    // Two own locks and a libc mutex between them.
    let a = locks[0].lock(None).unwrap().0;
    assert_eq!(m.lock(), 0);
    let b = locks[1].lock(None).unwrap().0;
    drop(a);
    m.unlock();
    drop(b);
    assert_eq!((head().next, list_len()), (before, len));
}

#[test]
fn a_killed_holder_of_both_kinds_leaves_both_owner_died() {
    let (locks, scratch) = shared(1);
    let l = &locks[0];
    // A process-shared libc robust mutex in the shared scratch page.
    let mx = scratch[64..].as_ptr() as *mut libc::pthread_mutex_t;
    // SAFETY: zeroed shared memory large enough for a pthread_mutex_t,
    // initialised as a robust process-shared mutex.
    unsafe {
        let mut a: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut a);
        libc::pthread_mutexattr_setrobust(&mut a, libc::PTHREAD_MUTEX_ROBUST);
        libc::pthread_mutexattr_setpshared(&mut a, libc::PTHREAD_PROCESS_SHARED);
        assert_eq!(libc::pthread_mutex_init(mx, &a), 0);
    }
    let child = fork_holder(|| {
        // SAFETY: the mutex initialised above.
        unsafe { libc::pthread_mutex_lock(mx) };
        let (g, _) = l.lock(None).unwrap();
        scratch[0].store(1, Ordering::SeqCst);
        std::mem::forget(g);
    });
    await_value(&scratch[0], 1);
    kill_and_reap(child);
    assert_eq!(l.lock(None).unwrap().1, Acquired::OwnerDied);
    // SAFETY: the mutex initialised above; its owner died.
    unsafe {
        assert_eq!(libc::pthread_mutex_lock(mx), libc::EOWNERDEAD);
        libc::pthread_mutex_consistent(mx);
        libc::pthread_mutex_unlock(mx);
    }
}

#[test]
fn excludes_across_threads() {
    let (locks, scratch) = shared(1);
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 20_000;
    let counter = &scratch[0];
    let done = Arc::new(AtomicU32::new(0));
    let hs: Vec<_> = (0..THREADS)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let (g, how) = locks[0].lock(None).unwrap();
                    assert_eq!(how, Acquired::Clean);
                    // A non-atomic read-modify-write: lost updates unless
                    // the lock excludes.
                    let v = counter.load(Ordering::Relaxed);
                    std::hint::spin_loop();
                    counter.store(v + 1, Ordering::Relaxed);
                    drop(g);
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), THREADS * ROUNDS);
    assert_eq!(locks[0].word().load(Ordering::SeqCst), 0);
}

#[test]
fn a_lock_held_elsewhere_times_out_at_the_deadline() {
    let (locks, scratch) = shared(1);
    let l = &locks[0];
    let holder = std::thread::spawn(move || {
        let (g, _) = l.lock(None).unwrap();
        scratch[0].store(1, Ordering::SeqCst);
        await_value(&scratch[1], 1);
        drop(g);
    });
    await_value(&scratch[0], 1);
    let mut now: libc::timespec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(l.lock(Some(&now)).err(), Some(LockError::TimedOut));
    assert_eq!(head().list_op_pending, 0);
    scratch[1].store(1, Ordering::SeqCst);
    holder.join().unwrap();
    assert_eq!(l.lock(None).unwrap().1, Acquired::Clean);
}
