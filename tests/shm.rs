//! The shared-memory backend through the Rust API: the same behaviour as
//! the kernel backend (priorities, FIFO within one, try-once / timed /
//! blocking, the block switch, close waking waiters, unlink, attributes),
//! what the kernel cannot do (capacities far above fs.mqueue.msg_max), and
//! a process killed inside the critical section: the next user repairs the
//! queue and no committed message is lost or duplicated.
//!
//! Queue files live in /dev/shm as pmq.<name>; every test unlinks its own
//! by a Drop guard, even on failure.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;

use common::Unlink;

fn unique(tag: &str) -> (String, Unlink) {
    common::unique_shm("shm-t", tag)
}

fn opts(max_messages: i64, size: i64) -> OpenOptions {
    let mut o = Queue::options();
    o.backend(SHM)
        .exclusive(true)
        .max_messages(max_messages)
        .max_message_size(size);
    o
}

fn small(tag: &str, max_messages: i64, size: i64) -> (Queue, Unlink) {
    let (name, g) = unique(tag);
    (opts(max_messages, size).open(Some(&name)).unwrap(), g)
}

#[test]
fn capacity_far_above_the_kernels_limit() {
    let (q, _g) = small("big", 5000, 64);
    for i in 0..5000u32 {
        q.send(&i.to_le_bytes(), i % 3, Timeout::TryOnce).unwrap();
    }
    assert_eq!(
        q.send(b"x", 0, Timeout::TryOnce).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    q.check_invariants().unwrap();
    let mut last = [None::<u32>; 3];
    for _ in 0..5000 {
        let (m, p) = q.receive_vec(Timeout::TryOnce).unwrap();
        let v = u32::from_le_bytes(m.try_into().unwrap());
        assert_eq!(v % 3, p);
        assert!(
            last[p as usize].map_or(true, |l| l < v),
            "FIFO within a priority"
        );
        last[p as usize] = Some(v);
    }
    q.check_invariants().unwrap();
    let s = q.stats().unwrap();
    assert_eq!(
        (s.committed, s.received, s.current_messages),
        (5000, 5000, 0)
    );
}

#[test]
fn mode_is_the_files_mode() {
    let (name, _g) = unique("mode");
    let _q = opts(1, 8).mode(0o640).open(Some(&name)).unwrap();
    let md = std::fs::metadata(format!("/dev/shm/pmq.{}", &name[1..])).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // The umask may clear bits, never add them.
    assert_eq!(md.permissions().mode() & 0o7777 & !0o640, 0);
}

#[test]
fn a_damaged_file_is_reported_not_trusted() {
    let (name, _g) = unique("corrupt");
    drop(opts(2, 8).open(Some(&name)).unwrap());
    let path = format!("/dev/shm/pmq.{}", &name[1..]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0xff; // the magic
    std::fs::write(&path, &bytes).unwrap();
    let e = OpenOptions::new()
        .backend(SHM)
        .open(Some(&name))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    bytes[0] ^= 0xff;
    bytes[20] ^= 0x01; // the slot header size: another build's layout
    std::fs::write(&path, &bytes).unwrap();
    let e = OpenOptions::new()
        .backend(SHM)
        .open(Some(&name))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted);
    assert!(e.detail().contains("another layout"), "{e}");
    std::fs::write(&path, &bytes[..100]).unwrap();
    let e = OpenOptions::new()
        .backend(SHM)
        .open(Some(&name))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
}

/// A file an older pmq made (layout version 2, whose single glibc mutex
/// this build no longer takes) is refused by name, with what to do; a
/// layout-2 file of the size layout 2 gave is refused the same way, before
/// its size is held against it.
#[test]
fn a_file_of_an_older_layout_is_refused_by_name() {
    let (name, _g) = unique("older");
    drop(opts(2, 8).open(Some(&name)).unwrap());
    let path = format!("/dev/shm/pmq.{}", &name[1..]);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes[8..12],
        3u32.to_ne_bytes(),
        "this build writes layout 3"
    );
    bytes[8..12].copy_from_slice(&2u32.to_ne_bytes());
    for len in [bytes.len(), 8192 + 8 * 32768 + 64 * 1024 + 2 * 64] {
        std::fs::write(&path, &bytes[..len.min(bytes.len())]).unwrap();
        let e = OpenOptions::new()
            .backend(SHM)
            .open(Some(&name))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
        for needle in [
            "older pmq (layout 2)",
            "drain it with that version or unlink it",
        ] {
            assert!(e.detail().contains(needle), "{needle:?} not in {e}");
        }
    }
}

