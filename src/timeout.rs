//! How long a send or receive may wait, and the reference's float-seconds
//! spelling of it.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// How long a send or receive may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Wait as long as it takes (unless the handle is non-blocking).
    Forever,
    /// Try once; fail with [`ErrorKind::WouldBlock`] if the call cannot complete now.
    TryOnce,
    /// Wait at most this long (measured on a monotonic clock), then fail with
    /// [`ErrorKind::TimedOut`]. A zero duration means [`Timeout::TryOnce`]; a
    /// duration too long to represent as a deadline never runs out.
    After(Duration),
}

/// A number of seconds for a detail: plain for everyday magnitudes, with an
/// exponent for huge or tiny ones (never hundreds of digits), like C's `%g`.
pub(crate) fn seconds_text(s: f64) -> String {
    let a = s.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{s:e}")
    } else {
        format!("{s}")
    }
}

impl Timeout {
    /// The reference's float-seconds timeout: `None` waits forever, `0` tries
    /// once, a positive value waits at most that long. NaN, negative and
    /// infinite values are rejected with a detail that says why.
    pub fn from_secs_f64(seconds: Option<f64>) -> Result<Timeout> {
        let Some(s) = seconds else {
            return Ok(Timeout::Forever);
        };
        if s.is_nan() {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "timeout is NaN; use 0 to try once, a positive number of seconds to wait at most \
                 that long, or the call without a timeout to wait forever",
            ));
        }
        if s.is_infinite() {
            return Err(Error::fixed(
                ErrorKind::InvalidArgument,
                "timeout is infinite; to wait forever, send or receive without a timeout",
            ));
        }
        if s < 0.0 {
            return Err(Error::invalid(format!(
                "timeout {} is negative; use 0 to try once or a positive number of seconds",
                seconds_text(s)
            )));
        }
        if s == 0.0 {
            return Ok(Timeout::TryOnce);
        }
        match Duration::try_from_secs_f64(s) {
            // A positive timeout is a bounded wait even below a nanosecond:
            // it ends with TimedOut, never WouldBlock.
            Ok(d) => Ok(Timeout::After(d.max(Duration::from_nanos(1)))),
            Err(_) => Err(Error::invalid(format!(
                "timeout {} seconds is too large to represent; to wait forever use the call \
                 without a timeout",
                seconds_text(s)
            ))),
        }
    }
}
