//! Every subcommand of the real `pmq` binary: output, JSON, exit codes and
//! one-line errors. Queues are small, uniquely named and always removed.

mod common;

use common::{one_line_error, pmq, text, user_name, Guard};
use serde_json::Value;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(bytes)))
}

/// The whitespace-separated cells of the `ls` row for `name`.
fn ls_row(name: &str) -> Vec<String> {
    let out = pmq()
        .args(["ls", name])
        .assert()
        .success()
        .get_output()
        .clone();
    let s = text(&out.stdout);
    let mut lines = s.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "BACKEND", "MESSAGES", "BYTES", "MAX_MSGS", "MAX_SIZE", "MODE", "OWNER",
            "NOTIFY"
        ]
    );
    let row = lines.next().unwrap_or_else(|| panic!("no row in {s:?}"));
    assert!(lines.next().is_none(), "one queue asked, got {s:?}");
    row.split_whitespace().map(str::to_string).collect()
}

#[test]
fn create_ls_stat_show_the_queue() {
    let q = Guard::new("create");
    let out = pmq()
        .args([
            "create",
            q.name(),
            "--max-messages",
            "4",
            "--max-size",
            "64",
        ])
        .args(["--mode", "0640"])
        .assert()
        .success()
        .get_output()
        .clone();
    // umask 022 (the usual one) keeps 0640; the real mode is read back from /dev/mqueue.
    let umask_free = text(&out.stdout).trim_end().to_string();
    assert!(
        umask_free.starts_with(&format!(
            "created {}: 4 messages of at most 64 bytes, mode 0",
            q.name()
        )),
        "{umask_free}"
    );
    pmq()
        .args(["send", q.name(), "hello", "-p", "1"])
        .assert()
        .success();
    pmq().args(["send", q.name(), "abc"]).assert().success();

    let row = ls_row(q.name());
    let mode = row[6].clone();
    assert_eq!(
        row,
        [
            q.name(),
            "kernel",
            "2",
            "8",
            "4",
            "64",
            &mode,
            &user_name(),
            "-"
        ],
        "ls row"
    );

    let st = json(
        &pmq()
            .args(["stat", q.name(), "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(st["name"], q.name());
    assert_eq!(st["messages"], 2);
    assert_eq!(st["bytes"], 8);
    assert_eq!(st["max_messages"], 4);
    assert_eq!(st["max_message_size"], 64);
    assert_eq!(st["mode"], mode.as_str());
    assert_eq!(st["owner"], user_name().as_str());
    assert_eq!(st["notify"], Value::Null);
    assert_eq!(st["cost"], pmq::queue_cost(4, 64));

    let stat_text = text(
        &pmq()
            .args(["stat", q.name()])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(stat_text.contains("messages:      2 of 4\n"), "{stat_text}");
    assert!(stat_text.contains("bytes queued:  8\n"), "{stat_text}");
    assert!(
        stat_text.contains(&format!("memory charge: {} bytes", pmq::queue_cost(4, 64))),
        "{stat_text}"
    );

    // The full listing has it too, with the same numbers.
    let all = json(
        &pmq()
            .args(["ls", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let mine: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"] == q.name())
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["messages"], 2);
    let table = text(&pmq().arg("ls").assert().success().get_output().stdout);
    assert!(table
        .lines()
        .any(|l| l.starts_with(&format!("{} ", q.name()))));
}

#[test]
fn create_keeps_an_existing_queue_unless_exclusive() {
    let q = Guard::created("exist", 3, 32);
    let out = pmq()
        .args(["create", q.name(), "--max-messages", "5"])
        .assert()
        .success()
        .get_output()
        .clone();
    let s = text(&out.stdout);
    assert!(
        s.starts_with(&format!(
            "{} already exists: 3 messages of at most 32 bytes",
            q.name()
        )),
        "{s}"
    );
    let out = pmq()
        .args(["create", q.name(), "--exclusive"])
        .assert()
        .code(6)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(line.contains(&format!("pmq rm {}", q.name())), "{line}");
}

#[test]
fn create_rejects_bad_arguments_with_exit_2() {
    let q = Guard::new("badcreate");
    for args in [
        vec!["--mode", "0999"],
        vec!["--mode", "77777"],
        vec!["--max-messages", "0"],
        vec!["--max-size", "-1"],
    ] {
        pmq()
            .args(["create", q.name()])
            .args(&args)
            .assert()
            .code(2);
    }
    pmq().args(["create", "noslash"]).assert().code(2);
    pmq().args(["create", "/a/b"]).assert().code(2);
    // Nothing was created by the refused calls.
    pmq().args(["stat", q.name()]).assert().code(4);
}

#[test]
fn rm_removes_and_reports_missing_queues() {
    let a = Guard::created("rma", 2, 16);
    let b = Guard::created("rmb", 2, 16);
    let missing = Guard::new("rmmissing");
    let out = pmq()
        .args(["rm", a.name(), missing.name(), b.name()])
        .assert()
        .code(4)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(line.contains(missing.name()), "{line}");
    // Both existing queues are gone although one name in between was missing.
    pmq().args(["stat", a.name()]).assert().code(4);
    pmq().args(["stat", b.name()]).assert().code(4);
    pmq()
        .args(["rm", "-f", a.name(), b.name()])
        .assert()
        .success();
    pmq().arg("rm").assert().code(2);
}

#[test]
fn send_and_recv_in_every_format() {
    let q = Guard::created("formats", 8, 64);
    pmq()
        .args(["send", q.name(), "hello", "--priority", "5"])
        .assert()
        .success();
    pmq()
        .args(["send", q.name(), "a\tb\nc\\"])
        .assert()
        .success();
    // Whole standard input as one message, bytes kept exactly.
    let binary: &[u8] = b"\x00bin\xff\nary\n";
    pmq()
        .args(["send", q.name()])
        .write_stdin(binary)
        .assert()
        .success();
    pmq().args(["send", q.name(), "json"]).assert().success();

    pmq()
        .args(["recv", q.name()])
        .assert()
        .success()
        .stdout("5 hello\n");
    pmq()
        .args(["recv", q.name(), "--format", "text"])
        .assert()
        .success()
        .stdout("0 a\\tb\\nc\\\\\n");
    pmq()
        .args(["recv", q.name(), "--format", "raw"])
        .assert()
        .success()
        .stdout(binary);
    let out = pmq()
        .args(["recv", q.name(), "--format", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let v = json(&out.stdout);
    assert_eq!(v["priority"], 0);
    assert_eq!(v["size"], 4);
    assert_eq!(v["text"], "json");
    assert_eq!(v["hex"], "6a736f6e");

    pmq()
        .args(["send", q.name(), "\u{e9}", "-p", "2"])
        .assert()
        .success();
    pmq()
        .args(["recv", q.name(), "--format", "hex"])
        .assert()
        .success()
        .stdout("2 c3a9\n");
    // Not UTF-8: text is null, hex keeps every byte.
    pmq()
        .args(["send", q.name()])
        .write_stdin(&b"\xfe\xff"[..])
        .assert()
        .success();
    let v = json(
        &pmq()
            .args(["recv", q.name(), "--format", "json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(v["text"], Value::Null);
    assert_eq!(v["hex"], "feff");
}

#[test]
fn send_lines_sends_one_message_per_line_and_priorities_order_them() {
    let q = Guard::created("lines", 8, 64);
    pmq()
        .args(["send", q.name(), "--lines", "-p", "1"])
        .write_stdin("one\ntwo\n\nthree")
        .assert()
        .success();
    pmq()
        .args(["send", q.name(), "top", "-p", "9"])
        .assert()
        .success();
    pmq()
        .args(["recv", q.name(), "--count", "5"])
        .assert()
        .success()
        .stdout("9 top\n1 one\n1 two\n1 \n1 three\n");
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

#[test]
fn timeouts_and_would_block_exit_3() {
    let q = Guard::created("busy", 2, 16);
    let out = pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(out.stdout.is_empty());
    let line = one_line_error(&out.stderr);
    assert!(line.contains("is empty"), "{line}");
    let out = pmq()
        .args(["recv", q.name(), "--timeout", "0.05"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(line.contains("within 0.05 seconds"), "{line}");

    pmq().args(["send", q.name(), "1"]).assert().success();
    pmq().args(["send", q.name(), "2"]).assert().success();
    let out = pmq()
        .args(["send", q.name(), "3", "--timeout", "0"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    one_line_error(&out.stderr);
    pmq()
        .args(["send", q.name(), "3", "--timeout", "0.05"])
        .assert()
        .code(3);
    // --lines stops at the line that did not fit and says which were sent.
    pmq()
        .args(["recv", q.name()])
        .assert()
        .success()
        .stdout("0 1\n");
    let out = pmq()
        .args(["send", q.name(), "--lines", "--timeout", "0"])
        .write_stdin("x\ny\n")
        .assert()
        .code(3)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(
        line.contains("line 2:") && line.contains("line 1 was sent"),
        "{line}"
    );

    // --count prints what arrived, then reports the timeout.
    let out = pmq()
        .args(["recv", q.name(), "-n", "3", "--timeout", "0"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert_eq!(text(&out.stdout), "0 2\n0 x\n");
    let line = one_line_error(&out.stderr);
    assert!(line.contains("2 of 3 messages received"), "{line}");
    // --follow with a timeout drains the queue and ends normally.
    pmq().args(["send", q.name(), "last"]).assert().success();
    pmq()
        .args(["recv", q.name(), "--follow", "--timeout", "0"])
        .assert()
        .success()
        .stdout("0 last\n");
}

#[test]
fn missing_queues_exit_4_and_say_how_to_create_them() {
    let q = Guard::new("missing");
    for args in [
        vec!["send", q.name(), "x"],
        vec!["recv", q.name(), "--timeout", "0"],
        vec!["stat", q.name()],
        vec!["ls", q.name()],
        vec!["rm", q.name()],
    ] {
        let out = pmq().args(&args).assert().code(4).get_output().clone();
        let line = one_line_error(&out.stderr);
        assert!(line.contains(q.name()), "{args:?}: {line}");
        if args[0] != "rm" {
            assert!(
                line.contains(&format!("pmq create {}", q.name())),
                "{args:?}: {line}"
            );
        }
    }
}

/// On the shm backend the hint names it: pasting it creates the queue where
/// the command looked (it used to say `pmq create X`, a kernel queue).
#[test]
fn missing_shm_queues_say_how_to_create_them_on_shm() {
    let q = Guard::new("missing-shm");
    for args in [
        vec!["--backend", "shm", "send", q.name(), "x"],
        vec!["--backend", "shm", "recv", q.name(), "--timeout", "0"],
    ] {
        let out = pmq().args(&args).assert().code(4).get_output().clone();
        let line = one_line_error(&out.stderr);
        assert!(
            line.contains(&format!("pmq --backend shm create {}", q.name())),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn bad_usage_exits_2() {
    let q = Guard::created("usage", 2, 16);
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["frobnicate"],
        vec!["stat", "noslash"],
        vec!["ls", "/two/slashes"],
        vec!["send", q.name(), "x", "--priority", "32768"],
        vec!["send", q.name(), "x", "--timeout", "-1"],
        vec!["send", q.name(), "x", "--timeout", "nan"],
        vec!["send", q.name(), "x", "--lines"],
        vec!["recv", q.name(), "--count", "2", "--follow"],
        vec!["recv", q.name(), "--count", "0"],
        vec!["recv", q.name(), "--format", "xml"],
        vec!["recv", q.name(), "--timeout", "inf"],
    ];
    for args in cases {
        pmq().args(&args).assert().code(2);
    }
    // Nothing was sent by the refused sends.
    pmq()
        .args(["recv", q.name(), "--timeout", "0"])
        .assert()
        .code(3);
}

#[test]
fn too_large_messages_exit_1_and_name_the_limit() {
    let q = Guard::created("large", 2, 16);
    let out = pmq()
        .args(["send", q.name(), &"x".repeat(17)])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = one_line_error(&out.stderr);
    assert!(line.contains("max_message_size of 16 bytes"), "{line}");
}

#[test]
fn permission_denied_exits_5_and_ls_shows_dashes() {
    use std::os::unix::process::CommandExt;
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let q = Guard::new("perm");
    // As root, mode 0600 denies everyone else: run pmq as "nobody". As an
    // ordinary user, mode 0000 denies the owner too.
    let mode = if root { "0600" } else { "0000" };
    pmq()
        .args([
            "create",
            q.name(),
            "--max-messages",
            "2",
            "--max-size",
            "16",
        ])
        .args(["--mode", mode])
        .assert()
        .success();
    // The binary may sit in a directory "nobody" cannot enter: run a copy.
    let dir = std::env::temp_dir().join(format!("pmq-cli-perm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("pmq");
    std::fs::copy(common::PMQ, &bin).unwrap();
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(&bin);
        c.args(args);
        if root {
            c.uid(65534).gid(65534);
        }
        // Another test thread forking while the copy's write descriptor was
        // open gives the child that descriptor, and exec then fails with
        // ETXTBSY until the child execs or exits: try again briefly.
        let mut tries = 0;
        loop {
            match c.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.unwrap(),
            }
        }
    };
    let send = run(&["send", q.name(), "x"]);
    let recv = run(&["recv", q.name(), "--timeout", "0"]);
    let ls = run(&["ls", q.name()]);
    let rm = run(&["rm", q.name()]);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(send.status.code(), Some(5), "{}", text(&send.stderr));
    assert!(one_line_error(&send.stderr).contains("permission denied"));
    assert_eq!(recv.status.code(), Some(5), "{}", text(&recv.stderr));
    assert_eq!(ls.status.code(), Some(0), "{}", text(&ls.stderr));
    let row: Vec<String> = text(&ls.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(row[0], q.name());
    assert_eq!(row[1], "kernel");
    assert_eq!(row[2], "-", "messages cannot be read: {row:?}");
    assert_eq!(row[4], "-", "capacity cannot be read: {row:?}");
    assert_eq!(row[6], mode);
    if root {
        // Only the owner may remove a queue (the mount is sticky like /tmp).
        assert_eq!(rm.status.code(), Some(5), "{}", text(&rm.stderr));
        pmq().args(["stat", q.name()]).assert().success();
    }
}

#[test]
fn ls_shows_the_notification_holder_and_does_not_cancel_it() {
    let q = Guard::created("notify", 2, 16);
    let handle = pmq::Queue::open(q.name()).unwrap();
    let fd = handle.fileno().unwrap();
    // SAFETY: an all-zero sigevent is valid; the fields set below are plain
    // integers, and mq_notify only reads the struct during the call.
    let rc = unsafe {
        let mut ev: libc::sigevent = std::mem::zeroed();
        ev.sigev_notify = libc::SIGEV_SIGNAL;
        ev.sigev_signo = libc::SIGUSR1;
        libc::mq_notify(fd, &ev)
    };
    assert_eq!(rc, 0, "mq_notify: {}", std::io::Error::last_os_error());
    let me = std::process::id() as i64;

    let row = ls_row(q.name());
    assert_eq!(row[8], me.to_string(), "{row:?}");
    assert_eq!(
        row[row.len() - 2..],
        ["signal".to_string(), libc::SIGUSR1.to_string()]
    );
    let st = json(
        &pmq()
            .args(["stat", q.name(), "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(st["notify"]["pid"], me);
    assert_eq!(st["notify"]["method"], "signal");
    assert_eq!(st["notify"]["signal"], libc::SIGUSR1);
    // pmq ls opened and closed the queue in another process: our
    // registration is still there.
    let path = format!("/dev/mqueue{}", q.name());
    let status = std::fs::read_to_string(path).unwrap();
    assert!(status.contains(&format!("NOTIFY_PID:{me}")), "{status}");
    // SAFETY: a null sigevent cancels this process's registration.
    unsafe { libc::mq_notify(fd, std::ptr::null()) };
}

#[test]
fn not_mounted_says_so_and_prints_the_mount_command() {
    let dir = std::env::temp_dir().join(format!("pmq-cli-nomount-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mount = format!("mount -t mqueue none {}", dir.display());
    for args in [vec!["ls"], vec!["stat", "/x"]] {
        let out = pmq()
            .env("PMQ_MQUEUE_DIR", &dir)
            .args(&args)
            .assert()
            .code(1)
            .get_output()
            .clone();
        let line = one_line_error(&out.stderr);
        assert!(
            line.contains("not mounted") && line.contains(&mount),
            "{line}"
        );
    }
    // limits still prints the limits, and says why usage is unknown.
    let out = pmq()
        .env("PMQ_MQUEUE_DIR", &dir)
        .arg("limits")
        .assert()
        .success()
        .get_output()
        .clone();
    let s = text(&out.stdout);
    assert!(s.contains("msg_max") && s.contains(&mount), "{s}");
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn limits_show_the_system_values_usage_and_how_to_raise_them() {
    let q = Guard::created("limits", 3, 100);
    let l = pmq::Limits::read();
    let s = text(&pmq().arg("limits").assert().success().get_output().stdout);
    for (name, value, raise) in [
        ("msg_max", l.msg_max, "sysctl -w fs.mqueue.msg_max=N"),
        (
            "msgsize_max",
            l.msgsize_max,
            "sysctl -w fs.mqueue.msgsize_max=N",
        ),
        (
            "queues_max",
            l.queues_max,
            "sysctl -w fs.mqueue.queues_max=N",
        ),
        (
            "msg_default",
            l.msg_default,
            "sysctl -w fs.mqueue.msg_default=N",
        ),
    ] {
        let row = s
            .lines()
            .find(|r| r.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row: {s}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], value.to_string(), "{row}");
        assert!(row.ends_with(raise), "{row}");
    }
    assert!(s.contains("ulimit -q"), "{s}");
    assert!(s.contains(&format!("usage: {} ", user_name())), "{s}");

    let v = json(
        &pmq()
            .args(["limits", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let rows = v["limits"].as_array().unwrap();
    let find = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap().clone();
    assert_eq!(find("msgsize_max")["value"], l.msgsize_max);
    assert_eq!(find("priority_max")["value"], l.priority_max);
    let rl = find("RLIMIT_MSGQUEUE")["value"].clone();
    if l.rlimit_soft == pmq::RLIMIT_INFINITY {
        assert_eq!(rl, Value::Null);
    } else {
        assert_eq!(rl, l.rlimit_soft);
    }
    // Our queue is owned by us and counted (other queues may exist too).
    let usage = &v["usage"];
    assert!(usage["queues"].as_u64().unwrap() >= 1, "{usage}");
    assert!(
        usage["bytes"].as_u64().unwrap() >= pmq::queue_cost(3, 100),
        "{usage}"
    );
    drop(q);
}

/// `--backend shm` works on every command, and `ls` lists both kinds with
/// a backend column.
#[test]
fn shared_memory_queues_through_every_command() {
    let name = common::unique("shm");
    struct ShmGuard(String);
    impl Drop for ShmGuard {
        fn drop(&mut self) {
            let _ = pmq::unlink_from(pmq::BackendKind::Shm, &self.0);
        }
    }
    let _g = ShmGuard(name.clone());
    let sh = |args: &[&str]| {
        let mut c = pmq();
        c.arg("--backend").arg("shm").args(args);
        c
    };
    // Far above fs.mqueue.msg_max: only the shm backend allows it.
    let out = sh(&["create", &name, "--max-messages", "500", "--max-size", "32"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        text(&out.stdout).starts_with(&format!("created {name}: 500 messages of at most 32 bytes")),
        "{}",
        text(&out.stdout)
    );
    sh(&["send", &name, "hi", "-p", "3"]).assert().success();
    sh(&["send", &name, "lo"]).assert().success();
    // Not a kernel queue.
    pmq().args(["stat", &name]).assert().code(4);
    let table = text(&pmq().args(["ls"]).assert().success().get_output().stdout);
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no row for {name}:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..6],
        [name.as_str(), "shm", "2", "-", "500", "32"],
        "{row:?}"
    );
    let only = text(&sh(&["ls"]).assert().success().get_output().stdout);
    assert!(
        only.lines()
            .skip(1)
            .all(|l| l.split_whitespace().nth(1) == Some("shm")),
        "{only}"
    );
    let st = text(&sh(&["stat", &name]).assert().success().get_output().stdout);
    assert!(st.contains("backend:       shm"), "{st}");
    assert!(st.contains("2 committed, 0 received"), "{st}");
    assert!(st.contains("invariants:    ok"), "{st}");
    let js = json(
        &sh(&["ls", &name, "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(js[0]["backend"], "shm");
    assert_eq!(js[0]["counters"]["committed"], 2);
    let got = text(
        &sh(&["recv", &name, "-n", "2"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(got, "3 hi\n0 lo\n");
    sh(&["rm", &name]).assert().success();
    sh(&["rm", &name]).assert().code(4);
}

/// `pmq receipts` names what a killed receiver took: a `recv --follow`
/// killed after it printed a message (its handle still open) leaves a
/// receipt with its pid, "taken"; the table and --json agree; a fresh
/// queue has none; the kernel backend keeps none (exit 1, says so).
#[test]
fn receipts_name_what_a_killed_receiver_took() {
    use std::io::BufRead;
    let name = common::unique("receipts");
    struct ShmGuard(String);
    impl Drop for ShmGuard {
        fn drop(&mut self) {
            let _ = pmq::unlink_from(pmq::BackendKind::Shm, &self.0);
        }
    }
    let _g = ShmGuard(name.clone());
    pmq()
        .args([
            "--backend",
            "shm",
            "create",
            &name,
            "--max-messages",
            "4",
            "--max-size",
            "32",
        ])
        .assert()
        .success();
    let none = text(
        &pmq()
            .args(["receipts", &name])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(none, format!("no receipts of dead receivers in {name}\n"));
    pmq()
        .args(["--backend", "shm", "send", &name, "tab\there", "-p", "7"])
        .assert()
        .success();
    let mut rx = common::pmq_std()
        .args(["--backend", "shm", "recv", &name, "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rx.id();
    let mut line = String::new();
    std::io::BufReader::new(rx.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "7 tab\\there\n");
    // Took it and printed it: killed now, waiting for the next one.
    rx.kill().unwrap();
    rx.wait().unwrap();
    let table = text(
        &pmq()
            .args(["receipts", &name])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "SEQ", "PRIORITY", "LEN", "STATE", "HEAD"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            pid.to_string().as_str(),
            "1",
            "7",
            "8",
            "taken",
            "tab\\there"
        ],
        "{table}"
    );
    let js = json(
        &pmq()
            .args(["receipts", &name, "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(js.as_array().unwrap().len(), 1, "{js}");
    assert_eq!(js[0]["pid"], pid);
    assert_eq!(js[0]["seq"], 1);
    assert_eq!(js[0]["state"], "taken");
    assert_eq!(js[0]["taken"], true);
    assert_eq!(js[0]["queued"], false);
    assert_eq!(js[0]["head_hex"], "7461620968657265");
    // Reading twice changes nothing.
    let again = text(
        &pmq()
            .args(["receipts", &name])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(again, table);

    let k = common::Guard::created("receipts-k", 1, 8);
    let out = pmq()
        .args(["--backend", "kernel", "receipts", k.name()])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        common::one_line_error(&out.stderr).contains("shared-memory backend"),
        "{}",
        text(&out.stderr)
    );
    pmq()
        .args(["receipts", "/pmq-cli-no-such-queue-receipts"])
        .assert()
        .code(4);
}

/// `pmq receipts` looks in the shared-memory backend by default, so its
/// not-found hint creates the queue there (`--backend shm`), where the
/// command looked: before the backend was passed down, the hint named the
/// kernel backend.
#[test]
fn receipts_not_found_hint_names_the_backend_it_looked_in() {
    let name = common::unique("receipts-none");
    let out = pmq()
        .args(["receipts", &name])
        .assert()
        .code(4)
        .get_output()
        .clone();
    let line = common::one_line_error(&out.stderr);
    assert!(
        line.contains(&format!("pmq --backend shm create {name}")),
        "{line}"
    );
}
