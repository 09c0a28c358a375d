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
pub mod projects;
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
    /// Where all state lives (the database too, unless `store` names another).
    pub data_dir: PathBuf,
    /// The database, when not the SQLite file of `data_dir` (a PostgreSQL URL).
    pub store: Option<sluice_store::StoreLocation>,
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
    /// This replica's node id in a PostgreSQL-backed cluster (default: host name and port).
    pub node_id: Option<String>,
    /// The URL other replicas forward requests to (default: `http://` + the listen address).
    pub advertise: Option<String>,
    /// A NATS server (`nats://host:port`) whose JetStream receives a copy of every stored
    /// event (see [`net::jetstream`]).
    pub bus: Option<String>,
    /// Where outgoing requests (webhooks, SLI providers) may go: public addresses plus the
    /// explicit allowlist (`--outbound-allow`).
    pub outbound: net::outbound::Outbound,
    /// What a write must survive before it is acknowledged: the SQLite store's `synchronous`
    /// level and whether the project repositories fsync their objects.
    pub durability: sluice_store::Durability,
    /// How long the job executor keeps a task run (its record, output and artifacts) after
    /// the last change to it; `None` keeps runs for ever.
    pub job_runs_retention: Option<std::time::Duration>,
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
    /// A replica's term ended, or its cluster state failed.
    #[error(transparent)]
    Cluster(runtime::cluster::Error),
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
        store: config.store.clone(),
        job_allowed_commands: config.job_allowed_commands.clone(),
        job_backend: config.job_backend.clone(),
        secrets_key_from_env: config.secrets_key_from_env.clone(),
        rotate_secrets_key: config.rotate_secrets_key,
        new_secrets_key_from_env: config.new_secrets_key_from_env.clone(),
        bus: config.bus.clone(),
        outbound: config.outbound.clone(),
        durability: config.durability,
        job_runs_retention: config.job_runs_retention,
    };
    if let Some(location @ sluice_store::StoreLocation::Postgres(_)) = &config.store {
        let replica = ReplicaSetup {
            location: location.clone(),
            node: config
                .node_id
                .clone()
                .unwrap_or_else(|| runtime::cluster::default_node_id(addr.port())),
            url: config
                .advertise
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
        };
        return serve_replica(
            replica, &config, listener, addr, token, origin, limits, options, on_started, shutdown,
        )
        .await;
    }
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

/// Where a replica is and how the others reach it.
struct ReplicaSetup {
    location: sluice_store::StoreLocation,
    node: String,
    url: String,
}

/// Serves as one replica of a PostgreSQL-backed cluster (see [`runtime::cluster`]): forwards
/// to the leader until this replica wins the leader lock, then restores the engine and serves
/// the full API; returns [`Error::LostLeadership`] when its term ends.
#[allow(clippy::too_many_arguments)]
async fn serve_replica(
    setup: ReplicaSetup,
    config: &ServerConfig,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    token: ApiToken,
    origin: TokenOrigin,
    limits: connections::ConnectionLimits,
    options: OpenOptions,
    on_started: impl FnOnce(&Started),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = Arc::new(
        sluice_store::Store::open_location(&setup.location, sluice_store::Options::default())
            .await?,
    );
    // The key is checked before anything else, as on a single node.
    let key_origin = secrets_key::unlock(
        &store,
        &config.data_dir,
        options.secrets_key_from_env.as_deref(),
    )
    .await?;
    let replica = Arc::new(runtime::cluster::Replica::new(
        store.clone(),
        setup.node.clone(),
        setup.url.clone(),
        token.clone(),
    ));
    tokio::spawn(replica.clone().heartbeat());
    on_started(&Started {
        addr,
        token: token.clone(),
        origin,
        secrets_key: secrets_key::Unlocked {
            origin: key_origin,
            rotated: None,
        },
    });
    tracing::info!(node = %setup.node, url = %setup.url, "replica started; campaigning for leadership");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Runs this replica made while it led before are pruned while it follows too; once it
    // leads, its job executor prunes them.
    let (stop_pruning, pruning) = tokio::sync::oneshot::channel::<()>();
    let pruner = options.job_runs_retention.map(|retention| {
        services::jobs::prune_while_following(&config.data_dir, retention, pruning)
    });
    let lead = {
        let replica = replica.clone();
        let data_dir = config.data_dir.clone();
        async move {
            let mut term = store.campaign(&replica.node).await?;
            drop(stop_pruning);
            if let Some(pruner) = pruner {
                let _ = pruner.await;
            }
            store.fence(term.epoch());
            replica
                .announce(term.epoch())
                .await
                .map_err(Error::Cluster)?;
            let app = Arc::new(assemble(store.clone(), &data_dir, token, &options).await?);
            tracing::info!(epoch = term.epoch(), "this replica leads");
            replica.lead(api::router(app));
            let reason = term.lost().await;
            let _ = stop_tx.send(());
            Err::<(), Error>(Error::Cluster(runtime::cluster::Error::LostLeadership(
                reason,
            )))
        }
    };
    let lead = tokio::spawn(lead);
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            _ = stop_rx => {}
        }
    };
    connections::serve(listener, api::replica::router(replica), limits, stop).await;
    if lead.is_finished() {
        match lead.await {
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
            Err(e) => tracing::error!("the leader task failed: {e}"),
        }
    } else {
        lead.abort();
    }
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
    /// The database, when not the SQLite file of the data directory.
    pub store: Option<sluice_store::StoreLocation>,
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
    /// See [`ServerConfig::bus`].
    pub bus: Option<String>,
    /// Where outgoing requests may go (public addresses only unless the allowlist says
    /// more).
    pub outbound: net::outbound::Outbound,
    /// See [`ServerConfig::durability`].
    pub durability: sluice_store::Durability,
    /// See [`ServerConfig::job_runs_retention`].
    pub job_runs_retention: Option<std::time::Duration>,
}

