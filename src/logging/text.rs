//! Text lines (the default format), byte for byte as env_logger wrote them with the configuration
//! auth-core gave it (millisecond timestamps, key-values hidden, its default header and indent):
//!
//! `[2026-12-01T03:39:50.123Z INFO  auth_core::access] GET /healthz 200 0.3ms request_id=… user=- org=-`
//!
//! - the level padded to five characters; an empty target left out;
//! - each further line of a multi-line message indented by four spaces, so that a message cannot
//!   pass one of its lines off as a line of its own;
//! - key-values left out: the text message already says what they carry (`request::envelope`).
//!
//! [`Style::Plain`] (stderr is a file, a pipe, journald): escape sequences and control characters
//! other than whitespace are stripped from the line, as env_logger's output adapter (anstream's
//! `strip_bytes`, used here too) stripped them, so that a logged value cannot drive the terminal
//! the log is later read on. Almost no line holds one: it is looked for first, and only such a
//! line is copied.
//!
//! [`Style::Coloured`] (stderr is a terminal): what env_logger's `WriteStyle::Always` wrote — the
//! brackets dim, the level in its colour, nothing stripped. The colours are constant bytes
//! written around the level and the brackets, so keeping them costs nothing per line.

use std::io::{self, Write as _};
use std::time::SystemTime;

use log::{Level, Record};

use super::timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Coloured,
}

/// anstyle's rendering of env_logger's styles: bright black for the brackets, one colour per
/// level, and the reset after each.
const RESET: &[u8] = b"\x1b[0m";
const DIM_OPEN: &[u8] = b"\x1b[90m[\x1b[0m";
const DIM_CLOSE: &[u8] = b"\x1b[90m]\x1b[0m ";

/// The level as `{:<5}` writes it.
fn padded(level: Level) -> &'static [u8] {
    match level {
        Level::Error => b"ERROR",
        Level::Warn => b"WARN ",
        Level::Info => b"INFO ",
        Level::Debug => b"DEBUG",
        Level::Trace => b"TRACE",
    }
}

fn colour(level: Level) -> &'static [u8] {
    match level {
        Level::Error => b"\x1b[1m\x1b[31m",
        Level::Warn => b"\x1b[33m",
        Level::Info => b"\x1b[32m",
        Level::Debug => b"\x1b[34m",
        Level::Trace => b"\x1b[36m",
    }
}

/// Continuation lines of a message start with this.
const INDENT: &[u8] = b"\n    ";

/// One record as a text line ending in a newline. The line is complete even when a value's
/// `Display` fails (the error is returned; what it wrote stays).
pub fn write_record(
    out: &mut Vec<u8>,
    now: SystemTime,
    record: &Record<'_>,
    style: Style,
) -> io::Result<()> {
    let coloured = style == Style::Coloured;
    out.extend_from_slice(if coloured { DIM_OPEN } else { b"[" });
    timestamp::write_millis(out, now);
    out.push(b' ');
    let level = record.level();
    if coloured {
        out.extend_from_slice(colour(level));
        out.extend_from_slice(padded(level));
        out.extend_from_slice(RESET);
    } else {
        out.extend_from_slice(padded(level));
    }
    let target = record.target();
    if !target.is_empty() {
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
    }
    out.extend_from_slice(if coloured { DIM_CLOSE } else { b"] " });
    let message = out.len();
    let written = match record.args().as_str() {
        Some(text) => {
            out.extend_from_slice(text.as_bytes());
            Ok(())
        }
        None => write!(out, "{}", record.args()),
    };
    indent_continuations(out, message);
    out.push(b'\n');
    if style == Style::Plain && has_control(out) {
        let stripped = anstream::adapter::strip_bytes(out).into_vec();
        *out = stripped;
    }
    written
}

/// Indents every line of the message from `start` after its first.
fn indent_continuations(out: &mut Vec<u8>, start: usize) {
    if !out
        .get(start..)
        .is_some_and(|message| message.contains(&b'\n'))
    {
        return;
    }
    let message = out.split_off(start);
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(INDENT);
        }
        out.extend_from_slice(line);
    }
}

