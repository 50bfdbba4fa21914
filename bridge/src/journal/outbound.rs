//! The outbound journal: messages taken from the local queue until JetStream acknowledged them.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use super::format::*;
use super::log::*;

// ---------------------------------------------------------------- outbound

pub(super) const OUT_HEADER: u8 = b'H';
pub(super) const OUT_MSG: u8 = b'M';
pub(super) const OUT_ACKED: u8 = b'A';
/// Format 2 header: this magic, then the counter the journal's first message
/// record continues from (u64 LE).
pub(super) const OUT_MAGIC: &[u8] = b"pmq-bridge-out-2";
/// Format 1 header: this magic, the journal instance (16 bytes, the id of
/// every message), the first counter.
pub(super) const OUT_MAGIC_V1: &[u8] = b"pmq-bridge-out-1";

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
    pub(super) log: Log,
    pub(super) epoch: [u8; 16],
    pub(super) next: u64,
    pub(super) acked_through: u64,
    pub(super) pending: VecDeque<Pending>,
    pub(super) repair: Option<Repair>,
}

pub(super) fn out_msg(epoch: &[u8; 16], counter: u64, priority: u32, bytes: &[u8]) -> Vec<u8> {
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
    pub(super) fn compact(&mut self) -> io::Result<()> {
        let mut h = OUT_MAGIC.to_vec();
        h.extend_from_slice(&(self.acked_through + 1).to_le_bytes());
        let mut recs = vec![(OUT_HEADER, h)];
        for m in &self.pending {
            recs.push((OUT_MSG, out_msg(&m.epoch, m.counter, m.priority, &m.bytes)));
        }
        self.log.rewrite(&recs)
    }

    pub(super) fn mark_acked(&mut self, through: u64) {
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
