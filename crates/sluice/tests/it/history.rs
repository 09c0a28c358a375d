//! `sluice import keptn-history` against a real `sluice server`: from a recorded Keptn
//! datastore export (real Keptn event shapes, served page by page by a tiny HTTP server that
//! checks Keptn's `x-token`), including an interrupted import that resumes, and from a second
//! running sluice serving Keptn's datastore API.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::{Server, TOKEN};
use crate::{Run, repo_root, scratch, sluice_env, write};

const KEPTN_TOKEN: &str = "keptn-api-token-abc";
/// Events per page the recorded datastore answers (whatever the client asks for), so that
/// the import has to page.
const RECORDED_PAGE: usize = 7;

const SOCKSHOP: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: sockshop\nspec:\n  stages:\n    - name: staging\n      sequences:\n        - name: delivery\n          tasks:\n            - name: evaluation\n    - name: production\n      sequences:\n        - name: remediation\n          triggeredOn:\n            - event: production.remediation.finished\n              selector:\n                match:\n                  result: fail\n          tasks:\n            - name: get-action\n            - name: action\n            - name: evaluation\n";

fn recorded_events() -> Vec<Value> {
    let text = std::fs::read_to_string(
        repo_root().join("crates/sluice/tests/fixtures/keptn-datastore-sockshop.json"),
    )
    .expect("fixture");
    let v: Value = serde_json::from_str(&text).expect("fixture JSON");
    v["events"].as_array().expect("events").clone()
}

/// Keptn's datastore and project list, served from the recorded events. While `fail_from` is
/// non-zero, pages at or after that offset answer 500 (an import interrupted midway).
struct RecordedKeptn {
    /// `http://127.0.0.1:PORT/api`, as Keptn's endpoints are given.
    endpoint: String,
    fail_from: Arc<AtomicUsize>,
}

impl RecordedKeptn {
    fn start(events: Vec<Value>) -> RecordedKeptn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}/api", listener.local_addr().expect("addr"));
        let fail_from = Arc::new(AtomicUsize::new(0));
        let fail = Arc::clone(&fail_from);
        let events = Arc::new(events);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (events, fail) = (Arc::clone(&events), Arc::clone(&fail));
                std::thread::spawn(move || serve(stream, &events, &fail));
            }
        });
        RecordedKeptn {
            endpoint,
            fail_from,
        }
    }
}

fn serve(stream: TcpStream, events: &[Value], fail_from: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut token = String::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            if k.eq_ignore_ascii_case("x-token") {
                token = v.trim().to_owned();
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: BTreeMap<&str, &str> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let (status, answer) = if token != KEPTN_TOKEN {
        (401, json!({"code": 401, "message": "Invalid API token"}))
    } else if path == "/api/controlPlane/v1/project" {
        (
            200,
            json!({"projects": [{"projectName": "sockshop"}, {"projectName": "podtato"}], "totalCount": 2}),
        )
    } else if path == "/api/mongodb-datastore/event" && params.get("project") == Some(&"sockshop") {
        let from: usize = params
            .get("nextPageKey")
            .and_then(|k| k.parse().ok())
            .unwrap_or(0);
        let fail = fail_from.load(Ordering::SeqCst);
        if fail != 0 && from >= fail {
            (500, json!({"code": 500, "message": "mongodb is gone"}))
        } else {
            let page: Vec<Value> = events
                .iter()
                .skip(from)
                .take(RECORDED_PAGE)
                .cloned()
                .collect();
            let mut answer =
                json!({"events": page, "pageSize": RECORDED_PAGE, "totalCount": events.len()});
            // Keptn's datastore: nextPageKey only while there are more (a string).
            if from + RECORDED_PAGE < events.len() {
                answer["nextPageKey"] = json!((from + RECORDED_PAGE).to_string());
            }
            (200, answer)
        }
    } else {
        (404, json!({"code": 404, "message": "not found"}))
    };
    let text = answer.to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn create_project(server: &Server, name: &str, shipyard: &str, service: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(shipyard);
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": name, "shipyard": encoded})),
    );
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
    let a = server.call(
        "POST",
        &format!("/api/controlPlane/v1/project/{name}/service"),
        Some(&json!({"serviceName": service})),
    );
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
}

/// Runs `sluice import keptn-history` logged in to `server`.
fn import_history(server: &Server, endpoint: &str, token: &str, extra: &[&str]) -> Run {
    let home = scratch("history-home");
    let token_file = write(&home, "keptn-token", format!("{token}\n"));
    let mut args = vec![
        "import",
        "keptn-history",
        "--endpoint",
        endpoint,
        "--api-token-file",
        &token_file,
    ];
    args.extend_from_slice(extra);
    sluice_env(
        &home,
        &[
            ("SLUICE_ENDPOINT", &server.base),
            ("SLUICE_API_TOKEN", TOKEN),
        ],
        args.as_slice(),
    )
}

/// Every event of a project in a server's datastore, by id.
fn datastore(server: &Server, project: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = format!("/api/mongodb-datastore/event?project={project}&pageSize=100");
        if let Some(k) = &next {
            path.push_str(&format!("&nextPageKey={k}"));
        }
        let a = server.call("GET", &path, None);
        assert_eq!(a.status, 200, "{}", a.body);
        let page = a.json();
        for e in page["events"].as_array().expect("events") {
            out.insert(e["id"].as_str().expect("id").to_owned(), e.clone());
        }
        match page["nextPageKey"].as_str() {
            Some(k) => next = Some(k.to_owned()),
            None => return out,
        }
    }
}

