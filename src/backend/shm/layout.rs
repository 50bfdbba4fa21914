//! The queue file's layout (version 3) as `#[repr(C)]` structs with typed
//! atomics, every offset asserted with `offset_of!`.
//!
//! ```text
//! Head (page aligned, 270,336 bytes)
//!   0       ident      magic, layout version (3), byte order, this build's
//!                      sizes, the shape (capacity, message size, stride),
//!                      the file size
//!   128     plock      producers' robust lock (pmq's own, see `lock`)
//!   192     producers  P (next position to publish), the cached F,
//!                      recoveries
//!   256     clock      consumers' robust lock
//!   320     consumers  H (next position to drain), F (end of the free
//!                      run), messages in the index, recoveries, leases,
//!                      P as last read
//!   384     receivers  registrations and futex word of waiting receivers
//!   448     senders    ... of waiting senders
//!   512     changed    ... of readiness helpers (any move)
//!   576     notify     the notification registration (under the P lock),
//!                      and the rise hint (see `Notify::rise`)
//!   640     index      the consumers' priority index: 3-level bitmap, then
//!                      per-priority FIFO heads and tails (slot + 1; 0 =
//!                      empty)
//! openers   OPENERS records of 64 bytes (receipt; a lease's owner id)
//! ring      u32 slot numbers, a power of two of them at least the capacity
//!           (positions never wrap: index = position & (length - 1), no
//!           division on the fast path)
//! slots     {state, len, prio, next, seq, owner, deliveries, visibility,
//!           leased_at} + data, line aligned
//! ```
//!
//! The ring: `H <= P <= F <= H + capacity`; `[H, P)` published and not yet
//! drained into the index, `[P, F)` free slots for producers. P is written
//! only under the producers' lock, H and F only under the consumers' lock,
//! so producers and consumers never share a lock or a written line on the
//! fast path. Positions start at 1 (a receipt's seq 0 means "none").

use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::lock::RobustLock;

/// "PMQSHM" + generation, as every layout (the version field, at the same
/// offset in every layout, tells them apart).
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"PMQSHM\x00\x01");
pub(super) const VERSION: u32 = 3;
pub(super) const ENDIAN: u32 = 0x0102_0304;
/// Priorities 0..=32767, as the kernel's.
pub(super) const PRIORITIES: u32 = 32768;
/// Open handles a queue can have at once.
pub(super) const OPENERS: u32 = 1024;
pub(super) const LINE: usize = 64;
pub(super) const RECEIPT_HEAD_LEN: usize = 16;
/// The first position (and so the first message's seq).
pub(super) const FIRST: u64 = 1;

/// Slot states: the state word is a slot's only commit point.
pub(super) const FREE: u32 = 0;
pub(super) const READY: u32 = 0x5245_4459; // "REDY"
/// Handed out under a lease and not acked yet (`owner` names the opener
/// record and its generation): out of the ring and the index, so no other
/// receiver sees it, and counted against the capacity. An ack frees it; a
/// nack, an expiry or the holder's end puts it back in the index by seq.
pub(super) const LEASED: u32 = 0x4C45_4153; // "LEAS"

/// A value alone on its cache line.
#[repr(C, align(64))]
pub(super) struct Line<T>(pub T);

#[repr(C)]
pub(super) struct Ident {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub endian: AtomicU32,
    pub head_size: AtomicU32,
    pub slot_header: AtomicU32,
    pub lock_size: AtomicU32,
    pub pointer_width: AtomicU32,
    pub capacity: AtomicU64,
    pub msgsize: AtomicU64,
    pub stride: AtomicU64,
    pub openers: AtomicU32,
    pub priorities: AtomicU32,
    pub file_size: AtomicU64,
    /// A random number written at create (never 0): the queue's identity,
    /// not its name's (`Queue::instance_id`).
    pub instance: AtomicU64,
}

#[repr(C)]
pub(super) struct Producers {
    /// Next position to publish.
    pub p: AtomicU64,
    /// F as last read (a producer reads the consumers' line only when P
    /// reaches it).
    pub free_seen: AtomicU64,
    pub recoveries: AtomicU64,
    /// The priority of the message at P - 1.
    pub last_prio: AtomicU32,
}

