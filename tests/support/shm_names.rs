//! Shared-memory test queues for the Rust test crates: a unique name with
//! this run's prefix (see prefix.rs) and a guard that unlinks it. Used with
//! `#[path = "support/prefix.rs"] mod prefix;` and
//! `#[path = "support/shm_names.rs"] mod shm_names;` side by side.
#![allow(dead_code)]

/// Unlinks a shared-memory test queue when dropped, also when the test
/// fails.
pub struct ShmUnlink(pub String);

impl Drop for ShmUnlink {
    fn drop(&mut self) {
        let _ = pmq::unlink_from(pmq::BackendKind::Shm, &self.0);
    }
}

/// A fresh shm queue name `/PREFIX-<base>-<tag>-<pid>-<n>` (this run's
/// prefix) and the guard that unlinks it.
pub fn unique_shm(base: &str, tag: &str) -> (String, ShmUnlink) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = super::prefix::named(format!(
        "/pmq-{base}-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    (name.clone(), ShmUnlink(name))
}
