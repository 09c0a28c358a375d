//! A minimal HTTP/1.1 keep-alive GET client on a tokio `TcpStream`: just enough protocol for
//! load generation (status line, `Content-Length`, chunked bodies, `Connection: close`,
//! bodies delimited by the connection closing), with no per-request allocation.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head (status line and headers) we accept.
const MAX_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// Where requests go, parsed from an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address to connect to (IPv6 without brackets).
    pub host: String,
    /// TCP port (80 when the URL has none).
    pub port: u16,
    /// The `Host` header value (the URL's authority).
    pub host_header: String,
    /// Path and query of the URL (`/` when empty).
    pub path: String,
}

/// Why a URL cannot be used as a load target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// `https://` (TLS is not supported by the built-in generator).
    #[error(
        "{url}: https is not supported by the built-in load generator; use an http:// URL (in-cluster service URLs are plain http) or run a load tool such as locust or k6 in the test task"
    )]
    Https {
        /// The URL given.
        url: String,
    },
    /// Anything else wrong with the URL.
    #[error("{url}: {reason} (expected e.g. http://helloservice.fulltour-qa:80/)")]
    Invalid {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Target {
    /// Parses `http://host[:port][/path][?query]` (a `#fragment` is dropped).
    pub fn parse(url: &str) -> Result<Target, UrlError> {
        let invalid = |reason| UrlError::Invalid {
            url: url.to_string(),
            reason,
        };
        let trimmed = url.trim();
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| invalid("missing scheme http://"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(UrlError::Https {
                url: url.to_string(),
            });
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(invalid("only http:// URLs are supported"));
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| invalid("unclosed '[' in the host"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| invalid("unexpected text after ']'"))?,
                    ),
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("the host is empty"));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("the host contains whitespace"));
        }
        let port = match port {
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("the port is not a number between 1 and 65535"))?,
        };
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid("the path contains spaces or control characters"));
        }
        Ok(Target {
            host: host.to_string(),
            port,
            host_header: authority.to_string(),
            path,
        })
    }

    /// The path to request for `extra` (a `--path` value): appended to the URL's path.
    pub fn join(&self, extra: &str) -> String {
        let base = self.path.trim_end_matches('/');
        let extra = extra.trim();
        if extra.starts_with('/') {
            format!("{base}{extra}")
        } else {
            format!("{base}/{extra}")
        }
    }

    /// The bytes of a keep-alive GET request for `path`.
    pub fn request_bytes(&self, path: &str) -> Vec<u8> {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sluice-load\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
            self.host_header
        )
        .into_bytes()
    }

    /// The bytes of a keep-alive POST request for `path` with `post`'s headers and body.
    pub fn post_request_bytes(&self, path: &str, post: &Post) -> Vec<u8> {
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sluice-load\r\nAccept: */*\r\nConnection: keep-alive\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.host_header,
            post.content_type,
            post.body.len()
        );
        for (name, value) in &post.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&post.body);
        bytes
    }
}

/// A request body to POST instead of sending GETs, with extra headers (such as a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// `Content-Type` of the body.
    pub content_type: String,
    /// Further headers, sent as given (no CR or LF in names or values).
    pub headers: Vec<(String, String)>,
    /// The body, the same for every request.
    pub body: Vec<u8>,
}

/// Why an exchange on a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The peer closed the connection before sending any byte of the response (typical of a
    /// keep-alive connection the server has just retired; safe to retry a GET once).
    #[error("connection closed before the response")]
    ClosedBeforeResponse,
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The response is not HTTP/1.x as we understand it.
    #[error("invalid response: {0}")]
    Protocol(&'static str),
}

/// Why [`send`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No connection could be opened.
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The exchange failed (after the one retry, if it was allowed).
    #[error(transparent)]
    Exchange(ExchangeError),
}

/// Sends `request` on `conn`, opening a connection to `addr` when there is none, and leaves
/// the connection in `conn` when the server keeps it alive (`None` otherwise, and after any
/// failure). A reused connection that the server closed before answering, or that failed
/// with an I/O error, gets one retry on a new connection: only for requests that may be sent
/// twice (a GET, or an event with its id).
pub async fn send(
    conn: &mut Option<Connection>,
    addr: SocketAddr,
    request: &[u8],
) -> Result<Response, SendError> {
    let reused = conn.is_some();
    match send_once(conn, addr, request).await {
        Err(SendError::Exchange(ExchangeError::ClosedBeforeResponse | ExchangeError::Io(_)))
            if reused =>
        {
            send_once(conn, addr, request).await
        }
        outcome => outcome,
    }
}

/// [`send`] without the retry.
async fn send_once(
    conn: &mut Option<Connection>,
    addr: SocketAddr,
    request: &[u8],
) -> Result<Response, SendError> {
    let c = match conn {
        Some(c) => c,
        None => conn.insert(
            Connection::connect(addr)
                .await
                .map_err(SendError::Connect)?,
        ),
    };
    let outcome = c.exchange(request).await;
    if !matches!(
        outcome,
        Ok(Response {
            keep_alive: true,
            ..
        })
    ) {
        *conn = None;
    }
    outcome.map_err(SendError::Exchange)
}

/// What we keep of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

/// One open connection with its read buffer.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Connection {
    /// Opens a connection (with `TCP_NODELAY`).
    pub async fn connect(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        })
    }

    /// Sends `request` (a complete GET) and reads the whole response, discarding the body.
    pub async fn exchange(&mut self, request: &[u8]) -> Result<Response, ExchangeError> {
        // Leftover bytes would mean the server sent more than one response: not ours to read.
        if self.start != self.end {
            return Err(ExchangeError::Protocol(
                "unexpected bytes before the response",
            ));
        }
        self.start = 0;
        self.end = 0;
        self.stream.write_all(request).await?;
        loop {
            let head_len = self.read_head().await?;
            let head = &self.buf[self.start..self.start + head_len];
            let (status, framing, keep_alive) = parse_head(head)?;
            self.start += head_len;
            if (100..200).contains(&status) {
                continue; // an interim response (e.g. 100 Continue); the real one follows
            }
            let framing = if status == 204 || status == 304 {
                Framing::None
            } else {
                framing
            };
            let keep_alive = match framing {
                Framing::None => keep_alive,
                Framing::Length(n) => {
                    self.skip(n).await?;
                    keep_alive
                }
                Framing::Chunked => {
                    self.skip_chunked().await?;
                    keep_alive
                }
                Framing::UntilClose => {
                    self.start = self.end;
                    while self.fill().await? != 0 {
                        self.start = self.end;
                    }
                    false
                }
            };
            return Ok(Response { status, keep_alive });
        }
    }

    /// Reads more bytes after `end`; returns how many (0 at end of stream).
    async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Makes sure a complete head is buffered; returns its length including the blank line.
    async fn read_head(&mut self) -> Result<usize, ExchangeError> {
        let mut scanned: usize = 0;
        loop {
            let window = &self.buf[self.start..self.end];
            if let Some(i) = find(&window[scanned.saturating_sub(3)..], b"\r\n\r\n") {
                return Ok(scanned.saturating_sub(3) + i + 4);
            }
            scanned = window.len();
            if scanned > MAX_HEAD {
                return Err(ExchangeError::Protocol("response head larger than 64 KiB"));
            }
            let was_empty = self.start == self.end;
            if self.fill().await? == 0 {
                return Err(if was_empty {
                    ExchangeError::ClosedBeforeResponse
                } else {
                    ExchangeError::Protocol("connection closed inside the response head")
                });
            }
        }
    }

    /// Discards `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), ExchangeError> {
        loop {
            let available = (self.end - self.start) as u64;
            if available >= n {
                self.start += n as usize;
                return Ok(());
            }
            n -= available;
            self.start = self.end;
            if self.fill().await? == 0 {
                return Err(ExchangeError::Protocol("connection closed inside the body"));
            }
        }
    }

    /// Returns the length of the next CRLF-terminated line (without the CRLF), reading more as
    /// needed; the line starts at `start`.
    async fn line(&mut self) -> Result<usize, ExchangeError> {
        loop {
            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n") {
                return Ok(i);
            }
            if self.end - self.start > MAX_HEAD {
                return Err(ExchangeError::Protocol("chunk header line too long"));
            }
            if self.fill().await? == 0 {
                return Err(ExchangeError::Protocol(
                    "connection closed inside a chunked body",
                ));
            }
        }
    }

    /// Discards a chunked body including its trailers.
    async fn skip_chunked(&mut self) -> Result<(), ExchangeError> {
        loop {
            let len = self.line().await?;
            let line = &self.buf[self.start..self.start + len];
            let size_text = line.split(|b| *b == b';').next().unwrap_or_default();
            let size =
                parse_hex(trim(size_text)).ok_or(ExchangeError::Protocol("bad chunk size"))?;
            self.start += len + 2;
            if size == 0 {
                // Trailers: lines until an empty one.
                loop {
                    let len = self.line().await?;
                    self.start += len + 2;
                    if len == 0 {
                        return Ok(());
                    }
                }
            }
            self.skip(size).await?;
            let len = self.line().await?;
            if len != 0 {
                return Err(ExchangeError::Protocol("chunk data longer than its size"));
            }
            self.start += 2;
        }
    }
}

/// Status, body framing and keep-alive from a response head.
fn parse_head(head: &[u8]) -> Result<(u16, Framing, bool), ExchangeError> {
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let (version, rest) = match status_line.iter().position(|b| *b == b' ') {
        Some(i) => (&status_line[..i], &status_line[i + 1..]),
        None => return Err(ExchangeError::Protocol("no status line")),
    };
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        _ => return Err(ExchangeError::Protocol("not an HTTP/1.x status line")),
    };
    let status = match rest.get(..3) {
        Some(d) if d.iter().all(u8::is_ascii_digit) && rest.get(3).is_none_or(|b| *b == b' ') => {
            d.iter().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
        }
        _ => return Err(ExchangeError::Protocol("bad status code")),
    };
    let mut keep_alive = !http10;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return Err(ExchangeError::Protocol("header line without ':'"));
        };
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_dec(value).ok_or(ExchangeError::Protocol("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ExchangeError::Protocol(
                    "conflicting Content-Length headers",
                ));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value
                .split(|b| *b == b',')
                .next_back()
                .is_some_and(|last| trim(last).eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|b| *b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok((status, framing, keep_alive))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, b| {
        (*b as char).to_digit(16).map(|d| acc * 16 + u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on loopback: its `n`th connection (from 0) answers `answers[n]` requests
    /// with 200 and keep-alive, then reads one more and closes without answering it.
    async fn closing_server(answers: Vec<usize>) -> SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answers in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut chunk = [0u8; 1024];
                    for answered in 0..=answers {
                        let mut head = Vec::new();
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&chunk[..n]),
                            }
                        }
                        if answered == answers {
                            return; // the stream is dropped: closed without an answer
                        }
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                        stream.write_all(ok).await.unwrap();
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_reused_connection_closed_before_answering_is_retried_once_on_a_new_one() {
        let addr = closing_server(vec![1, 10]).await;
        let request = Target::parse(&format!("http://{addr}"))
            .unwrap()
            .request_bytes("/");
        let mut conn = None;
        assert_eq!(send(&mut conn, addr, &request).await.unwrap().status, 200);
        assert!(conn.is_some(), "kept alive");
        // The server closes the first connection at the second request: a new one answers.
        assert_eq!(send(&mut conn, addr, &request).await.unwrap().status, 200);
        assert_eq!(send(&mut conn, addr, &request).await.unwrap().status, 200);
        assert!(conn.is_some());
    }

    #[tokio::test]
    async fn a_new_connection_closed_before_answering_is_an_error_without_a_retry() {
        // A retry would reach the second connection, which answers.
        let addr = closing_server(vec![0, 10]).await;
        let request = Target::parse(&format!("http://{addr}"))
            .unwrap()
            .request_bytes("/");
        let mut conn = None;
        let error = send(&mut conn, addr, &request).await.unwrap_err();
        assert!(
            matches!(
                error,
                SendError::Exchange(ExchangeError::ClosedBeforeResponse)
            ),
            "{error:?}"
        );
        assert!(conn.is_none(), "a failed connection is not kept");
    }

    #[test]
    fn urls_parse() {
        let t = Target::parse("http://helloservice.fulltour-qa").unwrap();
        assert_eq!(
            t,
            Target {
                host: "helloservice.fulltour-qa".into(),
                port: 80,
                host_header: "helloservice.fulltour-qa".into(),
                path: "/".into()
            }
        );
        let t = Target::parse("HTTP://127.0.0.1:9000/app?x=1#frag").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/app?x=1")
        );
        assert_eq!(t.host_header, "127.0.0.1:9000");
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(Target::parse("http://h?q").unwrap().path, "/?q");
    }

    #[test]
    fn post_requests_carry_headers_and_body() {
        let t = Target::parse("http://127.0.0.1:9000").unwrap();
        let post = Post {
            content_type: "application/json".into(),
            headers: vec![("x-token".into(), "secret".into())],
            body: b"{\"a\":1}".to_vec(),
        };
        let text = String::from_utf8(t.post_request_bytes("/api/v1/event", &post)).unwrap();
        assert!(text.starts_with("POST /api/v1/event HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"));
        assert!(text.contains("\r\nContent-Length: 7\r\n"));
        assert!(text.contains("\r\nx-token: secret\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"a\":1}"));
    }

    #[test]
    fn bad_urls_have_clear_errors() {
        let https = Target::parse("https://example.com").unwrap_err();
        assert!(matches!(https, UrlError::Https { .. }));
        assert!(https.to_string().contains("https is not supported"));
        for bad in [
            "example.com",
            "ftp://x",
            "http://",
            "http://:80",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://u:p@h",
            "http://[::1",
            "http://h/a b",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(UrlError::Invalid { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn paths_join_onto_the_url_path() {
        let root = Target::parse("http://h").unwrap();
        assert_eq!(root.join("/"), "/");
        assert_eq!(root.join("/api"), "/api");
        assert_eq!(root.join("api"), "/api");
        let app = Target::parse("http://h/app/").unwrap();
        assert_eq!(app.join("/x"), "/app/x");
        let req = String::from_utf8(root.request_bytes("/a")).unwrap();
        assert!(req.starts_with("GET /a HTTP/1.1\r\nHost: h\r\n"));
        assert!(req.ends_with("Connection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn heads_parse() {
        let (s, f, k) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n").unwrap();
        assert!((s, k) == (200, true) && matches!(f, Framing::Length(12)));
        let (s, f, k) = parse_head(
            b"HTTP/1.1 500 Oops\r\ntransfer-encoding: gzip, chunked\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        assert!((s, k) == (500, false) && matches!(f, Framing::Chunked));
        let (_, f, k) = parse_head(b"HTTP/1.0 200\r\n\r\n").unwrap();
        assert!(!k && matches!(f, Framing::UntilClose));
        for bad in [
            &b"HTTP/2 200\r\n\r\n"[..],
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 2000\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
            b"garbage",
        ] {
            assert!(parse_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn numbers_parse() {
        assert_eq!(parse_hex(b"1aF"), Some(0x1af));
        assert_eq!(parse_hex(b""), None);
        assert_eq!(parse_hex(b"g"), None);
        assert_eq!(parse_dec(b"0042"), Some(42));
        assert_eq!(parse_dec(b"99999999999999999999"), None);
        assert_eq!(trim(b" \tx y\t "), b"x y");
    }
}
