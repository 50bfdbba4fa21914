//! The bridges' local journals: append-only files of checksummed records.
//!
//! Framing of every record: `[payload length u32 LE][tag u8][payload][crc32
//! u32 LE of tag + payload]`. A record is appended with one `write` (so a
//! killed process leaves whole records in the page cache, or a torn last one);
//! loading stops at the first record that is short or fails its checksum and
//! cuts the file there. Rewrites (compaction) go to a temporary file that is
//! fsynced and renamed over the journal, then the directory is fsynced.
//!
//! A journal is held with an exclusive `flock` on `PATH.lock` (a separate
//! file, so the lock survives the rename of a compaction): two bridges on one
//! journal is refused.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// CRC-32 (IEEE, as zlib's crc32) of the concatenation of `parts`.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// Compaction threshold: a journal larger than this is rewritten with only
/// what is still needed.
const COMPACT_AT: u64 = 8 << 20;

fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 9);
    v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    v.push(tag);
    v.extend_from_slice(payload);
    v.extend_from_slice(&crc32(&[&[tag], payload]).to_le_bytes());
    v
}

/// Parses the whole records of `data`; returns them and the length of the
/// valid prefix.
fn parse(data: &[u8]) -> (Vec<(u8, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while data.len() - at >= 9 {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = at.checked_add(9).and_then(|x| x.checked_add(len)) else {
            break;
        };
        if end > data.len() {
            break;
        }
        let tag = data[at + 4];
        let payload = &data[at + 5..at + 5 + len];
        let crc = u32::from_le_bytes(data[end - 4..end].try_into().unwrap());
        if crc != crc32(&[&[tag], payload]) {
            break;
        }
        out.push((tag, payload));
        at = end;
    }
    (out, at)
}

fn random_id() -> io::Result<[u8; 16]> {
    let mut id = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut id)?;
    Ok(id)
}

pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(id)
}

/// The `Nats-Msg-Id` the outbound bridge gives message `counter` of journal `instance`.
pub fn msg_id(instance: &[u8; 16], counter: u64) -> String {
    format!("pmq-{}-{counter}", hex(instance))
}

/// The (journal instance, counter) of a `Nats-Msg-Id` made by [`msg_id`].
pub fn parse_msg_id(id: &str) -> Option<([u8; 16], u64)> {
    let rest = id.strip_prefix("pmq-")?;
    let (inst, counter) = rest.split_once('-')?;
    if counter.is_empty() || !counter.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((unhex(inst)?, counter.parse().ok()?))
}

/// A journal file, held locked.
pub struct Log {
    path: PathBuf,
    file: File,
    size: u64,
    _lock: File,
}

/// Why a journal cannot be used: one line saying what to do.
pub type OpenError = String;

/// A record: its tag and payload.
type Record = (u8, Vec<u8>);

