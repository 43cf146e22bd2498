//! Equality of secrets without an early exit: the time taken does not depend on where two values
//! first differ (only on their length, which is not secret for the values compared here: tokens,
//! digests, CSRF tokens of fixed formats).

/// `a == b`, comparing every byte.
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::eq;

    #[test]
    fn equal_only_when_every_byte_and_the_length_match() {
        assert!(eq(b"abc", b"abc"));
        assert!(eq(b"", b""));
        assert!(!eq(b"abc", b"abd"));
        assert!(!eq(b"abc", b"ab"));
        assert!(!eq(b"xbc", b"abc"));
    }
}
