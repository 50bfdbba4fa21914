//! `pmq bridge out QUEUE`: local queue → JetStream.
//!
//! A receiving thread takes up to --batch messages from the queue, appends
//! each to the journal as soon as it has it (one write per message), fsyncs
//! the batch, and only then hands it to the publisher. The publisher
//! publishes each message with `Nats-Msg-Id` = run epoch + counter
//! and `Pmq-Priority`, keeps several batches in flight, and once every
//! message of the oldest batch is acknowledged records "acknowledged up to
//! N". Any transient publish error republishes everything unacknowledged,
//! with the same ids (JetStream drops what it already stored), until it
//! succeeds; a refusal retrying cannot fix (the server closed the connection
//! for a protocol line over its max_control_line, a permission violation, a
//! message over the size limits) ends the bridge with exit status 1, the
//! messages kept in the journal. On start, the journal's unacknowledged
//! messages are published first, with the ids they were first given; new
//! messages get this run's random epoch, so an id never repeats for a
//! different message even when a journal was lost or cut short.
//!
//! On a queue that keeps leases (the shared-memory backend) the journal is
//! not needed: the receiving thread leases the messages (out_lease.rs), each
//! published with `Nats-Msg-Id` = the queue's instance id (hex) + "-" + the
//! message's seq, and acks them in the queue only once JetStream
//! acknowledged them. A bridge killed before that leaves them in the queue,
//! where the next run leases them again with the same ids, so JetStream's
//! de-duplication stores each once: nothing lost, nothing twice. (An
//! existing journal, from a run of a version that journaled these queues
//! too, is still published first.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use pmq::{ErrorKind, Queue, Timeout};

use crate::common::PRIORITY_HEADER;
use crate::journal::OutJournal;
use crate::out_lease::{settle, Msg, Origin};
use pmq_cli::bridge_args::OutArgs;
use pmq_cli::fail::{self, open_failure, Failure};
use pmq_cli::{signals, CmdResult};

const SLICE: Duration = Duration::from_millis(100);
/// Most messages published and not yet acknowledged.
const WINDOW: usize = 4096;
/// After SIGINT/SIGTERM: how long to wait for outstanding acknowledgements.
const DRAIN: Duration = Duration::from_secs(5);

pub fn run(a: OutArgs, kind: pmq::BackendKind) -> CmdResult {
    kind.validate_name(&a.queue).map_err(Failure::from)?;
    let c = crate::common::check_common(&a.nats, false)?;
    signals::install().map_err(|e| {
        Failure::new(
            fail::OTHER,
            format!("cannot install the SIGINT/SIGTERM handler: {e}"),
        )
    })?;
    let path = a
        .nats
        .journal
        .clone()
        .unwrap_or_else(|| crate::common::default_journal(kind, "out", &a.queue, None));
    // Read and write: a message taken when the journal cannot be written is
    // given back to the queue. Read-only when writing is not permitted.
    let q = pmq_cli::args::options(kind)
        .read(true)
        .write(true)
        .open(Some(&a.queue))
        .or_else(|e| {
            if e.kind() == ErrorKind::Permission {
                pmq_cli::args::options(kind)
                    .read(true)
                    .write(false)
                    .open(Some(&a.queue))
            } else {
                Err(e)
            }
        })
        .map_err(|e| open_failure(e, &a.queue, kind))?;
    // With leases, only a journal left by an earlier run is read (and its
    // messages published first); none is made.
    let leases = q.instance_id();
    let journal = if leases.is_none() || path.exists() {
        let j = OutJournal::open(&path).map_err(|m| Failure::new(fail::OTHER, m))?;
        crate::common::announce_repair(&format!("bridge out {}", a.queue), j.repair());
        Some(j)
    } else {
        None
    };
    let rt = crate::common::runtime()?;
    rt.block_on(bridge(a, c, q, journal, leases))
}

