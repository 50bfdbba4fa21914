//! A scribbled shared-memory queue file: random bytes overwritten anywhere
//! in a queue that holds messages (header, lists, opener records, slots),
//! then the queue is opened and used. Every call must return a result (a
//! status such as CORRUPTED, or a message), never panic, crash or read out
//! of bounds. The lock's own bytes are left alone (see below).
//! `PROPTEST_CASES=N` sets the cases (default 200).

mod common;
use common::prefix;

use std::panic::{catch_unwind, AssertUnwindSafe};

use pmq::{BackendKind, ErrorKind, OpenOptions, Timeout};
use proptest::prelude::*;

const SHM: BackendKind = BackendKind::Shm;

fn path(name: &str) -> String {
    format!("/dev/shm/pmq.{}", &name[1..])
}

/// Runs open / send / receive / attributes / invariants on the scribbled
/// queue; Err(panic message) if anything panicked.
fn exercise(name: &str) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        let Ok(q) = OpenOptions::new().backend(SHM).open(Some(name)) else {
            return; // refused at open: a status, fine
        };
        let _ = q.attributes();
        let _ = q.check_invariants();
        for i in 0..6u8 {
            let _ = q.send(&[i; 8], u32::from(i) * 5000, Timeout::TryOnce);
            match q.receive_vec(Timeout::TryOnce) {
                Ok((m, _)) => assert!(m.len() <= 64, "a message longer than the queue allows"),
                Err(e) => {
                    let _ = e.kind() == ErrorKind::Corrupted;
                }
            }
        }
        let _ = q.receive_vec(Timeout::After(std::time::Duration::from_millis(1)));
        let _ = q.stats();
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_scribbled_file_gives_a_status_never_a_crash(
        writes in prop::collection::vec((any::<u32>(), any::<u8>(), 0u8..4), 1..24)
    ) {
        let name = prefix::named(format!("/pmq-scribble-{}", std::process::id()));
        let _ = pmq::unlink_from(SHM, &name);
        {
            let q = OpenOptions::new()
                .backend(SHM)
                .exclusive(true)
                .max_messages(8)
                .max_message_size(64)
                .open(Some(&name))
                .unwrap();
            for (i, p) in [(1u8, 3u32), (2, 9), (3, 3), (4, 32767)] {
                q.send(&[i; 20], p, Timeout::TryOnce).unwrap();
            }
        }
        let p = path(&name);
        let mut bytes = std::fs::read(&p).unwrap();
        let len = bytes.len() as u32;
        for (at, v, region) in writes {
            // Aim at the interesting parts more often than at slot data.
            let off = match region {
                0 => at % 1024,                    // header and counters
                1 => 4808 + at % (2 * 32768 * 4),  // list heads and tails
                _ => at % len,                     // anywhere
            };
            // Not the lock words themselves: a lock word scribbled to
            // "held by thread N" is indistinguishable from a stopped holder
            // and is reported as wedged after 10 s per call (too slow to
            // repeat here). The rest of each lock's line (the robust-list
            // node) may be scribbled: pmq never follows it.
            if (128..132).contains(&off) || (256..260).contains(&off) {
                continue;
            }
            bytes[off as usize] = v;
        }
        std::fs::write(&p, &bytes).unwrap();
        let r = exercise(&name);
        let _ = pmq::unlink_from(SHM, &name);
        prop_assert!(r.is_ok(), "panicked: {}", r.unwrap_err());
    }
}

