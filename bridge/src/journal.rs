//! The bridges' local journals: append-only files of checksummed records.
//!
//! Format 2 (this one) frames every record as `[sync "\xF0pqj"][payload
//! length u32 LE][tag u8][payload][crc32 u32 LE of length + tag + payload]`.
//! The first record is a header whose payload starts with the journal's
//! magic and version (`pmq-bridge-out-2`, `pmq-bridge-in-2`). A record is
//! appended with one `write` (so a killed process leaves whole records in the
//! page cache, or a torn last one). Rewrites (compaction) go to a temporary
//! file that is fsynced and renamed over the journal, then the directory is
//! fsynced.
//!
//! Loading never drops what it cannot read without saying so:
//! - a file that holds no valid record of either format (a user's file given
//!   by mistake) is refused and left as it is;
//! - a record that fails its checksum, or whose length field is impossible,
//!   is *damage*: loading finds the next record by its sync marker and reads
//!   on, so every intact record after the damage is kept; the damaged byte
//!   ranges are reported, a copy of the journal as it was is kept next to it
//!   (`PATH.damaged-SECONDS-NANOS`), and only then is the journal rewritten;
//! - an incomplete last record (the writer was stopped while appending it)
//!   is cut, after keeping a copy (`PATH.cut-SECONDS-NANOS`).
//!
//! Format 1 journals (no sync markers, CRC of tag + payload) are still read:
//! their records are checked, and the journal is rewritten in format 2. As
//! format 1 has no sync marker, nothing after damage in it can be found:
//! such damage is reported the same way, with the copy kept.
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

/// Starts every format-2 record: after damage, loading finds the next record by it.
const SYNC: [u8; 4] = [0xF0, b'p', b'q', b'j'];
/// Bytes of a format-2 record besides its payload: sync, length, tag, CRC.
const OVERHEAD: usize = 13;
/// The largest payload a record can have: a length field above it is damage.
const MAX_PAYLOAD: usize = 1 << 30;

fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut v = Vec::with_capacity(payload.len() + OVERHEAD);
    v.extend_from_slice(&SYNC);
    v.extend_from_slice(&len);
    v.push(tag);
    v.extend_from_slice(payload);
    v.extend_from_slice(&crc32(&[&len, &[tag], payload]).to_le_bytes());
    v
}

/// The whole, valid format-2 record starting at `at`: its tag, payload and end.
fn record_at(data: &[u8], at: usize) -> Option<(u8, &[u8], usize)> {
    let h = data.get(at..at.checked_add(9)?)?;
    if h[..4] != SYNC {
        return None;
    }
    let len = u32::from_le_bytes(h[4..8].try_into().unwrap()) as usize;
    if len > MAX_PAYLOAD {
        return None;
    }
    let end = at + OVERHEAD + len;
    let rec = data.get(at..end)?;
    let payload = &rec[9..9 + len];
    let crc = u32::from_le_bytes(rec[9 + len..].try_into().unwrap());
    (crc == crc32(&[&h[4..8], &h[8..9], payload])).then_some((h[8], payload, end))
}

/// What loading a journal found.
#[derive(Default)]
struct Parsed<'a> {
    /// The journal's format: 1 or 2.
    version: u8,
    records: Vec<(u8, &'a [u8])>,
    /// Byte ranges that are not valid records: damage.
    damaged: Vec<(usize, usize)>,
    /// The bytes after the last whole record, when they are the beginning
    /// of a record the writer was stopped while appending.
    torn: Option<(usize, usize)>,
}

