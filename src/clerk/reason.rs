//! Why a token was refused. Clerk's own reason strings (`TokenVerificationErrorReason` in
//! @clerk/backend) where Clerk has one, and ours for the checks auth-core adds.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // Clerk's.
    TokenInvalid,
    TokenInvalidAlgorithm,
    JwkKidMismatch,
    JwkFailedToResolve,
    TokenInvalidSignature,
    TokenVerificationFailed,
    TokenInvalidAuthorizedParties,
    TokenExpired,
    TokenNotActiveYet,
    TokenIatInTheFuture,
    SessionTokenMissing,
    // auth-core's.
    TokenTooLarge,
    TokenInvalidIssuer,
    TokenTypeMismatch,
    SessionPending,
    SessionRevoked,
    UserDeleted,
    ServiceKeyInvalid,
    ServiceKeyExpired,
    ServiceKeyRevoked,
    /// The database could not be asked about a service key.
    ServiceKeyUnavailable,
    /// A machine token Clerk has revoked.
    TokenRevoked,
    /// Clerk's Backend API (or the database, for its organization) could not be asked about a
    /// machine token.
    MachineTokenUnavailable,
    /// Clerk refused auth-core's secret key.
    SecretKeyInvalid,
    /// A service key or machine token bound to an organization deleted in Clerk (webhook).
    OrganizationDeleted,
    /// This client's budget of failed credential lookups is spent: refused without asking Clerk or
    /// the database (429).
    TooManyFailedCredentials,
}

impl Reason {
    pub const ALL: [Reason; 26] = [
        Self::TokenInvalid,
        Self::TokenInvalidAlgorithm,
        Self::JwkKidMismatch,
        Self::JwkFailedToResolve,
        Self::TokenInvalidSignature,
        Self::TokenVerificationFailed,
        Self::TokenInvalidAuthorizedParties,
        Self::TokenExpired,
        Self::TokenNotActiveYet,
        Self::TokenIatInTheFuture,
        Self::SessionTokenMissing,
        Self::TokenTooLarge,
        Self::TokenInvalidIssuer,
        Self::TokenTypeMismatch,
        Self::SessionPending,
        Self::SessionRevoked,
        Self::UserDeleted,
        Self::ServiceKeyInvalid,
        Self::ServiceKeyExpired,
        Self::ServiceKeyRevoked,
        Self::ServiceKeyUnavailable,
        Self::TokenRevoked,
        Self::MachineTokenUnavailable,
        Self::SecretKeyInvalid,
        Self::OrganizationDeleted,
        Self::TooManyFailedCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenInvalid => "token-invalid",
            Self::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Self::JwkKidMismatch => "jwk-kid-mismatch",
            Self::JwkFailedToResolve => "jwk-failed-to-resolve",
            Self::TokenInvalidSignature => "token-invalid-signature",
            Self::TokenVerificationFailed => "token-verification-failed",
            Self::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Self::TokenExpired => "token-expired",
            Self::TokenNotActiveYet => "token-not-active-yet",
            Self::TokenIatInTheFuture => "token-iat-in-the-future",
            Self::SessionTokenMissing => "session-token-missing",
            Self::TokenTooLarge => "token-too-large",
            Self::TokenInvalidIssuer => "token-invalid-issuer",
            Self::TokenTypeMismatch => "token-type-mismatch",
            Self::SessionPending => "session-pending",
            Self::SessionRevoked => "session-revoked",
            Self::UserDeleted => "user-deleted",
            Self::ServiceKeyInvalid => "service-key-invalid",
            Self::ServiceKeyExpired => "service-key-expired",
            Self::ServiceKeyRevoked => "service-key-revoked",
            Self::ServiceKeyUnavailable => "service-key-unavailable",
            Self::TokenRevoked => "token-revoked",
            Self::MachineTokenUnavailable => "machine-token-unavailable",
            Self::SecretKeyInvalid => "secret-key-invalid",
            Self::OrganizationDeleted => "organization-deleted",
            Self::TooManyFailedCredentials => "too-many-failed-credentials",
        }
    }

    /// A sentence for the error body's `message`.
    pub fn message(self) -> &'static str {
        match self {
            Self::TokenInvalid => "the token is not a well-formed JWT",
            Self::TokenInvalidAlgorithm => {
                "the token's algorithm is not one of RS256, RS384, RS512"
            }
            Self::JwkKidMismatch => "no known key matches the token's kid",
            Self::JwkFailedToResolve => "the keys to verify the token could not be loaded",
            Self::TokenInvalidSignature => "the token's signature is invalid",
            Self::TokenVerificationFailed => "the token's claims are malformed",
            Self::TokenInvalidAuthorizedParties => "the token's azp is not an authorized party",
            Self::TokenExpired => "the token has expired",
            Self::TokenNotActiveYet => "the token is not active yet (nbf)",
            Self::TokenIatInTheFuture => "the token was issued in the future (iat)",
            Self::SessionTokenMissing => {
                "no session token: send Authorization: Bearer or the __session cookie"
            }
            Self::TokenTooLarge => "the token exceeds the size limit",
            Self::TokenInvalidIssuer => "the token's issuer is not this Clerk instance",
            Self::TokenTypeMismatch => "the token is not a session token",
            Self::SessionPending => {
                "the session is pending (tasks outstanding) and counts as signed out"
            }
            Self::SessionRevoked => "the session has been revoked or ended",
            Self::UserDeleted => "the user has been deleted in Clerk",
            Self::ServiceKeyInvalid => "the service key is unknown or its secret is wrong",
            Self::ServiceKeyExpired => "the service key has expired",
            Self::ServiceKeyRevoked => "the service key has been revoked",
            Self::ServiceKeyUnavailable => "service keys cannot be checked right now",
            Self::TokenRevoked => "the token has been revoked",
            Self::MachineTokenUnavailable => {
                "the token could not be checked (Clerk or the database did not answer); retry shortly"
            }
            Self::SecretKeyInvalid => "Clerk refused auth-core's secret key (CLERK_SECRET_KEY)",
            Self::OrganizationDeleted => {
                "the credential's organization has been deleted in Clerk"
            }
            Self::TooManyFailedCredentials => {
                "too many refused credentials from this client; retry after Retry-After seconds"
            }
        }
    }

    /// The credential could not be judged because something on the server's side failed (keys not
    /// loaded, the database or Clerk unreachable, our secret key refused): the client should retry,
    /// and nothing is concluded about its credential.
    pub fn is_outage(self) -> bool {
        matches!(
            self,
            Self::JwkFailedToResolve
                | Self::ServiceKeyUnavailable
                | Self::MachineTokenUnavailable
                | Self::SecretKeyInvalid
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
