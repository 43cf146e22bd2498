//! Runs the real `auth-core` binary in a directory of the test's, with exactly the environment given.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_auth-core");

/// A command with a cleared environment: nothing of the developer's or CI's shell leaks in.
pub fn command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The `SECRET_KEY` of in-process test apps (the binary runs without one unless a test sets it).
pub const TEST_SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789";

/// Runs to completion (bounded: these commands finish on their own within seconds).
pub fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    command(dir, env)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// As [`run`], with `stdin` written to the command's standard input (a password, say) and then
/// closed.
pub fn run_with_stdin(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command(dir, env)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Dropped at the end of the statement: the command sees end of file after the text.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A server started with `serve --bind 127.0.0.1:0`; killed if the test ends early.
pub struct RunningServer {
    pub child: Child,
    pub base: String,
    /// stderr lines, read by a thread so the child never blocks on a full pipe.
    pub stderr_lines: mpsc::Receiver<String>,
    /// Signalled when stdout reaches end of file, i.e. the process has exited.
    exited: mpsc::Receiver<()>,
}

impl RunningServer {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = command(dir, env)
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr_lines = forward_lines(child.stderr.take().unwrap());
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        let mut stdout = BufReader::new(stdout);
        // The binary prints this line once it is listening: no polling, no sleeping.
        stdout.read_line(&mut first).unwrap();
        let (exit_tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            let _ = exit_tx.send(());
        });
        let base = first
            .trim()
            .strip_prefix("auth-core listening on ")
            .unwrap_or_else(|| {
                let err: Vec<String> = stderr_lines.try_iter().collect();
                panic!("unexpected first line {first:?}; stderr: {err:?}")
            })
            .to_owned();
        Self {
            child,
            base,
            stderr_lines,
            exited,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for a stderr line containing `needle` (bounded by `timeout`), returning it.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no log line containing {needle:?} ({e})"),
            }
        }
    }

    /// Waits for the process to exit (bounded), returning its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.exited
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("process did not exit within {timeout:?}"));
        self.child.wait().unwrap()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A minimal blocking HTTP/1.1 GET, for tests that drive the binary from plain threads.
/// Returns the status code and the body.
pub fn http_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {raw:?}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
