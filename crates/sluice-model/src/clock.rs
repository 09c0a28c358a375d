//! The wall clock: the one function in the workspace's libraries that reads it.
//!
//! Pure code (the engine, SLO evaluation, the models) never calls it: it receives `now` as an
//! argument. Code at the edges that needs the time (the stores, the server) is handed a
//! [`Clock`], which is [`system`] in the product and a fixed function in tests.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::event::Timestamp;

/// A source of the current time.
pub type Clock = fn() -> Timestamp;

/// The system's wall clock (the Unix epoch if the clock is set before it).
pub fn system() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_nanos(since.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_after_2020() {
        assert!(system() > Timestamp::from_unix(1_577_836_800, 0));
    }
}
