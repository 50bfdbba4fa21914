//! At-least-once receive: a lease hands a message out but keeps it in the
//! queue, invisible to other receivers, until the holder acks it (gone for
//! good) or nacks it (back at its place); a holder that dies, closes, or
//! lets its visibility timeout pass gives it back the same way. Only the
//! shared-memory backend keeps leases; the kernel backend reports
//! [`ErrorKind::NotSupported`] naming it.
//!
//! Dead letters: a handle opened with
//! [`OpenOptions::max_deliveries`](crate::OpenOptions::max_deliveries) does not hand a message out more
//! than that many times: a lease that would deliver it once more moves it
//! to the dead-letter queue named by
//! [`OpenOptions::dead_letter`](crate::OpenOptions::dead_letter) (created
//! with the queue's shape if missing, same backend), or drops it when none
//! is named, and leases the next one instead.

use std::time::Duration;

use crate::backend::Attempt;
use crate::error::{Error, Result};
use crate::queue::Queue;
use crate::timeout::Timeout;
use crate::transfer::RECEIVE;
use crate::types::{Lease, LeaseStats, LeasedMessage};

impl Queue {
    /// Receives the oldest message of the highest priority into `buf` (at
    /// least [`Queue::max_message_size`] bytes) under a lease: the message
    /// stays in the queue, invisible to other receivers, until
    /// [`Queue::ack`] removes it or [`Queue::nack`] gives it back. If this
    /// handle closes, or its process dies, before either, the message goes
    /// back at its place (ahead of later messages of its priority). With a
    /// `visibility` timeout it also goes back once that much time has passed
    /// without an ack (a hung holder); a later ack then fails with
    /// [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost). Returns the length, the priority and the
    /// lease. Waits as `timeout` says, as [`Queue::receive`] does. Leased
    /// messages count against the queue's capacity.
    #[inline]
    pub fn lease(
        &self,
        buf: &mut [u8],
        timeout: Timeout,
        visibility: Option<Duration>,
    ) -> Result<(usize, u32, Lease)> {
        let mut out = [LeasedMessage::default()];
        self.lease_into(buf, &mut out, timeout, visibility)?;
        // One message: at offset 0.
        let m = out[0];
        Ok((m.len, m.priority, m.lease))
    }

    /// Leases several messages in one call (as [`Queue::receive_batch`]
    /// receives them: waits for the first, then takes as many more as are
    /// there now, up to `out.len()` and while the next fits in `buf`), each
    /// under its own lease as [`Queue::lease`] describes. Returns how many.
    pub fn lease_batch(
        &self,
        buf: &mut [u8],
        out: &mut [LeasedMessage],
        timeout: Timeout,
        visibility: Option<Duration>,
    ) -> Result<usize> {
        self.lease_into(buf, out, timeout, visibility)
    }

    /// [`Queue::lease_batch`], inlined into [`Queue::lease`] (whose one
    /// message the C boundary inlines in turn: a lease is on the hot path).
    #[inline(always)]
    fn lease_into(
        &self,
        buf: &mut [u8],
        out: &mut [LeasedMessage],
        timeout: Timeout,
        visibility: Option<Duration>,
    ) -> Result<usize> {
        check_visibility(visibility)?;
        let b = self.enter_move()?;
        self.check_receive(buf)?;
        if out.is_empty() {
            return Ok(0);
        }
        let room = self.max_message_size().max(0) as usize;
        self.transfer(&b, timeout, &RECEIVE, |p| loop {
            match b.try_lease_batch(buf, room, out, visibility, p) {
                Attempt::Done(n) if self.dead_letter.max_deliveries == 0 => break Attempt::Done(n),
                Attempt::Done(n) => match self.drop_dead_letters(buf, &mut out[..n]) {
                    Ok(0) => continue,
                    Ok(kept) => break Attempt::Done(kept),
                    Err(e) => break Attempt::failed(e),
                },
                other => break other,
            }
        })
    }

    /// Removes a leased message for good. Fails with
    /// [`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost) (changing nothing) when the lease is no
    /// longer this handle's: acked or nacked already, its visibility
    /// timeout passed, or never this handle's; the detail says which.
    #[inline]
    pub fn ack(&self, lease: &Lease) -> Result<()> {
        let _b = self.enter_move()?;
        self.backend.ack(lease)
    }

