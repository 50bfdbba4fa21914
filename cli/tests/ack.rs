//! `pmq recv --ack`: at-least-once receive on shared-memory queues. Each
//! message is leased, printed, flushed (fsynced when the output is a file)
//! and only then acked: an output that fails gives the message back (nack),
//! a `pmq recv --ack` killed while printing loses nothing (the message it
//! was printing comes again), and `pmq stat` shows the leases out. The
//! kernel backend refuses --ack with the library's NotSupported detail.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{json, one_line_error, pmq, pmq_std, text, Guard, ShmGuard};
use pmq::{BackendKind, OpenOptions, Queue, Timeout};

/// A new shared-memory queue of `cap` messages of at most `size` bytes.
fn shm_queue(tag: &str, cap: i64, size: i64) -> (Queue, ShmGuard) {
    let name = common::unique(tag);
    let g = ShmGuard(name.clone());
    let q = OpenOptions::new()
        .backend(BackendKind::Shm)
        .exclusive(true)
        .max_messages(cap)
        .max_message_size(size)
        .open(Some(&name))
        .unwrap();
    (q, g)
}

/// `pmq --backend shm ARGS` with standard output going to `out`: (exit
/// code, standard error).
fn shm_into(args: &[&str], out: impl Into<Stdio>) -> (i32, Vec<u8>) {
    let o = pmq_std()
        .args(["--backend", "shm"])
        .args(args)
        .stdout(out)
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), o.stderr)
}

fn shm(args: &[&str]) -> common::Command {
    let mut c = pmq();
    c.args(["--backend", "shm"]).args(args);
    c
}

/// A fresh handle's view of the leases (opening one also finds dead
/// holders' leases and gives them back).
fn leased(name: &str) -> u64 {
    OpenOptions::new()
        .backend(BackendKind::Shm)
        .open(Some(name))
        .unwrap()
        .lease_stats()
        .unwrap()
        .leased
}

