//! HTTP statuses an audit filter keeps, as written in a query string: one code (`403`) or a class
//! (`4xx`, 400 to 499).

/// An inclusive range of HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    low: i32,
    high: i32,
}

/// Text that is neither a code from 100 to 599 nor a class from `1xx` to `5xx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a status code (403) or class (4xx)")]
pub struct BadStatus;

impl StatusRange {
    /// A code from 100 to 599, or a class from `1xx` to `5xx`: exactly three ASCII characters, as
    /// the OpenAPI document's pattern says (`^([1-5]xx|[1-5][0-9]{2})$`), so `04xx`, `+403` or `0403`,
    /// which a number parser would take, are refused.
    pub fn parse(text: &str) -> Result<Self, BadStatus> {
        let digit = |b: u8| i32::from(b - b'0');
        match *text.as_bytes() {
            [class @ b'1'..=b'5', b'x', b'x'] => Ok(Self {
                low: digit(class) * 100,
                high: digit(class) * 100 + 99,
            }),
            [hundreds @ b'1'..=b'5', tens @ b'0'..=b'9', units @ b'0'..=b'9'] => {
                let code = digit(hundreds) * 100 + digit(tens) * 10 + digit(units);
                Ok(Self {
                    low: code,
                    high: code,
                })
            }
            _ => Err(BadStatus),
        }
    }

    pub fn low(&self) -> i32 {
        self.low
    }

    pub fn high(&self) -> i32 {
        self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Result<(i32, i32), BadStatus> {
        StatusRange::parse(text).map(|r| (r.low(), r.high()))
    }

    #[test]
    fn classes_span_their_hundred() {
        assert_eq!(range("1xx"), Ok((100, 199)));
        assert_eq!(range("2xx"), Ok((200, 299)));
        assert_eq!(range("4xx"), Ok((400, 499)));
        assert_eq!(range("5xx"), Ok((500, 599)));
    }

    #[test]
    fn a_code_is_itself() {
        assert_eq!(range("100"), Ok((100, 100)));
        assert_eq!(range("403"), Ok((403, 403)));
        assert_eq!(range("599"), Ok((599, 599)));
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "", "xx", "0xx", "6xx", "4XX", "4x", "4xxx", "x4xx", "99", "600", "4 03", "abc",
            "-4xx", "04xx", "+4xx", "0403", "+403", "4030", "099", "٤03",
        ] {
            assert_eq!(range(text), Err(BadStatus), "{text:?}");
        }
    }
}