/// Format 2: every valid record, reading on past damage (from the next sync marker).
fn parse_v2(data: &[u8]) -> Parsed<'_> {
    let mut p = Parsed {
        version: 2,
        ..Default::default()
    };
    let mut at = 0usize;
    while at < data.len() {
        if let Some((tag, payload, end)) = record_at(data, at) {
            p.records.push((tag, payload));
            at = end;
            continue;
        }
        let next =
            (at + 1..data.len()).find(|&i| data[i] == SYNC[0] && record_at(data, i).is_some());
        match next {
            Some(n) => {
                p.damaged.push((at, n));
                at = n;
            }
            None => {
                let rest = &data[at..];
                let torn = if rest.len() < 9 {
                    rest[..rest.len().min(4)] == SYNC[..rest.len().min(4)]
                } else {
                    let len = u32::from_le_bytes(rest[4..8].try_into().unwrap()) as usize;
                    rest[..4] == SYNC && len <= MAX_PAYLOAD && OVERHEAD + len > rest.len()
                };
                if torn {
                    p.torn = Some((at, data.len()));
                } else {
                    p.damaged.push((at, data.len()));
                }
                break;
            }
        }
    }
    p
}

/// Format 1 (`[length u32][tag][payload][crc32 of tag + payload]`, no sync
/// marker): the valid records up to the first invalid one; what follows
/// cannot be found, and is damage unless it is a torn last record.
fn parse_v1(data: &[u8]) -> Parsed<'_> {
    let mut p = Parsed {
        version: 1,
        ..Default::default()
    };
    let mut at = 0usize;
    while data.len() - at >= 9 {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 9 + len;
        if len > MAX_PAYLOAD || end > data.len() {
            break;
        }
        let tag = data[at + 4];
        let payload = &data[at + 5..at + 5 + len];
        let crc = u32::from_le_bytes(data[end - 4..end].try_into().unwrap());
        if crc != crc32(&[&[tag], payload]) {
            break;
        }
        p.records.push((tag, payload));
        at = end;
    }
    if at < data.len() {
        let rest = &data[at..];
        let torn = rest.len() < 9 || {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            len <= MAX_PAYLOAD && 9 + len > rest.len()
        };
        if torn {
            p.torn = Some((at, data.len()));
        } else {
            p.damaged.push((at, data.len()));
        }
    }
    p
}

/// Does `data` start with a whole format-1 header record of a pmq bridge journal?
fn is_v1(data: &[u8]) -> bool {
    let p = parse_v1(data);
    p.records
        .first()
        .is_some_and(|(t, pl)| *t == b'H' && pl.starts_with(b"pmq-bridge-"))
}

fn random_id() -> io::Result<[u8; 16]> {
    let mut id = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut id)?;
    Ok(id)
}

pub use pmq_cli::render::hex;

fn unhex(s: &str) -> Option<[u8; 16]> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(s, &mut id).ok()?;
    Some(id)
}

/// The `Nats-Msg-Id` the outbound bridge gives message `counter` of run `epoch`.
pub fn msg_id(epoch: &[u8; 16], counter: u64) -> String {
    format!("pmq-{}-{counter}", hex(epoch))
}

/// The (epoch, counter) of a `Nats-Msg-Id` made by [`msg_id`].
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

/// A journal as loaded: its records and what could not be read.
struct Loaded {
    version: u8,
    records: Vec<Record>,
    damaged: Vec<(usize, usize)>,
    torn: Option<(usize, usize)>,
    /// The file as read (kept to copy it aside before a repair).
    data: Vec<u8>,
}

/// What opening a journal had to repair; `damaged` is the loud kind.
#[derive(Clone, Debug)]
pub struct Repair {
    pub damaged: bool,
    /// One line: what was found, what is lost, where the copy is.
    pub text: String,
}

fn not_a_journal(path: &Path, kind: &str, why: &str) -> OpenError {
    format!(
        "{} is not a pmq bridge journal ({why}) and is left as it is; give --journal a new \
         path or this bridge's own {kind} journal (if it is a journal damaged beyond reading, \
         move it away and start again)",
        path.display()
    )
}

