//! The client's address: the peer's, unless the peer is a configured proxy, in which case the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are
//! whatever the client claimed).

use std::net::IpAddr;

pub fn resolve(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let hops = forwarded_for
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .rev();
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted_proxies.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(peer)
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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_proxies() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            resolve(Some(ip("203.0.113.9")), Some("1.2.3.4"), &proxies),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), Some("1.2.3.4"), &proxies),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            resolve(
                Some(ip("10.0.0.1")),
                Some("6.6.6.6, 1.2.3.4, 10.0.0.2"),
                &proxies
            ),
            Some(ip("1.2.3.4"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), Some("junk"), &proxies),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), None, &proxies),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(resolve(None, Some("1.2.3.4"), &proxies), None);
    }

    #[test]
    fn addresses_are_written_as_std_writes_them() {
        for text in [
            "127.0.0.1",
            "::1",
            "2001:db8::1",
            "::ffff:192.0.2.128",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(IpText::new(ip(text)).as_str(), ip(text).to_string());
        }
    }
}
