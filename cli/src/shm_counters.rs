//! What `pmq stat` and `pmq ls --json` show of a shared-memory queue
//! beyond its attributes: its counters, whether its invariants hold, and
//! its leases (messages handed out and not yet acked).

use serde::Serialize;

/// Counters of a shared-memory queue, whether its invariants hold, and
/// its leases.
#[derive(Clone, Debug, Serialize)]
pub struct Counters {
    pub committed: u64,
    pub received: u64,
    /// Times a process found the queue's lock owner dead and repaired it.
    pub recoveries: u64,
    /// "ok", or what is wrong.
    pub invariants: String,
    /// Messages leased (`recv --ack`, Queue::lease) and not yet acked or
    /// given back; None where the store keeps no leases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leased: Option<u64>,
    /// How long ago the oldest of them was handed out, in seconds (null:
    /// no lease out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_lease_age: Option<Option<f64>>,
}

impl Counters {
    /// The counters of `q` (None for a queue that keeps none).
    pub fn of(q: &pmq::Queue) -> Option<Counters> {
        let s = q.stats()?;
        let leases = q.lease_stats().ok();
        Some(Counters {
            committed: s.committed,
            received: s.received,
            recoveries: s.recoveries,
            invariants: q.check_invariants().err().unwrap_or_else(|| "ok".into()),
            leased: leases.map(|l| l.leased),
            oldest_lease_age: leases.map(|l| l.oldest_age.map(|d| d.as_secs_f64())),
        })
    }

    /// The `leases:` line of `pmq stat`, if the store keeps leases.
    pub fn leases_text(&self) -> Option<String> {
        let n = self.leased?;
        Some(match self.oldest_lease_age.flatten() {
            Some(age) if n > 0 => {
                format!("{n} leased (handed out, not yet acked), the oldest {age:.1} s ago")
            }
            _ => "none (no message handed out and not yet acked)".to_string(),
        })
    }
}
