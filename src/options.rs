//! Options for opening or creating a queue, checked before any backend sees
//! them.

use crate::backend::OpenRequest;
use crate::error::{Error, ErrorKind, Result};
use crate::name::{random_name, RANDOM_NAME_ATTEMPTS};
use crate::queue::Queue;
use crate::types::BackendKind;

/// Create the queue if it does not exist (same value as the OS's O_CREAT).
pub const O_CREAT: i32 = libc::O_CREAT;
/// With [`O_CREAT`]: fail if the queue exists (same value as the OS's O_EXCL).
pub const O_EXCL: i32 = libc::O_EXCL;
/// [`O_CREAT`] | [`O_EXCL`]: create a new queue, fail if it exists.
pub const O_CREX: i32 = O_CREAT | O_EXCL;
/// Open the handle with its `block` switch off, as if `block(false)` was
/// also given (same value as the OS's O_NONBLOCK, as posix_ipc accepts it).
pub const O_NONBLOCK: i32 = libc::O_NONBLOCK;
/// Every flag bit [`OpenFlags::parse`] accepts.
const KNOWN_FLAGS: i32 = O_CREX | O_NONBLOCK;
/// The mode new queues get unless told otherwise.
pub const DEFAULT_MODE: u32 = 0o600;

/// The OS's raw open flags as pmq's switches, for a boundary that takes
/// them (the C ABI's `pmq_options.flags`, posix_ipc's `flags`): the Rust
/// API itself speaks [`OpenOptions::create`], [`OpenOptions::exclusive`]
/// and [`OpenOptions::block`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// [`O_CREAT`]: create the queue if missing.
    pub create: bool,
    /// [`O_EXCL`] (with [`O_CREAT`]): fail if the queue exists.
    pub exclusive: bool,
    /// [`O_NONBLOCK`]: the handle starts with its `block` switch off.
    pub nonblocking: bool,
}

impl OpenFlags {
    /// Reads raw flags: 0, [`O_CREAT`] or [`O_CREX`], optionally with
    /// [`O_NONBLOCK`]; anything else is refused with a detail that says why.
    pub fn parse(flags: i32) -> Result<OpenFlags> {
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::invalid(format!(
                "unknown flag bits {:#x}; only O_CREAT ({:#x}), O_EXCL ({:#x}), O_CREX and \
                 O_NONBLOCK ({:#x}) are accepted",
                flags & !KNOWN_FLAGS,
                O_CREAT,
                O_EXCL,
                O_NONBLOCK
            )));
        }
        if flags & O_EXCL != 0 && flags & O_CREAT == 0 {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "O_EXCL without O_CREAT means nothing; use O_CREX (O_CREAT | O_EXCL) to create \
                 exclusively",
            ));
        }
        Ok(OpenFlags {
            create: flags & O_CREAT != 0,
            exclusive: flags & O_EXCL != 0,
            nonblocking: flags & O_NONBLOCK != 0,
        })
    }

    /// The raw flags these switches stand for.
    pub fn bits(self) -> i32 {
        let bit = |on: bool, b: i32| if on { b } else { 0 };
        bit(self.create, O_CREAT) | bit(self.exclusive, O_EXCL) | bit(self.nonblocking, O_NONBLOCK)
    }
}

/// Options for opening or creating a queue. Sizes left unset are the chosen
/// backend's defaults, read from the system when the queue is opened (not
/// frozen at build time, nor when the options are made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    pub(crate) create: bool,
    /// Implies `create` (the setters keep it so).
    pub(crate) exclusive: bool,
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) block: bool,
    pub(crate) retry_on_interrupt: bool,
    pub(crate) mode: u32,
    /// None: the backend's default, resolved at open.
    pub(crate) max_messages: Option<i64>,
    pub(crate) max_message_size: Option<i64>,
    pub(crate) backend: BackendKind,
    /// Leases: how many deliveries a message gets from this handle (0: no
    /// limit) and where it goes after that (None: dropped).
    pub(crate) max_deliveries: u32,
    pub(crate) dead_letter: Option<String>,
    /// What raw flags given to the hidden [`OpenOptions::flags`] left that
    /// no switch above holds (until the C boundary parses its flags itself).
    raw: RawFlags,
}

