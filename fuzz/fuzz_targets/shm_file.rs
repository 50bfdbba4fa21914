//! Fuzz target over a shared-memory queue file's bytes: libFuzzer's input
//! is written over a freshly made queue file (from offset 0, or spread over
//! the header, lists and slots), which is then opened and used. Any panic or
//! crash is a bug: a damaged file must give a status (e.g. CORRUPTED).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pmq::{BackendKind, OpenOptions, Timeout};

fuzz_target!(|data: &[u8]| {
    let name = format!("/pmq-fuzz-shm-{}", std::process::id());
    let _ = pmq::unlink_from(BackendKind::Shm, &name);
    {
        let q = OpenOptions::new()
            .backend(BackendKind::Shm)
            .exclusive(true)
            .max_messages(4)
            .max_message_size(32)
            .open(Some(&name))
            .unwrap();
        q.send(b"seed", 7, Timeout::TryOnce).unwrap();
    }
    let path = format!("/dev/shm/pmq.{}", &name[1..]);
    let mut bytes = std::fs::read(&path).unwrap();
    // Pairs of (offset, value), skipping the lock's own bytes (a scribbled
    // lock word reads as a stopped holder: reported as wedged after 10 s).
    for pair in data.chunks(4) {
        if pair.len() < 4 {
            break;
        }
        let off = u32::from_le_bytes([pair[0], pair[1], pair[2], 0]) as usize % bytes.len();
        if !(128..192).contains(&off) {
            bytes[off] = pair[3];
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    if let Ok(q) = OpenOptions::new().backend(BackendKind::Shm).open(Some(&name)) {
        let _ = q.check_invariants();
        for i in 0..4u8 {
            let _ = q.send(&[i; 9], u32::from(i) * 9000, Timeout::TryOnce);
            let _ = q.receive_vec(Timeout::TryOnce);
        }
    }
    let _ = pmq::unlink_from(BackendKind::Shm, &name);
});
