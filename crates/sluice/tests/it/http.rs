//! A minimal blocking HTTP/1.1 client for driving a real `sluice server` in tests (one
//! connection per request, `Connection: close`), so the tests need no HTTP crate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// An answer: status code and body text.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }
}

/// Sends one request to `base` (`http://127.0.0.1:PORT`) with the API token.
pub fn call(base: &str, token: &str, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let payload = body.map(|b| b.to_string());
    let mut headers = vec![("x-token", token)];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    send(base, method, path, &headers, payload.as_deref())
}

/// Sends one request with exactly these headers (plus `Host`, `Connection: close` and
/// `Content-Length`) and this body.
pub fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    try_send(base, method, path, headers, body, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{method} {base}{path}: {e}"))
}

/// [`call`] that reports a connection that fails or stays silent for `wait` instead of
/// panicking (for servers that may be down or paused).
pub fn try_call(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    wait: Duration,
) -> std::io::Result<Answer> {
    let payload = body.map(|b| b.to_string());
    let mut headers = vec![("x-token", token)];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    try_send(base, method, path, &headers, payload.as_deref(), wait)
}

fn try_send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    wait: Duration,
) -> std::io::Result<Answer> {
    let addr = base.strip_prefix("http://").expect("http base URL");
    let socket: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&socket, wait)?;
    stream.set_read_timeout(Some(wait))?;
    stream.set_write_timeout(Some(wait))?;
    let payload = body.unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(payload);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(Answer { status, body })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
