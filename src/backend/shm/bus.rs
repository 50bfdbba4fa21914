//! The SIGBUS guard: a queue file that shrinks while it is mapped (another
//! process truncated it) or whose pages cannot be allocated (a hole on a
//! full tmpfs) makes the next access to those pages raise SIGBUS, which
//! would kill the process. pmq installs one process-wide SIGBUS handler
//! (the first time a queue file is mapped) that, for a fault inside a
//! mapping registered here, maps a private zero page over the faulting
//! page and marks that mapping damaged: the access completes (it reads
//! zeros, its writes go nowhere) and the call returns Corrupted once it
//! sees the mark. Faults anywhere else go to the handler that was installed
//! before pmq's (or the default action, which ends the process as before).
//!
//! The registry is a table of fixed entries reached through atomics only,
//! so the handler (async-signal context) reads it without locks or
//! allocation. An entry is claimed for a mapping's life and cleared before
//! the mapping is unmapped.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// One registered mapping: [start, end), and whether a fault hit it.
pub(super) struct Entry {
    start: AtomicUsize,
    end: AtomicUsize,
    damaged: AtomicBool,
}

impl Entry {
    /// A fault inside the mapping was turned into a zero page: what it
    /// read since is not the file's content.
    #[inline(always)]
    pub fn damaged(&self) -> bool {
        self.damaged.load(Ordering::Relaxed)
    }
}

/// Entries per chunk, and chunks: 262,144 mappings at once in a process
/// (each holds a descriptor too, so the descriptor limit comes first).
const CHUNK: usize = 256;
const CHUNKS: usize = 1024;
type Chunk = [Entry; CHUNK];

#[allow(clippy::declare_interior_mutable_const)]
const NO_CHUNK: AtomicPtr<Chunk> = AtomicPtr::new(std::ptr::null_mut());
/// Chunks are allocated on demand and never freed (an entry is reused).
static TABLE: [AtomicPtr<Chunk>; CHUNKS] = [NO_CHUNK; CHUNKS];

/// A claimed entry's start before its range is set (matches no address).
const CLAIMED: usize = usize::MAX;

/// Fork-safe (a child forked while another thread installed it installs it
/// itself).
static INSTALL: crate::fork_once::ForkOnce<()> = crate::fork_once::ForkOnce::new();
/// The SIGBUS action before pmq's, written once before pmq's handler is
/// installed (the handler only reads it).
static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// Registers the mapping [start, start + len) (installing the handler the
/// first time). None when the table is full.
pub(super) fn register(start: usize, len: usize) -> Option<&'static Entry> {
    INSTALL.get_or_init(install);
    for slot in TABLE.iter() {
        let mut chunk = slot.load(Ordering::Acquire);
        if chunk.is_null() {
            let fresh: Box<Chunk> = Box::new(std::array::from_fn(|_| Entry {
                start: AtomicUsize::new(0),
                end: AtomicUsize::new(0),
                damaged: AtomicBool::new(false),
            }));
            let fresh = Box::into_raw(fresh);
            chunk = match slot.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => fresh,
                Err(theirs) => {
                    // SAFETY: `fresh` came from Box::into_raw above and was
                    // never published.
                    drop(unsafe { Box::from_raw(fresh) });
                    theirs
                }
            };
        }
        // SAFETY: published chunks are never freed or moved.
        let chunk: &'static Chunk = unsafe { &*chunk };
        for e in chunk {
            if e.start
                .compare_exchange(0, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                e.damaged.store(false, Ordering::Relaxed);
                e.end.store(start + len, Ordering::Release);
                e.start.store(start, Ordering::Release);
                return Some(e);
            }
        }
    }
    None
}

/// Releases `e` (before its mapping is unmapped).
pub(super) fn unregister(e: &'static Entry) {
    e.start.store(CLAIMED, Ordering::Release);
    e.end.store(0, Ordering::Release);
    e.start.store(0, Ordering::Release);
}

/// Whether the registered mapping holding `addr` is damaged (true when no
/// mapping holds it: nothing can be trusted there).
pub(super) fn damaged_at(addr: usize) -> bool {
    find(addr).map_or(true, |e| e.damaged())
}

/// The registered entry holding `addr` (async-signal-safe: atomics only).
fn find(addr: usize) -> Option<&'static Entry> {
    for slot in TABLE.iter() {
        let chunk = slot.load(Ordering::Acquire);
        if chunk.is_null() {
            return None; // chunks are filled in order
        }
        // SAFETY: published chunks are never freed or moved.
        let chunk: &'static Chunk = unsafe { &*chunk };
        for e in chunk {
            let start = e.start.load(Ordering::Acquire);
            if start != 0
                && start != CLAIMED
                && addr >= start
                && addr < e.end.load(Ordering::Acquire)
            {
                return Some(e);
            }
        }
    }
    None
}

fn install() {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        PAGE.store(page as usize, Ordering::Relaxed);
    }
    // SAFETY: sigaction is plain data (all-zero valid); reading the current
    // action into PREVIOUS happens once, before the handler that reads it
    // is installed (the Once orders it), so nothing reads it concurrently.
    unsafe {
        let prev = &mut *std::ptr::addr_of_mut!(PREVIOUS);
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old);
        prev.write(old);
        let mut sa: libc::sigaction = std::mem::zeroed();
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            on_sigbus;
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // Only a fault (si_code > 0) is pmq's to handle; a SIGBUS sent with
    // kill() goes on as if pmq were not there.
    if code > 0 {
        if let Some(e) = find(addr) {
            let page = PAGE.load(Ordering::Relaxed);
            let at = addr & !(page - 1);
            // SAFETY: replaces one page of a live mapping registered by
            // pmq (the fault proves it is mapped, and the entry is cleared
            // before any unmap) with a private zero page; mmap is a plain
            // system call, safe in a signal handler.
            let p = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                e.damaged.store(true, Ordering::SeqCst);
                return;
            }
        }
    }
    // SAFETY: PREVIOUS was written before this handler was installed.
    let prev = unsafe { (*std::ptr::addr_of!(PREVIOUS)).assume_init_ref() };
    let h = prev.sa_sigaction;
    if h == libc::SIG_IGN && code <= 0 {
        return; // a sent SIGBUS, ignored as before
    }
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // The default action, as without pmq: put it back. A fault then
        // repeats when this returns and ends the process (as the kernel
        // does for an ignored fault too); a sent SIGBUS is raised again.
        // SAFETY: plain calls with a valid, zeroed sigaction.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
            if code <= 0 {
                libc::raise(libc::SIGBUS);
            }
        }
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it
        // has this signature; we pass it our own arguments.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}
