//! The server's one outgoing HTTP client (SLI providers, webhooks), built in one place so
//! connection pools, TLS setup, timeouts, the outbound rules and the size limit of answers
//! are shared by everything that calls out.
//!
//! Every connection obeys [`Outbound`] (see [`crate::net::outbound`]): an address literal in
//! a URL is checked before sending; a host name is resolved once by the client's own resolver,
//! which drops the addresses the rules refuse and hands the rest to the connector, so the
//! connection goes to an address that was checked (no second resolution: DNS rebinding cannot
//! slip past). Redirects are never followed, system proxies are ignored, and only http and
//! https URLs are sent.
//!
//! Callers build a [`Request`] from the [`Client`] and [`Request::send`] it; the answer's
//! body is read in chunks and refused past [`MAX_RESPONSE_BYTES`] (or the client's own
//! limit), so a misbehaving server cannot make sluice buffer more than that. There is no other
//! way to send: the `reqwest` client and request builder stay private to this module.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::time::Duration;

use crate::net::outbound::Outbound;

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer body read from any server (Prometheus' answers to the instant queries
/// sluice sends are a few hundred bytes).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting, sending or reading failed, or the request timed out.
    #[error("{}", transport_message(.0))]
    Transport(#[source] reqwest::Error),
    /// The answer's body is longer than the limit; reading stopped there.
    #[error("the answer is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The URL cannot be used (not http/https, no host, unparsable).
    #[error("invalid URL: {0}")]
    Url(String),
    /// The target is not allowed by the outbound rules.
    #[error("{0}")]
    Refused(String),
}

impl Error {
    /// Whether the request may be repeated safely because it never reached the server (a
    /// connection error) or timed out.
    pub fn is_connect_or_timeout(&self) -> bool {
        match self {
            Error::Transport(e) => (e.is_connect() && !refused_by_policy(e)) || e.is_timeout(),
            _ => false,
        }
    }
}

/// Whether a transport error is the resolver refusing the target.
fn refused_by_policy(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<PolicyRefusal>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The resolver's refusal (carried through reqwest's connect error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PolicyRefusal(String);

/// How host names are turned into addresses (the system resolver; tests replace it).
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system resolver.
fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    })
}

