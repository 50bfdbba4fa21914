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

use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

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

/// The header, the first [`HEADER_SIZE`] bytes of every queue file. Its
/// fields are the file's words (atomics: other processes change them at any
/// time); the code reaches them through [`Mapping`](super::map::Mapping)'s
/// bounds-checked accessors at the `OFF_*` offsets derived from this struct
/// below, each asserted against the offset layout v2 has always used.
#[repr(C)]
#[allow(dead_code)] // a description of the file: never built, only measured
pub(super) struct Header {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub endian: AtomicU32,
    pub header_size: AtomicU32,
    pub slot_header: AtomicU32,
    pub mutex_size: AtomicU32,
    pub pointer_width: AtomicU32,
    pub max_messages: AtomicU64,
    pub max_message_size: AtomicU64,
    pub stride: AtomicU64,
    pub openers: AtomicU32,
    pub priorities: AtomicU32,
    pub file_size: AtomicU64,
    _reserved0: [u64; 7],
    /// The robust process-shared `pthread_mutex_t` (40 bytes on x86-64 glibc).
    pub mutex: MutexRoom,
    // Under the mutex. Every send and receive writes this line (count,
    // seq, counters, the pending record, the free stack head, the waiter
    // registrations); what only a notification or a repair writes lives on
    // the next line, so the line that moves between the cores per
    // operation is one (with the mutex's).
    pub count: AtomicU64,
    pub next_seq: AtomicU64,
    pub committed: AtomicU64,
    pub received: AtomicU64,
    /// The counter update in flight: kind ([`Pending`]), its slot, and the
    /// value its counter (committed / received) takes once the slot's
    /// commit is done. Lets a repair tell whether a dead owner's commit was
    /// counted, so the counters stay exact.
    pub pending_value: AtomicU64,
    pub free_head: AtomicU32,
    pub recv_waiters: AtomicU32,
    pub send_waiters: AtomicU32,
    pub change_waiters: AtomicU32,
    pub pending_kind: AtomicU32,
    pub pending_slot: AtomicU32,
    pub recoveries: AtomicU64,
    /// The registration: owner opener index + 1 (0 = none), kind
    /// ([`NotifyKind`]), signal number, the owner's registration token.
    pub notify_owner: AtomicU32,
    _reserved1: u32,
    pub notify_kind: AtomicU32,
    pub notify_signo: AtomicU32,
    pub notify_id: AtomicU64,
    _reserved2: [u64; 4],
    // Futex words, one line each.
    pub sent_word: Line,
    pub recv_word: Line,
    pub change_word: Line,
    pub notify_word: Line,
    /// Bitmap of non-empty priorities, 3 levels (1 + 8 + 512 words).
    pub bitmap_l0: AtomicU64,
    pub bitmap_l1: [AtomicU64; BITMAP_L1_WORDS],
    pub bitmap_l2: [AtomicU64; BITMAP_L2_WORDS],
    _reserved3: [u8; HEADER_SIZE - BITMAP_END],
}

/// Room for the mutex: a whole cache line.
#[repr(C, align(64))]
#[allow(dead_code)] // as Header
pub(super) struct MutexRoom(pub [u8; LINE]);

/// A futex word alone on its cache line.
#[repr(C, align(64))]
#[allow(dead_code)] // as Header
pub(super) struct Line {
    pub word: AtomicU32,
    _pad: [u8; LINE - 4],
}

/// The part of every queue file whatever its shape: the header, the
/// per-priority FIFO list heads and tails (slot index + 1; 0 = empty), the
/// opener records. The slots follow it.
#[repr(C)]
#[allow(dead_code)] // a description of the file: never built, only measured
pub(super) struct Fixed {
    pub header: Header,
    pub heads: [AtomicU32; PRIORITIES as usize],
    pub tails: [AtomicU32; PRIORITIES as usize],
    pub openers: [OpenerRecord; OPENERS as usize],
}

