//! `pmq bridge out` on a queue that keeps leases (the shared-memory
//! backend): the receiving thread leases batches of messages and hands them
//! to the publisher (out.rs), which acks them in the queue once JetStream
//! stored them ([`settle`]). Nothing is written locally: until acked, they
//! stay in the queue, and a bridge that dies gives them back to it. Also
//! what both paths share: the message taken ([`Msg`]), where it is kept
//! until JetStream acknowledged it and what names it there ([`Origin`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use pmq::{ErrorKind, Lease, LeasedMessage, Queue, Timeout};

use crate::journal::{msg_id, OutJournal};
use pmq_cli::fail::{self, Failure};
use pmq_cli::signals;

/// How long one wait lasts before the stop flag is looked at again.
const SLICE: Duration = Duration::from_millis(100);

/// A message taken from the queue, on its way to JetStream.
#[derive(Clone)]
pub(crate) struct Msg {
    pub(crate) origin: Origin,
    pub(crate) priority: u32,
    pub(crate) payload: Bytes,
}

/// Where a message is kept until JetStream acknowledged it, which also
/// names it (its `Nats-Msg-Id`).
#[derive(Clone, Copy)]
pub(crate) enum Origin {
    /// In the journal (the kernel backend; a journal's replay).
    Journal { epoch: [u8; 16], counter: u64 },
    /// Leased from a shared-memory queue whose instance id is `instance`.
    Lease { instance: u64, lease: Lease },
}

impl Origin {
    pub(crate) fn msg_id(&self) -> String {
        match self {
            Origin::Journal { epoch, counter } => msg_id(epoch, *counter),
            Origin::Lease { instance, lease } => lease_msg_id(*instance, lease.seq),
        }
    }
}

/// The `Nats-Msg-Id` of message `seq` of the queue whose instance id is
/// `instance`: the same on every delivery of the message, never the same
/// for two messages (nor for a queue made again under the same name).
pub(crate) fn lease_msg_id(instance: u64, seq: u64) -> String {
    format!("{instance:016x}-{seq}")
}

/// A batch JetStream acknowledged: recorded in the journal (acknowledged
/// up to its last counter), or its leases acked in the queue. A lease lost
/// meanwhile is harmless (the message comes again and JetStream drops it
/// as a duplicate): said, not fatal.
pub(crate) fn settle(
    done: &[Msg],
    journal: Option<&Mutex<OutJournal>>,
    q: &Queue,
    who: &str,
) -> Result<(), Failure> {
    let leases: Vec<Lease> = done
        .iter()
        .filter_map(|m| match m.origin {
            Origin::Lease { lease, .. } => Some(lease),
            Origin::Journal { .. } => None,
        })
        .collect();
    let last = done.iter().rev().find_map(|m| match m.origin {
        Origin::Journal { counter, .. } => Some(counter),
        Origin::Lease { .. } => None,
    });
    if let (Some(last), Some(j)) = (last, journal) {
        let mut j = j.lock().unwrap();
        if let Err(e) = j.acked(last) {
            return Err(Failure::new(
                fail::OTHER,
                format!(
                    "cannot write journal {}: {e}; the messages in it are kept and are \
                     published again by the next run",
                    j.path().display()
                ),
            ));
        }
    }
    if leases.is_empty() {
        return Ok(());
    }
    match q.ack_batch(&leases) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::LeaseLost => {
            note!("{who}: {e}; such a message is leased and published again, and JetStream drops it as a duplicate");
            Ok(())
        }
        Err(e) => Err(Failure::new(
            fail::code_for(e.kind()),
            format!(
                "cannot ack {} messages JetStream stored: {e}; they stay in the queue and are \
                 published again by the next run (JetStream drops them as duplicates)",
                leases.len()
            ),
        )),
    }
}

/// Leases up to `max` messages at a time from `q` (whose instance id is
/// `instance`) and sends each batch to the publisher, until stopped.
pub(crate) fn lease_loop(
    q: &Queue,
    instance: u64,
    stop: &AtomicBool,
    max: usize,
    tx: tokio::sync::mpsc::Sender<Vec<Msg>>,
) -> Result<(), Failure> {
    // Room for `max` messages of the largest size, but no more than 1 MiB
    // (a shm queue's messages may be large): a batch takes messages while
    // the next fits, and at least one always does.
    let size = q.max_message_size().max(1) as usize;
    let mut buf = vec![0u8; size.saturating_mul(max).min(size.max(1 << 20))];
    let mut out = vec![LeasedMessage::default(); max];
    loop {
        if stop.load(Ordering::SeqCst) || signals::caught().is_some() {
            return Ok(());
        }
        let n = match q.lease_batch(&mut buf, &mut out, Timeout::After(SLICE), None) {
            Ok(n) => n,
            Err(e) if crate::common::no_message_now(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        let batch: Vec<Msg> = out[..n]
            .iter()
            .map(|m| Msg {
                origin: Origin::Lease {
                    instance,
                    lease: m.lease,
                },
                priority: m.priority,
                payload: Bytes::copy_from_slice(&buf[m.offset..m.offset + m.len]),
            })
            .collect();
        if tx.blocking_send(batch).is_err() {
            // The publisher stopped: the leases go back to the queue when
            // the bridge closes it.
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_are_the_instance_in_hex_and_the_seq() {
        assert_eq!(lease_msg_id(0xab, 7), "00000000000000ab-7");
        assert_eq!(lease_msg_id(u64::MAX, 0), "ffffffffffffffff-0");
        // Another queue instance, same seq: another id.
        assert_ne!(lease_msg_id(1, 5), lease_msg_id(2, 5));
    }
}
