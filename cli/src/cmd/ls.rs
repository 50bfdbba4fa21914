//! `pmq ls`: list queues of either backend, or both.

use std::io::{self, Write};

use crate::args::BackendArg;
use crate::cmd::{check_name, dash, print_json, CmdResult};
use crate::{fail, mqfs, render};

pub fn ls(names: &[String], json: bool, which: Option<BackendArg>) -> CmdResult {
    for n in names {
        check_name(n)?;
    }
    let kernel = which != Some(BackendArg::Shm);
    let shm = which != Some(BackendArg::Kernel);
    // The kernel's queues need the mqueue filesystem (`--backend shm` does not).
    let dir = if kernel {
        Some(mqfs::require_mounted()?)
    } else {
        None
    };
    let mut code = fail::OK;
    let mut queues = Vec::new();
    if names.is_empty() {
        if let Some(d) = &dir {
            queues.extend(mqfs::list(d)?);
        }
        if shm {
            queues.extend(mqfs::list_shm()?);
        }
    } else {
        for n in names {
            let found = match (&dir, shm) {
                // Either backend; if neither has it, the kernel's not-found.
                (Some(d), true) => mqfs::one(d, n).or_else(|f| mqfs::one_shm(n).map_err(|_| f)),
                (Some(d), false) => mqfs::one(d, n),
                (None, _) => mqfs::one_shm(n),
            };
            match found {
                Ok(q) => queues.push(q),
                Err(f) => {
                    eprintln!("pmq: {}", f.message);
                    if code == fail::OK {
                        code = f.code;
                    }
                }
            }
        }
    }
    if json {
        print_json(&queues)?;
        return Ok(code);
    }
    if queues.is_empty() {
        if names.is_empty() {
            let mut places = Vec::new();
            if let Some(d) = &dir {
                places.push(d.display().to_string());
            }
            if shm {
                places.push(format!("{} (shared-memory)", mqfs::shm_dir()));
            }
            println!("no queues in {}", places.join(" or "));
        }
        return Ok(code);
    }
    let header = [
        "NAME", "BACKEND", "MESSAGES", "BYTES", "MAX_MSGS", "MAX_SIZE", "MODE", "OWNER", "NOTIFY",
    ];
    let rows: Vec<Vec<String>> = queues
        .iter()
        .map(|q| {
            vec![
                q.name.clone(),
                q.backend.to_string(),
                dash(q.messages),
                dash(q.bytes),
                dash(q.max_messages),
                dash(q.max_message_size),
                q.mode.clone(),
                q.owner.clone(),
                q.notify
                    .as_ref()
                    .map(|n| n.describe())
                    .unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    use render::Align::{Left as L, Right as R};
    let mut out = io::stdout().lock();
    for l in render::table(&header, &[L, L, R, R, R, R, L, L, L], &rows) {
        let _ = writeln!(out, "{l}");
    }
    Ok(code)
}
