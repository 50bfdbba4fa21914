//! The one loop every send and receive runs: try without waiting, wait for
//! readiness until the deadline, try again; close ends the wait.

use std::sync::atomic::{fence, Ordering};
use std::time::Instant;

use crate::backend::{Attempt, Backend, Interest, Patience, Wake};
use crate::error::{Error, ErrorKind, Result};
use crate::timeout::Timeout;

/// What the loop needs of the handle it runs for (asked only when needed).
pub(crate) trait Handle {
    /// Whether the handle is closed now (close ends every wait).
    fn is_closed(&self) -> bool;
    /// Resume a wait a signal interrupted (else fail with Interrupted).
    fn retry_on_interrupt(&self) -> bool;
}

/// What differs between the two directions of a transfer.
pub(crate) struct Direction {
    interest: Interest,
    not_now: Error,
    nonblocking: Error,
    timed_out: Error,
    closed: Error,
}

/// A static, not a const: a const's `&SEND` would copy the whole Direction
/// (five errors) onto the stack at every send.
pub(crate) static SEND: Direction = Direction {
    interest: Interest::Writable,
    not_now: SEND_NOT_NOW,
    nonblocking: SEND_NONBLOCKING,
    timed_out: SEND_TIMED_OUT,
    closed: Error::fixed(
        ErrorKind::Closed,
        "the handle was closed while this send waited; nothing was sent",
    ),
};

pub(crate) static RECEIVE: Direction = Direction {
    interest: Interest::Readable,
    not_now: RECV_NOT_NOW,
    nonblocking: RECV_NONBLOCKING,
    timed_out: RECV_TIMED_OUT,
    closed: Error::fixed(
        ErrorKind::Closed,
        "the handle was closed while this receive waited; nothing was received",
    ),
};

const SEND_NOT_NOW: Error = Error::fixed(
    ErrorKind::WouldBlock,
    "the queue is full; try again later, wait with a timeout, or receive some messages",
);
const RECV_NOT_NOW: Error = Error::fixed(
    ErrorKind::WouldBlock,
    "the queue is empty; try again later or wait with a timeout",
);
const SEND_NONBLOCKING: Error = Error::fixed(
    ErrorKind::WouldBlock,
    "the queue is full and this handle is non-blocking (block = false), so it does not wait \
     whatever the timeout; set block to true to wait",
);
const RECV_NONBLOCKING: Error = Error::fixed(
    ErrorKind::WouldBlock,
    "the queue is empty and this handle is non-blocking (block = false), so it does not wait \
     whatever the timeout; set block to true to wait",
);
const SEND_TIMED_OUT: Error = Error::fixed(
    ErrorKind::TimedOut,
    "the queue stayed full for the whole timeout; nothing was sent",
);
const RECV_TIMED_OUT: Error = Error::fixed(
    ErrorKind::TimedOut,
    "the queue stayed empty for the whole timeout; nothing was received",
);
/// The timeout logic of send and receive, for both directions.
/// `op(patience)` tries once and never waits for a message or room; a
/// patience that will wait tells a non-blocking handle from "not now",
/// and bounds how long the backend may wait for a lock another process
/// holds (the call's deadline; a few milliseconds for a try-once call).
/// Every wait is a readiness wait
/// that close ends, so a waiting call never outlives close by more than
/// a wake-up, and nothing moves once the handle is closed.
#[inline]
pub(crate) fn transfer<T>(
    b: &Backend,
    timeout: Timeout,
    d: &Direction,
    h: &impl Handle,
    mut op: impl FnMut(Patience) -> Attempt<T>,
) -> Result<T> {
    // The hot path: without a deadline to compute (no timeout, or try
    // once) the first attempt goes straight to the backend; everything
    // else (a timeout, not now, a wait, an error) is the cold part's.
    let Some(first) = first_patience(timeout) else {
        return transfer_slow(b, timeout, d, h, None, op);
    };
    match op(first) {
        Attempt::Done(v) => Ok(v),
        other => transfer_slow(b, timeout, d, h, Some(other), op),
    }
}