/// A slot's header; the message's bytes follow it (up to the stride).
#[repr(C)]
#[allow(dead_code)] // a description of the file: never built, only measured
pub(super) struct SlotHeader {
    /// The only commit point of a slot ([`SlotState`]).
    pub state: AtomicU32,
    pub len: AtomicU32,
    pub prio: AtomicU32,
    /// The next slot (index + 1) on the slot's list or on the free stack.
    pub next: AtomicU32,
    pub seq: AtomicU64,
    _reserved: u64,
}

/// One open handle's record.
#[repr(C)]
#[allow(dead_code)] // a description of the file: never built, only measured
pub(super) struct OpenerRecord {
    _reserved: u32,
    /// Bumped by every claim of the record.
    pub generation: AtomicU32,
    pub pid: AtomicU32,
    /// The pid of the dead receiver whose receipt this record carries on: set
    /// when a handle claims a record whose previous holder left a receipt (the
    /// holder's pid, or the pid this field already held if that holder had
    /// inherited the receipt and not replaced it); 0 once the record's current
    /// holder writes a receipt of its own. Zero in files of earlier builds,
    /// which never wrote it.
    pub receipt_pid: AtomicU32,
    pub receipt_seq: AtomicU64,
    pub receipt_len: AtomicU32,
    pub receipt_prio: AtomicU32,
    pub receipt_head: [u8; RECEIPT_HEAD_LEN],
    /// The id of this opener's registration that fired last (written by the
    /// sender that fired it, read by the opener's watcher thread).
    pub fired: AtomicU64,
    /// The seq of this record's receipt when a repair found the message it
    /// names still committed in the queue: the receiver died between writing
    /// the receipt and committing the take (both happen under the lock, so a
    /// repair always runs before anyone else could take that message). A
    /// receipt whose seq differs was committed (seqs are never reused).
    pub receipt_untaken: AtomicU64,
}

// Header fields (byte offsets).
pub(super) const OFF_MAGIC: usize = offset_of!(Header, magic);
pub(super) const OFF_VERSION: usize = offset_of!(Header, version);
pub(super) const OFF_ENDIAN: usize = offset_of!(Header, endian);
pub(super) const OFF_HEADER_SIZE: usize = offset_of!(Header, header_size);
pub(super) const OFF_SLOT_HEADER: usize = offset_of!(Header, slot_header);
pub(super) const OFF_MUTEX_SIZE: usize = offset_of!(Header, mutex_size);
pub(super) const OFF_POINTER_WIDTH: usize = offset_of!(Header, pointer_width);
pub(super) const OFF_MAX_MESSAGES: usize = offset_of!(Header, max_messages);
pub(super) const OFF_MSGSIZE: usize = offset_of!(Header, max_message_size);
pub(super) const OFF_STRIDE: usize = offset_of!(Header, stride);
pub(super) const OFF_OPENERS: usize = offset_of!(Header, openers);
pub(super) const OFF_PRIORITIES: usize = offset_of!(Header, priorities);
pub(super) const OFF_FILE_SIZE: usize = offset_of!(Header, file_size);
pub(super) const OFF_MUTEX: usize = offset_of!(Header, mutex);
pub(super) const OFF_COUNT: usize = offset_of!(Header, count);
pub(super) const OFF_NEXT_SEQ: usize = offset_of!(Header, next_seq);
pub(super) const OFF_COMMITTED: usize = offset_of!(Header, committed);
pub(super) const OFF_RECEIVED: usize = offset_of!(Header, received);
pub(super) const OFF_PENDING_VALUE: usize = offset_of!(Header, pending_value);
pub(super) const OFF_FREE_HEAD: usize = offset_of!(Header, free_head);
pub(super) const OFF_RECV_WAITERS: usize = offset_of!(Header, recv_waiters);
pub(super) const OFF_SEND_WAITERS: usize = offset_of!(Header, send_waiters);
pub(super) const OFF_CHANGE_WAITERS: usize = offset_of!(Header, change_waiters);
pub(super) const OFF_PENDING_KIND: usize = offset_of!(Header, pending_kind);
pub(super) const OFF_PENDING_SLOT: usize = offset_of!(Header, pending_slot);
pub(super) const OFF_RECOVERIES: usize = offset_of!(Header, recoveries);
pub(super) const OFF_NOTIFY_OWNER: usize = offset_of!(Header, notify_owner);
pub(super) const OFF_NOTIFY_KIND: usize = offset_of!(Header, notify_kind);
pub(super) const OFF_NOTIFY_SIGNO: usize = offset_of!(Header, notify_signo);
pub(super) const OFF_NOTIFY_ID: usize = offset_of!(Header, notify_id);
pub(super) const OFF_SENT_WORD: usize = offset_of!(Header, sent_word);
pub(super) const OFF_RECV_WORD: usize = offset_of!(Header, recv_word);
pub(super) const OFF_CHANGE_WORD: usize = offset_of!(Header, change_word);
pub(super) const OFF_NOTIFY_WORD: usize = offset_of!(Header, notify_word);
pub(super) const OFF_BITMAP_L0: usize = offset_of!(Header, bitmap_l0);
pub(super) const OFF_BITMAP_L1: usize = offset_of!(Header, bitmap_l1);
/// Words of the bitmap's levels 1 and 2 (level 0 is one word).
pub(super) const BITMAP_L1_WORDS: usize = BITMAP_L2_WORDS / 64;
pub(super) const BITMAP_L2_WORDS: usize = PRIORITIES as usize / 64;
pub(super) const OFF_BITMAP_L2: usize = offset_of!(Header, bitmap_l2);
/// Where the bitmap ends (v2: 576 + 8 + 8 * 8 + 8 * 512).
const BITMAP_END: usize = 4744;
/// Fixed part of the file, page aligned.
pub(super) const HEADER_SIZE: usize = 8192;
pub(super) const OFF_HEADS: usize = offset_of!(Fixed, heads);
pub(super) const OFF_TAILS: usize = offset_of!(Fixed, tails);
pub(super) const OFF_OPENER_TABLE: usize = offset_of!(Fixed, openers);
/// End of the part every queue file has whatever its shape (header, lists,
/// opener table); the slots start here.
pub(super) const FIXED_END: usize = size_of::<Fixed>();

