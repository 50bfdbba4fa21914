//! The record format: framing, CRC, and reading formats 2 and 1.

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
pub(super) const COMPACT_AT: u64 = 8 << 20;

/// Starts every format-2 record: after damage, loading finds the next record by it.
pub(super) const SYNC: [u8; 4] = [0xF0, b'p', b'q', b'j'];
/// Bytes of a format-2 record besides its payload: sync, length, tag, CRC.
pub(super) const OVERHEAD: usize = 13;
/// The largest payload a record can have: a length field above it is damage.
pub(super) const MAX_PAYLOAD: usize = 1 << 30;

pub(super) fn frame(tag: u8, payload: &[u8]) -> Vec<u8> {
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
pub(super) fn record_at(data: &[u8], at: usize) -> Option<(u8, &[u8], usize)> {
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
pub(super) struct Parsed<'a> {
    /// The journal's format: 1 or 2.
    pub(super) version: u8,
    pub(super) records: Vec<(u8, &'a [u8])>,
    /// Byte ranges that are not valid records: damage.
    pub(super) damaged: Vec<(usize, usize)>,
    /// The bytes after the last whole record, when they are the beginning
    /// of a record the writer was stopped while appending.
    pub(super) torn: Option<(usize, usize)>,
}

/// Format 2: every valid record, reading on past damage (from the next sync marker).
pub(super) fn parse_v2(data: &[u8]) -> Parsed<'_> {
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
pub(super) fn parse_v1(data: &[u8]) -> Parsed<'_> {
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
pub(super) fn is_v1(data: &[u8]) -> bool {
    let p = parse_v1(data);
    p.records
        .first()
        .is_some_and(|(t, pl)| *t == b'H' && pl.starts_with(b"pmq-bridge-"))
}
