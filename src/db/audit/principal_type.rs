//! Who an audit event says made the request: the `principal_type` column's vocabulary. The column is
//! text, and these are the exact strings stored (the console filters and exports by them), so a
//! variant's text never changes once events carry it.

/// The kind of caller an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// A Clerk user, by a session token.
    User,
    /// One of auth-core's service API keys.
    ServiceKey,
    /// A Clerk machine token (API key, M2M token, OAuth access token).
    MachineToken,
    /// A console administrator (console pages, the `admin` command).
    Admin,
    /// Nobody authenticated.
    Anonymous,
}

impl PrincipalType {
    pub const ALL: [Self; 5] = [
        Self::User,
        Self::ServiceKey,
        Self::MachineToken,
        Self::Admin,
        Self::Anonymous,
    ];

    /// The stored text of each type, in the order of [`PrincipalType::ALL`].
    pub const NAMES: [&'static str; 5] = {
        let mut names = [""; 5];
        let mut i = 0;
        while i < names.len() {
            names[i] = Self::ALL[i].as_str();
            i += 1;
        }
        names
    };

    /// The text stored in `audit_events.principal_type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServiceKey => "service_key",
            Self::MachineToken => "machine_token",
            Self::Admin => "admin",
            Self::Anonymous => "anonymous",
        }
    }

    /// The type whose stored text is `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_reads_back_from_its_stored_text() {
        assert_eq!(
            PrincipalType::NAMES,
            ["user", "service_key", "machine_token", "admin", "anonymous"]
        );
        for t in PrincipalType::ALL {
            assert_eq!(PrincipalType::parse(t.as_str()), Some(t));
            assert!(t.as_str().len() <= crate::bounds::CODE);
        }
        assert_eq!(PrincipalType::parse("machine"), None);
    }
}
