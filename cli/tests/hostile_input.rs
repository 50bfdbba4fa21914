//! Arguments and input an attacker (or a slip of the finger) may give `pmq`:
//! absurd timeouts, endless standard input, queue names that are not UTF-8.
//! None of them may panic, abort or eat the machine's memory. Queues are
//! small, uniquely named and always removed.

mod common;

use std::io::{BufRead, Read, Write};
use std::process::{Child, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{one_line_error, pmq, pmq_std, signal, text, Guard};

/// Only guards against a hang; nothing is asserted about time.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// Waits for `child` (its stderr piped, and its stdout unless already
/// taken) with the hang guard: kills it and fails the test if it is still
/// running after HANG_GUARD.
fn finish(mut child: Child, what: &str) -> Output {
    let out = child.stdout.take();
    let mut err = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut out) = out {
            let _ = out.read_to_end(&mut v);
        }
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {HANG_GUARD:?}; killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn assert_no_panic(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("overflow"),
        "{what}: {err}"
    );
    assert_ne!(out.status.code(), Some(101), "{what}: {err}");
}

// ---------------------------------------------------------------- timeouts

/// 1e19 seconds fits a Duration but not an Instant deadline: it means
/// "forever", so a message already waiting is sent/received at once.
#[test]
fn unrepresentable_deadlines_wait_forever_without_panicking() {
    let q = Guard::created("hugetimeout", 4, 64);
    for t in ["1e19", "1.8e19", "1e17"] {
        let out = pmq()
            .args(["send", q.name(), "m", "--timeout", t])
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        assert_no_panic(&out, &format!("send --timeout {t}"));
        assert_eq!(out.status.code(), Some(0), "send --timeout {t}");
        let out = pmq()
            .args(["recv", q.name(), "--timeout", t])
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        assert_no_panic(&out, &format!("recv --timeout {t}"));
        assert_eq!(out.status.code(), Some(0), "recv --timeout {t}");
        assert_eq!(text(&out.stdout), "0 m\n", "recv --timeout {t}");
    }
    // --follow with such a timeout keeps going until a signal.
    pmq().args(["send", q.name(), "f"]).assert().success();
    let mut child = pmq_std()
        .args(["recv", q.name(), "--follow", "--timeout", "1e19"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut r = std::io::BufReader::new(stdout);
        let mut all = String::new();
        let _ = r.read_line(&mut all);
        let _ = first_tx.send(());
        let _ = r.read_to_string(&mut all);
        all
    });
    // Once it printed the waiting message (so its SIGTERM handler is in
    // place), or its output closed (it died), stop it.
    if first_rx.recv_timeout(HANG_GUARD).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("recv --follow --timeout 1e19 printed nothing within {HANG_GUARD:?}");
    }
    signal(child.id(), libc::SIGTERM);
    let mut out = finish(child, "recv --follow --timeout 1e19");
    out.stdout = reader.join().unwrap().into_bytes();
    assert_no_panic(&out, "recv --follow --timeout 1e19");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0 f\n");
}

/// Values no Duration holds, and NaN, infinities and negatives, are the
/// usual bad-usage error (exit 2, one line), never a panic.
#[test]
fn absurd_timeouts_are_usage_errors() {
    let q = Guard::created("badtimeout", 4, 64);
    pmq().args(["send", q.name(), "keep"]).assert().success();
    for t in [
        "1e20",
        "1e300",
        "1.7976931348623157e308",
        "nan",
        "inf",
        "-inf",
        "-1",
    ] {
        // `--timeout=-inf`: as a separate word clap would take "-inf" for options.
        let opt = format!("--timeout={t}");
        for args in [
            vec!["send", q.name(), "x", &opt],
            vec!["recv", q.name(), &opt],
            vec!["recv", q.name(), "--follow", &opt],
        ] {
            let out = pmq().args(&args).timeout(HANG_GUARD).output().unwrap();
            assert_no_panic(&out, &format!("{args:?}"));
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?}: {}",
                text(&out.stderr)
            );
            let line = one_line_error(&out.stderr);
            assert!(line.contains("timeout"), "{args:?}: {line}");
        }
    }
    // The refused calls neither sent nor received.
    pmq()
        .args(["recv", q.name(), "-n", "1", "--timeout", "0"])
        .assert()
        .success()
        .stdout("0 keep\n");
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

// ---------------------------------------------------------------- endless stdin

