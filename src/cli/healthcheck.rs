//! `auth-core healthcheck [URL]`: GETs the liveness route and exits 0 only on `200`. It exists so that
//! a container's `HEALTHCHECK` needs no curl or wget in the image (nothing more to patch), and so that
//! the probe asks exactly the address the server binds.
//!
//! Plain HTTP/1.1 over one TCP connection, with every step bounded: the connection, the request and
//! the answer each have the timeout, and at most [`MAX_STATUS_LINE_BYTES`] of the answer are read, so
//! a stuck or hostile peer cannot hold the probe or make it allocate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use url::Url;

use super::HealthcheckArgs;
use crate::settings::Settings;

/// The liveness route (`api::routes` serves it; `tests/deploy.rs` checks the unit and compose file
/// name this one).
pub const LIVENESS_PATH: &str = "/healthz";

/// The status line (`HTTP/1.1 200 OK`) is all the probe reads.
const MAX_STATUS_LINE_BYTES: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("{0}")]
    Target(String),
    #[error("{url}: cannot connect: {error}")]
    Connect { url: String, error: std::io::Error },
    #[error("{url}: no answer: {error}")]
    Exchange { url: String, error: std::io::Error },
    #[error("{url}: not an HTTP answer: {line:?}")]
    NotHttp { url: String, line: String },
    #[error("{url}: answered {status}, expected 200")]
    Unhealthy { url: String, status: u16 },
}

/// Probes the URL given, or the liveness route on `server.bind`, and says it is healthy.
pub fn run(settings: &Settings, args: &HealthcheckArgs) -> Result<(), HealthcheckError> {
    let target = match &args.url {
        Some(url) => Target::from_url(url)?,
        None => Target::from_bind(&settings.server.bind)?,
    };
    probe(&target, Duration::from_secs(args.timeout_secs))?;
    println!("healthy: {}", target.url);
    Ok(())
}

/// Where to probe: `url` when given (http only), else `/healthz` on the server's bind address, with
/// an unspecified host (`0.0.0.0`, `[::]`) replaced by the loopback address of the same family.
pub struct Target {
    pub addrs: Vec<SocketAddr>,
    pub host_header: String,
    pub path: String,
    pub url: String,
}

impl Target {
    pub fn from_url(text: &str) -> Result<Self, HealthcheckError> {
        let bad = |why: &str| HealthcheckError::Target(format!("URL {text:?}: {why}"));
        let url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(bad(
                "only http:// is probed (the probe runs beside the server, before any TLS proxy)",
            ));
        }
        let host = url.host_str().ok_or_else(|| bad("no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let host_port = format!("{host}:{port}");
        let addrs = resolve(&host_port).map_err(|e| bad(&e))?;
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        Ok(Self {
            addrs,
            host_header: host_port,
            path,
            url: url.to_string(),
        })
    }

    pub fn from_bind(bind: &str) -> Result<Self, HealthcheckError> {
        let bad = |why: String| {
            HealthcheckError::Target(format!(
                "server.bind {bind:?}: {why}; pass the URL instead (auth-core healthcheck http://HOST:PORT{LIVENESS_PATH})"
            ))
        };
        let addrs: Vec<SocketAddr> = resolve(bind)
            .map_err(bad)?
            .into_iter()
            .map(|mut addr| {
                if addr.ip().is_unspecified() {
                    addr.set_ip(match addr.ip() {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    });
                }
                addr
            })
            .collect();
        if addrs.iter().any(|a| a.port() == 0) {
            return Err(bad("port 0 is chosen at start-up".to_owned()));
        }
        let first = addrs[0];
        Ok(Self {
            addrs,
            host_header: first.to_string(),
            path: LIVENESS_PATH.to_owned(),
            url: format!("http://{first}{LIVENESS_PATH}"),
        })
    }
}

fn resolve(host_port: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err("resolves to no address".to_owned());
    }
    Ok(addrs)
}

/// One GET; `Ok` only for a `200`. Tries each resolved address until one accepts the connection.
pub fn probe(target: &Target, timeout: Duration) -> Result<(), HealthcheckError> {
    let url = || target.url.clone();
    let mut last_error = None;
    let mut stream = None;
    for addr in &target.addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let stream = match (stream, last_error) {
        (Some(s), _) => s,
        (None, Some(error)) => return Err(HealthcheckError::Connect { url: url(), error }),
        (None, None) => return Err(HealthcheckError::Target(format!("{}: no address", url()))),
    };
    let exchange = |error| HealthcheckError::Exchange { url: url(), error };
    stream.set_read_timeout(Some(timeout)).map_err(exchange)?;
    stream.set_write_timeout(Some(timeout)).map_err(exchange)?;
    // One write: `write!` on the bare stream would send each formatted piece as its own segment.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: auth-core-healthcheck\r\nConnection: close\r\n\r\n",
        target.path, target.host_header
    );
    (&stream).write_all(request.as_bytes()).map_err(exchange)?;
    let mut line = Vec::new();
    BufReader::new((&stream).take(MAX_STATUS_LINE_BYTES))
        .read_until(b'\n', &mut line)
        .map_err(exchange)?;
    let line = String::from_utf8_lossy(&line).trim_end().to_owned();
    let status = parse_status(&line).ok_or_else(|| HealthcheckError::NotHttp {
        url: url(),
        line: line.clone(),
    })?;
    if status == 200 {
        Ok(())
    } else {
        Err(HealthcheckError::Unhealthy { url: url(), status })
    }
}

/// `HTTP/1.x NNN reason` → `NNN`.
fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn status_line_is_parsed_strictly() {
        assert_eq!(parse_status("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(parse_status("HTTP/1.1 200"), Some(200));
        assert_eq!(parse_status("SSH-2.0-OpenSSH_9.2"), None);
        assert_eq!(parse_status("HTTP/1.1 2000 OK"), None);
        assert_eq!(parse_status(""), None);
    }

    #[test]
    fn unspecified_bind_host_is_probed_on_loopback() {
        let v4 = Target::from_bind("0.0.0.0:8000").unwrap();
        assert_eq!(v4.addrs, vec!["127.0.0.1:8000".parse().unwrap()]);
        assert_eq!(v4.url, "http://127.0.0.1:8000/healthz");
        let v6 = Target::from_bind("[::]:8000").unwrap();
        assert_eq!(v6.addrs, vec!["[::1]:8000".parse().unwrap()]);
    }

    #[test]
    fn unusable_targets_are_refused_with_the_reason() {
        let port_zero = Target::from_bind("127.0.0.1:0").err().unwrap().to_string();
        assert!(port_zero.contains("port 0"), "{port_zero}");
        let https = Target::from_url("https://127.0.0.1/healthz")
            .err()
            .unwrap()
            .to_string();
        assert!(https.contains("only http://"), "{https}");
        assert!(Target::from_url("not a url").is_err());
    }
}
