//! Leases in the layout-3 store (under the consumers' lock): a leased
//! message stays in its slot, LEASED to its holder (opener index << 32 |
//! the record's generation), out of the ring and the index, so no other
//! receiver sees it and it still counts against the capacity.
//!
//! - **Lease**: chosen exactly as a receive chooses (`ring_receive`),
//!   copied, receipt written, then `deliveries + 1`, the holder, the
//!   visibility and the time, COMMIT `state = LEASED`; the slot is not
//!   handed back at F.
//! - **Ack**: the lease checked (slot, LEASED, seq, holder, delivery, not
//!   expired), COMMIT `state = FREE`, the slot handed back at F.
//! - **Nack**, **expiry**, **the holder's end** (its record's generation
//!   moved, its liveness lock is gone, or it closes): COMMIT `state =
//!   READY` (the reason in `owner`), linked into its priority's list in
//!   seq order (every message of `[H, P)` has a larger seq, so this is its
//!   place: FIFO by send order holds for redeliveries).
//! - **Sweeps**: a consumers' lock holder that sees `leased > 0` and the
//!   time past `next_sweep` (the earliest expiry, or at most
//!   [`PROBE_EVERY`] after the last look) gives back what is due; so does
//!   a receiver waiting on an empty queue, an open, and a repair.
//!   Nothing of this runs on a receive when no lease is out.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{corrupt, Fault, Ring, Taken};
use crate::backend::shm::layout::*;
use crate::backend::shm::lock::Policy;

/// How often the holders of leases without expiry are probed for life.
pub(in crate::backend::shm) const PROBE_EVERY: Duration = Duration::from_millis(50);

/// What a lease call gives each message it leases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::backend::shm) struct LeaseSpec {
    /// The holder (opener index << 32 | generation).
    pub owner: u64,
    /// The visibility timeout in ms (0: none).
    pub visibility_ms: u32,
    /// [`now_ns`] now.
    pub now: u64,
}

/// A lease as the store checks it (the core's, and the C ABI's).
pub(in crate::backend::shm) type Held = crate::types::Lease;

/// Why an ack or nack did not settle a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::backend::shm) enum Refusal {
    /// The lease is not the caller's now: why (nothing was changed for it,
    /// unless the text says it was given back).
    Lost(String),
    /// The queue failed (a lock, a damaged value).
    Fault(Fault),
}

impl From<Fault> for Refusal {
    fn from(f: Fault) -> Refusal {
        Refusal::Fault(f)
    }
}

/// The leases' clock now, in ns: CLOCK_MONOTONIC_COARSE (system-wide:
/// every process agrees; a read of the kernel's last tick, no timer read:
/// a lease + ack reads it up to twice, and CLOCK_MONOTONIC's read was a
/// sixth of that pair's time). It lags the true time by up to one tick
/// ([`tick_ns`]), so a lease's end is judged one tick late, never early.
#[inline]
pub(in crate::backend::shm) fn now_ns() -> u64 {
    // SAFETY: `t` is a valid timespec for clock_gettime to fill.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; CLOCK_MONOTONIC_COARSE exists on every Linux pmq
    // runs on (2.6.32 and later).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The resolution of [`now_ns`] (one kernel tick, 1-10 ms), asked once.
fn tick_ns() -> u64 {
    static TICK: crate::fork_once::ForkOnce<u64> = crate::fork_once::ForkOnce::new();
    *TICK.get_or_init(|| {
        // SAFETY: `t` is a valid timespec for clock_getres to fill.
        let mut t: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut t) };
        if r != 0 {
            return 10_000_000; // the coarsest tick Linux has (HZ = 100)
        }
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    })
}

/// When a lease taken at `leased_at` (by [`now_ns`]) with a visibility of
/// `v` ms (not 0) ends, by [`now_ns`]: one tick after the true end, so a
/// clock that lagged at the lease and not at the check never ends it early.
fn lease_end(leased_at: u64, v: u32) -> u64 {
    leased_at
        .saturating_add(u64::from(v) * 1_000_000)
        .saturating_add(tick_ns())
}

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

