//! A scribbled shared-memory queue file: random bytes overwritten anywhere
//! in a queue that holds messages (header, lists, opener records, slots),
//! then the queue is opened and used. Every call must return a result (a
//! status such as CORRUPTED, or a message), never panic, crash or read out
//! of bounds. The lock's own bytes are left alone (see below).
//! `PROPTEST_CASES=N` sets the cases (default 200).

#[path = "support/prefix.rs"]
mod prefix;

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
                1 => 8192 + at % (2 * 32768 * 4),  // list heads and tails
                _ => at % len,                     // anywhere
            };
            // Not the lock itself: a lock word scribbled to "held by thread
            // N" is indistinguishable from a stopped holder and is reported
            // as wedged after 10 s per call (too slow to repeat here).
            if (128..192).contains(&off) {
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
        q.send(b"x", 3, Timeout::TryOnce).unwrap();
    }
    let p = path(&name);
    let mut bytes = std::fs::read(&p).unwrap();
    let head3 = 8192 + 4 * 3;
    bytes[head3..head3 + 4].copy_from_slice(&999u32.to_ne_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let q = OpenOptions::new().backend(SHM).open(Some(&name)).unwrap();
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    let _ = pmq::unlink_from(SHM, &name);
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(e.detail().contains("outside"), "{e}");
    assert!(q.check_invariants().is_err());
}
