//! Helpers shared by the CLI integration tests: unique queue names that are
//! always removed, and the real `pmq` binary.
#![allow(dead_code)]

#[path = "../../../tests/common/prefix.rs"]
mod prefix;

use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use assert_cmd::Command;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Path of the `pmq` binary built for these tests.
pub const PMQ: &str = env!("CARGO_BIN_EXE_pmq");

/// A queue name unique to this process and call: `/pmq-cli-TAG-PID-N`.
pub fn unique(tag: &str) -> String {
    prefix::named(format!(
        "/pmq-cli-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ))
}

/// Removes the queue when dropped, whether the test passed or not.
pub struct Guard(pub String);

impl Guard {
    /// A unique name, removed at the end of the test.
    pub fn new(tag: &str) -> Guard {
        Guard(unique(tag))
    }

    /// A unique name for a queue created now (small: 4 x 64 bytes by default).
    pub fn created(tag: &str, max_messages: u32, max_size: u32) -> Guard {
        let g = Guard::new(tag);
        pmq()
            .args(["create", &g.0, "--max-messages"])
            .arg(max_messages.to_string())
            .arg("--max-size")
            .arg(max_size.to_string())
            .assert()
            .success();
        g
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = pmq::unlink(&self.0);
    }
}

/// Removes the shared-memory queue of that name when dropped, whether the
/// test passed or not.
pub struct ShmGuard(pub String);

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = pmq::unlink_from(pmq::BackendKind::Shm, &self.0);
    }
}

/// The `pmq` binary as an assert_cmd command.
pub fn pmq() -> Command {
    Command::new(PMQ)
}

/// The `pmq` binary as a plain std command (for spawn and pipes).
pub fn pmq_std() -> StdCommand {
    StdCommand::new(PMQ)
}

/// Stdout of a finished command as text.
/// Runs pmq with `args`, asserts it succeeded and returns its stdout.
pub fn stdout_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    text(&pmq().args(args).assert().success().get_output().stdout)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends SIGINT or SIGTERM to a child.
pub fn signal(pid: u32, signo: i32) {
    // SAFETY: kill has no memory-safety preconditions; the pid is a child
    // of this process that has not been waited for yet, so it cannot have
    // been reused.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signo) };
    assert_eq!(rc, 0, "kill({pid}, {signo}) failed");
}

/// This process's real user name (from /etc/passwd), or its uid.
pub fn user_name() -> String {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

/// Every stderr line of a failing command must be one line starting "pmq: ".
pub fn one_line_error(stderr: &[u8]) -> String {
    let s = text(stderr);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {s:?}");
    assert!(lines[0].starts_with("pmq: "), "error line: {s:?}");
    lines[0].to_string()
}

/// Parses a command's JSON output.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", text(bytes)))
}

/// The whitespace-separated cells of the `ls` row for `name`.
pub fn ls_row(name: &str) -> Vec<String> {
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