/// The patience of a first attempt that needs no deadline (no timeout, or
/// try once); None when the call has a timeout to turn into a deadline.
#[inline(always)]
fn first_patience(timeout: Timeout) -> Option<Patience> {
    match timeout {
        Timeout::Forever => Some(Patience::Forever),
        Timeout::TryOnce => Some(Patience::Once),
        Timeout::After(_) => None,
    }
}

/// The rest of [`transfer`]: `first` is what a first attempt already
/// reported (None: none was made).
#[cold]
#[inline(never)]
fn transfer_slow<T>(
    b: &Backend,
    timeout: Timeout,
    d: &Direction,
    h: &impl Handle,
    mut first: Option<Attempt<T>>,
    mut op: impl FnMut(Patience) -> Attempt<T>,
) -> Result<T> {
    let deadline = match timeout {
        Timeout::TryOnce => None,
        Timeout::After(t) if t.is_zero() => None,
        // A wait too long to represent as an Instant has no deadline.
        Timeout::After(t) => Some(Instant::now().checked_add(t)),
        Timeout::Forever => Some(None),
    };
    let Some(deadline) = deadline else {
        // Try once, whatever the block switch says.
        loop {
            match first.take().unwrap_or_else(|| op(Patience::Once)) {
                Attempt::Done(v) => return Ok(v),
                Attempt::NotNow | Attempt::NonBlocking => return Err(d.not_now.clone()),
                Attempt::Interrupted if h.retry_on_interrupt() => continue,
                Attempt::Interrupted => return Err(Error::INTERRUPTED),
                Attempt::Failed(e) => return Err(*e),
            }
        }
    };
    let patience = match deadline {
        Some(t) => Patience::Until(t),
        None => Patience::Forever,
    };
    loop {
        match first.take().unwrap_or_else(|| op(patience)) {
            Attempt::Done(v) => return Ok(v),
            Attempt::NotNow => {}
            Attempt::NonBlocking => return Err(d.nonblocking.clone()),
            // A signal that arrives during even a non-waiting attempt
            // shows as an interruption; resume like a wait does.
            Attempt::Interrupted if h.retry_on_interrupt() => continue,
            Attempt::Interrupted => return Err(Error::INTERRUPTED),
            Attempt::Failed(e) => return Err(*e),
        }
        wait_until(b, d, h, deadline)?;
    }
}

/// Waits for readiness until `deadline` (monotonic). Returns Ok when the
/// caller should try again, `timed_out` when the deadline has passed and
/// `closed` when the handle was closed (before or during the wait).
fn wait_until(
    b: &Backend,
    d: &Direction,
    h: &impl Handle,
    deadline: Option<Instant>,
) -> Result<()> {
    b.prepare_wait();
    // Paired with the fence in close: either close sees the waker and
    // wakes this wait, or this thread sees the closed bit.
    fence(Ordering::SeqCst);
    loop {
        if h.is_closed() {
            return Err(d.closed.clone());
        }
        let remaining = match deadline {
            Some(t) => {
                let now = Instant::now();
                if now >= t {
                    return Err(d.timed_out.clone());
                }
                Some(t - now)
            }
            None => None,
        };
        match b.wait(d.interest, remaining) {
            Wake::Ready if h.is_closed() => return Err(d.closed.clone()),
            Wake::Ready => return Ok(()),
            // The backend's timer may fire a hair before our clock
            // agrees; the loop re-checks the deadline, so a timeout is
            // never early.
            Wake::Elapsed => continue,
            Wake::Interrupted if h.retry_on_interrupt() => continue,
            Wake::Interrupted => return Err(Error::INTERRUPTED),
            Wake::Failed(e) => return Err(e),
        }
    }
}