/// Like [`open`], with explicit options.
pub async fn open_with(
    data_dir: &std::path::Path,
    token: ApiToken,
    options: &OpenOptions,
) -> Result<App, Error> {
    let location = options
        .store
        .clone()
        .unwrap_or_else(|| sluice_store::StoreLocation::Sqlite(data_dir.to_owned()));
    let store_options = sluice_store::Options {
        durability: options.durability,
        ..sluice_store::Options::default()
    };
    let store = Arc::new(sluice_store::Store::open_location(&location, store_options).await?);
    assemble(store, data_dir, token, options).await
}

/// [`open_with`] on an opened store.
async fn assemble(
    store: Arc<sluice_store::Store>,
    data_dir: &std::path::Path,
    token: ApiToken,
    options: &OpenOptions,
) -> Result<App, Error> {
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
    let mut resource_config = sluice_resources::StoreConfig::new(data_dir);
    resource_config.fsync = options.durability == sluice_store::Durability::PowerLoss;
    if let Some(sluice_store::StoreLocation::Postgres(_)) = &options.store {
        // Replicas share the projects' git objects and branches through the database; the
        // repositories in the data directory become caches (docs/cluster.md).
        resource_config.shared = Some(Arc::new(storage::shared_git::SharedGit::new(store.clone())));
    }
    let resources = Arc::new(sluice_resources::ResourceStore::open(resource_config)?);
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
        services::jobs::Settings {
            allowlist: options
                .job_allowed_commands
                .as_deref()
                .map(services::jobs::Allowlist::parse),
            backends: options.job_backend.clone(),
            retention: options.job_runs_retention,
        },
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
        bus.subscribe_triggered(),
        driver.clone(),
    ));
    let loadtest = services::loadtest::Loadtest::new(
        services::load_artifacts::JobRunSummaries::new(store.clone(), data_dir),
    );
    tokio::spawn(services::sli_provider::run(
        Arc::new(loadtest),
        bus.subscribe_triggered(),
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
    if let Some(url) = &options.bus {
        // Subscribed before the driver starts: what it stores while restoring wakes the relay.
        tokio::spawn(net::jetstream::run(
            url.clone(),
            store.clone(),
            bus.subscribe(),
        ));
    }
    // The notifier's position is set before the driver starts, so that nothing the driver
    // stores from now on is missed; it runs where the built-in services run (the leader).
    if let Err(e) = services::notifications::worker::start_position(&store).await {
        tracing::warn!("notifications: cannot set the start position: {e}");
    }
    tokio::spawn(services::notifications::worker::run(
        store.clone(),
        http.clone(),
        metrics.clone(),
        bus.subscribe(),
    ));
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