#[repr(C)]
pub(super) struct Consumers {
    /// Next published position not yet in the index.
    pub h: AtomicU64,
    /// End of the free run.
    pub f: AtomicU64,
    /// Messages in the index.
    pub indexed: AtomicU64,
    pub recoveries: AtomicU64,
    /// Not 0: a repair met pages the file no longer had, so what it would
    /// rebuild is not the queue; every receive reports it from then on.
    pub broken: AtomicU32,
    /// Slots LEASED now (out of the ring and the index).
    pub leased: AtomicU64,
    /// CLOCK_MONOTONIC_COARSE ns (`ring_lease::now_ns`) at which a consumers' lock holder that sees
    /// `leased > 0` looks for leases to give back (the earliest expiry, or
    /// the next probe of the holders' liveness).
    pub next_sweep: AtomicU64,
    /// P as a receive last read it (`H <= p_seen <= P`): while H is below
    /// it and no rise lies after H, a receive takes the message at H
    /// without reading the producers' line, which every send writes.
    pub p_seen: AtomicU64,
}

#[repr(C)]
pub(super) struct Waits {
    /// Registered waiters (cleared by the waker that takes them).
    pub waiters: AtomicU32,
    /// The futex word the waiters sleep on (bumped by that waker).
    pub word: AtomicU32,
}

/// The notification registration (written under the producers' lock:
/// the send that finds the queue empty fires it).
#[repr(C)]
pub(super) struct Notify {
    /// Owner opener index + 1 (0 = none).
    pub owner: AtomicU32,
    /// [`NotifyKind`].
    pub kind: AtomicU32,
    pub signo: AtomicU32,
    /// Bumped by a registration, a cancel and a fire; the owner's watcher
    /// sleeps on it.
    pub word: AtomicU32,
    /// The owner's registration token.
    pub id: AtomicU64,
    /// Not the registration's, but as rarely written and on the same line
    /// for that reason (every receive reads it; only a send whose priority
    /// is above the one before writes it): the last position whose message
    /// has a higher priority than the one before it (written, under the
    /// producers' lock, before that message's commit). A receive whose
    /// index is empty and for which no rise lies after H takes the message
    /// at H directly: the priorities of `[H, P)` do not increase, so H is
    /// the highest and oldest (a FIFO stream never touches the index).
    pub rise: AtomicU64,
}

/// The kind of the notification registration.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NotifyKind {
    Signal = 1,
    Callback = 2,
}

#[repr(C)]
pub(super) struct Index {
    pub l0: AtomicU64,
    pub l1: [AtomicU64; BITMAP_L1_WORDS],
    pub l2: [AtomicU64; BITMAP_L2_WORDS],
    pub heads: [AtomicU32; PRIORITIES as usize],
    pub tails: [AtomicU32; PRIORITIES as usize],
}
pub(super) const BITMAP_L2_WORDS: usize = PRIORITIES as usize / 64;
pub(super) const BITMAP_L1_WORDS: usize = BITMAP_L2_WORDS / 64;

#[repr(C, align(4096))]
pub(super) struct Head {
    pub ident: Line<Ident>,
    pub plock: RobustLock,
    pub producers: Line<Producers>,
    pub clock: RobustLock,
    pub consumers: Line<Consumers>,
    /// Receivers wait here for a send.
    pub receivers: Line<Waits>,
    /// Senders wait here for a receive.
    pub senders: Line<Waits>,
    /// Readiness helpers wait here for any move.
    pub changed: Line<Waits>,
    pub notify: Line<Notify>,
    pub index: Line<Index>,
}

#[repr(C)]
pub(super) struct Opener {
    pub state: AtomicU32,
    /// Bumped by every claim of the record.
    pub gen: AtomicU32,
    pub pid: AtomicU32,
    /// The pid of the dead receiver whose receipt this record carries on:
    /// set when a handle claims a record whose previous holder left a
    /// receipt; 0 once the record's current holder writes one of its own.
    pub receipt_pid: AtomicU32,
    pub receipt_seq: AtomicU64,
    pub receipt_len: AtomicU32,
    pub receipt_prio: AtomicU32,
    pub receipt_head: [AtomicU32; RECEIPT_HEAD_LEN / 4],
    /// The id of this opener's registration that fired last (written by
    /// the sender that fired it, read by the opener's watcher thread).
    pub fired: AtomicU64,
    /// The seq of this record's receipt when a repair found the message it
    /// names still in the queue: the receiver died between writing the
    /// receipt and committing the take.
    pub receipt_untaken: AtomicU64,
}

