//! The subcommands, one file each, and what they share: the result type,
//! name checks and the JSON printer.

pub mod bridge;
pub mod create;
pub mod limits;
pub mod ls;
pub mod receipts;
pub mod recv;
pub mod rm;
pub mod send;
pub mod stat;

use serde::Serialize;

use crate::fail::{self, Failure};

pub type CmdResult = Result<i32, Failure>;

pub(crate) fn check_name(name: &str) -> Result<(), Failure> {
    pmq::BackendKind::Kernel
        .validate_name(name)
        .map_err(Failure::from)
}

pub(crate) fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(fail::OTHER, format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

pub(crate) fn dash<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".to_string())
}