#[test]
fn absurd_sizes_say_what_fits() {
    let (name, _g) = unique("absurd");
    let e = opts(1 << 40, 1 << 20).open(Some(&name)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.detail().contains("fit"), "{e}");
}

fn wait_for(pred: impl Fn() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if pred() {
            return true;
        }
        thread::sleep(Duration::from_millis(2));
    }
    pred()
}

#[test]
fn callback_notification_is_one_shot_and_replaced_by_this_process() {
    let (q, _g) = small("notify", 4, 16);
    let other = OpenOptions::new()
        .backend(SHM)
        .open(Some(q.name()))
        .unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    q.notify_callback(move || {
        h.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    other.send(b"1", 0, Timeout::TryOnce).unwrap();
    assert!(wait_for(|| hits.load(Ordering::SeqCst) == 1));
    other.send(b"2", 0, Timeout::TryOnce).unwrap(); // not empty -> no notification
    thread::sleep(Duration::from_millis(30));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one-shot");
    while q.receive_vec(Timeout::TryOnce).is_ok() {}
    // A second handle of this process replaces the registration.
    let h1 = Arc::clone(&hits);
    q.notify_callback(move || {
        h1.fetch_add(100, Ordering::SeqCst);
    })
    .unwrap();
    let h2 = Arc::clone(&hits);
    other
        .notify_callback(move || {
            h2.fetch_add(10, Ordering::SeqCst);
        })
        .unwrap();
    q.send(b"3", 0, Timeout::TryOnce).unwrap();
    assert!(wait_for(|| hits.load(Ordering::SeqCst) == 11));
    thread::sleep(Duration::from_millis(30));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        11,
        "the replaced one never runs"
    );
    // Cancel: nothing is called.
    q.receive_vec(Timeout::TryOnce).unwrap();
    let h3 = Arc::clone(&hits);
    q.notify_callback(move || {
        h3.fetch_add(1000, Ordering::SeqCst);
    })
    .unwrap();
    q.notify_cancel().unwrap();
    other.send(b"4", 0, Timeout::TryOnce).unwrap();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(hits.load(Ordering::SeqCst), 11);
    assert_eq!(pmq::__notify_live_counts().0, 0, "no registration left");
}

#[test]
fn signal_notification_reaches_this_process() {
    static GOT: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn on_sig(_: libc::c_int) {
        GOT.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: installs a handler that only touches an atomic.
    unsafe { libc::signal(libc::SIGUSR1, on_sig as extern "C" fn(libc::c_int) as usize) };
    let (q, _g) = small("signal", 2, 16);
    q.notify_signal(libc::SIGUSR1).unwrap();
    q.send(b"x", 0, Timeout::TryOnce).unwrap();
    assert!(wait_for(|| GOT.load(Ordering::SeqCst) == 1));
}

#[test]
fn readiness_descriptor_follows_the_queue() {
    let (q, _g) = small("ready", 2, 16);
    let fd = q.fileno().unwrap();
    let poll = |events: i16| {
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 0) };
        p.revents & events != 0
    };
    let settle = |want_in: bool, want_out: bool| {
        wait_for(|| poll(libc::POLLIN) == want_in && poll(libc::POLLOUT) == want_out)
    };
    assert!(settle(false, true), "empty: writable only");
    q.send(b"1", 0, Timeout::TryOnce).unwrap();
    assert!(settle(true, true), "some: both");
    q.send(b"2", 0, Timeout::TryOnce).unwrap();
    assert!(settle(true, false), "full: readable only");
    q.receive_vec(Timeout::TryOnce).unwrap();
    q.receive_vec(Timeout::TryOnce).unwrap();
    assert!(settle(false, true), "empty again");
    assert_eq!(q.fileno().unwrap(), fd, "one descriptor per handle");
    q.close().unwrap();
}

