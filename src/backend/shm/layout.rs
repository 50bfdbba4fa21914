//! The queue file's layout: where every field lives, how big the file is
//! for a shape, and the checks an opener makes before trusting a file.
//!
//! ```text
//! 0      header: magic, layout version, endianness, the sizes this build
//!        uses (header, slot header, pthread_mutex_t, pointer width), the
//!        shape (capacity, message size, slot stride, openers, priorities),
//!        the file size
//! 128    the robust process-shared mutex
//! 192    under the mutex, the line every operation writes: count, next
//!        seq, committed, received, the pending counter update, free-slot
//!        stack head, waiter registrations
//! 256    under the mutex, written rarely: recoveries, the notification
//!        registration
//! 320..  futex words, one cache line each: sent, received, changed, notify
//! 576    bitmap of non-empty priorities, 3 levels (1 + 8 + 512 words)
//! 8192   per-priority FIFO list heads, then tails (u32 slot index + 1; 0 = empty)
//! ...    opener records (64 bytes each)
//! ...    slots: {state, len, prio, next, seq} + data, cache-line aligned
//! ```
//!
//! A slot's state word is the only commit point: everything else (free
//! stack, lists, bitmap, count) can be rebuilt from the slot states.

use std::mem::size_of;

/// "PMQSHM" + layout generation, stored last when a queue is created.
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"PMQSHM\x00\x01");
pub(super) const VERSION: u32 = 2;
pub(super) const ENDIAN: u32 = 0x0102_0304;
/// Priorities 0..=32767, as the kernel's.
pub(super) const PRIORITIES: u32 = 32768;
/// Open handles a queue can have at once.
pub(super) const OPENERS: u32 = 1024;

pub(super) const SLOT_HEADER: usize = 32;
pub(super) const OPENER_SIZE: usize = 64;
pub(super) const LINE: usize = 64;

// Header fields (byte offsets).
pub(super) const OFF_MAGIC: usize = 0;
pub(super) const OFF_VERSION: usize = 8;
pub(super) const OFF_ENDIAN: usize = 12;
pub(super) const OFF_HEADER_SIZE: usize = 16;
pub(super) const OFF_SLOT_HEADER: usize = 20;
pub(super) const OFF_MUTEX_SIZE: usize = 24;
pub(super) const OFF_POINTER_WIDTH: usize = 28;
pub(super) const OFF_MAX_MESSAGES: usize = 32;
pub(super) const OFF_MSGSIZE: usize = 40;
pub(super) const OFF_STRIDE: usize = 48;
pub(super) const OFF_OPENERS: usize = 56;
pub(super) const OFF_PRIORITIES: usize = 60;
pub(super) const OFF_FILE_SIZE: usize = 64;
pub(super) const OFF_MUTEX: usize = 128;
// Under the mutex. Every send and receive writes the line at 192 (count,
// seq, counters, the pending record, the free stack head, the waiter
// registrations); what only a notification or a repair writes lives on the
// next line, so the line that moves between the cores per operation is
// one (with the mutex's).
pub(super) const OFF_COUNT: usize = 192;
pub(super) const OFF_NEXT_SEQ: usize = 200;
pub(super) const OFF_COMMITTED: usize = 208;
pub(super) const OFF_RECEIVED: usize = 216;
/// The counter update in flight: kind (1 send, 2 receive; 0 none), its
/// slot, and the value its counter (committed / received) takes once the
/// slot's commit is done. Lets a repair tell whether a dead owner's commit
/// was counted, so the counters stay exact.
pub(super) const OFF_PENDING_VALUE: usize = 224;
pub(super) const OFF_FREE_HEAD: usize = 232;
pub(super) const OFF_RECV_WAITERS: usize = 236;
pub(super) const OFF_SEND_WAITERS: usize = 240;
pub(super) const OFF_CHANGE_WAITERS: usize = 244;
pub(super) const OFF_PENDING_KIND: usize = 248;
pub(super) const OFF_PENDING_SLOT: usize = 252;
pub(super) const OFF_RECOVERIES: usize = 256;
/// The registration: owner opener index + 1 (0 = none), kind (1 signal,
/// 2 callback), signal number, the owner's registration token.
pub(super) const OFF_NOTIFY_OWNER: usize = 264;
pub(super) const OFF_NOTIFY_KIND: usize = 272;
pub(super) const OFF_NOTIFY_SIGNO: usize = 276;
pub(super) const OFF_NOTIFY_ID: usize = 280;
// Futex words, one line each.
pub(super) const OFF_SENT_WORD: usize = 320;
pub(super) const OFF_RECV_WORD: usize = 384;
pub(super) const OFF_CHANGE_WORD: usize = 448;
pub(super) const OFF_NOTIFY_WORD: usize = 512;
pub(super) const OFF_BITMAP_L0: usize = 576;
pub(super) const OFF_BITMAP_L1: usize = OFF_BITMAP_L0 + 8;
/// Words of the bitmap's levels 1 and 2 (level 0 is one word).
pub(super) const BITMAP_L1_WORDS: usize = BITMAP_L2_WORDS / 64;
pub(super) const BITMAP_L2_WORDS: usize = PRIORITIES as usize / 64;
pub(super) const OFF_BITMAP_L2: usize = OFF_BITMAP_L1 + 8 * BITMAP_L1_WORDS;
const BITMAP_END: usize = OFF_BITMAP_L2 + 8 * BITMAP_L2_WORDS;
/// Fixed part of the file, page aligned.
pub(super) const HEADER_SIZE: usize = 8192;
pub(super) const OFF_HEADS: usize = HEADER_SIZE;
pub(super) const OFF_TAILS: usize = OFF_HEADS + 4 * PRIORITIES as usize;
pub(super) const OFF_OPENER_TABLE: usize = OFF_TAILS + 4 * PRIORITIES as usize;
/// End of the part every queue file has whatever its shape (header, lists,
/// opener table); the slots start here.
pub(super) const FIXED_END: usize = OFF_OPENER_TABLE + OPENERS as usize * OPENER_SIZE;

