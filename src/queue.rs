//! The safe core: a named POSIX message queue handle.

use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::notify::{self, Callback};
use crate::timeout::Timeout;
use crate::transfer::{self, Direction, Handle, RECEIVE, SEND};
use crate::types::{
    Attributes, BackendKind, DeadReceipt, InMessage, OutMessage, QueueStats, Receipt,
};

/// A handle to a named POSIX message queue.
///
/// Every method takes `&self` and is safe to call from several threads at
/// once. [`Queue::close`] makes further calls fail with
/// [`ErrorKind::Closed`] and wakes every call of the handle that waits (in
/// send or receive, with or without a timeout): they return
/// [`ErrorKind::Closed`] at once, with nothing sent or taken. A call still
/// running keeps the descriptor until it returns, so close never frees what
/// another thread uses.
pub struct Queue {
    name: String,
    mode: u32,
    read: bool,
    write: bool,
    max_messages: i64,
    max_message_size: i64,
    retry_on_interrupt: bool,
    /// The backend's highest priority (asked once, at open).
    priority_max: u32,
    pub(crate) backend: Backend,
    /// Where messages delivered too often go ([`crate::lease`]).
    pub(crate) dead_letter: DeadLetter,
    /// [`CLOSED_BIT`] plus [`USER`] for every call in progress: the
    /// descriptor is shut down when the handle is closed and no call uses it.
    users: AtomicUsize,
    /// This handle in the notification registry ([`crate::notify`]).
    notify_id: u64,
    /// An eventfd that [`Queue::close`] makes readable for good, made when
    /// first asked for ([`Queue::close_signal`]): tokio's AsyncQueue waits
    /// on it besides the queue's descriptor, so a close wakes its futures.
    #[cfg(feature = "tokio")]
    close_signal: std::sync::OnceLock<std::os::fd::OwnedFd>,
}

const CLOSED: Error = Error::fixed(
    ErrorKind::Closed,
    "the handle is closed; open the queue again to use it",
);
const NO_DESCRIPTOR: Error = Error::fixed(
    ErrorKind::NotSupported,
    "this queue's backend has no descriptor to poll; wait with a timeout instead",
);

/// The argument checks of send and receive (their errors built out of the
/// hot path).
#[path = "queue_checks.rs"]
mod checks;

impl Queue {
    /// The handle for a queue `OpenOptions` just opened in `backend`.
    pub(crate) fn opened(
        name: String,
        mode: u32,
        read: bool,
        write: bool,
        retry_on_interrupt: bool,
        backend: Backend,
    ) -> Result<Queue> {
        // An existing queue's real attributes win over the requested ones.
        let Attributes {
            max_messages,
            max_message_size,
            ..
        } = backend.attributes()?;
        Ok(Queue {
            name,
            mode,
            read,
            write,
            max_messages,
            max_message_size,
            retry_on_interrupt,
            priority_max: backend.kind().priority_max(),
            backend,
            dead_letter: DeadLetter::default(),
            users: AtomicUsize::new(0),
            notify_id: notify::new_id(),
            #[cfg(feature = "tokio")]
            close_signal: std::sync::OnceLock::new(),
        })
    }

