//! `pmq recv --follow` in one process fed by `pmq send --lines` in another,
//! stopped by SIGINT/SIGTERM: every line arrives once, in order, whole.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::Duration;

use common::{pmq, pmq_std, signal, text, Guard};

/// Only guards against a hang (a lost message would otherwise block the
/// test forever); nothing is asserted about time.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A follower whose stdout lines arrive on a channel.
struct Follower {
    child: Child,
    lines: Receiver<String>,
}

impl Follower {
    fn spawn(name: &str, extra: &[&str]) -> Follower {
        let mut child = pmq_std()
            .args(["recv", name, "--follow"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(HANG_GUARD) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.child.kill();
                panic!("follower printed nothing more ({e:?}): a message was lost or it hung");
            }
        }
    }

    /// Sends `signo`, then collects what it still printed and its exit.
    fn stop(mut self, signo: i32) -> (Vec<String>, std::process::ExitStatus, String) {
        signal(self.child.id(), signo);
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(HANG_GUARD) {
                Ok(l) => rest.push(l),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("follower did not stop after signal {signo}: {e:?}");
                }
            }
        }
        let out = self.child.wait_with_output().unwrap();
        (rest, out.status, text(&out.stderr))
    }
}

/// Waits (hang guard only) until `signo` is no longer pending for `pid`:
/// its handler has run, or the process is gone.
fn wait_until_delivered(pid: u32, signo: i32) {
    let bit = 1u64 << (signo - 1);
    let start = std::time::Instant::now();
    loop {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return;
        };
        let pending = status
            .lines()
            .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
            .map(|l| u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap())
            .fold(0, |a, b| a | b);
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        if pending & bit == 0 || zombie {
            return;
        }
        assert!(
            start.elapsed() < HANG_GUARD,
            "signal {signo} never delivered"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

fn lines(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("line {i:04} of {n}")).collect()
}

#[test]
fn follow_fed_by_send_lines_loses_nothing_when_interrupted() {
    const N: usize = 300;
    // Room for 4 messages only: the sender blocks and the two processes
    // hand messages over one by one.
    let q = Guard::created("pipe", 4, 64);
    let expected = lines(N);

    let mut first = Follower::spawn(q.name(), &[]);
    let mut sender = pmq_std()
        .args(["send", q.name(), "--lines"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = sender.stdin.take().unwrap();
    // The second half of the input is held back until the first follower
    // has stopped, so it cannot have taken every line, however fast it is.
    let first_half = expected[..N / 2].join("\n") + "\n";
    let second_half = expected[N / 2..].join("\n") + "\n";
    let (go_on, wait_go_on) = std::sync::mpsc::channel::<()>();
    let writer = thread::spawn(move || {
        stdin.write_all(first_half.as_bytes()).unwrap();
        stdin.flush().unwrap();
        if wait_go_on.recv().is_ok() {
            stdin.write_all(second_half.as_bytes()).unwrap();
        }
    });

    // Interrupt the first follower in mid-stream.
    let mut got = Vec::new();
    while got.len() < N / 3 {
        got.push(first.next_line());
    }
    let (rest, status, stderr) = first.stop(libc::SIGINT);
    assert_eq!(
        status.code(),
        Some(0),
        "SIGINT ends --follow cleanly: {stderr}"
    );
    assert!(stderr.is_empty(), "{stderr}");
    got.extend(rest);
    assert!(
        got.len() <= N / 2,
        "only the first half was sent before the first follower stopped"
    );
    go_on.send(()).unwrap();

    // A second follower drains the rest, and is stopped by SIGTERM.
    let mut second = Follower::spawn(q.name(), &[]);
    while got.len() < N {
        got.push(second.next_line());
    }
    writer.join().unwrap();
    let sent = sender.wait_with_output().unwrap();
    assert!(sent.status.success(), "sender: {}", text(&sent.stderr));
    let (rest, status, stderr) = second.stop(libc::SIGTERM);
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM ends --follow cleanly: {stderr}"
    );
    assert!(rest.is_empty(), "nothing more was sent: {rest:?}");

    let want: Vec<String> = expected.iter().map(|l| format!("0 {l}")).collect();
    assert_eq!(got.len(), N, "every line exactly once");
    assert_eq!(got, want, "every line once, in order, whole");
    // And nothing is left behind in the queue.
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

#[test]
fn follow_waiting_on_an_empty_queue_stops_on_sigint() {
    let q = Guard::created("idle", 2, 32);
    let mut f = Follower::spawn(q.name(), &["--format", "hex"]);
    // Once the first message is printed, the handler is surely installed.
    pmq()
        .args(["send", q.name(), "hi", "-p", "3"])
        .assert()
        .success();
    assert_eq!(f.next_line(), "3 6869");
    let (rest, status, stderr) = f.stop(libc::SIGINT);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(status.code(), Some(0), "{stderr} {:?}", status.signal());
    // The queue still works and holds nothing.
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

#[test]
fn recv_count_interrupted_exits_128_plus_signal_and_keeps_later_messages() {
    let q = Guard::created("count", 4, 32);
    let mut child = pmq_std()
        .args(["recv", q.name(), "--count", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    pmq().args(["send", q.name(), "first"]).assert().success();
    assert_eq!(rx.recv_timeout(HANG_GUARD).unwrap(), "0 first");
    signal(child.id(), libc::SIGINT);
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(128 + libc::SIGINT));
    let err = common::one_line_error(&done.stderr);
    assert!(err.contains("after receiving 1 of 2 messages"), "{err}");
    // A message sent afterwards is still there for the next reader.
    pmq().args(["send", q.name(), "second"]).assert().success();
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .success()
        .stdout("0 second\n");
}

#[test]
fn signal_while_the_output_pipe_is_full_still_prints_the_message_whole() {
    // The follower writes into a one-page pipe that the test does not read:
    // after 4 messages of 1003 bytes the pipe is full and the follower sits
    // in write() with a received message; the sender then fills the queue.
    // SIGINT at that moment must still let that message through, whole.
    const N: usize = 40;
    const LINE: usize = 1003; // "0 " + 1000 bytes + "\n"
    let q = Guard::created("fullpipe", 4, 1024);
    let expected: Vec<String> = (0..N)
        .map(|i| format!("{i:04}{}", "x".repeat(996)))
        .collect();

    let (out, pipe_in) = std::io::pipe().unwrap();
    let fd = std::os::unix::io::AsRawFd::as_raw_fd(&out);
    // SAFETY: fcntl(F_SETPIPE_SZ) on a pipe descriptor we own reads no memory.
    let capacity = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 4096) };
    assert!(capacity >= 4096, "{}", std::io::Error::last_os_error());
    let capacity = capacity as usize;
    let mut follower = pmq_std()
        .args(["recv", q.name(), "--follow"])
        .stdout(pipe_in)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sender = pmq_std()
        .args(["send", q.name(), "--lines"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = sender.stdin.take().unwrap();
    let input = expected.join("\n") + "\n";
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());

    let pipe_bytes = || {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the pointer, which points
        // to a live c_int.
        let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
        assert_eq!(rc, 0);
        n as usize
    };
    let watch = pmq::Queue::options()
        .read(true)
        .write(false)
        .open(Some(q.name()))
        .unwrap();
    // Wait (a hang guard only) until the pipe has no room for another
    // message and the queue is full, three looks in a row.
    let start = std::time::Instant::now();
    let mut stable = 0;
    while stable < 3 {
        assert!(
            start.elapsed() < HANG_GUARD,
            "the pipe and queue never filled up"
        );
        thread::sleep(Duration::from_millis(5));
        let full = pipe_bytes() + LINE > capacity && watch.current_messages().unwrap() == 4;
        stable = if full { stable + 1 } else { 0 };
    }
    // The follower printed something, so its handler is installed.
    signal(follower.id(), libc::SIGINT);
    // Let the signal be handled while the message is still held (and the
    // pipe still full) before reading: otherwise the write could complete
    // first and the test would prove nothing.
    wait_until_delivered(follower.id(), libc::SIGINT);
    let mut got: Vec<String> = BufReader::new(out).lines().map(|l| l.unwrap()).collect();
    let status = follower.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{:?}", status.signal());
    let stopped_at = got.len();
    assert!(stopped_at < N, "the follower stopped before the end");

    // Drain the rest with another reader.
    let mut second = Follower::spawn(q.name(), &[]);
    while got.len() < N {
        got.push(second.next_line());
    }
    writer.join().unwrap();
    assert!(sender.wait().unwrap().success());
    let (rest, status, _) = second.stop(libc::SIGINT);
    assert!(rest.is_empty() && status.code() == Some(0));

    let want: Vec<String> = expected.iter().map(|l| format!("0 {l}")).collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "message {i} (first follower printed {stopped_at})");
    }
    assert_eq!(got.len(), N);
}
