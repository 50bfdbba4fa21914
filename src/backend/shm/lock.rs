//! pmq's own robust lock for layout 3: a futex word in the queue file that
//! the calling thread links into its kernel robust list (the list the C
//! library registered with set_robust_list(2)), so that when the holder
//! dies at any instruction (SIGKILL, exec) the kernel marks the word
//! FUTEX_OWNER_DIED and wakes a waiter, as it does for glibc's robust
//! mutexes. The next locker gets [`Acquired::OwnerDied`], repairs, and
//! unlocks; there is no "consistent" step (a repairer that dies too leaves
//! OWNER_DIED again).
//!
//! The word (the kernel's robust futex ABI,
//! Documentation/locking/robust-futex-ABI.rst): 0 free, else the owner's
//! TID | FUTEX_WAITERS | FUTEX_OWNER_DIED. The list node lives at
//! `word - head.futex_offset` inside the 64-byte [`RobustLock`] (glibc
//! x86_64: futex_offset -32, so `next` at word+32 and glibc's `prev` at
//! word+24; musl 64-bit: -28), laid out so the libc's own list code and the
//! kernel treat it like one of the libc's robust mutexes: both coexist in
//! one thread's list.
//!
//! **No word of the file is followed as a pointer.** The node's `next` and
//! `prev` live in a file any writer can scribble. Locking links the node at
//! the head of the list and remembers, in this thread's own memory, what
//! the head pointed to before; unlocking restores that from its own copy
//! (pmq's critical sections call no code that takes or releases a libc
//! robust mutex, so the lock is always the list's head when it is
//! released). Only if something else changed the list in between (a signal
//! handler that kept a robust mutex locked) does the unlock walk the list,
//! reading every link with `process_vm_readv` on its own process, which
//! returns EFAULT for a bad address instead of faulting.
//!
//! The per-thread cache (list head, TID) is checked against an epoch word
//! in a MADV_WIPEONFORK page, so a child of fork(), _Fork() or clone()
//! (which may skip pthread_atfork) re-reads its own TID and list instead of
//! locking with its parent's.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::sync::atomic::{compiler_fence, AtomicPtr, AtomicU32, Ordering};

const WAITERS: u32 = libc::FUTEX_WAITERS;
const OWNER_DIED: u32 = libc::FUTEX_OWNER_DIED;
const TID_MASK: u32 = libc::FUTEX_TID_MASK;
/// The kernel's own bound on a robust list walk (ROBUST_LIST_LIMIT).
const LIST_LIMIT: usize = 2048;
/// Reads of the lock word before a contended locker sleeps.
const SPINS: u32 = 100;

/// The kernel's `struct robust_list_head` (include/uapi/linux/futex.h).
#[repr(C)]
struct ListHead {
    /// `list.next`: the first entry, or the head itself when empty. Bit 0
    /// marks a PI futex entry.
    next: usize,
    futex_offset: isize,
    list_op_pending: usize,
}

/// A robust lock inside a queue file: the futex word, then room for the
/// list node. All-zero is an unlocked lock.
#[repr(C, align(64))]
pub(super) struct RobustLock {
    word: AtomicU32,
    /// The node's words (written only by the holder; read by the kernel
    /// when the holder dies, and by the libc's list code).
    node: UnsafeCell<[u8; 60]>,
}

// SAFETY: the lock is shared memory by design: the word is atomic, and the
// node bytes are written only through raw pointers by the holder.
unsafe impl Sync for RobustLock {}

const _: () = {
    assert!(std::mem::size_of::<RobustLock>() == 64);
    assert!(std::mem::offset_of!(RobustLock, word) == 0);
};

/// How a lock was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Acquired {
    /// The previous holder released it.
    Clean,
    /// The previous holder died holding it: what it guarded may be half
    /// done; repair before relying on it.
    OwnerDied,
}

/// The lock, held by this thread; released on drop (on this thread: not
/// Send).
pub(super) struct Held<'a> {
    lock: &'a RobustLock,
    /// The list's first entry before this lock was linked (restored on
    /// release).
    below: usize,
    _not_send: PhantomData<*const ()>,
}

/// Why a lock attempt came back without the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LockError {
    /// Still held at the deadline.
    TimedOut,
    /// This thread has no kernel robust list the lock can join (a kernel
    /// without robust futexes, or a C library that never registered one).
    NoRobustList,
    /// A brief wait ([`Policy::Brief`]) ended with the lock still held,
    /// after this long.
    Busy(std::time::Duration),
    /// The wait's give-up flag was set (the handle closes).
    GivenUp,
}

