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

/// A journal still holding messages JetStream never acknowledged (left by a
/// run that journaled: here a kernel queue's bridge out, killed while its
/// server was down) is published first by `bridge out` of a shared-memory
/// queue given that journal, before the queue's own (leased) messages:
/// nothing a journal holds is dropped because this path makes no journal.
#[test]
fn bridge_out_shm_publishes_a_journal_left_by_an_earlier_run_first() {
    let mut h = Harness::new("leftjournal", BackendKind::Kernel, 10, 64);
    let journal = h.dir.join("left.j");
    let mut old = h.bridge(
        out_args("kernel", &h.a.name, &h.url(), &h.subject, &journal),
        "old",
    );
    old.wait_connected();
    h.server().kill();
    let qa = h.a.open();
    for seq in 0..5 {
        qa.send(&message(seq), priority(seq), pmq::Timeout::Forever)
            .unwrap();
    }
    // Taken, journaled and fsynced (the journal holds the last one), never
    // published: the server is down.
    wait_until(
        Duration::from_secs(30),
        "the journal holds all five",
        || {
            let data = std::fs::read(&journal).unwrap_or_default();
            let m = message(4);
            data.windows(m.len()).any(|w| w == m.as_slice())
        },
    );
    old.kill9();
    h.server().spawn();
    let shm = Q::create("leftjournal-shm", BackendKind::Shm, 16, 64);
    let qs = shm.open();
    for seq in 5..10 {
        qs.send(&message(seq), priority(seq), pmq::Timeout::Forever)
            .unwrap();
    }
    let mut out = h.bridge(
        out_args("shm", &shm.name, &h.url(), &h.subject, &journal),
        "new",
    );
    let mut inb = h.inb_on(&h.subject, "in");
    let got = collect(&h.b.open(), 10);
    let log = out.stderr();
    assert_eq!(out.terminate(), 0, "{log}");
    assert_eq!(inb.terminate(), 0, "{}", inb.stderr());
    let mut seqs: Vec<u64> = got.counts.keys().copied().collect();
    seqs.sort();
    assert_eq!(seqs, (0..10).collect::<Vec<u64>>(), "{log}");
    assert_eq!(got.duplicated(), 0, "{log}");
    assert!(
        log.contains("publishing again the 5 messages of the previous run"),
        "{log}"
    );
    assert!(log.contains("at least once through leases"), "{log}");
    assert_eq!(qs.current_messages().unwrap(), 0, "{log}");
}

/// The lease path's batch buffer is bounded: a shm queue of ~1 MB messages
/// with --batch 4096 would otherwise make bridge out allocate 4 GB (room
/// for 4096 of the largest messages). Its address space stays under 512
/// MiB while it publishes such messages, and they all reach the stream.
#[test]
fn bridge_out_shm_batch_buffer_is_bounded_for_large_messages() {
    const SIZE: usize = 1_000_000;
    let h = Harness::new("bigbatch", BackendKind::Shm, 4, SIZE as i64);
    let mut args = h.out_args(&h.subject, &h.dir.join("big.j"));
    args.extend(["--batch".to_string(), "4096".to_string()]);
    let mut out = h.bridge(args, "big");
    out.wait_connected();
    let qa = h.a.open();
    for i in 0..3u8 {
        qa.send(&vec![i; SIZE], 0, pmq::Timeout::Forever).unwrap();
    }
    wait_until(Duration::from_secs(60), "3 messages in the stream", || {
        stream_messages(&h.url(), &h.subject) == 3
    });
    let pid = out.child.as_ref().unwrap().id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let vm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmPeak:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmPeak in /proc/PID/status");
    let log = out.stderr();
    assert_eq!(out.terminate(), 0, "{log}");
    assert!(
        vm_kib < 512 * 1024,
        "bridge out's address space peaked at {vm_kib} KiB for 1 MB messages; out:\n{log}"
    );
}