impl Log {
    /// Opens (creating it and its directory if missing) and locks the
    /// journal, and loads it. Changes nothing in an existing file: the
    /// caller checks the records' kind, then repairs ([`Log::repair`]).
    fn open(path: &Path, kind: &str) -> Result<(Log, Loaded), OpenError> {
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
        let parsed = if is_v1(&data) {
            parse_v1(&data)
        } else {
            parse_v2(&data)
        };
        if !data.is_empty() && parsed.records.is_empty() {
            return Err(not_a_journal(
                path,
                kind,
                "no record of a journal in it: no magic and version header, no checksummed record",
            ));
        }
        let loaded = Loaded {
            version: parsed.version,
            records: parsed
                .records
                .into_iter()
                .map(|(t, p)| (t, p.to_vec()))
                .collect(),
            damaged: parsed.damaged,
            torn: parsed.torn,
            data: Vec::new(),
        };
        let size = data.len() as u64;
        Ok((
            Log {
                path: path.to_path_buf(),
                file,
                size,
                _lock: lock,
            },
            Loaded { data, ..loaded },
        ))
    }

    /// Keeps a durable copy of the journal as loaded, named `PATH.WHAT-TIME`.
    fn keep_copy(&self, data: &[u8], what: &str) -> io::Result<PathBuf> {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{what}-{}-{:09}", t.as_secs(), t.subsec_nanos()));
        let copy = PathBuf::from(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&copy)?;
        f.write_all(data)?;
        f.sync_all()?;
        Ok(copy)
    }

