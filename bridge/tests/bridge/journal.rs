//! Journal loss: a file that is not a journal, a damaged or cut journal, a
//! permanent refusal against transient errors; the bridge refuses loudly and
//! never drops, overwrites or skips a message.

use std::fs::{self};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::traffic::*;
use pmq::{BackendKind, Timeout};

// ---------------------------------------------------------------- journal loss

/// The files of `dir` whose names start with `prefix`.
pub(crate) fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Where message `seq`'s bytes are in a journal (each message is unique).
pub(crate) fn find_message(journal: &[u8], seq: u64) -> usize {
    let m = message(seq);
    journal
        .windows(m.len())
        .position(|w| w == m.as_slice())
        .unwrap_or_else(|| panic!("message {seq} is not in the journal"))
}

/// Bytes from a message record's length field to its message bytes: the
/// record is [sync 4][length 4][tag 1][epoch 16][counter 8][priority 4][message][crc 4].
pub(crate) const LEN_FIELD_BEFORE_MESSAGE: usize = 33;

/// A file given as --journal that is not a journal (a user's file given by
/// mistake) is refused and left byte for byte as it was, by both directions.
#[test]
fn bridge_journal_refuses_a_file_that_is_not_a_journal() {
    let h = Harness::without_server("notjournal", BackendKind::Kernel, 2, 64);
    let a = &h.a;
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let user = h.dir.join("notes.txt");
    let content = b"my notes, not a journal: keep them\n".repeat(40);
    let u = user.display().to_string();
    for (args, what) in [
        (
            vec![
                "bridge",
                "out",
                &a.name,
                "--nats",
                &dead,
                "--subject",
                "s",
                "--journal",
                &u,
            ],
            "out",
        ),
        (
            vec![
                "bridge",
                "in",
                &a.name,
                "--nats",
                &dead,
                "--subject",
                "s",
                "--durable",
                "d",
                "--journal",
                &u,
            ],
            "in",
        ),
    ] {
        fs::write(&user, &content).unwrap();
        let line = run_refused(h.face, &args, 1, "not a pmq bridge journal");
        assert!(line.contains("left as it is"), "bridge {what}: {line}");
        assert_eq!(
            fs::read(&user).unwrap(),
            content,
            "bridge {what} changed the user's file"
        );
    }
}

