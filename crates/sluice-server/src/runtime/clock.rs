//! Wall-clock time for the server's edges; the engine and models only ever receive `now`.

use std::time::Duration;

use sluice_model::event::Timestamp;

/// The current time (the system clock: [`sluice_model::clock::system`]).
pub fn now() -> Timestamp {
    sluice_model::clock::system()
}

/// How long from now until `at` (zero when it has passed).
pub fn until(at: Timestamp) -> Duration {
    let nanos = at.nanos_since(now());
    if nanos <= 0 {
        Duration::ZERO
    } else {
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_instants_are_due_now() {
        assert_eq!(until(Timestamp::from_unix(0, 0)), Duration::ZERO);
        let soon = until(now().plus(sluice_model::duration::GoDuration::MINUTE));
        assert!(soon > Duration::from_secs(50) && soon <= Duration::from_secs(60));
    }
}
