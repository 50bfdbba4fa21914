//! Kill chaos with leasing consumers on the shared-memory backend: the
//! parent sends M messages (priorities 0..3, in id order) while 3 consumer
//! processes lease, nack (every id divisible by 7, on its first delivery)
//! and ack them; consumers are SIGKILLed after a random number of messages,
//! at a random step of their loop (holding a lease, between the ack and
//! its log line, ...) or at a random hit of a kill point inside lease /
//! ack / nack / receive / sweep, and restarted. Reconciliation:
//! - every message is acked exactly once: no id is logged acked twice,
//!   every id is logged acked or was the unsettled last lease of a killed
//!   consumer, and the queue counts M received with nothing left or leased;
//! - a message is delivered again only after a nack or a holder's death
//!   (the delivery before it was nacked, or held by a killed consumer, or
//!   never logged because its leaser died first: at most one per kill);
//! - FIFO within a priority for first deliveries (per consumer);
//! - 0 corrupt (every message's checksum holds).
//!
//! Kills are driven by progress (after N messages, at the Nth hit of a
//! point), never by time. `PMQ_LEASE_CHAOS_KILLS` sets the kills (default
//! 40), `PMQ_LEASE_CHAOS_SEED` (hex, printed by each run) its random
//! choices. Needs `--features fault-injection`.
#![cfg(feature = "fault-injection")]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;
const ROLE: &str = "PMQ_LEASE_CHAOS_ROLE";
const SIZE: usize = 16;
const CONSUMERS: u8 = 3;
/// Kill points a consumer may die at (the Nth hit).
const POINTS: &[&str] = &[
    "lease.committed",
    "ack.locked",
    "ack.committed",
    "nack.locked",
    "nack.linked",
    "receive.locked",
    "receive.drained",
    "receive.written",
    "sweep.requeued",
];

fn encode(id: u32) -> [u8; SIZE] {
    let mut m = [0u8; SIZE];
    m[..4].copy_from_slice(&id.to_le_bytes());
    let sum = checksum(&m[..4]);
    m[4..8].copy_from_slice(&sum.to_le_bytes());
    for (k, b) in m[8..].iter_mut().enumerate() {
        *b = (sum as u8).wrapping_add(k as u8);
    }
    m
}

fn checksum(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(16_777_619)
    })
}

fn decode(m: &[u8]) -> Option<u32> {
    if m.len() != SIZE {
        return None;
    }
    let sum = u32::from_le_bytes(m[4..8].try_into().unwrap());
    let pad = m[8..]
        .iter()
        .enumerate()
        .all(|(k, &b)| b == (sum as u8).wrapping_add(k as u8));
    (checksum(&m[..4]) == sum && pad).then(|| u32::from_le_bytes(m[..4].try_into().unwrap()))
}