/// Waits up to `ms` for an event of the epoll set and returns how many came.
fn epoll_events(ep: i32, ms: i32) -> i32 {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: one valid epoll_event to fill; `ep` is our epoll descriptor.
    unsafe { libc::epoll_wait(ep, &mut ev, 1, ms) }
}

/// An idle queue's descriptor stays still: no readable instant, no edge.
/// Its helper once re-set the level with edges at every 200 ms slice and
/// at its first look, so an empty queue was readable for an instant (a
/// `poll` right after `fileno` saw it under valgrind) and every
/// edge-triggered poller woke five times a second for nothing.
#[test]
fn an_idle_readiness_descriptor_stays_still() {
    let (q, _g) = small("still", 2, 16);
    let fd = q.fileno().unwrap();
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(
        unsafe { libc::poll(&mut p, 1, 0) },
        0,
        "empty: not readable"
    );
    // SAFETY: plain epoll calls on our own descriptors.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLET) as u32,
        u64: 0,
    };
    // SAFETY: `ev` is valid; both descriptors are open.
    assert_eq!(
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) },
        0
    );
    assert_eq!(epoll_events(ep, 0), 1, "registration reports writable once");
    // Three slices of the helper with nothing moving: no edge at all.
    assert_eq!(
        epoll_events(ep, 650),
        0,
        "an idle queue woke an edge-triggered poller"
    );
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 0, "still not readable");
    // A move still gives its edge.
    q.send(b"1", 0, Timeout::TryOnce).unwrap();
    assert_eq!(epoll_events(ep, 10_000), 1, "a send gave no edge");
    q.receive_vec(Timeout::TryOnce).unwrap();
    assert_eq!(epoll_events(ep, 10_000), 1, "a receive gave no edge");
    // SAFETY: our own epoll descriptor, closed once.
    unsafe { libc::close(ep) };
    q.close().unwrap();
}

/// Moves made before the readiness helper's first look still give an
/// edge: a poller that lost a message to another receiver, before a send
/// brought a new one, is woken. Each round races the helper's start (its
/// thread is spawned by `fileno`); the moves take microseconds, so most
/// rounds finish them before the first look. A descriptor whose first level
/// was read without a registration on the change line gave no edge then
/// (the moves left the word as read, and the level the same).
#[test]
fn moves_before_the_helpers_first_look_still_give_an_edge() {
    for round in 0..20 {
        let (q, _g) = small(&format!("first-{round}"), 2, 16);
        let other = Queue::options().backend(SHM).open(Some(q.name())).unwrap();
        q.send(b"m1", 0, Timeout::TryOnce).unwrap();
        let fd = q.fileno().unwrap();
        // SAFETY: plain epoll calls on our own descriptors.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0);
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: 0,
        };
        // SAFETY: `ev` is valid; both descriptors are open.
        assert_eq!(
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) },
            0
        );
        // The registration reports readable (m1): taken, as a poller does.
        assert_eq!(epoll_events(ep, 0), 1, "round {round}: m1 not readable");
        // Another receiver takes m1; this poller's try fails; a send brings m2.
        other.receive_vec(Timeout::TryOnce).unwrap();
        let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        other.send(b"m2", 0, Timeout::TryOnce).unwrap();
        assert_eq!(
            epoll_events(ep, 10_000),
            1,
            "round {round}: no edge for m2, which the poller would wait for forever"
        );
        assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"m2");
        // SAFETY: our own epoll descriptor, closed once.
        unsafe { libc::close(ep) };
    }
}

