//! The journals' unit tests: round trips, torn and damaged records, format 1.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::*;
use super::inbound::*;
use super::log::*;
use super::outbound::*;

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
