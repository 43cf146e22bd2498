#![allow(clippy::unwrap_used)]
use super::*;
use actix_web::test::TestRequest;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const PROXIES: [&str; 2] = ["10.0.0.1", "10.0.0.2"];

/// The client address of a request from `peer` with these `X-Forwarded-For` lines, in order.
fn resolve(peer: &str, lines: &[&str]) -> Option<IpAddr> {
    let mut req = TestRequest::default().peer_addr(std::net::SocketAddr::new(ip(peer), 40_000));
    for line in lines {
        req = req.append_header(("x-forwarded-for", *line));
    }
    let proxies: Vec<IpAddr> = PROXIES.iter().map(|p| ip(p)).collect();
    of_request(req.to_http_request().head(), &proxies)
}

#[test]
fn forwarded_for_is_read_only_from_trusted_proxies() {
    assert_eq!(
        resolve("203.0.113.9", &["1.2.3.4"]),
        Some(ip("203.0.113.9"))
    );
    assert_eq!(resolve("10.0.0.1", &["1.2.3.4"]), Some(ip("1.2.3.4")));
    assert_eq!(resolve("10.0.0.1", &[]), Some(ip("10.0.0.1")));
    let no_peer = TestRequest::default()
        .insert_header(("x-forwarded-for", "1.2.3.4"))
        .to_http_request();
    assert_eq!(of_request(no_peer.head(), &[ip("10.0.0.1")]), None);
}

/// Each case: the peer, the `X-Forwarded-For` lines in order, and the client they must resolve to.
fn check(cases: &[(&str, &[&str], &str)]) {
    for (peer, lines, client) in cases {
        assert_eq!(resolve(peer, lines), Some(ip(client)), "{peer} {lines:?}");
    }
}

#[test]
fn the_rightmost_untrusted_hop_is_the_client() {
    check(&[
        // The client claimed 6.6.6.6; the first proxy saw 1.2.3.4; the second proxy saw the first.
        ("10.0.0.1", &["6.6.6.6, 1.2.3.4, 10.0.0.2"], "1.2.3.4"),
        // Trusted hops anywhere right of the client are skipped, whitespace or not.
        (
            "10.0.0.1",
            &["6.6.6.6,1.2.3.4 ,10.0.0.2,  10.0.0.1"],
            "1.2.3.4",
        ),
    ]);
}

#[test]
fn every_header_line_counts_in_order() {
    check(&[
        // A proxy that adds its own line rather than appending: the last line is the nearest hop.
        ("10.0.0.1", &["6.6.6.6", "1.2.3.4"], "1.2.3.4"),
        // A trusted hop on its own line is skipped and the walk goes on in the line before.
        ("10.0.0.1", &["6.6.6.6, 1.2.3.4", "10.0.0.2"], "1.2.3.4"),
        ("10.0.0.1", &["1.2.3.4", "10.0.0.2, 5.6.7.8"], "5.6.7.8"),
    ]);
}

#[test]
fn garbage_stops_the_walk_at_the_nearest_trusted_proxy() {
    for lines in [
        &["junk"][..],
        &["1.2.3.4, junk"],
        &["1.2.3.4, , 10.0.0.2"],
        &["1.2.3.4:443"],
        &["[2001:db8::1]"],
        &["1.2.3.4", "junk, 10.0.0.2"],
        &[""],
    ] {
        assert_eq!(
            resolve("10.0.0.1", lines),
            Some(ip("10.0.0.1")),
            "{lines:?}"
        );
    }
    // Garbage further left than the first untrusted hop is never read.
    assert_eq!(resolve("10.0.0.1", &["junk, 1.2.3.4"]), Some(ip("1.2.3.4")));
    // A line that is not visible ASCII is one unreadable hop.
    let req = TestRequest::default()
        .peer_addr("10.0.0.1:1".parse().unwrap())
        .append_header(("x-forwarded-for", "1.2.3.4"))
        .append_header((
            "x-forwarded-for",
            actix_web::http::header::HeaderValue::from_bytes(b"5.6.7.8\xff").unwrap(),
        ))
        .to_http_request();
    assert_eq!(
        of_request(req.head(), &[ip("10.0.0.1")]),
        Some(ip("10.0.0.1"))
    );
}

#[test]
fn the_walk_is_bounded() {
    // Thousands of hops left of the client cost nothing: the walk stops at the first untrusted.
    let mut long = "9.9.9.9, ".repeat(5_000);
    long.push_str("1.2.3.4, 10.0.0.2");
    assert_eq!(resolve("10.0.0.1", &[&long]), Some(ip("1.2.3.4")));
    // More trusted hops in a row than the cap: the client behind them is not looked for.
    let trusted = vec!["10.0.0.2"; MAX_FORWARDED_HOPS];
    let mut lines = vec!["1.2.3.4"];
    lines.extend_from_slice(&trusted);
    assert_eq!(resolve("10.0.0.1", &lines), Some(ip("10.0.0.1")));
    lines.remove(1);
    assert_eq!(
        resolve("10.0.0.1", &lines),
        Some(ip("1.2.3.4")),
        "one hop fewer is within the cap"
    );
}

#[test]
fn ipv6_and_mapped_addresses() {
    check(&[
        ("10.0.0.1", &["2001:db8::7, 10.0.0.2"], "2001:db8::7"),
        // A dual-stack listener reports IPv4 peers as mapped IPv6: still the trusted proxy.
        ("::ffff:10.0.0.1", &["1.2.3.4"], "1.2.3.4"),
        ("10.0.0.1", &["::ffff:1.2.3.4, ::ffff:10.0.0.2"], "1.2.3.4"),
        ("::ffff:203.0.113.9", &[], "203.0.113.9"),
    ]);
}

#[test]
fn ipv6_clients_are_counted_by_their_64_prefix() {
    let a = ClientNetwork::of(ip("2001:db8:1:2:aaaa::1"));
    let b = ClientNetwork::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    let other = ClientNetwork::of(ip("2001:db8:1:3::1"));
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert_eq!(a.to_string(), "2001:db8:1:2::/64");
    assert_eq!(ClientNetwork::of(ip("192.0.2.1")).to_string(), "192.0.2.1");
    assert_eq!(
        ClientNetwork::of(ip("::ffff:192.0.2.1")),
        ClientNetwork::of(ip("192.0.2.1"))
    );
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
