//! `pmq bridge in QUEUE`: JetStream → local queue.
//!
//! A durable pull consumer (explicit acks). Per message, in stream order:
//! if the journal says it was already sent into the queue (by its
//! `Nats-Msg-Id` from `pmq bridge out`, else by stream and sequence), it is
//! only acknowledged again. Otherwise the journal gets "about to send K"
//! (one write), the message is sent into the queue, the journal gets "sent
//! K" (one write); the batch is fsynced; then the messages are acknowledged.
//!
//! The one window: killed after the local send and before "sent K" is
//! written. The next run finds "about to send K" alone, cannot tell whether
//! the queue got it (the queue carries only bytes and a priority), sends it
//! again, and says so on standard error: the queue may then hold it twice.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::message::Acker;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use pmq::{Queue, Timeout};

use crate::common::PRIORITY_HEADER;
use crate::journal::{parse_msg_id, stream_key, InJournal, Key};
use pmq_cli::bridge_args::InArgs;
use pmq_cli::fail::{self, open_failure, Failure};
use pmq_cli::{signals, CmdResult};

const SLICE: Duration = Duration::from_millis(100);
/// No message for this long: ask the server whether some are waiting.
const IDLE_CHECK: Duration = Duration::from_secs(3);

struct Item {
    key: Key,
    id: String,
    seq: u64,
    priority: u32,
    payload: Bytes,
    acker: Acker,
}

pub fn run(a: InArgs, kind: pmq::BackendKind) -> CmdResult {
    kind.validate_name(&a.queue).map_err(Failure::from)?;
    let c = crate::common::check_common(&a.nats, true)?;
    crate::common::check_js_name("--durable", &a.durable)?;
    let ack_wait = crate::common::seconds("--ack-wait", a.ack_wait)?;
    signals::install().map_err(|e| {
        Failure::new(
            fail::OTHER,
            format!("cannot install the SIGINT/SIGTERM handler: {e}"),
        )
    })?;
    let path =
        a.nats.journal.clone().unwrap_or_else(|| {
            crate::common::default_journal(kind, "in", &a.queue, Some(&a.durable))
        });
    let journal = InJournal::open(&path).map_err(|m| Failure::new(fail::OTHER, m))?;
    crate::common::announce_repair(&format!("bridge in {}", a.queue), journal.repair());
    let q = pmq_cli::args::options(kind)
        .read(false)
        .write(true)
        .open(Some(&a.queue))
        .map_err(|e| open_failure(e, &a.queue, kind))?;
    let rt = crate::common::runtime()?;
    rt.block_on(bridge(a, c, ack_wait, q, journal))
}

/// What delivering a batch came to.
struct Outcome {
    /// Items handled (sent, or found already sent): these may be acknowledged.
    done: usize,
    sent: u64,
    skipped: u64,
    resent_ambiguous: u64,
    stop: Option<Result<(), Failure>>,
}

