//! The argument checks of [`Queue::send`] and [`Queue::receive`] (and their
//! batch and lease forms): inlined where they run, with the errors built
//! in cold functions so the hot path carries no formatting.

use super::Queue;
use crate::error::{Error, ErrorKind, Result};

const NO_WRITE: Error = Error::fixed(
    ErrorKind::Permission,
    "this handle was opened without write access; open the queue with write = true to send",
);
const NO_READ: Error = Error::fixed(
    ErrorKind::Permission,
    "this handle was opened without read access; open the queue with read = true to receive",
);

impl Queue {
    #[inline(always)]
    pub(super) fn check_send(&self, msg: &[u8], priority: u32) -> Result<()> {
        if !self.write
            || msg.len() as u64 > self.max_message_size as u64
            || priority > self.priority_max
        {
            return Err(self.bad_send(msg.len(), priority));
        }
        Ok(())
    }

    /// Why [`Queue::check_send`] refused (kept out of the hot path).
    #[cold]
    #[inline(never)]
    fn bad_send(&self, len: usize, priority: u32) -> Error {
        if !self.write {
            return NO_WRITE;
        }
        if len as u64 > self.max_message_size as u64 {
            return Error::new(
                ErrorKind::MessageTooLarge,
                format!(
                    "message of {} bytes is larger than queue {}'s max_message_size of {} bytes; \
                     send less, or create the queue with a larger max_message_size",
                    len, self.name, self.max_message_size
                ),
            );
        }
        let max = self.priority_max;
        Error::invalid(format!(
            "priority {priority} is above the highest priority {max}; use 0..={max}"
        ))
    }

    #[inline(always)]
    pub(crate) fn check_receive(&self, buf: &[u8]) -> Result<()> {
        if !self.read || (buf.len() as u64) < self.max_message_size as u64 {
            return Err(self.bad_receive(buf.len()));
        }
        Ok(())
    }

    /// Why [`Queue::check_receive`] refused (kept out of the hot path).
    #[cold]
    #[inline(never)]
    fn bad_receive(&self, len: usize) -> Error {
        if !self.read {
            return NO_READ;
        }
        Error::new(
            ErrorKind::BufferTooSmall,
            format!(
                "receive buffer of {} bytes is smaller than queue {}'s max_message_size; pass a \
                 buffer of at least {} bytes",
                len, self.name, self.max_message_size
            ),
        )
        .with_needed(self.max_message_size as usize)
    }
}
