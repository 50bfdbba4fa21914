//! A queue file mapped into this process, and typed access to its words.
//!
//! Every access to the shared words is atomic (other processes change them
//! at any time); every offset is bounds-checked against the mapping, so a
//! scribbled index reads as "corrupt", never out of bounds.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

use super::bus;
use super::layout::{Head, Opener, Shape};
use super::ring::Ring;

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
    /// The typed view of the mapping (valid while the mapping is: it is
    /// dropped with it, and handed out only for `&self`'s lifetime).
    ring: Ring<'static>,
}

// SAFETY: the mapping is shared memory accessed only through atomics and
// the process-shared mutex; the pointer stays valid until drop.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` (which it owns from now on).
    pub fn new(fd: RawFd, len: usize, shape: Shape) -> Result<Mapping, i32> {
        assert!(
            len >= shape.file_size,
            "a mapping of {len} bytes is shorter than its queue"
        );
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
        // SAFETY: the mapping just made is page aligned and `len` bytes
        // long (>= the shape's file size); it stays mapped until this
        // Mapping, which owns the view, is dropped.
        let ring = unsafe { Ring::new(p.cast(), len, shape, fd) }.expect("a mapping holds its shape");
        Ok(Mapping {
            base: p.cast(),
            len,
            fd,
            shape,
            bus,
            ring,
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

    /// The queue's words, typed (see `ring`).
    #[inline(always)]
    pub fn ring(&self) -> &Ring<'_> {
        &self.ring
    }

    /// The file's header.
    #[inline(always)]
    pub fn head(&self) -> &Head {
        self.ring.head()
    }

    /// Opener record `i` (below OPENERS: a claimed index).
    #[inline(always)]
    pub fn opener(&self, i: u32) -> &Opener {
        self.ring
            .opener(i)
            .expect("opener indexes are claimed below OPENERS")
    }

    /// Loads the file's last word: a file cut anywhere below its size
    /// faults there, and the SIGBUS guard marks the mapping damaged.
    #[inline]
    pub fn probe_end(&self) {
        // SAFETY: the mapping is len >= file_size bytes (checked in `new`)
        // and the file size is a multiple of 64: an aligned word inside.
        let w = unsafe { &*self.base.add(self.shape.file_size - 8).cast::<AtomicU64>() };
        let _ = w.load(Ordering::Relaxed);
    }
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
