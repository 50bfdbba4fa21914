//! `pmq send`: one message, standard input whole, or a message a line.

use std::ffi::OsString;
use std::io::{self, BufRead, Read};
use std::os::unix::ffi::OsStrExt;

use pmq::Timeout;

use crate::args::options;
use crate::cmd::CmdResult;
use crate::fail::{self, open_failure, Failure};

pub fn send(
    kind: pmq::BackendKind,
    name: &str,
    message: Option<OsString>,
    priority: u32,
    timeout: Option<f64>,
    lines: bool,
) -> CmdResult {
    let timeout = Timeout::from_secs_f64(timeout)?;
    let q = options(kind)
        .read(false)
        .write(true)
        .open(Some(name))
        .map_err(|e| open_failure(e, name, kind))?;
    if let Some(m) = message {
        q.send(m.as_bytes(), priority, timeout)?;
        return Ok(fail::OK);
    }
    // Standard input may never end (/dev/zero): read at most one byte more
    // than a message may hold, and stop there.
    let max = q.max_message_size().max(0) as u64;
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let read_failure =
        |e: io::Error| Failure::new(fail::OTHER, format!("cannot read standard input: {e}"));
    if !lines {
        let mut all = Vec::new();
        (&mut input)
            .take(max.saturating_add(1))
            .read_to_end(&mut all)
            .map_err(read_failure)?;
        if all.len() as u64 > max {
            return Err(fail::input_too_large("standard input", name, max));
        }
        q.send(&all, priority, timeout)?;
        return Ok(fail::OK);
    }
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = (&mut input)
            .take(max.saturating_add(1))
            .read_until(b'\n', &mut line)
            .map_err(read_failure)?;
        if read == 0 {
            return Ok(fail::OK);
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        // Without its newline, a line that fits has at most `max` bytes;
        // more means the limit cut it short and the rest is not read.
        let result = if line.len() as u64 > max {
            Err(fail::input_too_large("the line", name, max))
        } else {
            q.send(&line, priority, timeout).map_err(Failure::from)
        };
        if let Err(f) = result {
            let sent = match number - 1 {
                0 => "no line was sent".to_string(),
                1 => "line 1 was sent".to_string(),
                n => format!("lines 1-{n} were sent"),
            };
            return Err(Failure::new(
                f.code,
                format!("line {number}: {}; {sent}", f.message),
            ));
        }
    }
}
