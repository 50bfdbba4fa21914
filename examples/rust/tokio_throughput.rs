//! Async receive throughput against the blocking API on the same queue: a
//! producer thread sends N 16-byte messages (blocking sends, depth 10)
//! while the main thread receives them with `Queue::receive` or with
//! `AsyncQueue::receive(..).await` on a current-thread tokio runtime;
//! messages/s, best of R runs each, interleaved, both backends.
//! `cargo run --release --example tokio_throughput --features tokio [-- N R]`
//! Numbers only, no assertions.
use std::time::Instant;

use pmq::tokio::AsyncQueue;
use pmq::{BackendKind, OpenOptions, Queue, Timeout};

fn open(b: BackendKind, name: &str, create: bool) -> Queue {
    OpenOptions::new()
        .backend(b)
        .create(create)
        .exclusive(create)
        .max_messages(10)
        .max_message_size(64)
        .open(Some(name))
        .unwrap()
}

fn run(b: BackendKind, asynchronous: bool, n: u32) -> f64 {
    let name = format!("/pmq-tokio-tput-{}", std::process::id());
    let q = open(b, &name, true);
    let p = open(b, &name, false);
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            p.send(&i.to_le_bytes(), 0, Timeout::Forever).unwrap();
        }
    });
    let mut buf = [0u8; 64];
    let t0 = Instant::now();
    if asynchronous {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let aq = AsyncQueue::new(q).unwrap();
            for _ in 0..n {
                aq.receive(&mut buf).await.unwrap();
            }
        });
    } else {
        for _ in 0..n {
            q.receive(&mut buf, Timeout::Forever).unwrap();
        }
    }
    let rate = f64::from(n) / t0.elapsed().as_secs_f64();
    producer.join().unwrap();
    pmq::unlink_from(b, &name).unwrap();
    rate
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n, reps) = (
        args.first().copied().unwrap_or(200_000),
        args.get(1).copied().unwrap_or(5),
    );
    println!("| backend | Queue::receive msg/s | AsyncQueue::receive msg/s | async / blocking |");
    println!("| --- | ---: | ---: | ---: |");
    for b in [BackendKind::Kernel, BackendKind::Shm] {
        let (mut blocking, mut asynchronous) = (0f64, 0f64);
        for r in 0..reps {
            for a in if r % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            } {
                let v = run(b, a, n);
                if a {
                    asynchronous = asynchronous.max(v);
                } else {
                    blocking = blocking.max(v);
                }
            }
        }
        println!(
            "| {b:?} | {blocking:.0} | {asynchronous:.0} | {:.2} |",
            asynchronous / blocking
        );
    }
}
