//! Who may use the server: the bootstrap API token, scoped tokens and their roles, browser
//! sessions of the web UI, and the backoff of wrong tokens per client address.

pub mod auth;
pub mod login_backoff;
pub mod rbac;
pub mod session;
pub mod tokens;
