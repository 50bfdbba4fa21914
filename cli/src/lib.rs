//! The `pmq` command's library: its argument definitions, subcommands,
//! exit codes and output. The `pmq` binary (main.rs) only dispatches; the
//! separate `pmq-bridge` program (crate bridge/) uses the bridge's argument
//! definitions, exit codes, signal flag and rendering from here, so the
//! plain command's dependency tree has no NATS client and no async runtime.
//!
//! Built on the safe core of the pmq library; everything about the mqueue
//! filesystem (listing, status lines, owners) lives here, not in the library.

pub mod args;
pub mod assets;
pub mod bridge_args;
pub mod cmd;
pub mod fail;
mod mqfs;
pub mod render;
mod shm_counters;
pub mod signals;

pub use cmd::CmdResult;
