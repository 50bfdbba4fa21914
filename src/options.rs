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
/// Every flag bit [`OpenOptions::flags`] accepts.
const KNOWN_FLAGS: i32 = O_CREX | O_NONBLOCK;
/// The mode new queues get unless told otherwise.
pub const DEFAULT_MODE: u32 = 0o600;

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
                self.backend.validate_name(n)?;
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
        Queue::opened(
            name,
            self.mode,
            self.read,
            self.write,
            self.retry_on_interrupt,
            backend,
        )
    }
}
