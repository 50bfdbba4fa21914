//! The notification registry forgets every handle and registration once the
//! handle is gone, whatever order close, registration and drop race in
//! (before, a handle that was closed and then dropped kept its registry
//! entry, and a registration racing close survived it). Its own test binary,
//! so no other test's handles are counted.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use pmq::{ErrorKind, Queue, Timeout};

use common::{prefix, Unlink as Guard};

fn open(name: &str) -> Queue {
    Queue::options()
        .create(true)
        .max_messages(2)
        .max_message_size(8)
        .open(Some(name))
        .unwrap()
}

#[test]
fn registry_is_empty_after_every_handle_is_gone() {
    let name = prefix::named(format!("/pmq-rs-registry-{}", std::process::id()));
    let _g = Guard::on(pmq::BackendKind::Kernel, name.clone());
    let feeder = open(&name);
    let after_close = Arc::new(AtomicUsize::new(0));
    for round in 0..100 {
        let q = Arc::new(open(&name));
        let closed = Arc::new(AtomicBool::new(false));
        let registrars: Vec<_> = (0..3)
            .map(|_| {
                let (q, closed, after) = (
                    Arc::clone(&q),
                    Arc::clone(&closed),
                    Arc::clone(&after_close),
                );
                thread::spawn(move || loop {
                    let (c2, a2) = (Arc::clone(&closed), Arc::clone(&after));
                    match q.notify_callback(move || {
                        if c2.load(Ordering::SeqCst) {
                            a2.fetch_add(1, Ordering::SeqCst);
                        }
                    }) {
                        Ok(()) => {}
                        Err(e) if e.kind() == ErrorKind::Busy => {}
                        Err(e) => {
                            assert_eq!(e.kind(), ErrorKind::Closed, "{}", e.detail());
                            return;
                        }
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_micros(100 + (round % 5) * 50));
        q.close().unwrap();
        closed.store(true, Ordering::SeqCst);
        for r in registrars {
            r.join().unwrap();
        }
        // Make the queue go non-empty: a surviving registration would fire.
        feeder.send(b"x", 0, Timeout::TryOnce).unwrap();
        thread::sleep(Duration::from_millis(2));
        let _ = feeder.receive_vec(Timeout::TryOnce);
        drop(q);
    }
    // A registration that is never delivered nor cancelled, then drop.
    {
        let q = open(&name);
        q.notify_callback(|| {}).unwrap();
        drop(q);
    }
    // Closed, then dropped later.
    {
        let q = open(&name);
        q.notify_signal(libc::SIGUSR2).unwrap();
        q.close().unwrap();
        drop(q);
    }
    drop(feeder);
    assert_eq!(
        after_close.load(Ordering::SeqCst),
        0,
        "callbacks ran after close"
    );
    assert_eq!(
        pmq::__notify_live_counts(),
        (0, 0),
        "(registrations, handle states) left"
    );
}
