//! Helpers shared by the bridge's integration tests: unique queue names,
//! signals, error lines, and the two ways a bridge runs: the `pmq-bridge`
//! program itself, or `pmq bridge`, which runs it.
#![allow(dead_code)]

#[path = "../../../tests/common/prefix.rs"]
mod prefix;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Path of the `pmq-bridge` binary built for these tests.
pub const PMQ_BRIDGE: &str = env!("CARGO_BIN_EXE_pmq-bridge");

/// The `pmq` command built beside `pmq-bridge` (same target directory):
/// `pmq bridge` finds the program next to itself. Built by `make test-cli`
/// (cargo test -p pmq-bridge alone builds only pmq-bridge).
pub fn pmq() -> PathBuf {
    let p = PathBuf::from(PMQ_BRIDGE).with_file_name("pmq");
    assert!(
        p.is_file(),
        "{} is not built: the `pmq bridge` tests run the pmq command beside pmq-bridge; \
         build it first with `cargo build -p pmq-cli` (make test-cli does)",
        p.display()
    );
    p
}

/// How a test runs a bridge: its arguments are those of `pmq` (`--backend
/// shm bridge out ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// `pmq-bridge --backend shm out ...` (the `bridge` word left out).
    Program,
    /// `pmq --backend shm bridge out ...`, which runs pmq-bridge.
    Pmq,
}

/// The command that runs a bridge with `pmq` arguments `args`.
pub fn bridge_command<S: AsRef<OsStr>>(face: Face, args: &[S]) -> Command {
    match face {
        Face::Pmq => {
            let mut c = Command::new(pmq());
            c.args(args);
            c
        }
        Face::Program => {
            let mut c = Command::new(PMQ_BRIDGE);
            let mut dropped = false;
            for a in args {
                if !dropped && a.as_ref() == OsStr::new("bridge") {
                    dropped = true;
                    continue;
                }
                c.arg(a);
            }
            c
        }
    }
}

/// A queue name unique to this process and call: `/pmq-bridge-TAG-PID-N`.
pub fn unique(tag: &str) -> String {
    prefix::named(format!(
        "/pmq-bridge-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ))
}

/// Output of a finished command as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends a signal to a child.
pub fn signal(pid: u32, signo: i32) {
    // SAFETY: kill has no memory-safety preconditions; the pid is a child
    // of this process that has not been waited for yet, so it cannot have
    // been reused.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signo) };
    assert_eq!(rc, 0, "kill({pid}, {signo}) failed");
}

/// Every stderr line of a failing command must be one line starting "pmq: ".
pub fn one_line_error(stderr: &[u8]) -> String {
    let s = text(stderr);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {s:?}");
    assert!(lines[0].starts_with("pmq: "), "error line: {s:?}");
    lines[0].to_string()
}
