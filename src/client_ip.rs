//! The client's address, one rule for every layer (audit trail, console sign-in throttle, per-IP
//! budgets): the peer's address, unless the peer is a configured proxy; then the right-most
//! `X-Forwarded-For` hop that is not itself a trusted proxy. Hops further left are whatever the
//! client claimed, so they are never read.
//!
//! Invariants:
//! - every `X-Forwarded-For` header line counts, joined in the order received (RFC 9110 §5.3: several
//!   lines of a list header are one comma-separated list), so a proxy that adds its own line instead
//!   of appending to the client's is read correctly;
//! - at most [`MAX_FORWARDED_HOPS`] hops are examined, from the right: a header with thousands of
//!   hops costs no more than a short one;
//! - a hop that is not an IP address stops the walk: what is left of it cannot be trusted, so the
//!   nearest trusted proxy is the answer, as when the walk reaches the cap;
//! - IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports) are the
//!   IPv4 address they carry, for the comparison with trusted proxies and in the answer.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::dev::RequestHead;
use actix_web::http::header::HeaderName;

/// How many `X-Forwarded-For` hops are examined, right to left, before giving up. A real chain
/// has a handful of proxies; more than this many trusted hops in a row is a misconfiguration.
pub const MAX_FORWARDED_HOPS: usize = 32;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Stands for a header line that is not visible ASCII: one hop that is not an address.
const UNREADABLE_LINE: &str = "unreadable";

/// The client's address for this request (`None` only when the connection has no peer address,
/// e.g. a test request without one). `trusted_proxies` is `server.trusted_proxies`.
pub fn of_request(head: &RequestHead, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = head.peer_addr?.ip().to_canonical();
    if !is_trusted(peer, trusted_proxies) {
        return Some(peer);
    }
    let hops = head
        .headers()
        .get_all(&X_FORWARDED_FOR)
        .rev()
        .flat_map(|line| line.to_str().unwrap_or(UNREADABLE_LINE).rsplit(','))
        .take(MAX_FORWARDED_HOPS);
    for hop in hops {
        match hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if is_trusted(ip, trusted_proxies) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(peer)
}

fn is_trusted(ip: IpAddr, trusted_proxies: &[IpAddr]) -> bool {
    trusted_proxies.iter().any(|t| t.to_canonical() == ip)
}

/// The unit a per-client limit counts: an IPv4 address, or an IPv6 address's /64 prefix (one
/// subscriber or host usually holds a whole /64, so counting single IPv6 addresses would give one
/// client 2^64 budgets). Shown as `192.0.2.1` or `2001:db8:1:2::/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientNetwork(IpAddr);

impl ClientNetwork {
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                Self(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

impl std::fmt::Display for ClientNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// An address as text, on the stack: the audit trail formats one per request.
pub struct IpText {
    buf: [u8; 64],
    len: usize,
}

impl IpText {
    pub fn new(ip: IpAddr) -> Self {
        use std::io::Write;
        let mut buf = [0u8; 64];
        let mut rest = &mut buf[..];
        // The longest address text (IPv6 with an embedded IPv4 address) is 45 bytes.
        let len = match write!(rest, "{ip}") {
            Ok(()) => 64 - rest.len(),
            Err(_) => 0,
        };
        Self { buf, len }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
