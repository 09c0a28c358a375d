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

/// One backend a test runs on: where its store lives (a fresh temporary directory for
/// SQLite, a fresh database for PostgreSQL).
pub(crate) struct Backend {
    pub(crate) location: crate::StoreLocation,
    _dir: Option<TempDir>,
}

impl Backend {
    /// Opens the store with the default options.
    pub(crate) async fn open(&self) -> crate::Store {
        self.open_with(crate::Options::default()).await
    }

    /// Opens the store.
    pub(crate) async fn open_with(&self, options: crate::Options) -> crate::Store {
        crate::Store::open_location(&self.location, options)
            .await
            .unwrap_or_else(|e| panic!("open {:?}: {e}", self.location))
    }
}

/// The backends a test runs on: SQLite always, PostgreSQL when available (see
/// `test_cluster`; otherwise a "skipped" line is printed, or the test fails when PostgreSQL
/// is required).
pub(crate) async fn backends(name: &str) -> Vec<Backend> {
    let dir = TempDir::new(name);
    let mut out = vec![Backend {
        location: crate::StoreLocation::Sqlite(dir.0.clone()),
        _dir: Some(dir),
    }];
    if let Some(url) = crate::test_cluster::fresh_database(&format!("{name} on postgres")).await {
        out.push(Backend {
            location: crate::StoreLocation::Postgres(url),
            _dir: None,
        });
    }
    out
}
