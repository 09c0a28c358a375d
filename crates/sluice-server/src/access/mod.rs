//! Who may use the server: the API token, browser sessions of the web UI, and the backoff of
//! wrong tokens per client address.

pub mod auth;
pub mod login_backoff;
pub mod session;
