//! The safe core: a named POSIX message queue handle.

use std::fmt;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::backend::Attributes;
pub use crate::backend::BackendKind;
use crate::backend::{Attempt, Backend, Interest, OpenRequest, Patience, Wake};
use crate::error::{Error, ErrorKind, Result};
use crate::name::{random_name, validate_name_for, RANDOM_NAME_ATTEMPTS};
use crate::notify::{self, Callback};

/// Create the queue if it does not exist (same value as the OS's O_CREAT).
pub const O_CREAT: i32 = libc::O_CREAT;
/// With [`O_CREAT`]: fail if the queue exists (same value as the OS's O_EXCL).
pub const O_EXCL: i32 = libc::O_EXCL;
/// [`O_CREAT`] | [`O_EXCL`]: create a new queue, fail if it exists.
pub const O_CREX: i32 = O_CREAT | O_EXCL;
/// Open the handle with its `block` switch off, as if `block(false)` was
/// also given (same value as the OS's O_NONBLOCK, as posix_ipc accepts it).
pub const O_NONBLOCK: i32 = libc::O_NONBLOCK;
/// Every flag bit [`OpenOptions::flags`] accepts.
const KNOWN_FLAGS: i32 = O_CREX | O_NONBLOCK;
/// The mode new queues get unless told otherwise.
pub const DEFAULT_MODE: u32 = 0o600;

/// How long a send or receive may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Wait as long as it takes (unless the handle is non-blocking).
    Forever,
    /// Try once; fail with [`ErrorKind::WouldBlock`] if the call cannot complete now.
    TryOnce,
    /// Wait at most this long (measured on a monotonic clock), then fail with
    /// [`ErrorKind::TimedOut`]. A zero duration means [`Timeout::TryOnce`]; a
    /// duration too long to represent as a deadline never runs out.
    After(Duration),
}

/// A number of seconds for a detail: plain for everyday magnitudes, with an
/// exponent for huge or tiny ones (never hundreds of digits), like C's `%g`.
pub(crate) fn seconds_text(s: f64) -> String {
    let a = s.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{s:e}")
    } else {
        format!("{s}")
    }
}

impl Timeout {
    /// The reference's float-seconds timeout: `None` waits forever, `0` tries
    /// once, a positive value waits at most that long. NaN, negative and
    /// infinite values are rejected with a detail that says why.
    pub fn from_secs_f64(seconds: Option<f64>) -> Result<Timeout> {
        let Some(s) = seconds else {
            return Ok(Timeout::Forever);
        };
        if s.is_nan() {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "timeout is NaN; use 0 to try once, a positive number of seconds to wait at most \
                 that long, or the call without a timeout to wait forever",
            ));
        }
        if s.is_infinite() {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "timeout is infinite; to wait forever, send or receive without a timeout",
            ));
        }
        if s < 0.0 {
            return Err(Error::invalid(format!(
                "timeout {} is negative; use 0 to try once or a positive number of seconds",
                seconds_text(s)
            )));
        }
        if s == 0.0 {
            return Ok(Timeout::TryOnce);
        }
        match Duration::try_from_secs_f64(s) {
            // A positive timeout is a bounded wait even below a nanosecond:
            // it ends with TimedOut, never WouldBlock.
            Ok(d) => Ok(Timeout::After(d.max(Duration::from_nanos(1)))),
            Err(_) => Err(Error::invalid(format!(
                "timeout {} seconds is too large to represent; to wait forever use the call \
                 without a timeout",
                seconds_text(s)
            ))),
        }
    }
}