/// A list head pointing outside the slots: the receive that follows it says
/// CORRUPTED (not a crash, not a wrong message).
#[test]
fn a_wild_list_head_is_reported_as_corrupted() {
    let name = prefix::named(format!("/pmq-scribble-head-{}", std::process::id()));
    let _ = pmq::unlink_from(SHM, &name);
    {
        let q = OpenOptions::new()
            .backend(SHM)
            .exclusive(true)
            .max_messages(4)
            .max_message_size(16)
            .open(Some(&name))
            .unwrap();
        // Two sends, the second of a higher priority, and a receive: the
        // receive moves both into the consumers' index and takes the
        // second, so the first is listed (at priority 1).
        q.send(b"x", 1, Timeout::TryOnce).unwrap();
        q.send(b"y", 3, Timeout::TryOnce).unwrap();
        assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"y");
    }
    let p = path(&name);
    let mut bytes = std::fs::read(&p).unwrap();
    let head1 = OFF_HEADS as usize + 4;
    bytes[head1..head1 + 4].copy_from_slice(&999u32.to_ne_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    let _ = pmq::unlink_from(SHM, &name);
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(e.detail().contains("list head"), "{e}");
    assert!(q.check_invariants().is_err());
}

/// Layout version 3 offsets the reproductions below write at: the
/// consumers' index (bitmap levels 0, 1, 2, then the list heads and tails)
/// and the opener records.
const OFF_BITMAP_L0: u64 = 640;
const OFF_BITMAP_L1: u64 = OFF_BITMAP_L0 + 8;
const OFF_BITMAP_L2: u64 = OFF_BITMAP_L1 + 8 * 8;
const OFF_HEADS: u64 = OFF_BITMAP_L2 + 8 * 512;
const OFF_TAILS: u64 = OFF_HEADS + 4 * 32768;
const OFF_OPENER_TABLE: u64 = 270_336;
/// The producers' and consumers' lock words.
const LOCK_WORDS: [u64; 2] = [128, 256];

/// A fresh queue of 8 x 256 holding one message at each of the priorities
/// 0, 1, 7, 7, 32767 (the reproduction's queue); the handle is closed.
fn queue_of_five(name: &str) {
    let _ = pmq::unlink_from(SHM, name);
    let q = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(8)
        .max_message_size(256)
        .open(Some(name))
        .unwrap();
    for (i, p) in [0u32, 1, 7, 7, 32767].into_iter().enumerate() {
        q.send(&[i as u8; 10], p, Timeout::TryOnce).unwrap();
    }
}

fn poke_u64(name: &str, off: u64, v: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path(name))
        .unwrap();
    f.write_all_at(&v.to_ne_bytes(), off).unwrap();
}

fn peek(name: &str, off: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path(name)).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, off).unwrap();
    b
}

use common::Unlink;

/// A bitmap whose level-0 word names level-1 word 63 (of
/// 8) made the walk compute priority 262143 and index the list heads far
/// outside the file: a panic ("shared-memory offset 1056764 out of
/// bounds"). It must be Corrupted, naming the bitmap.
#[test]
fn a_bitmap_naming_words_past_its_levels_is_corrupted_not_a_panic() {
    let name = format!("/pmq-scribble-bitmap-{}", std::process::id());
    let _u = Unlink::on(SHM, name.clone());
    queue_of_five(&name);
    for off in [
        OFF_BITMAP_L0,
        OFF_BITMAP_L1 + 8 * 7,
        OFF_BITMAP_L2 + 8 * 511,
    ] {
        poke_u64(&name, off, 1 << 63);
    }
    let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| q.receive_vec(Timeout::TryOnce)));
    let e = r.expect("receive panicked").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(e.detail().contains("bitmap"), "{e}");
}

