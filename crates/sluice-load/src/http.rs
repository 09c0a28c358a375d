//! The load generator's HTTP/1.1 keep-alive client: the target URL, the request sent again
//! and again, and one connection per simulated user on hyper's client connection (framing,
//! chunked bodies, `Connection: close` and close-delimited bodies are hyper's).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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

    /// The request to send for `path`: a GET, or `post`'s POST with its headers and body.
    pub fn request(&self, path: &str, post: Option<&Post>) -> Result<RequestTemplate, UrlError> {
        let invalid = |reason| UrlError::Invalid {
            url: format!("http://{}{path}", self.host_header),
            reason,
        };
        let uri: Uri = path
            .parse()
            .map_err(|_| invalid("the path is not a valid request target"))?;
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&self.host_header)
            .map_err(|_| invalid("the host is not a valid Host header"))?;
        headers.insert(header::HOST, host);
        headers.insert(header::USER_AGENT, HeaderValue::from_static("sluice-load"));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        let (method, body) = match post {
            None => (Method::GET, Bytes::new()),
            Some(post) => {
                let content_type = HeaderValue::from_str(&post.content_type)
                    .map_err(|_| invalid("the content type is not a valid header value"))?;
                headers.insert(header::CONTENT_TYPE, content_type);
                for (name, value) in &post.headers {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| invalid("a header name is not valid"))?;
                    let value = HeaderValue::from_str(value)
                        .map_err(|_| invalid("a header value is not valid"))?;
                    headers.append(name, value);
                }
                (Method::POST, Bytes::from(post.body.clone()))
            }
        };
        Ok(RequestTemplate {
            method,
            uri,
            headers,
            body,
        })
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

/// A request sent again and again: checked once, then built for each send from shared parts
/// (the body is reference-counted, not copied).
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    /// A fresh request (hyper takes requests by value).
    pub fn build(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Why an exchange on a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The connection was closed before the request was answered (typical of a keep-alive
    /// connection the server has just retired, or one it closed after its last answer; safe to
    /// retry a GET once on a fresh connection).
    #[error("connection closed before the response")]
    ClosedBeforeResponse,
    /// Connecting failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The response is not HTTP/1.x as hyper understands it, or broke off in the middle.
    #[error("invalid response: {0}")]
    Protocol(hyper::Error),
}

/// What we keep of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

/// hyper's connection future: it does the connection's reading and writing.
type Driver = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// One open HTTP/1.1 connection on hyper's client connection. Its I/O is driven inside the
/// caller's task while a request is in flight (no task of its own, no wake-ups across tasks),
/// which keeps the generator's throughput close to a hand-written client's.
#[derive(Debug)]
pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Pin<Box<Driver>>,
    /// The driver has finished: the connection is closed.
    closed: bool,
}

impl Connection {
    /// Opens a connection (with `TCP_NODELAY`).
    pub async fn connect(addr: SocketAddr) -> Result<Connection, ExchangeError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ExchangeError::Protocol)?;
        Ok(Connection {
            sender,
            driver: Box::pin(driver),
            closed: false,
        })
    }

    /// Runs `work` while driving the connection's I/O; the connection's own end (the peer
    /// closed it, or an error) is noted, and `work` then resolves with that error.
    async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        if !self.closed {
            tokio::select! {
                biased;
                out = &mut work => return out,
                _ = &mut self.driver => self.closed = true,
            }
        }
        work.await
    }

    /// Sends a request and reads the whole response, discarding the body.
    pub async fn exchange(&mut self, request: &RequestTemplate) -> Result<Response, ExchangeError> {
        if self.closed || self.sender.is_closed() {
            return Err(ExchangeError::ClosedBeforeResponse);
        }
        let send = self.sender.send_request(request.build());
        let response = self.drive(send).await.map_err(|e| {
            if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
                ExchangeError::ClosedBeforeResponse
            } else {
                ExchangeError::Protocol(e)
            }
        })?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let read = async {
            while let Some(frame) = body.frame().await {
                frame?;
            }
            Ok::<(), hyper::Error>(())
        };
        self.drive(read).await.map_err(ExchangeError::Protocol)?;
        Ok(Response {
            status,
            keep_alive: !self.closed && !self.sender.is_closed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Body as _;

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
    fn post_requests_carry_headers_and_body() {
        let t = Target::parse("http://127.0.0.1:9000").unwrap();
        let post = Post {
            content_type: "application/json".into(),
            headers: vec![("x-token".into(), "secret".into())],
            body: b"{\"a\":1}".to_vec(),
        };
        let r = t.request("/api/v1/event", Some(&post)).unwrap().build();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri(), "/api/v1/event");
        assert_eq!(r.headers()[header::HOST], "127.0.0.1:9000");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(r.headers()["x-token"], "secret");
        assert_eq!(r.body().size_hint().exact(), Some(7));
        let bad = Post {
            headers: vec![("x-token".into(), "a\r\nb".into())],
            ..post
        };
        assert!(t.request("/", Some(&bad)).is_err());
    }

    #[test]
    fn paths_join_onto_the_url_path() {
        let root = Target::parse("http://h").unwrap();
        assert_eq!(root.join("/"), "/");
        assert_eq!(root.join("/api"), "/api");
        assert_eq!(root.join("api"), "/api");
        let app = Target::parse("http://h/app/").unwrap();
        assert_eq!(app.join("/x"), "/app/x");
        let r = root.request("/a", None).unwrap().build();
        assert_eq!((r.method(), r.uri().path()), (&Method::GET, "/a"));
        assert_eq!(r.headers()[header::HOST], "h");
        assert_eq!(r.headers()[header::USER_AGENT], "sluice-load");
        assert!(root.request("/a b", None).is_err());
    }
}