impl Ring<'_> {
    /// The owner id of opener record `i` now.
    pub fn owner_id(&self, i: u32) -> Option<u64> {
        let o = self.opener(i)?;
        Some(u64::from(i) << 32 | u64::from(o.gen.load(Ordering::Relaxed)))
    }

    /// Records which opener this view's handle holds (alive whatever its
    /// own lock probe says: a lock of the probing descriptor never
    /// conflicts with itself).
    pub fn set_me(&self, i: u32) {
        self.me.store(i, Ordering::Relaxed);
    }

    /// Whether the holder `owner` of a lease lives: its record still has
    /// its generation and a live handle's liveness lock.
    pub(super) fn holder_alive(&self, owner: u64) -> bool {
        let i = (owner >> 32) as u32;
        let Some(o) = self.opener(i) else {
            return false;
        };
        if o.gen.load(Ordering::Relaxed) != owner as u32 {
            return false;
        }
        if i == self.me.load(Ordering::Relaxed) || self.fd < 0 {
            return true;
        }
        // Unsure (the probe failed): alive; a lease given back too early
        // would be delivered twice.
        crate::backend::shm::sync::lock_held(self.fd, i).unwrap_or(true)
    }

    /// Slot `s` (chosen as a receive chooses, no longer listed) copied into
    /// `buf` and LEASED to `l.owner`.
    #[inline(always)]
    pub(super) fn take_leased(
        &self,
        s: u32,
        buf: &mut [u8],
        o: &Opener,
        l: LeaseSpec,
    ) -> Result<Taken, Fault> {
        let mut t = self.copy_out(s, buf, o)?;
        let sl = self.header(s);
        let d = sl.deliveries.load(Ordering::Relaxed).saturating_add(1);
        sl.deliveries.store(d, Ordering::Relaxed);
        sl.owner.store(l.owner, Ordering::Relaxed);
        sl.visibility.store(l.visibility_ms, Ordering::Relaxed);
        sl.leased_at.store(l.now, Ordering::Relaxed);
        sl.state.store(LEASED, Ordering::Release); // COMMIT
        at!("lease.committed");
        let cs = &self.head.consumers.0;
        let was = cs.leased.load(Ordering::Relaxed);
        cs.leased.store(was + 1, Ordering::Relaxed);
        let probe = l.now + PROBE_EVERY.as_nanos() as u64;
        let due = match l.visibility_ms {
            0 => probe,
            v => probe.min(lease_end(l.now, v)),
        };
        if was == 0 || due < cs.next_sweep.load(Ordering::Relaxed) {
            cs.next_sweep.store(due, Ordering::Relaxed);
        }
        t.delivery = d;
        Ok(t)
    }

    /// Whether LEASED slot `s` is past its visibility timeout at `now`.
    fn expired(&self, s: u32, now: u64) -> Option<u64> {
        let sl = self.header(s);
        let v = sl.visibility.load(Ordering::Relaxed);
        if v == 0 {
            return None;
        }
        let end = lease_end(sl.leased_at.load(Ordering::Relaxed), v);
        (now >= end).then(|| now - end)
    }

    /// Puts LEASED slot `s` back in the queue at its place (why: a
    /// `RETURN_*` reason). Under the consumers' lock.
    fn give_back(&self, s: u32, why: u64) -> Result<(), Fault> {
        let sl = self.header(s);
        let prio = sl.prio.load(Ordering::Relaxed);
        sl.owner.store(RETURNED | why, Ordering::Relaxed);
        sl.state.store(READY, Ordering::Release); // COMMIT
        self.link_in_order(s, prio)?;
        let cs = &self.head.consumers.0;
        cs.indexed
            .store(cs.indexed.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let l = cs.leased.load(Ordering::Relaxed);
        cs.leased.store(l.saturating_sub(1), Ordering::Relaxed);
        Ok(())
    }

    /// Links slot `s` into priority `p`'s list before the first slot with a
    /// larger seq.
    fn link_in_order(&self, s: u32, p: u32) -> Result<(), Fault> {
        if p >= PRIORITIES {
            return Err(corrupt("a message priority", u64::from(p)));
        }
        let ix = &self.head.index.0;
        let seq = self.header(s).seq.load(Ordering::Relaxed);
        let (mut prev, mut at) = (0u32, ix.heads[p as usize].load(Ordering::Relaxed));
        let mut steps = 0;
        while at != 0 {
            if at > self.g.capacity || steps > self.g.capacity {
                return Err(corrupt("a list link", u64::from(at)));
            }
            let h = self.header(at - 1);
            if h.seq.load(Ordering::Relaxed) > seq {
                break;
            }
            prev = at;
            at = h.next.load(Ordering::Relaxed);
            steps += 1;
        }
        if prev == 0 && at == 0 {
            // An empty list: the plain append.
            return self.link(s, p);
        }
        self.header(s).next.store(at, Ordering::Relaxed);
        if prev == 0 {
            ix.heads[p as usize].store(s + 1, Ordering::Relaxed);
        } else {
            self.header(prev - 1).next.store(s + 1, Ordering::Relaxed);
        }
        if at == 0 {
            ix.tails[p as usize].store(s + 1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Under the consumers' lock with leases out: a sweep if it is due.
    #[cold]
    #[inline(never)]
    pub(super) fn sweep_due(&self) -> Result<(), Fault> {
        let now = now_ns();
        if now < self.head.consumers.0.next_sweep.load(Ordering::Relaxed) {
            return Ok(());
        }
        if self.sweep(now, None)? > 0 {
            // Messages came back: receivers asleep on an empty queue look
            // (they meet this lock's holder for a moment).
            self.wake(&self.head.receivers.0);
        }
        Ok(())
    }

    /// Gives back (under the consumers' lock) every LEASED slot that is
    /// expired at `now` or whose holder is dead, and, with `closing`, every
    /// one `closing` holds; then sets the next sweep. How many it gave back.
    pub fn sweep(&self, now: u64, closing: Option<u64>) -> Result<u64, Fault> {
        let cs = &self.head.consumers.0;
        let mut left = cs.leased.load(Ordering::Relaxed);
        let mut back = 0;
        let mut next = now + PROBE_EVERY.as_nanos() as u64;
        // Holders probed in this sweep (few: one per handle with leases).
        let mut probed: Vec<(u64, bool)> = Vec::new();
        let mut s = 0;
        while left > 0 && s < self.g.capacity {
            let sl = self.header(s);
            if sl.state.load(Ordering::Acquire) != LEASED {
                s += 1;
                continue;
            }
            left -= 1;
            let owner = sl.owner.load(Ordering::Relaxed);
            let why = if closing == Some(owner) {
                Some(RETURN_CLOSED)
            } else if self.expired(s, now).is_some() {
                Some(RETURN_EXPIRED)
            } else {
                let alive = match probed.iter().find(|p| p.0 == owner) {
                    Some(&(_, a)) => a,
                    None => {
                        let a = self.holder_alive(owner);
                        probed.push((owner, a));
                        a
                    }
                };
                (!alive).then_some(RETURN_DEAD)
            };
            match why {
                Some(why) => {
                    self.give_back(s, why)?;
                    at!("sweep.requeued");
                    back += 1;
                }
                None => {
                    let v = sl.visibility.load(Ordering::Relaxed);
                    if v != 0 {
                        next = next.min(lease_end(sl.leased_at.load(Ordering::Relaxed), v));
                    }
                }
            }
            s += 1;
        }
        cs.next_sweep.store(next, Ordering::Relaxed);
        Ok(back)
    }

    /// Checks lease `l` of holder `owner` (under the consumers' lock): its
    /// slot, or why it is not this holder's now. An expired lease is given
    /// back here (and reported lost).
    #[inline(always)]
    fn check_lease(&self, l: &Held, owner: u64) -> Result<u32, Refusal> {
        if l.slot < self.g.capacity {
            let sl = self.header(l.slot);
            // The common case in a few loads: held, and no expiry to read
            // the clock for.
            if sl.state.load(Ordering::Acquire) == LEASED
                && sl.seq.load(Ordering::Relaxed) == l.seq
                && sl.deliveries.load(Ordering::Relaxed) == l.delivery
                && sl.owner.load(Ordering::Relaxed) == owner
                && sl.visibility.load(Ordering::Relaxed) == 0
            {
                return Ok(l.slot);
            }
        }
        self.check_lease_slow(l, owner)
    }

    /// [`Ring::check_lease`] in full: the expiry, and why a lease is lost.
    #[cold]
    #[inline(never)]
    fn check_lease_slow(&self, l: &Held, owner: u64) -> Result<u32, Refusal> {
        let lost = |why: String| {
            Err(Refusal::Lost(format!(
                "the lease on message seq {} (delivery {}) is no longer this handle's: {why}; \
                 nothing was acked or given back by this call",
                l.seq, l.delivery
            )))
        };
        if l.slot >= self.g.capacity {
            return lost(format!(
                "it names slot {}, but this queue has {} slots (pass a lease this queue's lease \
                 call returned)",
                l.slot, self.g.capacity
            ));
        }
        let sl = self.header(l.slot);
        let state = sl.state.load(Ordering::Acquire);
        let seq = sl.seq.load(Ordering::Relaxed);
        let d = sl.deliveries.load(Ordering::Relaxed);
        let held_by = sl.owner.load(Ordering::Relaxed);
        if seq != l.seq || state == FREE {
            return lost(
                "the message is no longer in the queue (already acked, or given back and then \
                 taken for good by a receiver)"
                    .into(),
            );
        }
        if state == READY {
            let why = match held_by & !RETURNED {
                RETURN_NACKED => "it was already nacked and waits in the queue again",
                RETURN_EXPIRED => {
                    "its visibility timeout passed and it was given back to the queue"
                }
                RETURN_DEAD => {
                    "it was given back to the queue after its holder was judged dead (the \
                     holder's process died or its opener record was claimed again)"
                }
                RETURN_CLOSED => "it was given back when the handle holding it closed",
                _ => "it waits in the queue, not leased",
            };
            return lost(why.into());
        }
        if state != LEASED {
            return Err(corrupt("a slot's state", u64::from(state)).into());
        }
        if d != l.delivery {
            return lost(format!(
                "it was given back and leased again since (delivery {d}{})",
                if held_by == owner {
                    ", by this handle"
                } else {
                    ", by another handle"
                }
            ));
        }
        if held_by != owner {
            return lost(format!(
                "it is held by another handle (opener record {}), not this one",
                held_by >> 32
            ));
        }
        // The clock is read only for a lease that can expire.
        let v = sl.visibility.load(Ordering::Relaxed);
        if let Some(late) = (v != 0).then(|| self.expired(l.slot, now_ns())).flatten() {
            self.give_back(l.slot, RETURN_EXPIRED)?;
            return Err(Refusal::Lost(format!(
                "the lease on message seq {} (delivery {}) is no longer this handle's: its \
                 visibility timeout ({} ms) passed {} ms ago, so it was given back to the queue \
                 (another receive will deliver it again); ack sooner or lease with a longer \
                 visibility timeout",
                l.seq,
                l.delivery,
                v,
                ms(late)
            )));
        }
        Ok(l.slot)
    }

    /// Acks `l` (holder `owner`, under the consumers' lock): FREE and the
    /// slot handed back at F.
    fn ack_locked(&self, l: &Held, owner: u64) -> Result<(), Refusal> {
        at!("ack.locked");
        let s = self.check_lease(l, owner)?;
        let cs = &self.head.consumers.0;
        self.header(s).state.store(FREE, Ordering::Release); // COMMIT
        at!("ack.committed");
        let f = cs.f.load(Ordering::Relaxed);
        self.ring[self.at(f)].store(s, Ordering::Relaxed);
        cs.f.store(f + 1, Ordering::Release);
        let n = cs.leased.load(Ordering::Relaxed);
        cs.leased.store(n.saturating_sub(1), Ordering::Relaxed);
        Ok(())
    }

    /// Nacks `l` (holder `owner`, under the consumers' lock): back at its
    /// place in its priority's list.
    fn nack_locked(&self, l: &Held, owner: u64) -> Result<(), Refusal> {
        at!("nack.locked");
        let s = self.check_lease(l, owner)?;
        self.give_back(s, RETURN_NACKED)?;
        at!("nack.linked");
        Ok(())
    }

    /// Acks (or with `nack`, nacks) the one lease `l` held by `owner`,
    /// under the consumers' lock taken as `wait` allows: the hot path of
    /// [`Ring::settle_with`] (no batch to count or report on).
    #[inline(always)]
    pub fn settle_one<'w>(
        &self,
        l: &Held,
        owner: u64,
        nack: bool,
        wait: impl Fn() -> Policy<'w>,
    ) -> Result<(), Refusal> {
        let guard = self.lock_consumers(wait)?;
        if self.head.consumers.0.broken.load(Ordering::Relaxed) != 0 {
            return Err(super::unrecoverable().into());
        }
        let r = if nack {
            self.nack_locked(l, owner)
        } else {
            self.ack_locked(l, owner)
        };
        drop(guard);
        // As settle_with: room after an ack; a message back after a nack
        // (or an expired lease the ack gave back).
        if r.is_ok() && !nack {
            self.wake(&self.head.senders.0);
        } else {
            self.wake(&self.head.receivers.0);
        }
        r
    }

    /// Acks (or with `nack`, nacks) each of `leases` held by `owner`, under
    /// one consumers' lock taken as `wait` allows: how many, and the first
    /// failure (the others are still done).
    pub fn settle_with<'w>(
        &self,
        leases: &[Held],
        owner: u64,
        nack: bool,
        wait: impl Fn() -> Policy<'w>,
    ) -> (usize, Option<(usize, Refusal)>) {
        let guard = match self.lock_consumers(wait) {
            Ok(g) => g,
            Err(f) => return (0, Some((0, f.into()))),
        };
        if self.head.consumers.0.broken.load(Ordering::Relaxed) != 0 {
            return (0, Some((0, super::unrecoverable().into())));
        }
        let mut done = 0;
        let mut first = None;
        for (i, l) in leases.iter().enumerate() {
            let r = if nack {
                self.nack_locked(l, owner)
            } else {
                self.ack_locked(l, owner)
            };
            match r {
                Ok(()) => done += 1,
                Err(f @ Refusal::Lost(_)) => {
                    first.get_or_insert((i, f));
                }
                Err(f) => {
                    first.get_or_insert((i, f));
                    break;
                }
            }
        }
        drop(guard);
        // Room (an ack), a message back (a nack, or an expired lease an ack
        // gave back).
        if nack || first.is_some() {
            self.wake(&self.head.receivers.0);
        }
        if !nack && done > 0 {
            self.wake(&self.head.senders.0);
        }
        (done, first)
    }

    /// Under the consumers' lock taken as `wait` allows: a sweep (see
    /// [`Ring::sweep`]), or with `due_only` one only if its time has come;
    /// how many came back.
    pub fn sweep_with<'w>(
        &self,
        closing: Option<u64>,
        due_only: bool,
        wait: impl Fn() -> Policy<'w>,
    ) -> Result<u64, Fault> {
        let guard = self.lock_consumers(wait)?;
        let cs = &self.head.consumers.0;
        let now = now_ns();
        let n = if cs.leased.load(Ordering::Relaxed) == 0
            || (due_only && now < cs.next_sweep.load(Ordering::Relaxed))
        {
            0
        } else {
            self.sweep(now, closing)?
        };
        drop(guard);
        if n > 0 {
            self.wake(&self.head.receivers.0);
        }
        Ok(n)
    }

    /// Leased messages now and the oldest one's lease time (under the
    /// consumers' lock).
    pub fn lease_counts(&self) -> (u64, Option<u64>) {
        let n = self.head.consumers.0.leased.load(Ordering::Relaxed);
        let mut left = n;
        let mut oldest: Option<u64> = None;
        let mut s = 0;
        while left > 0 && s < self.g.capacity {
            let sl = self.header(s);
            if sl.state.load(Ordering::Acquire) == LEASED {
                left -= 1;
                let t = sl.leased_at.load(Ordering::Relaxed);
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
            s += 1;
        }
        (n, oldest)
    }
}
