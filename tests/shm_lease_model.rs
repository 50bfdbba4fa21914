//! Model test of leases on the shared-memory backend: random sequences of
//! send, receive, lease (with or without a visibility timeout that is made
//! to pass), ack, nack, acks of stale or foreign leases, lease stats and
//! handle closes, on three handles of one real queue, checked step by step
//! against a reference model (a priority queue of messages with delivery
//! counts, and the leases each handle holds) and the queue's invariants.
//!
//! `PROPTEST_CASES=N cargo test --test shm_lease_model` runs N sequences
//! (default 64).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use pmq::{BackendKind, ErrorKind, Lease, OpenOptions, Queue, Timeout};
use proptest::prelude::*;

const HANDLES: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Send(u32),
    Receive(usize),
    /// Lease on a handle; `true`: with a visibility timeout that has
    /// passed before the next step.
    Lease(usize, bool),
    Ack(usize, usize),
    Nack(usize, usize),
    /// Ack (or nack) one of a handle's stale leases.
    Stale(usize, usize, bool),
    /// Handle `.0` acks a lease handle `.1` holds.
    Foreign(usize, usize, usize),
    AckAll(usize),
    Close(usize),
    Stats,
}

fn op() -> impl Strategy<Value = Op> {
    let h = 0..HANDLES;
    prop_oneof![
        4 => (0u32..3).prop_map(Op::Send),
        1 => h.clone().prop_map(Op::Receive),
        4 => (h.clone(), prop::bool::weighted(0.15)).prop_map(|(h, e)| Op::Lease(h, e)),
        2 => (h.clone(), 0usize..4).prop_map(|(h, i)| Op::Ack(h, i)),
        2 => (h.clone(), 0usize..4).prop_map(|(h, i)| Op::Nack(h, i)),
        1 => (h.clone(), 0usize..4, any::<bool>()).prop_map(|(h, i, n)| Op::Stale(h, i, n)),
        1 => (h.clone(), h.clone(), 0usize..4).prop_map(|(a, b, i)| Op::Foreign(a, b, i)),
        1 => h.clone().prop_map(Op::AckAll),
        1 => h.clone().prop_map(Op::Close),
        1 => Just(Op::Stats),
    ]
}

/// A message in the model: (priority, seq) orders the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Msg {
    seq: u64,
    prio: u32,
    deliveries: u32,
}

#[derive(Default)]
struct Model {
    cap: usize,
    next_seq: u64,
    /// Waiting messages by (Reverse priority, seq).
    ready: BTreeMap<(std::cmp::Reverse<u32>, u64), Msg>,
    /// Leases each handle holds (the real lease and its message).
    held: [Vec<(Lease, Msg)>; HANDLES],
    /// Leases each handle held once and no longer does.
    stale: [Vec<Lease>; HANDLES],
}

impl Model {
    fn leased(&self) -> usize {
        self.held.iter().map(Vec::len).sum()
    }
    fn back(&mut self, m: Msg) {
        self.ready.insert((std::cmp::Reverse(m.prio), m.seq), m);
    }
    fn pop(&mut self) -> Option<Msg> {
        let k = *self.ready.keys().next()?;
        self.ready.remove(&k)
    }
}

fn body(seq: u64) -> [u8; 8] {
    seq.to_le_bytes()
}