const CHILD_ENV: &str = "PMQ_SHM_TEST_CHILD";

/// Child side of the kill test: says "ready", then sends numbered messages
/// from the queue's committed count on (or receives) until it is killed.
#[test]
fn child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, name) = spec.split_once(':').unwrap();
    if role == "open-as-other" {
        // Runs as uid 65534: report what opening the queue gave.
        match OpenOptions::new().backend(SHM).open(Some(name)) {
            Ok(q) => println!("opened messages={}", q.current_messages().unwrap()),
            Err(e) => println!("kind={:?} detail={}", e.kind(), e.detail()),
        }
        return;
    }
    if role == "enospc" {
        // Runs in a child whose PMQ_SHM_DIR is a tiny tmpfs.
        let e = OpenOptions::new()
            .backend(SHM)
            .exclusive(true)
            .max_messages(10000)
            .max_message_size(8192)
            .open(Some(name))
            .unwrap_err();
        println!("kind={:?} detail={}", e.kind(), e.detail());
        return;
    }
    let q = OpenOptions::new().backend(SHM).open(Some(name)).unwrap();
    let mut buf = vec![0u8; q.max_message_size() as usize];
    let start = q.stats().unwrap().committed;
    println!("ready");
    match role {
        "wait-receive" => {
            let _ = q.receive_vec(Timeout::Forever);
            std::process::exit(3);
        }
        "receive-and-die" => {
            // Takes one message and dies without closing the handle.
            q.receive_vec(Timeout::TryOnce).unwrap();
            // SAFETY: raising a signal has no memory-safety preconditions.
            unsafe { libc::raise(libc::SIGKILL) };
            std::process::exit(3);
        }
        "wait-send" => {
            let _ = q.send(b"w", 0, Timeout::Forever);
            std::process::exit(3);
        }
        "wait-receive-timed" => {
            let _ = q.receive_vec(Timeout::After(Duration::from_secs(60)));
            std::process::exit(3);
        }
        "wait-send-timed" => {
            let _ = q.send(b"w", 0, Timeout::After(Duration::from_secs(60)));
            std::process::exit(3);
        }
        "send" => {
            let mut i = start;
            loop {
                let mut m = [0u8; 256];
                m[..8].copy_from_slice(&i.to_le_bytes());
                m[8..16].copy_from_slice(&(!i).to_le_bytes());
                if q.send(&m, (i % 4) as u32, Timeout::TryOnce).is_ok() {
                    i += 1;
                }
            }
        }
        _ => loop {
            let _ = q.receive(&mut buf, Timeout::TryOnce);
        },
    }
}

fn spawn_child(role: &str, name: &str) -> std::process::Child {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role}:{name}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("ready") {
        line.clear();
    }
    assert!(line.contains("ready"), "child did not start");
    child
}

