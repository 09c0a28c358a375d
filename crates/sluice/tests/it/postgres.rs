//! `sluice server --store postgres://…`: the real server binary on a PostgreSQL store (the
//! server named by `SLUICE_TEST_PG`, or a throwaway PostgreSQL 15 cluster; see
//! `sluice_store::test_cluster`) runs a delivery, and its state survives a restart; a second
//! server with a data directory of its own continues from the first one's projects.

use std::collections::BTreeSet;

use crate::scratch;
use crate::server::{Server, context_events, drive, has, trigger_delivery, tutorial_project};

/// A fresh PostgreSQL database for this test, or `None` (skipped, printed) when PostgreSQL
/// is not available and not required.
pub fn fresh_database(what: &str) -> Option<String> {
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

/// Two servers with separate data directories on one database, one after the other (the
/// engine has no leader election yet): a project and an SLO written through the first are
/// read through the second at the same commit, whose sequences pin that commit and read the
/// shipyard and the SLO from its repository, rebuilt from the database alone.
#[test]
fn a_second_server_with_another_data_directory_continues_from_the_shared_repositories() {
    use base64::Engine as _;
    let Some(url) = fresh_database("servers sharing repositories") else {
        return;
    };
    let (dir_a, dir_b) = (scratch("server-postgres-a"), scratch("server-postgres-b"));
    let flags = ["--store", url.as_str()];
    let slo = "spec_version: '1.0'\ncomparison:\n  aggregate_function: avg\nobjectives:\n  - sli: response_time_p95\n    pass:\n      - criteria:\n          - \"<=600\"\ntotal_score:\n  pass: \"90%\"\n  warning: \"75%\"\n";
    let resources =
        "/api/resource-service/v1/project/fulltour/stage/qa/service/helloservice/resource";

    let a = Server::start_with(&dir_a, &flags, &[], None);
    tutorial_project(&a);
    let encoded = base64::engine::general_purpose::STANDARD.encode(slo);
    let up = a.call(
        "POST",
        resources,
        Some(&serde_json::json!({"resources": [{"resourceURI": "slo.yaml", "resourceContent": encoded}]})),
    );
    assert_eq!(up.status, 201, "{}", up.body);
    let commit = up.json()["commitID"].as_str().unwrap().to_owned();
    assert!(a.terminate().success());

    let b = Server::start_with(&dir_b, &flags, &[], None);
    assert!(
        !dir_b.join("projects/fulltour.git").exists(),
        "the second data directory starts without the repository"
    );
    let got = b.call("GET", &format!("{resources}/slo.yaml"), None);
    assert_eq!(got.status, 200, "{}", got.body);
    let body = got.json();
    assert_eq!(
        body["metadata"]["version"],
        commit.as_str(),
        "the same git commit"
    );
    let content = base64::engine::general_purpose::STANDARD
        .decode(body["resourceContent"].as_str().unwrap())
        .unwrap();
    assert_eq!(content, slo.as_bytes());
    assert!(
        dir_b.join("projects/fulltour.git").is_dir(),
        "cached locally"
    );

    let run = trigger_delivery(&b, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    let events = drive(&b, &run, &["je-deployment", "je-test"], &|ev| {
        has(ev, "production.delivery.finished")
    });
    let evaluation = events
        .iter()
        .find(|e| e["type"] == "sh.keptn.event.evaluation.finished" && e["data"]["stage"] == "qa")
        .expect("the qa evaluation finished");
    assert_eq!(
        evaluation["gitcommitid"],
        commit.as_str(),
        "pinned at the shared head"
    );
    assert_eq!(evaluation["data"]["result"], "pass", "{evaluation}");
    let finished = events
        .iter()
        .find(|e| e["type"] == "sh.keptn.event.production.delivery.finished")
        .unwrap();
    assert_eq!(finished["data"]["result"], "pass");
    assert!(b.terminate().success());
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
