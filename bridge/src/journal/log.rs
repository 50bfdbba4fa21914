//! A journal file held locked: opening, loading, repairing, appending, rewriting; message ids.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::format::*;

pub(super) fn random_id() -> io::Result<[u8; 16]> {
    let mut id = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut id)?;
    Ok(id)
}

pub use pmq_cli::render::hex;

pub(super) fn unhex(s: &str) -> Option<[u8; 16]> {
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
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) size: u64,
    pub(super) _lock: File,
}

/// Why a journal cannot be used: one line saying what to do.
pub type OpenError = String;

/// A record: its tag and payload.
pub(super) type Record = (u8, Vec<u8>);

/// A journal as loaded: its records and what could not be read.
pub(super) struct Loaded {
    pub(super) version: u8,
    pub(super) records: Vec<Record>,
    pub(super) damaged: Vec<(usize, usize)>,
    pub(super) torn: Option<(usize, usize)>,
    /// The file as read (kept to copy it aside before a repair).
    pub(super) data: Vec<u8>,
}

/// What opening a journal had to repair; `damaged` is the loud kind.
#[derive(Clone, Debug)]
pub struct Repair {
    pub damaged: bool,
    /// One line: what was found, what is lost, where the copy is.
    pub text: String,
}

pub(super) fn not_a_journal(path: &Path, kind: &str, why: &str) -> OpenError {
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
    pub(super) fn open(path: &Path, kind: &str) -> Result<(Log, Loaded), OpenError> {
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
    pub(super) fn keep_copy(&self, data: &[u8], what: &str) -> io::Result<PathBuf> {
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
    pub(super) fn repair(&self, l: &Loaded, lost: &str) -> Result<Option<Repair>, OpenError> {
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

    pub(super) fn append(&mut self, tag: u8, payload: &[u8]) -> io::Result<()> {
        let f = frame(tag, payload);
        self.file.write_all(&f)?;
        self.size += f.len() as u64;
        Ok(())
    }

    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Replaces the journal with exactly `records`, durably.
    pub(super) fn rewrite(&mut self, records: &[Record]) -> io::Result<()> {
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
