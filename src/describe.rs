//! How a queue describes itself: the reference's `str()` and `repr()`.

use std::fmt;

use crate::queue::Queue;

/// How [`Queue::describe`] renders a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescribeStyle {
    /// The reference's `str()`: the name and the current message count.
    Short,
    /// The reference's `repr()`: every attribute.
    Debug,
}

impl Queue {
    /// The reference's `str()` (Short) or `repr()` (Debug).
    pub fn describe(&self, style: DescribeStyle) -> String {
        let attrs = self.attributes();
        match style {
            DescribeStyle::Short => match attrs {
                Ok(a) => format!(
                    "{} ({} of {} messages)",
                    self.name(),
                    a.current_messages,
                    a.max_messages
                ),
                Err(_) => format!("{} (closed)", self.name()),
            },
            DescribeStyle::Debug => {
                let state = match attrs {
                    Ok(a) => format!("current_messages={}, block={}", a.current_messages, a.block),
                    Err(_) => "closed".to_string(),
                };
                format!(
                    "pmq_queue(name={:?}, mode=0o{:o}, max_messages={}, max_message_size={}, \
                     read={}, write={}, {})",
                    self.name(),
                    self.mode(),
                    self.max_messages(),
                    self.max_message_size(),
                    self.can_read(),
                    self.can_write(),
                    state
                )
            }
        }
    }
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(DescribeStyle::Debug))
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(DescribeStyle::Short))
    }
}
