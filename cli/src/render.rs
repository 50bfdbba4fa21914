//! How `recv` prints a message: raw, text, hex or json.

use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;

/// Output format of `recv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The message bytes exactly as received: no priority, no separator.
    Raw,
    /// One line per message: PRIORITY, a space, the message with \n, \t, \r,
    /// \\ and non-UTF-8 or control bytes escaped (\xHH).
    Text,
    /// One line per message: PRIORITY, a space, the bytes in lowercase hex.
    Hex,
    /// One JSON object per line: {"priority","size","text" (null unless UTF-8),"hex"}.
    Json,
}

/// The message as one line of text, escaped so that it cannot span lines
/// and every byte can be recovered.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x80 && c.is_control() => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Lowercase hex of the bytes.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    priority: u32,
    size: usize,
    text: Option<&'a str>,
    hex: String,
}

/// The bytes to print for one message.
pub fn render(format: Format, msg: &[u8], priority: u32) -> Vec<u8> {
    match format {
        Format::Raw => msg.to_vec(),
        Format::Text => format!("{priority} {}\n", escape(msg)).into_bytes(),
        Format::Hex => format!("{priority} {}\n", hex(msg)).into_bytes(),
        Format::Json => {
            let j = JsonMessage {
                priority,
                size: msg.len(),
                text: std::str::from_utf8(msg).ok(),
                hex: hex(msg),
            };
            let mut line = serde_json::to_vec(&j).expect("a message always serialises");
            line.push(b'\n');
            line
        }
    }
}

/// Writes the whole message and flushes it, so it is never half-printed.
pub fn emit(out: &mut impl Write, format: Format, msg: &[u8], priority: u32) -> io::Result<()> {
    out.write_all(&render(format, msg, priority))?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_keep_one_message_on_one_line() {
        assert_eq!(escape(b"plain text"), "plain text");
        assert_eq!(escape(b"a\nb\tc\\d\re"), "a\\nb\\tc\\\\d\\re");
        assert_eq!(escape(b"\x00\xff\x7f"), "\\x00\\xff\\x7f");
        assert_eq!(escape("né".as_bytes()), "né");
    }

    #[test]
    fn every_format_carries_the_priority_and_bytes() {
        assert_eq!(render(Format::Raw, b"a\nb", 3), b"a\nb");
        assert_eq!(render(Format::Text, b"a\nb", 3), b"3 a\\nb\n");
        assert_eq!(render(Format::Hex, b"a\nb", 3), b"3 610a62\n");
        assert_eq!(
            String::from_utf8(render(Format::Json, b"hi", 7)).unwrap(),
            "{\"priority\":7,\"size\":2,\"text\":\"hi\",\"hex\":\"6869\"}\n"
        );
        assert_eq!(
            String::from_utf8(render(Format::Json, b"\xff", 0)).unwrap(),
            "{\"priority\":0,\"size\":1,\"text\":null,\"hex\":\"ff\"}\n"
        );
    }
}

/// How a table column is aligned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Lays out a table: each column as wide as its widest cell (header
/// included), two spaces between columns, the last column not padded.
/// Returns the lines (header first), without newlines.
pub fn table<S: AsRef<str>>(header: &[&str], align: &[Align], rows: &[Vec<S>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.as_ref().chars().count());
        }
    }
    let last = header.len().saturating_sub(1);
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            let w = widths[i];
            if i == last {
                s.push_str(cell);
            } else if align[i] == Align::Right {
                s.push_str(&format!("{cell:>w$}  "));
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    let mut out = vec![line(&mut header.iter().copied())];
    for r in rows {
        out.push(line(&mut r.iter().map(|c| c.as_ref())));
    }
    out
}
