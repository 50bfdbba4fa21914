//! `pmq-bridge`: a local POSIX message queue to and from NATS JetStream,
//! losing nothing when a bridge or the server is killed (see
//! docs/src/bridge.md, for exactly what is guaranteed).
//!
//! A program of its own, so that the plain `pmq` command carries no NATS
//! client or async runtime; `pmq bridge ...` runs it (cli/src/cmd/bridge.rs)
//! with the same arguments, which are defined once in the command's library
//! (`pmq_cli::bridge_args`).

/// Prints a line to standard error, prefixed like the CLI's errors.
macro_rules! note {
    ($($arg:tt)*) => { eprintln!("pmq: {}", format!($($arg)*)) };
}

mod common;
mod inb;
mod journal;
mod out;
mod out_lease;

use clap::Parser;

use pmq_cli::args::BackendArg;
use pmq_cli::bridge_args::BridgeCmd;
use pmq_cli::fail;

#[derive(Parser, Debug)]
#[command(
    name = "pmq-bridge",
    version,
    about = "Bridge a local queue to or from NATS JetStream, losing no message when a bridge \
             or the server is killed (`pmq bridge` runs this program)",
    after_help = fail::EXIT_CODES_HELP
)]
struct Cli {
    /// Which queue: kernel (an mq_open queue, the default) or shm (pmq's
    /// shared-memory queue in /dev/shm)
    #[arg(long, global = true, value_enum)]
    backend: Option<BackendArg>,
    #[command(subcommand)]
    command: BridgeCmd,
}

fn main() {
    let cli = Cli::parse();
    let kind = pmq_cli::args::kind(cli.backend);
    fail::exit(match cli.command {
        BridgeCmd::Out(a) => out::run(a, kind),
        BridgeCmd::In(a) => inb::run(a, kind),
    })
}
