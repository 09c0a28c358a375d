//! The state shared by every request handler of one server.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_resources::ResourceStore;
use sluice_store::Store;

use crate::access::auth::ApiToken;
use crate::access::session::Sessions;
use crate::metrics::Metrics;
use crate::runtime::bus::Bus;
use crate::runtime::driver::DriverHandle;
use crate::services::evaluation::Lighthouse;

/// Everything a handler may need, behind one `Arc`.
pub struct App {
    /// The API token requests are checked against.
    pub token: ApiToken,
    /// The server's own metrics.
    pub metrics: Arc<Metrics>,
    /// Events, projects, executions (the embedded database).
    pub store: Arc<Store>,
    /// The projects' git repositories.
    pub resources: Arc<ResourceStore>,
    /// The sequence engine's single writer.
    pub driver: DriverHandle,
    /// Stored events, live.
    pub bus: Bus,
    /// Where everything lives.
    pub data_dir: PathBuf,
    /// The one outgoing HTTP client (see [`crate::net::http`]).
    pub http: crate::net::http::Client,
    /// The built-in lighthouse (quality gates).
    pub lighthouse: Arc<Lighthouse>,
    /// The web UI's logged-in browsers.
    pub sessions: Sessions,
    /// Wrong tokens per client address (login and API).
    pub login_backoff: crate::access::login_backoff::LoginBackoff,
    /// How the secrets were unlocked at start.
    pub secrets_key: crate::storage::secrets_key::Unlocked,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Current sequence executions by state, for `/metrics`.
    pub async fn sequence_counts(&self) -> Vec<(String, u64)> {
        self.store
            .execution_counts_by_state()
            .await
            .unwrap_or_default()
    }
}
