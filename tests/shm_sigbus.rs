//! pmq's SIGBUS guard (a shm queue file truncated or unallocatable under a
//! mapping gives Corrupted, not a crash) must not take SIGBUS away from
//! anyone else: a fault outside pmq's mappings still reaches the handler
//! the program installed, or, with none, still ends the process.
//! One test (its own process): the order of the steps matters, as the
//! handlers are process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};

use pmq::{BackendKind, ErrorKind, OpenOptions, Timeout};

const SHM: BackendKind = BackendKind::Shm;

/// Faults the program's own handler saw, and the last address.
static USER_FAULTS: AtomicUsize = AtomicUsize::new(0);
static USER_ADDR: AtomicUsize = AtomicUsize::new(0);

/// The program's own handler: counts the fault and maps a zero page over
/// it, so the access completes.
extern "C" fn user_handler(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: a valid siginfo from the kernel.
    let addr = unsafe { (*info).si_addr() } as usize;
    USER_FAULTS.fetch_add(1, Ordering::SeqCst);
    USER_ADDR.store(addr, Ordering::SeqCst);
    // SAFETY: replaces the faulting page of the test's own mapping.
    unsafe {
        libc::mmap(
            (addr & !4095) as *mut libc::c_void,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
    }
}

/// Maps a fresh one-page file of this test's (not a queue), truncates it
/// to 0 and reads it: a SIGBUS outside any pmq mapping. Returns the
/// address read and what it read.
fn fault_outside_pmq(tag: &str) -> (usize, u8) {
    let path = format!("/dev/shm/pmq-sigbus-test-{tag}-{}", std::process::id());
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.set_len(4096).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: a shared mapping of our own file; unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    f.set_len(0).unwrap();
    let _ = std::fs::remove_file(&path);
    // SAFETY: p is mapped (the page is beyond the file's end: SIGBUS).
    let v = unsafe { std::ptr::read_volatile(p.cast::<u8>().add(100)) };
    // SAFETY: ours.
    unsafe { libc::munmap(p, 4096) };
    (p as usize + 100, v)
}

fn queue(name: &str) -> pmq::Queue {
    let _ = pmq::unlink_from(SHM, name);
    let q = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(4)
        .max_message_size(32)
        .open(Some(name))
        .unwrap();
    q.send(b"one", 1, Timeout::TryOnce).unwrap();
    q
}

#[test]
fn sigbus_outside_pmq_mappings_goes_where_it_went_before() {
    let name = format!("/pmq-sigbus-{}", std::process::id());
    // 1. No handler of the program's: a fault outside pmq still ends the
    //    process with SIGBUS once pmq's handler is installed (a child, so
    //    this process's handlers stay as they are for step 2).
    // SAFETY: the child only opens a queue, faults and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = std::panic::catch_unwind(|| {
            let child = format!("{name}-child");
            let q = queue(&child);
            let _ = pmq::unlink_from(SHM, &child);
            fault_outside_pmq("child");
            drop(q);
        });
        // Survived the fault: the default action was lost.
        // SAFETY: ends the child without running the parent's atexit code.
        unsafe { libc::_exit(if code.is_ok() { 0 } else { 3 }) };
    }
    let mut status = 0;
    // SAFETY: our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGBUS,
        "a SIGBUS outside pmq did not end the process (status {status:#x})"
    );

    // 2. The program's own handler, installed before pmq's: it still gets
    //    the faults outside pmq, and pmq's faults do not reach it.
    // SAFETY: installs a valid SA_SIGINFO handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        let h: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = user_handler;
        sa.sa_sigaction = h as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
    }
    let q = queue(&name);
    let (addr, v) = fault_outside_pmq("parent");
    assert_eq!(
        USER_FAULTS.load(Ordering::SeqCst),
        1,
        "the program's handler was not called"
    );
    assert_eq!(USER_ADDR.load(Ordering::SeqCst), addr);
    assert_eq!(v, 0);
    // A fault inside pmq's mapping is pmq's: Corrupted, the program's
    // handler not called.
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/pmq.{}", &name[1..]))
        .unwrap()
        .set_len(0)
        .unwrap();
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    let _ = pmq::unlink_from(SHM, &name);
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert_eq!(
        USER_FAULTS.load(Ordering::SeqCst),
        1,
        "pmq's fault reached the program's handler"
    );
}