async fn bridge(
    a: OutArgs,
    c: crate::common::Common,
    q: Queue,
    journal: Option<OutJournal>,
    leases: Option<u64>,
) -> CmdResult {
    let who = format!("bridge out {}", a.queue);
    let client = crate::common::connect(&a.nats, &c, &who).await?;
    let js = crate::common::jetstream(client.clone());
    let stream = crate::common::resolve_stream(&js, &a.nats, &c).await?;
    let info = stream.cached_info().clone();
    let max = q.max_message_size().max(0) as usize;
    let cfg_max = info.config.max_message_size;
    if cfg_max > 0 && (cfg_max as usize) < max {
        return Err(Failure::new(
            fail::OTHER,
            format!(
                "queue {} takes messages of up to {max} bytes but stream {} stores at most \
                 {cfg_max} (its max_msg_size); raise it (nats stream edit {} --max-msg-size \
                 {max}), or create the queue with --max-size {cfg_max} or less",
                a.queue, info.config.name, info.config.name
            ),
        ));
    }
    // Headers (id, priority) take about 100 bytes of the server's max_payload.
    let payload_max = client.server_info().max_payload;
    if payload_max > 0 && max + 128 > payload_max {
        return Err(Failure::new(
            fail::OTHER,
            format!(
                "queue {} takes messages of up to {max} bytes but the NATS server's max_payload \
                 is {payload_max} (with about 128 bytes of headers); raise max_payload in the \
                 server's configuration, or create the queue with a smaller --max-size",
                a.queue
            ),
        ));
    }
    let replay: Vec<Msg> = journal
        .iter()
        .flat_map(|j| j.pending())
        .map(|p| Msg {
            origin: Origin::Journal {
                epoch: p.epoch,
                counter: p.counter,
            },
            priority: p.priority,
            payload: Bytes::from(p.bytes.clone()),
        })
        .collect();
    // Where messages taken and not yet acknowledged are kept (for the
    // messages that say so).
    let keep = match (&journal, leases) {
        (Some(j), None) => format!("journal {}", j.path().display()),
        _ => format!(
            "queue {} (leased: they go back to it when the bridge ends)",
            a.queue
        ),
    };
    let how = match (&journal, leases) {
        (_, Some(i)) => format!("at least once through leases (message ids {i:016x}-SEQ)"),
        (Some(j), None) => format!("journal {}", j.path().display()),
        (None, None) => unreachable!("a journal without leases"),
    };
    note!(
        "{who}: publishing to {} (stream {}, duplicate window {}s) at {}; {how}{}",
        a.nats.subject,
        info.config.name,
        info.config.duplicate_window.as_secs_f64(),
        c.url_text,
        if replay.is_empty() {
            String::new()
        } else {
            format!(
                "; publishing again the {} messages of the previous run not acknowledged",
                replay.len()
            )
        }
    );
    let journal = journal.map(|j| Arc::new(Mutex::new(j)));
    let q = Arc::new(q);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Msg>>(4);
    let receiver = {
        let (q, journal, stop, batch) = (q.clone(), journal.clone(), stop.clone(), c.batch);
        std::thread::spawn(move || match (leases, journal) {
            (Some(instance), _) => crate::out_lease::lease_loop(&q, instance, &stop, batch, tx),
            (None, Some(j)) => receive_loop(&q, &j, &stop, batch, tx),
            (None, None) => unreachable!("a journal without leases"),
        })
    };

    let subject = a.nats.subject.clone();
    let publish_batch = |msgs: Vec<Msg>| {
        let js = js.clone();
        let subject = subject.clone();
        async move {
            let mut futs = Vec::with_capacity(msgs.len());
            for m in &msgs {
                let p = PublishMessage::build()
                    .payload(m.payload.clone())
                    .message_id(m.origin.msg_id())
                    .header(PRIORITY_HEADER, m.priority.to_string());
                futs.push(js.send_publish(subject.clone(), p).await);
            }
            (msgs, futs)
        }
    };

    // Batches published, oldest first, with the futures of their acks.
    let mut inflight: VecDeque<Vec<Msg>> = VecDeque::new();
    let mut acks = FuturesOrdered::new();
    let mut inflight_msgs = 0usize;
    let mut published = 0u64;
    let mut duplicates = 0u64;
    let mut closed = false;
    let mut failing_since: Option<Instant> = None;
    let mut last_warning = Instant::now() - Duration::from_secs(3600);
    let mut backoff = Duration::from_millis(50);
    let mut stopped_at: Option<Instant> = None;
    let mut rate = crate::common::Rate::new();
    let mut tick = tokio::time::interval(SLICE);
    let mut next_stats = c.stats.map(|s| Instant::now() + s);
    let mut result: CmdResult = Ok(fail::OK);

    // The previous run's unacknowledged messages first.
    for chunk in replay.chunks(c.batch) {
        let (msgs, futs) = publish_batch(chunk.to_vec()).await;
        inflight_msgs += msgs.len();
        inflight.push_back(msgs);
        acks.push_back(all_acks(futs));
    }

    loop {
        if closed && inflight.is_empty() {
            break;
        }
        tokio::select! {
            b = rx.recv(), if !closed && inflight_msgs < WINDOW && failing_since.is_none() => match b {
                Some(b) => {
                    let (msgs, futs) = publish_batch(b).await;
                    inflight_msgs += msgs.len();
                    inflight.push_back(msgs);
                    acks.push_back(all_acks(futs));
                }
                None => closed = true,
            },
            r = acks.next(), if !acks.is_empty() => match r {
                Some(Ok(dups)) => {
                    let done = inflight.pop_front().expect("a batch per ack future");
                    inflight_msgs -= done.len();
                    published += done.len() as u64;
                    duplicates += dups;
                    backoff = Duration::from_millis(50);
                    if let Some(since) = failing_since.take() {
                        note!("{who}: publishing again after {:.1}s of failures", since.elapsed().as_secs_f64());
                    }
                    if let Err(f) = settle(&done, journal.as_deref(), &q, &who) {
                        result = Err(f);
                        break;
                    }
                }
                Some(Err((kind, text))) => {
                    if let Some(server) = crate::common::refusal() {
                        result = Err(refused(&server, &text, &a, inflight_msgs, &keep));
                        break;
                    }
                    if let Some(f) = fatal(kind, &text, &a, &keep) {
                        result = Err(f);
                        break;
                    }
                    let n = inflight_msgs;
                    if failing_since.is_none() {
                        failing_since = Some(Instant::now());
                    }
                    if last_warning.elapsed() > Duration::from_secs(10) {
                        last_warning = Instant::now();
                        let hint = if kind == PublishErrorKind::StreamNotFound {
                            format!("; no stream answers for subject {} (deleted? the server restarting?)", a.nats.subject)
                        } else {
                            String::new()
                        };
                        note!("{who}: publishing failed ({text}){hint}; retrying; {n} messages \
                               kept in the {} meanwhile",
                              if leases.is_some() { "queue (leased)" } else { "journal" });
                    }
                    // Everything unacknowledged again, same ids, after a pause.
                    acks = FuturesOrdered::new();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    let batches: Vec<Vec<Msg>> = inflight.drain(..).collect();
                    for b in batches {
                        let (msgs, futs) = publish_batch(b).await;
                        inflight.push_back(msgs);
                        acks.push_back(all_acks(futs));
                    }
                }
                None => {}
            },
            _ = tick.tick() => {
                if stopped_at.is_none() && (signals::caught().is_some() || receiver.is_finished()) {
                    stopped_at = Some(Instant::now());
                    stop.store(true, Ordering::SeqCst);
                }
                if stopped_at.is_some_and(|t| t.elapsed() > DRAIN) {
                    break;
                }
                if let (Some(at), Some(every)) = (next_stats, c.stats) {
                    if Instant::now() >= at {
                        next_stats = Some(at + every);
                        let depth = q.current_messages().unwrap_or(-1);
                        note!("{who}: {:.0} msg/s, {published} published, backlog: {depth} in \
                               the queue, {inflight_msgs} awaiting acknowledgement",
                              rate.per_second(published));
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    drop(rx);
    let received = receiver
        .join()
        .unwrap_or_else(|_| Err(Failure::new(fail::OTHER, "the receiving thread panicked")));
    let left = journal.as_ref().map_or(0, |j| {
        let mut j = j.lock().unwrap();
        let _ = j.sync();
        j.pending_len()
    });
    let leased = inflight
        .iter()
        .flatten()
        .filter(|m| matches!(m.origin, Origin::Lease { .. }))
        .count();
    let why = match signals::caught() {
        Some(s) => format!("stopped by signal {s}"),
        None => "stopped".to_string(),
    };
    let mut kept = String::new();
    if let (true, Some(j)) = (left > 0, &journal) {
        kept = format!(
            "; {left} unacknowledged kept in journal {} for the next run",
            j.lock().unwrap().path().display()
        );
    }
    if leased > 0 {
        kept.push_str(&format!(
            "; {leased} leased and unacknowledged go back to queue {} for the next run",
            a.queue
        ));
    }
    note!(
        "{who}: {why}: {published} messages published ({duplicates} already in the stream){kept}"
    );
    result?;
    received?;
    let repair = journal.and_then(|j| j.lock().unwrap().repair().cloned());
    crate::common::damage_status(repair.as_ref())
}

/// Awaits a batch's acknowledgements in order: the number of duplicates
/// (already stored) or the first error.
async fn all_acks(
    futs: Vec<Result<PublishAckFuture, async_nats::jetstream::context::PublishError>>,
) -> Result<u64, (PublishErrorKind, String)> {
    let mut dups = 0;
    let mut first_err = None;
    // All at once: each ack's timeout runs from when it is first polled.
    let results = futures_util::future::join_all(futs.into_iter().map(|f| async move {
        match f {
            Ok(f) => f.await,
            Err(e) => Err(e),
        }
    }))
    .await;
    for r in results {
        match r {
            Ok(ack) => dups += ack.duplicate as u64,
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some((e.kind(), e.to_string()));
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(dups),
    }
}

/// The server refused this bridge's publishing for good (see
/// [`crate::common::refusal`]): the error, with what to do.
fn refused(server: &str, publish: &str, a: &OutArgs, kept: usize, keep: &str) -> Failure {
    let fix = if server.to_lowercase().contains("control line") {
        format!(
            "the subject ({} bytes) makes a protocol line longer than the server's \
             max_control_line (4096 bytes unless its configuration raises it); use a shorter \
             --subject, or raise max_control_line in the server's configuration",
            a.nats.subject.len()
        )
    } else {
        format!(
            "this user may not publish to {}; grant it in the server's configuration",
            a.nats.subject
        )
    };
    Failure::new(
        fail::OTHER,
        format!(
            "the NATS server refuses every publish to {:.64}{} for good ({server}; the publish: \
             {publish}): {fix}; then restart: the {kept} messages taken are kept in {keep}",
            a.nats.subject,
            if a.nats.subject.len() > 64 { "..." } else { "" },
        ),
    )
}

/// An error that retrying cannot fix.
fn fatal(kind: PublishErrorKind, text: &str, a: &OutArgs, keep: &str) -> Option<Failure> {
    let lower = text.to_lowercase();
    if kind == PublishErrorKind::MaxPayloadExceeded
        || lower.contains("10054")
        || lower.contains("size exceeds")
    {
        return Some(Failure::new(
            fail::OTHER,
            format!(
                "a message from {} is larger than the stream or server accepts ({text}); raise \
                 the stream's max_msg_size or the server's max_payload, then restart: it is kept \
                 in {keep}",
                a.queue,
            ),
        ));
    }
    if lower.contains("permission") || lower.contains("authorization") {
        return Some(Failure::new(
            fail::PERMISSION,
            format!(
                "NATS refused to let this user publish to {} ({text}); grant it, then restart: \
                 the messages are kept in {keep}",
                a.nats.subject,
            ),
        ));
    }
    None
}

/// The receiving thread: batches of messages, each journaled as soon as it
/// is taken, fsynced, then handed to the publisher.
fn receive_loop(
    q: &Queue,
    journal: &Mutex<OutJournal>,
    stop: &AtomicBool,
    max: usize,
    tx: tokio::sync::mpsc::Sender<Vec<Msg>>,
) -> Result<(), Failure> {
    let mut buf = vec![0u8; q.max_message_size().max(1) as usize];
    let failure = |e: std::io::Error, j: &OutJournal, len: usize, prio: u32, back: bool| {
        Failure::new(
            fail::OTHER,
            format!(
                "cannot write journal {}: {e}; the message just taken ({len} bytes, priority \
                 {prio}) {}",
                j.path().display(),
                if back {
                    "was sent back into the queue"
                } else {
                    "could not be sent back into the queue and is lost"
                }
            ),
        )
    };
    loop {
        if stop.load(Ordering::SeqCst) || signals::caught().is_some() {
            return Ok(());
        }
        let first = match q.receive(&mut buf, Timeout::After(SLICE)) {
            Ok(m) => m,
            Err(e) if crate::common::no_message_now(&e) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut j = journal.lock().unwrap();
        let mut batch = Vec::with_capacity(max);
        let mut next = Some(first);
        while let Some((len, prio)) = next.take() {
            match j.append(prio, &buf[..len]) {
                Ok(counter) => batch.push(Msg {
                    origin: Origin::Journal {
                        epoch: *j.epoch(),
                        counter,
                    },
                    priority: prio,
                    payload: Bytes::copy_from_slice(&buf[..len]),
                }),
                Err(e) => {
                    let back = q.can_write() && q.send(&buf[..len], prio, Timeout::TryOnce).is_ok();
                    let _ = j.sync();
                    return Err(failure(e, &j, len, prio, back));
                }
            }
            if batch.len() < max {
                match q.receive(&mut buf, Timeout::TryOnce) {
                    Ok(m) => next = Some(m),
                    Err(e) if crate::common::no_message_now(&e) => {}
                    Err(e) => {
                        let _ = j.sync();
                        drop(j);
                        let _ = tx.blocking_send(batch);
                        return Err(e.into());
                    }
                }
            }
        }
        if let Err(e) = j.sync() {
            return Err(Failure::new(
                fail::OTHER,
                format!(
                    "cannot fsync journal {}: {e}; {} messages taken are in it (maybe not on \
                     disk) and are published by the next run",
                    j.path().display(),
                    batch.len()
                ),
            ));
        }
        drop(j);
        if tx.blocking_send(batch).is_err() {
            // The publisher stopped; the batch is in the journal for the next run.
            return Ok(());
        }
    }
}
