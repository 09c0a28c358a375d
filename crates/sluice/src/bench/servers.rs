//! The servers the benchmarks measure: a real server inside this process (the API served by
//! the product's accept loop on a loopback port, with the engine's bus at hand) and a real
//! `sluice server` child process (for start-up time and resident memory), both reached over
//! HTTP with one shared client; events are posted with the load generator's lighter client
//! (see [`ApiClient::send_event`]).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_model::event::{ContentTypeKey, KeptnEvent};
use sluice_server::access::auth::{ApiToken, TOKEN_ENV};
use sluice_server::state::App;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The API token of every benchmark server.
pub const TOKEN: &str = "sluice-bench-token-0123456789abcdef";

/// How long a request may take before the benchmark gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one server's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The one HTTP client of the run (connections are reused).
    pub http: reqwest::Client,
    /// Keep-alive connections of [`send_event`](Self::send_event), shared by the clones.
    events: Arc<EventConnections>,
}

/// Idle keep-alive connections for posting events, and the server they lead to.
#[derive(Debug, Default)]
struct EventConnections {
    idle: Mutex<(Option<SocketAddr>, Vec<sluice_load::http::Connection>)>,
}

impl EventConnections {
    /// An idle connection to `addr`, if there is one.
    fn take(&self, addr: SocketAddr) -> Option<sluice_load::http::Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.0 != Some(addr) {
            *idle = (Some(addr), Vec::new());
        }
        idle.1.pop()
    }

    /// Keeps a connection for the next event.
    fn give_back(&self, addr: SocketAddr, connection: sluice_load::http::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.0 == Some(addr) {
            idle.1.push(connection);
        }
    }
}

impl ApiClient {
    /// A client of the server at `addr`.
    pub fn new(addr: std::net::SocketAddr, http: reqwest::Client) -> ApiClient {
        ApiClient {
            base: format!("http://{addr}"),
            http,
            events: Arc::default(),
        }
    }

    /// Sends a request with the token; fails unless the answer is 2xx. Returns the body.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .header("x-token", TOKEN)
            .timeout(REQUEST_TIMEOUT);
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// `POST /api/v1/event`: the event must be accepted (stored).
    ///
    /// The benchmark's executors and triggers stand for integrations on other machines, so
    /// their own cost should weigh as little as it can in the figures: they post with the
    /// load generator's HTTP/1.1 client (docs/performance.md, "The load generator's HTTP
    /// client"), the event's text written once, over keep-alive connections.
    pub async fn send_event(&self, event: &KeptnEvent) -> Result<()> {
        let target = sluice_load::http::Target::parse(&self.base)?;
        let ip: std::net::IpAddr = target
            .host
            .parse()
            .with_context(|| format!("not an IP address: {}", self.base))?;
        let addr = SocketAddr::new(ip, target.port);
        let request = target.post_request_bytes(
            "/api/v1/event",
            &sluice_load::http::Post {
                content_type: "application/json".into(),
                headers: vec![("x-token".into(), TOKEN.into())],
                body: event.to_json(ContentTypeKey::DataContentType).into_bytes(),
            },
        );
        // A keep-alive connection the server had just closed is retried once on a new one
        // (`send`): an event with an id would only be a duplicate anyway.
        let exchange = async {
            let mut connection = self.events.take(addr);
            let response = sluice_load::http::send(&mut connection, addr, &request).await?;
            if let Some(connection) = connection {
                self.events.give_back(addr, connection);
            }
            anyhow::Ok(response.status)
        };
        let status = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .context("POST /api/v1/event: no answer")??;
        if !(200..300).contains(&status) {
            bail!("POST /api/v1/event: status {status}");
        }
        Ok(())
    }

    /// Creates a project with `shipyard` and the given services.
    pub async fn create_project(
        &self,
        name: &str,
        shipyard: &str,
        services: &[String],
    ) -> Result<()> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(shipyard);
        self.post(
            "/api/controlPlane/v1/project",
            &json!({"name": name, "shipyard": encoded}),
        )
        .await?;
        self.create_services(name, services).await
    }

    /// Creates the services of a project, one request after the other.
    pub async fn create_services(&self, project: &str, services: &[String]) -> Result<()> {
        for service in services {
            self.post(
                &format!("/api/controlPlane/v1/project/{project}/service"),
                &json!({"serviceName": service}),
            )
            .await?;
        }
        Ok(())
    }
}