/// Options for opening or creating a queue. Defaults are read from the system
/// when [`OpenOptions::new`] is called (not frozen at build time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    pub(crate) flags: i32,
    pub(crate) mode: u32,
    pub(crate) max_messages: i64,
    pub(crate) max_message_size: i64,
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) block: bool,
    pub(crate) retry_on_interrupt: bool,
    pub(crate) backend: BackendKind,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Open an existing queue for reading and writing, blocking; if created,
    /// mode 0600 with the system's current `msg_max` and `msgsize_max`.
    pub fn new() -> Self {
        let backend = BackendKind::default();
        let (max_messages, max_message_size) = backend.default_shape();
        OpenOptions {
            flags: 0,
            mode: DEFAULT_MODE,
            max_messages,
            max_message_size,
            read: true,
            write: true,
            block: true,
            retry_on_interrupt: false,
            backend,
        }
    }

    /// Options for a queue of the backend `kind` (its default shape).
    #[cfg(test)]
    pub(crate) fn for_backend(kind: BackendKind) -> Self {
        let mut o = OpenOptions::new();
        (o.max_messages, o.max_message_size) = kind.default_shape();
        o.backend = kind;
        o
    }

    /// Sets the raw flags: 0, [`O_CREAT`] or [`O_CREX`], optionally with
    /// [`O_NONBLOCK`]. Checked at open.
    pub fn flags(&mut self, flags: i32) -> &mut Self {
        self.flags = flags;
        self
    }

    /// Create the queue if missing.
    pub fn create(&mut self, yes: bool) -> &mut Self {
        if yes {
            self.flags |= O_CREAT;
        } else {
            self.flags &= !(O_CREAT | O_EXCL);
        }
        self
    }

    /// Create a new queue and fail if it already exists (implies create).
    pub fn exclusive(&mut self, yes: bool) -> &mut Self {
        if yes {
            self.flags |= O_CREX;
        } else {
            self.flags &= !O_EXCL;
        }
        self
    }

    /// Permission bits for a created queue (masked by the umask, like files).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Capacity of a created queue (ignored when opening an existing one).
    pub fn max_messages(&mut self, n: i64) -> &mut Self {
        self.max_messages = n;
        self
    }

    /// Largest message of a created queue (ignored when opening an existing one).
    pub fn max_message_size(&mut self, n: i64) -> &mut Self {
        self.max_message_size = n;
        self
    }

    /// Whether this handle may receive.
    pub fn read(&mut self, yes: bool) -> &mut Self {
        self.read = yes;
        self
    }

    /// Whether this handle may send.
    pub fn write(&mut self, yes: bool) -> &mut Self {
        self.write = yes;
        self
    }

    /// Whether sends and receives on this handle may wait (the reference's `block`).
    pub fn block(&mut self, yes: bool) -> &mut Self {
        self.block = yes;
        self
    }

    /// Which backend the queue lives in (default [`BackendKind::Kernel`]).
    /// Both take the same options; sizes default to the system's `msg_max`
    /// and `msgsize_max` either way.
    pub fn backend(&mut self, kind: BackendKind) -> &mut Self {
        self.backend = kind;
        self
    }

    /// The backend chosen.
    pub fn get_backend(&self) -> BackendKind {
        self.backend
    }

    /// When a signal interrupts a wait: `false` (default, like the reference)
    /// returns [`ErrorKind::Interrupted`]; `true` resumes the wait with the
    /// time that remains.
    pub fn retry_on_interrupt(&mut self, yes: bool) -> &mut Self {
        self.retry_on_interrupt = yes;
        self
    }

    /// The flags set (0, [`O_CREAT`] or [`O_CREX`], maybe with [`O_NONBLOCK`], when valid).
    pub fn get_flags(&self) -> i32 {
        self.flags
    }

    /// The mode a created queue gets.
    pub fn get_mode(&self) -> u32 {
        self.mode
    }

    /// The capacity a created queue gets (the backend's default unless set).
    pub fn get_max_messages(&self) -> i64 {
        self.max_messages
    }

    /// The message size a created queue gets (the backend's default unless set).
    pub fn get_max_message_size(&self) -> i64 {
        self.max_message_size
    }

    /// (read, write, block, retry_on_interrupt) as set.
    pub fn get_switches(&self) -> (bool, bool, bool, bool) {
        (self.read, self.write, self.block, self.retry_on_interrupt)
    }

    /// Checks the options without touching the system, sizes included as
    /// they are checked when a queue is created (opening an existing queue
    /// ignores them, see [`OpenOptions::open`]).
    pub fn validate(&self) -> Result<()> {
        self.validate_except_sizes()?;
        self.validate_sizes()
    }

    fn validate_except_sizes(&self) -> Result<()> {
        if self.flags & !KNOWN_FLAGS != 0 {
            return Err(Error::invalid(format!(
                "unknown flag bits {:#x}; only O_CREAT ({:#x}), O_EXCL ({:#x}), O_CREX and \
                 O_NONBLOCK ({:#x}) are accepted",
                self.flags & !KNOWN_FLAGS,
                O_CREAT,
                O_EXCL,
                O_NONBLOCK
            )));
        }
        if self.flags & O_EXCL != 0 && self.flags & O_CREAT == 0 {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "O_EXCL without O_CREAT means nothing; use O_CREX (O_CREAT | O_EXCL) to create \
                 exclusively",
            ));
        }
        if self.mode & !0o7777 != 0 {
            return Err(Error::invalid(format!(
                "mode {:#o} has bits outside 07777; use permission bits such as 0o600",
                self.mode
            )));
        }
        if !self.read && !self.write {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "read and write are both false; a handle needs at least one of them",
            ));
        }
        Ok(())
    }

    /// The sizes a created queue gets must be positive.
    fn validate_sizes(&self) -> Result<()> {
        if self.flags & O_CREAT != 0 {
            let (messages, size) = self.backend.default_shape();
            if self.max_messages < 1 {
                return Err(Error::invalid(format!(
                    "max_messages is {}; it must be at least 1 (new queues get {messages} by \
                     default)",
                    self.max_messages
                )));
            }
            if self.max_message_size < 1 {
                return Err(Error::invalid(format!(
                    "max_message_size is {}; it must be at least 1 (new queues get {size} by \
                     default)",
                    self.max_message_size
                )));
            }
        }
        Ok(())
    }

    /// Opens `name`, or creates a queue with a fresh random name when `name`
    /// is `None` (always exclusively, whatever the flags say).
    ///
    /// The sizes are checked only when a queue is really created, as the
    /// system does: with [`O_CREAT`] and sizes below 1, an existing queue is
    /// opened (with [`O_CREX`] it is [`ErrorKind::Exists`]), and a missing
    /// one is an invalid-argument error about the sizes.
    pub fn open(&self, name: Option<&str>) -> Result<Queue> {
        self.validate_except_sizes()?;
        match name {
            Some(n) => {
                validate_name_for(n, self.backend)?;
                if let Err(sizes) = self.validate_sizes() {
                    return self.open_existing_or(n, sizes);
                }
                self.open_named(n.to_owned())
            }
            None => {
                let mut opts = self.clone();
                opts.flags = O_CREX | (self.flags & O_NONBLOCK);
                opts.validate_sizes()?;
                let mut last = None;
                for _ in 0..RANDOM_NAME_ATTEMPTS {
                    match opts.open_named(random_name()?) {
                        Err(e) if e.kind() == ErrorKind::Exists => last = Some(e),
                        other => return other,
                    }
                }
                Err(last.unwrap_or_else(|| {
                    Error::fixed(ErrorKind::Exists, "no free random name found")
                }))
            }
        }
    }

    /// Creating with these sizes would fail with `sizes`: open `name` if it
    /// exists instead (exclusive creation: it exists), else report `sizes`.
    /// Exclusive creation asks the backend whether the queue exists without
    /// opening it: opening and closing a descriptor of a kernel queue would
    /// drop this process's notification registration on it.
    fn open_existing_or(&self, name: &str, sizes: Error) -> Result<Queue> {
        if self.flags & O_EXCL != 0 {
            return match self.backend.exists(name) {
                Ok(true) => Err(Error::new(
                    ErrorKind::Exists,
                    format!(
                        "queue {name} already exists and exclusive creation (O_EXCL) was asked \
                         for (its sizes would have been invalid too: {})",
                        sizes.detail()
                    ),
                )
                .with_errno(libc::EEXIST)),
                Ok(false) => Err(sizes),
                Err(e) => Err(e),
            };
        }
        let mut existing = self.clone();
        existing.flags &= !O_CREX;
        match existing.open_named(name.to_owned()) {
            Ok(q) => Ok(q),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(sizes),
            Err(e) => Err(e),
        }
    }

    fn open_named(&self, name: String) -> Result<Queue> {
        let req = OpenRequest {
            name: &name,
            read: self.read,
            write: self.write,
            create: self.flags & O_CREAT != 0,
            exclusive: self.flags & O_EXCL != 0,
            nonblocking: !self.block || self.flags & O_NONBLOCK != 0,
            mode: self.mode,
            max_messages: self.max_messages,
            max_message_size: self.max_message_size,
        };
        let backend = self.backend.open(&req)?;
        // An existing queue's real attributes win over the requested ones.
        let Attributes {
            max_messages,
            max_message_size,
            ..
        } = backend.attributes()?;
        Ok(Queue {
            name,
            mode: self.mode,
            read: self.read,
            write: self.write,
            max_messages,
            max_message_size,
            retry_on_interrupt: self.retry_on_interrupt,
            priority_max: self.backend.priority_max(),
            backend,
            users: AtomicUsize::new(0),
            notify_id: notify::new_id(),
            #[cfg(feature = "tokio")]
            close_signal: std::sync::OnceLock::new(),
        })
    }
}