/// See `OpenOptions::raw`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RawFlags {
    /// O_NONBLOCK was given: the handle starts non-blocking whatever
    /// `block` says (as mq_open ORs the two).
    nonblocking: bool,
    /// Why the flags were refused, reported by validate / open.
    refused: Option<Error>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Open an existing queue of the kernel backend for reading and
    /// writing, blocking; if created, mode 0600 and the backend's default
    /// shape (for the kernel: the system's `msg_max` and `msgsize_max` when
    /// the queue is opened).
    pub fn new() -> Self {
        OpenOptions {
            create: false,
            exclusive: false,
            read: true,
            write: true,
            block: true,
            retry_on_interrupt: false,
            mode: DEFAULT_MODE,
            max_messages: None,
            max_message_size: None,
            backend: BackendKind::default(),
            max_deliveries: 0,
            dead_letter: None,
            raw: RawFlags::default(),
        }
    }

    /// Options for a queue of the backend `kind`.
    #[cfg(test)]
    pub(crate) fn for_backend(kind: BackendKind) -> Self {
        let mut o = OpenOptions::new();
        o.backend(kind);
        o
    }

    /// Sets the switches from the OS's raw flags (see [`OpenFlags::parse`];
    /// refused flags are reported at open). O_NONBLOCK opens the handle
    /// non-blocking whatever [`OpenOptions::block`] says. For the C
    /// boundary until it parses its flags itself; Rust code sets the
    /// switches.
    #[doc(hidden)]
    pub fn flags(&mut self, flags: i32) -> &mut Self {
        match OpenFlags::parse(flags) {
            Ok(f) => {
                self.create = f.create;
                self.exclusive = f.exclusive;
                self.raw = RawFlags {
                    nonblocking: f.nonblocking,
                    refused: None,
                };
            }
            Err(e) => self.raw.refused = Some(e),
        }
        self
    }

    /// Create the queue if missing (`false` also clears exclusive).
    pub fn create(&mut self, yes: bool) -> &mut Self {
        self.create = yes;
        if !yes {
            self.exclusive = false;
        }
        self
    }

    /// Create a new queue and fail if it already exists (implies create).
    pub fn exclusive(&mut self, yes: bool) -> &mut Self {
        self.exclusive = yes;
        if yes {
            self.create = true;
        }
        self
    }

    /// Permission bits for a created queue (masked by the umask, like files).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Capacity of a created queue (ignored when opening an existing one;
    /// unset: the backend's default).
    pub fn max_messages(&mut self, n: i64) -> &mut Self {
        self.max_messages = Some(n);
        self
    }

    /// Largest message of a created queue (ignored when opening an existing
    /// one; unset: the backend's default).
    pub fn max_message_size(&mut self, n: i64) -> &mut Self {
        self.max_message_size = Some(n);
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
    /// Both take the same options; sizes not set are this backend's
    /// defaults ([`BackendKind::limits`]), whenever it is chosen.
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

    /// Leases ([`Queue::lease`]): hand a message out at most `n` times
    /// from this handle (0, the default: no limit). A lease that would
    /// deliver a message an `n + 1`-th time moves it to the
    /// [`OpenOptions::dead_letter`] queue instead (or drops it when none is
    /// named) and leases the next one, so a message that makes its
    /// consumer crash cannot come back forever.
    pub fn max_deliveries(&mut self, n: u32) -> &mut Self {
        self.max_deliveries = n;
        self
    }

    /// The dead-letter queue for [`OpenOptions::max_deliveries`]: a queue
    /// name of the same backend, created with this queue's shape when
    /// missing. None (the default) drops such messages.
    pub fn dead_letter(&mut self, name: Option<&str>) -> &mut Self {
        self.dead_letter = name.map(str::to_owned);
        self
    }

    /// The switches as raw flags (0, [`O_CREAT`] or [`O_CREX`], maybe with
    /// [`O_NONBLOCK`] if given to [`OpenOptions::flags`]). For the C boundary.
    #[doc(hidden)]
    pub fn get_flags(&self) -> i32 {
        OpenFlags {
            create: self.create,
            exclusive: self.exclusive,
            nonblocking: self.raw.nonblocking,
        }
        .bits()
    }

    /// The mode a created queue gets.
    pub fn get_mode(&self) -> u32 {
        self.mode
    }

    /// The capacity a created queue gets (the chosen backend's default, as
    /// of now, unless set).
    pub fn get_max_messages(&self) -> i64 {
        self.shape().0
    }

    /// The message size a created queue gets (the chosen backend's default,
    /// as of now, unless set).
    pub fn get_max_message_size(&self) -> i64 {
        self.shape().1
    }

    /// (max_messages, max_message_size) of a created queue: each as set,
    /// else the chosen backend's default now.
    fn shape(&self) -> (i64, i64) {
        match (self.max_messages, self.max_message_size) {
            (Some(m), Some(s)) => (m, s),
            (m, s) => {
                let (dm, ds) = self.backend.default_shape();
                (m.unwrap_or(dm), s.unwrap_or(ds))
            }
        }
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
        if let Some(e) = &self.raw.refused {
            return Err(e.clone());
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
        if self.create {
            let (max_messages, max_message_size) = self.shape();
            if max_messages < 1 || max_message_size < 1 {
                let (messages, size) = self.backend.default_shape();
                if max_messages < 1 {
                    return Err(Error::invalid(format!(
                        "max_messages is {max_messages}; it must be at least 1 (new queues get \
                         {messages} by default)"
                    )));
                }
                return Err(Error::invalid(format!(
                    "max_message_size is {max_message_size}; it must be at least 1 (new queues \
                     get {size} by default)"
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
                self.backend.validate_name(n)?;
                if let Err(sizes) = self.validate_sizes() {
                    return self.open_existing_or(n, sizes);
                }
                self.open_named(n.to_owned())
            }
            None => {
                let mut opts = self.clone();
                opts.exclusive(true);
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
        if self.exclusive {
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
        existing.create(false);
        match existing.open_named(name.to_owned()) {
            Ok(q) => Ok(q),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(sizes),
            Err(e) => Err(e),
        }
    }

    fn open_named(&self, name: String) -> Result<Queue> {
        let (max_messages, max_message_size) = self.shape();
        let req = OpenRequest {
            name: &name,
            read: self.read,
            write: self.write,
            create: self.create,
            exclusive: self.exclusive,
            nonblocking: !self.block || self.raw.nonblocking,
            mode: self.mode,
            max_messages,
            max_message_size,
        };
        if let Some(dl) = &self.dead_letter {
            self.backend
                .validate_name(dl)
                .map_err(|e| Error::new(e.kind(), format!("the dead-letter queue's name: {e}")))?;
        }
        let backend = self.backend.open(&req)?;
        let mut q = Queue::opened(
            name,
            self.mode,
            self.read,
            self.write,
            self.retry_on_interrupt,
            backend,
        )?;
        q.dead_letter.max_deliveries = self.max_deliveries;
        q.dead_letter.target = self.dead_letter.clone();
        Ok(q)
    }
}

/// The common ways to open, each a shorthand for [`OpenOptions`].
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
}