    /// Marks a call in progress, so that a concurrent close does not shut
    /// the descriptor under it. Two atomic operations per call, no lock.
    #[inline]
    fn enter(&self) -> Result<InUse<'_>> {
        let prev = self.users.fetch_add(USER, Ordering::Acquire);
        let guard = InUse(self, true);
        if prev & CLOSED_BIT != 0 {
            return Err(CLOSED);
        }
        Ok(guard)
    }

    /// [`Queue::enter`] for a send or receive. A backend whose moves never
    /// use what its shutdown releases ([`Backend::moves_need_count`]: the
    /// shared-memory one, whose shutdown only stops the readiness helper)
    /// is not counted: one load of the closed bit instead of two locked
    /// read-modify-writes (a quarter of a one-process shm send+receive).
    /// A move that starts as close runs is concurrent with it either way.
    #[inline]
    pub(crate) fn enter_move(&self) -> Result<InUse<'_>> {
        if self.backend.moves_need_count() {
            return self.enter();
        }
        if self.users.load(Ordering::Acquire) & CLOSED_BIT != 0 {
            return Err(CLOSED);
        }
        Ok(InUse(self, false))
    }

    /// The backend this queue lives in.
    pub fn backend(&self) -> BackendKind {
        self.backend.kind()
    }

    /// The shared-memory backend's counters (None for the kernel backend,
    /// which keeps none).
    pub fn stats(&self) -> Option<QueueStats> {
        self.backend.stats()
    }

    /// For a shared-memory handle: the receipt the previous holder of its
    /// opener record left when it went away without closing (killed, or
    /// exited with the handle open): the last message that holder took,
    /// possibly just before it died. It stays in the record until this
    /// handle's first receive replaces it, so if this process is killed
    /// before it acted on it, or closes this handle without receiving, the
    /// next holder inherits it again (a receipt may be reported more than
    /// once, never lost). None for the kernel backend, a fresh record, or
    /// one whose holder received and closed cleanly. To read every dead
    /// receiver's receipt, not only this record's, see
    /// [`Queue::dead_receipts`].
    pub fn inherited_receipt(&self) -> Option<Receipt> {
        self.backend.inherited_receipt()
    }

    /// For a shared-memory queue: every receipt a receiver that died left,
    /// whichever handle it was (not only the one this handle inherited),
    /// in opener-record order. A receiver counts as dead once its process
    /// is gone (more exactly: once no process holds its handle, so a fork
    /// child that inherited the handle keeps it alive). A receipt is
    /// reported from the moment its receiver died until a handle that
    /// reuses the dead handle's record receives (its own receipt replaces
    /// it); a holder that closes cleanly or is killed before that passes
    /// it on. A live receiver's clean close clears its own receipt.
    ///
    /// Reading is read-only: every caller sees the same receipts, and the
    /// same receipt can be reported by several calls. `receipt.seq` names
    /// a message once in the queue's life: use it to act on each once.
    ///
    /// The receipt is written before the take commits: see
    /// [`DeadReceipt`] for `taken` and `queued`, which tell whether the
    /// dead receiver really took the message.
    ///
    /// Errors: [`ErrorKind::NotSupported`] for the kernel backend (which
    /// keeps no receipts), [`ErrorKind::Closed`] after close,
    /// [`ErrorKind::Corrupted`] if the queue's file is damaged.
    pub fn dead_receipts(&self) -> Result<Vec<DeadReceipt>> {
        self.enter()?.dead_receipts()
    }

    /// Checks a shared-memory queue's invariants under its lock (count =
    /// ready slots, every slot listed or free exactly once, lists acyclic
    /// and in order, committed = received + count). For tests and `pmq`
    /// diagnostics; Ok for the kernel backend.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        self.backend.check_invariants()
    }

    /// The queue's name (for a random name, the one generated).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mode given when opening.
    pub fn mode(&self) -> u32 {
        self.mode
    }

    /// Whether this handle may receive.
    pub fn can_read(&self) -> bool {
        self.read
    }

    /// Whether this handle may send.
    pub fn can_write(&self) -> bool {
        self.write
    }

    /// The queue's capacity.
    pub fn max_messages(&self) -> i64 {
        self.max_messages
    }

    /// The queue's largest message size.
    pub fn max_message_size(&self) -> i64 {
        self.max_message_size
    }

    /// Whether a signal-interrupted wait resumes automatically.
    pub fn retry_on_interrupt(&self) -> bool {
        self.retry_on_interrupt
    }

    /// Whether [`Queue::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.users.load(Ordering::Acquire) & CLOSED_BIT != 0
    }

    /// The queue's readiness descriptor, usable with poll/select/epoll
    /// (readable = a message waits, writable = there is room). For the
    /// kernel backend it is the message-queue descriptor itself. On the
    /// shared-memory backend it is an eventfd kept up to date by a helper
    /// thread of the process that asked for it: after `fork()`, call this
    /// again in the child for a descriptor of its own (the one from before
    /// fork follows the queue only while the parent's handle is open; it
    /// stays open in the child until this handle is closed).
    pub fn fileno(&self) -> Result<i32> {
        self.enter()?.readiness_fd().ok_or(NO_DESCRIPTOR)
    }

    /// Messages waiting now.
    pub fn current_messages(&self) -> Result<i64> {
        Ok(self.attributes()?.current_messages)
    }

    /// All attributes at once.
    pub fn attributes(&self) -> Result<Attributes> {
        self.enter()?.attributes()
    }

    /// The `block` switch: whether send and receive may wait.
    pub fn block(&self) -> Result<bool> {
        self.enter()?.block()
    }

    /// Sets the `block` switch for this handle only.
    pub fn set_block(&self, block: bool) -> Result<()> {
        self.enter()?.set_block(block)
    }

    /// Sends `msg` (may be empty or contain NULs) with `priority`
    /// (0..=[`crate::PRIORITY_MAX`]), waiting as `timeout` says.
    #[inline]
    pub fn send(&self, msg: &[u8], priority: u32, timeout: Timeout) -> Result<()> {
        let b = self.enter_move()?;
        self.check_send(msg, priority)?;
        self.transfer(&b, timeout, &SEND, |p| b.try_send(msg, priority, p))
    }

    /// Receives the oldest message of the highest priority into `buf`, which
    /// must hold at least [`Queue::max_message_size`] bytes. Returns the
    /// message length and its priority.
    #[inline]
    pub fn receive(&self, buf: &mut [u8], timeout: Timeout) -> Result<(usize, u32)> {
        let b = self.enter_move()?;
        self.check_receive(buf)?;
        self.transfer(&b, timeout, &RECEIVE, |p| b.try_receive(buf, p))
    }

    /// Runs the transfer loop ([`transfer::transfer`]) for this handle.
    #[inline]
    pub(crate) fn transfer<T>(
        &self,
        b: &Backend,
        timeout: Timeout,
        d: &Direction,
        op: impl FnMut(crate::backend::Patience) -> crate::backend::Attempt<T>,
    ) -> Result<T> {
        transfer::transfer(b, timeout, d, self, op)
    }

    /// Receives into a new vector sized to the queue's max_message_size.
    pub fn receive_vec(&self, timeout: Timeout) -> Result<(Vec<u8>, u32)> {
        let mut buf = vec![0u8; self.max_message_size.max(0) as usize];
        let (n, prio) = self.receive(&mut buf, timeout)?;
        buf.truncate(n);
        Ok((buf, prio))
    }

    /// Sends several messages in one call: waits as `timeout` says until
    /// the first can be sent, then sends, in order, as many more as fit now,
    /// and returns how many were sent (at least 1; 0 only for an empty
    /// `msgs`). What was not sent is the caller's to send again (like
    /// `sendmmsg`). On the shared-memory backend the whole batch takes the
    /// queue's lock once, so it costs far less than one send per message;
    /// on the kernel backend it is one `mq_send` per message.
    ///
    /// Every message is checked first (size, priority): if one is invalid,
    /// the error names it (by index) and nothing is sent.
    pub fn send_batch(&self, msgs: &[OutMessage<'_>], timeout: Timeout) -> Result<usize> {
        let b = self.enter_move()?;
        for (i, m) in msgs.iter().enumerate() {
            self.check_send(m.data(), m.priority)
                .map_err(|e| e.in_batch(i, msgs.len()))?;
        }
        if msgs.is_empty() {
            return Ok(0);
        }
        self.transfer(&b, timeout, &SEND, |p| b.try_send_batch(msgs, p))
    }

    /// Receives several messages in one call: waits as `timeout` says until
    /// one is there, then takes, in queue order, as many more as are there
    /// now, up to `out.len()` and while the next fits in what is left of
    /// `buf`. Message `i` is at `buf[out[i].offset..][..out[i].len]`.
    /// Returns how many were taken (at least 1; 0 only for an empty `out`).
    /// `buf` must hold at least [`Queue::max_message_size`] bytes.
    ///
    /// On the shared-memory backend the batch takes the lock once and packs
    /// messages by their real length; the kernel backend packs a message
    /// only where `max_message_size` bytes are left (the kernel needs that
    /// much room to receive). A shared-memory receipt
    /// ([`Queue::inherited_receipt`]) names the last message of a batch.
    pub fn receive_batch(
        &self,
        buf: &mut [u8],
        out: &mut [InMessage],
        timeout: Timeout,
    ) -> Result<usize> {
        let b = self.enter_move()?;
        self.check_receive(buf)?;
        if out.is_empty() {
            return Ok(0);
        }
        let room = self.max_message_size.max(0) as usize;
        self.transfer(&b, timeout, &RECEIVE, |p| {
            b.try_receive_batch(buf, room, out, p)
        })
    }

    /// Removes the queue's name; handles already open keep working and the
    /// queue is destroyed when the last one closes. Works on a closed handle.
    pub fn unlink(&self) -> Result<()> {
        self.backend.kind().unlink(&self.name)
    }

    /// Closes this handle. Further calls fail with [`ErrorKind::Closed`];
    /// closing twice fails with [`ErrorKind::Closed`] too.
    pub fn close(&self) -> Result<()> {
        let already = Error::fixed(
            ErrorKind::Closed,
            "the handle is already closed; close it only once",
        );
        // Keep the descriptor open while the registration is cancelled.
        let b = self.enter().map_err(|_| already.clone())?;
        if self.users.fetch_or(CLOSED_BIT, Ordering::SeqCst) & CLOSED_BIT != 0 {
            return Err(already); // another thread closed it first
        }
        // Paired with the fence in wait_until.
        fence(Ordering::SeqCst);
        b.wake_waiters();
        #[cfg(feature = "tokio")]
        self.signal_close();
        notify::close(self.notify_id, Some(&b), false);
        Ok(())
        // Dropping `b` shuts the descriptor down unless a call still uses it.
    }

    /// Asks the kernel to send signal `signo` to this process when the queue
    /// goes from empty to non-empty (the reference's
    /// `request_notification(signal_number)`). One-shot; one registration per
    /// queue system-wide ([`ErrorKind::Busy`] if another process holds it).
    /// A registration this process made before on the queue (through this
    /// handle or another) is replaced, as the system does.
    pub fn notify_signal(&self, signo: i32) -> Result<()> {
        let max = libc::SIGRTMAX();
        if signo < 1 || signo > max {
            return Err(Error::invalid(format!(
                "signal number {signo} is not valid; use 1..={max} (e.g. SIGUSR1 = {})",
                libc::SIGUSR1
            )));
        }
        let b = self.enter()?;
        notify::register(self.notify_id, &self.name, &b, signo, None)
    }

    /// Runs `callback` on a new thread when the queue goes from empty to
    /// non-empty (the reference's `request_notification((function, param))`).
    /// One-shot: the callback may register again from inside itself, and may
    /// receive from the queue. A registration this process made before on
    /// the queue (through this handle or another) is replaced, as the system
    /// does. After [`Queue::close`] (or drop) returns, the callback is
    /// neither running nor called any more.
    pub fn notify_callback<F>(&self, callback: F) -> Result<()>
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.notify_callback_arc(Arc::new(callback))
    }

    pub(crate) fn notify_callback_arc(&self, callback: Callback) -> Result<()> {
        let b = self.enter()?;
        notify::register(self.notify_id, &self.name, &b, 0, Some(callback))
    }

    /// Cancels this process's notification registration on the queue (the
    /// reference's `request_notification(None)`), made through this handle
    /// or another of the queue; the cancelled callback is dropped before
    /// this returns. Harmless when there is none. When it returns, no callback of this handle is running (except
    /// the caller, when called from inside one) and none will be called.
    pub fn notify_cancel(&self) -> Result<()> {
        let b = self.enter()?;
        notify::cancel(self.notify_id, &self.name, &b)
    }

    /// Ends notifications on this handle for good: refuses new
    /// registrations, drops this handle's one and waits until none of its
    /// callbacks is running (unless called from inside one). Dropping the
    /// queue does this too; call it first when a callback may still use the
    /// handle through a shared reference (as the C ABI's free does before it
    /// releases the memory).
    pub fn release_notifications(&self) {
        let b = self.enter().ok();
        notify::close(self.notify_id, b.as_deref(), true);
    }
}