    /// Before a rewrite of a journal loaded with damage or a torn tail: keeps
    /// a copy of it and says what was found. `None` if it was whole.
    fn repair(&self, l: &Loaded, lost: &str) -> Result<Option<Repair>, OpenError> {
        if l.damaged.is_empty() && l.torn.is_none() {
            return Ok(None);
        }
        let damaged = !l.damaged.is_empty();
        let copy = self
            .keep_copy(&l.data, if damaged { "damaged" } else { "cut" })
            .map_err(|e| {
                format!(
                    "journal {} needs repair but a copy of it cannot be written next to it ({e}); \
                     it is left as it is: make room or fix the directory's permissions, then \
                     start again",
                    self.path.display()
                )
            })?;
        let text = if damaged {
            let bytes: usize = l.damaged.iter().map(|(a, b)| b - a).sum();
            let ranges: Vec<String> = l
                .damaged
                .iter()
                .take(8)
                .map(|(a, b)| format!("{a}..{b}"))
                .collect();
            format!(
                "journal {} is damaged: {bytes} bytes could not be read (byte offsets {}{}; \
                 format {}), {lost}; every intact record was read; a copy of the journal as it \
                 was is kept at {}; find what damaged it (the disk? another program writing \
                 the file?)",
                self.path.display(),
                ranges.join(", "),
                if l.damaged.len() > 8 { ", ..." } else { "" },
                l.version,
                copy.display()
            )
        } else {
            let (a, b) = l.torn.unwrap();
            format!(
                "journal {} ended in an incomplete record ({} bytes at offset {a}: a bridge was \
                 stopped while writing it); cut it; a copy of the journal as it was is kept at {}",
                self.path.display(),
                b - a,
                copy.display()
            )
        };
        Ok(Some(Repair { damaged, text }))
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
/// Format 2 header: this magic, then the counter the journal's first message
/// record continues from (u64 LE).
const OUT_MAGIC: &[u8] = b"pmq-bridge-out-2";
/// Format 1 header: this magic, the journal instance (16 bytes, the id of
/// every message), the first counter.
const OUT_MAGIC_V1: &[u8] = b"pmq-bridge-out-1";

/// A message taken from the local queue and kept until JetStream acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The run that took it: with `counter`, its `Nats-Msg-Id`.
    pub epoch: [u8; 16],
    pub counter: u64,
    pub priority: u32,
    pub bytes: Vec<u8>,
}

/// The outbound journal: every message taken from the queue, in order, with
/// the epoch and counter that make its `Nats-Msg-Id`; and how far JetStream
/// has acknowledged them.
///
/// Ids never repeat for different messages, even if the journal is lost or
/// cut short: every run draws a random 16-byte epoch, and every message it
/// takes carries that epoch in its record and in its id. A message published
/// again (after a restart) keeps the id it was first given, so JetStream's
/// duplicate window drops the second copy.
pub struct OutJournal {
    log: Log,
    epoch: [u8; 16],
    next: u64,
    acked_through: u64,
    pending: VecDeque<Pending>,
    repair: Option<Repair>,
}

fn out_msg(epoch: &[u8; 16], counter: u64, priority: u32, bytes: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(28 + bytes.len());
    p.extend_from_slice(epoch);
    p.extend_from_slice(&counter.to_le_bytes());
    p.extend_from_slice(&priority.to_le_bytes());
    p.extend_from_slice(bytes);
    p
}

impl OutJournal {
    pub fn open(path: &Path) -> Result<OutJournal, OpenError> {
        let (log, loaded) = Log::open(path, "out")?;
        let bad = |why: &str| not_a_journal(path, "out", why);
        let epoch = random_id()
            .map_err(|e| format!("cannot read /dev/urandom for a journal epoch: {e}"))?;
        let v1 = loaded.version == 1;
        let mut v1_instance: Option<[u8; 16]> = None;
        let mut base = 1u64;
        let mut max_counter = 0u64;
        let mut acked_through = 0u64;
        let mut msgs: Vec<Pending> = Vec::new();
        for (i, (tag, p)) in loaded.records.iter().enumerate() {
            match (*tag, v1) {
                (OUT_HEADER, false)
                    if i == 0 && p.len() == OUT_MAGIC.len() + 8 && p.starts_with(OUT_MAGIC) =>
                {
                    base = u64::from_le_bytes(p[OUT_MAGIC.len()..].try_into().unwrap()).max(1);
                }
                (OUT_HEADER, true)
                    if i == 0
                        && p.len() == OUT_MAGIC_V1.len() + 24
                        && p.starts_with(OUT_MAGIC_V1) =>
                {
                    let p = &p[OUT_MAGIC_V1.len()..];
                    v1_instance = Some(p[..16].try_into().unwrap());
                    base = u64::from_le_bytes(p[16..24].try_into().unwrap()).max(1);
                }
                (OUT_HEADER, _) => {
                    return Err(bad(&format!(
                        "its header is not an out journal's: {:?}",
                        String::from_utf8_lossy(&p[..p.len().min(16)])
                    )))
                }
                (OUT_MSG, false) if p.len() >= 28 => msgs.push(Pending {
                    epoch: p[..16].try_into().unwrap(),
                    counter: u64::from_le_bytes(p[16..24].try_into().unwrap()),
                    priority: u32::from_le_bytes(p[24..28].try_into().unwrap()),
                    bytes: p[28..].to_vec(),
                }),
                (OUT_MSG, true) if p.len() >= 12 => msgs.push(Pending {
                    epoch: v1_instance
                        .ok_or_else(|| bad("a format 1 message before its header"))?,
                    counter: u64::from_le_bytes(p[..8].try_into().unwrap()),
                    priority: u32::from_le_bytes(p[8..12].try_into().unwrap()),
                    bytes: p[12..].to_vec(),
                }),
                (OUT_ACKED, _) if p.len() == 8 => {
                    acked_through =
                        acked_through.max(u64::from_le_bytes(p[..8].try_into().unwrap()));
                }
                _ => {
                    return Err(bad(&format!(
                        "a record of tag {:?} and {} bytes is not an out journal's (an in \
                         journal?)",
                        *tag as char,
                        p.len()
                    )))
                }
            }
            if let Some(m) = msgs.last().filter(|_| *tag == OUT_MSG) {
                max_counter = max_counter.max(m.counter);
            }
        }
        let acked_through = acked_through.max(base - 1);
        let lost = if loaded
            .records
            .first()
            .is_some_and(|(t, _)| *t == OUT_HEADER)
        {
            "and any message recorded there is lost to this bridge (it was taken from the queue and cannot be published)"
        } else {
            "its header among them (nothing is lost by that: the messages carry their own ids), and any message recorded there is lost to this bridge (it was taken from the queue and cannot be published)"
        };
        let repair = log.repair(&loaded, lost)?;
        let mut j = OutJournal {
            log,
            epoch,
            next: max_counter.max(acked_through) + 1,
            acked_through,
            pending: msgs
                .into_iter()
                .filter(|m| m.counter > acked_through)
                .collect(),
            repair,
        };
        if loaded.records.is_empty() || v1 || j.repair.is_some() {
            j.compact()
                .map_err(|e| format!("cannot write journal {}: {e}", path.display()))?;
        }
        Ok(j)
    }