/// One whole line per write(2) (O_APPEND).
fn log_line(f: &mut std::fs::File, line: String) {
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn die() -> ! {
    // SAFETY: raising a signal has no memory-safety preconditions.
    unsafe { libc::raise(libc::SIGKILL) };
    unreachable!("SIGKILL returned")
}

/// The child: "WHO INC NAME DIR KILL_AFTER PHASE" (KILL_AFTER 0: no
/// self-kill; a kill point may still be set through PMQ_FAULT_KILL).
#[test]
fn lease_chaos_child() {
    let Ok(spec) = std::env::var(ROLE) else {
        return;
    };
    let f: Vec<&str> = spec.split(' ').collect();
    let (who, inc, name, dir) = (f[0], f[1], f[2], PathBuf::from(f[3]));
    let kill_after: u32 = f[4].parse().unwrap();
    let phase: u32 = f[5].parse().unwrap();
    let q = OpenOptions::new().backend(SHM).open(Some(name)).unwrap();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("log.{who}.{inc}")))
        .unwrap();
    // Half the consumers lease with a visibility timeout far beyond the
    // run: the field is written and checked, and never expires.
    let vis = (who.parse::<u32>().unwrap() % 2 == 0).then_some(Duration::from_secs(600));
    let done = dir.join("done");
    let mut buf = [0u8; SIZE];
    let mut n = 0u32;
    loop {
        if done.exists() {
            std::process::exit(0);
        }
        let (len, prio, l) = match q.lease(&mut buf, Timeout::After(Duration::from_millis(50)), vis)
        {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::TimedOut => continue,
            Err(e) => panic!("lease: {e}"),
        };
        n += 1;
        let kill_now = kill_after != 0 && n >= kill_after;
        if kill_now && phase == 0 {
            die(); // leased, not logged
        }
        let id = match decode(&buf[..len]) {
            Some(id) => id,
            None => {
                log_line(&mut log, "BAD".into());
                continue;
            }
        };
        log_line(&mut log, format!("L {id} {} {} {prio}", l.seq, l.delivery));
        if kill_now && phase == 1 {
            die(); // holding the lease
        }
        if id % 7 == 0 && l.delivery == 1 {
            q.nack(&l).unwrap_or_else(|e| panic!("nack {id}: {e}"));
            log_line(&mut log, format!("N {id} {}", l.delivery));
            continue;
        }
        match q.ack(&l) {
            Ok(()) => {}
            Err(e) => {
                log_line(&mut log, format!("X {id} {e}"));
                continue;
            }
        }
        if kill_now && phase == 2 {
            die(); // acked, not logged
        }
        log_line(&mut log, format!("A {id} {}", l.delivery));
        if kill_now {
            die(); // acked and logged
        }
    }
}

/// A small xorshift (seeded from the pid, printed to replay a failure).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

struct Kid {
    who: u8,
    inc: u32,
    /// The kill point aimed at, and the self-kill's message count.
    point: Option<&'static str>,
    after: u64,
    child: Child,
}

struct Fleet {
    name: String,
    dir: PathBuf,
    exe: PathBuf,
    kids: Vec<Kid>,
}

