//! The data directory: its protection, the key that seals secrets at rest, the checks of a
//! resource upload before anything is written, and the repositories shared through a
//! PostgreSQL store, and the projects' git upstreams.

pub mod data_dir;
pub mod secrets_key;
pub mod shared_git;
pub mod uploads;
pub mod upstream;
