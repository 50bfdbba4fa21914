//! Rust-level tests of pmq's safe core on the kernel backend (the default):
//! its limits and defaults, option and name checks, describe and fileno,
//! versions, a signal during a wait, and two processes sharing one queue
//! (this test binary re-executes itself as the second process). What every
//! backend promises (open rules, bytes and priorities, timeouts, the block
//! switch, close and unlink) is written once in contract.rs.
//!
//! Every queue is small (the kernel's per-user allowance is shared by all
//! tests running at once) and unlinked by a Drop guard, even on failure.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pmq::{DescribeStyle, ErrorKind, Limits, OpenOptions, Queue, Timeout};

use common::Unlink;

/// A unique name for this process and test, with its unlink guard (both
/// backends: some tests create the name on shm too).
fn unique(tag: &str) -> (String, Unlink) {
    let name = common::unique_name("rt", tag);
    (name.clone(), Unlink::both(name))
}

/// Creates a fresh small queue.
fn small(tag: &str, max_messages: i64, max_size: i64) -> (Queue, Unlink) {
    let (name, guard) = unique(tag);
    let q = Queue::options()
        .exclusive(true)
        .max_messages(max_messages)
        .max_message_size(max_size)
        .open(Some(&name))
        .expect("create test queue");
    (q, guard)
}

fn proc_value(file: &str) -> i64 {
    std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{file}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

use common::{gettid, spawn_waiter, wait_blocked_in};

#[test]
fn open_flag_constants_are_the_systems() {
    assert_eq!(pmq::O_CREAT, libc::O_CREAT);
    assert_eq!(pmq::O_EXCL, libc::O_EXCL);
    assert_eq!(pmq::O_CREX, libc::O_CREAT | libc::O_EXCL);
}

#[test]
fn random_names_are_fresh_and_distinct() {
    let mut opts = Queue::options();
    opts.max_messages(2).max_message_size(16);
    let a = opts.open(None).unwrap();
    let _ga = Unlink::both(a.name());
    let b = opts.open(None).unwrap();
    let _gb = Unlink::both(b.name());
    assert_ne!(a.name(), b.name());
    pmq::BackendKind::Kernel.validate_name(a.name()).unwrap();
    assert!(a.name().len() >= 16);
    // It exists under that name and was created (exclusively) for us.
    let err = Queue::create_exclusive(a.name()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exists);
    assert_eq!(a.current_messages().unwrap(), 0);
}

#[test]
fn defaults_follow_the_system() {
    assert_eq!(pmq::queue_messages_max_default(), proc_value("msg_max"));
    assert_eq!(
        pmq::queue_message_size_max_default(),
        proc_value("msgsize_max")
    );
    let l = Limits::read();
    assert_eq!(l.msg_max, proc_value("msg_max"));
    assert_eq!(l.msgsize_max, proc_value("msgsize_max"));
    assert_eq!(l.queues_max, proc_value("queues_max"));
    assert_eq!(l.msg_default, proc_value("msg_default"));
    assert_eq!(l.msgsize_default, proc_value("msgsize_default"));
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_MSGQUEUE, &mut rl) },
        0
    );
    assert_eq!(l.rlimit_soft, rl.rlim_cur);
    assert_eq!(l.rlimit_hard, rl.rlim_max);
    // SAFETY: sysconf has no preconditions.
    let prio = unsafe { libc::sysconf(libc::_SC_MQ_PRIO_MAX) };
    assert_eq!(l.priority_max as libc::c_long, prio - 1);
    assert_eq!(pmq::PRIORITY_MAX as libc::c_long, prio - 1);
    assert_eq!(pmq::queue_cost(10, 8192), 82880);
    assert_eq!(pmq::queue_cost(10, 200) - pmq::queue_cost(10, 100), 1000);
    assert!(pmq::message_queues_supported());
}

#[test]
fn default_mode_is_0600() {
    let (q, _g) = small("mode", 2, 16);
    assert_eq!(q.mode(), 0o600);
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fileno is an open descriptor; `st` is valid for writes.
    assert_eq!(
        unsafe { libc::fstat(q.fileno().unwrap(), st.as_mut_ptr()) },
        0
    );
    // SAFETY: fstat succeeded and initialised `st`.
    let mode = unsafe { st.assume_init() }.st_mode & 0o7777;
    // The umask can only remove bits from 0600.
    assert_eq!(mode & !0o600, 0);
    assert_eq!(mode & 0o600, 0o600);
}

