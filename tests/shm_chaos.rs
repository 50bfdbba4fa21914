//! Random kills at scale on the shared-memory backend: 4 producer and 4
//! consumer processes on one queue, a random one SIGKILLed and restarted
//! after every few hundred messages moved. Every message carries (producer, incarnation,
//! seq, checksum); producers log what they sent, consumers what they took,
//! and a restarted consumer logs the receipt its dead predecessor left.
//! Reconciliation: 0 committed messages lost, 0 duplicates, 0 corrupt,
//! FIFO within (producer, priority) per consumer, and every message a
//! killed receiver took but did not log is named by its receipt.
//!
//! `PMQ_CHAOS_KILLS=N` sets the kills (default 40; `make long-reliability`
//! uses more).

mod common;
use common::prefix;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use pmq::{BackendKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;
const ROLE: &str = "PMQ_CHAOS_ROLE";
const SIZE: usize = 32;

type Id = (u8, u16, u32); // producer, incarnation, seq

fn encode(id: Id) -> [u8; SIZE] {
    let mut m = [0u8; SIZE];
    m[0] = id.0;
    m[1..3].copy_from_slice(&id.1.to_le_bytes());
    m[3..7].copy_from_slice(&id.2.to_le_bytes());
    let sum = checksum(&m[..7]);
    m[7..11].copy_from_slice(&sum.to_le_bytes());
    for (k, b) in m[11..].iter_mut().enumerate() {
        *b = (sum as u8).wrapping_add(k as u8);
    }
    m
}

fn checksum(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(16_777_619)
    })
}

/// The id of a message, if its checksum and padding hold.
fn decode(m: &[u8]) -> Option<Id> {
    if m.len() != SIZE {
        return None;
    }
    let sum = u32::from_le_bytes(m[7..11].try_into().unwrap());
    let pad_ok = m[11..]
        .iter()
        .enumerate()
        .all(|(k, &b)| b == (sum as u8).wrapping_add(k as u8));
    (checksum(&m[..7]) == sum && pad_ok).then(|| {
        (
            m[0],
            u16::from_le_bytes(m[1..3].try_into().unwrap()),
            u32::from_le_bytes(m[3..7].try_into().unwrap()),
        )
    })
}

/// The id in a receipt's first bytes (its checksum covers them).
fn decode_head(h: &[u8; 16]) -> Option<Id> {
    let sum = u32::from_le_bytes(h[7..11].try_into().unwrap());
    (checksum(&h[..7]) == sum).then(|| {
        (
            h[0],
            u16::from_le_bytes(h[1..3].try_into().unwrap()),
            u32::from_le_bytes(h[3..7].try_into().unwrap()),
        )
    })
}