/// Level 0 names level-1 word 8, which is really level-2
/// word 0: the walk found priority 32769 (above the largest, 32767), the
/// receive returned OK with it, and the unlink stored into tail[1] and the
/// first opener record. It must be Corrupted, with nothing written.
#[test]
fn a_bitmap_walk_to_priority_32769_is_corrupted_and_writes_nothing() {
    let name = format!("/pmq-scribble-prio-{}", std::process::id());
    let _u = Unlink::on(SHM, name.clone());
    queue_of_five(&name);
    poke_u64(&name, OFF_BITMAP_L0, 1 << 8);
    poke_u64(&name, OFF_BITMAP_L2, 1);
    poke_u64(&name, OFF_HEADS, 2);
    let tail1 = peek(&name, OFF_TAILS + 4, 4);
    {
        // A handle that claims record 1 (not 0), so record 0 must stay as
        // it is byte for byte.
        let _first = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        let opener0 = peek(&name, OFF_OPENER_TABLE, 64);
        let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| q.receive_vec(Timeout::TryOnce)));
        match r.expect("receive panicked") {
            Ok((m, p)) => panic!("received {m:?} at priority {p} from a damaged bitmap"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
                assert!(e.detail().contains("bitmap"), "{e}");
            }
        }
        assert_eq!(
            peek(&name, OFF_OPENER_TABLE, 64),
            opener0,
            "opener record 0 written"
        );
    }
    assert_eq!(peek(&name, OFF_TAILS + 4, 4), tail1, "tail[1] written");
}

/// A queue file truncated (to 8192, 335872 or 0 bytes)
/// while a handle has it mapped killed the next try-once receive with
/// SIGBUS. Every call on that handle must say Corrupted, naming the
/// truncation; nothing crashes, and the handle still closes.
#[test]
fn a_file_truncated_under_a_handle_is_corrupted_not_sigbus() {
    for size in [8192u64, 335872, 0] {
        let name = format!("/pmq-scribble-trunc-{size}-{}", std::process::id());
        let _u = Unlink::on(SHM, name.clone());
        queue_of_five(&name);
        let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        let other = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        assert_eq!(q.attributes().unwrap().current_messages, 5);
        std::fs::OpenOptions::new()
            .write(true)
            .open(path(&name))
            .unwrap()
            .set_len(size)
            .unwrap();
        let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}: {e}");
        assert!(
            e.detail().contains(&format!("truncated to {size} bytes")),
            "{e}"
        );
        let e = q.send(b"after", 3, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}: {e}");
        let e = q.attributes().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}: {e}");
        // A timed receive too (it waits only if the count it reads is 0).
        let e = other
            .receive_vec(Timeout::After(std::time::Duration::from_millis(5)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}: {e}");
        drop(q);
        drop(other);
        // A new open refuses the short file.
        let e = OpenOptions::new()
            .backend(SHM)
            .open(Some(&name))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}: {e}");
    }
}

/// The truncated sizes next to those: a file cut INSIDE its first page
/// (`truncate -s 1`, `-s 100`) raises no SIGBUS at all: the kernel zeroes
/// the rest of that page, so the header reads a count of 0. The first
/// receive said "the queue is empty" (WouldBlock), a timed one TimedOut,
/// and the attributes said 0 messages: the five messages were reported as
/// never there instead of the damage. And `dead_receipts` answered OK (no
/// receipt) on a handle whose file shrank, where every other call says
/// Corrupted: a receiver's recovery must not read "nothing was lost" from
/// a file it cannot read. Every call on the handle says Corrupted, naming
/// the truncation.
#[test]
fn a_file_cut_inside_its_first_page_is_corrupted_not_empty() {
    for size in [1u64, 100, 4096, 8192, 0] {
        let name = format!(
            "/{}-scribble-cut-{size}-{}",
            prefix::get(),
            std::process::id()
        );
        let _u = Unlink::on(SHM, name.clone());
        queue_of_five(&name);
        let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        let timed = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        let attrs = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        let receipts = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(path(&name))
            .unwrap()
            .set_len(size)
            .unwrap();
        // Each handle's FIRST call after the cut (no other call has faulted
        // on that handle's mapping before it).
        let truncated = format!("truncated to {size} bytes");
        let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}, receive: {e}");
        assert!(e.detail().contains(&truncated), "size {size}: {e}");
        let e = timed
            .receive_vec(Timeout::After(std::time::Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}, timed: {e}");
        // The attributes read the count alone (no fault where its page is
        // still there): the five, or Corrupted, never "0 messages".
        match attrs.attributes() {
            Ok(a) => assert_eq!(a.current_messages, 5, "size {size}: {a:?}"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}: {e}"),
        }
        let e = receipts.dead_receipts().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "size {size}, receipts: {e}");
        assert!(e.detail().contains(&truncated), "size {size}: {e}");
        // And from then on, on every handle.
        for h in [&q, &timed, &attrs, &receipts] {
            let e = h.dead_receipts().unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Corrupted,
                "size {size}, receipts again: {e}"
            );
            let e = h.receive_vec(Timeout::TryOnce).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Corrupted,
                "size {size}, receive again: {e}"
            );
        }
    }
}