#[test]
fn invalid_options_and_names_say_why() {
    let cases: Vec<(OpenOptions, &str)> = vec![
        (Queue::options().flags(0o1000).clone(), "unknown flag bits"),
        (
            Queue::options().flags(pmq::O_EXCL).clone(),
            "O_EXCL without O_CREAT",
        ),
        (Queue::options().create(true).mode(0o10000).clone(), "07777"),
        (
            Queue::options().read(false).write(false).clone(),
            "read and write are both false",
        ),
        (
            Queue::options().create(true).max_messages(0).clone(),
            "max_messages is 0",
        ),
    ];
    let (name, _g) = unique("badopts");
    for (opts, needle) in cases {
        let e = opts.open(Some(&name)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{needle}");
        assert!(e.detail().contains(needle), "{}", e.detail());
    }
    let long = format!("/{}", "x".repeat(256));
    for (bad, needle) in [
        ("noslash", "does not start with '/'"),
        ("/", "nothing after the slash"),
        ("/a/b", "second '/'"),
        (long.as_str(), "limit is 255"),
    ] {
        let e = Queue::create(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.detail().contains(needle), "{bad}: {}", e.detail());
        assert_eq!(
            pmq::unlink(bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    // Nothing above created the queue.
    assert_eq!(pmq::unlink(&name).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn timeout_values_from_seconds() {
    assert_eq!(Timeout::from_secs_f64(None).unwrap(), Timeout::Forever);
    assert_eq!(Timeout::from_secs_f64(Some(0.0)).unwrap(), Timeout::TryOnce);
    assert_eq!(
        Timeout::from_secs_f64(Some(1.5)).unwrap(),
        Timeout::After(Duration::from_millis(1500))
    );
    for (bad, needle) in [
        (f64::NAN, "NaN"),
        (-1.0, "negative"),
        (f64::INFINITY, "infinite"),
    ] {
        let e = Timeout::from_secs_f64(Some(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.detail().contains(needle), "{}", e.detail());
    }
}

#[test]
fn attributes_fileno_and_describe() {
    let (q, _g) = small("describe", 4, 64);
    q.send(b"m", 0, Timeout::TryOnce).unwrap();
    let a = q.attributes().unwrap();
    assert_eq!(
        (
            a.max_messages,
            a.max_message_size,
            a.current_messages,
            a.block
        ),
        (4, 64, 1, true)
    );
    let mut pfd = libc::pollfd {
        fd: q.fileno().unwrap(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 1);
    assert!(pfd.revents & libc::POLLIN != 0);

    let short = q.describe(DescribeStyle::Short);
    assert!(
        short.contains(q.name()) && short.contains("1 of 4 messages"),
        "{short}"
    );
    let debug = q.describe(DescribeStyle::Debug);
    for part in [
        "mode=0o600",
        "max_messages=4",
        "max_message_size=64",
        "read=true",
        "write=true",
    ] {
        assert!(debug.contains(part), "{debug} lacks {part}");
    }
    assert_eq!(format!("{q}"), short);
    assert_eq!(format!("{q:?}"), debug);
    q.close().unwrap();
    assert!(q.describe(DescribeStyle::Short).contains("closed"));
    assert!(q.describe(DescribeStyle::Debug).contains("closed"));
}

#[test]
fn close_while_another_thread_waits() {
    let (q, _g) = small("closewait", 2, 16);
    let q = Arc::new(q);
    let fd = q.fileno().unwrap();
    let (waiter, tid) = {
        let q = Arc::clone(&q);
        spawn_waiter(move || q.receive_vec(Timeout::Forever))
    };
    // A wait without a timeout sleeps in the kernel's own receive.
    wait_blocked_in(tid, libc::SYS_mq_timedreceive);
    let other = Queue::open(q.name()).unwrap();
    let closed_at = Instant::now();
    q.close().unwrap();
    assert_eq!(q.current_messages().unwrap_err().kind(), ErrorKind::Closed);
    // Close wakes the waiter: it returns Closed at once, having taken nothing.
    let e = waiter.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{}", e.detail());
    assert!(
        e.detail().contains("nothing was received"),
        "{}",
        e.detail()
    );
    assert!(closed_at.elapsed() < Duration::from_secs(2));
    // The waiting call has returned: now the descriptor is gone.
    // SAFETY: F_GETFD on any integer is safe; it only queries.
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1);
    other.send(b"kept", 6, Timeout::Forever).unwrap();
    assert_eq!(other.current_messages().unwrap(), 1);
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn signal_during_wait() {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask;
    // no SA_RESTART, so the handler returns and the wait sees EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
    }
    for retry in [false, true] {
        let (name, _g) = unique("eintr");
        let q = Arc::new(
            Queue::options()
                .exclusive(true)
                .max_messages(1)
                .max_message_size(16)
                .retry_on_interrupt(retry)
                .open(Some(&name))
                .unwrap(),
        );
        assert_eq!(q.retry_on_interrupt(), retry);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                // SAFETY: pthread_self has no preconditions.
                tx.send((gettid(), unsafe { libc::pthread_self() }))
                    .unwrap();
                q.receive_vec(Timeout::Forever)
            })
        };
        let (tid, pthread) = rx.recv().unwrap();
        wait_blocked_in(tid, libc::SYS_mq_timedreceive);
        let before = SIGNALS.load(Ordering::SeqCst);
        for _ in 0..100 {
            // SAFETY: the thread has not been joined, so its handle is valid.
            unsafe { libc::pthread_kill(pthread, libc::SIGUSR2) };
            thread::sleep(Duration::from_millis(50));
            if waiter.is_finished() || (retry && SIGNALS.load(Ordering::SeqCst) >= before + 3) {
                break;
            }
        }
        assert!(SIGNALS.load(Ordering::SeqCst) > before);
        let other = Queue::open(&name).unwrap();
        if retry {
            // The wait went on through the signals and completes now.
            wait_blocked_in(tid, libc::SYS_mq_timedreceive);
            assert!(!waiter.is_finished());
            other.send(b"later", 3, Timeout::Forever).unwrap();
            assert_eq!(waiter.join().unwrap().unwrap(), (b"later".to_vec(), 3));
        } else {
            let e = waiter.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Interrupted);
            assert_eq!(e.errno(), libc::EINTR);
            // Nothing lost: a message sent now arrives on the same handle.
            other.send(b"after", 2, Timeout::Forever).unwrap();
            assert_eq!(
                q.receive_vec(Timeout::TryOnce).unwrap(),
                (b"after".to_vec(), 2)
            );
        }
    }
}

#[test]
fn version_number_encodes_the_version() {
    assert_eq!(pmq::VERSION, env!("CARGO_PKG_VERSION"));
    let parts: Vec<u32> = pmq::VERSION
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        pmq::version_number(),
        parts[0] * 10000 + parts[1] * 100 + parts[2]
    );
}

const CHILD_ENV: &str = "PMQ_CORE_TEST_CHILD";
const MESSAGES: u32 = 150;

fn prio_of(seq: u32) -> u32 {
    [0, 4, 4, 1, pmq::PRIORITY_MAX, 0, 9][(seq % 7) as usize]
}

fn payload(seq: u32) -> Vec<u8> {
    let mut m = format!("seq={seq}\0").into_bytes();
    m.extend((0..seq % 30).map(|i| (seq * 13 + i) as u8));
    m
}

fn produce(q: &Queue) {
    for seq in 0..MESSAGES {
        q.send(
            &payload(seq),
            prio_of(seq),
            Timeout::After(Duration::from_secs(20)),
        )
        .unwrap();
    }
}

fn consume(q: &Queue) {
    let mut seen = vec![false; MESSAGES as usize];
    let mut last_in_prio = std::collections::HashMap::new();
    for _ in 0..MESSAGES {
        let (m, p) = q
            .receive_vec(Timeout::After(Duration::from_secs(20)))
            .unwrap();
        let text = std::str::from_utf8(&m[..m.iter().position(|&b| b == 0).unwrap()]).unwrap();
        let seq: u32 = text.strip_prefix("seq=").unwrap().parse().unwrap();
        assert_eq!(m, payload(seq));
        assert_eq!(p, prio_of(seq));
        assert!(!seen[seq as usize], "message {seq} twice");
        seen[seq as usize] = true;
        if let Some(prev) = last_in_prio.insert(p, seq) {
            assert!(prev < seq, "{seq} after {prev} in priority {p}");
        }
    }
    assert_eq!(
        q.receive_vec(Timeout::TryOnce).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

/// The second process of `two_processes_share_one_queue` (run by it, with
/// the queue name and role in the environment).
#[test]
#[ignore = "child role of two_processes_share_one_queue, which runs it"]
fn child_process_role() {
    let spec = std::env::var(CHILD_ENV).expect("run by two_processes_share_one_queue");
    let (role, name) = spec.split_once(':').unwrap();
    let q = Queue::open(name).unwrap();
    match role {
        "produce" => produce(&q),
        "consume" => consume(&q),
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn two_processes_share_one_queue() {
    for child_role in ["produce", "consume"] {
        let (q, _g) = small("procs", 10, 64);
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "child_process_role",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{child_role}:{}", q.name()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if child_role == "produce" {
            consume(&q);
        } else {
            produce(&q);
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child ({child_role}) failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(q.current_messages().unwrap(), 0);
    }
}

/// O_NONBLOCK in the flags opens the handle with block = false (as mq_open
/// and posix_ipc do), also for a random name.
#[test]
fn nonblock_flag_turns_block_off() {
    let (name, _g) = unique("oflag-nb");
    let q = Queue::options()
        .flags(pmq::O_CREX | pmq::O_NONBLOCK)
        .max_messages(2)
        .max_message_size(16)
        .open(Some(&name))
        .unwrap();
    assert!(!q.block().unwrap());
    let e = q.receive_vec(Timeout::Forever).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert!(Queue::open(&name).unwrap().block().unwrap());
    let r = Queue::options()
        .flags(pmq::O_NONBLOCK)
        .max_messages(2)
        .max_message_size(16)
        .open(None)
        .unwrap();
    let _rg = Unlink::both(r.name());
    assert!(!r.block().unwrap());
    let e = Queue::options()
        .flags(0o1000)
        .open(Some(&name))
        .unwrap_err();
    assert!(e.detail().contains("O_NONBLOCK"), "{e}");
}

/// Sizes are checked only when a queue is really created: O_CREAT with bad
/// sizes opens an existing queue, O_CREX on it is Exists, a missing one is
/// the size error. On both backends (each answers "exists?" its own way).
#[test]
fn sizes_are_checked_only_when_creating() {
    for backend in [pmq::BackendKind::Kernel, pmq::BackendKind::Shm] {
        let (name, _g) = unique(&format!("sizes-only-{backend:?}"));
        let opts = || {
            let mut o = OpenOptions::new();
            o.backend(backend);
            o
        };
        let q = opts()
            .exclusive(true)
            .max_messages(3)
            .max_message_size(40)
            .open(Some(&name))
            .unwrap();
        for (m, s) in [(0, 40), (3, 0), (-7, i64::MIN)] {
            let q2 = opts()
                .create(true)
                .max_messages(m)
                .max_message_size(s)
                .open(Some(q.name()))
                .unwrap();
            assert_eq!((q2.max_messages(), q2.max_message_size()), (3, 40));
            let e = opts()
                .exclusive(true)
                .max_messages(m)
                .max_message_size(s)
                .open(Some(q.name()))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Exists, "{backend:?}: {e}");
        }
        q.unlink().unwrap();
        for exclusive in [false, true] {
            let e = opts()
                .create(true)
                .exclusive(exclusive)
                .max_messages(0)
                .open(Some(&name))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{backend:?}");
            assert!(e.detail().contains("max_messages is 0"), "{e}");
        }
        assert_eq!(
            pmq::unlink_from(backend, &name).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{backend:?}: a size error left a queue"
        );
    }
}

/// A name with a NUL byte is refused (InvalidArgument) on both backends by
/// every call taking a name; C would cut it at the NUL and act on another
/// queue ("/victim\0junk" is "/victim"), so the queue before the NUL is
/// untouched. Unlink through a handle, open or closed, acts on the handle's
/// own backend: the same-named queue of the other backend keeps its message.
#[test]
fn nul_names_are_refused_and_unlink_stays_on_the_handles_backend() {
    use pmq::BackendKind::{Kernel, Shm};
    for (backend, other) in [(Kernel, Shm), (Shm, Kernel)] {
        let (victim, _g) = unique("nul");
        let open = |name: &str, create: bool| {
            Queue::options()
                .backend(backend)
                .create(create)
                .max_messages(2)
                .max_message_size(16)
                .open(Some(name))
        };
        let q = open(&victim, true).unwrap();
        q.send(b"keep", 0, Timeout::TryOnce).unwrap();
        let bad = format!("{victim}\0junk");
        for (what, r) in [
            ("open", open(&bad, false).map(|_| ())),
            ("create", open(&bad, true).map(|_| ())),
            ("unlink_from", pmq::unlink_from(backend, &bad)),
        ] {
            let e = r.expect_err(what);
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidArgument,
                "{backend:?} {what}: {e}"
            );
            assert!(e.detail().contains("NUL"), "{backend:?} {what}: {e}");
        }
        if backend == Kernel {
            assert_eq!(
                pmq::unlink(&bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
        assert_eq!(q.current_messages().unwrap(), 1, "{backend:?}");

        let unrelated = Queue::options()
            .backend(other)
            .exclusive(true)
            .max_messages(2)
            .max_message_size(16)
            .open(Some(&victim))
            .unwrap();
        unrelated.send(b"other", 0, Timeout::TryOnce).unwrap();
        q.close().unwrap();
        q.unlink().unwrap();
        assert_eq!(
            open(&victim, false).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(unrelated.current_messages().unwrap(), 1, "{backend:?}");
        assert_eq!(q.unlink().unwrap_err().kind(), ErrorKind::NotFound);
        drop(unrelated);
        pmq::unlink_from(other, &victim).unwrap();
    }
}