/// How long a contended [`RobustLock::lock_with`] waits.
pub(super) enum Policy<'a> {
    /// A try-once call: in [`BRIEF`] slices while the holder runs (merely
    /// descheduled), at most [`BRIEF_RUNNING`] in all; at once when it is
    /// stopped or cannot be seen.
    Brief,
    /// Until an absolute CLOCK_MONOTONIC time (None: no limit), then
    /// TimedOut; GivenUp as soon as the flag is set (looked at every
    /// [`SLICE`]).
    Until(Option<libc::timespec>, &'a std::sync::atomic::AtomicBool),
}

/// The longest a try-once call waits for a lock a stopped holder keeps.
pub(super) const BRIEF: std::time::Duration = std::time::Duration::from_millis(10);
/// The longest a try-once call waits for a holder that is running.
pub(super) const BRIEF_RUNNING: std::time::Duration = std::time::Duration::from_millis(250);
/// How often a longer wait looks at its give-up flag.
const SLICE: std::time::Duration = std::time::Duration::from_millis(20);

#[derive(Clone, Copy)]
struct ThreadState {
    head: *mut ListHead,
    /// Where the node's `next` lies past the word (-futex_offset).
    off: usize,
    tid: u32,
    /// The fork epoch this cache belongs to (0: never filled).
    epoch: u32,
}

thread_local! {
    static STATE: Cell<ThreadState> = const {
        Cell::new(ThreadState { head: std::ptr::null_mut(), off: 0, tid: 0, epoch: 0 })
    };
}

/// A page whose first word is this process's fork epoch: MADV_WIPEONFORK
/// makes it read 0 in any child.
static EPOCH_PAGE: AtomicPtr<AtomicU32> = AtomicPtr::new(std::ptr::null_mut());
static EPOCH_NEXT: AtomicU32 = AtomicU32::new(0);

fn epoch_page() -> Option<&'static AtomicU32> {
    let mut p = EPOCH_PAGE.load(Ordering::Acquire);
    if p.is_null() {
        // SAFETY: a fresh private anonymous page; no memory of ours is touched.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: `page` is the page just mapped.
        if unsafe { libc::madvise(page, 4096, libc::MADV_WIPEONFORK) } != 0 {
            // SAFETY: our own page, unused.
            unsafe { libc::munmap(page, 4096) };
            return None;
        }
        match EPOCH_PAGE.compare_exchange(
            std::ptr::null_mut(),
            page.cast(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => p = page.cast(),
            Err(other) => {
                // SAFETY: our own page, never published.
                unsafe { libc::munmap(page, 4096) };
                p = other;
            }
        }
    }
    // SAFETY: the page stays mapped for the process's life (and in its
    // children, wiped); an AtomicU32 at its start is aligned.
    Some(unsafe { &*p })
}

/// This thread's list head and TID, refreshed in a new thread and after a
/// fork.
#[inline(always)]
fn thread_state() -> Result<ThreadState, LockError> {
    let s = STATE.with(Cell::get);
    let page = EPOCH_PAGE.load(Ordering::Relaxed);
    // SAFETY: a non-null EPOCH_PAGE is a live page (see `epoch_page`).
    let e = if page.is_null() {
        0
    } else {
        unsafe { (*page).load(Ordering::Relaxed) }
    };
    if e != 0 && s.epoch == e {
        return Ok(s);
    }
    refresh_thread_state()
}

#[cold]
#[inline(never)]
fn refresh_thread_state() -> Result<ThreadState, LockError> {
    let page = epoch_page().ok_or(LockError::NoRobustList)?;
    // 0 in a fresh process and in a child after fork (the page is wiped):
    // start a new epoch.
    let next = EPOCH_NEXT
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(1)
        .max(1);
    let _ = page.compare_exchange(0, next, Ordering::AcqRel, Ordering::Acquire);
    let head = robust_list_head().ok_or(LockError::NoRobustList)?;
    // SAFETY: the kernel's registered head for this thread, in the C
    // library's per-thread memory, live as long as the thread.
    let futex_offset = unsafe { (*head).futex_offset };
    let off = futex_offset.checked_neg().ok_or(LockError::NoRobustList)?;
    // The node (a pointer at off, and the libc's prev just below it) must
    // lie inside the 64-byte lock.
    if !(12..=56).contains(&off) {
        return Err(LockError::NoRobustList);
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    let s = ThreadState {
        head,
        off: off as usize,
        tid,
        epoch: page.load(Ordering::Acquire),
    };
    STATE.with(|c| c.set(s));
    Ok(s)
}

/// The robust list head the C library registered for this thread; when it
/// registered none yet (musl does so lazily, at the first robust mutex),
/// makes it register one by locking a robust mutex once, so it never
/// replaces ours later.
fn robust_list_head() -> Option<*mut ListHead> {
    fn get() -> Option<*mut ListHead> {
        let mut head: *mut ListHead = std::ptr::null_mut();
        let mut len: libc::size_t = 0;
        // SAFETY: pid 0 is this thread; both out-pointers are valid.
        let r = unsafe {
            libc::syscall(
                libc::SYS_get_robust_list,
                0,
                &mut head as *mut *mut ListHead,
                &mut len as *mut libc::size_t,
            )
        };
        (r == 0 && !head.is_null() && len == std::mem::size_of::<ListHead>()).then_some(head)
    }
    get().or_else(|| {
        // SAFETY: a robust mutex on this stack, initialised before use and
        // destroyed after; locked and unlocked once by this thread.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            let mut m: libc::pthread_mutex_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutex_init(&mut m, &attr);
            libc::pthread_mutex_lock(&mut m);
            libc::pthread_mutex_unlock(&mut m);
            libc::pthread_mutex_destroy(&mut m);
            libc::pthread_mutexattr_destroy(&mut attr);
        }
        get()
    })
}