#[test]
fn a_recorded_keptn_history_is_imported_once_and_resumes_after_an_interruption() {
    let server = Server::start(&scratch("history-recorded"));
    create_project(&server, "sockshop", SOCKSHOP, "carts");
    let recorded = recorded_events();
    let keptn = RecordedKeptn::start(recorded.clone());
    // Creating the project and its service stored events of their own.
    let before = datastore(&server, "sockshop").len();

    // A wrong token is Keptn's 401, reported; nothing is stored.
    let run = import_history(
        &server,
        &keptn.endpoint,
        "wrong",
        &["--project", "sockshop"],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Invalid API token"), "{}", run.stderr);

    // A dry run counts per type and sends nothing.
    let run = import_history(
        &server,
        &keptn.endpoint,
        KEPTN_TOKEN,
        &["--project", "sockshop", "--dry-run"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("sockshop: 31 events in Keptn's datastore"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("11  sh.keptn.event.evaluation.finished"),
        "{}",
        run.stdout
    );
    assert_eq!(datastore(&server, "sockshop").len(), before);

    // The datastore fails from the third page on: two pages are stored, the run fails.
    keptn.fail_from.store(2 * RECORDED_PAGE, Ordering::SeqCst);
    let run = import_history(
        &server,
        &keptn.endpoint,
        KEPTN_TOKEN,
        &["--project", "sockshop"],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("mongodb is gone"), "{}", run.stderr);
    assert_eq!(
        datastore(&server, "sockshop").len(),
        before + 2 * RECORDED_PAGE
    );

    // Run again (every project of the instance): the rest is stored, nothing twice; the
    // project sluice does not have is reported.
    keptn.fail_from.store(0, Ordering::SeqCst);
    let run = import_history(&server, &keptn.endpoint, KEPTN_TOKEN, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("sockshop: 31 events read, 17 stored, 14 already in sluice, 0 refused"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("podtato: not in sluice"),
        "{}",
        run.stdout
    );

    // Every event is there with its original id, context, time, type and data.
    let stored = datastore(&server, "sockshop");
    assert_eq!(stored.len(), before + recorded.len());
    for e in &recorded {
        let s = &stored[e["id"].as_str().expect("id")];
        for key in [
            "shkeptncontext",
            "time",
            "type",
            "source",
            "triggeredid",
            "data",
        ] {
            assert_eq!(s[key], e[key], "{key} of {}", e["id"]);
        }
    }

    // The heatmap shows Keptn's evaluations of carts in staging.
    let a = server.call(
        "GET",
        "/api/sluice/v1/project/sockshop/stage/staging/service/carts/evaluations?pageSize=50",
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let rows = a.json()["evaluations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 10, "{}", a.body);

    // A third run stores nothing.
    let run = import_history(
        &server,
        &keptn.endpoint,
        KEPTN_TOKEN,
        &["--project", "sockshop"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("31 events read, 0 stored, 31 already in sluice"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_history_is_copied_from_a_running_server_that_speaks_keptns_datastore_api() {
    let source = Server::start(&scratch("history-source"));
    let shipyard = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: shop\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: check\n          tasks:\n            - name: evaluation\n";
    create_project(&source, "shop", shipyard, "carts");
    let event = json!({
        "specversion": "1.0",
        "type": "sh.keptn.event.dev.check.triggered",
        "source": "test",
        "data": {"project": "shop", "stage": "dev", "service": "carts"},
    });
    let a = source.call("POST", "/api/v1/event", Some(&event));
    assert_eq!(a.status, 200, "{}", a.body);
    // Readiness: wait until the sequence has finished.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !datastore(&source, "shop")
        .values()
        .any(|e| e["type"] == "sh.keptn.event.dev.check.finished")
    {
        assert!(Instant::now() < deadline, "the sequence did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let history = datastore(&source, "shop");

    let target = Server::start(&scratch("history-target"));
    create_project(&target, "shop", shipyard, "carts");
    let run = import_history(
        &target,
        &format!("{}/api", source.base),
        TOKEN,
        &["--project", "shop"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let copied = datastore(&target, "shop");
    for (id, e) in &history {
        let c = copied
            .get(id)
            .unwrap_or_else(|| panic!("{id} was not copied"));
        for key in ["shkeptncontext", "time", "type", "triggeredid", "data"] {
            assert_eq!(c[key], e[key], "{key} of {id}");
        }
    }
    // The sequence is in the target's sequence list under its original context.
    let context = history
        .values()
        .find(|e| e["type"] == "sh.keptn.event.dev.check.triggered")
        .map(|e| e["shkeptncontext"].as_str().expect("context").to_owned())
        .expect("the sequence's event");
    let a = target.call(
        "GET",
        &format!("/api/mongodb-datastore/event?keptnContext={context}&root=true"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.json()["events"][0]["type"],
        "sh.keptn.event.dev.check.triggered"
    );
}