/// Writes one whole line in one write(2) (O_APPEND): a kill never leaves
/// half a line that reads as another id.
fn log_line(f: &mut std::fs::File, line: String) {
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn append(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// The child side: "producer P INC" or "consumer C INC" on NAME, logging to DIR.
#[test]
fn chaos_child() {
    let Ok(spec) = std::env::var(ROLE) else {
        return;
    };
    let f: Vec<&str> = spec.split(' ').collect();
    let (role, who, inc, name, dir) = (f[0], f[1], f[2], f[3], PathBuf::from(f[4]));
    let q = OpenOptions::new().backend(SHM).open(Some(name)).unwrap();
    let who: u8 = who.parse().unwrap();
    let inc: u16 = inc.parse().unwrap();
    // Whoever claims a dead opener's record inherits its receipt, a
    // producer as well as a consumer: both log it, or a message a killed
    // consumer took would look lost once a producer reused its record.
    if let Some(id) = q.inherited_receipt().and_then(|r| decode_head(&r.head)) {
        let mut log = append(&dir.join(format!("taken.{}{who}.{inc}.receipt", &role[..1])));
        log_line(&mut log, format!("R {} {} {}", id.0, id.1, id.2));
    }
    if role == "producer" {
        let mut log = append(&dir.join(format!("sent.{who}")));
        // The previous incarnation's last line may be cut: a SIGKILL can
        // split a write(2) that crosses a page boundary, leaving a line
        // without its newline, which this incarnation's first line would
        // extend into a bogus id ("2 207 3011" + "2 208 0"). Start on a
        // fresh line: a cut line then stands alone, and a cut keeps only
        // a prefix of it (a smaller seq, also sent, or too few fields).
        log_line(&mut log, String::new());
        for i in 0u32.. {
            let id = (who, inc, i);
            while q
                .send(
                    &encode(id),
                    i % 3,
                    Timeout::After(Duration::from_millis(50)),
                )
                .is_err()
            {}
            // Logged after the send returned: a kill in between leaves a
            // committed message that is not logged (allowed: the last one).
            log_line(&mut log, format!("{} {} {}", id.0, id.1, id.2));
        }
    } else {
        let mut log = append(&dir.join(format!("taken.{who}.{inc}")));
        let mut buf = [0u8; SIZE];
        loop {
            if let Ok((n, prio)) = q.receive(&mut buf, Timeout::After(Duration::from_millis(50))) {
                match decode(&buf[..n]) {
                    Some(id) => log_line(&mut log, format!("{} {} {} {prio}", id.0, id.1, id.2)),
                    None => log_line(&mut log, "BAD".to_string()),
                }
            }
        }
    }
}

struct Fleet {
    name: String,
    dir: PathBuf,
    exe: PathBuf,
    kids: Vec<(String, u8, u16, Child)>,
}

impl Fleet {
    fn spawn(&self, role: &str, who: u8, inc: u16) -> Child {
        Command::new(&self.exe)
            .args(["--exact", "chaos_child", "--test-threads=1", "-q"])
            .env(
                ROLE,
                format!("{role} {who} {inc} {} {}", self.name, self.dir.display()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, _, _, k) in &mut self.kids {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = pmq::unlink_from(SHM, &self.name);
        if std::thread::panicking() {
            // A failed run keeps its logs for a look (the figures name them).
            eprintln!("shm chaos: logs kept in {}", self.dir.display());
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

fn parse_id(f: &[&str]) -> Id {
    fn field<T: std::str::FromStr>(f: &[&str], i: usize) -> T {
        f[i].parse()
            .unwrap_or_else(|_| panic!("log line {f:?} is not an id (lines are written whole)"))
    }
    (field(f, 0), field(f, 1), field(f, 2))
}

#[test]
fn random_kills_of_4_producers_and_4_consumers_lose_nothing() {
    let kills: u32 = std::env::var("PMQ_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let name = prefix::named(format!("/pmq-chaos-{}", std::process::id()));
    let dir = std::env::temp_dir().join(format!("pmq-chaos-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let q = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(64)
        .max_message_size(SIZE as i64)
        .open(Some(&name))
        .unwrap();
    let mut fleet = Fleet {
        name: name.clone(),
        dir: dir.clone(),
        exe: std::env::current_exe().unwrap(),
        kids: Vec::new(),
    };
    for who in 0..4u8 {
        for role in ["producer", "consumer"] {
            let k = fleet.spawn(role, who, 0);
            fleet.kids.push((role.to_string(), who, 0, k));
        }
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut kill_log = append(&dir.join("kills"));
    let t0 = Instant::now();
    // Kills are driven by progress, not by the clock: each waits until the
    // queue has moved (sends committed + receives taken) 1 to 400 more
    // messages than at the last kill, so the run can neither end without
    // traffic between kills on a slow machine nor outrun them on a fast one.
    // The bound is only a failure guard (no traffic at all for 60 s).
    let moved = |q: &Queue| {
        let s = q.stats().unwrap();
        s.committed + s.received
    };
    for kill in 0..kills {
        let target = moved(&q) + 1 + next() % 400;
        let guard = Instant::now() + Duration::from_secs(60);
        while moved(&q) < target {
            assert!(
                Instant::now() < guard,
                "kill {kill}: no traffic for 60 s (moved {}, waiting for {target})",
                moved(&q)
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        let idx = (next() % fleet.kids.len() as u64) as usize;
        let (role, who, inc, mut k) = fleet.kids.swap_remove(idx);
        k.kill().unwrap();
        k.wait().unwrap();
        log_line(&mut kill_log, format!("{role} {who} {inc}"));
        let k = fleet.spawn(&role, who, inc + 1);
        fleet.kids.push((role, who, inc + 1, k));
    }
    // Stop the producers, let the consumers drain, then stop them too.
    for (role, _, _, k) in &mut fleet.kids {
        if role == "producer" {
            k.kill().unwrap();
            k.wait().unwrap();
        }
    }
    let end = Instant::now() + Duration::from_secs(20);
    while q.current_messages().unwrap() > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(120)); // their last logs
    for (_, _, _, k) in &mut fleet.kids {
        let _ = k.kill();
        let _ = k.wait();
    }
    q.check_invariants().unwrap();
    // Every receipt a dead receiver left, read before the drain (nothing
    // else runs now): one whose take committed names a message no longer
    // in the queue, one whose take did not names a message still there.
    let dead = q.dead_receipts().unwrap();
    // What is left, and the receipts dead consumers left in their records.
    let mut drained = Vec::new();
    let mut buf = [0u8; SIZE];
    while let Ok((n, _)) = q.receive(&mut buf, Timeout::TryOnce) {
        drained.push(decode(&buf[..n]).expect("corrupt message left in the queue"));
    }
    let mut receipts = HashSet::new();
    let claimers: Vec<Queue> = (0..64)
        .map(|_| OpenOptions::new().backend(SHM).open(Some(&name)).unwrap())
        .collect();
    let dead_ids: HashSet<Id> = dead
        .iter()
        .filter_map(|d| decode_head(&d.receipt.head))
        .collect();
    for d in &dead {
        let Some(id) = decode_head(&d.receipt.head) else {
            continue;
        };
        assert!(!(d.taken && d.queued), "{d:?}");
        assert_eq!(
            drained.contains(&id),
            d.queued,
            "receipt {d:?} of {id:?}: taken {}, queued {}, but the drain {} it",
            d.taken,
            d.queued,
            if d.queued { "did not find" } else { "found" }
        );
    }
    for c in &claimers {
        if let Some(id) = c.inherited_receipt().and_then(|r| decode_head(&r.head)) {
            // The heir of a dead record inherits what dead_receipts listed.
            assert!(
                dead_ids.contains(&id),
                "inherited {id:?} not in dead_receipts"
            );
            receipts.insert(id);
        }
    }
    drop(claimers);
    eprintln!(
        "shm chaos: dead_receipts listed {} receipts ({} taken, {} queued)",
        dead.len(),
        dead.iter().filter(|d| d.taken).count(),
        dead.iter().filter(|d| d.queued).count()
    );
    // Only a committed take can explain a message missing from the logs.
    receipts.extend(
        dead.iter()
            .filter(|d| d.taken)
            .filter_map(|d| decode_head(&d.receipt.head)),
    );

    // Reconcile.
    let mut sent: HashSet<Id> = HashSet::new();
    let mut last_sent: HashMap<(u8, u16), u32> = HashMap::new();
    for who in 0..4 {
        for l in lines(&dir.join(format!("sent.{who}"))) {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() != 3 || f.iter().any(|x| x.is_empty()) {
                continue; // a line cut by the kill (or the empty line that follows one)
            }
            let id = parse_id(&f);
            sent.insert(id);
            let e = last_sent.entry((id.0, id.1)).or_insert(0);
            *e = (*e).max(id.2);
        }
    }
    let mut taken: HashMap<Id, usize> = HashMap::new();
    let mut corrupt = 0;
    let mut fifo_breaks = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        if !file.starts_with("taken.") {
            continue;
        }
        let mut last: HashMap<(u8, u16, u32), u32> = HashMap::new();
        for l in lines(&e.path()) {
            let f: Vec<&str> = l.split(' ').collect();
            match f.as_slice() {
                ["BAD"] => corrupt += 1,
                ["R", rest @ ..] if rest.len() == 3 => {
                    receipts.insert(parse_id(rest));
                }
                [_, _, _, prio] if f.iter().all(|x| !x.is_empty()) => {
                    let id = parse_id(&f);
                    *taken.entry(id).or_insert(0) += 1;
                    let key = (id.0, id.1, prio.parse().unwrap());
                    if last.get(&key).is_some_and(|&p| p >= id.2) {
                        fifo_breaks += 1;
                    }
                    last.insert(key, id.2);
                }
                _ => {} // a line cut by the kill
            }
        }
    }
    for id in &drained {
        *taken.entry(*id).or_insert(0) += 1;
    }
    let duplicates = taken.values().filter(|&&n| n > 1).count();
    let lost: Vec<&Id> = sent
        .iter()
        .filter(|id| !taken.contains_key(id) && !receipts.contains(id))
        .collect();
    // Taken but never logged as sent: only a producer's last message (it
    // was killed after the commit, before its log line).
    let unlogged_not_last = taken
        .keys()
        .filter(|id| !sent.contains(id))
        .filter(|id| last_sent.get(&(id.0, id.1)).map_or(0, |&l| l + 1) != id.2 && id.2 != 0)
        .count();
    let s = q.stats().unwrap();
    eprintln!(
        "shm chaos: {kills} kills in {:?}, {} sent (logged), {} taken, {} named only by a \
         receipt, {} recoveries; lost {}, duplicates {duplicates}, corrupt {corrupt}, FIFO \
         breaks {fifo_breaks}",
        t0.elapsed(),
        sent.len(),
        taken.len(),
        receipts.iter().filter(|id| !taken.contains_key(id)).count(),
        s.recoveries,
        lost.len()
    );
    assert!(sent.len() > 100, "too little traffic to mean anything");
    for id in lost.iter().take(3) {
        // Where the lost message's neighbours went: the log (and line) of
        // the consumer incarnation that took them points at its death.
        for d in [-2i64, -1, 1, 2] {
            let n = (id.0, id.1, (id.2 as i64 + d) as u32);
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let file = e.file_name().to_string_lossy().to_string();
                for (i, l) in lines(&e.path()).iter().enumerate() {
                    let f: Vec<&str> = l.split(' ').collect();
                    let f = if f.first() == Some(&"R") {
                        &f[1..]
                    } else {
                        &f[..]
                    };
                    if f.len() >= 3 && f[..3] == [n.0.to_string(), n.1.to_string(), n.2.to_string()]
                    {
                        eprintln!("shm chaos: lost {id:?}: neighbour {n:?} in {file} line {i}");
                    }
                }
            }
        }
    }
    assert!(lost.is_empty(), "lost: {:?}", &lost[..lost.len().min(10)]);
    assert_eq!(duplicates, 0, "duplicates");
    assert_eq!(corrupt, 0, "corrupt messages");
    assert_eq!(fifo_breaks, 0, "FIFO within (producer, priority) broken");
    assert_eq!(unlogged_not_last, 0, "taken messages no producer sent");
    assert_eq!(
        s.committed, s.received,
        "the queue is empty: committed = received"
    );
}
