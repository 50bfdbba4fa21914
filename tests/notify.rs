//! Notifications through the Rust API: signal, callback re-registration from
//! inside the callback, cancel, one-shot, busy across processes, and the
//! lifetime guarantee of close/drop.

#[path = "support/prefix.rs"]
mod prefix;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pmq::{ErrorKind, Queue, Timeout};

/// Unlinks the queue when dropped, even if the test fails.
struct Guard(String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = pmq::unlink(&self.0);
    }
}

fn small(tag: &str) -> (Queue, Guard) {
    let name = prefix::named(format!("/pmq-rs-notify-{tag}-{}", std::process::id()));
    let _ = pmq::unlink(&name);
    let q = Queue::options()
        .exclusive(true)
        .max_messages(4)
        .max_message_size(64)
        .open(Some(&name))
        .unwrap();
    (q, Guard(name))
}

fn wait_for(pred: impl Fn() -> bool, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    pred()
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);
extern "C" fn on_sigusr2(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

#[test]
fn signal_is_one_shot_and_invalid_numbers_are_rejected() {
    let (q, _g) = small("sig");
    for bad in [0, -1, libc::SIGRTMAX() + 1] {
        let e = q.notify_signal(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        assert!(e.detail().contains("not valid"), "{}", e.detail());
    }
    // SAFETY: installs a handler that only stores to an atomic
    // (async-signal-safe); any thread of the test harness may run it.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr2 as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
    }
    q.notify_signal(libc::SIGUSR2).unwrap();
    q.send(b"1", 0, Timeout::TryOnce).unwrap();
    assert!(wait_for(
        || SIGNALLED.load(Ordering::SeqCst),
        Duration::from_secs(5)
    ));
    SIGNALLED.store(false, Ordering::SeqCst);
    q.send(b"2", 0, Timeout::TryOnce).unwrap(); // queue not empty: no signal
    q.receive_vec(Timeout::TryOnce).unwrap();
    q.receive_vec(Timeout::TryOnce).unwrap();
    q.send(b"3", 0, Timeout::TryOnce).unwrap(); // registration used up: no signal
    assert!(!wait_for(
        || SIGNALLED.load(Ordering::SeqCst),
        Duration::from_millis(150)
    ));
}

#[test]
fn callback_rearms_itself_and_receives() {
    let (q, _g) = small("cb");
    let q = Arc::new(q);
    let state = Arc::new((Mutex::new(Vec::<Vec<u8>>::new()), Condvar::new()));

    fn arm(q: &Arc<Queue>, state: &Arc<(Mutex<Vec<Vec<u8>>>, Condvar)>, left: usize) {
        let (q2, s2) = (Arc::clone(q), Arc::clone(state));
        q.notify_callback(move || {
            let (msg, _) = q2.receive_vec(Timeout::TryOnce).unwrap();
            if left > 0 {
                arm(&q2, &s2, left - 1); // re-register from inside the callback
            }
            s2.0.lock().unwrap().push(msg);
            s2.1.notify_all();
        })
        .unwrap();
    }
    arm(&q, &state, 10);
    for i in 0..11u8 {
        q.send(&[i], 0, Timeout::TryOnce).unwrap();
        let (lock, cv) = &*state;
        let got = cv
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(5), |v| {
                v.len() < i as usize + 1
            })
            .unwrap()
            .0;
        assert_eq!(got.len(), i as usize + 1, "cycle {i}");
        assert_eq!(got[i as usize], vec![i]);
    }
    // 11 deliveries used every registration: the next send calls nothing.
    q.send(b"x", 0, Timeout::TryOnce).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(state.0.lock().unwrap().len(), 11);
    // Break the Arc cycle held by nothing now, and drop cleanly.
    q.notify_cancel().unwrap();
}

#[test]
fn cancel_many_times_and_then_nothing_is_called() {
    let (q, _g) = small("cancel");
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        q.notify_cancel().unwrap();
    }
    let c = Arc::clone(&calls);
    q.notify_callback(move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    for _ in 0..1000 {
        q.notify_cancel().unwrap();
    }
    q.send(b"x", 0, Timeout::TryOnce).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn drop_waits_for_a_running_callback() {
    let (q, g) = small("drop");
    let sender = Queue::open(&g.0).unwrap();
    let entered = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (e, f) = (Arc::clone(&entered), Arc::clone(&finished));
    q.notify_callback(move || {
        e.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        f.store(true, Ordering::SeqCst);
    })
    .unwrap();
    sender.send(b"go", 0, Timeout::TryOnce).unwrap();
    assert!(wait_for(
        || entered.load(Ordering::SeqCst),
        Duration::from_secs(5)
    ));
    drop(q);
    assert!(
        finished.load(Ordering::SeqCst),
        "drop returned while the callback ran"
    );
}

#[test]
fn busy_when_another_process_holds_the_registration() {
    const ROLE: &str = "PMQ_NOTIFY_TEST_CHILD";
    if let Ok(name) = std::env::var(ROLE) {
        // Child: take the registration, say so, hold it until stdin closes.
        let q = Queue::open(&name).unwrap();
        q.notify_signal(libc::SIGUSR2).unwrap();
        println!("registered");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        return;
    }
    let (q, g) = small("busy");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "busy_when_another_process_holds_the_registration",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, &g.0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    use std::io::BufRead;
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("registered") {
            break;
        }
        line.clear();
    }
    assert!(seen.contains("registered"), "child said: {seen}");
    let e = q.notify_callback(|| {}).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy);
    assert!(
        e.detail()
            .contains(&format!("process {} holds it", child.id())),
        "{}",
        e.detail()
    );
    drop(child.stdin.take()); // let the child exit
    let _ = out.lines().count();
    assert!(child.wait().unwrap().success());
    q.notify_callback(|| {}).unwrap(); // free again
    q.notify_cancel().unwrap();
}

