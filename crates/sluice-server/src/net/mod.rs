//! The network edges: incoming connections under limits, and the one outgoing HTTP client.

pub mod connections;
pub mod http;
pub mod jetstream;
