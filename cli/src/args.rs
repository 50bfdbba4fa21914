//! The command line: every subcommand's arguments (clap derive), and the
//! backend chosen with --backend.

use std::ffi::OsString;

use clap::{Parser, Subcommand};
use pmq::OpenOptions;

use crate::bridge_args;
use crate::fail;
use crate::render::Format;

#[derive(Parser, Debug)]
#[command(
    name = "pmq",
    version,
    about = "See, create, feed, drain and remove POSIX message queues",
    after_help = fail::EXIT_CODES_HELP
)]
pub struct Cli {
    /// Which queues: kernel (mq_open queues, the default) or shm (pmq's shared-memory
    /// queues in /dev/shm). `ls` without it lists both.
    #[arg(long, global = true, value_enum)]
    pub backend: Option<BackendArg>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Kernel,
    Shm,
}

/// The backend a command on one queue works on: --backend, else the kernel.
pub fn kind(arg: Option<BackendArg>) -> pmq::BackendKind {
    match arg {
        Some(BackendArg::Shm) => pmq::BackendKind::Shm,
        _ => pmq::BackendKind::Kernel,
    }
}

/// Options for queues of `kind`.
pub fn options(kind: pmq::BackendKind) -> OpenOptions {
    let mut o = OpenOptions::new();
    o.backend(kind);
    o
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List queues: messages, bytes, capacity, mode, owner, notification holder
    ///
    /// A name that is not UTF-8 (made by some other program) is shown escaped as
    /// `recv --format text` escapes a message: \xHH for each such byte, \\ for \.
    Ls {
        /// Only these queues (default: every queue on the system)
        names: Vec<String>,
        /// Print JSON (an array of objects) instead of a table; each object's "name_utf8" is
        /// false for a name that is not UTF-8 (escaped in "name"), "name_hex" has the name's bytes
        #[arg(long)]
        json: bool,
    },
    /// Show one queue in detail
    Stat {
        /// Queue name, e.g. /jobs
        name: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Receipts that dead receivers left in a shared-memory queue: the last message each
    /// receiver killed (or exited without closing) took, so nothing it took is silently gone
    ///
    /// A receiver writes its receipt just before its take commits, so STATE says what
    /// happened: "taken" (the take committed: the message left the queue with the dead
    /// receiver; the case to recover), "queued" (the take did not commit: the message is
    /// still in the queue and a receiver will get it), "delivered" (the take did not commit
    /// and another receiver has taken the message since). HEAD is the message's first 16
    /// bytes, escaped as `recv --format text` escapes. Reading changes nothing; SEQ names a
    /// message once in the queue's life. Works on `--backend shm` queues (the default here);
    /// the kernel backend keeps no receipts.
    Receipts {
        /// Queue name, e.g. /jobs
        name: String,
        /// Print JSON (an array of objects) instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Create a queue (an existing one is left as it is unless --exclusive)
    Create {
        /// Queue name, e.g. /jobs
        name: String,
        /// Capacity in messages [default: fs.mqueue.msg_max]
        #[arg(long, value_name = "N")]
        max_messages: Option<i64>,
        /// Largest message in bytes [default: fs.mqueue.msgsize_max]
        #[arg(long, value_name = "N")]
        max_size: Option<i64>,
        /// Permission bits in octal (masked by the umask)
        #[arg(long, value_name = "OCTAL", default_value = "0600", value_parser = parse_mode)]
        mode: u32,
        /// Fail (exit 6) if the queue already exists
        #[arg(long)]
        exclusive: bool,
    },
    /// Remove queues (open handles keep working until closed)
    Rm {
        /// Queue names
        #[arg(required = true)]
        names: Vec<String>,
        /// Say nothing and succeed when a queue does not exist
        #[arg(short, long)]
        force: bool,
    },
    /// Send a message: MESSAGE, or standard input (whole, or one message per line with --lines)
    Send {
        /// Queue name, e.g. /jobs
        name: String,
        /// The message (default: read standard input)
        #[arg(conflicts_with = "lines")]
        message: Option<OsString>,
        /// Message priority; higher is received first
        #[arg(short, long, default_value_t = 0,
              value_parser = clap::value_parser!(u32).range(0..=pmq::PRIORITY_MAX as i64))]
        priority: u32,
        /// Wait at most S seconds for room in a full queue (0: do not wait; a wait too long
        /// for the clock to hold, e.g. 1e19, is forever) [default: wait forever]
        #[arg(short, long, value_name = "S", allow_negative_numbers = true)]
        timeout: Option<f64>,
        /// Send each line of standard input as one message (without its newline)
        #[arg(long)]
        lines: bool,
    },
    /// Receive messages and print them with their priorities
    Recv {
        /// Queue name, e.g. /jobs
        name: String,
        /// Receive N messages [default: 1]
        #[arg(short = 'n', long, value_name = "N", conflicts_with = "follow",
              value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
        /// Keep receiving until SIGINT/SIGTERM (Ctrl-C), or until --timeout passes with no message
        #[arg(short, long)]
        follow: bool,
        /// Wait at most S seconds for each message (0: do not wait; a wait too long for the
        /// clock to hold, e.g. 1e19, is forever) [default: wait forever]
        #[arg(short, long, value_name = "S", allow_negative_numbers = true)]
        timeout: Option<f64>,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// At least once (shm queues): lease each message, print it, flush the output (and
        /// fsync it if it is a file), then ack it; a message not printed (the output failed, or
        /// pmq was killed) goes back to the queue and is received again
        #[arg(long)]
        ack: bool,
        /// With --ack: a message not acked within S seconds goes back to the queue even while
        /// pmq waits on its output [default: none; it goes back only when pmq ends]
        #[arg(long, value_name = "S", requires = "ack", value_parser = parse_visibility)]
        visibility: Option<std::time::Duration>,
        /// With --ack: hand a message out at most N times; one more delivery moves it to
        /// --dead-letter (or drops it) instead [default: no limit]
        #[arg(long, value_name = "N", requires = "ack",
              value_parser = clap::value_parser!(u32).range(1..))]
        max_deliveries: Option<u32>,
        /// With --max-deliveries: the queue (same backend, created like this one if missing)
        /// that messages delivered too often go to [default: they are dropped]
        #[arg(long, value_name = "NAME", requires = "max_deliveries")]
        dead_letter: Option<String>,
    },
    /// System limits, and this user's usage of RLIMIT_MSGQUEUE, with how to raise each limit
    Limits {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Bridge a local queue to or from NATS JetStream, losing no message when a bridge or
    /// the server is killed (docs/src/bridge.md)
    #[command(subcommand)]
    Bridge(Box<bridge_args::BridgeCmd>),
}

/// A visibility timeout: seconds above 0 that a Duration can hold.
fn parse_visibility(s: &str) -> Result<std::time::Duration, String> {
    let bad = || {
        format!(
            "--visibility {s:?} is not a number of seconds above 0; use e.g. --visibility 30 \
             (or leave it out: the lease then lasts until pmq acks it or ends)"
        )
    };
    let secs: f64 = s.trim().parse().map_err(|_| bad())?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(bad());
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(format!(
            "mode {s:?} is not octal permission bits; use e.g. 0600 (owner only) or 0660"
        )),
    }
}