/// The kernel keeps one registration per queue and process: a second handle
/// of this process asking replaces the first one's (as posix_ipc does); the
/// replaced callback is never called, and cancel through either handle ends
/// the registration.
#[test]
fn a_second_handle_of_this_process_replaces_the_registration() {
    let (q1, _g) = small("replace");
    let q2 = Queue::open(q1.name()).unwrap();
    let first = Arc::new(AtomicUsize::new(0));
    let second = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&first);
    q1.notify_callback(move || {
        f.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let s = Arc::clone(&second);
    q2.notify_callback(move || {
        s.fetch_add(1, Ordering::SeqCst);
    })
    .expect("same process: replaced, not busy");
    q1.send(b"x", 0, Timeout::TryOnce).unwrap();
    assert!(wait_for(
        || second.load(Ordering::SeqCst) == 1,
        Duration::from_secs(10)
    ));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(first.load(Ordering::SeqCst), 0, "the replaced one ran");
    q1.receive_vec(Timeout::TryOnce).unwrap();
    // A signal registration is replaced the same way.
    q1.notify_signal(libc::SIGUSR2).unwrap();
    q2.notify_signal(libc::SIGUSR2).unwrap();
    q1.notify_cancel().unwrap();
    // Nothing is registered any more: a third handle may register.
    let q3 = Queue::open(q1.name()).unwrap();
    q3.notify_cancel().unwrap();
    q1.send(b"y", 0, Timeout::TryOnce).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(second.load(Ordering::SeqCst), 1);
}

/// Counts its drops, and from inside its drop calls back into the
/// notification registry (as the C ABI's `drop(param)` hook may).
struct DropProbe {
    other: Arc<Queue>,
    drops: Arc<AtomicUsize>,
    reentered: Arc<AtomicBool>,
}
impl Drop for DropProbe {
    fn drop(&mut self) {
        self.reentered
            .store(self.other.notify_cancel().is_ok(), Ordering::SeqCst);
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A callback is dropped exactly once when its registration ends (replaced,
/// cancelled, delivered, closed), and outside the registry's lock: a drop
/// that calls into the registry does not deadlock (before, it was dropped
/// under the lock). Run on a thread, so a deadlock fails instead of hanging.
#[test]
fn callbacks_are_dropped_once_outside_the_lock() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (q, _g) = small("dropped");
        let (o, _go) = small("dropped-other");
        let other = Arc::new(o);
        let probe = || {
            let drops = Arc::new(AtomicUsize::new(0));
            let reentered = Arc::new(AtomicBool::new(false));
            let p = DropProbe {
                other: Arc::clone(&other),
                drops: Arc::clone(&drops),
                reentered: Arc::clone(&reentered),
            };
            (
                move || {
                    let _ = &p;
                },
                drops,
                reentered,
            )
        };
        // Replaced, then cancelled.
        let (f1, d1, r1) = probe();
        let (f2, d2, r2) = probe();
        q.notify_callback(f1).unwrap();
        q.notify_callback(f2).unwrap();
        assert_eq!(
            d1.load(Ordering::SeqCst),
            1,
            "replaced: dropped in that call"
        );
        assert!(r1.load(Ordering::SeqCst));
        assert_eq!(d2.load(Ordering::SeqCst), 0);
        q.notify_cancel().unwrap();
        assert_eq!(d2.load(Ordering::SeqCst), 1, "cancelled: dropped in cancel");
        assert!(r2.load(Ordering::SeqCst));
        // Delivered: dropped once, on the delivery thread, after the call.
        let (f3, d3, r3) = probe();
        q.notify_callback(f3).unwrap();
        q.send(b"n", 0, Timeout::TryOnce).unwrap();
        assert!(wait_for(
            || d3.load(Ordering::SeqCst) == 1,
            Duration::from_secs(5)
        ));
        assert!(r3.load(Ordering::SeqCst));
        // Closed.
        let (f4, d4, r4) = probe();
        q.notify_callback(f4).unwrap();
        q.close().unwrap();
        assert_eq!(d4.load(Ordering::SeqCst), 1, "closed: dropped in close");
        assert!(r4.load(Ordering::SeqCst));
        drop(q);
        for d in [&d1, &d2, &d3, &d4] {
            assert_eq!(d.load(Ordering::SeqCst), 1);
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("a callback's drop deadlocked (dropped under the registry's lock) or failed");
}
