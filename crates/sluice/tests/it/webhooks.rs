//! The built-in webhook service end to end: Keptn's own webhook configurations
//! (`tests/fixtures/keptn-webhooks/`) uploaded to a real `sluice server`, enabled by uniform
//! subscriptions of the `webhook-service` integration, sending to a test receiver (a real HTTP
//! server on loopback, allowed with `--outbound-allow`), and a loopback target that is not
//! allowed being refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::Server;
use crate::{repo_root, scratch};

/// Bound of every wait.
const DEADLINE: Duration = Duration::from_secs(60);

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: mytask\n";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 that records each request and answers
/// `{"received": "<path>"}`.
fn receiver() -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let path = parts.next().unwrap_or("").to_owned();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((n, v)) = h.trim_end().split_once(':') {
                    headers.push((n.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let answer = json!({"received": path}).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = tx.send(Received {
                method,
                path,
                headers,
            });
        }
    });
    (addr, rx)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn ok(a: &crate::http::Answer) {
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        repo_root()
            .join("crates/sluice/tests/fixtures/keptn-webhooks")
            .join(name),
    )
    .unwrap()
}

/// Waits (bounded) until `f` gives a value.
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn events_of(server: &Server, ctx: &str) -> Vec<Value> {
    let a = server.call(
        "GET",
        &format!("/api/mongodb-datastore/event?keptnContext={ctx}&pageSize=100"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["events"].as_array().cloned().unwrap_or_default()
}

fn of_type(events: &[Value], ty: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == format!("sh.keptn.event.{ty}"))
        .cloned()
        .collect()
}

fn trigger(server: &Server, service: &str) -> String {
    let event = json!({
        "specversion": "1.0",
        "type": "sh.keptn.event.dev.delivery.triggered",
        "source": "test",
        "datacontenttype": "application/json",
        "data": {"project": "p", "stage": "dev", "service": service}
    });
    let a = server.call("POST", "/api/v1/event", Some(&event));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["keptnContext"].as_str().unwrap().to_owned()
}

#[test]
fn keptns_webhook_files_run_unchanged_against_a_loopback_receiver() {
    let (addr, received) = receiver();
    let dir = scratch("webhooks");
    let server = Server::start_with(&dir, &["--outbound-allow", &addr], &[], None);
    ok(&server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "p", "shipyard": b64(SHIPYARD)})),
    ));
    for service in ["alpha", "beta", "gamma", "delta"] {
        ok(&server.call(
            "POST",
            "/api/controlPlane/v1/project/p/service",
            Some(&json!({"serviceName": service})),
        ));
    }
    ok(&server.call(
        "POST",
        "/api/secrets/v1/secret",
        Some(&json!({"name": "my-k8s-secret", "scope": "keptn-webhook-service", "data": {"my-key": "tok-123"}})),
    ));

    // The built-in integration, and one subscription per service (Bridge's way).
    let integration = wait_for("the webhook-service integration", || {
        let list = server
            .call(
                "GET",
                "/api/controlPlane/v1/uniform/registration?name=webhook-service",
                None,
            )
            .json();
        list.as_array()?.first()?["id"].as_str().map(str::to_owned)
    });
    let subscribe = |service: &str| -> String {
        let a = server.call(
            "POST",
            &format!("/api/controlPlane/v1/uniform/registration/{integration}/subscription"),
            Some(&json!({"event": "sh.keptn.event.mytask.triggered",
                "filter": {"projects": ["p"], "stages": ["dev"], "services": [service]}})),
        );
        ok(&a);
        a.json()["id"].as_str().unwrap().to_owned()
    };
    let (alpha, beta, gamma, delta) = (
        subscribe("alpha"),
        subscribe("beta"),
        subscribe("gamma"),
        subscribe("delta"),
    );
    let upload = |path: &str, text: &str| {
        let a = server.call(
            "POST",
            &format!("/api/resource-service/v1/project/p/{path}resource"),
            Some(&json!({"resources": [{"resourceURI": "webhook/webhook.yaml", "resourceContent": b64(text)}]})),
        );
        ok(&a);
    };
    let base = format!("http://{addr}");
    // README example (v1alpha1) at alpha's service level.
    upload(
        "stage/dev/service/alpha/",
        &fixture("readme-v1alpha1.yaml")
            .replace("my-subscription-id", &alpha)
            .replace("http://shipyard-controller:8080", &base),
    );
    // test_webhook.go's webhookConfig2 (v1beta1) at the project level: beta's webhook, and
    // gamma's, whose secret does not exist.
    upload(
        "",
        &fixture("test-webhook-config2.yaml")
            .replace("${mytask-sub-id}", &beta)
            .replace("${mytask-sub-2-id}", &gamma)
            .replace("http://shipyard-controller:8080", &base),
    );
    // test_webhook.go's webhookConfig at delta's stage... its loopback2 webhook targets
    // 127.0.0.1:8080, which the allowlist does not name.
    let config = fixture("test-webhook-config.yaml").replace("${loopback2-sub-id}", &delta);
    upload("stage/dev/", &config);

    // alpha: sendStarted (default) without sendFinished: one .started per request, the
    // receiver answers the task itself.
    let ctx = trigger(&server, "alpha");
    let first = received.recv_timeout(DEADLINE).expect("first request");
    let second = received.recv_timeout(DEADLINE).expect("second request");
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("GET", "/v1/project/p")
    );
    assert_eq!(first.header("x-token"), Some("tok-123"));
    assert_eq!(second.path, "/v1/project/p/stage/dev");
    assert_eq!(second.header("x-token"), None);
    let started = wait_for("two mytask.started", || {
        let s = of_type(&events_of(&server, &ctx), "mytask.started");
        (s.len() == 2).then_some(s)
    });
    assert!(started.iter().all(|e| e["source"] == "webhook-service"));
    assert!(of_type(&events_of(&server, &ctx), "mytask.finished").is_empty());

    // beta: sendFinished: one .started, then .finished with the responses.
    let ctx = trigger(&server, "beta");
    let r = received.recv_timeout(DEADLINE).expect("beta's request");
    assert_eq!(r.path, "/v1/project/p/stage/dev");
    let finished = wait_for("beta's mytask.finished", || {
        of_type(&events_of(&server, &ctx), "mytask.finished").pop()
    });
    assert_eq!(finished["data"]["result"], "pass", "{finished}");
    assert_eq!(finished["data"]["status"], "succeeded");
    assert_eq!(
        finished["data"]["mytask"],
        json!({"responses": [{"received": "/v1/project/p/stage/dev"}]})
    );
    assert_eq!(finished["data"]["service"], "beta");
    assert_eq!(
        of_type(&events_of(&server, &ctx), "mytask.started").len(),
        1
    );

    // gamma: the secret is missing: started, then finished fail naming it; nothing sent.
    let ctx = trigger(&server, "gamma");
    let finished = wait_for("gamma's mytask.finished", || {
        of_type(&events_of(&server, &ctx), "mytask.finished").pop()
    });
    assert_eq!(finished["data"]["result"], "fail");
    assert_eq!(finished["data"]["status"], "errored");
    assert_eq!(
        finished["data"]["message"],
        "could not read secret my-webhook-k8s-secret.my-key: secret `my-webhook-k8s-secret` does not exist"
    );

    // delta: loopback outside the allowlist is refused before connecting.
    let ctx = trigger(&server, "delta");
    let finished = wait_for("delta's mytask.finished", || {
        of_type(&events_of(&server, &ctx), "mytask.finished").pop()
    });
    assert_eq!(finished["data"]["result"], "fail");
    let message = finished["data"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("could not execute request 'GET http://127.0.0.1:8080': refusing to connect to 127.0.0.1"),
        "{message}"
    );
    assert!(
        received.try_recv().is_err(),
        "nothing else reached the receiver"
    );
}

#[test]
fn lint_reads_keptns_webhook_files_and_points_at_problems() {
    let dir = scratch("webhooks-lint");
    for name in [
        "readme-v1alpha1.yaml",
        "test-webhook-config.yaml",
        "test-webhook-config2.yaml",
        "test-webhook-config-internal-address.yaml",
    ] {
        let path = crate::write(&dir, &format!("{name}/webhook/webhook.yaml"), fixture(name));
        let run = crate::sluice(&["lint", &path]);
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
    }
    let bad = crate::write(
        &dir,
        "bad/webhook.yaml",
        "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nspec:\n  webhooks:\n    - type: sh.keptn.event.x.triggered\n      subscriptionID: s\n      requests:\n        - url: http://x/{{.data.project | urlquery}}\n          method: PATCH\n",
    );
    let run = crate::sluice(&["lint", &bad]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(
            "webhook.yaml:8:16: error: spec.webhooks[0].requests[0].url: template: character 10:"
        ),
        "{out}"
    );
    assert!(
        out.contains("webhook.yaml:9:19: error: spec.webhooks[0].requests[0].method: unsupported webhook request method `PATCH`"),
        "{out}"
    );
}
