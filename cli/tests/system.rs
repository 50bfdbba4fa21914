//! What `pmq` shows of the system around a queue: permissions (exit 5,
//! dashes in ls), the notification holder, an unmounted mqueue filesystem,
//! the limits and this user's usage, shared-memory queues through every
//! command, and receipts of dead receivers. Queues are small, uniquely named
//! and always removed.

mod common;

use common::{json, ls_row, one_line_error, pmq, stdout_ok, text, user_name, Guard};
use serde_json::Value;

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
    let _g = common::ShmGuard(name.clone());
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
    let table = stdout_ok(["ls"]);
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
    let _g = common::ShmGuard(name.clone());
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
    let none = stdout_ok(["receipts", &name]);
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
    let table = stdout_ok(["receipts", &name]);
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
    let again = stdout_ok(["receipts", &name]);
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
