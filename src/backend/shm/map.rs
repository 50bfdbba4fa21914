//! A queue file mapped into this process, and typed access to its words.
//!
//! Every access to the shared words is atomic (other processes change them
//! at any time); every offset is bounds-checked against the mapping, so a
//! scribbled index reads as "corrupt", never out of bounds.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::bus;
use super::layout::{Shape, SlotState, FIXED_END, SLOT_HEADER, SLOT_STATE};

/// A whole queue file, mapped shared and read-write. Unmapped and closed
/// when dropped (closing the descriptor also drops this handle's opener
/// lock).
pub(super) struct Mapping {
    base: *mut u8,
    len: usize,
    pub fd: RawFd,
    pub shape: Shape,
    /// This mapping's entry in the SIGBUS guard (see `bus`).
    bus: &'static bus::Entry,
}

// SAFETY: the mapping is shared memory accessed only through atomics and
// the process-shared mutex; the pointer stays valid until drop.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` (which it owns from now on).
    pub fn new(fd: RawFd, len: usize, shape: Shape) -> Result<Mapping, i32> {
        // Every shape's file holds the fixed part (`at` relies on it).
        assert!(len >= FIXED_END, "a queue file of {len} bytes is too small");
        // SAFETY: a fresh shared mapping of an open descriptor; the kernel
        // picks the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            // SAFETY: we own `fd`.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let Some(bus) = bus::register(p as usize, len) else {
            // SAFETY: the mapping and `fd` are ours and unused.
            unsafe {
                libc::munmap(p, len);
                libc::close(fd);
            }
            return Err(libc::ENOMEM);
        };
        Ok(Mapping {
            base: p.cast(),
            len,
            fd,
            shape,
            bus,
        })
    }

    /// A page of the mapping faulted (the file was truncated under it, or
    /// its storage could not be allocated) and now reads zeros: nothing
    /// read from it since can be trusted. One relaxed load.
    #[inline(always)]
    pub fn damaged(&self) -> bool {
        self.bus.damaged()
    }

    /// The file's size now (for the detail of a damaged mapping).
    pub fn file_size_now(&self) -> Option<u64> {
        // SAFETY: stat is plain data; fstat fills it for our descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(self.fd, &mut st) } != 0 {
            return None;
        }
        Some(st.st_size as u64)
    }

    #[inline(always)]
    fn at(&self, off: usize, size: usize) -> *mut u8 {
        // The fixed part is in every mapping (checked in `new`): an offset
        // inside it is checked against a constant, which the compiler folds
        // away for the header's constant offsets; only a slot's offset needs
        // the mapping's length.
        let end = off.checked_add(size);
        let inside = match end {
            Some(e) if e <= FIXED_END => true,
            Some(e) => e <= self.len,
            None => false,
        };
        if off % size != 0 || !inside {
            out_of_bounds(off);
        }
        // SAFETY: checked to lie inside the mapping.
        unsafe { self.base.add(off) }
    }

    /// The 32-bit word at `off`.
    #[inline]
    pub fn u32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: in bounds and 4-aligned (checked), inside a live shared
        // mapping; AtomicU32 has the layout of u32.
        unsafe { &*self.at(off, 4).cast::<AtomicU32>() }
    }

    /// The 64-bit word at `off`.
    #[inline]
    pub fn u64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: as for `u32`, 8-aligned.
        unsafe { &*self.at(off, 8).cast::<AtomicU64>() }
    }

    /// The mutex at `off`.
    pub fn mutex(&self, off: usize) -> *mut libc::pthread_mutex_t {
        self.at(off, std::mem::align_of::<libc::pthread_mutex_t>())
            .cast()
    }

    /// Copies `dst.len()` bytes from `off`. The caller holds the lock that
    /// keeps writers out of these bytes.
    pub fn read_bytes(&self, off: usize, dst: &mut [u8]) {
        let p = self.at_range(off, dst.len());
        // SAFETY: the range lies inside the mapping (checked); `dst` is a
        // distinct, writable buffer.
        unsafe { std::ptr::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) };
    }

    /// Copies `src` to `off`, under the lock as for `read_bytes`.
    pub fn write_bytes(&self, off: usize, src: &[u8]) {
        let p = self.at_range(off, src.len());
        // SAFETY: as in `read_bytes`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
    }

    /// Slot `s` (below max_messages: an index from [`Shape`] checks),
    /// bounds-checked once for its whole stride, so its fields are reached
    /// without a check each.
    #[inline(always)]
    pub fn slot(&self, s: u32) -> Slot<'_> {
        let off = self.shape.slot(s);
        if s as u64 >= self.shape.max_messages {
            out_of_bounds(off);
        }
        Slot {
            base: self.at_range(off, self.shape.stride),
            data_max: self.shape.stride - SLOT_HEADER,
            _map: std::marker::PhantomData,
        }
    }

    #[inline(always)]
    fn at_range(&self, off: usize, len: usize) -> *mut u8 {
        if !off.checked_add(len).is_some_and(|e| e <= self.len) {
            out_of_bounds(off);
        }
        // SAFETY: checked to lie inside the mapping.
        unsafe { self.base.add(off) }
    }
}

