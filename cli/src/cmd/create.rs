//! `pmq create`: create a queue, or say how the existing one is.

use pmq::ErrorKind;

use crate::args::options;
use crate::cmd::{check_name, CmdResult};
use crate::fail::{self, open_failure, Failure};
use crate::mqfs;

/// The queue's real mode from the mqueue filesystem, when it is mounted.
fn real_mode(kind: pmq::BackendKind, name: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = if kind == pmq::BackendKind::Shm {
        pmq::queue_file(kind, name).ok()?
    } else {
        let dir = mqfs::dir();
        if !mqfs::is_mounted(&dir) {
            return None;
        }
        dir.join(name.trim_start_matches('/'))
    };
    let meta = std::fs::metadata(path).ok()?;
    Some(format!("{:04o}", meta.permissions().mode() & 0o7777))
}

pub fn create(
    kind: pmq::BackendKind,
    name: &str,
    max_messages: Option<i64>,
    max_size: Option<i64>,
    mode: u32,
    exclusive: bool,
) -> CmdResult {
    check_name(name)?;
    let mut opts = options(kind);
    opts.read(true)
        .write(false)
        .block(false)
        .exclusive(true)
        .mode(mode);
    if let Some(n) = max_messages {
        opts.max_messages(n);
    }
    if let Some(n) = max_size {
        opts.max_message_size(n);
    }
    match opts.open(Some(name)) {
        Ok(q) => {
            let shown = real_mode(kind, name).unwrap_or_else(|| format!("{mode:04o}"));
            println!(
                "created {name}: {} messages of at most {} bytes, mode {shown}",
                q.max_messages(),
                q.max_message_size()
            );
            Ok(fail::OK)
        }
        Err(e) if e.kind() == ErrorKind::Exists => {
            if exclusive {
                return Err(Failure::new(
                    fail::EXISTS,
                    format!(
                        "queue {name} already exists; remove it first with `pmq rm {name}`, \
                         or leave out --exclusive to keep it"
                    ),
                ));
            }
            let existing = options(kind)
                .read(true)
                .write(false)
                .block(false)
                .open(Some(name))
                .or_else(|e| {
                    if e.kind() == ErrorKind::Permission {
                        options(kind)
                            .read(false)
                            .write(true)
                            .block(false)
                            .open(Some(name))
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| open_failure(e, name, kind))?;
            let shown = real_mode(kind, name).unwrap_or_else(|| "?".to_string());
            println!(
                "{name} already exists: {} messages of at most {} bytes, mode {shown}; \
                 left as it is",
                existing.max_messages(),
                existing.max_message_size()
            );
            Ok(fail::OK)
        }
        Err(e) => Err(open_failure(e, name, kind)),
    }
}
