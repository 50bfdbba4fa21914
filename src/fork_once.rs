//! A process-global value made on first use (like `OnceLock`) that a child
//! made by `fork()` can always get.
//!
//! `OnceLock` and `Once` are not fork-safe: if one thread of a process is
//! inside their initialisation when another thread forks, the child gets
//! the "being initialised" state but not the thread that would finish it,
//! and its first use of the value waits forever. (pmq's own test suite hit
//! it: a forked child froze in `close()` because another test thread of the
//! parent was creating the notification registry at that instant.) Here the
//! state being made carries the maker's process id, so a child that finds
//! its parent's maker at work makes the value itself.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

pub(crate) struct ForkOnce<T> {
    value: AtomicPtr<T>,
    /// pid + 1 of the process one of whose threads is making the value (0:
    /// nobody is).
    maker: AtomicU64,
}

impl<T> ForkOnce<T> {
    pub(crate) const fn new() -> Self {
        ForkOnce {
            value: AtomicPtr::new(std::ptr::null_mut()),
            maker: AtomicU64::new(0),
        }
    }

    /// The value if it was made.
    #[inline]
    pub(crate) fn get(&'static self) -> Option<&'static T> {
        let p = self.value.load(Ordering::Acquire);
        // SAFETY: a non-null value is a leaked Box, never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// The value, made by `make` if no one made it yet (in this process, or
    /// in the parent before the fork that made this process).
    #[inline]
    pub(crate) fn get_or_init(&'static self, make: impl FnOnce() -> T) -> &'static T {
        let p = self.value.load(Ordering::Acquire);
        if p.is_null() {
            return self.make(make);
        }
        // SAFETY: a non-null value is a leaked Box, never freed.
        unsafe { &*p }
    }

    #[cold]
    fn make(&'static self, make: impl FnOnce() -> T) -> &'static T {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() } as u64 + 1;
        loop {
            let p = self.value.load(Ordering::Acquire);
            if !p.is_null() {
                // SAFETY: as in get_or_init.
                return unsafe { &*p };
            }
            let m = self.maker.load(Ordering::Acquire);
            if m == me {
                // Another thread of this process is making it.
                std::thread::yield_now();
                continue;
            }
            // Nobody, or a maker in the process this one was forked from
            // (its thread does not exist here): make it here.
            if self
                .maker
                .compare_exchange(m, me, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            /// Lets another thread try if `make` panics.
            struct Reset<'a>(&'a AtomicU64);
            impl Drop for Reset<'_> {
                fn drop(&mut self) {
                    self.0.store(0, Ordering::Release);
                }
            }
            let reset = Reset(&self.maker);
            let v = Box::into_raw(Box::new(make()));
            self.value.store(v, Ordering::Release);
            std::mem::forget(reset);
            // SAFETY: just leaked, never freed.
            return unsafe { &*v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ForkOnce;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A child forked while a thread of its parent is inside `make` gets
    /// the value (with OnceLock it waited forever). The parent's maker is
    /// held inside `make` until the fork is done, so the race is not left
    /// to chance.
    #[test]
    fn a_child_forked_while_the_parent_makes_the_value_makes_it_itself() {
        static ONCE: ForkOnce<u32> = ForkOnce::new();
        static INSIDE: AtomicBool = AtomicBool::new(false);
        static FORKED: AtomicBool = AtomicBool::new(false);
        let maker = std::thread::spawn(|| {
            *ONCE.get_or_init(|| {
                INSIDE.store(true, Ordering::SeqCst);
                while !FORKED.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                1
            })
        });
        while !INSIDE.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // SAFETY: the child only reads the once, writes nothing shared and
        // leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let v = *ONCE.get_or_init(|| 2);
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(if v == 2 { 0 } else { 1 }) };
        }
        FORKED.store(true, Ordering::SeqCst);
        assert_eq!(maker.join().unwrap(), 1);
        // The child either exits (0: it made its own value) or, with a
        // once that is not fork-safe, never does: give it ample time, then
        // call it stuck (the bound is a failure guard, not a speed claim).
        let mut status = 0;
        let mut waited = 0;
        loop {
            // SAFETY: pid is our child; status is a valid out-pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            waited += 1;
            if waited > 3000 {
                // SAFETY: pid is our child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("the forked child never got the value (stuck in the parent's init)");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(*ONCE.get_or_init(|| 3), 1);
    }
}
