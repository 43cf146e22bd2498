//! A string that must never be printed: Clerk keys, webhook secrets, passwords in database URLs.

use std::fmt;

/// Holds a secret value. `Debug` prints a fixed marker and there is no `Display`, so a secret cannot
/// reach a log line, an error message or a panic by accident; call [`Secret::expose`] where the value
/// is really needed (an HTTP header, a connection string, an HMAC key).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("sk_live_abcdef");
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("abcdef"), "{printed}");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.expose(), "sk_live_abcdef");
    }
}
