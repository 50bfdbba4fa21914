//! `pmq limits`: the system limits and this user's RLIMIT_MSGQUEUE usage.

use serde::Serialize;

use crate::cmd::{print_json, CmdResult};
use crate::{fail, mqfs, render};

#[derive(Serialize)]
struct LimitRow {
    name: &'static str,
    value: Option<u64>,
    meaning: String,
    raise: &'static str,
}

#[derive(Serialize)]
struct Usage {
    uid: u32,
    user: String,
    /// Queues this user owns that were counted.
    queues: usize,
    /// Sum of pmq::queue_cost over them: what the kernel charges to RLIMIT_MSGQUEUE.
    bytes: u64,
    /// Queues this user owns whose size could not be read (not counted).
    uncounted: usize,
    /// RLIMIT_MSGQUEUE soft limit minus `bytes` (null when unlimited).
    left: Option<u64>,
}

#[derive(Serialize)]
struct LimitsReport {
    limits: Vec<LimitRow>,
    rlimit_msgqueue_hard: Option<u64>,
    /// Queues on the system now (null when the mqueue filesystem is not mounted).
    queues_now: Option<usize>,
    /// This user's usage (null when the mqueue filesystem is not mounted).
    usage: Option<Usage>,
}

fn finite(v: u64) -> Option<u64> {
    (v != pmq::RLIMIT_INFINITY).then_some(v)
}

pub fn limits(json: bool) -> CmdResult {
    let l = pmq::Limits::read();
    let dir = mqfs::dir();
    let mounted = mqfs::is_mounted(&dir);
    let queues = if mounted {
        Some(mqfs::list(&dir)?)
    } else {
        None
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let usage = queues.as_ref().map(|qs| {
        // The kernel charges a queue to the user who created it (its owner).
        let mine: Vec<_> = qs.iter().filter(|q| q.uid == uid).collect();
        let bytes = mine
            .iter()
            .filter_map(|q| q.cost)
            .fold(0u64, u64::saturating_add);
        Usage {
            uid,
            user: mqfs::Names::load().user(uid),
            queues: mine.iter().filter(|q| q.cost.is_some()).count(),
            bytes,
            uncounted: mine.iter().filter(|q| q.cost.is_none()).count(),
            left: finite(l.rlimit_soft).map(|s| s.saturating_sub(bytes)),
        }
    });
    let n = |v: i64| Some(v.max(0) as u64);
    let rows = vec![
        LimitRow {
            name: "msg_max",
            value: n(l.msg_max),
            meaning: "most messages in one queue".into(),
            raise: "sysctl -w fs.mqueue.msg_max=N",
        },
        LimitRow {
            name: "msgsize_max",
            value: n(l.msgsize_max),
            meaning: "largest message, bytes".into(),
            raise: "sysctl -w fs.mqueue.msgsize_max=N",
        },
        LimitRow {
            name: "msg_default",
            value: n(l.msg_default),
            meaning: "capacity when mq_open gets no attributes".into(),
            raise: "sysctl -w fs.mqueue.msg_default=N",
        },
        LimitRow {
            name: "msgsize_default",
            value: n(l.msgsize_default),
            meaning: "message size when mq_open gets no attributes".into(),
            raise: "sysctl -w fs.mqueue.msgsize_default=N",
        },
        LimitRow {
            name: "queues_max",
            value: n(l.queues_max),
            meaning: match &queues {
                Some(q) => format!("queues on the system ({} now)", q.len()),
                None => "queues on the system".into(),
            },
            raise: "sysctl -w fs.mqueue.queues_max=N",
        },
        LimitRow {
            name: "priority_max",
            value: Some(l.priority_max as u64),
            meaning: "highest message priority".into(),
            raise: "fixed (MQ_PRIO_MAX - 1)",
        },
        LimitRow {
            name: "RLIMIT_MSGQUEUE",
            value: finite(l.rlimit_soft),
            meaning: format!(
                "bytes of queues per user (soft; hard {})",
                finite(l.rlimit_hard)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            ),
            raise: "ulimit -q N (up to the hard limit, as the user)",
        },
    ];
    if json {
        print_json(&LimitsReport {
            limits: rows,
            rlimit_msgqueue_hard: finite(l.rlimit_hard),
            queues_now: queues.as_ref().map(Vec::len),
            usage,
        })?;
        return Ok(fail::OK);
    }
    let value_text = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or("unlimited".into());
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.to_string(),
                value_text(r.value),
                r.meaning.clone(),
                r.raise.to_string(),
            ]
        })
        .collect();
    use render::Align::{Left as L, Right as R};
    let header = ["LIMIT", "VALUE", "MEANING", "RAISE WITH"];
    for l in render::table(&header, &[L, R, L, L], &cells) {
        println!("{l}");
    }
    println!(
        "sysctl needs root; persist it in /etc/sysctl.d/. A hard RLIMIT_MSGQUEUE is raised by \
         root: LimitMSGQUEUE= (systemd), msgqueue in /etc/security/limits.conf, or \
         prlimit --msgqueue=N:N --pid PID."
    );
    match usage {
        Some(u) => {
            let of = match finite(l.rlimit_soft) {
                Some(soft) => format!(
                    " of {soft} ({:.1}%); {} bytes left",
                    u.bytes as f64 * 100.0 / soft.max(1) as f64,
                    u.left.unwrap_or(0)
                ),
                None => " (RLIMIT_MSGQUEUE is unlimited)".to_string(),
            };
            let uncounted = match u.uncounted {
                0 => String::new(),
                k => format!("; {k} more could not be opened and are not counted"),
            };
            println!(
                "usage: {} (uid {}) owns {} queues charging {} bytes{of}{uncounted}",
                u.user, u.uid, u.queues, u.bytes
            );
            println!(
                "(a queue of N messages of S bytes costs about N x (S + 96) bytes; removed \
                 queues still open somewhere are not visible and not counted)"
            );
        }
        None => println!("usage: unknown: {}", mqfs::not_mounted(&dir).message),
    }
    Ok(fail::OK)
}
