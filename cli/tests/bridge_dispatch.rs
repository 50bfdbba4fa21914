//! `pmq bridge ...` runs the separate program `pmq-bridge` (crate bridge/),
//! found next to the pmq executable, else on PATH, as cargo runs cargo-foo.
//! These tests put a copy of pmq in a directory of its own with a stand-in
//! `pmq-bridge` script, so they need neither NATS nor the real bridge (its
//! own tests, bridge/tests/bridge/, run it both ways): the arguments after
//! `bridge` (and --backend), standard input, output and error, the process
//! id and the exit status must all be the program's; a missing program is
//! one error line naming it.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::PMQ;

/// A fresh directory under cargo's per-target temporary directory (the
/// same file system as the pmq binary, so it can be hard-linked there).
fn fresh_dir(tag: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bridge-dispatch-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// `dir/pmq`: the pmq under test (a hard link, or a copy).
fn pmq_in(dir: &Path) -> PathBuf {
    let p = dir.join("pmq");
    if fs::hard_link(PMQ, &p).is_err() {
        fs::copy(PMQ, &p).unwrap();
    }
    p
}

/// `dir/pmq-bridge`: prints its pid and arguments, copies standard input
/// to standard output, writes a line to standard error, exits 7.
fn stand_in(dir: &Path) {
    let p = dir.join("pmq-bridge");
    fs::write(
        &p,
        "#!/bin/sh\necho \"pid $$\"\nfor a in \"$@\"; do echo \"arg [$a]\"; done\ncat\n\
         echo 'stand-in stderr' >&2\nexit 7\n",
    )
    .unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `pmq ARGS` with PATH set, "hello" on standard input; (pid, status
/// code, stdout, stderr).
fn run(pmq: &Path, path: &str, args: &[&str]) -> (u32, Option<i32>, String, String) {
    let mut child = Command::new(pmq)
        .args(args)
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // A pmq that ends without reading (the missing-program case) may be
    // gone before this write: a broken pipe then is not a failure (the
    // stand-in's output shows whether its input arrived).
    match child.stdin.take().unwrap().write_all(b"hello\n") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    let out = child.wait_with_output().unwrap();
    (
        pid,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The system's directories only: no pmq-bridge there.
const SYSTEM_PATH: &str = "/usr/bin:/bin";

#[test]
fn dispatch_runs_the_program_beside_pmq_with_args_stdio_pid_and_status() {
    let dir = fresh_dir("beside");
    let pmq = pmq_in(&dir);
    stand_in(&dir);
    let (pid, code, stdout, stderr) = run(
        &pmq,
        SYSTEM_PATH,
        &[
            "--backend",
            "shm",
            "bridge",
            "out",
            "/jobs",
            "--nats",
            "nats://127.0.0.1:1",
            "--subject",
            "a.b",
        ],
    );
    let _ = fs::remove_dir_all(&dir);
    let expected = format!(
        "pid {pid}\narg [--backend]\narg [shm]\narg [out]\narg [/jobs]\narg [--nats]\n\
         arg [nats://127.0.0.1:1]\narg [--subject]\narg [a.b]\nhello\n"
    );
    assert_eq!(stdout, expected, "stderr: {stderr}");
    assert_eq!(stderr, "stand-in stderr\n");
    assert_eq!(code, Some(7));
}

#[test]
fn dispatch_passes_a_backend_given_after_the_subcommand_once() {
    let dir = fresh_dir("after");
    let pmq = pmq_in(&dir);
    stand_in(&dir);
    let (_, code, stdout, stderr) = run(
        &pmq,
        SYSTEM_PATH,
        &[
            "bridge",
            "in",
            "/jobs",
            "--durable",
            "d",
            "--nats",
            "nats://h:1",
            "--subject",
            "a",
            "--backend",
            "kernel",
        ],
    );
    let _ = fs::remove_dir_all(&dir);
    let args: Vec<&str> = stdout.lines().filter(|l| l.starts_with("arg ")).collect();
    // Given after `bridge`, --backend is among the passed arguments; pmq
    // adds it in front too (the program, like pmq, takes the last one).
    assert_eq!(
        args,
        [
            "arg [--backend]",
            "arg [kernel]",
            "arg [in]",
            "arg [/jobs]",
            "arg [--durable]",
            "arg [d]",
            "arg [--nats]",
            "arg [nats://h:1]",
            "arg [--subject]",
            "arg [a]",
            "arg [--backend]",
            "arg [kernel]",
        ],
        "stderr: {stderr}"
    );
    assert_eq!(code, Some(7));
}

#[test]
fn dispatch_finds_the_program_on_path_when_none_is_beside_pmq() {
    let dir = fresh_dir("path-pmq");
    let pmq = pmq_in(&dir);
    let bin = fresh_dir("path-bin");
    stand_in(&bin);
    let path = format!("{}:{SYSTEM_PATH}", bin.display());
    let (_, code, stdout, stderr) = run(
        &pmq,
        &path,
        &["bridge", "out", "/q", "--nats", "n://h:1", "--subject", "s"],
    );
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&bin);
    assert!(
        stdout.contains("arg [out]\narg [/q]\n"),
        "{stdout} {stderr}"
    );
    assert_eq!(code, Some(7));
}

#[test]
fn dispatch_names_the_missing_program_in_one_line() {
    let dir = fresh_dir("missing");
    let pmq = pmq_in(&dir);
    let (_, code, stdout, stderr) = run(
        &pmq,
        SYSTEM_PATH,
        &["bridge", "out", "/q", "--nats", "n://h:1", "--subject", "s"],
    );
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(stdout, "");
    assert_eq!(code, Some(1), "{stderr}");
    let line = common::one_line_error(stderr.as_bytes());
    assert!(
        line.contains("runs the program pmq-bridge")
            && line.contains(&format!("next to pmq ({})", dir.display()))
            && line.contains("nor on PATH"),
        "{line}"
    );
}
