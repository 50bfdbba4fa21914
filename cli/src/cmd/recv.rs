//! `pmq recv`: receive and print messages, stopping cleanly on SIGINT/SIGTERM.
//! With `--ack` (shm queues): lease each message, print it, flush (and
//! fsync a file), then ack, so a message not printed comes back.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use pmq::{ErrorKind, Lease, Queue, Timeout};

use crate::args::options;
use crate::cmd::CmdResult;
use crate::fail::{self, open_failure, Failure};
use crate::render::{self, Format};
use crate::signals;

/// How long one wait lasts before the signal flag is looked at again.
const SLICE: Duration = Duration::from_millis(100);

/// What `recv` was asked for.
pub struct How {
    pub count: u64,
    pub follow: bool,
    pub timeout: Option<f64>,
    pub format: Format,
    /// `--ack` and its options: receive under leases.
    pub lease: Option<LeaseArgs>,
}

/// `--ack`'s options.
pub struct LeaseArgs {
    pub visibility: Option<Duration>,
    /// 0: no limit.
    pub max_deliveries: u32,
    pub dead_letter: Option<String>,
}

pub fn recv(kind: pmq::BackendKind, name: &str, how: How) -> CmdResult {
    let How {
        count,
        follow,
        timeout,
        format,
        lease,
    } = how;
    let timeout = Timeout::from_secs_f64(timeout)?;
    let mut o = options(kind);
    o.read(true).write(false);
    if let Some(l) = &lease {
        o.max_deliveries(l.max_deliveries)
            .dead_letter(l.dead_letter.as_deref());
    }
    let q = o
        .open(Some(name))
        .map_err(|e| open_failure(e, name, kind))?;
    // A backend without leases says so now (NotSupported, naming shm),
    // not after the first message arrived.
    let (visibility, sync) = match &lease {
        Some(l) => {
            q.lease_stats()?;
            (Some(l.visibility), output_file()?)
        }
        None => (None, None),
    };
    signals::install().map_err(|e| {
        Failure::new(
            fail::OTHER,
            format!("cannot install the SIGINT/SIGTERM handler: {e}"),
        )
    })?;
    let mut buf = vec![0u8; q.max_message_size().max(0) as usize];
    let mut out = io::stdout().lock();
    let mut received = 0u64;
    loop {
        if !follow && received >= count {
            return Ok(fail::OK);
        }
        match wait_for_message(&q, &mut buf, timeout, visibility)? {
            Waited::Message(len, priority, None) => {
                // The message has left the queue: print it whole before anything else.
                render::emit(&mut out, format, &buf[..len], priority)
                    .map_err(|e| output_failure(e, len, priority))?;
                received += 1;
            }
            Waited::Message(len, priority, Some(lease)) => {
                // Leased: printed, flushed and on disk before the ack; if
                // not, given back.
                let printed = render::emit(&mut out, format, &buf[..len], priority)
                    .and_then(|()| sync.as_ref().map_or(Ok(()), File::sync_all));
                if let Err(e) = printed {
                    return Err(nacked(&q, &lease, e, len, priority));
                }
                q.ack(&lease)
                    .map_err(|e| ack_failure(e, &lease, visibility))?;
                received += 1;
            }
            Waited::Signal(signo) => {
                if follow {
                    return Ok(fail::OK);
                }
                return Err(Failure::new(
                    128 + signo,
                    format!(
                        "stopped by signal {signo} after receiving {received} of {count} \
                         messages; no message was lost"
                    ),
                ));
            }
            Waited::Nothing => {
                if follow {
                    return Ok(fail::OK);
                }
                let progress = if count > 1 {
                    format!(" ({received} of {count} messages received)")
                } else {
                    String::new()
                };
                let why = match timeout {
                    Timeout::After(d) => format!(
                        "no message arrived on {name} within {} seconds{progress}; wait longer \
                         with a larger --timeout, or leave it out to wait forever",
                        d.as_secs_f64()
                    ),
                    _ => format!(
                        "queue {name} is empty{progress}; --timeout 0 does not wait: give \
                         --timeout S to wait S seconds, or leave it out to wait forever"
                    ),
                };
                return Err(Failure::new(fail::BUSY, why));
            }
        }
    }
}

