//! `sluice server --store postgres://…`: the real server binary on a PostgreSQL store (the
//! server named by `SLUICE_TEST_PG`, or a throwaway PostgreSQL 15 cluster; see
//! `sluice_store::test_cluster`) runs a delivery, and its state survives a restart.

use std::collections::BTreeSet;

use crate::scratch;
use crate::server::{Server, context_events, drive, has, trigger_delivery, tutorial_project};

/// A fresh PostgreSQL database for this test, or `None` (skipped, printed) when PostgreSQL
/// is not available and not required.
fn fresh_database(what: &str) -> Option<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(sluice_store::test_cluster::fresh_database(what))
}

#[test]
fn a_server_on_postgresql_runs_a_delivery_and_keeps_its_state_across_a_restart() {
    let Some(url) = fresh_database("server on postgres") else {
        return;
    };
    let dir = scratch("server-postgres");
    let flags = ["--store", url.as_str()];
    let server = Server::start_with(&dir, &flags, &[], None);
    tutorial_project(&server);
    let done = trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    let events = drive(&server, &done, &["je-deployment", "je-test"], &|ev| {
        has(ev, "production.delivery.finished")
    });
    let finished = events
        .iter()
        .find(|e| e["type"] == "sh.keptn.event.production.delivery.finished")
        .unwrap();
    assert_eq!(finished["data"]["result"], "pass");
    // A second delivery is left waiting for its first task across the restart.
    let open = trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.2");
    let _ = drive(&server, &open, &[], &|ev| {
        has(ev, "je-deployment.triggered")
    });
    assert!(server.terminate().success(), "SIGTERM stops the server");
    assert!(
        !dir.join("sluice.db").exists(),
        "no SQLite database beside a PostgreSQL store"
    );

    let server = Server::start_with(&dir, &flags, &[], None);
    let a = server.call("GET", "/api/controlPlane/v1/project/fulltour", None);
    assert_eq!(a.status, 200, "the project survived: {}", a.body);
    let after = context_events(&server, &done);
    assert_eq!(
        after.len(),
        events.len(),
        "every event of the finished run survived"
    );
    let events = drive(&server, &open, &["je-deployment", "je-test"], &|ev| {
        has(ev, "production.delivery.finished")
    });
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no event is stored twice");
    let deployments = events
        .iter()
        .filter(|e| e["type"] == "sh.keptn.event.je-deployment.triggered")
        .count();
    assert_eq!(deployments, 2, "one deployment per stage, none repeated");
    assert!(server.terminate().success());
}

#[test]
fn a_bad_store_url_is_refused_before_anything_starts() {
    let dir = scratch("server-bad-store");
    let run = crate::sluice(&[
        "server",
        "--data-dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--store",
        "mysql://nobody@127.0.0.1/x",
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("postgres://"), "{}", run.stderr);
}