/// SIGKILLs a busy sender or receiver child at random instants, many times
/// (some kills land inside the lock, which `recoveries` counts): after each
/// kill the invariants hold, and the messages in the queue are exactly the
/// committed ones: for a killed sender, the contiguous run of numbers it
/// committed (nothing lost, nothing twice, content intact); for a killed
/// receiver, committed = received + left, none twice.
#[test]
fn a_process_killed_inside_the_lock_is_repaired_and_loses_nothing() {
    let (name, _g) = unique("kill");
    let q = opts(20000, 256).open(Some(&name)).unwrap();
    let mut next = 0u64;
    let mut rounds = 0u64;
    let deadline = Instant::now() + Duration::from_secs(25);
    while rounds < 120 && Instant::now() < deadline {
        rounds += 1;
        let role = if rounds % 3 == 0 { "receive" } else { "send" };
        if role == "receive" {
            for i in 0..2000u64 {
                let mut m = [0u8; 256];
                m[..8].copy_from_slice(&(next + i).to_le_bytes());
                m[8..16].copy_from_slice(&(!(next + i)).to_le_bytes());
                q.send(&m, ((next + i) % 4) as u32, Timeout::TryOnce)
                    .unwrap();
            }
            next += 2000;
        }
        let mut child = spawn_child(role, &name);
        thread::sleep(Duration::from_micros(50 + (rounds * 7919) % 900));
        child.kill().unwrap();
        child.wait().unwrap();
        // The first locking call after the kill repairs, if the lock's owner
        // died (the count read before it may be one short: a message committed
        // just before the kill is counted by the repair).
        q.check_invariants().unwrap();
        let left = q.current_messages().unwrap() as u64;
        let mut got = Vec::new();
        while let Ok((m, p)) = q.receive_vec(Timeout::TryOnce) {
            let i = u64::from_le_bytes(m[..8].try_into().unwrap());
            assert_eq!(
                u64::from_le_bytes(m[8..16].try_into().unwrap()),
                !i,
                "content of {i}"
            );
            assert_eq!(i % 4, p as u64, "priority of {i}");
            got.push(i);
        }
        assert_eq!(got.len() as u64, left);
        got.sort_unstable();
        let before = got.len();
        got.dedup();
        assert_eq!(got.len(), before, "a message twice (round {rounds})");
        if role == "send" {
            // Exactly the run the child committed: next, next + 1, ...
            if let Some(bad) = (0..got.len()).find(|&k| got[k] != next + k as u64) {
                panic!(
                    "round {rounds}: message {} expected at position {bad}, found {} \
                     ({} messages, first {:?})",
                    next + bad as u64,
                    got[bad],
                    got.len(),
                    got.first()
                );
            }
            next += got.len() as u64;
        }
        let s = q.stats().unwrap();
        assert_eq!(s.committed, s.received, "round {rounds}");
        if role == "send" {
            assert_eq!(s.committed, next, "round {rounds}");
        }
        if s.recoveries >= 5 && rounds >= 30 {
            break;
        }
    }
    let s = q.stats().unwrap();
    eprintln!(
        "shm kill test: {rounds} kills, {} inside the lock (recoveries), {} messages committed",
        s.recoveries, s.committed
    );
    assert!(
        s.recoveries >= 1,
        "no kill landed inside the lock in {rounds} rounds"
    );
}

/// Waiters killed while blocked (on an empty queue, on a full one, waiting
/// forever or with a timeout) leave their registration behind; the next
/// mover clears it, and a later waiter is still woken by a later mover: no
/// lost wake-up. Counted over rounds. (Waiters killed in the lock wait:
/// tests/shm_faults.rs, which can hold the lock.)
#[test]
fn waiters_killed_while_blocked_do_not_swallow_wakeups() {
    let (q, _g) = small("deadwait", 1, 16);
    let q = Arc::new(q);
    let mut woken = 0;
    let roles = [
        "wait-receive",
        "wait-send",
        "wait-receive-timed",
        "wait-send-timed",
    ];
    for round in 0..8 {
        let role = roles[round % 4];
        let full = role.starts_with("wait-send");
        if full {
            q.send(b"f", 0, Timeout::TryOnce).unwrap();
        }
        let mut kids: Vec<_> = (0..3).map(|_| spawn_child(role, q.name())).collect();
        thread::sleep(Duration::from_millis(20)); // let them block
        for k in &mut kids {
            k.kill().unwrap();
            k.wait().unwrap();
        }
        // A live waiter in this process, woken by a move from another handle.
        let other = OpenOptions::new()
            .backend(SHM)
            .open(Some(q.name()))
            .unwrap();
        let q2 = Arc::clone(&q);
        let waiter = thread::spawn(move || {
            let t0 = Instant::now();
            let r = if full {
                q2.send(b"g", 0, Timeout::After(Duration::from_secs(10)))
                    .map(|_| ())
            } else {
                q2.receive_vec(Timeout::After(Duration::from_secs(10)))
                    .map(|_| ())
            };
            (r, t0.elapsed())
        });
        thread::sleep(Duration::from_millis(20));
        if full {
            other.receive_vec(Timeout::TryOnce).unwrap();
        } else {
            other.send(b"m", 0, Timeout::TryOnce).unwrap();
        }
        let (r, took) = waiter.join().unwrap();
        r.unwrap_or_else(|e| panic!("round {round}: the live waiter was not woken: {e}"));
        assert!(
            took < Duration::from_secs(5),
            "round {round}: woken late ({took:?})"
        );
        woken += 1;
        while q.receive_vec(Timeout::TryOnce).is_ok() {}
        q.check_invariants().unwrap();
    }
    eprintln!("shm: 24 waiters killed in 4 kinds of wait, 8 of 8 later waiters woken");
    assert_eq!(woken, 8);
}