#[test]
fn recv_ack_prints_then_acks_each_message() {
    let (q, g) = shm_queue("ack", 8, 64);
    for (m, p) in [("one", 1), ("two", 0), ("three", 0)] {
        q.send(m.as_bytes(), p, Timeout::TryOnce).unwrap();
    }
    let out = shm(&["recv", &g.0, "--ack", "-n", "2"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(text(&out.stdout), "1 one\n0 two\n");
    assert_eq!(q.current_messages().unwrap(), 1, "two acked, one left");
    assert_eq!(leased(&g.0), 0, "no lease left behind");
    // Into a file (fsynced before each ack), with a visibility timeout and
    // the JSON format.
    let dir = std::env::temp_dir().join(format!("pmq-cli-ack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("out.jsonl");
    let (code, err) = shm_into(
        &[
            "recv",
            &g.0,
            "--ack",
            "--visibility",
            "30",
            "--format",
            "json",
        ],
        std::fs::File::create(&file).unwrap(),
    );
    assert_eq!(code, 0, "{}", text(&err));
    let written = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(json(written.as_bytes())["text"], "three", "{written}");
    assert_eq!(q.current_messages().unwrap(), 0);
}

/// An output that cannot be written (a full disk: /dev/full; a closed
/// pipe) gives the message back: exit 1 with one line that says so, the
/// message still in the queue, and its next delivery is the second.
#[test]
fn recv_ack_gives_the_message_back_when_the_output_fails() {
    let (q, g) = shm_queue("ackfail", 4, 64);
    q.send(b"keep me", 5, Timeout::TryOnce).unwrap();
    for closed_pipe in [false, true] {
        let out: Stdio = if closed_pipe {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            writer.into()
        } else {
            std::fs::File::create("/dev/full").unwrap().into()
        };
        let (code, stderr) = shm_into(&["recv", &g.0, "--ack"], out);
        assert_eq!(code, 1, "{}", text(&stderr));
        let line = one_line_error(&stderr);
        assert!(line.contains("given back to the queue"), "{line}");
        assert!(
            line.contains(if closed_pipe {
                "broken pipe"
            } else {
                "No space left"
            }),
            "{line}"
        );
        assert_eq!(q.current_messages().unwrap(), 1, "{line}");
        assert_eq!(leased(&g.0), 0, "{line}");
    }
    let mut buf = [0u8; 64];
    let (n, p, l) = q.lease(&mut buf, Timeout::TryOnce, None).unwrap();
    assert_eq!((&buf[..n], p), (&b"keep me"[..], 5));
    assert_eq!(l.delivery, 3, "two nacked deliveries came before");
    q.ack(&l).unwrap();
}

/// --ack on a kernel queue: the library's NotSupported detail (naming the
/// shared-memory backend), exit 1, before any message is taken. The
/// lease options need --ack; a visibility of 0 or less is refused.
#[test]
fn recv_ack_is_refused_on_kernel_queues_and_its_options_are_checked() {
    let g = Guard::created("ackkernel", 2, 32);
    pmq().args(["send", g.name(), "stays"]).assert().success();
    let out = pmq()
        .args(["recv", g.name(), "--ack"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(line.contains("shared-memory backend"), "{line}");
    assert!(out.stdout.is_empty());
    let left = pmq::OpenOptions::new()
        .open(Some(g.name()))
        .unwrap()
        .current_messages()
        .unwrap();
    assert_eq!(left, 1, "nothing taken");
    for args in [
        &["--visibility", "5"][..],
        &["--max-deliveries", "2"],
        &["--ack", "--dead-letter", "/dl"],
        &["--ack", "--visibility", "0"],
        &["--ack", "--visibility", "-1"],
        &["--ack", "--visibility", "nan"],
        &["--ack", "--max-deliveries", "0"],
    ] {
        let out = shm(&["recv", "/whatever"])
            .args(args)
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

/// --max-deliveries with --dead-letter: a message nacked twice (two
/// deliveries) is moved to the dead-letter queue by the third lease, and
/// `recv --ack` prints the next one instead.
#[test]
fn recv_ack_moves_a_message_delivered_too_often_to_the_dead_letter_queue() {
    let (q, g) = shm_queue("ackdl", 4, 64);
    let dl = common::unique("ackdl-dead");
    let _dg = ShmGuard(dl.clone());
    q.send(b"poison", 0, Timeout::TryOnce).unwrap();
    q.send(b"fine", 0, Timeout::TryOnce).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        let (_, _, l) = q.lease(&mut buf, Timeout::TryOnce, None).unwrap();
        q.nack(&l).unwrap();
    }
    let out = shm(&[
        "recv",
        &g.0,
        "--ack",
        "--max-deliveries",
        "2",
        "--dead-letter",
        &dl,
    ])
    .assert()
    .success()
    .get_output()
    .clone();
    assert_eq!(text(&out.stdout), "0 fine\n");
    let dead = OpenOptions::new()
        .backend(BackendKind::Shm)
        .open(Some(&dl))
        .unwrap();
    let (m, _) = dead.receive_vec(Timeout::TryOnce).unwrap();
    assert_eq!(m, b"poison");
    assert_eq!(q.current_messages().unwrap(), 0);
}

/// `pmq stat` shows the leases out and the oldest one's age (text and JSON).
#[test]
fn stat_shows_leases_and_the_oldest_age() {
    let (q, g) = shm_queue("ackstat", 4, 64);
    let st = text(&shm(&["stat", &g.0]).assert().success().get_output().stdout);
    assert!(st.contains("leases:        none"), "{st}");
    q.send(b"a", 0, Timeout::TryOnce).unwrap();
    q.send(b"b", 0, Timeout::TryOnce).unwrap();
    let mut buf = [0u8; 64];
    let (_, _, l) = q.lease(&mut buf, Timeout::TryOnce, None).unwrap();
    let st = text(&shm(&["stat", &g.0]).assert().success().get_output().stdout);
    assert!(st.contains("leases:        1 leased"), "{st}");
    let js = json(
        &shm(&["stat", &g.0, "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(js["counters"]["leased"], 1, "{js}");
    assert!(
        js["counters"]["oldest_lease_age"].as_f64().unwrap() >= 0.0,
        "{js}"
    );
    assert_eq!(js["messages"], 2, "a leased message still counts");
    q.ack(&l).unwrap();
    let js = json(
        &shm(&["stat", &g.0, "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(js["counters"]["leased"], 0, "{js}");
    assert!(js["counters"]["oldest_lease_age"].is_null(), "{js}");
}

/// Waits (bounded only as a failure guard) until `pid` sleeps in a pipe
/// write: its output pipe is full, so it holds the lease of the message it
/// is printing and has not acked it.
fn wait_blocked_in_pipe_write(child: &mut Child) {
    let wchan = format!("/proc/{}/wchan", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("pipe_write")) {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "recv --ack exited before its output filled"
        );
        assert!(
            Instant::now() < deadline,
            "recv --ack never blocked writing to its full output pipe"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The message numbers in complete lines of `recv --format text` output
/// (a line cut by the kill, without its newline, was not printed).
fn numbers(out: &[u8]) -> Vec<u32> {
    let complete = &out[..out.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    text(complete)
        .lines()
        .map(|l| {
            let msg = l.split_once(' ').expect("PRIORITY MESSAGE").1;
            msg[..6].parse().unwrap()
        })
        .collect()
}

/// `pmq recv --ack --follow` killed (SIGKILL) several times, each time
/// after it printed N messages and then blocked printing the next (its
/// output pipe full: progress, not time, decides): nothing is lost and
/// nothing printed is delivered again; the message it was printing when
/// killed, never acked, comes back first, as its second delivery. (A plain
/// `recv` would lose that message: it left the queue when received.)
#[test]
fn killed_recv_ack_loses_nothing_and_the_unacked_message_comes_again() {
    const M: u32 = 240;
    const KILLS: usize = 3;
    const N: usize = 10;
    // Messages of ~1000 bytes: the 64 KiB pipe holds about 60 of them.
    let (q, g) = shm_queue("ackkill", M as i64, 1024);
    for i in 0..M {
        let msg = format!("{i:06}{}", "x".repeat(994));
        q.send(msg.as_bytes(), 0, Timeout::TryOnce).unwrap();
    }
    let mut printed: Vec<u32> = Vec::new();
    for kill in 0..KILLS {
        let mut rx = pmq_std()
            .args(["--backend", "shm", "recv", &g.0, "--ack", "--follow"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(rx.stdout.take().unwrap());
        let mut got = Vec::new();
        for _ in 0..N {
            let mut line = Vec::new();
            out.read_until(b'\n', &mut line).unwrap();
            got.extend_from_slice(&line);
        }
        wait_blocked_in_pipe_write(&mut rx);
        rx.kill().unwrap();
        rx.wait().unwrap();
        out.read_to_end(&mut got).unwrap();
        let run = numbers(&got);
        assert!(run.len() > N, "kill {kill}: only {} printed", run.len());
        let next = *run.last().unwrap() + 1;
        printed.extend(run);
        // The message being printed was leased and never acked: it is back
        // (the open in `leased` gave the dead holder's lease back), first
        // in line, on its second delivery.
        assert_eq!(leased(&g.0), 0, "kill {kill}: the dead holder's lease");
        let mut buf = vec![0u8; 1024];
        let (n, _, l) = q.lease(&mut buf, Timeout::TryOnce, None).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..6])
                .unwrap()
                .parse::<u32>()
                .unwrap(),
            next,
            "kill {kill}: not the message being printed ({n} bytes)"
        );
        assert_eq!(l.delivery, 2, "kill {kill}");
        q.nack(&l).unwrap();
    }
    // The rest, to the end.
    let out = shm(&["recv", &g.0, "--ack", "--follow", "--timeout", "0"])
        .assert()
        .success()
        .get_output()
        .clone();
    printed.extend(numbers(&out.stdout));
    assert_eq!(
        printed,
        (0..M).collect::<Vec<u32>>(),
        "every message printed once, in order"
    );
    assert_eq!(q.current_messages().unwrap(), 0);
}
