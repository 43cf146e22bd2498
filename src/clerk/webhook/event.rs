//! A webhook event, typed. Parsing happens only after the signature has been verified.

use serde::Deserialize;
use serde_json::Value;

use crate::clerk::organization::{ClerkMembership, ClerkOrganization};
use crate::clerk::user::ClerkUser;

/// The envelope every Clerk event shares.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: Value,
    /// When Clerk emitted the event.
    pub timestamp: Option<i64>,
    pub instance_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Deleted {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Session {
    id: String,
    user_id: Option<String>,
    /// When the session would have expired (ms).
    expire_at: Option<i64>,
}

/// What a delivery asks auth-core to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    UserUpserted(ClerkUser),
    UserDeleted {
        id: String,
    },
    OrganizationUpserted(ClerkOrganization),
    OrganizationDeleted {
        id: String,
    },
    MembershipUpserted(ClerkMembership),
    MembershipDeleted(ClerkMembership),
    /// `session.revoked`, `session.ended`, `session.removed`: its tokens must stop working now.
    SessionEnded {
        session_id: String,
        user_id: Option<String>,
        expire_at: Option<i64>,
    },
    /// `role.*`, `permission.*`: kept in the delivery log only.
    Recorded,
    /// Any other of Clerk's event types: acknowledged, not applied.
    Ignored,
}

impl Event {
    /// Types the event. An error means the payload does not have the shape its type promises.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, String> {
        fn data<T: serde::de::DeserializeOwned>(envelope: &Envelope) -> Result<T, String> {
            serde_json::from_value(envelope.data.clone())
                .map_err(|e| format!("{} payload: {e}", envelope.event_type))
        }
        Ok(match envelope.event_type.as_str() {
            "user.created" | "user.updated" => Self::UserUpserted(data(envelope)?),
            "user.deleted" => Self::UserDeleted {
                id: data::<Deleted>(envelope)?.id,
            },
            "organization.created" | "organization.updated" => {
                Self::OrganizationUpserted(data(envelope)?)
            }
            "organization.deleted" => Self::OrganizationDeleted {
                id: data::<Deleted>(envelope)?.id,
            },
            "organizationMembership.created" | "organizationMembership.updated" => {
                Self::MembershipUpserted(data(envelope)?)
            }
            "organizationMembership.deleted" => Self::MembershipDeleted(data(envelope)?),
            "session.revoked" | "session.ended" | "session.removed" => {
                let session: Session = data(envelope)?;
                Self::SessionEnded {
                    session_id: session.id,
                    user_id: session.user_id,
                    expire_at: session.expire_at,
                }
            }
            t if t.starts_with("role.") || t.starts_with("permission.") => Self::Recorded,
            _ => Self::Ignored,
        })
    }
}
