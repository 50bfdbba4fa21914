//! Waiting for room or a message: the engine's lock-free wait (a short
//! spin on the positions, then a registration and a futex sleep of at most
//! one slice on the side's word; see `ring::Ring::wait`).

use std::time::Duration;

use super::super::errors::damage;
use super::super::futex;
use super::super::ring::Waited;
use super::super::ShmQueue;
use crate::backend::{Interest, Wake};

/// The shortest timeout that spins before it sleeps (a spin is a few
/// microseconds).
const SPIN_MIN_TIMEOUT: Duration = Duration::from_micros(100);

impl ShmQueue {
    /// Waits until `interest` may be met, the handle closes, or `timeout`
    /// passes. Only a hint: the caller tries again.
    pub(in crate::backend::shm) fn wait_for(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
    ) -> Wake {
        let deadline = timeout.map(futex::deadline_after);
        if self.map.damaged() {
            // The words may be the guard's zero page: nobody would wake them.
            return Wake::Failed(damage(&self.map));
        }
        let spin = timeout.map_or(true, |t| t >= SPIN_MIN_TIMEOUT);
        let readable = matches!(interest, Interest::Readable);
        // Leases out: this waiter gives back what is due (a dead holder's
        // messages reach it without a new send) and wakes for the next.
        let mut deadline = deadline;
        if readable {
            if let Some(cap) = self.lease_wait_cap() {
                let d = futex::deadline_after(cap);
                if deadline.map_or(true, |e| (d.tv_sec, d.tv_nsec) < (e.tv_sec, e.tv_nsec)) {
                    deadline = Some(d);
                }
            }
        }
        let w = self
            .map
            .ring()
            .wait(readable, deadline.as_ref(), &self.closing, spin);
        if self.map.damaged() {
            return Wake::Failed(damage(&self.map));
        }
        match w {
            Waited::Again => Wake::Ready,
            Waited::Elapsed => Wake::Elapsed,
            Waited::Interrupted => Wake::Interrupted,
        }
    }

    /// Close: every waiter of the queue is woken to look again (this
    /// handle's see `closing`; others' go back to sleep).
    pub(in crate::backend::shm) fn release_waiters(&self) {
        self.closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.map.ring().wake_everyone();
    }
}
