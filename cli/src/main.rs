//! `pmq`: see, create, feed, drain and remove POSIX message queues from a shell.
//!
//! Dispatch only: the subcommands are in the library (lib.rs, cmd/).

use clap::Parser;

use pmq_cli::args::{self, Cli, Command};
use pmq_cli::cmd::{bridge, create, limits, ls, receipts, recv, rm, send, stat};
use pmq_cli::{assets, fail};

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
            ack,
            visibility,
            max_deliveries,
            dead_letter,
        } => {
            let lease = ack.then(|| recv::LeaseArgs {
                visibility,
                max_deliveries: max_deliveries.unwrap_or(0),
                dead_letter,
            });
            let how = recv::How {
                count: count.unwrap_or(1),
                follow,
                timeout,
                format,
                lease,
            };
            recv::recv(kind, &name, how)
        }
        Command::Limits { json } => limits::limits(json),
        Command::Bridge(_) => bridge::run(cli.backend),
    };
    fail::exit(result)
}