/// Standard output as a file to fsync before each ack, if it is a regular
/// file (a pipe or terminal has nothing to sync).
fn output_file() -> Result<Option<File>, Failure> {
    let cannot = |e: io::Error| {
        Failure::new(
            fail::OTHER,
            format!("cannot look at the output (standard output) for --ack: {e}"),
        )
    };
    let fd = io::stdout().as_fd().try_clone_to_owned().map_err(cannot)?;
    let f = File::from(fd);
    Ok(f.metadata().map_err(cannot)?.is_file().then_some(f))
}

/// The output failed after the message was leased: give it back (nack)
/// and say so.
fn nacked(q: &Queue, lease: &Lease, e: io::Error, len: usize, priority: u32) -> Failure {
    let what = if e.kind() == io::ErrorKind::BrokenPipe {
        "the output was closed (broken pipe)".to_string()
    } else {
        format!("cannot write the output: {e}")
    };
    let back = match q.nack(lease) {
        Ok(()) => "was given back to the queue (nack) and is received again".to_string(),
        Err(n) => {
            format!("could not be given back ({n}); it returns to the queue when this pmq exits")
        }
    };
    Failure::new(
        fail::OTHER,
        format!(
            "{what}; the message being printed (seq {}, priority {priority}, {len} bytes) {back}; \
             nothing was lost",
            lease.seq
        ),
    )
}

/// The ack after printing failed: the message was printed and comes again.
fn ack_failure(e: pmq::Error, lease: &Lease, visibility: Option<Option<Duration>>) -> Failure {
    let hint = match visibility.flatten() {
        Some(v) if e.kind() == ErrorKind::LeaseLost => format!(
            "; printing took longer than --visibility {}: raise it, or leave it out",
            v.as_secs_f64()
        ),
        _ => String::new(),
    };
    Failure::new(
        fail::code_for(e.kind()),
        format!(
            "message seq {} was printed but its ack failed ({e}){hint}; it is received again \
             (at least once)",
            lease.seq
        ),
    )
}

enum Waited {
    /// Length, priority, and the lease under --ack.
    Message(usize, u32, Option<Lease>),
    Signal(i32),
    Nothing,
}

/// Waits for one message in short slices, looking at the signal flag
/// between slices (never between receiving and printing). `lease`: under
/// --ack, with this visibility timeout.
fn wait_for_message(
    q: &Queue,
    buf: &mut [u8],
    timeout: Timeout,
    lease: Option<Option<Duration>>,
) -> Result<Waited, Failure> {
    let deadline = match timeout {
        Timeout::Forever => None,
        Timeout::TryOnce => Some(Instant::now()),
        // A wait too long to represent as an Instant (e.g. 1e19 seconds) has
        // no deadline: it is forever, as pmq's own send and receive treat it.
        Timeout::After(d) => Instant::now().checked_add(d),
    };
    loop {
        if let Some(signo) = signals::caught() {
            return Ok(Waited::Signal(signo));
        }
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        let t = if slice.is_zero() {
            Timeout::TryOnce
        } else {
            Timeout::After(slice)
        };
        let got = match lease {
            Some(visibility) => q
                .lease(buf, t, visibility)
                .map(|(len, priority, l)| (len, priority, Some(l))),
            None => q
                .receive(buf, t)
                .map(|(len, priority)| (len, priority, None)),
        };
        match got {
            Ok((len, priority, l)) => return Ok(Waited::Message(len, priority, l)),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(Waited::Nothing);
                }
            }
            // A signal cut the wait short; nothing was received. Look at the flag.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn output_failure(e: io::Error, len: usize, priority: u32) -> Failure {
    let what = if e.kind() == io::ErrorKind::BrokenPipe {
        "the output was closed (broken pipe)".to_string()
    } else {
        format!("cannot write the output: {e}")
    };
    Failure::new(
        fail::OTHER,
        format!(
            "{what}; a message already received (priority {priority}, {len} bytes) could not \
             be printed and is lost; keep the reader open, or receive a fixed number with --count"
        ),
    )
}
