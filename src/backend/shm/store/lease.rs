//! Leases through a handle (the engine's side is `ring_lease`): the
//! handle's holder id, the visibility in the file's unit, the errors in
//! the contract's terms, and the handle's own ends (open, close, waits).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::super::lock::Policy;
use super::super::ring::lease::{now_ns, LeaseSpec, Refusal};
use super::super::ShmQueue;
use super::{fault_error, patient_error, patient_policy};
use crate::backend::{Attempt, Patience};
use crate::error::{Error, ErrorKind, Result};
use crate::types::{Lease, LeaseStats, LeasedMessage};

/// A visibility timeout in the file's unit (ms, rounded up; 0: none).
fn visibility_ms(v: Option<Duration>) -> Result<u32> {
    let Some(d) = v else { return Ok(0) };
    let ms = d.as_nanos().div_ceil(1_000_000).max(1);
    u32::try_from(ms).map_err(|_| {
        Error::invalid(format!(
            "a visibility timeout of {d:?} is longer than the shared-memory backend keeps (at \
             most {} ms, about 49.7 days); give a shorter one, or none for a lease that lasts \
             until ack, nack or the holder's end",
            u32::MAX
        ))
    })
}

/// A refusal of one lease as the contract's error.
#[cold]
#[inline(never)]
fn refused(f: Refusal) -> Error {
    match f {
        Refusal::Lost(why) => Error::new(ErrorKind::LeaseLost, why),
        Refusal::Fault(f) => patient_error(f),
    }
}

impl ShmQueue {
    /// This handle's holder id (opener index << 32 | its generation).
    fn owner(&self) -> u64 {
        self.map
            .ring()
            .owner_id(self.opener)
            .expect("opener indexes are claimed below OPENERS")
    }

    /// Leases up to `out.len()` messages (see `QueueBackend::try_lease_batch`).
    pub(in crate::backend::shm) fn lease_locked(
        &self,
        buf: &mut [u8],
        out: &mut [LeasedMessage],
        visibility: Option<Duration>,
        p: Patience,
    ) -> Attempt<usize> {
        let visibility_ms = match visibility_ms(visibility) {
            Ok(v) => v,
            Err(e) => return Attempt::failed(e),
        };
        let spec = LeaseSpec {
            owner: self.owner(),
            visibility_ms,
            now: now_ns(),
        };
        let mut n = 0;
        match self.map.ring().lease_with(
            buf,
            out.len(),
            self.opener,
            spec,
            self.policy(p),
            |offset, t| {
                out[n] = LeasedMessage {
                    offset,
                    len: t.len,
                    priority: t.prio,
                    lease: Lease {
                        seq: t.seq,
                        slot: t.slot,
                        delivery: t.delivery,
                    },
                };
                n += 1;
            },
        ) {
            Ok(k) => Attempt::Done(k),
            Err(f) => self.no_move(f, p),
        }
    }

    /// Acks (or nacks) one lease (the hot path of [`ShmQueue::settle`]).
    #[inline(always)]
    pub(in crate::backend::shm) fn settle_one(&self, lease: &Lease, nack: bool) -> Result<()> {
        let r = self
            .map
            .ring()
            .settle_one(lease, self.owner(), nack, patient_policy);
        match r {
            Ok(()) => self.sound_result(Ok(())),
            Err(f) => self.sound_result(Err(refused(f))),
        }
    }

    /// Acks (or nacks) `leases` under one lock: how many, and LeaseLost
    /// naming how many were not and the first of them.
    pub(in crate::backend::shm) fn settle(
        &self,
        leases: &[Lease],
        nack: bool,
    ) -> (usize, Result<()>) {
        let (done, first) = self
            .map
            .ring()
            .settle_with(leases, self.owner(), nack, patient_policy);
        let r = match first {
            None => Ok(()),
            Some((_, f)) if leases.len() == 1 => Err(refused(f)),
            Some((i, Refusal::Lost(why))) => {
                let lost = leases.len() - done;
                Err(Error::new(
                    ErrorKind::LeaseLost,
                    format!(
                        "{lost} of {} leases were not this handle's (the other {done} were {}); \
                         the first, at index {i}: {why}",
                        leases.len(),
                        if nack { "nacked" } else { "acked" }
                    ),
                ))
            }
            Some((_, Refusal::Fault(f))) => Err(patient_error(f)),
        };
        (done, self.sound_result(r))
    }

    /// The queue's leases now (expired ones given back first).
    pub(in crate::backend::shm) fn lease_stats_now(&self) -> Result<LeaseStats> {
        let r = self.map.ring();
        let g = r.lock_consumers(patient_policy).map_err(patient_error)?;
        let now = now_ns();
        let mut back = 0;
        if r.head().consumers.0.leased.load(Ordering::Relaxed) != 0
            && now >= r.head().consumers.0.next_sweep.load(Ordering::Relaxed)
        {
            back = r.sweep(now, None).map_err(fault_error)?;
        }
        let (leased, oldest) = r.lease_counts();
        drop(g);
        if back > 0 {
            r.wake_everyone();
        }
        self.header_intact()?;
        self.sound_result(Ok(LeaseStats {
            leased,
            oldest_age: oldest.map(|t| Duration::from_nanos(now.saturating_sub(t))),
        }))
    }

    /// The queue's identity (random, written at create).
    pub(in crate::backend::shm) fn instance(&self) -> u64 {
        self.map.head().ident.0.instance.load(Ordering::Relaxed)
    }

    /// Gives back the leases whose holders are dead or whose time is up
    /// (with `closing`, also this handle's own: its close; with
    /// `due_only`, only if the next sweep's time has come). Tries once: a
    /// busy lock leaves the work to the next holder of it.
    pub(in crate::backend::shm) fn sweep_now(&self, closing: bool, due_only: bool) {
        let r = self.map.ring();
        if r.head().consumers.0.leased.load(Ordering::Relaxed) == 0 {
            return;
        }
        let own = closing.then(|| self.owner());
        let _ = r.sweep_with(own, due_only, || Policy::Brief);
    }

    /// For a receiver about to wait on an empty queue: when leases are out,
    /// a sweep now, and how long it may sleep before the next one is due.
    pub(in crate::backend::shm) fn lease_wait_cap(&self) -> Option<Duration> {
        let cs = &self.map.head().consumers.0;
        if cs.leased.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.sweep_now(false, true);
        let next = cs.next_sweep.load(Ordering::Relaxed);
        let left = next.saturating_sub(now_ns());
        Some(Duration::from_nanos(left).max(Duration::from_millis(1)))
    }

    fn sound_result<T>(&self, r: Result<T>) -> Result<T> {
        if self.map.damaged() {
            return Err(super::super::errors::damage(&self.map));
        }
        r
    }
}
