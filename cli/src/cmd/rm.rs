//! `pmq rm`: remove queues.

use pmq::ErrorKind;

use crate::cmd::CmdResult;
use crate::fail::{self, Failure};

pub fn rm(kind: pmq::BackendKind, names: &[String], force: bool) -> CmdResult {
    let mut code = fail::OK;
    for name in names {
        match pmq::unlink_from(kind, name) {
            Ok(()) => {}
            Err(e) if force && e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                let f = Failure::from(e);
                eprintln!("pmq: {}", f.message);
                if code == fail::OK {
                    code = f.code;
                }
            }
        }
    }
    Ok(code)
}
