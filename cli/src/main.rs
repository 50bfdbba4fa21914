//! `pmq`: see, create, feed, drain and remove POSIX message queues from a shell.
//!
//! Built on the safe core of the pmq library; everything about the mqueue
//! filesystem (listing, status lines, owners) lives here, not in the library.

mod args;
mod assets;
mod bridge;
mod cmd;
mod fail;
mod mqfs;
mod render;
mod signals;

use clap::Parser;

use args::{Cli, Command};
pub(crate) use cmd::CmdResult;
use cmd::{create, limits, ls, receipts, recv, rm, send, stat};

fn main() {
    if let Some(dir) = std::env::var_os(assets::ENV) {
        // The build asks for the man page and completions (assets.rs).
        use clap::CommandFactory;
        if let Err(e) = assets::generate(Cli::command(), std::path::Path::new(&dir)) {
            eprintln!("pmq: writing the man page and completions into {dir:?}: {e}");
            std::process::exit(1);
        }
        return;
    }
    let cli = Cli::parse();
    let kind = args::kind(cli.backend);
    let result = match cli.command {
        Command::Ls { names, json } => ls::ls(&names, json, cli.backend),
        Command::Stat { name, json } => stat::stat(&name, json, kind),
        Command::Receipts { name, json } => receipts::receipts(&name, json, cli.backend),
        Command::Create {
            name,
            max_messages,
            max_size,
            mode,
            exclusive,
        } => create::create(kind, &name, max_messages, max_size, mode, exclusive),
        Command::Rm { names, force } => rm::rm(kind, &names, force),
        Command::Send {
            name,
            message,
            priority,
            timeout,
            lines,
        } => send::send(kind, &name, message, priority, timeout, lines),
        Command::Recv {
            name,
            count,
            follow,
            timeout,
            format,
        } => recv::recv(kind, &name, count.unwrap_or(1), follow, timeout, format),
        Command::Limits { json } => limits::limits(json),
        Command::Bridge(cmd) => bridge::run(*cmd, kind),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(f) => {
            eprintln!("pmq: {}", f.message);
            std::process::exit(f.code);
        }
    }
}
