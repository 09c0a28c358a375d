//! Hostile YAML and uploads against a real `sluice server`: a file nested 35 000 levels deep
//! sent as a shipyard, uploaded as a file sluice reads, or already stored in a project's
//! repository by an older version, must never take the server down.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::scratch;
use crate::server::{Server, context_events, tutorial_project};

/// The reported depth bomb: one line nesting block lists about 35 000 levels deep (~70 KB).
fn depth_bomb() -> String {
    format!("a:\n  {}x\n", "- ".repeat(35_000))
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn assert_up(server: &Server) {
    let a = server.call("GET", "/health", None);
    assert_eq!(a.status, 200, "{}", a.body);
}

#[test]
fn yaml_depth_bomb_shipyard_is_refused_and_the_server_stays_up() {
    let dir = scratch("depth-bomb-shipyard");
    let server = Server::start(&dir);
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "bomb", "shipyard": b64(&depth_bomb())})),
    );
    assert_eq!(a.status, 400, "{}", a.body);
    let message = a.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("2:") && message.contains("nested more than 128 levels"),
        "{message}"
    );
    assert_up(&server);
    let a = server.call("GET", "/api/controlPlane/v1/project/bomb", None);
    assert_eq!(a.status, 404, "no project was created: {}", a.body);
    // The server still does its work.
    tutorial_project(&server);
}

/// Commits `content` at `path` of a project's bare repository with the git command line,
/// bypassing the server (as if an older version had stored it).
fn commit_behind_the_servers_back(repo: &Path, path: &str, content: &str) {
    let index = repo.join("test-index");
    let git = |args: &[&str], stdin: Option<&str>| -> String {
        use std::io::Write;
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(repo)
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_AUTHOR_NAME", "old sluice")
            .env("GIT_AUTHOR_EMAIL", "old@localhost")
            .env("GIT_COMMITTER_NAME", "old sluice")
            .env("GIT_COMMITTER_EMAIL", "old@localhost")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run git");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("git output");
        assert!(out.status.success(), "git {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    git(&["read-tree", "main"], None);
    let blob = git(&["hash-object", "-w", "--stdin"], Some(content));
    git(
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},{path}"),
        ],
        None,
    );
    let tree = git(&["write-tree"], None);
    let commit = git(
        &[
            "commit-tree",
            &tree,
            "-p",
            "main",
            "-m",
            "stored by an older version",
        ],
        None,
    );
    git(&["update-ref", "refs/heads/main", &commit], None);
    std::fs::remove_file(index).unwrap();
}

/// Triggers an evaluation of helloservice in qa and waits for its `evaluation.finished`.
fn evaluate(server: &Server) -> Value {
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project/fulltour/stage/qa/service/helloservice/evaluation",
        Some(&json!({"timeframe": "5m"})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let ctx = a.json()["keptnContext"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = context_events(server, &ctx);
        if let Some(finished) = events
            .iter()
            .find(|e| e["type"] == "sh.keptn.event.evaluation.finished")
        {
            return finished.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no evaluation.finished: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_failed_on_the_slo(finished: &Value) {
    let data = &finished["data"];
    assert_eq!(data["result"], "fail", "{finished}");
    let message = data["message"].as_str().unwrap_or("");
    assert!(
        message.contains("slo.yaml:2:") && message.contains("nested more than 128 levels"),
        "{finished}"
    );
}

#[test]
fn yaml_depth_bomb_stored_slo_fails_the_evaluation_and_survives_restart() {
    let dir = scratch("depth-bomb-stored-slo");
    let server = Server::start(&dir);
    tutorial_project(&server);
    commit_behind_the_servers_back(
        &dir.join("projects/fulltour.git"),
        ".keptn-stages/qa/helloservice/slo.yaml",
        &depth_bomb(),
    );
    assert_failed_on_the_slo(&evaluate(&server));
    assert_up(&server);

    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let server = Server::start(&dir);
    assert_up(&server);
    assert_failed_on_the_slo(&evaluate(&server));
    assert_up(&server);
}
