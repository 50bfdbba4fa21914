//! Exit codes and the one-line errors the CLI prints.

use pmq::ErrorKind;

/// Success.
pub const OK: i32 = 0;
/// Any failure not listed below (system limits, message too large, OS errors, output closed).
pub const OTHER: i32 = 1;
/// Bad usage: unknown option, bad queue name, bad number, bad timeout or priority.
pub const USAGE: i32 = 2;
/// Timed out or would block: the queue stayed full (send) or empty (recv).
pub const BUSY: i32 = 3;
/// The queue does not exist.
pub const NOT_FOUND: i32 = 4;
/// Permission denied.
pub const PERMISSION: i32 = 5;
/// The queue already exists (`create --exclusive`).
pub const EXISTS: i32 = 6;

/// The table printed by `pmq --help` and documented in docs/src/cli.md.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    ok
  1    other error (system limit, message too large, mqueue fs not mounted,
       OS error, output closed)
  2    bad usage (unknown option, bad name, number, timeout or priority)
  3    timed out / would block (queue stayed full on send, empty on recv)
  4    queue not found
  5    permission denied
  6    queue already exists (create --exclusive)
  128+N  recv (without --follow) stopped by signal N before its messages arrived";

/// A failure to report: the exit code and one line saying what to do.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Ends the process with the command's exit code, printing its failure
/// (one line, `pmq: ...`) first.
pub fn exit(result: Result<i32, Failure>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(f) => {
            eprintln!("pmq: {}", f.message);
            std::process::exit(f.code);
        }
    }
}

/// The exit code for a pmq error kind.
pub fn code_for(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Busy => BUSY,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Permission => PERMISSION,
        ErrorKind::Exists => EXISTS,
        ErrorKind::InvalidArgument => USAGE,
        _ => OTHER,
    }
}

impl From<pmq::Error> for Failure {
    fn from(e: pmq::Error) -> Failure {
        Failure::new(code_for(e.kind()), e.detail())
    }
}

/// An error from opening `name`, worded for the command line: a missing
/// queue points at `pmq create` rather than at the C API's O_CREAT.
pub fn open_failure(e: pmq::Error, name: &str, kind: pmq::BackendKind) -> Failure {
    if e.kind() == ErrorKind::NotFound {
        // The hint names the backend the command used, so pasting it makes
        // the queue where the command looked.
        let shm = if kind == pmq::BackendKind::Shm {
            "--backend shm "
        } else {
            ""
        };
        Failure::new(
            NOT_FOUND,
            format!(
                "queue {name} does not exist; create it with `pmq {shm}create {name}` \
                 (`pmq {shm}ls` lists the queues)"
            ),
        )
    } else {
        Failure::from(e)
    }
}

/// Input for one message (`what`: "standard input", "the line") that is
/// longer than queue `name`'s max_message_size: worded like the library's
/// message-too-large error, with its exit code. The input is read no
/// further than one byte past the limit, so its full size is not known.
pub fn input_too_large(what: &str, name: &str, max: u64) -> Failure {
    Failure::new(
        code_for(ErrorKind::MessageTooLarge),
        format!(
            "{what} is longer than queue {name}'s max_message_size of {max} bytes (read no \
             further); send less, or create the queue with a larger max_message_size"
        ),
    )
}
