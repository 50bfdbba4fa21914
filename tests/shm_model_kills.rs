//! Model-based test of the shared-memory queue with "kill here" steps:
//! random sequences of sends and receives (this process, try-once) mixed
//! with sends and receives done by a child process that is SIGKILLed at a
//! random kill point inside the critical section. Checked against an
//! in-memory priority queue after every step: a killed send is in the queue
//! exactly when it reached its commit point, a killed receive took its
//! message exactly when it reached its commit point (and then the dead
//! receiver's receipt names that message), the invariants hold, and the
//! counters agree. Needs `--features fault-injection` (make test runs it so).
//!
//! `PROPTEST_CASES=N` runs N sequences (default 64).
#![cfg(feature = "fault-injection")]

mod common;
use common::prefix;

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};
use proptest::prelude::*;

const SHM: BackendKind = BackendKind::Shm;
const CHILD: &str = "PMQ_MODEL_KILL_CHILD";
const CAP: i64 = 4;
const SIZE: i64 = 32;

/// Child side: "send PRIO HEX" or "receive" on NAME, killed at the point the
/// parent put in PMQ_FAULT_KILL.
#[test]
fn model_kill_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let f: Vec<&str> = spec.split(' ').collect();
    let q = OpenOptions::new().backend(SHM).open(Some(f[0])).unwrap();
    match f[1] {
        "send" => {
            let msg: Vec<u8> = (0..f[3].len() / 2)
                .map(|i| u8::from_str_radix(&f[3][2 * i..2 * i + 2], 16).unwrap())
                .collect();
            q.send(&msg, f[2].parse().unwrap(), Timeout::TryOnce)
                .unwrap();
        }
        _ => {
            q.receive_vec(Timeout::TryOnce).unwrap();
        }
    }
    std::process::exit(3); // the kill point was not reached
}

#[derive(Clone, Debug)]
enum Op {
    Send(u32),
    Receive,
    KilledSend(u32, usize),
    KilledReceive(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u32..4).prop_map(Op::Send),
        3 => Just(Op::Receive),
        2 => (0u32..4, any::<usize>()).prop_map(|(p, k)| Op::KilledSend(p, k)),
        2 => any::<usize>().prop_map(Op::KilledReceive),
    ]
}

#[derive(Default)]
struct Model {
    lists: BTreeMap<u32, VecDeque<Vec<u8>>>,
    committed: u64,
    received: u64,
}

impl Model {
    fn len(&self) -> usize {
        self.lists.values().map(VecDeque::len).sum()
    }
    fn push(&mut self, p: u32, m: Vec<u8>) {
        self.lists.entry(p).or_default().push_back(m);
        self.committed += 1;
    }
    fn pop(&mut self) -> Option<(Vec<u8>, u32)> {
        let (&p, l) = self.lists.iter_mut().rev().find(|(_, l)| !l.is_empty())?;
        self.received += 1;
        Some((l.pop_front().unwrap(), p))
    }
}

fn points(group: &str) -> Vec<&'static str> {
    pmq::__FAULT_POINTS
        .iter()
        .copied()
        .filter(|p| p.starts_with(group))
        .collect()
}

fn at_or_after(list: &[&str], p: &str, commit: &str) -> bool {
    let pos = |x: &str| list.iter().position(|q| *q == x).unwrap();
    pos(p) >= pos(commit)
}

static KILLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn report_kills() {
    eprintln!(
        "shm model with kill steps: {} processes killed inside a send or receive",
        KILLS.load(Ordering::Relaxed)
    );
}

fn kill_child(name: &str, spec: &str, point: &str) -> Result<(), String> {
    if KILLS.fetch_add(1, Ordering::Relaxed) == 0 {
        // SAFETY: registers a plain function with no captured state.
        unsafe { libc::atexit(report_kills) };
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "model_kill_child", "--test-threads=1", "-q"])
        .env(CHILD, format!("{name} {spec}"))
        .env("PMQ_FAULT_KILL", point)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    if status.signal() == Some(libc::SIGKILL) {
        Ok(())
    } else {
        Err(format!("child {spec} did not die at {point}: {status:?}"))
    }
}

