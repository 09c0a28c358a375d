//! The data directory: its protection, the key that seals secrets at rest, and the checks of
//! a resource upload before anything is written.

pub mod data_dir;
pub mod secrets_key;
pub mod uploads;