/// Caps the child's address space, so a `pmq` that reads endless input into
/// memory fails at once instead of taking the machine's memory.
fn cap_memory(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    const CAP: libc::rlim_t = 512 << 20;
    // SAFETY: the closure runs in the child between fork and exec; it only
    // calls setrlimit (async-signal-safe) on a value on its own stack, and
    // builds an io::Error from errno without allocating.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: CAP,
                rlim_max: CAP,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `pmq send NAME [--lines]` with standard input from /dev/zero.
fn send_from_dev_zero(name: &str, lines: bool) -> Output {
    let mut cmd = pmq_std();
    cmd.args(["send", name]);
    if lines {
        cmd.arg("--lines");
    }
    cmd.stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cap_memory(&mut cmd);
    finish(
        cmd.spawn().unwrap(),
        &format!("send {name} (lines: {lines}) < /dev/zero"),
    )
}

#[test]
fn send_stops_reading_stdin_after_one_message_too_many_bytes() {
    let q = Guard::created("zero", 4, 64);
    let out = send_from_dev_zero(q.name(), false);
    assert_no_panic(&out, "send < /dev/zero");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let line = one_line_error(&out.stderr);
    assert!(
        line.contains("standard input") && line.contains("max_message_size of 64 bytes"),
        "{line}"
    );
    // Nothing was sent.
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);

    // The edge: exactly max_message_size bytes is one message, one more is not.
    pmq()
        .args(["send", q.name()])
        .write_stdin(vec![b'x'; 64])
        .assert()
        .success();
    let out = pmq()
        .args(["send", q.name()])
        .write_stdin(vec![b'y'; 65])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(one_line_error(&out.stderr).contains("max_message_size of 64 bytes"));
    pmq()
        .args(["recv", q.name(), "--format", "raw"])
        .assert()
        .success()
        .stdout(vec![b'x'; 64]);
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

#[test]
fn send_lines_stops_at_an_endless_line_and_says_what_was_sent() {
    let q = Guard::created("zerolines", 4, 64);
    // One endless line from the start.
    let out = send_from_dev_zero(q.name(), true);
    assert_no_panic(&out, "send --lines < /dev/zero");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let line = one_line_error(&out.stderr);
    assert!(
        line.starts_with("pmq: line 1: ")
            && line.contains("max_message_size of 64 bytes")
            && line.ends_with("no line was sent"),
        "{line}"
    );
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);

    // Two short lines, then zeros without end until pmq closes the pipe.
    let mut cmd = pmq_std();
    cmd.args(["send", q.name(), "--lines"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cap_memory(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        if stdin.write_all(b"a\nb\n").is_err() {
            return;
        }
        let zeros = [0u8; 65536];
        // Stops when pmq exits and the pipe breaks (SIGPIPE is ignored here).
        while stdin.write_all(&zeros).is_ok() {}
    });
    let out = finish(child, "send --lines < a, b, endless zeros");
    writer.join().unwrap();
    assert_no_panic(&out, "send --lines < a, b, endless zeros");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let line = one_line_error(&out.stderr);
    assert!(
        line.starts_with("pmq: line 3: ")
            && line.contains("max_message_size of 64 bytes")
            && line.ends_with("lines 1-2 were sent"),
        "{line}"
    );
    pmq()
        .args(["recv", q.name(), "-n", "2"])
        .assert()
        .success()
        .stdout("0 a\n0 b\n");
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);

    // The edge: a line of exactly max_message_size bytes fits, with or
    // without its newline; one byte more does not.
    let full = "f".repeat(64);
    pmq()
        .args(["send", q.name(), "--lines"])
        .write_stdin(format!("{full}\n{full}"))
        .assert()
        .success();
    let out = pmq()
        .args(["send", q.name(), "--lines"])
        .write_stdin(format!("ok\n{full}g\nnever\n"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(
        line.starts_with("pmq: line 2: ") && line.ends_with("line 1 was sent"),
        "{line}"
    );
    pmq()
        .args(["recv", q.name(), "-n", "3"])
        .assert()
        .success()
        .stdout(format!("0 {full}\n0 {full}\n0 ok\n"));
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

// ---------------------------------------------------------------- names that are not UTF-8

/// A queue made with plain mq_open under a name that is not UTF-8
/// (`/pmq-cli-notutf8-PID-N\xff`), unlinked when dropped.
struct RawQueue {
    name: std::ffi::CString,
}

impl RawQueue {
    /// Creates it (4 x 64 bytes, mode 0600) and sends it one message, "hi".
    fn create() -> RawQueue {
        let mut bytes = common::unique("notutf8").into_bytes();
        bytes.push(0xff);
        let name = std::ffi::CString::new(bytes).unwrap();
        // SAFETY: an all-zero mq_attr is valid; only the two sizes are set.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        attr.mq_maxmsg = 4;
        attr.mq_msgsize = 64;
        // SAFETY: `name` is NUL-terminated and outlives the call; with
        // O_CREAT, mq_open reads a mode (promoted to c_uint) and a pointer
        // to an mq_attr that lives on this stack during the call.
        let fd = unsafe {
            libc::mq_open(
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                0o600 as libc::c_uint,
                &attr as *const libc::mq_attr,
            )
        };
        assert_ne!(fd, -1, "mq_open: {}", std::io::Error::last_os_error());
        // From here on the queue is removed whatever happens.
        let q = RawQueue { name };
        // SAFETY: `fd` is the descriptor just opened; the message pointer
        // and length describe a live 2-byte buffer.
        let rc = unsafe { libc::mq_send(fd, b"hi".as_ptr().cast(), 2, 0) };
        let send_error = std::io::Error::last_os_error();
        // SAFETY: `fd` is ours and closed exactly once.
        unsafe { libc::mq_close(fd) };
        assert_eq!(rc, 0, "mq_send: {send_error}");
        q
    }

    fn bytes(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The name as `pmq recv --format text` escapes it.
    fn escaped(&self) -> String {
        let b = self.bytes();
        format!("{}\\xff", std::str::from_utf8(&b[..b.len() - 1]).unwrap())
    }
}

impl Drop for RawQueue {
    fn drop(&mut self) {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        unsafe { libc::mq_unlink(self.name.as_ptr()) };
    }
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = pmq().args(args).assert().success().get_output().clone();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: bad JSON ({e}): {}", text(&out.stdout)))
}

#[test]
fn ls_and_limits_show_and_count_queues_whose_names_are_not_utf8() {
    let plain = Guard::created("utf8", 2, 16);
    let raw = RawQueue::create();
    let escaped = raw.escaped();
    let hex: String = raw.bytes().iter().map(|b| format!("{b:02x}")).collect();

    // The table: escaped name, the mqueue file's fields and the capacity.
    let table = text(&pmq().arg("ls").assert().success().get_output().stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{escaped} ")))
        .unwrap_or_else(|| panic!("no row for {escaped} in:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            escaped.as_str(),
            "kernel",
            "1",
            "2",
            "4",
            "64",
            "0600",
            &common::user_name(),
            "-"
        ],
        "{row}"
    );
    assert!(!table.contains('\u{fffd}'), "{table}");

    // JSON: the escaped name, a flag, and the exact bytes.
    let all = json_of(&["ls", "--json"]);
    let find = |v: &serde_json::Value, name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {v}"))
    };
    let q = find(&all, &escaped);
    assert_eq!(q["name_utf8"], false, "{q}");
    assert_eq!(q["name_hex"], hex.as_str(), "{q}");
    assert_eq!(q["messages"], 1, "{q}");
    assert_eq!(q["bytes"], 2, "{q}");
    assert_eq!(q["max_messages"], 4, "{q}");
    assert_eq!(q["max_message_size"], 64, "{q}");
    assert_eq!(q["mode"], "0600", "{q}");
    assert_eq!(q["cost"], pmq::queue_cost(4, 64), "{q}");
    let p = find(&all, plain.name());
    assert_eq!(p["name_utf8"], true, "{p}");

    // limits counts it. Other tests (and other people) create and remove
    // queues meanwhile: compare limits with the listings just before and
    // after it, once both listings agree.
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mut checked = false;
    for _ in 0..20 {
        // limits counts the kernel's queues (RLIMIT_MSGQUEUE is the kernel's).
        let before = json_of(&["ls", "--json", "--backend", "kernel"]);
        let limits = json_of(&["limits", "--json"]);
        let limits_text = text(&pmq().arg("limits").assert().success().get_output().stdout);
        let after = json_of(&["ls", "--json", "--backend", "kernel"]);
        if names(&before) != names(&after) {
            continue;
        }
        let queues = before.as_array().unwrap();
        assert!(names(&before).contains(&escaped));
        assert_eq!(limits["queues_now"], queues.len(), "{limits}");
        let mine: Vec<&serde_json::Value> = queues.iter().filter(|q| q["uid"] == uid).collect();
        let costs: Vec<u64> = mine.iter().filter_map(|q| q["cost"].as_u64()).collect();
        let usage = &limits["usage"];
        assert_eq!(usage["queues"], costs.len(), "{usage}");
        assert_eq!(usage["uncounted"], mine.len() - costs.len(), "{usage}");
        assert_eq!(usage["bytes"], costs.iter().sum::<u64>(), "{usage}");
        assert!(
            limits_text.contains(&format!("({} now)", queues.len()))
                && limits_text.contains(&format!(
                    "owns {} queues charging {} bytes",
                    costs.len(),
                    costs.iter().sum::<u64>()
                )),
            "{limits_text}"
        );
        checked = true;
        break;
    }
    assert!(
        checked,
        "the queue list never held still around `pmq limits`"
    );
}
