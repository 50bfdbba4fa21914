//! `pmq bridge out` on a shared-memory queue leases, publishes, waits for
//! JetStream's acknowledgement and only then acks: SIGKILLed again and
//! again (after N more messages arrived: progress, not time, decides) and
//! restarted, it loses nothing and JetStream stores nothing twice (each
//! message's `Nats-Msg-Id` is the queue's instance id and its seq, the same
//! when a message is leased again after a kill). No journal is made.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::traffic::*;
use pmq::BackendKind;

/// How many messages the bridge's stream holds (a JetStream API request
/// through async-nats, the bridge's own client).
fn stream_messages(url: &str, subject: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let name = js.stream_by_subject(subject).await.unwrap();
        let mut stream = js.get_stream(&name).await.unwrap();
        stream.info().await.unwrap().state.messages
    })
}

#[test]
fn bridge_out_shm_killed_repeatedly_loses_nothing_and_stores_nothing_twice() {
    let n = env_usize("PMQ_BRIDGE_LEASE_MESSAGES", 20_000) as u64;
    let kills = env_usize("PMQ_BRIDGE_LEASE_KILLS", 10) as u64;
    let mut rng = Rng::new();
    let h = Harness::new("leasekill", BackendKind::Shm, 256, 64);
    let start = Instant::now();
    let mut out = h.out("out");
    let mut inb = h.inb("in", "30");
    let done = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let producer = produce(h.a.open(), n, done.clone());
    let consumer = consume(
        h.b.open(),
        n,
        Duration::from_secs(2),
        Instant::now() + Duration::from_secs(240),
        progress.clone(),
    );
    // Kill k at a random point of the k-th of `kills` equal slices of the
    // first 90% of the messages (as seen arriving at the far end).
    let span = n * 9 / 10;
    let slice = (span / kills).max(1);
    let mut mid_run = 0;
    let mut unexpected = Vec::new();
    for k in 0..kills {
        let at = (k * slice + rng.below(slice)).min(n - 1);
        while (progress.load(Ordering::SeqCst) as u64) < at && !consumer.is_finished() {
            for (name, br) in [("out", &mut out), ("in", &mut inb)] {
                if let Some(st) = br.exited() {
                    unexpected.push(format!("bridge {name} exited by itself ({st})"));
                    br.start();
                }
            }
            thread::sleep(Duration::from_millis(5));
        }
        if (progress.load(Ordering::SeqCst) as u64) < n {
            mid_run += 1;
        }
        out.kill9();
        out.start();
    }
    let tally = consumer.join().unwrap();
    done.store(true, Ordering::SeqCst);
    producer.join().unwrap();
    let stored = stream_messages(&h.url(), &h.subject);
    let (lost, dup) = (tally.lost(n), tally.duplicated());
    eprintln!(
        "bridge out leases (shm): {n} messages, {kills} kills of bridge out ({mid_run} while \
         messages moved), {:.1}s: lost {lost}, duplicated {dup}, stored in the stream {stored}, \
         corrupt {}, wrong priority {}",
        start.elapsed().as_secs_f64(),
        tally.corrupt,
        tally.wrong_priority
    );
    let out_log = out.stderr();
    let in_log = inb.stderr();
    assert_eq!(out.terminate(), 0, "out:\n{out_log}");
    assert_eq!(inb.terminate(), 0, "in:\n{in_log}");
    assert_eq!(
        lost,
        0,
        "lost (first: {:?}); out:\n{out_log}\nin:\n{in_log}",
        tally.missing(n)
    );
    assert_eq!(
        dup, 0,
        "duplicated at the far end; out:\n{out_log}\nin:\n{in_log}"
    );
    assert_eq!(stored, n, "the stream holds {stored} messages for {n} sent");
    assert_eq!(tally.corrupt, 0);
    assert_eq!(tally.wrong_priority, 0);
    assert!(unexpected.is_empty(), "{unexpected:?}\nout:\n{out_log}");
    assert!(
        mid_run * 2 >= kills,
        "only {mid_run} of {kills} kills landed while messages were moving"
    );
    // The runs said they work through leases (a run killed before it
    // connected says nothing), and none made a journal.
    assert!(
        out_log.contains("at least once through leases"),
        "{out_log}"
    );
    assert!(!h.dir.join("out.j").exists(), "bridge out made a journal");
    assert_eq!(h.a.open().current_messages().unwrap(), 0);
}
