//! Helpers for the tests: unique temporary data directories.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use sluice_model::event::{EventType, KeptnEvent, Timestamp};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = crate::to_nanos(sluice_model::clock::system());
        let dir = std::env::temp_dir().join(format!(
            "sluice-store-{name}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An event with the given id, context, type, scope and time (seconds after 2024-01-01).
pub(crate) fn event(
    id: &str,
    ctx: &str,
    ty: &str,
    (project, stage, service): (&str, &str, &str),
    secs: i64,
) -> KeptnEvent {
    let ty: EventType = ty.parse().expect("event type");
    let t = Timestamp::from_unix(1_704_067_200 + secs, 0);
    KeptnEvent::new(
        id,
        "test",
        &ty,
        t,
        ctx,
        json!({"project": project, "stage": stage, "service": service}),
    )
}