/// The resolver every connection goes through: it resolves once, keeps only the addresses the
/// outbound rules allow, and hands exactly those to the connector, which connects to them
/// without resolving again (so a name that changes its answer between a check and a
/// connection, DNS rebinding, cannot reach a refused address).
struct CheckedResolver {
    policy: Arc<Outbound>,
    lookup: Lookup,
    /// Whether names on the allowlist skip the address check (the client used only for
    /// URLs whose host and port the allowlist names).
    by_name: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let (policy, lookup, by_name) = (self.policy.clone(), self.lookup.clone(), self.by_name);
        Box::pin(async move {
            let found = lookup(host.clone()).await?;
            let named = by_name && policy.names(&host);
            let (allowed, refused): (Vec<IpAddr>, Vec<IpAddr>) = found
                .into_iter()
                .partition(|ip| named || policy.allows_addr(*ip));
            if allowed.is_empty() {
                let first = refused
                    .first()
                    .map_or_else(|| "no address".to_owned(), IpAddr::to_string);
                return Err(Box::new(PolicyRefusal(refusal(&host, &first)))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

fn refusal(host: &str, addr: &str) -> String {
    format!(
        "refusing to connect to {host} ({addr}): not a public address; an administrator can allow it with --outbound-allow or {}",
        crate::net::outbound::ALLOW_ENV
    )
}

/// The shared client. Clones share the connection pools.
#[derive(Clone)]
pub struct Client {
    /// Checks every resolved address.
    strict: reqwest::Client,
    /// For URLs whose host and port the allowlist names.
    named: reqwest::Client,
    policy: Arc<Outbound>,
    max_body: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy.to_string())
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// A request being built (see [`Client::get`]).
#[derive(Debug)]
pub struct Request {
    client: Client,
    inner: Result<reqwest::RequestBuilder, Error>,
    url: String,
    max_body: usize,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: reqwest::StatusCode,
    /// The body, at most the client's limit.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Builds the client with the outbound rules. Call it once per server (see
/// [`crate::state::App::http`]).
pub fn client(policy: Outbound) -> Client {
    Client::new(policy, MAX_RESPONSE_BYTES, system_lookup())
}

/// The HTTP methods sluice sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Client {
    /// A client under `policy` that refuses answers longer than `max_body` bytes and resolves
    /// names with `lookup`.
    pub fn new(policy: Outbound, max_body: usize, lookup: Lookup) -> Client {
        install_crypto_provider();
        let policy = Arc::new(policy);
        let build = |by_name: bool| {
            reqwest::Client::builder()
                .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(Arc::new(CheckedResolver {
                    policy: policy.clone(),
                    lookup: lookup.clone(),
                    by_name,
                }))
                .build()
                // Building fails only when the TLS backend cannot start; fall back to a
                // client that still applies the rules (plain-HTTP calls still work).
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot configure the HTTP client; using defaults");
                    reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .no_proxy()
                        .dns_resolver(Arc::new(CheckedResolver {
                            policy: policy.clone(),
                            lookup: lookup.clone(),
                            by_name,
                        }))
                        .build()
                        .unwrap_or_default()
                })
        };
        Client {
            strict: build(false),
            named: build(true),
            policy,
            max_body,
        }
    }

    /// The same client (same pools and rules) with another answer-size limit.
    pub fn with_body_limit(&self, max_body: usize) -> Client {
        Client {
            max_body,
            ..self.clone()
        }
    }

    /// The outbound rules.
    pub fn policy(&self) -> &Outbound {
        &self.policy
    }

    /// A GET request to `url`.
    pub fn get(&self, url: &str) -> Request {
        self.request(Method::Get, url)
    }

    /// A request with `method` to `url`. The URL is checked against the outbound rules when
    /// it is sent.
    pub fn request(&self, method: Method, url: &str) -> Request {
        let inner = match self.pick(url) {
            Ok(client) => Ok(match method {
                Method::Get => client.get(url),
                Method::Head => client.head(url),
                Method::Post => client.post(url),
                Method::Put => client.put(url),
                Method::Patch => client.patch(url),
                Method::Delete => client.delete(url),
            }),
            Err(e) => Err(e),
        };
        Request {
            client: self.clone(),
            inner,
            url: url.to_owned(),
            max_body: self.max_body,
        }
    }

    /// Checks the URL's scheme and address literal, and chooses the client by its host.
    fn pick(&self, url: &str) -> Result<&reqwest::Client, Error> {
        let parsed = reqwest::Url::parse(url).map_err(|e| Error::Url(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Url(format!(
                "only http and https are allowed, not `{}`",
                parsed.scheme()
            )));
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            return Err(Error::Url("the URL has no host".into()));
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.literal(ip, port);
        }
        if self.policy.allows_name(host, port) {
            Ok(&self.named)
        } else {
            Ok(&self.strict)
        }
    }

    /// reqwest connects to an address literal without asking the resolver: check it here.
    fn literal(&self, ip: IpAddr, port: u16) -> Result<&reqwest::Client, Error> {
        if self.policy.allows_literal(ip, port) {
            Ok(&self.strict)
        } else {
            Err(Error::Refused(refusal(&ip.to_string(), &ip.to_string())))
        }
    }
}

impl Request {
    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Request {
        Request {
            inner: self.inner.map(f),
            ..self
        }
    }

    /// Adds query parameters.
    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Request {
        self.map(|r| r.query(query))
    }

    /// Limits the whole request, answer included.
    pub fn timeout(self, timeout: Duration) -> Request {
        self.map(|r| r.timeout(timeout))
    }

    /// HTTP basic authentication.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Request {
        self.map(|r| r.basic_auth(user, password))
    }

    /// Adds a header (a name or value that is not valid HTTP fails the send).
    pub fn header(self, name: &str, value: &str) -> Request {
        self.map(|r| r.header(name, value))
    }

    /// Sets the body.
    pub fn body(self, body: Vec<u8>) -> Request {
        self.map(|r| r.body(body))
    }

    /// Refuses answers longer than `max_body` bytes (instead of the client's limit).
    pub fn body_limit(self, max_body: usize) -> Request {
        Request { max_body, ..self }
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends the request and reads the whole answer, refusing bodies over the limit (a
    /// declared `Content-Length` over it is refused before reading). Redirects are not
    /// followed: a 3xx is an answer like any other.
    pub async fn send(self) -> Result<Answer, Error> {
        let limit = self.max_body;
        let _client = self.client;
        let mut response = self.inner?.send().await.map_err(|e| {
            if refused_by_policy(&e) {
                // Say what the policy said, without reqwest's wrapping.
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    if let Some(r) = s.downcast_ref::<PolicyRefusal>() {
                        return Error::Refused(r.0.clone());
                    }
                    source = s.source();
                }
            }
            Error::Transport(e)
        })?;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Error::TooLarge { limit });
        }
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Error::Transport)? {
            if body.len() + chunk.len() > limit {
                return Err(Error::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }
}

/// A transport error without the URL (it can be long; credentials are never in it).
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// rustls is built with ring only; it must be told so before the first client exists.
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn loopback() -> Client {
        client(Outbound::parse("127.0.0.1/32").unwrap())
    }

    #[test]
    fn builds_twice() {
        let _a = loopback();
        let _b = client(Outbound::public_only());
    }

    /// A real HTTP server on 127.0.0.1 that answers every request with `body_len` bytes,
    /// chunked (no length given) or with a `Content-Length`.
    async fn server(body_len: usize, chunked: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = if chunked {
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            .to_owned()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
                        )
                    };
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let piece = vec![b'x'; 64 * 1024];
                    let mut left = body_len;
                    while left > 0 {
                        let n = left.min(piece.len());
                        let sent = if chunked {
                            let mut c = format!("{n:x}\r\n").into_bytes();
                            c.extend_from_slice(&piece[..n]);
                            c.extend_from_slice(b"\r\n");
                            socket.write_all(&c).await
                        } else {
                            socket.write_all(&piece[..n]).await
                        };
                        if sent.is_err() {
                            return; // the client stopped reading
                        }
                        left -= n;
                    }
                    if chunked {
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                });
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused_with_or_without_a_length() {
        for chunked in [true, false] {
            let url = server(MAX_RESPONSE_BYTES + 1, chunked).await;
            match loopback().get(&url).send().await {
                Err(Error::TooLarge { limit }) => assert_eq!(limit, MAX_RESPONSE_BYTES),
                other => panic!("chunked {chunked}: expected TooLarge, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_answer_up_to_the_limit_is_read_whole() {
        for chunked in [true, false] {
            let url = server(100_000, chunked).await;
            let answer = loopback()
                .with_body_limit(100_000)
                .get(&url)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status, 200);
            assert_eq!(answer.body.len(), 100_000);
        }
    }

    /// A loopback server answering every request with `status` and `location`, counting
    /// requests.
    async fn redirecting(status: u16) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 {status} X\r\nLocation: http://169.254.169.254/latest/meta-data\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = socket.write_all(head.as_bytes()).await;
            }
        });
        (format!("http://{addr}/"), hits)
    }

    fn refused(result: Result<Answer, Error>) -> String {
        match result {
            Err(Error::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn non_public_literals_are_refused_before_connecting() {
        let (url, hits) = redirecting(200).await;
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let strict = client(Outbound::public_only());
        for host in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[fe80::1]",
            "[fd00::1]",
            "[64:ff9b::7f00:1]",
        ] {
            let m = refused(strict.get(&format!("http://{host}:{port}/")).send().await);
            assert!(
                m.contains("not a public address") && m.contains("--outbound-allow"),
                "{m}"
            );
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn names_resolving_to_non_public_addresses_are_refused() {
        let (url, hits) = redirecting(200).await;
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        // `localhost` through the system resolver.
        let strict = client(Outbound::public_only());
        let m = refused(
            strict
                .get(&format!("http://localhost:{port}/"))
                .send()
                .await,
        );
        assert!(m.starts_with("refusing to connect to localhost ("), "{m}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // An allowlisted name skips the check at its port only.
        let named = client(Outbound::parse(&format!("localhost:{port}")).unwrap());
        let answer = named.get(&format!("http://localhost:{port}/")).send().await;
        // localhost may resolve to ::1 first where nothing listens; any answer or a connect
        // error is fine, a refusal is not.
        assert!(!matches!(answer, Err(Error::Refused(_))), "{answer:?}");
        let other = refused(named.get("http://localhost:1/").send().await);
        assert!(other.contains("localhost"), "{other}");
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (url, hits) = redirecting(302).await;
        let answer = loopback().get(&url).send().await.unwrap();
        assert_eq!(answer.status, 302);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn only_http_and_https_urls_are_sent() {
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://x/",
            "not a url",
        ] {
            assert!(
                matches!(loopback().get(url).send().await, Err(Error::Url(_))),
                "{url}"
            );
        }
    }

    /// DNS rebinding: the resolver answers a checked (allowed) address first and a private
    /// one afterwards. The client resolves once per connection and connects to exactly the
    /// address it checked; and a name whose only answer is private never gets a connection
    /// even when a later lookup would have answered differently.
    #[tokio::test]
    async fn the_connection_goes_to_the_checked_address_only() {
        let (url, hits) = redirecting(200).await;
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = lookups.clone();
        let rebinding: Lookup = Arc::new(move |_host: String| {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                Ok(vec![if n == 0 {
                    "127.0.0.1".parse().unwrap()
                } else {
                    "169.254.169.254".parse().unwrap()
                }])
            })
        });
        let policy = Outbound::parse("127.0.0.1/32").unwrap();
        let c = Client::new(policy.clone(), 1024, rebinding.clone());
        let answer = c
            .get(&format!("http://rebind.example:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The second lookup answers the metadata address: refused, nothing connects.
        let fresh = Client::new(policy, 1024, rebinding);
        let m = refused(
            fresh
                .get(&format!("http://rebind.example:{port}/"))
                .send()
                .await,
        );
        assert!(m.contains("(169.254.169.254)"), "{m}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Mixed answers: only the allowed address is handed to the connector.
        let mixed: Lookup = Arc::new(|_host: String| {
            Box::pin(async {
                Ok(vec![
                    "10.1.2.3".parse().unwrap(),
                    "::ffff:127.0.0.1".parse().unwrap(),
                    "127.0.0.1".parse().unwrap(),
                ])
            })
        });
        let c = Client::new(Outbound::parse("127.0.0.1/32").unwrap(), 1024, mixed);
        let answer = c
            .get(&format!("http://mixed.example:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
    }
}
