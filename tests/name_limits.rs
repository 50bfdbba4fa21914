//! The longest queue name, per backend: the kernel takes
//! 255 bytes after the slash (NAME_MAX); the shared-memory backend 251
//! (SHM_NAME_MAX: its file `pmq.<name>` must fit the file system's 255).
//! Both boundaries on both backends, through open and unlink, and a refusal
//! whose detail names the backend's own limit.

use std::sync::atomic::{AtomicUsize, Ordering};

use pmq::{BackendKind, ErrorKind, Queue, Timeout};

/// A unique name of exactly `len` bytes after the slash.
fn name_of_len(len: usize) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let tag = format!(
        "pmq-len-{}-{}-",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    assert!(tag.len() < len);
    format!("/{tag}{}", "n".repeat(len - tag.len()))
}

mod common;
use common::Unlink;

fn create(kind: BackendKind, name: &str) -> pmq::Result<Queue> {
    let mut o = Queue::options();
    o.backend(kind)
        .exclusive(true)
        .max_messages(1)
        .max_message_size(16);
    o.open(Some(name))
}

/// `len` is accepted: create, use, unlink by name.
fn accepted(kind: BackendKind, len: usize) {
    let name = name_of_len(len);
    let _g = Unlink::on(kind, name.clone());
    let q = create(kind, &name).unwrap_or_else(|e| panic!("{kind:?} {len}: {e}"));
    q.send(b"x", 0, Timeout::TryOnce).unwrap();
    assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"x");
    pmq::unlink_from(kind, &name).unwrap_or_else(|e| panic!("{kind:?} {len}: {e}"));
}

/// `len` is refused with INVALID_ARGUMENT, at open and at unlink, with a
/// detail naming `limit` and `says`.
fn refused(kind: BackendKind, len: usize, limit: usize, says: &str) {
    let name = name_of_len(len);
    let _g = Unlink::on(kind, name.clone());
    for e in [
        create(kind, &name).expect_err("opened"),
        pmq::unlink_from(kind, &name).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{kind:?} {len}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("{len} bytes")) && text.contains(&format!("limit is {limit}")),
            "{kind:?} {len}: {text}"
        );
        assert!(text.contains(says), "{kind:?} {len}: {text}");
    }
}

#[test]
fn the_constants_say_each_backends_limit() {
    assert_eq!(pmq::NAME_MAX, 255);
    assert_eq!(pmq::SHM_NAME_MAX, 251);
    assert_eq!(BackendKind::Kernel.name_max(), pmq::NAME_MAX);
    assert_eq!(BackendKind::Shm.name_max(), pmq::SHM_NAME_MAX);
}

#[test]
fn kernel_takes_255_bytes_and_refuses_256() {
    let k = BackendKind::Kernel;
    accepted(k, 251);
    accepted(k, 252);
    accepted(k, 255);
    refused(k, 256, 255, "NAME_MAX");
}

#[test]
fn shm_takes_251_bytes_and_refuses_252_to_256() {
    let s = BackendKind::Shm;
    accepted(s, 251);
    for len in [252, 255, 256] {
        refused(s, len, 251, "shared-memory backend");
    }
}

/// Each backend's limits, asked of the backend: the kernel's constants live
/// in `pmq::kernel`, and `BackendKind::limits` reports every backend's.
#[test]
fn every_backend_reports_its_limits() {
    assert_eq!(pmq::kernel::NAME_MAX, 255);
    assert_eq!(pmq::kernel::NAME_MAX, pmq::NAME_MAX);
    assert_eq!(pmq::kernel::PRIORITY_MAX, pmq::PRIORITY_MAX);
    let k = BackendKind::Kernel.limits();
    assert_eq!(k.name_max, pmq::kernel::NAME_MAX);
    assert_eq!(k.priority_max, pmq::kernel::PRIORITY_MAX);
    let sys = pmq::kernel::Limits::read();
    assert_eq!(
        (k.default_max_messages, k.default_max_message_size),
        (sys.msg_max, sys.msgsize_max)
    );
    let s = BackendKind::Shm.limits();
    assert_eq!(s.name_max, pmq::SHM_NAME_MAX);
    assert_eq!(s.priority_max, 32767);
    assert_eq!(
        (s.default_max_messages, s.default_max_message_size),
        (10, 8192)
    );
}