async fn bridge(
    a: InArgs,
    c: crate::common::Common,
    ack_wait: Duration,
    q: Queue,
    journal: InJournal,
) -> CmdResult {
    let who = format!("bridge in {}", a.queue);
    let url = c.url_text.clone();
    let client = crate::common::connect(&a.nats, &c, &who).await?;
    let js = crate::common::jetstream(client);
    let stream = crate::common::resolve_stream(&js, &a.nats, &c).await?;
    let stream_name = stream.cached_info().config.name.clone();
    let consumer: async_nats::jetstream::consumer::Consumer<pull::Config> = match stream
        .get_consumer::<pull::Config>(&a.durable)
        .await
    {
        Ok(cons) => {
            let f = &cons.cached_info().config.filter_subject;
            if !f.is_empty() && *f != a.nats.subject {
                return Err(Failure::new(
                    fail::USAGE,
                    format!(
                        "durable consumer {} of stream {stream_name} filters subject {f}, not {}; \
                         give its subject, or another --durable name",
                        a.durable, a.nats.subject
                    ),
                ));
            }
            cons
        }
        Err(e) if e.to_string().contains("not found") || e.to_string().contains("10014") => stream
            .create_consumer(pull::Config {
                durable_name: Some(a.durable.clone()),
                filter_subject: a.nats.subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                deliver_policy: DeliverPolicy::All,
                max_ack_pending: 8192,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                crate::common::js_failure(&url, &format!("cannot create consumer {}", a.durable), e)
            })?,
        Err(e) => {
            return Err(crate::common::js_failure(
                &url,
                &format!("cannot look up consumer {}", a.durable),
                e,
            ))
        }
    };
    let repair = journal.repair().cloned();
    let journal_path = journal.path().to_path_buf();
    let ambiguous = journal.ambiguous_len();
    note!(
        "{who}: consuming {} (stream {stream_name}, durable {}) at {url}; journal {}{}",
        a.nats.subject,
        a.durable,
        journal_path.display(),
        if ambiguous > 0 {
            format!(
                "; {ambiguous} messages were being sent when the previous run stopped (see \
                 below when they come again)"
            )
        } else {
            String::new()
        }
    );
    let max = c.batch;
    let open_messages = || async {
        consumer
            .stream()
            .max_messages_per_batch(max.max(64))
            .heartbeat(Duration::from_secs(1))
            .expires(Duration::from_secs(5))
            .messages()
            .await
    };
    let mut messages = open_messages()
        .await
        .map_err(|e| crate::common::js_failure(&url, "cannot start consuming", e))?;
    let mut state = Some((journal, q));
    let mut total_sent = 0u64;
    let mut total_skipped = 0u64;
    let mut total_resent = 0u64;
    let mut pending = 0u64;
    let mut rate = crate::common::Rate::new();
    let mut tick = tokio::time::interval(SLICE);
    let mut next_stats = c.stats.map(|s| Instant::now() + s);
    let mut last_warning = Instant::now() - Duration::from_secs(3600);
    let mut last_message = Instant::now();
    let mut last_check = Instant::now();
    let mut result: CmdResult = Ok(fail::OK);

    'outer: loop {
        let first = tokio::select! {
            m = messages.next() => m,
            _ = tick.tick() => {
                if signals::caught().is_some() {
                    break;
                }
                // Idle although the consumer has messages for us (a pull
                // request lost when the server restarted): pull afresh.
                if last_message.elapsed() > IDLE_CHECK && last_check.elapsed() > IDLE_CHECK {
                    last_check = Instant::now();
                    if let Ok(info) = consumer.get_info().await {
                        if info.num_pending > 0 || info.num_ack_pending > 0 {
                            if let Ok(m) = open_messages().await {
                                messages = m;
                            }
                        }
                    }
                }
                if let (Some(at), Some(every)) = (next_stats, c.stats) {
                    if Instant::now() >= at {
                        next_stats = Some(at + every);
                        let depth = state.as_ref().and_then(|(_, q)| q.current_messages().ok()).unwrap_or(-1);
                        note!("{who}: {:.0} msg/s, {total_sent} sent, backlog: {pending} in the \
                               stream for this consumer, {depth} in the queue",
                              rate.per_second(total_sent));
                    }
                }
                continue;
            }
        };
        let mut raw = Vec::new();
        match first {
            Some(Ok(m)) => {
                last_message = Instant::now();
                raw.push(m)
            }
            Some(Err(e)) => {
                if last_warning.elapsed() > Duration::from_secs(10) {
                    last_warning = Instant::now();
                    note!("{who}: consuming from NATS: {e}; retrying");
                }
                continue;
            }
            None => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                match open_messages().await {
                    Ok(m) => messages = m,
                    Err(e) => {
                        if last_warning.elapsed() > Duration::from_secs(10) {
                            last_warning = Instant::now();
                            note!("{who}: consuming from NATS: {e}; retrying");
                        }
                    }
                }
                continue;
            }
        }
        // Whatever else has already arrived, up to the batch size.
        while raw.len() < max {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => raw.push(m),
                _ => break,
            }
        }
        let mut items = Vec::with_capacity(raw.len());
        for m in raw {
            let (seq, p) = match m.info() {
                Ok(i) => (i.stream_sequence, i.pending),
                Err(e) => {
                    note!("{who}: a message without JetStream metadata ({e}); skipped, not acknowledged");
                    continue;
                }
            };
            pending = p;
            let (msg, acker) = m.split();
            let id = msg
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_string())
                .unwrap_or_default();
            let key = parse_msg_id(&id).unwrap_or_else(|| stream_key(&stream_name, seq));
            let priority = match msg.headers.as_ref().and_then(|h| h.get(PRIORITY_HEADER)) {
                None => 0,
                Some(v) => match v.as_str().trim().parse::<u32>() {
                    Ok(p) if p <= pmq::priority_max() => p,
                    _ => {
                        result = Err(Failure::new(
                            fail::OTHER,
                            format!(
                                "message {seq} of stream {stream_name} has {PRIORITY_HEADER}: {:?}, \
                                 not a priority from 0 to {}; it is left unacknowledged: remove \
                                 it from the stream (nats stream rmm {stream_name} {seq}), then restart",
                                v.as_str(),
                                pmq::priority_max()
                            ),
                        ));
                        // Deliver what came before it, then stop.
                        let stop_items = std::mem::take(&mut items);
                        let out = deliver_batch(&mut state, stop_items, &a.queue).await;
                        total_sent += out.sent;
                        break 'outer;
                    }
                },
            };
            items.push(Item {
                key,
                id,
                seq,
                priority,
                payload: msg.payload,
                acker,
            });
        }
        let out = deliver_batch(&mut state, items, &a.queue).await;
        total_sent += out.sent;
        total_skipped += out.skipped;
        total_resent += out.resent_ambiguous;
        if let Some(stop) = out.stop {
            if let Err(f) = stop {
                result = Err(f);
            }
            break;
        }
    }
    let why = match signals::caught() {
        Some(s) => format!("stopped by signal {s}"),
        None => "stopped".to_string(),
    };
    note!(
        "{who}: {why}: {total_sent} messages sent into {} ({total_skipped} already sent before, \
         acknowledged again; {total_resent} sent again after an interrupted run)",
        a.queue
    );
    result?;
    crate::common::damage_status(repair.as_ref())
}

