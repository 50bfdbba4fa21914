//! Async send and receive on [tokio](https://tokio.rs) (cargo feature
//! `tokio`): [`AsyncQueue`] wraps a [`Queue`] and waits for its readiness
//! descriptor with `tokio::io::unix::AsyncFd`, readable when a message
//! waits and writable when there is room, so a waiting `send` or `receive`
//! holds no thread. Works on both backends: the kernel queue's descriptor
//! and the shared-memory queue's readiness descriptor.
//!
//! ```no_run
//! # async fn demo() -> pmq::Result<()> {
//! use pmq::tokio::AsyncQueue;
//! let q = pmq::Queue::options().create(true).max_messages(8).max_message_size(64)
//!     .open(Some("/async_demo"))?;
//! let q = AsyncQueue::new(q)?;
//! q.send(b"hello", 1).await?;
//! let (msg, prio) = q.receive_vec().await?;
//! // Bounded waits: tokio's own timeout (cancelling is safe, see below).
//! let r = tokio::time::timeout(std::time::Duration::from_millis(10), q.receive_vec()).await;
//! assert!(r.is_err()); // nothing came
//! # Ok(()) }
//! ```
//!
//! **Cancellation safety.** Data moves only inside one try-once call, made
//! synchronously while the future is polled; readiness is only a hint (a
//! stale or spurious one makes the call report "not now", and the future
//! waits again). A future dropped at any `.await` (by `tokio::time::timeout`,
//! `select!`, task abort) has therefore either moved its message completely
//! or not at all: it never loses a message and never sends one twice.
//!
//! Waiting tasks are woken together when the descriptor becomes ready and
//! race for the messages; every waiter keeps trying while messages flow.
//!
//! **Close.** Closing the queue (through [`AsyncQueue::get_ref`]) ends every
//! waiting future with [`ErrorKind::Closed`] at once, on both backends, as
//! the C API's close wakes waiting threads: besides the queue's descriptor,
//! the futures wait on the handle's close signal, an eventfd that close
//! makes readable for good.

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use crate::{Error, ErrorKind, Lease, LeasedMessage, Queue, Result, Timeout};

/// The queue and its own duplicate of the readiness descriptor, as AsyncFd
/// wants them. The duplicate shares the queue's open file description (so
/// it reports the same readiness) and is owned here, so it stays valid for
/// the reactor even if the queue is closed through [`AsyncQueue::get_ref`].
struct Source {
    queue: Queue,
    fd: OwnedFd,
}

impl AsRawFd for Source {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A [`Queue`] whose `send` and `receive` are `async` (see the module docs).
pub struct AsyncQueue {
    inner: AsyncFd<Source>,
    /// The queue's close signal (readable once it is closed).
    closed: AsyncFd<OwnedFd>,
}

fn io_error(e: io::Error, what: &str) -> Error {
    Error::new(
        ErrorKind::Os,
        format!("could not {what} with tokio's reactor: {e} (is a tokio runtime with IO enabled running?)"),
    )
    .with_errno(e.raw_os_error().unwrap_or(0))
}

impl AsyncQueue {
    /// Wraps `queue`; must be called inside a tokio runtime with IO enabled.
    /// The queue's own `block` switch does not matter here: every attempt
    /// tries once.
    pub fn new(queue: Queue) -> Result<AsyncQueue> {
        let raw = queue.fileno()?;
        let closed = queue
            .close_signal()
            .map_err(|e| io_error(e, "make the queue's close signal"))?;
        // SAFETY: `closed` is our own descriptor; it is neither closed nor
        // replaced while AsyncFd owns it (it closes with it).
        let closed = unsafe { AsyncFd::register_with_interest(closed, Interest::READABLE) }
            .map_err(|e| io_error(e.into(), "register the queue's close signal"))?;
        // SAFETY: `raw` is the queue's open readiness descriptor, valid for
        // this call (the queue is alive and not closed: fileno succeeded).
        let fd = unsafe { BorrowedFd::borrow_raw(raw) }
            .try_clone_to_owned()
            .map_err(|e| io_error(e, "duplicate the queue's descriptor"))?;
        // SAFETY: `fd` is our own descriptor; it is neither closed nor
        // replaced while AsyncFd owns the Source (it closes with it).
        let inner = unsafe {
            AsyncFd::register_with_interest(
                Source { queue, fd },
                Interest::READABLE | Interest::WRITABLE,
            )
        }
        .map_err(|e| io_error(e.into(), "register the queue's descriptor"))?;
        Ok(AsyncQueue { inner, closed })
    }

    /// The queue, for everything else (attributes, notifications...).
    /// Closing it ends every waiting future of this AsyncQueue with
    /// [`ErrorKind::Closed`] at once (nothing moved), on both backends.
    pub fn get_ref(&self) -> &Queue {
        &self.inner.get_ref().queue
    }

    /// Unwraps the queue (its descriptor leaves tokio's reactor).
    pub fn into_inner(self) -> Queue {
        self.inner.into_inner().queue
    }

    /// Sends `msg` with `priority`, waiting (without a thread) while the
    /// queue is full. Cancel-safe: dropped before it completes, nothing was
    /// sent.
    pub async fn send(&self, msg: &[u8], priority: u32) -> Result<()> {
        self.when_ready(Interest::WRITABLE, |q| {
            q.send(msg, priority, Timeout::TryOnce)
        })
        .await
    }