impl Log {
    /// Opens (creating it and its directory if missing) and locks the journal;
    /// returns it with its valid records (the torn tail, if any, cut off).
    fn open(path: &Path) -> Result<(Log, Vec<Record>), OpenError> {
        let say = |what: &str, e: io::Error| {
            format!(
                "cannot {what} journal {}: {e}; give another place with --journal PATH",
                path.display()
            )
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| say("create the directory of", e))?;
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| say("create the lock file of", e))?;
        // SAFETY: flock on a descriptor this function owns (kept open in the
        // returned Log for as long as the lock must be held).
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(format!(
                "journal {} is in use by another pmq bridge (lock {} is held); stop that \
                 bridge, or give this one its own --journal PATH",
                path.display(),
                Path::new(&lock_path).display()
            ));
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| say("open", e))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(|e| say("read", e))?;
        let (records, valid) = parse(&data);
        let records: Vec<(u8, Vec<u8>)> =
            records.into_iter().map(|(t, p)| (t, p.to_vec())).collect();
        if valid < data.len() {
            // A torn last record (the writer was killed mid-append): never
            // acted on, since nothing is published or sent before its append
            // completes. Cut it, so later appends follow whole records.
            file.set_len(valid as u64).map_err(|e| say("repair", e))?;
        }
        Ok((
            Log {
                path: path.to_path_buf(),
                file,
                size: valid as u64,
                _lock: lock,
            },
            records,
        ))
    }

    fn append(&mut self, tag: u8, payload: &[u8]) -> io::Result<()> {
        let f = frame(tag, payload);
        self.file.write_all(&f)?;
        self.size += f.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Replaces the journal with exactly `records`, durably.
    fn rewrite(&mut self, records: &[Record]) -> io::Result<()> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut buf = Vec::new();
        for (t, p) in records {
            buf.extend_from_slice(&frame(*t, p));
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.size = buf.len() as u64;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

// ---------------------------------------------------------------- outbound

const OUT_HEADER: u8 = b'H';
const OUT_MSG: u8 = b'M';
const OUT_ACKED: u8 = b'A';
const OUT_MAGIC: &[u8] = b"pmq-bridge-out-1";

/// A message taken from the local queue and kept until JetStream acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub counter: u64,
    pub priority: u32,
    pub bytes: Vec<u8>,
}

/// The outbound journal: every message taken from the queue, in order, with
/// the counter that makes its `Nats-Msg-Id`; and how far JetStream has
/// acknowledged them.
pub struct OutJournal {
    log: Log,
    instance: [u8; 16],
    next: u64,
    acked_through: u64,
    pending: VecDeque<Pending>,
}

impl OutJournal {
    pub fn open(path: &Path) -> Result<OutJournal, OpenError> {
        let (mut log, records) = Log::open(path)?;
        let bad = |why: &str| {
            format!(
                "journal {} is not a pmq bridge out journal ({why}); give another --journal PATH",
                path.display()
            )
        };
        let mut it = records.into_iter();
        let (instance, base) = match it.next() {
            None => {
                let instance = random_id()
                    .map_err(|e| format!("cannot read /dev/urandom for a journal id: {e}"))?;
                let mut h = OUT_MAGIC.to_vec();
                h.extend_from_slice(&instance);
                h.extend_from_slice(&1u64.to_le_bytes());
                log.rewrite(&[(OUT_HEADER, h)])
                    .map_err(|e| format!("cannot write journal {}: {e}", path.display()))?;
                (instance, 1)
            }
            Some((OUT_HEADER, p))
                if p.len() == OUT_MAGIC.len() + 24 && p.starts_with(OUT_MAGIC) =>
            {
                let p = &p[OUT_MAGIC.len()..];
                (
                    p[..16].try_into().unwrap(),
                    u64::from_le_bytes(p[16..24].try_into().unwrap()),
                )
            }
            Some(_) => return Err(bad("it does not start with the bridge's header")),
        };
        let mut j = OutJournal {
            log,
            instance,
            next: base,
            acked_through: base - 1,
            pending: VecDeque::new(),
        };
        for (tag, p) in it {
            match tag {
                OUT_MSG if p.len() >= 12 => {
                    let counter = u64::from_le_bytes(p[..8].try_into().unwrap());
                    let priority = u32::from_le_bytes(p[8..12].try_into().unwrap());
                    j.next = j.next.max(counter + 1);
                    if counter > j.acked_through {
                        j.pending.push_back(Pending {
                            counter,
                            priority,
                            bytes: p[12..].to_vec(),
                        });
                    }
                }
                OUT_ACKED if p.len() == 8 => {
                    let through = u64::from_le_bytes(p[..8].try_into().unwrap());
                    j.mark_acked(through);
                }
                _ => return Err(bad("unknown record")),
            }
        }
        Ok(j)
    }

    fn mark_acked(&mut self, through: u64) {
        self.acked_through = self.acked_through.max(through);
        while self
            .pending
            .front()
            .is_some_and(|m| m.counter <= self.acked_through)
        {
            self.pending.pop_front();
        }
    }

    pub fn instance(&self) -> &[u8; 16] {
        &self.instance
    }

    pub fn path(&self) -> &Path {
        self.log.path()
    }

    /// Messages taken but not acknowledged yet, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        self.pending.iter()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Records a message just taken from the queue (one write; not yet
    /// fsynced, see [`OutJournal::sync`]); returns its counter.
    pub fn append(&mut self, priority: u32, bytes: &[u8]) -> io::Result<u64> {
        let counter = self.next;
        let mut p = Vec::with_capacity(12 + bytes.len());
        p.extend_from_slice(&counter.to_le_bytes());
        p.extend_from_slice(&priority.to_le_bytes());
        p.extend_from_slice(bytes);
        self.log.append(OUT_MSG, &p)?;
        self.next += 1;
        self.pending.push_back(Pending {
            counter,
            priority,
            bytes: bytes.to_vec(),
        });
        Ok(counter)
    }

    pub fn sync(&mut self) -> io::Result<()> {
        self.log.sync()
    }

    /// Records that JetStream acknowledged every message up to `through`
    /// (one write, not fsynced: losing it only makes a restart publish them
    /// again, which JetStream's de-duplication drops), and compacts the
    /// journal when it has grown large.
    pub fn acked(&mut self, through: u64) -> io::Result<()> {
        self.log.append(OUT_ACKED, &through.to_le_bytes())?;
        self.mark_acked(through);
        if self.log.size > COMPACT_AT {
            let mut h = OUT_MAGIC.to_vec();
            h.extend_from_slice(&self.instance);
            h.extend_from_slice(&(self.acked_through + 1).to_le_bytes());
            let mut recs = vec![(OUT_HEADER, h)];
            for m in &self.pending {
                let mut p = Vec::with_capacity(12 + m.bytes.len());
                p.extend_from_slice(&m.counter.to_le_bytes());
                p.extend_from_slice(&m.priority.to_le_bytes());
                p.extend_from_slice(&m.bytes);
                recs.push((OUT_MSG, p));
            }
            self.log.rewrite(&recs)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- inbound

const IN_HEADER: u8 = b'H';
const IN_INTENT: u8 = b'I';
const IN_SENT: u8 = b'S';
const IN_ABORT: u8 = b'X';
const IN_RANGE: u8 = b'R';
const IN_MAGIC: &[u8] = b"pmq-bridge-in-1";

/// A set of u64 kept as disjoint inclusive ranges.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct RangeSet {
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub fn contains(&self, x: u64) -> bool {
        self.ranges
            .range(..=x)
            .next_back()
            .is_some_and(|(_, &end)| end >= x)
    }

    /// Adds `start..=end` (merging with its neighbours).
    pub fn insert_range(&mut self, start: u64, end: u64) {
        let (mut s, mut e) = (start, end);
        // Absorb every range that overlaps or touches [s, e].
        loop {
            let touching = self
                .ranges
                .range(..=e.saturating_add(1))
                .next_back()
                .map(|(&a, &b)| (a, b))
                .filter(|&(_, b)| b.saturating_add(1) >= s);
            match touching {
                Some((a, b)) => {
                    self.ranges.remove(&a);
                    s = s.min(a);
                    e = e.max(b);
                }
                None => break,
            }
        }
        self.ranges.insert(s, e);
    }

    pub fn insert(&mut self, x: u64) {
        self.insert_range(x, x);
    }

    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&a, &b)| (a, b))
    }
}