impl RobustLock {
    /// The futex word (its TID part names the holder).
    pub fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// The holder's TID (0: free, or its holder died and nobody took it).
    pub fn owner(&self) -> u32 {
        self.word.load(Ordering::Relaxed) & TID_MASK
    }

    /// Address of the node's `next` for a thread whose list puts it `off`
    /// bytes past the word.
    #[inline(always)]
    fn node(&self, off: usize) -> usize {
        self.word.as_ptr() as usize + off
    }

    /// Takes the lock, waiting until `end` (absolute CLOCK_MONOTONIC; None:
    /// no limit).
    #[cfg(test)]
    pub fn lock(&self, end: Option<&libc::timespec>) -> Result<(Held<'_>, Acquired), LockError> {
        self.lock_inner(|tid| self.lock_slow(tid, end))
    }

    /// Takes the lock; when it is contended, waits as `policy` says (asked
    /// only then, so the uncontended path reads no clock).
    #[inline(always)]
    pub fn lock_with<'w>(
        &self,
        policy: impl FnOnce() -> Policy<'w>,
    ) -> Result<(Held<'_>, Acquired), LockError> {
        self.lock_inner(|tid| self.lock_policy(tid, policy()))
    }

    #[cold]
    #[inline(never)]
    fn lock_policy(&self, tid: u32, policy: Policy<'_>) -> Result<Acquired, LockError> {
        use super::futex::deadline_after;
        let before =
            |a: &libc::timespec, b: &libc::timespec| (a.tv_sec, a.tv_nsec) < (b.tv_sec, b.tv_nsec);
        match policy {
            Policy::Brief => {
                let mut waited = std::time::Duration::ZERO;
                loop {
                    let end = deadline_after(BRIEF);
                    match self.lock_slow(tid, Some(&end)) {
                        Err(LockError::TimedOut) => {}
                        r => return r,
                    }
                    waited += BRIEF;
                    if waited >= BRIEF_RUNNING
                        || super::futex::holder_running(self.owner()) != Some(true)
                    {
                        return Err(LockError::Busy(waited));
                    }
                }
            }
            Policy::Until(deadline, give_up) => loop {
                let slice = deadline_after(SLICE);
                let end = match deadline {
                    Some(d) if before(&d, &slice) => d,
                    _ => slice,
                };
                match self.lock_slow(tid, Some(&end)) {
                    Err(LockError::TimedOut) => {}
                    r => return r,
                }
                if deadline.is_some_and(|d| !before(&deadline_after(std::time::Duration::ZERO), &d))
                {
                    return Err(LockError::TimedOut);
                }
                if give_up.load(Ordering::SeqCst) {
                    return Err(LockError::GivenUp);
                }
            },
        }
    }

    #[inline(always)]
    fn lock_inner(
        &self,
        slow: impl FnOnce(u32) -> Result<Acquired, LockError>,
    ) -> Result<(Held<'_>, Acquired), LockError> {
        let t = thread_state()?;
        let node = self.node(t.off);
        // SAFETY: `head` is this thread's registered list head (see
        // `thread_state`); only this thread writes it.
        let head = unsafe { &mut *t.head };
        // 1: announce (a death from here on is handled by the kernel
        // through list_op_pending).
        head.list_op_pending = node;
        compiler_fence(Ordering::SeqCst);
        let got = match self
            .word
            .compare_exchange(0, t.tid, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Acquired::Clean,
            Err(_) => match slow(t.tid) {
                Ok(a) => a,
                Err(e) => {
                    compiler_fence(Ordering::SeqCst);
                    head.list_op_pending = 0;
                    return Err(e);
                }
            },
        };
        // 2: link at the head, as glibc's ENQUEUE_MUTEX. Reads only the
        // head (this thread's memory); writes the node (our lock, held) and
        // the prev word of the entry below (the libc's, or another lock
        // this thread holds).
        let below = head.next;
        // SAFETY: `node` lies inside this lock (off <= 56, checked), and
        // `node - 8` too (off >= 12): the node bytes, which only the holder
        // writes. Unaligned writes: musl's offset puts `next` at word+28.
        unsafe {
            std::ptr::write_unaligned(node as *mut usize, below);
            std::ptr::write_unaligned((node - 8) as *mut usize, head as *mut ListHead as usize);
        }
        let below_addr = below & !1;
        if below_addr != head as *mut ListHead as usize {
            // SAFETY: `below` is the entry this thread's list starts with,
            // read from the head (not from the file): an entry of a lock
            // this thread holds, whose prev word precedes it.
            unsafe { std::ptr::write_unaligned((below_addr - 8) as *mut usize, node) };
        }
        compiler_fence(Ordering::SeqCst);
        head.next = node;
        compiler_fence(Ordering::SeqCst);
        // 3: done.
        head.list_op_pending = 0;
        Ok((
            Held {
                lock: self,
                below,
                _not_send: PhantomData,
            },
            got,
        ))
    }

    /// Contended, or its owner died: spin a little, then sleep with
    /// FUTEX_WAITERS set (as glibc's __lll_robust_lock_wait).
    #[cold]
    #[inline(never)]
    fn lock_slow(&self, tid: u32, end: Option<&libc::timespec>) -> Result<Acquired, LockError> {
        let w = &self.word;
        for _ in 0..SPINS {
            if w.load(Ordering::Relaxed) & TID_MASK == 0 {
                break;
            }
            std::hint::spin_loop();
        }
        // Once this thread has slept, others may sleep too: keep the bit so
        // its unlock wakes one.
        let mut extra = 0;
        loop {
            let mut v = w.load(Ordering::Relaxed);
            if v & TID_MASK == 0 {
                // Free, or its owner died (the kernel left OWNER_DIED).
                let nv = tid | (v & WAITERS) | extra;
                match w.compare_exchange(v, nv, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) if v & OWNER_DIED != 0 => return Ok(Acquired::OwnerDied),
                    Ok(_) => return Ok(Acquired::Clean),
                    Err(_) => continue,
                }
            }
            if v & WAITERS == 0 {
                if w.compare_exchange(v, v | WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                v |= WAITERS;
            }
            // The queue's futex wait (sliced, and ended by a damaged
            // mapping): only its deadline ends the lock attempt.
            if matches!(
                super::futex::futex_wait(w, v, end),
                crate::backend::Wake::Elapsed
            ) {
                return Err(LockError::TimedOut);
            }
            extra = WAITERS;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Held is not Send: this is the thread that locked, whose state is
        // filled. (A fork child that drops a Held its parent made finds the
        // node absent from its own list, and releases the parent's lock, as
        // glibc's unlock of another thread's mutex would.)
        let t = STATE.with(Cell::get);
        let node = self.lock.node(t.off);
        // SAFETY: this thread's registered list head.
        let head = unsafe { &mut *t.head };
        head.list_op_pending = node;
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the node's `next` inside our lock (see `lock`): read only
        // to compare with our own copy, never followed.
        let next_in_file = unsafe { std::ptr::read_unaligned(node as *const usize) };
        if head.next == node && next_in_file == self.below {
            // The lock is still the list's head: restore the head from our
            // own copy.
            head.next = self.below;
            let below_addr = self.below & !1;
            if below_addr != head as *mut ListHead as usize {
                // SAFETY: the entry below is still linked (our node still
                // names it): a lock this thread holds, whose prev word
                // precedes it.
                unsafe {
                    std::ptr::write_unaligned(
                        (below_addr - 8) as *mut usize,
                        head as *mut ListHead as usize,
                    )
                };
            }
        } else {
            unlink_slow(head, node, self.below);
        }
        compiler_fence(Ordering::SeqCst);
        let old = self.lock.word.swap(0, Ordering::Release);
        if old & WAITERS != 0 {
            // SAFETY: a valid u32 futex word; FUTEX_WAKE reads no other
            // argument.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.lock.word.as_ptr(),
                    libc::FUTEX_WAKE,
                    1,
                )
            };
        }
        compiler_fence(Ordering::SeqCst);
        head.list_op_pending = 0;
    }
}

#[path = "lock_list.rs"]
mod list;
#[cfg(test)]
use list::probe;
use list::unlink_slow;

#[cfg(test)]
#[path = "lock_tests.rs"]
pub(super) mod tests;
