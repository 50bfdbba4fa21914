//! Model-based test: random sequences of open, send
//! (priorities, try-once and bounded waits), receive, attributes, block,
//! close, unlink and reopen, run on a real kernel queue through
//! `pmq::Queue` and checked step by step against an in-memory bounded
//! priority queue (tests/model/driver.rs, shared with the fuzz target).
//!
//! `PROPTEST_CASES=N cargo test --test model` runs N sequences (default 256).

#[path = "model/driver.rs"]
mod driver;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn queue_matches_model(data in prop::collection::vec(any::<u8>(), 2..300)) {
        let (cap, size, ops) = driver::decode(&data);
        if let Err(e) = driver::run(cap, size, &ops) {
            prop_assert!(false, "cap {} size {}: {}\nops: {:?}", cap, size, e, ops);
        }
    }

    /// The same sequences on the shared-memory backend: the same model.
    #[test]
    fn shm_queue_matches_model(data in prop::collection::vec(any::<u8>(), 2..300)) {
        let (cap, size, ops) = driver::decode(&data);
        if let Err(e) = driver::run_on(pmq::BackendKind::Shm, cap, size, &ops) {
            prop_assert!(false, "shm cap {} size {}: {}\nops: {:?}", cap, size, e, ops);
        }
    }
}

/// A fixed sequence with a known outcome, so the driver itself is checked.
#[test]
fn known_sequence() {
    use driver::Op::*;
    let ops = vec![
        Send {
            len: 3,
            priority: 1,
            wait: false,
        },
        Send {
            len: 4,
            priority: 9,
            wait: false,
        },
        Send {
            len: 5,
            priority: 1,
            wait: false,
        },
        Send {
            len: 1,
            priority: 0,
            wait: true,
        }, // full: TimedOut
        Attributes,
        Receive {
            wait: false,
            short_buffer: false,
        }, // prio 9
        Receive {
            wait: false,
            short_buffer: true,
        }, // BufferTooSmall
        Receive {
            wait: false,
            short_buffer: false,
        }, // prio 1, first
        Unlink,
        Open { create: false }, // NotFound: the queue is gone once closed
        Send {
            len: 1,
            priority: 0,
            wait: false,
        }, // Closed
        Open { create: true },
        Attributes,
    ];
    assert_eq!(driver::run(3, 8, &ops), Ok(ops.len()));
}