/// The last message a shared-memory handle took (written before the take
/// commits), left in its opener record: a handle that claims the record
/// after its previous holder died reads it ([`Queue::inherited_receipt`]),
/// and any handle reads those of every dead receiver
/// ([`Queue::dead_receipts`]), so a message a killed receiver took is
/// named, not silently gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The queue's sequence number of the message (from 1).
    pub seq: u64,
    /// Its length.
    pub len: u32,
    /// Its priority.
    pub priority: u32,
    /// Its first bytes (zero-padded).
    pub head: [u8; 16],
}

/// A receipt a receiver that died left in a shared-memory queue
/// ([`Queue::dead_receipts`]): what it names, who left it, and whether its
/// take committed.
///
/// A receiver writes its receipt *before* its take commits, so a receiver
/// killed between the two leaves a receipt naming a message that is still
/// in the queue (and will be delivered to the next receiver as usual).
/// `taken` and `queued` tell the cases apart:
///
/// - `taken`: the take committed; the message left the queue with the dead
///   receiver, which may not have acted on it. This is the case to recover.
/// - `queued` (never with `taken`): the take did not commit and the message
///   is still in the queue: nothing to recover, a receiver will get it.
/// - neither: the take did not commit, and another receiver has taken the
///   message since: nothing to recover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadReceipt {
    /// The message it names (for a batch receive, the last of the batch:
    /// the ones before it in the same call were taken too).
    pub receipt: Receipt,
    /// The process id of the receiver that died.
    pub pid: u32,
    /// The dead receiver's take committed: the message is no longer in the
    /// queue because that receiver took it.
    pub taken: bool,
    /// The message is still in the queue now (the take did not commit).
    pub queued: bool,
}