#[cfg(feature = "tokio")]
impl Queue {
    /// A new descriptor (a duplicate: the caller owns it) of this handle's
    /// close signal, an eventfd that becomes readable for good when the
    /// handle is closed, and already is if it was.
    pub(crate) fn close_signal(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::{FromRawFd, OwnedFd};
        if self.close_signal.get().is_none() {
            // SAFETY: plain eventfd(2) call; on success the descriptor is
            // new and owned by nothing else.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: `fd` is the open descriptor just made, owned here only.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // Another thread may have set one first: then `fd` is dropped.
            let _ = self.close_signal.set(fd);
            // A close that ran before the set found no signal to raise.
            // Paired with the fence in close: either it sees the signal or
            // this sees the closed bit.
            fence(Ordering::SeqCst);
            if self.is_closed() {
                self.signal_close();
            }
        }
        match self.close_signal.get() {
            Some(fd) => fd.try_clone(),
            None => Err(std::io::Error::other("close signal missing after set")),
        }
    }

    /// Makes the close signal readable, if there is one (never read, so it
    /// stays readable).
    fn signal_close(&self) {
        use std::os::fd::AsRawFd;
        if let Some(fd) = self.close_signal.get() {
            // SAFETY: `fd` is this handle's open eventfd; an 8-byte write
            // of a valid u64 is its protocol.
            unsafe { libc::eventfd_write(fd.as_raw_fd(), 1) };
        }
    }
}

