//! Waiting for room or a message: a short spin on the count, then a
//! registration under the lock and a futex sleep on the side's word (the
//! mover that sees the registration wakes it, see `Mapping::moved`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::super::errors::damage;
use super::super::layout::*;
use super::super::sync;
use super::super::ShmQueue;
use super::Wakes;
use crate::backend::{Interest, Wake};
use crate::error::ErrorKind;

/// Spins of a wait before it sleeps (each a `pause`: about 14 us in all on
/// this machine), and the shortest timeout that spins at all.
const WAIT_SPINS: u32 = 500;
const SPIN_MIN_TIMEOUT: Duration = Duration::from_micros(100);

impl ShmQueue {
    /// Waits until `interest` may be met, the handle closes, or `timeout`
    /// passes. Only a hint: the caller tries again.
    pub(in crate::backend::shm) fn wait_for(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
    ) -> Wake {
        let deadline = timeout.map(sync::deadline_after);
        let (word, waiters) = match interest {
            Interest::Readable => (OFF_SENT_WORD, OFF_RECV_WAITERS),
            Interest::Writable => (OFF_RECV_WORD, OFF_SEND_WAITERS),
        };
        let m = &self.map;
        // A short spin first, reading the count without the lock: a peer
        // that is running moves a message within microseconds, and a futex
        // sleep and wake-up costs far more (both sides: the mover then
        // needs no FUTEX_WAKE either). Only a hint: the caller tries again.
        if timeout.map_or(true, |t| t >= SPIN_MIN_TIMEOUT) {
            let max = self.map.shape.max_messages;
            for _ in 0..WAIT_SPINS {
                let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
                let ready = match interest {
                    Interest::Readable => count > 0,
                    Interest::Writable => count < max,
                };
                if ready || self.closing.load(Ordering::Relaxed) {
                    return Wake::Ready;
                }
                std::hint::spin_loop();
            }
        }
        let v = {
            // The lock for as long as the wait may take (a holder stopped
            // inside a call ends the wait at its deadline, or at close).
            let g = match sync::lock_within(
                &self.map,
                || self.map.repair(),
                || sync::LockWait::Until(deadline, &self.closing),
            ) {
                Ok(g) => g,
                Err(e) => {
                    return match e.kind() {
                        ErrorKind::TimedOut => Wake::Elapsed,
                        ErrorKind::Closed => Wake::Ready,
                        _ => Wake::Failed(e),
                    }
                }
            };
            let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
            let ready = match interest {
                Interest::Readable => count > 0,
                Interest::Writable => count < self.map.shape.max_messages,
            };
            if ready {
                return Wake::Ready;
            }
            // Registered under the lock with the word read: a mover after
            // this either changes the word first or sees the registration.
            m.u32(waiters).fetch_add(1, Ordering::SeqCst);
            let v = m.u32(word).load(Ordering::SeqCst);
            drop(g);
            v
        };
        if self.closing.load(Ordering::SeqCst) {
            return Wake::Ready;
        }
        if self.map.damaged() {
            // The word may be the guard's zero page: nobody would wake it.
            return Wake::Failed(damage(&self.map));
        }
        match sync::futex_wait(m.u32(word), v, deadline.as_ref()) {
            _ if self.map.damaged() => Wake::Failed(damage(&self.map)),
            w => w,
        }
    }

    /// Close: every waiter of this process's handle is woken to see it
    /// (their words bumped, so a sleeper that already read them returns).
    pub(in crate::backend::shm) fn release_waiters(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let m = &self.map;
        for w in [OFF_SENT_WORD, OFF_RECV_WORD] {
            m.u32(w).fetch_add(1, Ordering::SeqCst);
        }
        self.map.wake(Wakes {
            sent: true,
            received: true,
            changed: false,
            notify: false,
        });
    }
}
