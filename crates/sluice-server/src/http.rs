//! The server's one outgoing HTTP client (SLI providers, later webhooks), built in one place
//! so connection pools, TLS setup and timeouts are shared by everything that calls out.

use std::sync::Once;
use std::time::Duration;

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the client. Call it once per server (see [`crate::state::App::http`]); clones of a
/// `reqwest::Client` share its pool.
pub fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        // Building fails only when the TLS backend cannot start; fall back to the default
        // client rather than stopping the server (plain-HTTP calls still work).
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot configure the HTTP client; using defaults");
            reqwest::Client::new()
        })
}

/// rustls is built with ring only; it must be told so before the first client exists.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_twice() {
        let _a = super::client();
        let _b = super::client();
    }
}
