//! The vocabulary that crosses the seam between the core and the backends:
//! plain data every layer names. A leaf: it imports nothing of pmq.

/// A snapshot of a queue's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Capacity in messages.
    pub max_messages: i64,
    /// Largest message in bytes.
    pub max_message_size: i64,
    /// Messages waiting now.
    pub current_messages: i64,
    /// Whether this handle blocks.
    pub block: bool,
}

/// Which mechanism a queue lives in, chosen when it is opened
/// ([`crate::OpenOptions::backend`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BackendKind {
    /// The Linux kernel's POSIX message queues (`mq_open`): shared with every
    /// program that opens the same name, bounded by `fs.mqueue` limits.
    #[default]
    Kernel,
    /// pmq's own queue in a file under `/dev/shm`: several times faster,
    /// bounded only by memory, robust against a process killed anywhere;
    /// shared with pmq programs only. Names: at most
    /// [`SHM_NAME_MAX`](crate::SHM_NAME_MAX) (251) bytes after the slash.
    ///
    /// A process stopped (SIGSTOP, a debugger) while it holds the queue's
    /// lock never makes another call outlast its timeout: a try-once call
    /// (or one on a non-blocking handle) waits about 10 ms for a stopped
    /// holder (at most 250 ms for a running, descheduled one) and fails
    /// with [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) naming
    /// the lock, a timed call fails with
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) at its deadline,
    /// and a call without a timeout waits until the holder resumes or dies
    /// (the queue is then repaired) or the handle is closed.
    ///
    /// **What a queue costs.** The file (memory in `/dev/shm`, allocated up
    /// front) is `round_up(335,872 + 4 × next_power_of_two(max_messages),
    /// 4,096) + max_messages × round_up(48 + max_message_size, 64)` bytes: a
    /// fixed 335,872 (header, per-priority lists for all 32,768 priorities,
    /// 1,024 opener records), a ring of 4-byte slot numbers (a power of two
    /// of them), and one slot per message.
    /// The default shape is the kernel's (10 messages of at most 8,192
    /// bytes): 422,528 bytes (413 KiB). Size a big queue's messages to fit: 100,000
    /// messages of 8,192 bytes take 826 MB, of 256 bytes 33 MB.
    Shm,
    /// An in-memory stand-in for the core's unit tests.
    #[cfg(test)]
    Fake,
}

/// What a backend bounds, asked of it at the moment of the call
/// ([`BackendKind::limits`]): a system's limits may change at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendLimits {
    /// Longest queue name after the leading slash, in bytes.
    pub name_max: usize,
    /// Highest message priority.
    pub priority_max: u32,
    /// Capacity a new queue gets unless told otherwise (for the kernel:
    /// `fs.mqueue.msg_max` now).
    pub default_max_messages: i64,
    /// Largest message of a new queue unless told otherwise (for the kernel:
    /// `fs.mqueue.msgsize_max` now).
    pub default_max_message_size: i64,
}

/// The last message a shared-memory handle took (written before the take
/// commits), left in its opener record: a handle that claims the record
/// after its previous holder died reads it ([`Queue::inherited_receipt`](crate::Queue::inherited_receipt)),
/// and any handle reads those of every dead receiver
/// ([`Queue::dead_receipts`](crate::Queue::dead_receipts)), so a message a killed receiver took is
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
/// ([`Queue::dead_receipts`](crate::Queue::dead_receipts)): what it names, who left it, and whether its
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

/// One message for [`Queue::send_batch`](crate::Queue::send_batch): `data()` at `priority`.
///
/// `repr(C)`, with the layout of the C ABI's `pmq_message` (a pointer, a
/// length, the priority), so the C boundary passes a caller's array on in
/// place, allocating nothing. Invariant: `(data, len)` is a valid slice for
/// `'a`, or `len` is 0 (then `data` may be NULL).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OutMessage<'a> {
    data: *const u8,
    len: usize,
    /// Its priority, 0..=[`crate::PRIORITY_MAX`] (the backend's highest).
    pub priority: u32,
    _bytes: std::marker::PhantomData<&'a [u8]>,
}

// The layout the C ABI relies on: pointer, length, priority, as pmq_message.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(OutMessage<'static>, data) == 0);
    assert!(offset_of!(OutMessage<'static>, len) == size_of::<*const u8>());
    assert!(offset_of!(OutMessage<'static>, priority) == 2 * size_of::<usize>());
};

// SAFETY: an OutMessage is a `&'a [u8]` and a u32 (the raw pointer is only
// there for the layout); both are Send and Sync.
unsafe impl Send for OutMessage<'_> {}
// SAFETY: as above.
unsafe impl Sync for OutMessage<'_> {}

impl<'a> OutMessage<'a> {
    /// A message of `data` at `priority`.
    pub fn new(data: &'a [u8], priority: u32) -> OutMessage<'a> {
        OutMessage {
            data: data.as_ptr(),
            len: data.len(),
            priority,
            _bytes: std::marker::PhantomData,
        }
    }

    /// The bytes (may be empty).
    pub fn data(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the type's invariant: a non-empty (data, len) is a valid
        // slice for 'a (made by new(), or checked by the C boundary).
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl PartialEq for OutMessage<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data() && self.priority == other.priority
    }
}

impl Eq for OutMessage<'_> {}

impl std::fmt::Debug for OutMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutMessage")
            .field("data", &self.data())
            .field("priority", &self.priority)
            .finish()
    }
}

/// Where [`Queue::receive_batch`](crate::Queue::receive_batch) put one message in its buffer. (`repr(C)`:
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

/// Counters of a shared-memory queue ([`Queue::stats`](crate::Queue::stats)).
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

/// A lease on one message: what [`Queue::ack`](crate::Queue::ack) and [`Queue::nack`](crate::Queue::nack) take.
/// (`#[repr(C)]`: the C ABI's `pmq_lease` has this layout.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The message's sequence number: unique among the messages ever sent
    /// to this queue (see [`Queue::instance_id`](crate::Queue::instance_id) for the queue's own
    /// identity), the same on every delivery of the message.
    pub seq: u64,
    /// Where the message lies in the queue (checked by ack and nack).
    pub slot: u32,
    /// Which delivery of the message this lease is: 1 the first time it is
    /// handed out, 2 after it came back once, and so on.
    pub delivery: u32,
}

/// One message of a [`Queue::lease_batch`](crate::Queue::lease_batch): `len` bytes at `offset` of the
/// buffer, its priority, and its lease. (`#[repr(C)]`: the C ABI's
/// `pmq_leased` has this layout.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeasedMessage {
    /// Start of the message in the buffer.
    pub offset: usize,
    /// Its length.
    pub len: usize,
    /// Its priority.
    pub priority: u32,
    /// Its lease.
    pub lease: Lease,
}

/// The leases of a queue now ([`Queue::lease_stats`](crate::Queue::lease_stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseStats {
    /// Messages handed out under a lease and not yet acked or given back
    /// (they count against the queue's capacity).
    pub leased: u64,
    /// How long ago the oldest of them was handed out (None: no lease).
    pub oldest_age: Option<std::time::Duration>,
}