/// One slot of a mapping: `stride` bytes, checked to lie inside it when
/// made ([`Mapping::slot`]).
pub(super) struct Slot<'a> {
    base: *mut u8,
    /// Bytes of message data the slot holds (stride - header).
    data_max: usize,
    _map: std::marker::PhantomData<&'a Mapping>,
}

impl Slot<'_> {
    /// The 32-bit header field at `field` (a `SLOT_*` offset).
    #[inline(always)]
    pub fn u32(&self, field: usize) -> &AtomicU32 {
        debug_assert!(field % 4 == 0 && field + 4 <= SLOT_HEADER);
        // SAFETY: `field` is a constant header offset, 4-aligned, below
        // SLOT_HEADER <= stride; the slot's stride bytes are inside the live
        // mapping (checked in Mapping::slot), and slots are 64-aligned.
        unsafe { &*self.base.add(field).cast::<AtomicU32>() }
    }

    /// The 64-bit header field at `field`.
    #[inline(always)]
    pub fn u64(&self, field: usize) -> &AtomicU64 {
        debug_assert!(field % 8 == 0 && field + 8 <= SLOT_HEADER);
        // SAFETY: as for `u32`, 8-aligned.
        unsafe { &*self.base.add(field).cast::<AtomicU64>() }
    }

    /// Whether the slot's state word is `state` (the lock held).
    #[inline(always)]
    pub fn is(&self, state: SlotState) -> bool {
        self.u32(SLOT_STATE).load(Ordering::Relaxed) == state as u32
    }

    /// Writes the slot's state word: its commit point (release, so what
    /// the slot holds is written before).
    #[inline(always)]
    pub fn commit(&self, state: SlotState) {
        self.u32(SLOT_STATE).store(state as u32, Ordering::Release);
    }

    /// Copies the message's `dst.len()` bytes out (the lock held).
    #[inline(always)]
    pub fn read_data(&self, dst: &mut [u8]) {
        if dst.len() > self.data_max {
            out_of_bounds(dst.len());
        }
        // SAFETY: the data area holds data_max bytes after the header,
        // inside the slot (checked above); `dst` is a distinct buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(self.base.add(SLOT_HEADER), dst.as_mut_ptr(), dst.len())
        };
    }

    /// Copies `src` in as the message's bytes (the lock held).
    #[inline(always)]
    pub fn write_data(&self, src: &[u8]) {
        if src.len() > self.data_max {
            out_of_bounds(src.len());
        }
        // SAFETY: as in `read_data`.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.add(SLOT_HEADER), src.len())
        };
    }

    /// The first 16 bytes of the data area, the bytes past `len` zeroed
    /// (every data area holds at least 32 bytes: the stride is a multiple
    /// of 64 and the header 32).
    #[inline(always)]
    pub fn head16(&self, len: usize) -> [u8; 16] {
        debug_assert!(self.data_max >= 16);
        let mut h = [0u8; 16];
        // SAFETY: 16 bytes of the data area, inside the slot (data_max >=
        // 16, asserted by the layout: stride >= 64).
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(SLOT_HEADER), h.as_mut_ptr(), 16) };
        let v = u128::from_le_bytes(h);
        let keep = if len >= 16 {
            u128::MAX
        } else {
            (1u128 << (8 * len)) - 1
        };
        (v & keep).to_le_bytes()
    }
}

/// An offset outside the mapping: a bug in pmq (every index read from the
/// file is checked before it becomes an offset), so it panics, which the C
/// boundary turns into PMQ_STATUS_PANIC.
#[cold]
#[inline(never)]
fn out_of_bounds(off: usize) -> ! {
    panic!("shared-memory offset {off} out of bounds")
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // The guard forgets the range before it is unmapped.
        let damaged = self.damaged();
        bus::unregister(self.bus);
        if damaged {
            // A page faulted; if it was the lock's, glibc's robust list of
            // the thread that held the lock may still point into it (its
            // unlock saw a zeroed lock and did not unlink it). The range
            // stays mapped, as zeros that belong to no file, for the
            // process's life, so that pointer never meets unmapped memory.
            // SAFETY: replaces our own mapping, same range, with anonymous
            // memory; nothing of pmq uses it after this.
            let p = unsafe {
                libc::mmap(
                    self.base.cast(),
                    self.len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                // SAFETY: our descriptor.
                unsafe { libc::close(self.fd) };
                return;
            }
        }
        // SAFETY: the mapping and descriptor are ours; nothing uses them
        // after the last reference is gone.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
            libc::close(self.fd);
        }
    }
}