// Slot fields.
pub(super) const SLOT_STATE: usize = offset_of!(SlotHeader, state);
pub(super) const SLOT_LEN: usize = offset_of!(SlotHeader, len);
pub(super) const SLOT_PRIO: usize = offset_of!(SlotHeader, prio);
pub(super) const SLOT_NEXT: usize = offset_of!(SlotHeader, next);
pub(super) const SLOT_SEQ: usize = offset_of!(SlotHeader, seq);

/// A slot's state word: the only commit point of a slot. Any other word
/// (a scribbled file) is neither.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SlotState {
    Free = 0,
    /// "REDY": a committed message.
    Ready = 0x5245_4459,
}

/// The kind of the counter update in flight (`Header::pending_kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pending {
    None = 0,
    /// A send: `committed` takes the value once its slot is Ready.
    Send = 1,
    /// A receive: `received` takes the value once its slot is no longer Ready.
    Receive = 2,
}

impl Pending {
    /// The kind a word of the file names, if any.
    pub fn of(word: u32) -> Option<Pending> {
        match word {
            0 => Some(Pending::None),
            1 => Some(Pending::Send),
            2 => Some(Pending::Receive),
            _ => None,
        }
    }
}

/// The kind of the notification registration (`Header::notify_kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NotifyKind {
    Signal = 1,
    Callback = 2,
}

// Opener record fields.
pub(super) const OPENER_GEN: usize = offset_of!(OpenerRecord, generation);
pub(super) const OPENER_PID: usize = offset_of!(OpenerRecord, pid);
pub(super) const OPENER_RECEIPT_PID: usize = offset_of!(OpenerRecord, receipt_pid);
pub(super) const OPENER_RECEIPT_SEQ: usize = offset_of!(OpenerRecord, receipt_seq);
pub(super) const OPENER_RECEIPT_LEN: usize = offset_of!(OpenerRecord, receipt_len);
pub(super) const OPENER_RECEIPT_PRIO: usize = offset_of!(OpenerRecord, receipt_prio);
pub(super) const OPENER_RECEIPT_HEAD: usize = offset_of!(OpenerRecord, receipt_head);
pub(super) const RECEIPT_HEAD_LEN: usize = 16;
pub(super) const OPENER_FIRED: usize = offset_of!(OpenerRecord, fired);
pub(super) const OPENER_RECEIPT_UNTAKEN: usize = offset_of!(OpenerRecord, receipt_untaken);

