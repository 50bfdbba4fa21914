//! The test messages (self-checking), the producer and consumer threads, and
//! the tally that reconciles what arrived: lost, duplicated, corrupt, order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pmq::{Queue, Timeout};

// ---------------------------------------------------------------- messages

/// Message `seq`: [seq u64][filler: seq % 41 bytes][check u64 of both].
pub(crate) fn message(seq: u64) -> Vec<u8> {
    let mut m = seq.to_le_bytes().to_vec();
    let n = (seq % 41) as usize;
    m.extend((0..n).map(|i| (seq as usize * 31 + i * 7) as u8));
    let c = check(&m);
    m.extend_from_slice(&c.to_le_bytes());
    m
}

pub(crate) fn check(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The priority of message `seq`: a mix, including 0 and the highest.
pub(crate) fn priority(seq: u64) -> u32 {
    let p = [0, 1, 2, 7, 100, pmq::priority_max()];
    p[((seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) % p.len() as u64) as usize]
}

/// What arrived in the destination queue.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) counts: HashMap<u64, u32>,
    pub(crate) corrupt: u64,
    pub(crate) wrong_priority: u64,
    pub(crate) out_of_order: u64,
    pub(crate) last_per_priority: HashMap<u32, u64>,
}

impl Tally {
    pub(crate) fn take(&mut self, bytes: &[u8], prio: u32) {
        if bytes.len() < 16
            || check(&bytes[..bytes.len() - 8]).to_le_bytes() != bytes[bytes.len() - 8..]
        {
            self.corrupt += 1;
            return;
        }
        let seq = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        if message(seq) != bytes {
            self.corrupt += 1;
            return;
        }
        if prio != priority(seq) {
            self.wrong_priority += 1;
        }
        if let Some(&last) = self.last_per_priority.get(&prio) {
            if seq < last {
                self.out_of_order += 1;
            }
        }
        self.last_per_priority.insert(prio, seq);
        *self.counts.entry(seq).or_default() += 1;
    }
    pub(crate) fn distinct(&self) -> usize {
        self.counts.len()
    }
    pub(crate) fn lost(&self, n: u64) -> u64 {
        (0..n).filter(|s| !self.counts.contains_key(s)).count() as u64
    }
    pub(crate) fn missing(&self, n: u64) -> Vec<u64> {
        (0..n)
            .filter(|s| !self.counts.contains_key(s))
            .take(20)
            .collect()
    }
    pub(crate) fn duplicated(&self) -> u64 {
        self.counts.values().map(|&c| c as u64 - 1).sum()
    }
}

/// Sends messages 0..n into `q` (blocking), in order.
pub(crate) fn produce(q: Queue, n: u64, done: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for seq in 0..n {
            loop {
                match q.send(
                    &message(seq),
                    priority(seq),
                    Timeout::After(Duration::from_secs(1)),
                ) {
                    Ok(()) => break,
                    Err(e) if e.kind() == pmq::ErrorKind::TimedOut => {
                        if done.load(Ordering::SeqCst) {
                            return;
                        }
                    }
                    Err(e) => panic!("producer: {e}"),
                }
            }
        }
    })
}

/// Receives from `q` until all of 0..n arrived and then `linger` more, or
/// `deadline` passes; `progress` counts distinct arrivals.
pub(crate) fn consume(
    q: Queue,
    n: u64,
    linger: Duration,
    deadline: Instant,
    progress: Arc<AtomicUsize>,
) -> thread::JoinHandle<Tally> {
    thread::spawn(move || {
        let mut t = Tally::default();
        let mut buf = vec![0u8; q.max_message_size() as usize];
        let mut complete_at: Option<Instant> = None;
        let mut last_new = Instant::now();
        loop {
            let now = Instant::now();
            // Done, out of time, or nothing new for 30 s (a stall: report it).
            if now > deadline
                || complete_at.is_some_and(|c| now > c + linger)
                || now > last_new + Duration::from_secs(30)
            {
                return t;
            }
            match q.receive(&mut buf, Timeout::After(Duration::from_millis(50))) {
                Ok((len, prio)) => {
                    let before = t.distinct();
                    t.take(&buf[..len], prio);
                    if t.distinct() > before {
                        last_new = Instant::now();
                    }
                    progress.store(t.distinct(), Ordering::SeqCst);
                    if complete_at.is_none() && t.distinct() as u64 == n {
                        complete_at = Some(Instant::now());
                    }
                }
                Err(e) if e.kind() == pmq::ErrorKind::TimedOut => {}
                Err(e) => panic!("consumer: {e}"),
            }
        }
    })
}

/// Lines of a bridge's standard error that say a message may arrive twice.
pub(crate) fn ambiguous_resends(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter(|l| l.contains("it may arrive twice"))
        .count() as u64
}

/// Waits until `cond` holds; panics with `what` (and the logs) after `limit`
/// (a bound on a hang, never the thing measured).
pub(crate) fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Receives messages from `q` until `want` distinct ones of message()'s
/// numbering arrived (or 30 s of nothing), then 1 s more to catch extras.
pub(crate) fn collect(q: &Queue, want: usize) -> Tally {
    let mut t = Tally::default();
    let mut buf = vec![0u8; q.max_message_size() as usize];
    let mut last_new = Instant::now();
    let mut done_at: Option<Instant> = None;
    loop {
        if done_at.is_some_and(|d| d.elapsed() > Duration::from_secs(1))
            || last_new.elapsed() > Duration::from_secs(30)
        {
            return t;
        }
        match q.receive(&mut buf, Timeout::After(Duration::from_millis(50))) {
            Ok((len, prio)) => {
                t.take(&buf[..len], prio);
                last_new = Instant::now();
                if done_at.is_none() && t.distinct() >= want {
                    done_at = Some(Instant::now());
                }
            }
            Err(e) if e.kind() == pmq::ErrorKind::TimedOut => {}
            Err(e) => panic!("collect: {e}"),
        }
    }
}