#[cfg(test)]
impl Queue {
    /// The misbehaviour knobs of a queue of the fake backend.
    pub(crate) fn fake_knobs(&self) -> &crate::backend::fake::Knobs {
        self.backend.fake_knobs()
    }
}

impl Handle for Queue {
    #[inline]
    fn is_closed(&self) -> bool {
        Queue::is_closed(self)
    }
    #[inline]
    fn retry_on_interrupt(&self) -> bool {
        self.retry_on_interrupt
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Also after close: the registry must forget the handle either way.
        let open = !self.is_closed();
        notify::close(self.notify_id, open.then_some(&self.backend), true);
        // The backend closes its descriptors when it is dropped.
    }
}

/// A call in progress on a queue (see [`Queue::enter`]); counted in
/// `users` when the flag is set.
pub(crate) struct InUse<'a>(&'a Queue, bool);

impl std::ops::Deref for InUse<'_> {
    type Target = Backend;
    #[inline]
    fn deref(&self) -> &Backend {
        &self.0.backend
    }
}

impl Drop for InUse<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.1 {
            return;
        }
        let prev = self.0.users.fetch_sub(USER, Ordering::AcqRel);
        if prev == CLOSED_BIT | USER {
            // Closed, and this was the last call using the descriptor.
            self.0.backend.shutdown();
        }
    }
}

/// `Queue::users`: set once the handle is closed.
const CLOSED_BIT: usize = 1;
/// `Queue::users`: one call in progress.
const USER: usize = 2;

/// Removes the kernel queue called `name` (see [`unlink_from`] for another backend).
pub fn unlink(name: &str) -> Result<()> {
    unlink_from(BackendKind::default(), name)
}

/// Removes the queue called `name` of backend `kind`.
pub fn unlink_from(kind: BackendKind, name: &str) -> Result<()> {
    kind.validate_name(name)?;
    kind.unlink(name)
}

/// Whether this system has POSIX message queues.
pub fn message_queues_supported() -> bool {
    BackendKind::default().supported()
}

/// A handle's dead-letter settings (from its open options).
#[derive(Debug, Default)]
pub(crate) struct DeadLetter {
    /// 0: no limit.
    pub(crate) max_deliveries: u32,
    /// Where messages delivered too often go (None: dropped).
    pub(crate) target: Option<String>,
    /// The target, opened by the first message that goes there.
    pub(crate) queue: std::sync::OnceLock<Box<Queue>>,
}