/// A message's identity for the inbound bridge: the outbound journal
/// instance and counter from its `Nats-Msg-Id`, or, for a message some other
/// publisher made, a key derived from the stream name and its stream sequence.
pub type Key = ([u8; 16], u64);

/// The key of a message without a pmq `Nats-Msg-Id`: per stream, by sequence.
pub fn stream_key(stream: &str, seq: u64) -> Key {
    let mut k = [0xffu8; 16];
    k[4..8].copy_from_slice(&crc32(&[stream.as_bytes()]).to_le_bytes());
    // FNV-1a 64 of the name: with the CRC, distinct streams get distinct keys.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in stream.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    k[8..16].copy_from_slice(&h.to_le_bytes());
    (k, seq)
}

/// The inbound journal: which messages were sent into the local queue.
/// Per message: "about to send" (intent), then "sent" or "not sent" (abort).
pub struct InJournal {
    log: Log,
    delivered: HashMap<[u8; 16], RangeSet>,
    /// Intents of the previous run(s) with neither "sent" nor "not sent": the
    /// run was stopped between them, maybe after the local send.
    ambiguous: HashSet<Key>,
    records_since_compact: u64,
}

fn key_payload(k: &Key) -> [u8; 24] {
    let mut p = [0u8; 24];
    p[..16].copy_from_slice(&k.0);
    p[16..].copy_from_slice(&k.1.to_le_bytes());
    p
}

