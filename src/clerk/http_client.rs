//! The one way auth-core builds an HTTP client for Clerk (JWKS, Backend API): HTTP/1.1 only.
//!
//! awc always compiles in HTTP/2 (it turns on actix-http's `http2`, and with it the `h2` crate) and
//! by default offers `h2` in TLS ALPN, so Clerk's servers would pick HTTP/2. auth-core's requests to
//! Clerk are small, few and on pooled connections, so HTTP/2 buys nothing here, and not speaking it
//! keeps h2's frame handling (RUSTSEC-2026-0258: unbounded empty DATA frames, no fixed 0.3 release)
//! out of reach of anything on the network: the client offers only `http/1.1`, and the server binds
//! plain HTTP/1 listeners (actix's `bind`, not `bind_auto_h2c`). `.cargo/audit.toml` records this.

use std::time::Duration;

/// What auth-core says it is to Clerk.
pub const USER_AGENT: &str = concat!("auth-core/", env!("CARGO_PKG_VERSION"));

/// A client that speaks HTTP/1.1 only, with `timeout` for each request.
pub fn client(timeout: Duration) -> awc::Client {
    let connector = awc::Connector::new().max_http_version(awc::http::Version::HTTP_11);
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .add_default_header(("User-Agent", USER_AGENT))
        .finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;

    /// The protocols a TLS ClientHello offers in its ALPN extension (RFC 7301), read off the wire.
    fn offered_protocols(record: &[u8]) -> Vec<String> {
        let u16_at = |b: &[u8], i: usize| usize::from(u16::from_be_bytes([b[i], b[i + 1]]));
        assert_eq!(record[0], 0x16, "a TLS handshake record");
        let hello = &record[5..];
        assert_eq!(hello[0], 0x01, "a ClientHello");
        let body = &hello[4..];
        let mut at = 2 + 32; // legacy version, random
        at += 1 + usize::from(body[at]); // session id
        at += 2 + u16_at(body, at); // cipher suites
        at += 1 + usize::from(body[at]); // compression methods
        let end = at + 2 + u16_at(body, at);
        at += 2;
        while at < end {
            let (kind, len) = (u16_at(body, at), u16_at(body, at + 2));
            let data = &body[at + 4..at + 4 + len];
            if kind == 16 {
                let mut protocols = Vec::new();
                let mut p = 2;
                while p < data.len() {
                    let n = usize::from(data[p]);
                    protocols.push(String::from_utf8_lossy(&data[p + 1..p + 1 + n]).into_owned());
                    p += 1 + n;
                }
                return protocols;
            }
            at += 4 + len;
        }
        Vec::new()
    }

    /// What the client sends to a TLS server on loopback, before the handshake fails: its ALPN
    /// offers HTTP/1.1 alone (awc's default client offers `h2` first).
    #[actix_web::test]
    async fn the_client_offers_http_1_1_only() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut record = vec![0u8; 5];
            stream.read_exact(&mut record).unwrap();
            let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
            record.resize(5 + len, 0);
            stream.read_exact(&mut record[5..]).unwrap();
            record
        });
        let sent = client(Duration::from_secs(10))
            .get(format!("https://127.0.0.1:{port}/v1/jwks"))
            .send()
            .await;
        assert!(sent.is_err(), "no TLS server answered");
        let record = server.join().unwrap();
        assert_eq!(offered_protocols(&record), vec!["http/1.1".to_owned()]);
    }
}