/// One message for [`Queue::send_batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutMessage<'a> {
    /// The bytes (may be empty).
    pub data: &'a [u8],
    /// Its priority, 0..=[`crate::PRIORITY_MAX`] (the backend's highest).
    pub priority: u32,
}

impl<'a> OutMessage<'a> {
    /// A message of `data` at `priority`.
    pub fn new(data: &'a [u8], priority: u32) -> OutMessage<'a> {
        OutMessage { data, priority }
    }
}

/// Where [`Queue::receive_batch`] put one message in its buffer. (`repr(C)`:
/// the C ABI's `pmq_received` has this layout.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InMessage {
    /// Start of the message in the buffer.
    pub offset: usize,
    /// Its length.
    pub len: usize,
    /// Its priority.
    pub priority: u32,
}

/// Counters of a shared-memory queue ([`Queue::stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages waiting now.
    pub current_messages: u64,
    /// Messages ever committed by a send.
    pub committed: u64,
    /// Messages ever taken by a receive.
    pub received: u64,
    /// Times a process found the lock's owner dead and repaired the queue.
    pub recoveries: u64,
}

/// How [`Queue::describe`] renders a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescribeStyle {
    /// The reference's `str()`: the name and the current message count.
    Short,
    /// The reference's `repr()`: every attribute.
    Debug,
}

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
    backend: Backend,
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