/// A full /dev/shm (a 1 MiB tmpfs mounted for the test, named by
/// PMQ_SHM_DIR) fails at create with a detail that gives the size asked, the
/// space left and how to grow it, and leaves no queue and no temporary file.
#[test]
fn a_full_tmpfs_fails_at_create_and_leaves_nothing() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED a_full_tmpfs_fails_at_create_and_leaves_nothing: needs root to mount");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pmq-tinyshm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "none"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount -t tmpfs failed as root");
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _u = Umount(dir.clone());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "enospc:/big")
        .env("PMQ_SHM_DIR", &dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kind=SystemLimit"), "{text}");
    for needle in ["has no room", "free", "--shm-size", "MiB"] {
        assert!(text.contains(needle), "{needle:?} not in: {text}");
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind in the tmpfs: {left:?}");
}

/// Two users: a queue with mode 0600 keeps uid 65534 out (Permission, with
/// a detail naming the file), one with mode 0666 lets it in (root only).
#[test]
fn mode_keeps_another_user_out() {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED mode_keeps_another_user_out: needs root to run as uid 65534");
        return;
    }
    let as_other = |name: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("open-as-other:{name}"))
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let (private, _g1) = unique("private");
    let q = opts(2, 16).mode(0o600).open(Some(&private)).unwrap();
    q.send(b"secret", 0, Timeout::TryOnce).unwrap();
    let got = as_other(&private);
    assert!(got.contains("kind=Permission"), "{got}");
    assert!(got.contains(&format!("pmq.{}", &private[1..])), "{got}");
    let (shared, _g2) = unique("shared");
    // SAFETY: umask has no preconditions; restored right after.
    let old = unsafe { libc::umask(0) };
    let q2 = opts(2, 16).mode(0o666).open(Some(&shared));
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let q2 = q2.unwrap();
    q2.send(b"open", 0, Timeout::TryOnce).unwrap();
    let got = as_other(&shared);
    assert!(got.contains("opened messages=1"), "{got}");
    assert_eq!(
        q.current_messages().unwrap(),
        1,
        "the private queue is untouched"
    );
}

/// A storm of signals (handler installed without SA_RESTART) at a waiting
/// receiver: without retry_on_interrupt it returns Interrupted; with it,
/// it keeps waiting through thousands of signals and gets the message.
#[test]
fn signal_storm_during_waits() {
    extern "C" fn on_sig(_: libc::c_int) {}
    // SAFETY: sigaction with a handler that does nothing; no SA_RESTART.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sig as extern "C" fn(libc::c_int) as usize;
        libc::sigaction(libc::SIGURG, &sa, std::ptr::null_mut());
    }
    for retry in [false, true] {
        let (name, _g) = unique("storm");
        let q = Arc::new(
            opts(2, 16)
                .retry_on_interrupt(retry)
                .open(Some(&name))
                .unwrap(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let q2 = Arc::clone(&q);
        let waiter = thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() } as usize).unwrap();
            q2.receive_vec(Timeout::After(Duration::from_secs(20)))
        });
        let tid = rx.recv().unwrap() as libc::pthread_t;
        thread::sleep(Duration::from_millis(20));
        let mut sent = 0;
        let t0 = Instant::now();
        while !waiter.is_finished() && t0.elapsed() < Duration::from_millis(300) {
            // SAFETY: the waiter thread is alive (not finished) and SIGURG has a handler.
            unsafe { libc::pthread_kill(tid, libc::SIGURG) };
            sent += 1;
            thread::sleep(Duration::from_micros(100));
        }
        if retry {
            assert!(!waiter.is_finished(), "returned during the storm");
            q.send(b"after the storm", 1, Timeout::TryOnce).unwrap();
            let (m, _) = waiter.join().unwrap().expect("the message after the storm");
            assert_eq!(m, b"after the storm");
            assert!(sent > 100, "only {sent} signals");
        } else {
            let e = waiter.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
        }
        q.check_invariants().unwrap();
    }
}