impl Fleet {
    fn spawn(&self, who: u8, inc: u32, rng: &mut Rng, kills_left: bool) -> Kid {
        let mut c = Command::new(&self.exe);
        c.args(["--exact", "lease_chaos_child", "--test-threads=1", "-q"])
            .stdout(std::process::Stdio::null());
        let (mut after, mut phase, mut aim) = (0, 0, None);
        if kills_left {
            if rng.next(2) == 0 {
                after = 1 + rng.next(60);
                phase = rng.next(4);
            } else {
                let point = POINTS[rng.next(POINTS.len() as u64) as usize];
                aim = Some(point);
                // Nacks and sweeps are rarer than leases and acks.
                let hits = if point.starts_with("ack") || point.starts_with("receive") {
                    40
                } else {
                    4
                };
                c.env("PMQ_FAULT_KILL", point)
                    .env("PMQ_FAULT_SKIP", rng.next(hits).to_string());
                // A point this consumer never reaches (a sweep is another
                // consumer's as often as not): killed after a while anyway.
                after = 150 + rng.next(50);
                phase = rng.next(4);
            }
        }
        c.env(
            ROLE,
            format!(
                "{who} {inc} {} {} {after} {phase}",
                self.name,
                self.dir.display()
            ),
        );
        Kid {
            who,
            inc,
            point: aim,
            after,
            child: c.spawn().unwrap(),
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for k in &mut self.kids {
            let _ = k.child.kill();
            let _ = k.child.wait();
        }
        let _ = pmq::unlink_from(SHM, &self.name);
        if std::thread::panicking() {
            eprintln!("shm lease chaos: logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn lines(path: &Path) -> Vec<String> {
    match std::fs::File::open(path) {
        Ok(f) => std::io::BufReader::new(f)
            .lines()
            .map(Result::unwrap)
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn leasing_consumers_killed_anywhere_ack_every_message_exactly_once() {
    let kills: u32 = std::env::var("PMQ_LEASE_CHAOS_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    // At least this many messages, and more until the kills are done.
    let least: u32 = 2000;
    // PMQ_LEASE_CHAOS_SEED replays a run's choices (the kills' timing
    // still depends on the scheduler).
    let seed = std::env::var("PMQ_LEASE_CHAOS_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        | 1;
    eprintln!("shm lease chaos: seed {seed:#x}, {kills} kills");
    let mut rng = Rng(seed);
    let name = common::unique_name("lchaos", "q");
    let dir = std::env::temp_dir().join(format!("pmq-lease-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let q: Queue = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(32)
        .max_message_size(SIZE as i64)
        .open(Some(&name))
        .unwrap();
    let mut fleet = Fleet {
        name: name.clone(),
        dir: dir.clone(),
        exe: std::env::current_exe().unwrap(),
        kids: Vec::new(),
    };
    let mut incs = 0u32;
    let mut killed: HashSet<(u8, u32)> = HashSet::new();
    let mut aims: HashMap<(u8, u32), (&str, u64)> = HashMap::new();
    for who in 0..CONSUMERS {
        incs += 1;
        let k = fleet.spawn(who, incs, &mut rng, true);
        fleet.kids.push(k);
    }
    // A bound against a hang only: the run is driven by progress.
    let end = Instant::now() + Duration::from_secs(600);
    let mut next = 0u32;
    loop {
        // Respawn the dead.
        for i in 0..fleet.kids.len() {
            if let Some(st) = fleet.kids[i].child.try_wait().unwrap() {
                let (who, inc) = (fleet.kids[i].who, fleet.kids[i].inc);
                assert_eq!(
                    st.signal(),
                    Some(libc::SIGKILL),
                    "consumer {who}.{inc} ended otherwise: {st:?} (logs in {})",
                    dir.display()
                );
                killed.insert((who, inc));
                if let Some(p) = fleet.kids[i].point {
                    aims.insert((who, inc), (p, fleet.kids[i].after));
                }
                incs += 1;
                let more = (killed.len() as u32) < kills;
                fleet.kids[i] = fleet.spawn(who, incs, &mut rng, more);
            }
        }
        let sending = next < least || (killed.len() as u32) < kills;
        assert!(
            next < 1_000_000,
            "the kills never came ({} of {kills})",
            killed.len()
        );
        if sending {
            match q.send(
                &encode(next),
                next % 3,
                Timeout::After(Duration::from_millis(20)),
            ) {
                Ok(()) => next += 1,
                Err(e) if e.kind() == ErrorKind::TimedOut => {}
                Err(e) => panic!("send: {e}"),
            }
        } else if q.stats().unwrap().received == u64::from(next) {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            Instant::now() < end,
            "stuck: {next} sent, {:?}, {:?} (logs in {})",
            q.stats(),
            q.lease_stats(),
            dir.display()
        );
    }
    std::fs::write(dir.join("done"), b"").unwrap();
    for k in &mut fleet.kids {
        let st = k.child.wait().unwrap();
        if st.signal() == Some(libc::SIGKILL) {
            killed.insert((k.who, k.inc));
        }
    }
    fleet.kids.clear();
    let total = next;
    // The final drain: nothing is left, nothing leased.
    let mut buf = [0u8; SIZE];
    let e = q.lease(&mut buf, Timeout::TryOnce, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "left in the queue: {e}");
    assert_eq!(q.lease_stats().unwrap().leased, 0);
    assert_eq!(q.attributes().unwrap().current_messages, 0);
    q.check_invariants().unwrap();

    // Reconcile the logs.
    let mut acked: HashMap<u32, u32> = HashMap::new();
    // (id, delivery) -> how it ended: 'N' nacked, 'A' acked, 'K' held by a
    // killed consumer at its end, 'L' logged and nothing more (only at a
    // killed consumer's end).
    let mut deliveries: HashMap<(u32, u32), char> = HashMap::new();
    let mut max_delivery: HashMap<u32, u32> = HashMap::new();
    let mut corrupt = 0;
    let mut lost_acks = Vec::new();
    let mut redeliveries = 0u32;
    let mut at_points: HashMap<&str, u32> = HashMap::new();
    for ent in std::fs::read_dir(&dir).unwrap().flatten() {
        let fname = ent.file_name().to_string_lossy().into_owned();
        let Some(rest) = fname.strip_prefix("log.") else {
            continue;
        };
        let (who, inc) = rest.split_once('.').unwrap();
        let key = (who.parse::<u8>().unwrap(), inc.parse::<u32>().unwrap());
        let was_killed = killed.contains(&key);
        let log = lines(&ent.path());
        let mut open: Option<(u32, u32)> = None;
        let leases = log.iter().filter(|l| l.starts_with('L')).count() as u64;
        if let Some(&(p, after)) = aims.get(&key) {
            // Killed before its self-kill count: at the point.
            if leases + 1 < after {
                *at_points.entry(p).or_insert(0u32) += 1;
            }
        }
        let mut last_first: HashMap<u32, u32> = HashMap::new();
        for (i, line) in log.iter().enumerate() {
            let f: Vec<&str> = line.split(' ').collect();
            let parse = |k: usize| f.get(k).and_then(|s| s.parse::<u32>().ok());
            match f[0] {
                "BAD" => corrupt += 1,
                "L" if parse(4).is_some() => {
                    let (id, d, prio) = (parse(1).unwrap(), parse(3).unwrap(), parse(4).unwrap());
                    assert_eq!(prio, id % 3, "id {id} came with another priority");
                    assert!(
                        deliveries.insert((id, d), 'L').is_none(),
                        "delivery {d} of {id} twice"
                    );
                    let m = max_delivery.entry(id).or_default();
                    *m = (*m).max(d);
                    if d == 1 {
                        if let Some(&before) = last_first.get(&prio) {
                            assert!(
                                before < id,
                                "FIFO broken at priority {prio}: {before} then {id} ({fname})"
                            );
                        }
                        last_first.insert(prio, id);
                    } else {
                        redeliveries += 1;
                    }
                    open = Some((id, d));
                }
                "N" | "A" if parse(2).is_some() => {
                    let (id, d) = (parse(1).unwrap(), parse(2).unwrap());
                    deliveries.insert((id, d), f[0].chars().next().unwrap());
                    if f[0] == "A" {
                        *acked.entry(id).or_default() += 1;
                    }
                    open = None;
                }
                "X" => lost_acks.push(line.clone()),
                // A kill may cut the last line short.
                _ if i + 1 == log.len() && was_killed => {}
                _ => panic!("{fname}: unreadable line {line:?}"),
            }
        }
        if let Some(o) = open {
            assert!(was_killed, "{fname} ends holding {o:?} but was not killed");
            deliveries.insert(o, 'K');
        }
    }
    assert_eq!(corrupt, 0, "corrupt messages");
    assert!(
        lost_acks.is_empty(),
        "acks refused for a held lease: {lost_acks:?}"
    );
    let mut unlogged = 0;
    for id in 0..total {
        let n = acked.get(&id).copied().unwrap_or(0);
        assert!(n <= 1, "id {id} acked {n} times");
        let top = *max_delivery
            .get(&id)
            .unwrap_or_else(|| panic!("id {id} was never delivered"));
        if n == 0 {
            // Acked (the queue counts every message received) by a
            // consumer killed before it logged the ack.
            assert_eq!(
                deliveries.get(&(id, top)),
                Some(&'K'),
                "id {id} never acked"
            );
        }
        for d in 1..top {
            match deliveries.get(&(id, d)) {
                Some('N') | Some('K') => {}
                None => unlogged += 1,
                Some(c) => panic!("id {id}: delivery {d} ended {c:?} yet came again"),
            }
        }
    }
    assert!(
        unlogged <= killed.len(),
        "{unlogged} deliveries explained by no nack and no kill ({} kills)",
        killed.len()
    );
    eprintln!(
        "shm lease chaos: {total} messages acked once each, {} consumers killed ({} at kill \
         points: {at_points:?}), {redeliveries} redeliveries, {unlogged} unlogged leases of \
         killed consumers",
        killed.len(),
        at_points.values().sum::<u32>()
    );
    assert!(killed.len() as u32 >= kills, "only {} kills", killed.len());
}
