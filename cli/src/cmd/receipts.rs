//! `pmq receipts`: what dead receivers took from a shared-memory queue.

use std::io::{self, Write};

use pmq::OpenOptions;
use serde::Serialize;

use crate::args::BackendArg;
use crate::cmd::{check_name, print_json, CmdResult};
use crate::fail::{self, open_failure};
use crate::render;

/// One receipt of `pmq receipts --json`.
#[derive(Serialize)]
struct ReceiptRow {
    pid: u32,
    seq: u64,
    priority: u32,
    len: u32,
    /// "taken", "queued" or "delivered" (see the command's help).
    state: &'static str,
    taken: bool,
    queued: bool,
    /// The message's first bytes (up to 16), escaped as text.
    head: String,
    head_hex: String,
}

pub fn receipts(name: &str, json: bool, which: Option<BackendArg>) -> CmdResult {
    check_name(name)?;
    // Only the shared-memory backend keeps receipts: it is the default
    // here; an explicit --backend kernel gets the library's explanation.
    let kind = match which {
        Some(BackendArg::Kernel) => pmq::BackendKind::Kernel,
        _ => pmq::BackendKind::Shm,
    };
    let q = OpenOptions::new()
        .backend(kind)
        .read(true)
        .write(false)
        .block(false)
        .open(Some(name))
        .map_err(|e| open_failure(e, name, kind))?;
    let rows: Vec<ReceiptRow> = q
        .dead_receipts()?
        .into_iter()
        .map(|d| {
            let head = &d.receipt.head[..(d.receipt.len as usize).min(d.receipt.head.len())];
            ReceiptRow {
                pid: d.pid,
                seq: d.receipt.seq,
                priority: d.receipt.priority,
                len: d.receipt.len,
                state: match (d.taken, d.queued) {
                    (true, _) => "taken",
                    (false, true) => "queued",
                    (false, false) => "delivered",
                },
                taken: d.taken,
                queued: d.queued,
                head: render::escape(head),
                head_hex: render::hex(head),
            }
        })
        .collect();
    if json {
        print_json(&rows)?;
        return Ok(fail::OK);
    }
    if rows.is_empty() {
        println!("no receipts of dead receivers in {name}");
        return Ok(fail::OK);
    }
    let header = ["PID", "SEQ", "PRIORITY", "LEN", "STATE", "HEAD"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.pid.to_string(),
                r.seq.to_string(),
                r.priority.to_string(),
                r.len.to_string(),
                r.state.to_string(),
                r.head.clone(),
            ]
        })
        .collect();
    use render::Align::{Left as L, Right as R};
    let mut out = io::stdout().lock();
    for l in render::table(&header, &[R, R, R, R, L, L], &cells) {
        let _ = writeln!(out, "{l}");
    }
    Ok(fail::OK)
}