/// Sends a batch into the queue (on a blocking thread), then acknowledges
/// what was handled.
async fn deliver_batch(
    state: &mut Option<(InJournal, Queue)>,
    items: Vec<Item>,
    queue: &str,
) -> Outcome {
    let (mut journal, q) = state.take().expect("the journal and queue are back");
    let queue_name = queue.to_string();
    let (journal_back, q_back, items, out) = tokio::task::spawn_blocking(move || {
        let out = deliver(&mut journal, &q, &items, &queue_name);
        (journal, q, items, out)
    })
    .await
    .expect("the delivering thread does not panic");
    *state = Some((journal_back, q_back));
    for it in items.iter().take(out.done) {
        // Not acknowledged = delivered again later, and then found in the journal.
        let _ = it.acker.ack().await;
    }
    out
}

fn deliver(journal: &mut InJournal, q: &Queue, items: &[Item], queue: &str) -> Outcome {
    let mut out = Outcome {
        done: 0,
        sent: 0,
        skipped: 0,
        resent_ambiguous: 0,
        stop: None,
    };
    let jfail = |e: std::io::Error, j: &InJournal| {
        Failure::new(
            fail::OTHER,
            format!(
                "cannot write journal {}: {e}; the message being delivered is not acknowledged \
                 and comes again",
                j.path().display()
            ),
        )
    };
    let max = q.max_message_size().max(0) as usize;
    'items: for it in items {
        if journal.is_delivered(&it.key) {
            out.skipped += 1;
            out.done += 1;
            continue;
        }
        if it.payload.len() > max {
            out.stop = Some(Err(Failure::new(
                fail::OTHER,
                format!(
                    "message {} ({} bytes) is larger than queue {queue}'s max_message_size of \
                     {max}; it is left unacknowledged: recreate the queue with a larger \
                     --max-size, then restart",
                    it.seq,
                    it.payload.len()
                ),
            )));
            break;
        }
        if journal.is_ambiguous(&it.key) {
            out.resent_ambiguous += 1;
            note!(
                "bridge in {queue}: message {} (stream sequence {}) may already be in {queue}: \
                 the previous run was stopped between sending it and recording that; sending it \
                 again (it may arrive twice)",
                if it.id.is_empty() {
                    "without id"
                } else {
                    &it.id
                },
                it.seq
            );
        }
        if let Err(e) = journal.intent(&it.key) {
            out.stop = Some(Err(jfail(e, journal)));
            break;
        }
        loop {
            if signals::caught().is_some() {
                let _ = journal.abort(&it.key);
                out.stop = Some(Ok(()));
                break 'items;
            }
            match q.send(&it.payload, it.priority, Timeout::After(SLICE)) {
                Ok(()) => break,
                Err(e) if crate::common::no_message_now(&e) => {}
                Err(e) => {
                    let _ = journal.abort(&it.key);
                    out.stop = Some(Err(e.into()));
                    break 'items;
                }
            }
        }
        if let Err(e) = journal.sent(&it.key) {
            out.stop = Some(Err(jfail(e, journal)));
            break;
        }
        out.sent += 1;
        out.done += 1;
    }
    if let Err(e) = journal.sync() {
        out.done = 0;
        out.stop = Some(Err(jfail(e, journal)));
    }
    out
}
