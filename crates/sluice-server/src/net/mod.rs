//! The network edges: incoming connections under limits, and the one outgoing HTTP client
//! with its outbound rules.

pub mod connections;
pub mod http;
pub mod jetstream;
pub mod outbound;
