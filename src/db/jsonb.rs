//! A writer of SQLite's binary JSON ("JSONB", <https://sqlite.org/jsonb.html>) for the one shape the
//! audit writer hands to SQLite: an array of rows, each an array of integers, strings and nulls.
//!
//! Why not text JSON: SQLite's JSON functions turn a text argument into JSONB before they read it,
//! so a batch sent as text was rendered by serde_json and then parsed again by SQLite, two passes
//! over every byte of every event on the hot write path. A BLOB that is JSONB is read as it is.
//!
//! Each element is a header (type in the low four bits, payload size in the high four bits or in the
//! 1, 2, 4 or 8 big-endian bytes that follow) and a payload. Strings are written as TEXTRAW (UTF-8
//! stored verbatim, escaped by SQLite only if it ever renders the value as JSON text), integers as
//! INT (ASCII decimal). Headers use the smallest size encoding, as SQLite's own `jsonb()` does.

const NULL: u8 = 0;
const INT: u8 = 3;
const TEXT_RAW: u8 = 10;
const ARRAY: u8 = 11;

/// One scalar of a row.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(Decimal),
    Text(&'a str),
}

impl<'a> Value<'a> {
    pub fn int(n: i64) -> Self {
        Value::Int(Decimal::new(n))
    }

    pub fn text(s: &'a str) -> Self {
        Value::Text(s)
    }

    pub fn opt_text(s: Option<&'a str>) -> Self {
        s.map_or(Value::Null, Value::Text)
    }

    fn payload(&self) -> &[u8] {
        match self {
            Value::Null => &[],
            Value::Int(d) => d.as_bytes(),
            Value::Text(s) => s.as_bytes(),
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Value::Null => NULL,
            Value::Int(_) => INT,
            Value::Text(_) => TEXT_RAW,
        }
    }

    fn encoded_len(&self) -> usize {
        let payload = self.payload().len();
        header_len(payload) + payload
    }
}

/// An integer as ASCII decimal, formatted once (its length is needed before it is written).
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    fn new(n: i64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        // Works on the magnitude as u64 so that i64::MIN has one.
        let mut rest = n.unsigned_abs();
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let mut decimal = Self { digits, start };
        if n < 0 {
            // 19 digits at most for an i64 magnitude, so index 0 is free for the sign.
            decimal.start -= 1;
            decimal.digits[decimal.start] = b'-';
        }
        decimal
    }

    fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