#[repr(C)]
pub(super) struct SlotHeader {
    pub state: AtomicU32,
    pub len: AtomicU32,
    pub prio: AtomicU32,
    /// Next slot + 1 in its priority's list (consumers' index); 0 = last.
    pub next: AtomicU32,
    /// The position it was published at (unique, never reused).
    pub seq: AtomicU64,
    /// LEASED: the owner (opener index << 32 | generation). READY after a
    /// lease came back: why ([`RETURNED`] | the reason).
    pub owner: AtomicU64,
    /// How many times the message was handed out under a lease (0 at send).
    pub deliveries: AtomicU32,
    /// LEASED: the visibility timeout in ms (0 = none).
    pub visibility: AtomicU32,
    /// LEASED: when it was handed out (CLOCK_MONOTONIC_COARSE ns, see
    /// `ring_lease::now_ns`: system-wide, so every process agrees).
    pub leased_at: AtomicU64,
}

/// The tag of a READY slot's `owner` after its lease came back; the low
/// bits say why (the `RETURN_*` reasons).
pub(super) const RETURNED: u64 = 1 << 63;
/// Given back by its holder's nack.
pub(super) const RETURN_NACKED: u64 = 1;
/// Its visibility timeout passed.
pub(super) const RETURN_EXPIRED: u64 = 2;
/// Its holder died (or its opener record was claimed by another handle).
pub(super) const RETURN_DEAD: u64 = 3;
/// Its holder closed the handle without acking it.
pub(super) const RETURN_CLOSED: u64 = 4;

pub(super) const SLOT_HEADER: usize = size_of::<SlotHeader>();
pub(super) const HEAD_SIZE: usize = size_of::<Head>();
pub(super) const OPENER_SIZE: usize = size_of::<Opener>();

// Layout 3, byte for byte (a change here is a new layout version).
const _: () = {
    // The fields an opener of any layout reads first stay where layout 2
    // has them, so a layout-2 file is recognised and refused by name.
    assert!(offset_of!(Ident, magic) == 0);
    assert!(offset_of!(Ident, version) == 8);
    assert!(offset_of!(Ident, endian) == 12);
    assert!(offset_of!(Ident, head_size) == 16);
    assert!(offset_of!(Ident, slot_header) == 20);
    assert!(offset_of!(Ident, lock_size) == 24);
    assert!(offset_of!(Ident, pointer_width) == 28);
    assert!(offset_of!(Ident, capacity) == 32);
    assert!(offset_of!(Ident, msgsize) == 40);
    assert!(offset_of!(Ident, stride) == 48);
    assert!(offset_of!(Ident, openers) == 56);
    assert!(offset_of!(Ident, priorities) == 60);
    assert!(offset_of!(Ident, file_size) == 64);
    assert!(offset_of!(Ident, instance) == 72);
    assert!(size_of::<Ident>() <= 2 * LINE);
    assert!(offset_of!(Head, plock) == 128);
    assert!(offset_of!(Head, producers) == 192);
    assert!(offset_of!(Head, clock) == 256);
    assert!(offset_of!(Head, consumers) == 320);
    assert!(offset_of!(Consumers, broken) == 32);
    assert!(offset_of!(Consumers, leased) == 40);
    assert!(offset_of!(Consumers, next_sweep) == 48);
    assert!(offset_of!(Consumers, p_seen) == 56);
    assert!(offset_of!(Notify, rise) == 24);
    assert!(size_of::<Consumers>() <= LINE);
    assert!(offset_of!(Head, receivers) == 384);
    assert!(offset_of!(Head, senders) == 448);
    assert!(offset_of!(Head, changed) == 512);
    assert!(offset_of!(Head, notify) == 576);
    assert!(offset_of!(Head, index) == 640);
    assert!(offset_of!(Index, l1) == 8);
    assert!(offset_of!(Index, l2) == 8 + 8 * 8);
    assert!(offset_of!(Index, heads) == 8 + 8 * 8 + 8 * 512);
    assert!(offset_of!(Index, tails) == 8 + 8 * 8 + 8 * 512 + 4 * 32768);
    assert!(HEAD_SIZE == 270_336);
    assert!(SLOT_HEADER == 48);
    // Every data area holds a receipt's head (the stride is a multiple of
    // the line): the receipt reads it without a length check.
    assert!(LINE - SLOT_HEADER >= RECEIPT_HEAD_LEN);
    assert!(offset_of!(SlotHeader, len) == 4);
    assert!(offset_of!(SlotHeader, prio) == 8);
    assert!(offset_of!(SlotHeader, next) == 12);
    assert!(offset_of!(SlotHeader, seq) == 16);
    assert!(offset_of!(SlotHeader, owner) == 24);
    assert!(offset_of!(SlotHeader, deliveries) == 32);
    assert!(offset_of!(SlotHeader, visibility) == 36);
    assert!(offset_of!(SlotHeader, leased_at) == 40);
    assert!(OPENER_SIZE == 64);
    assert!(offset_of!(Opener, gen) == 4);
    assert!(offset_of!(Opener, pid) == 8);
    assert!(offset_of!(Opener, receipt_pid) == 12);
    assert!(offset_of!(Opener, receipt_seq) == 16);
    assert!(offset_of!(Opener, receipt_len) == 24);
    assert!(offset_of!(Opener, receipt_prio) == 28);
    assert!(offset_of!(Opener, receipt_head) == 32);
    assert!(offset_of!(Opener, fired) == 48);
    assert!(offset_of!(Opener, receipt_untaken) == 56);
};