    /// Gives a leased message back to the queue at its place: ahead of the
    /// messages of its priority sent after it, so the next receive of that
    /// priority gets it again (its delivery count goes on). Fails as
    /// [`Queue::ack`] does.
    #[inline]
    pub fn nack(&self, lease: &Lease) -> Result<()> {
        let _b = self.enter_move()?;
        self.backend.nack(lease)
    }

    /// Acks several leases under one lock. Ok(n) when all were acked; when
    /// some were no longer this handle's, the others are still acked and
    /// the error ([`ErrorKind::LeaseLost`](crate::ErrorKind::LeaseLost)) says how many and which first.
    pub fn ack_batch(&self, leases: &[Lease]) -> Result<usize> {
        let (n, r) = self.ack_batch_counted(leases);
        r.map(|()| n)
    }

    /// [`Queue::ack_batch`] that also tells how many were acked when some
    /// were lost (for the C ABI's `out_acked`).
    pub fn ack_batch_counted(&self, leases: &[Lease]) -> (usize, Result<()>) {
        match self.enter_move() {
            Ok(_b) => self.backend.ack_batch(leases),
            Err(e) => (0, Err(e)),
        }
    }

    /// The queue's leases now: how many messages are leased and the oldest
    /// lease's age. NotSupported on the kernel backend.
    pub fn lease_stats(&self) -> Result<LeaseStats> {
        let _b = self.enter_move()?;
        self.backend.lease_stats()
    }

    /// An identity of this queue (not of its name) that a queue of the same
    /// name made later does not share: with a [`Lease::seq`], it names a
    /// message uniquely (a bridge's de-duplication id). None on the kernel
    /// backend.
    pub fn instance_id(&self) -> Option<u64> {
        self.backend.instance_id()
    }

    /// Moves the messages of a lease batch delivered more than
    /// max_deliveries times to the dead-letter queue (or drops them), acks
    /// them, and packs the rest to the front of `out`: how many are left.
    #[inline(never)]
    fn drop_dead_letters(&self, buf: &[u8], out: &mut [LeasedMessage]) -> Result<usize> {
        let dl = &self.dead_letter;
        let mut kept = 0;
        for i in 0..out.len() {
            let m = out[i];
            if m.lease.delivery <= dl.max_deliveries {
                out[kept] = m;
                kept += 1;
                continue;
            }
            if let Some(target) = &dl.target {
                let q = self.dead_letter_queue(target)?;
                let data = &buf[m.offset..m.offset + m.len];
                if let Err(e) = q.send(data, m.priority, Timeout::TryOnce) {
                    // Not moved: give it back (it is tried again by the
                    // next lease) and say why.
                    let _ = self.backend.nack(&m.lease);
                    return Err(Error::new(
                        e.kind(),
                        format!(
                            "message seq {} was delivered {} times (max_deliveries {}) but could \
                             not be moved to the dead-letter queue {target}: {e}; it stays in \
                             this queue",
                            m.lease.seq,
                            m.lease.delivery - 1,
                            dl.max_deliveries
                        ),
                    ));
                }
            }
            // Moved (or dropped): a lost lease here means another handle
            // gave it back meanwhile; nothing more to do.
            let _ = self.backend.ack(&m.lease);
        }
        Ok(kept)
    }

    fn dead_letter_queue(&self, target: &str) -> Result<&Queue> {
        if let Some(q) = self.dead_letter.queue.get() {
            return Ok(q);
        }
        let q = crate::OpenOptions::new()
            .backend(self.backend())
            .create(true)
            .read(false)
            .write(true)
            .max_messages(self.max_messages())
            .max_message_size(self.max_message_size())
            .open(Some(target))
            .map_err(|e| {
                Error::new(
                    e.kind(),
                    format!("opening the dead-letter queue {target}: {e}"),
                )
            })?;
        Ok(self.dead_letter.queue.get_or_init(|| Box::new(q)))
    }
}

/// Refuses a zero visibility timeout (a lease that expires at once is a
/// plain receive with extra steps: say so).
fn check_visibility(visibility: Option<Duration>) -> Result<()> {
    match visibility {
        Some(d) if d.is_zero() => Err(Error::invalid(
            "a visibility timeout of 0 would give the message back at once; give a positive \
             duration, or none for a lease that lasts until ack, nack or the holder's end",
        )),
        _ => Ok(()),
    }
}