fn run(ops: &[Op]) -> Result<(), String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = prefix::named(format!(
        "/pmq-model-kill-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let q = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(CAP)
        .max_message_size(SIZE)
        .open(Some(&name))
        .map_err(|e| e.to_string())?;
    let _guard = common::Unlink::on(SHM, name.clone());
    let (sends, receives) = (points("send."), points("receive."));
    let mut model = Model::default();
    let mut serial = 0u64;
    let mut next_msg = |p: u32| {
        serial += 1;
        let mut m = serial.to_le_bytes().to_vec();
        m.extend(std::iter::repeat(p as u8).take((serial % 9) as usize));
        m
    };
    for (i, op) in ops.iter().enumerate() {
        let step = |what: String| format!("step {i} {op:?}: {what}");
        match *op {
            Op::Send(p) => {
                let m = next_msg(p);
                match q.send(&m, p, Timeout::TryOnce) {
                    Ok(()) if model.len() < CAP as usize => model.push(p, m),
                    Err(e) if e.kind() == ErrorKind::WouldBlock && model.len() == CAP as usize => {}
                    r => return Err(step(format!("got {r:?} with {} queued", model.len()))),
                }
            }
            Op::Receive => {
                let got = q.receive_vec(Timeout::TryOnce);
                match (got, model.pop()) {
                    (Ok(g), Some(w)) if g == w => {}
                    (Err(e), None) if e.kind() == ErrorKind::WouldBlock => {}
                    (g, w) => return Err(step(format!("got {g:?}, model {w:?}"))),
                }
            }
            Op::KilledSend(p, k) => {
                if model.len() == CAP as usize {
                    continue; // the child's send would not enter the critical section
                }
                let point = sends[k % sends.len()];
                let m = next_msg(p);
                let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
                kill_child(&name, &format!("send {p} {hex}"), point).map_err(&step)?;
                if at_or_after(&sends, point, "send.committed") {
                    model.push(p, m);
                }
            }
            Op::KilledReceive(k) => {
                if model.len() == 0 {
                    continue;
                }
                let point = receives[k % receives.len()];
                kill_child(&name, "receive", point).map_err(&step)?;
                if at_or_after(&receives, point, "receive.committed") {
                    let (m, p) = model.pop().unwrap();
                    // The dead receiver's record names what it took.
                    let heir = OpenOptions::new()
                        .backend(SHM)
                        .open(Some(&name))
                        .map_err(|e| step(e.to_string()))?;
                    let r = heir
                        .inherited_receipt()
                        .ok_or_else(|| step(format!("no receipt after a kill at {point}")))?;
                    let n = m.len().min(16);
                    if (r.len as usize, r.priority, &r.head[..n]) != (m.len(), p, &m[..n]) {
                        return Err(step(format!("receipt {r:?} does not name {m:?}")));
                    }
                }
            }
        }
        // After every step (a kill included): the invariants and counters.
        check(&q, &model).map_err(step)?;
    }
    // What is left is exactly the model, in order.
    let mut left = Vec::new();
    while let Ok(g) = q.receive_vec(Timeout::TryOnce) {
        left.push(g);
    }
    let mut want = Vec::new();
    while let Some(w) = model.pop() {
        want.push(w);
    }
    if left != want {
        return Err(format!("left {left:?}, model {want:?}"));
    }
    Ok(())
}

fn check(q: &Queue, model: &Model) -> Result<(), String> {
    q.check_invariants()?;
    let s = q.stats().unwrap();
    if s.current_messages != model.len() as u64 {
        return Err(format!(
            "{} messages, model {}",
            s.current_messages,
            model.len()
        ));
    }
    if (s.committed, s.received) != (model.committed, model.received) {
        return Err(format!(
            "committed/received {}/{}, model {}/{}",
            s.committed, s.received, model.committed, model.received
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
    fn shm_queue_with_kill_steps_matches_model(ops in prop::collection::vec(op(), 1..24)) {
        if let Err(e) = run(&ops) {
            prop_assert!(false, "{}\nops: {:?}", e, ops);
        }
    }
}

#[test]
fn kill_steps_were_taken() {
    // Runs after (or beside) the proptest in the same binary: a fixed
    // sequence with one kill of each kind, so a run always kills.
    run(&[
        Op::Send(1),
        Op::KilledSend(2, 5),
        Op::KilledReceive(3),
        Op::Receive,
    ])
    .unwrap();
    assert!(KILLS.load(Ordering::Relaxed) >= 2);
}
