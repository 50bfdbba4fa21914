//! Bridged throughput and added latency next to the plain local queue (make bench-bridge).

use std::fs::{self};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use pmq::{BackendKind, Queue, Timeout};

// ---------------------------------------------------------------- benchmark

/// Throughput (as fast as possible, `n` messages of 64 bytes) and latency
/// (one message every 2 ms, send to receive) of `from` → `to`.
fn measure(from: &Queue, to: &Queue, n: u64, paced: u64) -> (f64, f64, f64) {
    let base = Instant::now();
    let stamp = |seq: u64| -> Vec<u8> {
        let mut m = seq.to_le_bytes().to_vec();
        m.extend_from_slice(&(base.elapsed().as_nanos() as u64).to_le_bytes());
        m.resize(64, 0xa5);
        m
    };
    let mut buf = vec![0u8; to.max_message_size() as usize];
    let recv = |buf: &mut [u8]| -> u64 {
        let (len, _) = to
            .receive(buf, Timeout::After(Duration::from_secs(30)))
            .expect("a message within 30 s");
        assert_eq!(len, 64);
        u64::from_le_bytes(buf[8..16].try_into().unwrap())
    };
    // Throughput: a sender thread, this thread receives.
    let t0 = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            for seq in 0..n {
                from.send(&stamp(seq), (seq % 4) as u32, Timeout::Forever)
                    .unwrap();
            }
        });
        for _ in 0..n {
            recv(&mut buf);
        }
    });
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    // Latency: paced, one in flight at a time.
    let mut lat = Vec::with_capacity(paced as usize);
    for seq in 0..paced {
        from.send(&stamp(seq), 1, Timeout::Forever).unwrap();
        let sent = recv(&mut buf);
        lat.push(base.elapsed().as_nanos() as u64 - sent);
        thread::sleep(Duration::from_millis(2));
    }
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1000.0;
    (rate, pct(0.50), pct(0.99))
}

/// `make bench-bridge`: the bridged path next to the plain local queue, same run.
#[test]
#[ignore = "benchmark: make bench-bridge"]
fn bridge_benchmark() {
    let n = env_usize("PMQ_BRIDGE_BENCH_MESSAGES", 50_000) as u64;
    let paced = env_usize("PMQ_BRIDGE_BENCH_PACED", 1_000) as u64;
    let mut rows = Vec::new();
    for (backend, depth) in [(BackendKind::Shm, 256), (BackendKind::Kernel, 10)] {
        // (Each harness takes the bridge tests' serial lock in turn.)
        let h = Harness::new("bench", backend, depth, 64);
        let (qa, qb) = (h.a.open(), h.b.open());
        let plain = measure(&qa, &qa, n, paced);
        let mut out = h.out("out");
        let mut inb = h.inb("in", "30");
        // Warm up (stream and consumer created, connections up).
        qa.send(b"warm", 0, Timeout::Forever).unwrap();
        let mut buf = vec![0u8; 64];
        qb.receive(&mut buf, Timeout::After(Duration::from_secs(30)))
            .unwrap_or_else(|e| panic!("{e}: {}", out.stderr()));
        let bridged = measure(&qa, &qb, n, paced);
        assert_eq!(out.terminate(), 0);
        assert_eq!(inb.terminate(), 0);
        rows.push((h.a.backend_arg(), depth, plain, bridged));
    }
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nbridge benchmark: {n} messages of 64 B for throughput, {paced} paced (one per 2 ms) \
         for latency; nats-server on 127.0.0.1 (file store); load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("\n| backend (depth) | path | throughput msg/s | latency p50 us | latency p99 us |");
    println!("|---|---|---|---|---|");
    for (backend, depth, p, b) in rows {
        println!(
            "| {backend} ({depth}) | local queue | {:.0} | {:.1} | {:.1} |",
            p.0, p.1, p.2
        );
        println!(
            "| {backend} ({depth}) | bridged (out → JetStream → in) | {:.0} | {:.1} | {:.1} |",
            b.0, b.1, b.2
        );
        println!(
            "| {backend} ({depth}) | added by the bridge | | +{:.1} | +{:.1} |",
            b.1 - p.1,
            b.2 - p.2
        );
    }
}