/// A live scribbler: another "process" (a second file descriptor here)
/// writes random bytes into the queue file while a thread keeps sending
/// and receiving on it. Every call must end with a status (OK, WouldBlock,
/// Corrupted, or a timeout), never a panic or a signal. Driven by
/// progress: after each write the user makes 4 calls before the next write
/// (`PMQ_SCRIBBLE_WRITES` writes, default 3,000), and after the last the
/// file is truncated to a random size under it. The lock's own bytes are
/// left alone (see the threat model in pmq.h: the glibc lock is the one
/// exception until layout 3).
#[test]
fn a_live_scribbler_gives_statuses_never_a_crash() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let writes: u64 = std::env::var("PMQ_SCRIBBLE_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let name = format!("/pmq-scribble-live-{}", std::process::id());
    let _u = Unlink::on(SHM, name.clone());
    queue_of_five(&name);
    let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let user = {
        let (calls, stop) = (Arc::clone(&calls), Arc::clone(&stop));
        std::thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                let mut seen = std::collections::BTreeMap::<String, u64>::new();
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i = i.wrapping_add(1);
                    let r = match i % 4 {
                        0 | 1 => q
                            .send(
                                &i.to_ne_bytes(),
                                i.wrapping_mul(7919) % 4096,
                                Timeout::TryOnce,
                            )
                            .map(|_| ()),
                        2 => q.receive_vec(Timeout::TryOnce).map(|(m, p)| {
                            assert!(m.len() <= 256, "a message of {} bytes", m.len());
                            assert!(p < 32768, "priority {p}");
                        }),
                        _ => q.attributes().map(|_| ()),
                    };
                    let kind = match r {
                        Ok(()) => "ok".to_string(),
                        Err(e) => {
                            assert!(
                                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Corrupted),
                                "call {i}: {e}"
                            );
                            format!("{:?}", e.kind())
                        }
                    };
                    *seen.entry(kind).or_default() += 1;
                    calls.fetch_add(1, Ordering::SeqCst);
                }
                seen
            }))
        })
    };
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path(&name))
        .unwrap();
    let len = f.metadata().unwrap().len();
    // xorshift64*, seeded from the pid (printed, to replay a failure).
    let mut x = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    eprintln!("live scribbler seed {x:#x}");
    let mut rnd = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < writes {
        let r = rnd();
        // The priority bitmap, the rest of the header, the list heads and
        // tails, or anywhere.
        let off = match r % 4 {
            0 => OFF_BITMAP_L0 + rnd() % (OFF_HEADS - OFF_BITMAP_L0),
            1 => rnd() % OFF_BITMAP_L0,
            2 => OFF_HEADS + rnd() % (2 * 4 * 32768),
            _ => rnd() % len,
        } & !7;
        if LOCK_WORDS.iter().any(|w| (*w..*w + 4).contains(&off)) {
            continue;
        }
        let v = match rnd() % 4 {
            0 => 1u64 << (rnd() % 64),
            1 => rnd() % 16,
            2 => rnd() as u32 as u64,
            _ => rnd(),
        };
        let n = [1usize, 4, 8][(rnd() % 3) as usize];
        f.write_all_at(&v.to_ne_bytes()[..n], off).unwrap();
        done += 1;
        let target = calls.load(Ordering::SeqCst) + 4;
        while calls.load(Ordering::SeqCst) < target && !user.is_finished() {
            std::thread::yield_now();
        }
        if user.is_finished() {
            break;
        }
    }
    // Last, another process truncates the file under the user's mapping.
    if !user.is_finished() {
        f.set_len(rnd() % len).unwrap();
        let target = calls.load(Ordering::SeqCst) + 4;
        while calls.load(Ordering::SeqCst) < target && !user.is_finished() {
            std::thread::yield_now();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let seen = user.join().unwrap();
    let seen = seen.unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("after {done} writes the user panicked: {msg}")
    });
    eprintln!("live scribbler: {done} writes, calls by result {seen:?}");
    assert_eq!(done, writes);
    assert!(seen.get("Corrupted").is_some_and(|&n| n > 0), "{seen:?}");
}

