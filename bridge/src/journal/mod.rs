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
//!
//! The parts: format.rs (framing, reading), log.rs (the locked file),
//! outbound.rs and inbound.rs (each direction's records), tests.rs.

mod format;
mod inbound;
mod log;
mod outbound;
#[cfg(test)]
mod tests;

pub use inbound::{stream_key, InJournal, Key};
pub use log::{msg_id, parse_msg_id, Repair};
pub use outbound::OutJournal;