impl InJournal {
    pub fn open(path: &Path) -> Result<InJournal, OpenError> {
        let (log, records) = Log::open(path)?;
        let bad = |why: &str| {
            format!(
                "journal {} is not a pmq bridge in journal ({why}); give another --journal PATH",
                path.display()
            )
        };
        let mut j = InJournal {
            log,
            delivered: HashMap::new(),
            ambiguous: HashSet::new(),
            records_since_compact: 0,
        };
        let mut it = records.into_iter();
        match it.next() {
            None => {}
            Some((IN_HEADER, p)) if p == IN_MAGIC => {}
            Some(_) => return Err(bad("it does not start with the bridge's header")),
        }
        for (tag, p) in it {
            let key = |p: &[u8]| -> Key {
                (
                    p[..16].try_into().unwrap(),
                    u64::from_le_bytes(p[16..24].try_into().unwrap()),
                )
            };
            match tag {
                IN_INTENT if p.len() == 24 => {
                    j.ambiguous.insert(key(&p));
                }
                IN_SENT if p.len() == 24 => {
                    let k = key(&p);
                    j.ambiguous.remove(&k);
                    j.delivered.entry(k.0).or_default().insert(k.1);
                }
                IN_ABORT if p.len() == 24 => {
                    j.ambiguous.remove(&key(&p));
                }
                IN_RANGE if p.len() == 32 => {
                    let inst: [u8; 16] = p[..16].try_into().unwrap();
                    let a = u64::from_le_bytes(p[16..24].try_into().unwrap());
                    let b = u64::from_le_bytes(p[24..32].try_into().unwrap());
                    j.delivered.entry(inst).or_default().insert_range(a, b);
                }
                _ => return Err(bad("unknown record")),
            }
        }
        // Start from a compact snapshot (also writes the header of a new journal).
        j.compact()
            .map_err(|e| format!("cannot write journal {}: {e}", path.display()))?;
        Ok(j)
    }

    fn compact(&mut self) -> io::Result<()> {
        let mut recs = vec![(IN_HEADER, IN_MAGIC.to_vec())];
        for (inst, set) in &self.delivered {
            for (a, b) in set.ranges() {
                let mut p = inst.to_vec();
                p.extend_from_slice(&a.to_le_bytes());
                p.extend_from_slice(&b.to_le_bytes());
                recs.push((IN_RANGE, p));
            }
        }
        for k in &self.ambiguous {
            recs.push((IN_INTENT, key_payload(k).to_vec()));
        }
        self.log.rewrite(&recs)?;
        self.records_since_compact = 0;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        self.log.path()
    }

    pub fn is_delivered(&self, k: &Key) -> bool {
        self.delivered.get(&k.0).is_some_and(|s| s.contains(k.1))
    }

    /// True if a previous run recorded that it was about to send `k` and
    /// then nothing more: it may or may not be in the queue.
    pub fn is_ambiguous(&self, k: &Key) -> bool {
        self.ambiguous.contains(k)
    }

    pub fn ambiguous_len(&self) -> usize {
        self.ambiguous.len()
    }

    /// "About to send `k`" (one write).
    pub fn intent(&mut self, k: &Key) -> io::Result<()> {
        self.log.append(IN_INTENT, &key_payload(k))
    }

    /// "`k` is in the queue" (one write).
    pub fn sent(&mut self, k: &Key) -> io::Result<()> {
        self.log.append(IN_SENT, &key_payload(k))?;
        self.ambiguous.remove(k);
        self.delivered.entry(k.0).or_default().insert(k.1);
        self.records_since_compact += 1;
        Ok(())
    }

    /// "`k` was not sent after all" (stopped while waiting for room).
    pub fn abort(&mut self, k: &Key) -> io::Result<()> {
        self.log.append(IN_ABORT, &key_payload(k))
    }