    /// Rewrites the journal with only what is still needed.
    fn compact(&mut self) -> io::Result<()> {
        let mut h = OUT_MAGIC.to_vec();
        h.extend_from_slice(&(self.acked_through + 1).to_le_bytes());
        let mut recs = vec![(OUT_HEADER, h)];
        for m in &self.pending {
            recs.push((OUT_MSG, out_msg(&m.epoch, m.counter, m.priority, &m.bytes)));
        }
        self.log.rewrite(&recs)
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

    /// This run's epoch: part of the id of every message it takes.
    pub fn epoch(&self) -> &[u8; 16] {
        &self.epoch
    }

    /// What opening had to repair (damage, a torn last record), if anything.
    pub fn repair(&self) -> Option<&Repair> {
        self.repair.as_ref()
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
    /// fsynced, see [`OutJournal::sync`]); returns its counter (its epoch is
    /// [`OutJournal::epoch`]).
    pub fn append(&mut self, priority: u32, bytes: &[u8]) -> io::Result<u64> {
        let counter = self.next;
        self.log
            .append(OUT_MSG, &out_msg(&self.epoch, counter, priority, bytes))?;
        self.next += 1;
        self.pending.push_back(Pending {
            epoch: self.epoch,
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
            self.compact()?;
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
/// Format 2 header: exactly this.
const IN_MAGIC: &[u8] = b"pmq-bridge-in-2";
/// Format 1 header (same records; read, then rewritten in format 2).
const IN_MAGIC_V1: &[u8] = b"pmq-bridge-in-1";

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
    repair: Option<Repair>,
}

fn key_payload(k: &Key) -> [u8; 24] {
    let mut p = [0u8; 24];
    p[..16].copy_from_slice(&k.0);
    p[16..].copy_from_slice(&k.1.to_le_bytes());
    p
}

impl InJournal {
    pub fn open(path: &Path) -> Result<InJournal, OpenError> {
        let (log, loaded) = Log::open(path, "in")?;
        let bad = |why: &str| not_a_journal(path, "in", why);
        let mut j = InJournal {
            log,
            delivered: HashMap::new(),
            ambiguous: HashSet::new(),
            records_since_compact: 0,
            repair: None,
        };
        let magic = if loaded.version == 1 {
            IN_MAGIC_V1
        } else {
            IN_MAGIC
        };
        let mut it = loaded.records.iter().cloned().peekable();
        match it.peek() {
            Some((IN_HEADER, p)) if p == magic => {
                it.next();
            }
            Some((IN_HEADER, p)) => {
                return Err(bad(&format!(
                    "its header is not an in journal's: {:?}",
                    String::from_utf8_lossy(&p[..p.len().min(16)])
                )))
            }
            _ => {}
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
                _ => {
                    return Err(bad(&format!(
                        "a record of tag {:?} and {} bytes is not an in journal's (an out \
                         journal?)",
                        tag as char,
                        p.len()
                    )))
                }
            }
        }
        j.repair = j.log.repair(
            &loaded,
            "and what it said about the messages recorded there is lost: those already sent \
             into the queue may be sent again (duplicates, never a loss)",
        )?;
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

    /// What opening had to repair (damage, a torn last record), if anything.
    pub fn repair(&self) -> Option<&Repair> {
        self.repair.as_ref()
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

    fn pend(epoch: [u8; 16], counter: u64, priority: u32, bytes: &[u8]) -> Pending {
        Pending {
            epoch,
            counter,
            priority,
            bytes: bytes.to_vec(),
        }
    }

    /// The files next to `p` whose names start with `p`'s name and `what`.
    fn copies(p: &Path, what: &str) -> Vec<PathBuf> {
        let name = format!("{}.{what}-", p.file_name().unwrap().to_string_lossy());
        fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with(&name))
            .collect()
    }

    #[test]
    fn out_journal_replays_unacked_with_same_ids_and_cuts_torn_tail() {
        let p = tmp("out");
        let epoch;
        {
            let mut j = OutJournal::open(&p).unwrap();
            epoch = *j.epoch();
            assert_eq!(j.append(3, b"a").unwrap(), 1);
            assert_eq!(j.append(0, b"").unwrap(), 2);
            assert_eq!(j.append(7, &[0u8, 255, 1]).unwrap(), 3);
            j.sync().unwrap();
            j.acked(1).unwrap();
        }
        // A torn record at the end, as a writer killed mid-append leaves.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&frame(OUT_MSG, &out_msg(&epoch, 4, 1, b"0123456789abcdef"))[..30])
            .unwrap();
        drop(f);
        let before = fs::read(&p).unwrap();
        let mut j = OutJournal::open(&p).unwrap();
        let r = j.repair().expect("the torn record is reported");
        assert!(
            !r.damaged && r.text.contains("incomplete record"),
            "{}",
            r.text
        );
        let cut = copies(&p, "cut");
        assert_eq!(cut.len(), 1);
        assert_eq!(
            fs::read(&cut[0]).unwrap(),
            before,
            "the copy is the journal as it was"
        );
        // The replayed messages keep their epoch (their ids); this run has its own.
        assert_ne!(*j.epoch(), epoch);
        let pending: Vec<_> = j.pending().cloned().collect();
        assert_eq!(
            pending,
            vec![pend(epoch, 2, 0, b""), pend(epoch, 3, 7, &[0, 255, 1])]
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
        let epoch;
        {
            let mut j = OutJournal::open(&p).unwrap();
            epoch = *j.epoch();
            for _ in 0..200 {
                j.append(1, &big).unwrap();
            }
            j.append(2, b"last").unwrap();
            j.acked(200).unwrap();
            assert!(fs::metadata(&p).unwrap().len() < 1 << 20, "compacted");
        }
        let mut j = OutJournal::open(&p).unwrap();
        assert!(j.repair().is_none());
        let pending: Vec<_> = j.pending().cloned().collect();
        assert_eq!(pending, vec![pend(epoch, 201, 2, b"last")]);
        assert_eq!(j.append(0, b"next").unwrap(), 202);
        fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    /// Three damaged copies of one journal with 5 pending messages: each
    /// reads every intact record, reports the damage, keeps a copy.
    #[test]
    fn out_journal_reads_past_damage_and_keeps_a_copy() {
        let p = tmp("damage");
        let epoch;
        {
            let mut j = OutJournal::open(&p).unwrap();
            epoch = *j.epoch();
            for i in 0..5u8 {
                j.append(i as u32, &[b'm', i, i, i]).unwrap();
            }
            j.sync().unwrap();
        }
        let clean = fs::read(&p).unwrap();
        let at = |i: u8| clean.windows(4).position(|w| w == [b'm', i, i, i]).unwrap();
        let mut header = clean.clone();
        header[12] ^= 0x40;
        let mut record = clean.clone();
        record[at(1) + 2] ^= 1;
        let mut length = clean.clone();
        let l = at(3) - 33;
        length[l..l + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut last = clean.clone();
        let n = last.len();
        last[n - 6] ^= 0x10;
        for (what, data, lost) in [
            ("header", header, None),
            ("record", record, Some(1)),
            ("length", length, Some(3)),
            ("last record", last, Some(4)),
        ] {
            fs::write(&p, &data).unwrap();
            for c in copies(&p, "damaged") {
                fs::remove_file(c).unwrap();
            }
            let j = OutJournal::open(&p).unwrap();
            let want: Vec<Pending> = (0..5u8)
                .filter(|&i| Some(i) != lost)
                .map(|i| pend(epoch, i as u64 + 1, i as u32, &[b'm', i, i, i]))
                .collect();
            assert_eq!(j.pending().cloned().collect::<Vec<_>>(), want, "{what}");
            let r = j.repair().expect(what);
            assert!(
                r.damaged && r.text.contains("is damaged"),
                "{what}: {}",
                r.text
            );
            let c = copies(&p, "damaged");
            assert_eq!(c.len(), 1, "{what}");
            assert_eq!(fs::read(&c[0]).unwrap(), data, "{what}: the copy");
            assert!(r.text.contains(&c[0].display().to_string()), "{}", r.text);
            drop(j);
            // Rewritten whole: the next open finds nothing to repair.
            let j = OutJournal::open(&p).unwrap();
            assert!(j.repair().is_none(), "{what}");
            assert_eq!(j.pending_len(), want.len());
        }
        fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    /// A file that is not a journal is refused and left byte for byte; so is
    /// the other direction's journal.
    #[test]
    fn not_a_journal_is_refused_untouched() {
        let p = tmp("user");
        let user = b"a user's file\n".repeat(100);
        fs::write(&p, &user).unwrap();
        let e = OutJournal::open(&p).err().unwrap();
        assert!(
            e.contains("not a pmq bridge journal") && e.contains("left as it is"),
            "{e}"
        );
        let e = InJournal::open(&p).err().unwrap();
        assert!(e.contains("not a pmq bridge journal"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), user);
        // An empty file is a new journal.
        fs::write(&p, b"").unwrap();
        drop(OutJournal::open(&p).unwrap());
        let out = fs::read(&p).unwrap();
        let e = InJournal::open(&p).err().unwrap();
        assert!(e.contains("not an in journal's"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), out);
        fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }

    /// Format 1 framing: `[len][tag][payload][crc32 of tag + payload]`.
    fn frame_v1(tag: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_le_bytes().to_vec();
        v.push(tag);
        v.extend_from_slice(payload);
        v.extend_from_slice(&crc32(&[&[tag], payload]).to_le_bytes());
        v
    }

    #[test]
    fn format_1_journals_are_read_and_rewritten() {
        let p = tmp("v1");
        let inst = [9u8; 16];
        let mut h = OUT_MAGIC_V1.to_vec();
        h.extend_from_slice(&inst);
        h.extend_from_slice(&1u64.to_le_bytes());
        let mut data = frame_v1(OUT_HEADER, &h);
        for c in 1..=3u64 {
            let mut m = c.to_le_bytes().to_vec();
            m.extend_from_slice(&5u32.to_le_bytes());
            m.extend_from_slice(b"old");
            data.extend(frame_v1(OUT_MSG, &m));
        }
        data.extend(frame_v1(OUT_ACKED, &1u64.to_le_bytes()));
        fs::write(&p, &data).unwrap();
        {
            let mut j = OutJournal::open(&p).unwrap();
            assert!(j.repair().is_none());
            assert_eq!(
                j.pending().cloned().collect::<Vec<_>>(),
                vec![pend(inst, 2, 5, b"old"), pend(inst, 3, 5, b"old")],
                "format 1 messages keep their ids"
            );
            assert_eq!(j.append(0, b"new").unwrap(), 4);
        }
        assert!(
            fs::read(&p).unwrap().starts_with(&SYNC),
            "rewritten in format 2"
        );
        assert_eq!(OutJournal::open(&p).unwrap().pending_len(), 3);
        // An in journal of format 1.
        let q = p.with_file_name("in1");
        let mut data = frame_v1(IN_HEADER, IN_MAGIC_V1);
        data.extend(frame_v1(IN_SENT, &key_payload(&(inst, 7))));
        fs::write(&q, &data).unwrap();
        let j = InJournal::open(&q).unwrap();
        assert!(j.is_delivered(&(inst, 7)) && !j.is_delivered(&(inst, 8)));
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
