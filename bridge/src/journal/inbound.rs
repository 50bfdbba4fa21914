//! The inbound journal: what was sent into the local queue, so a message is sent once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self};
use std::path::Path;

use super::format::*;
use super::log::*;

// ---------------------------------------------------------------- inbound

pub(super) const IN_HEADER: u8 = b'H';
pub(super) const IN_INTENT: u8 = b'I';
pub(super) const IN_SENT: u8 = b'S';
pub(super) const IN_ABORT: u8 = b'X';
pub(super) const IN_RANGE: u8 = b'R';
/// Format 2 header: exactly this.
pub(super) const IN_MAGIC: &[u8] = b"pmq-bridge-in-2";
/// Format 1 header (same records; read, then rewritten in format 2).
pub(super) const IN_MAGIC_V1: &[u8] = b"pmq-bridge-in-1";

/// A set of u64 kept as disjoint inclusive ranges.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct RangeSet {
    pub(super) ranges: BTreeMap<u64, u64>,
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
    pub(super) log: Log,
    pub(super) delivered: HashMap<[u8; 16], RangeSet>,
    /// Intents of the previous run(s) with neither "sent" nor "not sent": the
    /// run was stopped between them, maybe after the local send.
    pub(super) ambiguous: HashSet<Key>,
    pub(super) records_since_compact: u64,
    pub(super) repair: Option<Repair>,
}

pub(super) fn key_payload(k: &Key) -> [u8; 24] {
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

    pub(super) fn compact(&mut self) -> io::Result<()> {
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