fn run(cap: usize, ops: &[Op]) -> Result<(), String> {
    let (name, _g) = common::unique_shm("lmodel", "q");
    let open = || {
        OpenOptions::new()
            .backend(BackendKind::Shm)
            .create(true)
            .max_messages(cap as i64)
            .max_message_size(8)
            .open(Some(&name))
            .map_err(|e| e.to_string())
    };
    let mut qs: Vec<Option<Queue>> = (0..HANDLES).map(|_| None).collect();
    let mut m = Model {
        cap,
        next_seq: 1,
        ..Model::default()
    };
    let mut buf = [0u8; 8];
    for (step, op) in ops.iter().enumerate() {
        let at = |what: String| format!("step {step} {op:?}: {what}");
        for q in qs.iter_mut() {
            if q.is_none() {
                *q = Some(open()?);
            }
        }
        let q = |h: usize| qs[h].as_ref().unwrap();
        match *op {
            Op::Send(prio) => {
                let r = q(0).send(&body(m.next_seq), prio, Timeout::TryOnce);
                if m.ready.len() + m.leased() < m.cap {
                    r.map_err(|e| at(format!("send refused: {e}")))?;
                    m.back(Msg {
                        seq: m.next_seq,
                        prio,
                        deliveries: 0,
                    });
                    m.next_seq += 1;
                } else if r.as_ref().map_err(|e| e.kind()) != Err(ErrorKind::WouldBlock) {
                    return Err(at(format!("send to a full queue: {r:?}")));
                }
            }
            Op::Receive(h) => {
                let r = q(h).receive(&mut buf, Timeout::TryOnce);
                match m.pop() {
                    Some(want) => {
                        let (n, p) = r.map_err(|e| at(format!("receive: {e}")))?;
                        if (&buf[..n], p) != (&body(want.seq)[..], want.prio) {
                            return Err(at(format!(
                                "received {:?} at {p}, want {want:?}",
                                &buf[..n]
                            )));
                        }
                    }
                    None if r.as_ref().map_err(|e| e.kind()) == Err(ErrorKind::WouldBlock) => {}
                    None => return Err(at(format!("receive from an empty queue: {r:?}"))),
                }
            }
            Op::Lease(h, expiring) => {
                let vis = expiring.then_some(Duration::from_millis(1));
                let r = q(h).lease(&mut buf, Timeout::TryOnce, vis);
                match m.pop() {
                    Some(mut want) => {
                        let (n, p, l) = r.map_err(|e| at(format!("lease: {e}")))?;
                        want.deliveries += 1;
                        if (&buf[..n], p, l.seq, l.delivery)
                            != (&body(want.seq)[..], want.prio, want.seq, want.deliveries)
                        {
                            return Err(at(format!(
                                "leased {:?} at {p} {l:?}, want {want:?}",
                                &buf[..n]
                            )));
                        }
                        if expiring {
                            // Passed for sure after this sleep: back at its place.
                            common::sleep_past_lease_end(Duration::from_millis(1));
                            m.stale[h].push(l);
                            m.back(want);
                        } else {
                            m.held[h].push((l, want));
                        }
                    }
                    None if r.as_ref().map_err(|e| e.kind()) == Err(ErrorKind::WouldBlock) => {}
                    None => return Err(at(format!("lease from an empty queue: {r:?}"))),
                }
            }
            Op::Ack(h, i) | Op::Nack(h, i) => {
                if m.held[h].is_empty() {
                    continue;
                }
                let i = i % m.held[h].len();
                let (l, msg) = m.held[h].remove(i);
                let nack = matches!(op, Op::Nack(..));
                let r = if nack { q(h).nack(&l) } else { q(h).ack(&l) };
                r.map_err(|e| at(format!("settling a held lease: {e}")))?;
                if nack {
                    m.back(msg);
                }
                m.stale[h].push(l);
            }
            Op::Stale(h, i, nack) => {
                if m.stale[h].is_empty() {
                    continue;
                }
                let l = m.stale[h][i % m.stale[h].len()];
                // Unless the same message went to this handle again under
                // the same delivery (it cannot: deliveries only grow).
                let r = if nack { q(h).nack(&l) } else { q(h).ack(&l) };
                match r {
                    Err(e) if e.kind() == ErrorKind::LeaseLost => {}
                    other => return Err(at(format!("a stale lease was accepted: {other:?}"))),
                }
            }
            Op::Foreign(a, b, i) => {
                if a == b || m.held[b].is_empty() {
                    continue;
                }
                let (l, _) = m.held[b][i % m.held[b].len()];
                match q(a).ack(&l) {
                    Err(e) if e.kind() == ErrorKind::LeaseLost => {
                        if !e.to_string().contains("another handle") {
                            return Err(at(format!("foreign ack detail: {e}")));
                        }
                    }
                    other => return Err(at(format!("a foreign ack was accepted: {other:?}"))),
                }
            }
            Op::AckAll(h) => {
                let leases: Vec<Lease> = m.held[h].iter().map(|x| x.0).collect();
                let n = q(h)
                    .ack_batch(&leases)
                    .map_err(|e| at(format!("ack_batch: {e}")))?;
                if n != leases.len() {
                    return Err(at(format!("ack_batch acked {n} of {}", leases.len())));
                }
                m.held[h].clear();
                m.stale[h].extend(leases);
            }
            Op::Close(h) => {
                let _ = q;
                qs[h] = None;
                for (l, msg) in std::mem::take(&mut m.held[h]) {
                    m.back(msg);
                    let _ = l;
                }
                // A new handle: the old one's leases mean nothing to it.
                m.stale[h].clear();
            }
            Op::Stats => {
                let s = q(0).lease_stats().map_err(|e| at(e.to_string()))?;
                if s.leased != m.leased() as u64 || s.oldest_age.is_some() != (m.leased() > 0) {
                    return Err(at(format!(
                        "lease stats {s:?}, model {} leased",
                        m.leased()
                    )));
                }
                let count = q(0).attributes().unwrap().current_messages;
                if count != (m.ready.len() + m.leased()) as i64 {
                    return Err(at(format!(
                        "{count} messages, model {} + {}",
                        m.ready.len(),
                        m.leased()
                    )));
                }
            }
        }
        let q0 = qs
            .iter()
            .flatten()
            .next()
            .expect("one handle closes per step");
        q0.check_invariants().map_err(at)?;
    }
    // The end: every handle closes; everything left is there once.
    qs.clear();
    let q = open()?;
    let mut left = Vec::new();
    while let Ok((n, p)) = q.receive(&mut buf, Timeout::TryOnce) {
        left.push((u64::from_le_bytes(buf[..n].try_into().unwrap()), p));
    }
    for h in 0..HANDLES {
        for (_, msg) in std::mem::take(&mut m.held[h]) {
            m.back(msg);
        }
    }
    let want: Vec<(u64, u32)> = std::iter::from_fn(|| m.pop().map(|x| (x.seq, x.prio))).collect();
    if left != want {
        return Err(format!(
            "after closing every handle: {left:?}, want {want:?}"
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn leases_match_the_model(cap in 1usize..6, ops in prop::collection::vec(op(), 1..80)) {
        if let Err(e) = run(cap, &ops) {
            prop_assert!(false, "cap {}: {}\nops: {:?}", cap, e, ops);
        }
    }
}
