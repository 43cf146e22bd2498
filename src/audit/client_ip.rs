//! The client's address: the peer's, unless the peer is a configured proxy, in which case the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left are
//! whatever the client claimed).

use std::net::IpAddr;

pub fn resolve(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpAddr],
) -> Option<String> {
    let peer = peer?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer.to_string());
    }
    let hops = forwarded_for
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .rev();
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted_proxies.contains(&ip) => continue,
            Ok(ip) => return Some(ip.to_string()),
            Err(_) => break,
        }
    }
    Some(peer.to_string())
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
            resolve(Some(ip("203.0.113.9")), Some("1.2.3.4"), &proxies).as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), Some("1.2.3.4"), &proxies).as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            resolve(
                Some(ip("10.0.0.1")),
                Some("6.6.6.6, 1.2.3.4, 10.0.0.2"),
                &proxies
            )
            .as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), Some("junk"), &proxies).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), None, &proxies).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(resolve(None, Some("1.2.3.4"), &proxies), None);
    }
}
