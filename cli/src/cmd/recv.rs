//! `pmq recv`: receive and print messages, stopping cleanly on SIGINT/SIGTERM.

use std::io;
use std::time::{Duration, Instant};

use pmq::{ErrorKind, Queue, Timeout};

use crate::args::options;
use crate::cmd::CmdResult;
use crate::fail::{self, open_failure, Failure};
use crate::render::{self, Format};
use crate::signals;

/// How long one wait lasts before the signal flag is looked at again.
const SLICE: Duration = Duration::from_millis(100);

pub fn recv(
    kind: pmq::BackendKind,
    name: &str,
    count: u64,
    follow: bool,
    timeout: Option<f64>,
    format: Format,
) -> CmdResult {
    let timeout = Timeout::from_secs_f64(timeout)?;
    let q = options(kind)
        .read(true)
        .write(false)
        .open(Some(name))
        .map_err(|e| open_failure(e, name, kind))?;
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
        match wait_for_message(&q, &mut buf, timeout)? {
            Waited::Message(len, priority) => {
                // The message has left the queue: print it whole before anything else.
                render::emit(&mut out, format, &buf[..len], priority)
                    .map_err(|e| output_failure(e, len, priority))?;
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

enum Waited {
    Message(usize, u32),
    Signal(i32),
    Nothing,
}

/// Waits for one message in short slices, looking at the signal flag
/// between slices (never between receiving and printing).
fn wait_for_message(q: &Queue, buf: &mut [u8], timeout: Timeout) -> Result<Waited, Failure> {
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
        match q.receive(buf, t) {
            Ok((len, priority)) => return Ok(Waited::Message(len, priority)),
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