fn header_len(payload: usize) -> usize {
    match payload {
        0..=11 => 1,
        12..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

fn push_header(out: &mut Vec<u8>, kind: u8, payload: usize) {
    let size = payload as u64;
    match header_len(payload) {
        1 => out.push(kind | (size as u8) << 4),
        2 => out.extend_from_slice(&[kind | 12 << 4, size as u8]),
        3 => {
            out.push(kind | 13 << 4);
            out.extend_from_slice(&(size as u16).to_be_bytes());
        }
        5 => {
            out.push(kind | 14 << 4);
            out.extend_from_slice(&(size as u32).to_be_bytes());
        }
        _ => {
            out.push(kind | 15 << 4);
            out.extend_from_slice(&size.to_be_bytes());
        }
    }
}

/// Appends `values` as one JSONB array.
pub fn push_array<const N: usize>(out: &mut Vec<u8>, values: &[Value<'_>; N]) {
    let payload = values.iter().map(Value::encoded_len).sum();
    push_header(out, ARRAY, payload);
    for value in values {
        push_header(out, value.kind(), value.payload().len());
        out.extend_from_slice(value.payload());
    }
}

/// Makes `out[room..]` (elements already appended after `room` reserved bytes) one JSONB array by
/// writing its header just before them; returns where the array now starts. `room` must be at
/// least 9, the longest header.
pub fn write_array_header(out: &mut [u8], room: usize) -> usize {
    let payload = out.len() - room;
    let mut header = Vec::with_capacity(9);
    push_header(&mut header, ARRAY, payload);
    let start = room - header.len();
    out[start..room].copy_from_slice(&header);
    start
}

/// Reads back one array written by [`push_array`] (integers, strings and nulls), or `None` for
/// anything else. Only the audit writer's rare path uses it: the reduced form of an event the
/// database refused is made from the event's encoded row.
pub fn read_array(bytes: &[u8]) -> Option<Vec<serde_json::Value>> {
    let (ARRAY, mut items, []) = read_element(bytes)? else {
        return None;
    };
    let mut values = Vec::new();
    while !items.is_empty() {
        let (kind, payload, rest) = read_element(items)?;
        let text = || std::str::from_utf8(payload).ok();
        values.push(match kind {
            NULL => serde_json::Value::Null,
            INT => serde_json::Value::from(text()?.parse::<i64>().ok()?),
            TEXT_RAW => serde_json::Value::from(text()?),
            _ => return None,
        });
        items = rest;
    }
    Some(values)
}

/// The first element of `bytes`: its type, its payload, and the bytes after it.
fn read_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&header, rest) = bytes.split_first()?;
    let (size, rest) = match header >> 4 {
        size @ 0..=11 => (usize::from(size), rest),
        12 => {
            let (size, rest) = rest.split_first_chunk::<1>()?;
            (usize::from(size[0]), rest)
        }
        13 => {
            let (size, rest) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*size)), rest)
        }
        14 => {
            let (size, rest) = rest.split_first_chunk::<4>()?;
            (usize::try_from(u32::from_be_bytes(*size)).ok()?, rest)
        }
        _ => {
            let (size, rest) = rest.split_first_chunk::<8>()?;
            (usize::try_from(u64::from_be_bytes(*size)).ok()?, rest)
        }
    };
    if rest.len() < size {
        return None;
    }
    let (payload, rest) = rest.split_at(size);
    Some((header & 0x0f, payload, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Encodes `rows` as one JSONB array of arrays, in order.
    fn array_of_rows<const N: usize>(rows: &[[Value<'_>; N]]) -> Vec<u8> {
        let mut out = vec![0; 9];
        for row in rows {
            push_array(&mut out, row);
        }
        let start = write_array_header(&mut out, 9);
        out.drain(..start);
        out
    }

    #[test]
    fn rows_read_back_as_written_and_anything_else_is_refused() {
        let long = "ü".repeat(40_000);
        let mut row = Vec::new();
        push_array(
            &mut row,
            &[
                Value::int(i64::MIN),
                Value::Null,
                Value::text(""),
                Value::text(&long),
            ],
        );
        assert_eq!(
            read_array(&row),
            Some(vec![
                serde_json::Value::from(i64::MIN),
                serde_json::Value::Null,
                serde_json::Value::from(""),
                serde_json::Value::from(long.as_str()),
            ])
        );
        assert_eq!(read_array(&row[..row.len() - 1]), None, "truncated");
        let mut trailing = row.clone();
        trailing.push(0);
        assert_eq!(read_array(&trailing), None, "trailing bytes");
        assert_eq!(read_array(&[0x00]), None, "not an array");
        assert_eq!(read_array(&[]), None);
    }

    #[test]
    fn decimals_cover_the_whole_i64_range() {
        for n in [0, 7, -7, 10, 1_779_000_000_000, i64::MAX, i64::MIN] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn headers_use_the_smallest_size_encoding() {
        let header = |len: usize| {
            let mut out = Vec::new();
            push_header(&mut out, TEXT_RAW, len);
            out
        };
        assert_eq!(header(0), [0x0a]);
        assert_eq!(header(11), [0xba]);
        assert_eq!(header(12), [0xca, 12]);
        assert_eq!(header(255), [0xca, 255]);
        assert_eq!(header(256), [0xda, 1, 0]);
        assert_eq!(header(65_536), [0xea, 0, 1, 0, 0]);
        assert_eq!(header(1 << 32), [0xfa, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn rows_are_laid_out_as_the_format_says() {
        let bytes = array_of_rows(&[[Value::int(-5), Value::Null, Value::text("ab")]]);
        // outer array (8 bytes) > row array (7 bytes) > INT "-5", NULL, TEXTRAW "ab"
        assert_eq!(
            bytes,
            [0x8b, 0x7b, 0x23, b'-', b'5', 0x00, 0x2a, b'a', b'b']
        );
        assert_eq!(array_of_rows::<3>(&[]), [0x0b]);
    }

    /// SQLite itself finds the encoding strictly valid and reads back exactly the values written,
    /// whatever the strings hold and however long they are (every header size up to 2 bytes of
    /// length, and 4 bytes for the outer array).
    #[test]
    fn sqlite_reads_back_what_was_written() {
        use diesel::prelude::*;
        use diesel::sql_types::{Binary, Integer, Text};

        #[derive(QueryableByName)]
        struct Read {
            #[diesel(sql_type = Integer)]
            valid: i32,
            #[diesel(sql_type = Text)]
            text: String,
        }

        let strings: Vec<String> = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "tab\t newline\n nul\u{0} bell\u{7}",
            "ünïcödé ✓ 🦀",
            "NULL",
            "12345678901",
            "123456789012",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([255, 256, 65_535, 65_536, 100_000].map(|n| "x".repeat(n)))
        .collect();
        let ints = [0, -1, 42, i64::MAX, i64::MIN, 1_795_000_000_000];
        let rows: Vec<[Value<'_>; 3]> = strings
            .iter()
            .zip(ints.iter().cycle())
            .map(|(s, &n)| [Value::text(s), Value::int(n), Value::opt_text(None)])
            .collect();
        let expected: Vec<(String, i64, Option<String>)> = strings
            .iter()
            .zip(ints.iter().cycle())
            .map(|(s, &n)| (s.clone(), n, None))
            .collect();

        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        let read: Read = diesel::sql_query("SELECT json_valid(?1, 8) AS valid, json(?1) AS text")
            .bind::<Binary, _>(array_of_rows(&rows))
            .get_result(&mut conn)
            .expect("query");
        assert_eq!(read.valid, 1);
        let back: Vec<(String, i64, Option<String>)> =
            serde_json::from_str(&read.text).expect("SQLite renders JSON");
        assert_eq!(back, expected);
    }
}