/// Whether stripping could change the line: it holds a control character other than the
/// whitespace the stripping keeps (tab, newline, form feed, carriage return), or DEL. Printable
/// ASCII and UTF-8 (a valid `str`) pass the stripping unchanged (`tests` checks every character).
fn has_control(line: &[u8]) -> bool {
    line.iter()
        .any(|&b| b == 0x7f || (b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0c | b'\r')))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// Recorded from env_logger 0.11.12 as auth-core configured it (timestamps made the epoch's).
    const TS: &str = "1970-01-01T00:00:00.000Z";

    fn line(style: Style, level: Level, target: &str, message: std::fmt::Arguments<'_>) -> Vec<u8> {
        let kvs: [(&str, log::kv::Value<'_>); 1] = [("path", log::kv::Value::from("/x"))];
        let mut out = Vec::new();
        write_record(
            &mut out,
            UNIX_EPOCH,
            &Record::builder()
                .level(level)
                .target(target)
                .args(message)
                .key_values(&kvs)
                .build(),
            style,
        )
        .unwrap();
        out
    }

    fn expected(text: &str) -> Vec<u8> {
        text.replace("{TS}", TS).into_bytes()
    }

    #[test]
    fn the_access_line_is_as_env_logger_wrote_it() {
        let access = format_args!(
            "GET {} 200 {:.1}ms request_id=abc user=- org=-",
            "/healthz", 0.3
        );
        assert_eq!(
            line(Style::Plain, Level::Info, "auth_core::access", access),
            expected("[{TS} INFO  auth_core::access] GET /healthz 200 0.3ms request_id=abc user=- org=-\n")
        );
        // A real timestamp in its place and shape.
        let mut out = Vec::new();
        write_record(
            &mut out,
            UNIX_EPOCH + Duration::from_millis(1_796_096_390_007),
            &Record::builder()
                .level(Level::Warn)
                .target("auth_core::x")
                .args(format_args!("careful"))
                .build(),
            Style::Plain,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[2026-12-01T03:39:50.007Z WARN  auth_core::x] careful\n"
        );
    }

    #[test]
    fn plain_lines_pad_the_level_and_leave_out_an_empty_target() {
        let cases = [
            (
                Level::Error,
                "auth_core::x",
                "[{TS} ERROR auth_core::x] m\n",
            ),
            (Level::Warn, "auth_core::x", "[{TS} WARN  auth_core::x] m\n"),
            (Level::Info, "auth_core::x", "[{TS} INFO  auth_core::x] m\n"),
            (
                Level::Debug,
                "auth_core::x",
                "[{TS} DEBUG auth_core::x] m\n",
            ),
            (
                Level::Trace,
                "auth_core::x",
                "[{TS} TRACE auth_core::x] m\n",
            ),
            (Level::Info, "", "[{TS} INFO ] m\n"),
        ];
        for (level, target, text) in cases {
            assert_eq!(
                line(Style::Plain, level, target, format_args!("m")),
                expected(text),
                "{level} {target:?}"
            );
        }
    }

    #[test]
    fn coloured_lines_are_env_logger_s_write_style_always() {
        let cases = [
            (Level::Error, "\x1b[1m\x1b[31mERROR"),
            (Level::Warn, "\x1b[33mWARN "),
            (Level::Info, "\x1b[32mINFO "),
            (Level::Debug, "\x1b[34mDEBUG"),
            (Level::Trace, "\x1b[36mTRACE"),
        ];
        for (level, styled) in cases {
            assert_eq!(
                line(Style::Coloured, level, "auth_core::x", format_args!("m")),
                expected(&format!(
                    "\x1b[90m[\x1b[0m{{TS}} {styled}\x1b[0m auth_core::x\x1b[90m]\x1b[0m m\n"
                )),
            );
        }
        assert_eq!(
            line(Style::Coloured, Level::Info, "", format_args!("m")),
            expected("\x1b[90m[\x1b[0m{TS} \x1b[32mINFO \x1b[0m\x1b[90m]\x1b[0m m\n")
        );
        // Nothing is stripped on a terminal.
        assert_eq!(
            line(Style::Coloured, Level::Info, "t\x1b[1m", format_args!("a\x1b[31mb\x07")),
            expected("\x1b[90m[\x1b[0m{TS} \x1b[32mINFO \x1b[0m t\x1b[1m\x1b[90m]\x1b[0m a\x1b[31mb\x07\n")
        );
    }

    #[test]
    fn further_lines_of_a_message_are_indented() {
        for style in [Style::Plain, Style::Coloured] {
            let text = line(
                style,
                Level::Info,
                "t",
                format_args!("two\nlines\r\nand{}", "\n"),
            );
            assert!(
                text.ends_with(b"t] two\n    lines\r\n    and\n    \n")
                    || text.ends_with(b"t\x1b[90m]\x1b[0m two\n    lines\r\n    and\n    \n"),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    #[test]
    fn plain_lines_strip_escape_sequences_and_control_characters() {
        let cases = [
            (
                "esc \x1b[31mred\x1b[0m bel\x07 nul\0 del\x7f vt\x0b tab\t ff\x0c",
                "esc red bel nul del vt tab\t ff\x0c",
            ),
            (
                "osc \x1b]0;title\x07 after; csi8 \u{9b}31m; nel \u{85}; é—日本 🦀",
                "osc  after; csi8 \u{9b}31m; nel \u{85}; é—日本 🦀",
            ),
            ("lone esc \x1b", "lone esc "),
        ];
        for (message, kept) in cases {
            assert_eq!(
                line(Style::Plain, Level::Info, "t", format_args!("{message}")),
                expected(&format!("[{{TS}} INFO  t] {kept}\n")),
                "{message:?}"
            );
        }
        assert_eq!(
            line(
                Style::Plain,
                Level::Info,
                "t\x1b[1m",
                format_args!("in target")
            ),
            expected("[{TS} INFO  t] in target\n")
        );
    }

    /// The shortcut is sound: a line `has_control` lets through is one the stripping leaves as it is.
    #[test]
    fn only_lines_with_control_characters_are_changed_by_stripping() {
        for c in (0..=0x2_ffff_u32)
            .chain(0xe_0000..=0x10_ffff)
            .filter_map(char::from_u32)
        {
            let text = format!("a{c}b\n");
            let stripped = anstream::adapter::strip_bytes(text.as_bytes()).into_vec();
            assert_eq!(
                has_control(text.as_bytes()),
                stripped != text.as_bytes(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }
}
