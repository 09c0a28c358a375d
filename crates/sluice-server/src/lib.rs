//! The sluice control plane: Keptn's API service, shipyard-controller, datastore, resource
//! service and built-in services (approval, evaluation, ...) as one process.
//!
//! [`serve`] opens the data directory, loads or creates the API token, and serves the
//! [`api::router`] until the shutdown future completes, then drains in-flight requests.

pub mod access;
pub mod api;
pub mod error;
pub mod metrics;
pub mod net;
pub mod runtime;
pub mod services;
pub mod state;
pub mod storage;

use access::{auth, login_backoff, session};
use net::{connections, http};
use runtime::{bus, driver};
use storage::{data_dir, secrets_key};

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::access::auth::{ApiToken, TokenOrigin};
use crate::state::App;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where all state lives.
    pub data_dir: PathBuf,
    /// Address to listen on (loopback by default).
    pub listen: SocketAddr,
    /// A token given by the environment, if any.
    pub token_from_env: Option<String>,
    /// The job executor's allowed commands; `None` reads `SLUICE_JOB_ALLOWED_COMMANDS`.
    pub job_allowed_commands: Option<String>,
    /// Which backend runs which job task (local unless set).
    pub job_backend: services::jobs::BackendChoice,
    /// Connection cap and client timeouts.
    pub connections: connections::ConnectionLimits,
    /// The secrets key (`SLUICE_SECRETS_KEY`), when given by the environment.
    pub secrets_key_from_env: Option<String>,
    /// Re-encrypt every secret under a new key before serving.
    pub rotate_secrets_key: bool,
    /// The new key of that rotation (`SLUICE_SECRETS_NEW_KEY`); random when the key is in
    /// a file.
    pub new_secrets_key_from_env: Option<String>,
    /// Where outgoing requests (webhooks, SLI providers) may go: public addresses plus the
    /// explicit allowlist (`--outbound-allow`).
    pub outbound: net::outbound::Outbound,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory is unusable.
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The token could not be loaded or created.
    #[error(transparent)]
    Token(#[from] auth::Error),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[from] sluice_store::Error),
    /// The project repositories could not be opened.
    #[error("cannot open the project repositories: {0}")]
    Resources(#[from] sluice_resources::ResourceError),
    /// The secrets could not be unlocked or their key rotated.
    #[error("cannot unlock the secrets")]
    SecretsKey(#[from] secrets_key::Error),
    /// The sequence engine could not be restored.
    #[error("cannot restore the sequence engine: {0}")]
    Driver(#[from] driver::Error),
}

/// What a started server tells its caller once it listens.
#[derive(Debug, Clone)]
pub struct Started {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The token in use.
    pub token: ApiToken,
    /// Where it came from (print it when it was just created).
    pub origin: TokenOrigin,
    /// Where the secrets key came from, and the rotation done at this start.
    pub secrets_key: secrets_key::Unlocked,
}

/// Runs a server until `shutdown` completes. `on_started` is called once it listens.
pub async fn serve(
    config: ServerConfig,
    on_started: impl FnOnce(&Started),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    // Before anything is created: every file and directory of the server and of its child
    // processes is private to its user.
    data_dir::restrict_new_files();
    match data_dir::prepare(&config.data_dir).map_err(|source| Error::DataDir {
        path: config.data_dir.clone(),
        source,
    })? {
        data_dir::Prepared::Tightened { was } => tracing::warn!(
            "the data directory {} was readable by others (mode {was:o}); it is now {:o}",
            config.data_dir.display(),
            data_dir::DIRECTORY_MODE
        ),
        data_dir::Prepared::Created | data_dir::Prepared::Private => {}
    }
    let descriptors = connections::raise_descriptor_limit();
    let mut limits = config.connections;
    limits.max_connections =
        connections::effective_max_connections(limits.max_connections, descriptors.now);
    if limits.max_connections < config.connections.max_connections {
        tracing::warn!(
            "serving at most {} connections at once (not {}): the open-file limit is {}",
            limits.max_connections,
            config.connections.max_connections,
            descriptors.now.unwrap_or_default()
        );
    }
    let (token, origin) =
        ApiToken::load_or_create(&config.data_dir, config.token_from_env.clone())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(Error::Serve)?;
    let options = OpenOptions {
        job_allowed_commands: config.job_allowed_commands.clone(),
        job_backend: config.job_backend.clone(),
        secrets_key_from_env: config.secrets_key_from_env.clone(),
        rotate_secrets_key: config.rotate_secrets_key,
        new_secrets_key_from_env: config.new_secrets_key_from_env.clone(),
        outbound: config.outbound.clone(),
    };
    let app = Arc::new(open_with(&config.data_dir, token.clone(), &options).await?);
    on_started(&Started {
        addr,
        token,
        origin,
        secrets_key: app.secrets_key.clone(),
    });
    // Shutting down interrupts long repository writes (they commit nothing), so the drain
    // never waits for one.
    let resources = app.resources.clone();
    let shutdown = async move {
        shutdown.await;
        resources.interrupt();
    };
    connections::serve(listener, api::router(app.clone()), limits, shutdown).await;
    drop(app);
    Ok(())
}

/// Opens the data directory's store and repositories, restores the engine and starts the
/// built-in services.
pub async fn open(data_dir: &std::path::Path, token: ApiToken) -> Result<App, Error> {
    open_with(data_dir, token, &OpenOptions::default()).await
}

/// Settings of [`open_with`] that are not in the data directory.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The job executor's allowed commands (comma-separated); `None` reads
    /// `SLUICE_JOB_ALLOWED_COMMANDS`.
    pub job_allowed_commands: Option<String>,
    /// Which backend runs which job task (local unless set).
    pub job_backend: services::jobs::BackendChoice,
    /// The secrets key in base64; `None` uses the data directory's key file (created when
    /// missing).
    pub secrets_key_from_env: Option<String>,
    /// Re-encrypt every secret under a new key (see [`secrets_key::rotate`]).
    pub rotate_secrets_key: bool,
    /// The new key of that rotation in base64; `None`: random (key file only).
    pub new_secrets_key_from_env: Option<String>,
    /// Where outgoing requests may go (public addresses only unless the allowlist says
    /// more).
    pub outbound: net::outbound::Outbound,
}

/// Like [`open`], with explicit options.
pub async fn open_with(
    data_dir: &std::path::Path,
    token: ApiToken,
    options: &OpenOptions,
) -> Result<App, Error> {
    let store = Arc::new(sluice_store::Store::open(data_dir).await?);
    let origin =
        secrets_key::unlock(&store, data_dir, options.secrets_key_from_env.as_deref()).await?;
    let rotated = if options.rotate_secrets_key {
        Some(
            secrets_key::rotate(
                &store,
                data_dir,
                &origin,
                options.new_secrets_key_from_env.as_deref(),
            )
            .await?,
        )
    } else {
        None
    };
    let resources = Arc::new(sluice_resources::ResourceStore::open(
        sluice_resources::StoreConfig::new(data_dir),
    )?);
    let bus = bus::Bus::default();
    let metrics = Arc::new(metrics::Metrics::default());
    // Built-in services subscribe before the driver starts, so that what the driver
    // republishes after a restart reaches them.
    let (driver, inbox) = driver::channel();
    let http = http::client(options.outbound.clone());
    services::approval::start(&bus, driver.clone(), store.clone());
    services::remediation::start(&bus, driver.clone(), store.clone(), resources.clone());
    services::jobs::start(
        &bus,
        driver.clone(),
        store.clone(),
        resources.clone(),
        data_dir,
        options
            .job_allowed_commands
            .as_deref()
            .map(services::jobs::Allowlist::parse),
        options.job_backend.clone(),
    );
    services::webhook::start(
        &bus,
        driver.clone(),
        store.clone(),
        resources.clone(),
        http.clone(),
    )
    .await;
    // Providers subscribe before the lighthouse starts: its recovery may ask them again.
    let prometheus =
        services::prometheus::Prometheus::new(store.clone(), resources.clone(), http.clone());
    tokio::spawn(services::sli_provider::run(
        Arc::new(prometheus),
        bus.subscribe(),
        driver.clone(),
    ));
    let loadtest = services::loadtest::Loadtest::new(
        services::load_artifacts::JobRunSummaries::new(store.clone(), data_dir),
    );
    tokio::spawn(services::sli_provider::run(
        Arc::new(loadtest),
        bus.subscribe(),
        driver.clone(),
    ));
    let lighthouse = Arc::new(services::evaluation::Lighthouse::new(
        store.clone(),
        resources.clone(),
        driver.clone(),
        bus.clone(),
    ));
    tokio::spawn(
        lighthouse
            .clone()
            .run(bus.subscribe(), bus.subscribe_cancels()),
    );
    driver::Driver::start(
        inbox,
        store.clone(),
        resources.clone(),
        bus.clone(),
        metrics.clone(),
        sluice_engine::EngineConfig::default(),
    )
    .await?;
    Ok(App {
        http,
        lighthouse,
        token,
        metrics,
        store,
        resources,
        driver,
        bus,
        data_dir: data_dir.to_path_buf(),
        sessions: session::Sessions::default(),
        login_backoff: login_backoff::LoginBackoff::default(),
        secrets_key: secrets_key::Unlocked { origin, rotated },
    })
}