/// What differs between the two directions of a transfer.
struct Direction {
    interest: Interest,
    not_now: Error,
    nonblocking: Error,
    timed_out: Error,
    closed: Error,
}

const SEND: Direction = Direction {
    interest: Interest::Writable,
    not_now: SEND_NOT_NOW,
    nonblocking: SEND_NONBLOCKING,
    timed_out: SEND_TIMED_OUT,
    closed: Error::fixed(
        ErrorKind::Closed,
        "the handle was closed while this send waited; nothing was sent",
    ),
};

const RECEIVE: Direction = Direction {
    interest: Interest::Readable,
    not_now: RECV_NOT_NOW,
    nonblocking: RECV_NONBLOCKING,
    timed_out: RECV_TIMED_OUT,
    closed: Error::fixed(
        ErrorKind::Closed,
        "the handle was closed while this receive waited; nothing was received",
    ),
};

const CLOSED: Error = Error::fixed(
    ErrorKind::Closed,
    "the handle is closed; open the queue again to use it",
);
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
const NO_WRITE: Error = Error::fixed(
    ErrorKind::Permission,
    "this handle was opened without write access; open the queue with write = true to send",
);
const NO_DESCRIPTOR: Error = Error::fixed(
    ErrorKind::NotSupported,
    "this queue's backend has no descriptor to poll; wait with a timeout instead",
);
const NO_RECEIPTS: Error = Error::fixed(
    ErrorKind::NotSupported,
    "the kernel backend keeps no receipts (mq_receive leaves none); receipts of dead receivers \
     exist only on the shared-memory backend (open the queue with backend shm)",
);
const NO_READ: Error = Error::fixed(
    ErrorKind::Permission,
    "this handle was opened without read access; open the queue with read = true to receive",
);

impl Queue {
    /// Opens an existing queue for reading and writing.
    pub fn open(name: &str) -> Result<Queue> {
        OpenOptions::new().open(Some(name))
    }

    /// Opens `name`, creating it with the system's default limits if missing.
    pub fn create(name: &str) -> Result<Queue> {
        OpenOptions::new().create(true).open(Some(name))
    }

    /// Creates a new queue; fails with [`ErrorKind::Exists`] if it exists.
    pub fn create_exclusive(name: &str) -> Result<Queue> {
        OpenOptions::new().exclusive(true).open(Some(name))
    }

    /// Creates a queue with a fresh random name (see [`Queue::name`]).
    pub fn create_random() -> Result<Queue> {
        OpenOptions::new().open(None)
    }

