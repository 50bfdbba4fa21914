//! Every subcommand of the real `pmq` binary: output, JSON, exit codes and
//! one-line errors. Queues are small, uniquely named and always removed.
//! (What pmq shows of the system around a queue, permissions, notification
//! holders, the mount, limits, shared-memory queues and receipts, is in
//! system.rs.)

mod common;

use common::{json, ls_row, one_line_error, pmq, stdout_ok, text, user_name, Guard};
use serde_json::Value;

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

    let stat_text = stdout_ok(["stat", q.name()]);
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