/// A receiver killed after it took a message leaves a receipt every handle
/// can read: the message, its pid, taken. The kernel backend keeps none and
/// says so.
#[test]
fn dead_receipts_after_a_killed_receiver_and_not_on_the_kernel_backend() {
    let (q, _g) = small("receipts", 4, 32);
    q.send(b"first", 3, Timeout::TryOnce).unwrap();
    q.send(b"second", 2, Timeout::TryOnce).unwrap();
    assert_eq!(q.dead_receipts().unwrap(), vec![]);
    let mut child = spawn_child("receive-and-die", q.name());
    let pid = child.id();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    let got = q.dead_receipts().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let d = got[0];
    assert_eq!(
        (
            d.pid,
            d.taken,
            d.queued,
            d.receipt.seq,
            d.receipt.len,
            d.receipt.priority
        ),
        (pid, true, false, 1, 5, 3)
    );
    assert_eq!(&d.receipt.head[..6], b"first\0");
    assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"second");

    let name = format!("/pmq-shm-t-kreceipts-{}", std::process::id());
    let k = OpenOptions::new()
        .exclusive(true)
        .max_messages(1)
        .max_message_size(8)
        .open(Some(&name));
    let _ = pmq::unlink_from(BackendKind::Kernel, &name);
    let e = k.unwrap().dead_receipts().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported);
    assert!(
        e.detail().contains("shared-memory backend"),
        "{}",
        e.detail()
    );
}

#[test]
fn a_blocked_sender_gets_through_when_a_single_slot_frees() {
    // A sender waiting for room first spins for a run of free slots (an
    // eighth of the capacity here: 32), not one; the spin is bounded, and
    // the sleep after it wakes for one slot: one receive lets each send of
    // a full queue through, however many it waits for.
    let (q, _g) = small("one-slot", 256, 16);
    let q = Arc::new(q);
    for i in 0..256u32 {
        q.send(&i.to_ne_bytes(), 0, Timeout::TryOnce).unwrap();
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let (q2, sent2) = (q.clone(), sent.clone());
    let sender = thread::spawn(move || {
        for i in 256..260u32 {
            q2.send(&i.to_ne_bytes(), 0, Timeout::Forever).unwrap();
            sent2.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut buf = [0u8; 16];
    for k in 0..4usize {
        // Room for exactly one: the sender gets exactly one more through.
        let (n, _) = q.receive(&mut buf, Timeout::TryOnce).unwrap();
        assert_eq!(&buf[..n], &(k as u32).to_ne_bytes());
        assert!(
            wait_for(|| sent.load(Ordering::SeqCst) == k + 1),
            "the sender did not get send {} through after one slot freed",
            k + 1
        );
        assert_eq!(q.attributes().unwrap().current_messages, 256);
    }
    sender.join().unwrap();
    for i in 4..260u32 {
        let (n, _) = q.receive(&mut buf, Timeout::TryOnce).unwrap();
        assert_eq!(&buf[..n], &i.to_ne_bytes());
    }
}