/// Where an opener's liveness lock lives (an OFD lock on one byte, far
/// past the end of any file: locks need no data there).
pub(super) const LOCK_BASE: i64 = 1 << 40;

/// Where everything of a queue of a given shape lies (computed from the
/// shape this process validated, never re-read from the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    pub max_messages: u64,
    pub max_message_size: u64,
    pub capacity: u32,
    pub msgsize: u32,
    pub stride: usize,
    pub openers: usize,
    pub ring: usize,
    /// Cells of the ring: the smallest power of two >= the capacity.
    pub ring_len: usize,
    pub slots: usize,
    pub file_size: usize,
}

/// The largest file pmq agrees to create (a sanity bound, far above any
/// real queue: beyond it a size is a mistake, not a wish).
pub(super) const MAX_FILE_SIZE: u64 = 1 << 40;

impl Shape {
    /// The layout for a shape, or None when it does not fit at all.
    pub fn new(max_messages: u64, max_message_size: u64) -> Option<Shape> {
        let capacity = u32::try_from(max_messages)
            .ok()
            .filter(|&c| c > 0 && c < u32::MAX)?;
        let msgsize = u32::try_from(max_message_size).ok().filter(|&m| m > 0)?;
        let stride = SLOT_HEADER
            .checked_add(msgsize as usize)?
            .checked_next_multiple_of(LINE)?;
        let openers = HEAD_SIZE;
        let ring = openers + OPENERS as usize * OPENER_SIZE;
        let ring_len = (capacity as usize).checked_next_power_of_two()?;
        let slots = ring
            .checked_add(ring_len.checked_mul(4)?)?
            .checked_next_multiple_of(4096)?;
        let file_size = stride.checked_mul(capacity as usize)?.checked_add(slots)?;
        if file_size as u64 > MAX_FILE_SIZE {
            return None;
        }
        Some(Shape {
            max_messages,
            max_message_size,
            capacity,
            msgsize,
            stride,
            openers,
            ring,
            ring_len,
            slots,
            file_size,
        })
    }
}

/// The sizes this build writes into a header (offset, value, what); an
/// opener compares them.
pub(super) fn abi_fields() -> [(usize, u32, &'static str); 5] {
    [
        (offset_of!(Ident, endian), ENDIAN, "byte order"),
        (
            offset_of!(Ident, head_size),
            HEAD_SIZE as u32,
            "header size",
        ),
        (
            offset_of!(Ident, slot_header),
            SLOT_HEADER as u32,
            "slot header size",
        ),
        (
            offset_of!(Ident, lock_size),
            size_of::<RobustLock>() as u32,
            "lock size",
        ),
        (
            offset_of!(Ident, pointer_width),
            usize::BITS,
            "pointer width",
        ),
    ]
}

/// The refusal of a file an older pmq made.
pub(super) fn older_layout(version: u32) -> String {
    format!(
        "the queue file was made by an older pmq (layout {version}); drain it with that version \
         or unlink it"
    )
}
