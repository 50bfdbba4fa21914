//! `pmq bridge ...`: runs the separate program `pmq-bridge` (crate bridge/),
//! as cargo runs `cargo-foo` for `cargo foo`. `pmq` has already checked the
//! arguments (their definitions are shared, crate::bridge_args, so help,
//! man page and completions show them); the program is found next to the
//! `pmq` executable, else on PATH, and replaces this process (exec): the
//! arguments, standard input, output and error, the process id (so a
//! supervisor's signals reach the bridge) and the exit status are the
//! bridge's own.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use crate::args::BackendArg;
use crate::cmd::CmdResult;
use crate::fail::{self, Failure};

/// The program `pmq bridge` runs.
pub const PROGRAM: &str = "pmq-bridge";

/// Runs `pmq-bridge` with the arguments that followed `bridge` on this
/// command line (and `--backend`, wherever it was given). Returns only when
/// the program could not be started.
pub fn run(backend: Option<BackendArg>) -> CmdResult {
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut args: Vec<OsString> = Vec::new();
    if let Some(b) = backend {
        let name = match b {
            BackendArg::Kernel => "kernel",
            BackendArg::Shm => "shm",
        };
        args.extend(["--backend".into(), name.into()]);
    }
    args.extend(after_bridge(&raw).iter().cloned());
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(PROGRAM)));
    let program = match &beside {
        Some(p) if p.is_file() => p.clone(),
        _ => PathBuf::from(PROGRAM),
    };
    let e = Command::new(&program).args(&args).exec();
    if e.kind() == std::io::ErrorKind::NotFound {
        let dir = beside
            .as_deref()
            .and_then(|p| p.parent())
            .map(|d| format!(" ({})", d.display()))
            .unwrap_or_default();
        return Err(Failure::new(
            fail::OTHER,
            format!(
                "`pmq bridge` runs the program {PROGRAM}, which is neither next to pmq{dir} \
                 nor on PATH; install it beside pmq (`make install` installs both, or \
                 `cargo install --path bridge`)"
            ),
        ));
    }
    Err(Failure::new(
        fail::OTHER,
        format!("cannot run {}: {e}", program.display()),
    ))
}

/// The arguments after the `bridge` subcommand. Before it, clap accepted
/// only the global `--backend` (with its value, in the next argument or
/// after `=`), which is passed on separately.
fn after_bridge(raw: &[OsString]) -> &[OsString] {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == OsStr::new("--backend") {
            i += 2;
            continue;
        }
        if raw[i] == OsStr::new("bridge") {
            return &raw[i + 1..];
        }
        i += 1;
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments_following_the_subcommand_are_passed_on() {
        assert_eq!(
            after_bridge(&os(&["bridge", "out", "/q", "--nats", "x"])),
            &os(&["out", "/q", "--nats", "x"])[..]
        );
        // `--backend bridge`: a value, not the subcommand (clap refuses it,
        // but the scan must not take it for one).
        assert_eq!(
            after_bridge(&os(&["--backend", "bridge", "bridge", "in", "/q"])),
            &os(&["in", "/q"])[..]
        );
        assert_eq!(
            after_bridge(&os(&["--backend=shm", "bridge", "out"])),
            &os(&["out"])[..]
        );
        // A queue named like the subcommand, after it, stays an argument.
        assert_eq!(
            after_bridge(&os(&["bridge", "out", "bridge"])),
            &os(&["out", "bridge"])[..]
        );
    }
}
