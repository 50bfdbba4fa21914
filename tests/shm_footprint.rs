//! What a shared-memory queue costs in memory, as the docs state it
//! (`BackendKind::Shm`, pmq.h's PMQ_BACKEND_SHM, docs/src/shm.md):
//! the file in /dev/shm is round_up(335,872 + 4 × next_power_of_two(
//! max_messages), 4,096) + max_messages × round_up(48 + size, 64) bytes,
//! and a queue created with no sizes takes 422,528 bytes.
//!
//! Each test unlinks its queue by a Drop guard, even on failure.

mod common;

use pmq::{BackendKind, Queue};

const SHM: BackendKind = BackendKind::Shm;

use common::Unlink;

fn unique(tag: &str) -> (String, Unlink) {
    common::unique_shm("foot", tag)
}

/// The size of the queue's file in /dev/shm.
fn file_size(name: &str) -> u64 {
    let path = format!("/dev/shm/pmq.{}", name.trim_start_matches('/'));
    std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .len()
}

/// The documented formula.
fn documented(max_messages: u64, size: u64) -> u64 {
    (335_872 + 4 * max_messages.next_power_of_two()).next_multiple_of(4096)
        + max_messages * (48 + size).next_multiple_of(64)
}

#[test]
fn default_shape_costs_422528_bytes() {
    let (name, _g) = unique("default");
    let q = Queue::options()
        .backend(SHM)
        .exclusive(true)
        .open(Some(&name))
        .unwrap();
    assert_eq!(q.max_messages(), 10, "default shm capacity");
    assert_eq!(q.max_message_size(), 8192, "default shm message size");
    assert_eq!(file_size(&name), 422_528);
    assert_eq!(documented(10, 8192), 422_528);
}

#[test]
fn file_size_follows_the_documented_formula() {
    for (messages, size) in [(1, 1), (3, 32), (100, 256), (1000, 33), (7, 100_000)] {
        let (name, _g) = unique("shape");
        Queue::options()
            .backend(SHM)
            .exclusive(true)
            .max_messages(messages as i64)
            .max_message_size(size as i64)
            .open(Some(&name))
            .unwrap();
        assert_eq!(
            file_size(&name),
            documented(messages, size),
            "{messages} messages of {size} bytes"
        );
    }
}
