//! `pmq stat`: one queue in detail.

use crate::cmd::{check_name, dash, print_json, CmdResult};
use crate::{fail, mqfs};

pub fn stat(name: &str, json: bool, kind: pmq::BackendKind) -> CmdResult {
    check_name(name)?;
    let q = if kind == pmq::BackendKind::Shm {
        mqfs::one_shm(name)?
    } else {
        let dir = mqfs::require_mounted()?;
        mqfs::one(&dir, name)?
    };
    if json {
        print_json(&q)?;
        return Ok(fail::OK);
    }
    let messages = match (q.messages, q.max_messages) {
        (Some(m), Some(max)) => format!("{m} of {max}"),
        _ => "- (cannot open the queue)".to_string(),
    };
    let size = match q.max_message_size {
        Some(s) => format!("at most {s} bytes"),
        None => "-".to_string(),
    };
    let notify = match &q.notify {
        Some(n) => match n.signal {
            Some(s) => format!(
                "process {} ({}) gets signal {s} when the queue becomes non-empty",
                n.pid,
                n.command.as_deref().unwrap_or("?")
            ),
            None => format!(
                "process {} ({}) is registered ({})",
                n.pid,
                n.command.as_deref().unwrap_or("?"),
                n.method
            ),
        },
        None => "none".to_string(),
    };
    let cost = match q.cost {
        Some(c) => format!("{c} bytes of {}'s RLIMIT_MSGQUEUE", q.owner),
        None => "-".to_string(),
    };
    println!("name:          {}", q.name);
    println!("backend:       {}", q.backend);
    println!("path:          {}", q.path);
    println!("messages:      {messages}");
    println!("bytes queued:  {}", dash(q.bytes));
    println!("message size:  {size}");
    println!("mode:          {} ({})", q.mode, mqfs::mode_text(&q.mode));
    println!(
        "owner:         {} (uid {}), group {} (gid {})",
        q.owner, q.uid, q.group, q.gid
    );
    println!("notification:  {notify}");
    println!("memory charge: {cost}");
    if let Some(c) = &q.counters {
        println!(
            "counters:      {} committed, {} received, {} recoveries (lock owner found dead)",
            c.committed, c.received, c.recoveries
        );
        println!("invariants:    {}", c.invariants);
        if let Some(l) = c.leases_text() {
            println!("leases:        {l}");
        }
    }
    if let Some(why) = &q.unreadable {
        println!("note:          {why}");
    }
    Ok(fail::OK)
}