    /// Receives the oldest message of the highest priority into `buf` (at
    /// least `max_message_size` bytes), waiting (without a thread) while the
    /// queue is empty; returns (length, priority). Cancel-safe: dropped
    /// before it completes, nothing was taken.
    pub async fn receive(&self, buf: &mut [u8]) -> Result<(usize, u32)> {
        self.when_ready(Interest::READABLE, |q| q.receive(buf, Timeout::TryOnce))
            .await
    }

    /// [`Queue::lease`] without a thread: receives the oldest message of
    /// the highest priority into `buf` under a lease (it stays in the
    /// queue, invisible to other receivers, until [`AsyncQueue::ack`] or
    /// [`AsyncQueue::nack`]; the holder's close or death, or the
    /// `visibility` timeout, gives it back), waiting while there is none.
    /// Returns (length, priority, lease). Shared-memory queues only (the
    /// kernel backend reports [`ErrorKind::NotSupported`]). Cancel-safe:
    /// dropped before it completes, nothing was leased. A message given
    /// back without a send (its holder died, or its visibility timeout
    /// passed) is found too: while leases are out, the shared-memory
    /// queue's readiness helper wakes when the next is due (and every
    /// 50 ms to look for dead holders), gives back what is due, and the
    /// message that came back gives the descriptor an edge.
    pub async fn lease(
        &self,
        buf: &mut [u8],
        visibility: Option<Duration>,
    ) -> Result<(usize, u32, Lease)> {
        self.when_ready(Interest::READABLE, |q| {
            q.lease(buf, Timeout::TryOnce, visibility)
        })
        .await
    }

    /// [`AsyncQueue::lease`] into a new `Vec` of the message's length.
    pub async fn lease_vec(&self, visibility: Option<Duration>) -> Result<(Vec<u8>, u32, Lease)> {
        let mut buf = vec![0u8; self.get_ref().max_message_size().max(0) as usize];
        let (n, p, lease) = self.lease(&mut buf, visibility).await?;
        buf.truncate(n);
        Ok((buf, p, lease))
    }

    /// [`Queue::lease_batch`] without a thread: waits for the first
    /// message as [`AsyncQueue::lease`] does, then leases as many more as
    /// are there now (up to `out.len()`, while the next fits in `buf`);
    /// returns how many. Cancel-safe as [`AsyncQueue::lease`].
    pub async fn lease_batch(
        &self,
        buf: &mut [u8],
        out: &mut [LeasedMessage],
        visibility: Option<Duration>,
    ) -> Result<usize> {
        self.when_ready(Interest::READABLE, |q| {
            q.lease_batch(buf, out, Timeout::TryOnce, visibility)
        })
        .await
    }

    /// [`Queue::ack`]: removes a leased message for good. Never waits for
    /// readiness (it takes only the queue's lock), so it is not `async`.
    pub fn ack(&self, lease: &Lease) -> Result<()> {
        self.get_ref().ack(lease)
    }

    /// [`Queue::nack`]: gives a leased message back at its place (waiting
    /// leases of this or another handle are woken). Not `async`, as
    /// [`AsyncQueue::ack`].
    pub fn nack(&self, lease: &Lease) -> Result<()> {
        self.get_ref().nack(lease)
    }

    /// [`Queue::ack_batch`]: acks several leases under one lock. Not
    /// `async`, as [`AsyncQueue::ack`].
    pub fn ack_batch(&self, leases: &[Lease]) -> Result<usize> {
        self.get_ref().ack_batch(leases)
    }

    /// Tries `op` (a try-once call) each time the descriptor reports
    /// `interest`; "not now" clears that readiness and waits again. A close
    /// of the queue ends the wait: `op` then reports CLOSED.
    async fn when_ready<T>(
        &self,
        interest: Interest,
        mut op: impl FnMut(&Queue) -> Result<T>,
    ) -> Result<T> {
        loop {
            // The futures (not poll_read_ready / poll_write_ready, which
            // wake only the task that polled last): every waiting task is
            // woken. The close signal first: once closed, the queue's own
            // descriptor may never become ready again.
            let mut closed = pin!(self.closed.readable());
            let mut ready = pin!(self.inner.ready(interest));
            let ready = poll_fn(|cx| {
                if let Poll::Ready(r) = closed.as_mut().poll(cx) {
                    return Poll::Ready(r.map(|_| None));
                }
                ready.as_mut().poll(cx).map(|r| r.map(Some))
            })
            .await
            .map_err(|e| io_error(e, "wait for the queue"))?;
            match ready {
                // Closed: `op` reports it (nothing moves on a closed queue).
                None => return op(self.get_ref()),
                Some(mut ready) => match op(&ready.get_inner().queue) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => ready.clear_ready(),
                    other => return other,
                },
            }
        }
    }

    /// [`AsyncQueue::receive`] into a new `Vec` of the message's length.
    pub async fn receive_vec(&self) -> Result<(Vec<u8>, u32)> {
        let mut buf = vec![0u8; self.get_ref().max_message_size() as usize];
        let (n, p) = self.receive(&mut buf).await?;
        buf.truncate(n);
        Ok((buf, p))
    }
}
