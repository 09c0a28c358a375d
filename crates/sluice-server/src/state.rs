//! The state shared by every request handler of one server.

use crate::auth::ApiToken;
use crate::metrics::Metrics;

/// Everything a handler may need, behind one `Arc`.
#[derive(Debug)]
pub struct App {
    /// The API token requests are checked against.
    pub token: ApiToken,
    /// The server's own metrics.
    pub metrics: Metrics,
}

impl App {
    /// A server state with the given token.
    pub fn new(token: ApiToken) -> Self {
        App {
            token,
            metrics: Metrics::default(),
        }
    }

    /// Current sequence executions by state, for `/metrics`.
    pub fn sequence_counts(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}