/// Whether a thread of this process named `prefix`... is asleep in a futex
/// wait (progress, not time: read from /proc).
fn asleep(prefix: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .any(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let wchan = std::fs::read_to_string(t.path().join("wchan")).unwrap_or_default();
            comm.starts_with(prefix) && wchan.contains("futex")
        })
}

/// A handle whose readiness descriptor is in use (its helper thread asleep
/// on the queue's change word) still closes after its file was truncated:
/// the helper's wake-up cannot reach it (the word's page is gone, the
/// waker writes the guard's zero page), so it re-checks after its sleep
/// slice. Was a close that never returned.
#[test]
fn a_truncated_queue_with_a_readiness_descriptor_still_closes() {
    let name = format!("/pmq-scribble-trunc-fd-{}", std::process::id());
    let _u = Unlink::on(SHM, name.clone());
    queue_of_five(&name);
    let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
    q.fileno().unwrap();
    // The helper has set the level (the descriptor is readable: 5 messages).
    let mut pfd = libc::pollfd {
        fd: q.fileno().unwrap(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, -1) }, 1);
    // Progress, not time: the helper thread is asleep in its futex wait.
    while !asleep("pmq-shm-ready") {
        std::thread::yield_now();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(path(&name))
        .unwrap()
        .set_len(0)
        .unwrap();
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = q.close();
        tx.send(r.is_ok()).unwrap();
    });
    // A hang detector, far above the 2 s sleep slice.
    assert!(
        rx.recv_timeout(std::time::Duration::from_secs(60)).is_ok(),
        "close hung"
    );
}

/// A receive asleep (no timeout) when the file is truncated under it ends
/// when its handle is closed (Closed, or Corrupted if it saw the damage
/// first), not never.
#[test]
fn a_waiter_asleep_when_the_file_is_truncated_ends_at_close() {
    let name = format!("/pmq-scribble-trunc-wait-{}", std::process::id());
    let _u = Unlink::on(SHM, name.clone());
    let q = std::sync::Arc::new(
        OpenOptions::new()
            .backend(SHM)
            .exclusive(true)
            .max_messages(4)
            .max_message_size(16)
            .open(Some(&name))
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let q2 = std::sync::Arc::clone(&q);
    std::thread::Builder::new()
        .name("pmq-test-sleeper".into())
        .spawn(move || {
            let r = q2.receive_vec(Timeout::Forever);
            tx.send(r.map(|_| ()).map_err(|e| e.kind())).unwrap();
        })
        .unwrap();
    while !asleep("pmq-test-sleep") {
        std::thread::yield_now();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(path(&name))
        .unwrap()
        .set_len(0)
        .unwrap();
    q.close().unwrap();
    // A hang detector, far above the 2 s sleep slice.
    let r = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the waiter never ended");
    assert!(
        matches!(r, Err(ErrorKind::Closed | ErrorKind::Corrupted)),
        "{r:?}"
    );
}