    /// Options builder.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
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
    fn enter_move(&self) -> Result<InUse<'_>> {
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
        match &self.backend {
            Backend::Shm(q) => {
                let (count, committed, received, recoveries) = q.counters();
                Some(QueueStats {
                    current_messages: count,
                    committed,
                    received,
                    recoveries,
                })
            }
            _ => None,
        }
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
        match &self.backend {
            Backend::Shm(q) => q.inherited_receipt(),
            _ => None,
        }
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
        let _in = self.enter()?;
        match &self.backend {
            Backend::Shm(q) => q.dead_receipts(),
            _ => Err(NO_RECEIPTS),
        }
    }

    /// Checks a shared-memory queue's invariants under its lock (count =
    /// ready slots, every slot listed or free exactly once, lists acyclic
    /// and in order, committed = received + count). For tests and `pmq`
    /// diagnostics; Ok for the kernel backend.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        match &self.backend {
            Backend::Shm(q) => q.check_invariants(),
            _ => Ok(()),
        }
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

    #[inline]
    fn check_send(&self, msg: &[u8], priority: u32) -> Result<()> {
        if !self.write {
            return Err(NO_WRITE);
        }
        if msg.len() as u64 > self.max_message_size as u64 {
            return Err(Error::new(
                ErrorKind::MessageTooLarge,
                format!(
                    "message of {} bytes is larger than queue {}'s max_message_size of {} bytes; \
                     send less, or create the queue with a larger max_message_size",
                    msg.len(),
                    self.name,
                    self.max_message_size
                ),
            ));
        }
        let max = self.priority_max;
        if priority > max {
            return Err(Error::invalid(format!(
                "priority {priority} is above the highest priority {max}; use 0..={max}"
            )));
        }
        Ok(())
    }

    #[inline]
    fn check_receive(&self, buf: &[u8]) -> Result<()> {
        if !self.read {
            return Err(NO_READ);
        }
        if (buf.len() as u64) < self.max_message_size as u64 {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "receive buffer of {} bytes is smaller than queue {}'s max_message_size; \
                     pass a buffer of at least {} bytes",
                    buf.len(),
                    self.name,
                    self.max_message_size
                ),
            )
            .with_needed(self.max_message_size as usize));
        }
        Ok(())
    }

    /// Sends `msg` (may be empty or contain NULs) with `priority`
    /// (0..=[`crate::PRIORITY_MAX`]), waiting as `timeout` says.
    pub fn send(&self, msg: &[u8], priority: u32, timeout: Timeout) -> Result<()> {
        let b = self.enter_move()?;
        self.check_send(msg, priority)?;
        // The first attempt is made here, not through `transfer`'s closure,
        // so the hot path is one inlined call (see `first_patience`).
        let first = match first_patience(timeout) {
            Some(p) => match b.try_send(msg, priority, p) {
                Attempt::Done(()) => return Ok(()),
                other => Some(other),
            },
            None => None,
        };
        self.transfer_slow(&b, timeout, &SEND, first, |p| b.try_send(msg, priority, p))
    }

    /// Receives the oldest message of the highest priority into `buf`, which
    /// must hold at least [`Queue::max_message_size`] bytes. Returns the
    /// message length and its priority.
    pub fn receive(&self, buf: &mut [u8], timeout: Timeout) -> Result<(usize, u32)> {
        let b = self.enter_move()?;
        self.check_receive(buf)?;
        let first = match first_patience(timeout) {
            Some(p) => match b.try_receive(buf, p) {
                Attempt::Done(v) => return Ok(v),
                other => Some(other),
            },
            None => None,
        };
        self.transfer_slow(&b, timeout, &RECEIVE, first, |p| b.try_receive(buf, p))
    }

    /// The timeout logic of send and receive, for both directions.
    /// `op(patience)` tries once and never waits for a message or room; a
    /// patience that will wait tells a non-blocking handle from "not now",
    /// and bounds how long the backend may wait for a lock another process
    /// holds (the call's deadline; a few milliseconds for a try-once call).
    /// Every wait is a readiness wait
    /// that close ends, so a waiting call never outlives close by more than
    /// a wake-up, and nothing moves once the handle is closed.
    #[inline]
    fn transfer<T>(
        &self,
        b: &Backend,
        timeout: Timeout,
        d: &Direction,
        mut op: impl FnMut(Patience) -> Attempt<T>,
    ) -> Result<T> {
        // The hot path: without a deadline to compute (no timeout, or try
        // once) the first attempt goes straight to the backend; everything
        // else (a timeout, not now, a wait, an error) is the cold part's.
        let Some(first) = first_patience(timeout) else {
            return self.transfer_slow(b, timeout, d, None, op);
        };
        match op(first) {
            Attempt::Done(v) => Ok(v),
            other => self.transfer_slow(b, timeout, d, Some(other), op),
        }
    }

    /// The rest of [`Queue::transfer`]: `first` is what a first attempt
    /// already reported (None: none was made).
    #[cold]
    #[inline(never)]
    fn transfer_slow<T>(
        &self,
        b: &Backend,
        timeout: Timeout,
        d: &Direction,
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
                    Attempt::Interrupted if self.retry_on_interrupt => continue,
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
                Attempt::Interrupted if self.retry_on_interrupt => continue,
                Attempt::Interrupted => return Err(Error::INTERRUPTED),
                Attempt::Failed(e) => return Err(*e),
            }
            self.wait_until(b, d, deadline)?;
        }
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
            self.check_send(m.data, m.priority)
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

    /// Waits for readiness until `deadline` (monotonic). Returns Ok when the
    /// caller should try again, `timed_out` when the deadline has passed and
    /// `closed` when the handle was closed (before or during the wait).
    fn wait_until(&self, b: &Backend, d: &Direction, deadline: Option<Instant>) -> Result<()> {
        b.prepare_wait();
        // Paired with the fence in close: either close sees the waker and
        // wakes this wait, or this thread sees the closed bit.
        fence(Ordering::SeqCst);
        loop {
            if self.is_closed() {
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
                Wake::Ready if self.is_closed() => return Err(d.closed.clone()),
                Wake::Ready => return Ok(()),
                // The backend's timer may fire a hair before our clock
                // agrees; the loop re-checks the deadline, so a timeout is
                // never early.
                Wake::Elapsed => continue,
                Wake::Interrupted if self.retry_on_interrupt => continue,
                Wake::Interrupted => return Err(Error::INTERRUPTED),
                Wake::Failed(e) => return Err(e),
            }
        }
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
    /// reference's `request_notification(None)`). Harmless when there is
    /// none. When it returns, no callback of this handle is running (except
    /// the caller, when called from inside one) and none will be called.
    pub fn notify_cancel(&self) -> Result<()> {
        let b = self.enter()?;
        notify::cancel(self.notify_id, &b)
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

    /// The reference's `str()` (Short) or `repr()` (Debug).
    pub fn describe(&self, style: DescribeStyle) -> String {
        let attrs = self.attributes();
        match style {
            DescribeStyle::Short => match attrs {
                Ok(a) => format!(
                    "{} ({} of {} messages)",
                    self.name, a.current_messages, a.max_messages
                ),
                Err(_) => format!("{} (closed)", self.name),
            },
            DescribeStyle::Debug => {
                let state = match attrs {
                    Ok(a) => format!("current_messages={}, block={}", a.current_messages, a.block),
                    Err(_) => "closed".to_string(),
                };
                format!(
                    "pmq_queue(name={:?}, mode=0o{:o}, max_messages={}, max_message_size={}, \
                     read={}, write={}, {})",
                    self.name,
                    self.mode,
                    self.max_messages,
                    self.max_message_size,
                    self.read,
                    self.write,
                    state
                )
            }
        }
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
        match &self.backend {
            Backend::Fake(f) => f.knobs(),
            _ => panic!("not a fake queue"),
        }
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
struct InUse<'a>(&'a Queue, bool);

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

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(DescribeStyle::Debug))
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(DescribeStyle::Short))
    }
}

/// Removes the kernel queue called `name` (see [`unlink_from`] for another backend).
pub fn unlink(name: &str) -> Result<()> {
    unlink_from(BackendKind::default(), name)
}

/// Removes the queue called `name` of backend `kind`.
pub fn unlink_from(kind: BackendKind, name: &str) -> Result<()> {
    validate_name_for(name, kind)?;
    kind.unlink(name)
}

/// Whether this system has POSIX message queues.
pub fn message_queues_supported() -> bool {
    BackendKind::default().supported()
}