// Slot fields.
pub(super) const SLOT_STATE: usize = 0;
pub(super) const SLOT_LEN: usize = 4;
pub(super) const SLOT_PRIO: usize = 8;
pub(super) const SLOT_NEXT: usize = 12;
pub(super) const SLOT_SEQ: usize = 16;
/// The only commit point of a slot.
pub(super) const FREE: u32 = 0;
pub(super) const READY: u32 = 0x5245_4459; // "REDY"

// Opener record fields.
pub(super) const OPENER_GEN: usize = 4;
pub(super) const OPENER_PID: usize = 8;
/// The pid of the dead receiver whose receipt this record carries on: set
/// when a handle claims a record whose previous holder left a receipt (the
/// holder's pid, or the pid this field already held if that holder had
/// inherited the receipt and not replaced it); 0 once the record's current
/// holder writes a receipt of its own. Zero in files of earlier builds,
/// which never wrote it.
pub(super) const OPENER_RECEIPT_PID: usize = 12;
pub(super) const OPENER_RECEIPT_SEQ: usize = 16;
pub(super) const OPENER_RECEIPT_LEN: usize = 24;
pub(super) const OPENER_RECEIPT_PRIO: usize = 28;
pub(super) const OPENER_RECEIPT_HEAD: usize = 32;
pub(super) const RECEIPT_HEAD_LEN: usize = 16;
/// The id of this opener's registration that fired last (written by the
/// sender that fired it, read by the opener's watcher thread).
pub(super) const OPENER_FIRED: usize = 48;
/// The seq of this record's receipt when a repair found the message it
/// names still committed in the queue: the receiver died between writing
/// the receipt and committing the take (both happen under the lock, so a
/// repair always runs before anyone else could take that message). A
/// receipt whose seq differs was committed (seqs are never reused).
pub(super) const OPENER_RECEIPT_UNTAKEN: usize = 56;

/// Where an opener's liveness lock lives (an OFD lock on one byte, far
/// past the end of any file: locks need no data there).
pub(super) const LOCK_BASE: i64 = 1 << 40;

const _: () = {
    assert!(size_of::<libc::pthread_mutex_t>() <= OFF_COUNT - OFF_MUTEX);
    assert!(OFF_NOTIFY_ID + 8 <= OFF_SENT_WORD);
    assert!(OFF_PENDING_SLOT + 4 <= OFF_COUNT + LINE);
    assert!(BITMAP_END <= HEADER_SIZE);
    assert!(OFF_OPENER_TABLE % LINE == 0);
    assert!(OPENER_RECEIPT_PID + 4 <= OPENER_RECEIPT_SEQ);
    assert!(OPENER_RECEIPT_HEAD + RECEIPT_HEAD_LEN <= OPENER_FIRED);
    assert!(OPENER_RECEIPT_UNTAKEN + 8 <= OPENER_SIZE);
};

/// The offsets that depend on a queue's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    pub max_messages: u64,
    pub max_message_size: u64,
    pub stride: usize,
    pub slots: usize,
    pub file_size: usize,
}

/// The largest file pmq agrees to create (a sanity bound, far above any
/// real queue: beyond it a size is a mistake, not a wish).
pub(super) const MAX_FILE_SIZE: u64 = 1 << 40;

impl Shape {
    /// The layout for a shape, or None when it does not fit in memory at all.
    pub fn new(max_messages: u64, max_message_size: u64) -> Option<Shape> {
        if max_messages == 0 || max_messages > u32::MAX as u64 - 1 {
            return None;
        }
        let msgsize = usize::try_from(max_message_size).ok()?;
        if msgsize == 0 || msgsize > u32::MAX as usize {
            return None;
        }
        let stride = SLOT_HEADER
            .checked_add(msgsize)?
            .checked_next_multiple_of(LINE)?;
        let slots = FIXED_END;
        let file_size = stride
            .checked_mul(usize::try_from(max_messages).ok()?)?
            .checked_add(slots)?;
        if file_size as u64 > MAX_FILE_SIZE {
            return None;
        }
        Some(Shape {
            max_messages,
            max_message_size,
            stride,
            slots,
            file_size,
        })
    }

    /// Byte offset of slot `i`.
    #[inline]
    pub fn slot(&self, i: u32) -> usize {
        self.slots + i as usize * self.stride
    }

    /// Byte offset of opener record `i`.
    #[inline]
    pub fn opener(&self, i: u32) -> usize {
        OFF_OPENER_TABLE + i as usize * OPENER_SIZE
    }
}

/// The sizes this build writes into a header; an opener compares them.
pub(super) fn abi_fields() -> [(usize, u32, &'static str); 6] {
    [
        (OFF_VERSION, VERSION, "layout version"),
        (OFF_ENDIAN, ENDIAN, "byte order"),
        (OFF_HEADER_SIZE, HEADER_SIZE as u32, "header size"),
        (OFF_SLOT_HEADER, SLOT_HEADER as u32, "slot header size"),
        (
            OFF_MUTEX_SIZE,
            size_of::<libc::pthread_mutex_t>() as u32,
            "pthread_mutex_t size",
        ),
        (
            OFF_POINTER_WIDTH,
            size_of::<usize>() as u32 * 8,
            "pointer width",
        ),
    ]
}