// Layout v2, byte for byte: every offset as files made by earlier builds
// have it (a change here is a new layout version, not a refactor).
const _: () = {
    assert!(OFF_MAGIC == 0);
    assert!(OFF_VERSION == 8);
    assert!(OFF_ENDIAN == 12);
    assert!(OFF_HEADER_SIZE == 16);
    assert!(OFF_SLOT_HEADER == 20);
    assert!(OFF_MUTEX_SIZE == 24);
    assert!(OFF_POINTER_WIDTH == 28);
    assert!(OFF_MAX_MESSAGES == 32);
    assert!(OFF_MSGSIZE == 40);
    assert!(OFF_STRIDE == 48);
    assert!(OFF_OPENERS == 56);
    assert!(OFF_PRIORITIES == 60);
    assert!(OFF_FILE_SIZE == 64);
    assert!(OFF_MUTEX == 128);
    assert!(OFF_COUNT == 192);
    assert!(OFF_NEXT_SEQ == 200);
    assert!(OFF_COMMITTED == 208);
    assert!(OFF_RECEIVED == 216);
    assert!(OFF_PENDING_VALUE == 224);
    assert!(OFF_FREE_HEAD == 232);
    assert!(OFF_RECV_WAITERS == 236);
    assert!(OFF_SEND_WAITERS == 240);
    assert!(OFF_CHANGE_WAITERS == 244);
    assert!(OFF_PENDING_KIND == 248);
    assert!(OFF_PENDING_SLOT == 252);
    assert!(OFF_RECOVERIES == 256);
    assert!(OFF_NOTIFY_OWNER == 264);
    assert!(OFF_NOTIFY_KIND == 272);
    assert!(OFF_NOTIFY_SIGNO == 276);
    assert!(OFF_NOTIFY_ID == 280);
    assert!(OFF_SENT_WORD == 320);
    assert!(OFF_RECV_WORD == 384);
    assert!(OFF_CHANGE_WORD == 448);
    assert!(OFF_NOTIFY_WORD == 512);
    assert!(OFF_BITMAP_L0 == 576);
    assert!(OFF_BITMAP_L1 == 584);
    assert!(OFF_BITMAP_L2 == 648);
    assert!(OFF_BITMAP_L2 + 8 * BITMAP_L2_WORDS == BITMAP_END);
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(OFF_HEADS == 8192);
    assert!(OFF_TAILS == 8192 + 4 * 32768);
    assert!(OFF_OPENER_TABLE == 8192 + 8 * 32768);
    assert!(FIXED_END == 8192 + 8 * 32768 + 64 * 1024);
    assert!(SLOT_STATE == 0);
    assert!(SLOT_LEN == 4);
    assert!(SLOT_PRIO == 8);
    assert!(SLOT_NEXT == 12);
    assert!(SLOT_SEQ == 16);
    assert!(size_of::<SlotHeader>() == SLOT_HEADER);
    assert!(OPENER_GEN == 4);
    assert!(OPENER_PID == 8);
    assert!(OPENER_RECEIPT_PID == 12);
    assert!(OPENER_RECEIPT_SEQ == 16);
    assert!(OPENER_RECEIPT_LEN == 24);
    assert!(OPENER_RECEIPT_PRIO == 28);
    assert!(OPENER_RECEIPT_HEAD == 32);
    assert!(OPENER_FIRED == 48);
    assert!(OPENER_RECEIPT_UNTAKEN == 56);
    assert!(size_of::<OpenerRecord>() == OPENER_SIZE);
};

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
