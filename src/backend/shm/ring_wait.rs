//! The waits of the layout-3 store: they take no lock (a waiter reads its
//! side's futex word, registers, looks at the positions, sleeps at most a
//! slice); a mover wakes the registered after its commit and unlock. The
//! protocol is model-checked in `ring_model.rs`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::{
    futex_wake, owner_died, Ring, Waited, SEND_ROOM_MAX, SEND_ROOM_SHARE, SEND_SPIN_STRIDE, SLICE,
    WAIT_SPINS,
};
use crate::backend::shm::layout::*;

impl Ring<'_> {
    // ---------------------------------------------------------------- waits

    /// After a commit and unlock: wake the registered waiters, if any (and
    /// the readiness helpers, which wait for any move).
    /// The registrations are taken before the word is bumped (a waiter
    /// reads the word before it registers, so every waiter whose
    /// registration this takes sees the bump).
    #[inline(always)]
    pub(super) fn wake(&self, w: &Waits) {
        #[cfg(not(target_arch = "x86_64"))]
        std::sync::atomic::fence(Ordering::SeqCst);
        // On x86-64 the unlock's locked exchange already ordered the
        // commit's stores before these loads.
        if w.waiters.load(Ordering::SeqCst) != 0 {
            wake_slow(w);
        }
        let c = &self.head.changed.0;
        if c.waiters.load(Ordering::SeqCst) != 0 {
            wake_slow(c);
        }
    }

    /// After a move that gives neither side anything (a lease): only the
    /// readiness helpers, which wait for any move.
    #[inline(always)]
    pub(super) fn wake_changed(&self) {
        #[cfg(not(target_arch = "x86_64"))]
        std::sync::atomic::fence(Ordering::SeqCst);
        let c = &self.head.changed.0;
        if c.waiters.load(Ordering::SeqCst) != 0 {
            wake_slow(c);
        }
    }

    pub(super) fn wake_all(&self) {
        let h = self.head;
        for w in [&h.receivers.0, &h.senders.0, &h.changed.0] {
            w.waiters.store(0, Ordering::SeqCst);
            w.word.fetch_add(1, Ordering::SeqCst);
            futex_wake(&w.word);
        }
    }

    /// Wakes every waiter (a handle closing).
    pub fn wake_everyone(&self) {
        self.wake_all();
    }

    /// Whether a receive (`readable`) or a send may find something now
    /// (read without a lock: a hint): the positions only, so a spinning
    /// waiter reads no line the other side writes per call besides the
    /// position it waits for (the lock words are written twice a call:
    /// reading them in a spin would make every lock and unlock of the
    /// other side miss its cache line).
    #[inline(always)]
    fn moved(&self, readable: bool) -> bool {
        let h = self.head;
        let p = h.producers.0.p.load(Ordering::Acquire);
        if readable {
            // H before the index count: a drain stores the count, then H,
            // so a look that straddles a drain still sees the messages (the
            // other order could see neither: ring_model.rs).
            h.consumers.0.h.load(Ordering::Acquire) < p
                || h.consumers.0.indexed.load(Ordering::Acquire) > 0
        } else {
            p < h.consumers.0.f.load(Ordering::Acquire)
        }
    }

    /// [`Ring::moved`], or the other side's lock left by a dead owner
    /// (the call repairs it: a dead sender's committed message, a dead
    /// receiver's slot).
    pub fn ready(&self, readable: bool) -> bool {
        let h = self.head;
        self.moved(readable)
            || owner_died(if readable {
                h.plock.word()
            } else {
                h.clock.word()
            })
    }

    /// Waits until a receive (`readable`) or a send may succeed, the
    /// deadline (absolute CLOCK_MONOTONIC) passes, or `closing` is set (by
    /// a closer that then calls [`Ring::wake_everyone`]). `spin`: look a
    /// few microseconds before registering (a running peer moves a message
    /// sooner than a futex sleep and wake-up take).
    pub fn wait(
        &self,
        readable: bool,
        end: Option<&libc::timespec>,
        closing: &AtomicBool,
        spin: bool,
    ) -> Waited {
        if spin && self.spin(readable, closing) {
            return Waited::Again;
        }
        let w = if readable {
            &self.head.receivers.0
        } else {
            &self.head.senders.0
        };
        // The word first, then the registration (see `wake`).
        let v = w.word.load(Ordering::SeqCst);
        w.waiters.fetch_add(1, Ordering::SeqCst);
        if self.ready(readable) || closing.load(Ordering::SeqCst) {
            return Waited::Again;
        }
        let slice = crate::backend::shm::futex::deadline_after(SLICE);
        let (ts, last) = match end {
            Some(d) if (d.tv_sec, d.tv_nsec) <= (slice.tv_sec, slice.tv_nsec) => (d, true),
            _ => (&slice, false),
        };
        match crate::backend::shm::futex::futex_wait(&w.word, v, Some(ts)) {
            crate::backend::Wake::Elapsed if last => Waited::Elapsed,
            crate::backend::Wake::Interrupted => Waited::Interrupted,
            _ => Waited::Again,
        }
    }

    /// The spin before a wait registers: whether a receive (`readable`) or
    /// a send may find something now. A receiver looks at P after every
    /// `pause`; a sender looks at F every [`SEND_SPIN_STRIDE`] of them (or
    /// fewer, for a short run) and waits for a run of free slots (see
    /// [`SEND_ROOM_SHARE`]).
    #[inline(always)]
    fn spin(&self, readable: bool, closing: &AtomicBool) -> bool {
        if readable {
            for _ in 0..WAIT_SPINS {
                if self.moved(true) || closing.load(Ordering::Relaxed) {
                    return true;
                }
                std::hint::spin_loop();
            }
            return false;
        }
        let h = self.head;
        let room = (u64::from(self.g.capacity) / SEND_ROOM_SHARE).clamp(1, SEND_ROOM_MAX);
        let stride = (room as u32).min(SEND_SPIN_STRIDE);
        for _ in 0..WAIT_SPINS / stride {
            let p = h.producers.0.p.load(Ordering::Acquire);
            if p.saturating_add(room) <= h.consumers.0.f.load(Ordering::Acquire)
                || closing.load(Ordering::Relaxed)
            {
                return true;
            }
            for _ in 0..stride {
                std::hint::spin_loop();
            }
        }
        false
    }

    /// Registers a readiness helper on the `changed` line and returns the
    /// word to sleep on with its value (read before the registration).
    pub fn watch_changes(&self) -> (&AtomicU32, u32) {
        let c = &self.head.changed.0;
        let v = c.word.load(Ordering::SeqCst);
        c.waiters.fetch_add(1, Ordering::SeqCst);
        (&c.word, v)
    }
}

#[cold]
#[inline(never)]
fn wake_slow(w: &Waits) {
    if w.waiters.swap(0, Ordering::SeqCst) != 0 {
        at!("wake.taken");
        w.word.fetch_add(1, Ordering::SeqCst);
        futex_wake(&w.word);
    }
}