/// A server running inside this process.
pub struct InProcessServer {
    /// Its state: the driver and the bus are used directly by the reference figures.
    pub app: Arc<App>,
    /// Its API.
    pub api: ApiClient,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<()>>,
}

impl InProcessServer {
    /// Opens a server on `data_dir` and serves the product API, plus the routes of `extra`
    /// (the benchmark's own), on an ephemeral loopback port.
    pub async fn start(
        data_dir: &Path,
        extra: axum::Router,
        http: reqwest::Client,
    ) -> Result<Self> {
        let app = Arc::new(
            sluice_server::open(data_dir, ApiToken::from_value(TOKEN))
                .await
                .with_context(|| format!("cannot open a server on {}", data_dir.display()))?,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let router = sluice_server::api::router(app.clone()).merge(extra);
        let (shutdown, stop) = oneshot::channel::<()>();
        // The product's own accept loop, with its default limits and timeouts, as
        // `sluice server` runs it.
        let served = tokio::spawn(sluice_server::net::connections::serve(
            listener,
            router,
            sluice_server::net::connections::ConnectionLimits::default(),
            async move {
                let _ = stop.await;
            },
        ));
        Ok(InProcessServer {
            app,
            api: ApiClient::new(addr, http),
            shutdown: Some(shutdown),
            served: Some(served),
        })
    }

    /// Stops serving and waits until the server is gone.
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(served) = self.served.take() {
            let abort = served.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), served)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(served) = &self.served {
            served.abort();
        }
    }
}

/// A `sluice server` child process, killed when dropped (on every exit path).
pub struct ChildServer {
    child: Child,
    /// Its API.
    pub api: ApiClient,
    /// Time from spawning the process to the first answer of `/health`.
    pub ready_after: Duration,
}

impl ChildServer {
    /// Starts this very binary as `sluice server` on `data_dir` and an ephemeral loopback
    /// port, and waits until `/health` answers.
    pub async fn start(data_dir: &Path, http: reqwest::Client) -> Result<ChildServer> {
        Self::start_with(data_dir, &[], "/health", http).await
    }

    /// [`ChildServer::start`] with more flags (`--store`, `--node-id`), waiting until `ready`
    /// (a path) answers with success: a replica listens before a leader is elected.
    pub async fn start_with(
        data_dir: &Path,
        flags: &[&str],
        ready: &str,
        http: reqwest::Client,
    ) -> Result<ChildServer> {
        let exe = std::env::current_exe().context("cannot find this program's file")?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        // The server's log stays beside its data, for when it fails.
        let log_path = data_dir.join("server.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(flags)
            .env(TOKEN_ENV, TOKEN)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {} server", exe.display()))?;
        let stdout = child.stdout.take().context("no stdout of the server")?;
        // Until it is known, the child must die with us: wrap it at once.
        let mut server = ChildServer {
            child,
            api: ApiClient::new(([127, 0, 0, 1], 0).into(), http),
            ready_after: Duration::ZERO,
        };
        let (tx, rx) = oneshot::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            // Keep reading so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("sluice server listening on http://")
                    && let Some(addr) = rest.split_whitespace().next()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .map_err(|_| anyhow!("the server did not say where it listens within 60 s"))?
            .map_err(|_| {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                anyhow!("the server stopped before listening: {}", log.trim())
            })?;
        server.api.base = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = server
                .api
                .http
                .get(format!("{}{ready}", server.api.base))
                .header("x-token", TOKEN)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the server on {} did not answer {ready} within 60 s",
                    data_dir.display()
                );
            }
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("the server stopped ({status}): {}", log.trim());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.ready_after = started.elapsed();
        Ok(server)
    }

    /// Kills the process at once (SIGKILL), as a machine failure would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory of the server process, in MiB.
    pub fn resident_mib(&self) -> Result<f64> {
        process_memory_kib(self.child.id(), "VmRSS").map(|kib| kib / 1024.0)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `Vm*` line of `/proc/<pid>/status` (Linux), in KiB.
pub fn process_memory_kib(pid: u32, field: &str) -> Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {path} (Linux only)"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow!("no {field} in {path}"))
}