/// An out journal with 5 messages not yet acknowledged, damaged three ways
/// (a header byte, a message record's byte, a record's length field made
/// huge): the next run publishes every intact message, says loudly what
/// could not be read, keeps a copy of the damaged journal, and exits 1.
#[test]
fn bridge_out_damaged_journal_publishes_every_intact_record_and_keeps_a_copy() {
    let mut h = Harness::new("damaged", BackendKind::Kernel, 10, 64);
    let pid = std::process::id();
    let journal = h.dir.join("out.j");
    // 5 messages taken and journaled while the server is down.
    let mut out = h.bridge(
        h.out_args(&format!("pmqtest.dmg.setup.{pid}"), &journal),
        "setup",
    );
    wait_until(Duration::from_secs(30), "bridge out connected", || {
        out.stderr().contains("publishing to")
    });
    h.server().kill();
    let qa = h.a.open();
    for seq in 0..5 {
        qa.send(&message(seq), priority(seq), Timeout::Forever)
            .unwrap();
    }
    wait_until(Duration::from_secs(30), "bridge out took the 5", || {
        qa.current_messages().unwrap() == 0
    });
    assert_eq!(out.terminate(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("5 unacknowledged kept in journal"),
        "{}",
        out.stderr()
    );
    h.server().spawn();
    let clean = fs::read(&journal).unwrap();
    let at2 = find_message(&clean, 2);
    let at3 = find_message(&clean, 3);
    let mut header = clean.clone();
    header[12] ^= 0x40;
    let mut record = clean.clone();
    record[at2 + 9] ^= 0x01;
    let mut length = clean.clone();
    let l = at3 - LEN_FIELD_BEFORE_MESSAGE;
    length[l..l + 4].copy_from_slice(&0xfff0_0000u32.to_le_bytes());
    let qb = h.b.open();
    for (tag, damaged, expect) in [
        ("header", header, vec![0, 1, 2, 3, 4]),
        ("record", record, vec![0, 1, 3, 4]),
        ("length", length, vec![0, 1, 2, 4]),
    ] {
        let sub = h.dir.join(tag);
        fs::create_dir_all(&sub).unwrap();
        let j = sub.join("out.j");
        fs::write(&j, &damaged).unwrap();
        // Its own subject and stream: the same ids in another stream are new.
        let subject = format!("pmqtest.dmg.{tag}.{pid}");
        let mut inb = h.inb_on(&subject, &format!("in-{tag}"));
        let mut out = h.bridge(h.out_args(&subject, &j), &format!("{tag}-out"));
        let t = collect(&qb, expect.len());
        let log = out.stderr();
        let mut got: Vec<u64> = t.counts.keys().copied().collect();
        got.sort();
        assert_eq!(got, expect, "{tag}: messages published; out:\n{log}");
        assert_eq!(t.duplicated(), 0, "{tag}");
        assert_eq!((t.corrupt, t.wrong_priority), (0, 0), "{tag}");
        assert!(
            log.contains("WARNING") && log.contains("is damaged"),
            "{tag}: no loud warning:\n{log}"
        );
        let copies = files_starting(&sub, "out.j.damaged-");
        assert_eq!(copies.len(), 1, "{tag}: a copy of the damaged journal");
        assert_eq!(
            fs::read(&copies[0]).unwrap(),
            damaged,
            "{tag}: the copy is the damaged journal as it was"
        );
        assert!(
            log.contains(&copies[0].display().to_string()),
            "{tag}: the warning names the copy:\n{log}"
        );
        assert_eq!(
            out.terminate(),
            1,
            "{tag}: a run that found damage exits 1:\n{}",
            out.stderr()
        );
        assert_eq!(inb.terminate(), 0, "{}", inb.stderr());
        // The next run finds the rewritten journal whole: no warning, exit 0.
        let mut again = h.bridge(h.out_args(&subject, &j), &format!("{tag}-again"));
        wait_until(Duration::from_secs(30), "bridge out restarted", || {
            again.stderr().contains("publishing to")
        });
        assert_eq!(again.terminate(), 0, "{}", again.stderr());
        assert!(!again.stderr().contains("WARNING"), "{}", again.stderr());
    }
}

/// A journal cut short (records lost at its end) must not make the ids of
/// new messages repeat ids already in the stream: JetStream's duplicate
/// window would drop those new messages as duplicates.
#[test]
fn bridge_out_cut_journal_new_messages_all_reach_the_stream() {
    let h = Harness::new("cut", BackendKind::Kernel, 10, 64);
    let journal = h.dir.join("out.j");
    let mut inb = h.inb_on(&h.subject, "in-cut");
    let mut out = h.out("out");
    let qa = h.a.open();
    let qb = h.b.open();
    // One at a time (each taken before the next is sent): the journal then
    // holds them in this order, whatever their priorities.
    for seq in 0..10 {
        qa.send(&message(seq), priority(seq), Timeout::Forever)
            .unwrap();
        wait_until(Duration::from_secs(30), "bridge out took it", || {
            qa.current_messages().unwrap() == 0
        });
    }
    let first = collect(&qb, 10);
    assert_eq!(first.distinct(), 10, "out:\n{}", out.stderr());
    assert_eq!(out.terminate(), 0, "{}", out.stderr());
    // Cut after the record of message 3 (its bytes, then its 4-byte CRC).
    let data = fs::read(&journal).unwrap();
    let end = find_message(&data, 3) + message(3).len() + 4;
    fs::write(&journal, &data[..end]).unwrap();
    out.start();
    for seq in 10..20 {
        qa.send(&message(seq), priority(seq), Timeout::Forever)
            .unwrap();
    }
    let second = collect(&qb, 10);
    let mut got: Vec<u64> = second.counts.keys().copied().collect();
    got.sort();
    assert_eq!(
        got,
        (10..20).collect::<Vec<u64>>(),
        "new messages lost to repeated ids; out:\n{}",
        out.stderr()
    );
    assert_eq!(out.terminate(), 0, "{}", out.stderr());
    assert_eq!(inb.terminate(), 0, "{}", inb.stderr());
}

/// A subject the server can never accept (4,389 bytes: longer than its
/// max_control_line) ends bridge out with a clear error within bounded time;
/// the message stays in the journal and a run with a good subject publishes
/// it. A transient error (the server down, then up) is retried.
#[test]
fn bridge_out_permanent_refusal_ends_transient_error_retries() {
    let mut h = Harness::new("refusal", BackendKind::Kernel, 10, 64);
    let pid = std::process::id();
    let journal = h.dir.join("out.j");
    let long = format!("pmqtest.long.{}", "x".repeat(4389 - 13));
    assert_eq!(long.len(), 4389);
    let mut args = h.out_args(&long, &journal);
    args.extend(["--stream".to_string(), format!("LONG{pid}")]);
    let mut out = h.bridge(args, "long");
    let qa = h.a.open();
    qa.send(&message(0), priority(0), Timeout::Forever).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = out.exited() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "bridge out still retrying a subject the server refuses:\n{}",
            out.stderr()
        );
        thread::sleep(Duration::from_millis(50));
    };
    let log = out.stderr();
    assert_eq!(status.code(), Some(1), "{log}");
    let last = log.lines().last().unwrap_or("");
    assert!(
        last.contains("max_control_line") && last.contains("--subject"),
        "the error says what to do: {last}"
    );
    assert!(last.contains("kept in journal"), "{last}");
    // The message is in the journal: a run with a good subject publishes it,
    // and survives a server restart meanwhile (transient: retried).
    let subject = format!("pmqtest.refusal.{pid}");
    let mut inb = h.inb_on(&subject, "in-ok");
    out.args = h.out_args(&subject, &journal);
    out.start();
    let qb = h.b.open();
    let t = collect(&qb, 1);
    assert_eq!(t.distinct(), 1, "out:\n{}", out.stderr());
    assert!(t.counts.contains_key(&0));
    h.server().kill();
    qa.send(&message(1), priority(1), Timeout::Forever).unwrap();
    wait_until(Duration::from_secs(30), "bridge out took message 1", || {
        qa.current_messages().unwrap() == 0
    });
    h.server().spawn();
    let t = collect(&qb, 1);
    assert!(
        t.counts.contains_key(&1),
        "message 1 after the server came back; out:\n{}",
        out.stderr()
    );
    assert!(out.exited().is_none(), "{}", out.stderr());
    assert_eq!(out.terminate(), 0, "{}", out.stderr());
    assert_eq!(inb.terminate(), 0, "{}", inb.stderr());
}
