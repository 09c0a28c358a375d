//! Event ids: random ones for new events, and derived ones for answers that must be
//! idempotent (handling the same `.triggered` event twice gives the same answer ids).

/// A fresh id (UUID v7: time-ordered, so ids written together sit together in the
/// store's indexes; still an RFC 9562 UUID with 74 random bits, never a secret). The bits
/// come from a thread-local generator seeded by the OS (`fast-rng`), not a system call per id.
pub fn fresh() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A stable id for the answer `what` to the event `parent` (UUID v5 in sluice's namespace).
pub fn derived(parent: &str, what: &str) -> String {
    uuid::Uuid::new_v5(&NAMESPACE, format!("{parent}/{what}").as_bytes()).to_string()
}

const NAMESPACE: uuid::Uuid = uuid::Uuid::from_bytes([
    0x5a, 0x1c, 0xe0, 0x00, 0x7b, 0x3d, 0x4e, 0x51, 0x9c, 0x1d, 0x00, 0x5a, 0x1c, 0xe0, 0x00, 0x01,
]);

#[cfg(test)]
mod tests {
    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(super::derived("a", "x"), super::derived("a", "x"));
        assert_ne!(super::derived("a", "x"), super::derived("a", "y"));
        assert_ne!(super::fresh(), super::fresh());
    }
}