    /// Makes the records so far durable; compacts a journal grown large.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.log.size > COMPACT_AT {
            return self.compact();
        }
        self.log.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "pmq-journal-test-{}-{tag}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(&d).unwrap();
        d.join("j")
    }

    #[test]
    fn crc32_matches_zlib() {
        // The standard check value of CRC-32/IEEE.
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn msg_ids_round_trip() {
        let inst = [0xabu8; 16];
        let id = msg_id(&inst, 42);
        assert_eq!(parse_msg_id(&id), Some((inst, 42)));
        assert_eq!(parse_msg_id("pmq-zz-1"), None);
        assert_eq!(parse_msg_id(&format!("pmq-{}-", hex(&inst))), None);
        assert_eq!(parse_msg_id("other"), None);
    }

    #[test]
    fn range_set_merges() {
        let mut s = RangeSet::default();
        for x in [5, 7, 6, 1, 3, 2, 10] {
            s.insert(x);
        }
        assert_eq!(
            s.ranges().collect::<Vec<_>>(),
            vec![(1, 3), (5, 7), (10, 10)]
        );
        s.insert_range(4, 9);
        assert_eq!(s.ranges().collect::<Vec<_>>(), vec![(1, 10)]);
        assert!(s.contains(1) && s.contains(10) && !s.contains(0) && !s.contains(11));
    }

    #[test]
    fn out_journal_replays_unacked_with_same_counters_and_cuts_torn_tail() {
        let p = tmp("out");
        let inst;
        {
            let mut j = OutJournal::open(&p).unwrap();
            inst = *j.instance();
            assert_eq!(j.append(3, b"a").unwrap(), 1);
            assert_eq!(j.append(0, b"").unwrap(), 2);
            assert_eq!(j.append(7, &[0u8, 255, 1]).unwrap(), 3);
            j.sync().unwrap();
            j.acked(1).unwrap();
        }
        // A torn record at the end, as a writer killed mid-append leaves.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&frame(OUT_MSG, b"0123456789abcdef")[..10])
            .unwrap();
        drop(f);
        let mut j = OutJournal::open(&p).unwrap();
        assert_eq!(*j.instance(), inst);
        let pend: Vec<_> = j.pending().cloned().collect();
        assert_eq!(
            pend,
            vec![
                Pending {
                    counter: 2,
                    priority: 0,
                    bytes: vec![]
                },
                Pending {
                    counter: 3,
                    priority: 7,
                    bytes: vec![0, 255, 1]
                },
            ]
        );
        // New messages continue after the last counter ever used.
        assert_eq!(j.append(1, b"z").unwrap(), 4);
        // A second bridge on the same journal is refused.
        assert!(OutJournal::open(&p).err().unwrap().contains("in use"));
        fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    #[test]
    fn out_journal_compaction_keeps_pending_and_counters() {
        let p = tmp("compact");
        let big = vec![7u8; 64 << 10];
        {
            let mut j = OutJournal::open(&p).unwrap();
            for _ in 0..200 {
                j.append(1, &big).unwrap();
            }
            j.append(2, b"last").unwrap();
            j.acked(200).unwrap();
            assert!(fs::metadata(&p).unwrap().len() < 1 << 20, "compacted");
        }
        let j = OutJournal::open(&p).unwrap();
        let pend: Vec<_> = j.pending().cloned().collect();
        assert_eq!(
            pend,
            vec![Pending {
                counter: 201,
                priority: 2,
                bytes: b"last".to_vec()
            }]
        );
        fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    #[test]
    fn in_journal_remembers_sent_and_flags_ambiguous() {
        let p = tmp("in");
        let a = ([1u8; 16], 1);
        let b = ([1u8; 16], 2);
        let c = ([1u8; 16], 3);
        {
            let mut j = InJournal::open(&p).unwrap();
            j.intent(&a).unwrap();
            j.sent(&a).unwrap();
            j.intent(&b).unwrap(); // killed here: b may be in the queue
            j.sync().unwrap();
        }
        {
            let mut j = InJournal::open(&p).unwrap();
            assert!(j.is_delivered(&a));
            assert!(!j.is_delivered(&b) && j.is_ambiguous(&b));
            j.intent(&c).unwrap();
            j.abort(&c).unwrap();
            j.sync().unwrap();
        }
        let j = InJournal::open(&p).unwrap();
        assert!(j.is_ambiguous(&b), "kept across a compaction");
        assert!(!j.is_ambiguous(&c) && !j.is_delivered(&c));
        assert_eq!(j.ambiguous_len(), 1);
        fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}
