//! The per-run prefix of test queue names: `make test`
//! exports PMQ_TEST_PREFIX=pmqt-<random>, every suite's queue names start
//! with it, and the end of the run looks for leftovers of exactly those
//! names (in /dev/mqueue and /dev/shm) — never for another program's queues.
//! Shared by the Rust test crates through tests/common/mod.rs (cli/tests by path).
#![allow(dead_code)]

/// PMQ_TEST_PREFIX when set (letters, digits, `-` and `_`, at most 32),
/// else `pmq`.
pub fn get() -> String {
    match std::env::var("PMQ_TEST_PREFIX") {
        Ok(p)
            if !p.is_empty()
                && p.len() <= 32
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            p
        }
        Ok(p) if !p.is_empty() => panic!(
            "PMQ_TEST_PREFIX={p:?} is not a queue name prefix: use at most 32 letters, digits, \
             - and _ (e.g. pmqt-1a2b3c4d), or unset it"
        ),
        _ => "pmq".to_string(),
    }
}

/// A test queue name written as `/pmq-REST`, with this run's prefix: `/PREFIX-REST`.
pub fn named(name: impl Into<String>) -> String {
    let name = name.into();
    match name.strip_prefix("/pmq-") {
        Some(rest) => format!("/{}-{rest}", get()),
        None => name,
    }
}
