//! Notification channels and rules end to end against a real server and a real HTTP receiver on loopback
//! (allowed with `--outbound-allow`): Standard Webhooks signatures checked independently,
//! the Slack and Teams payloads, templates refused when saved, a failing receiver retried
//! until it recovers, pending deliveries sent after a SIGKILL and a restart, what a viewer
//! may do, and the audit log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::{Server, TOKEN};
use crate::{scratch, sluice_env, write};

/// Bound of every wait.
const DEADLINE: Duration = Duration::from_secs(60);

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: mytask\n";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 that records every request and answers `/hook…`
/// with the status in `hook_status` (everything else with 200).
struct Receiver {
    addr: String,
    got: Arc<Mutex<Vec<Received>>>,
    hook_status: Arc<AtomicU16>,
}

impl Receiver {
    fn start(hook_status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(hook_status));
        let (g, s) = (got.clone(), status.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
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
                let answered = if path.starts_with("/hook") {
                    s.load(Ordering::SeqCst)
                } else {
                    200
                };
                g.lock().unwrap().push(Received {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered,
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {answered} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Receiver {
            addr,
            got,
            hook_status: status,
        }
    }

    fn requests(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
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

fn ok(a: &crate::http::Answer) {
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
}

fn project(server: &Server) {
    let shipyard = base64::engine::general_purpose::STANDARD.encode(SHIPYARD);
    ok(&server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "p", "shipyard": shipyard})),
    ));
    ok(&server.call(
        "POST",
        "/api/controlPlane/v1/project/p/service",
        Some(&json!({"serviceName": "s"})),
    ));
}

/// Triggers a delivery of `p`/`s` and answers its task with `result`; the sequence then
/// finishes with that result.
fn run_sequence(server: &Server, result: &str) -> String {
    let event = json!({
        "specversion": "1.0", "type": "sh.keptn.event.dev.delivery.triggered", "source": "test",
        "data": {"project": "p", "stage": "dev", "service": "s"}
    });
    let a = server.call("POST", "/api/v1/event", Some(&event));
    ok(&a);
    let ctx = a.json()["keptnContext"].as_str().unwrap().to_owned();
    let triggered = wait_for("mytask.triggered", || {
        let a = server.call(
            "GET",
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.mytask.triggered?project=p",
            None,
        );
        a.json()["events"]
            .as_array()?
            .iter()
            .find(|e| e["shkeptncontext"] == ctx.as_str())
            .cloned()
    });
    for kind in ["started", "finished"] {
        let event = json!({
            "specversion": "1.0", "type": format!("sh.keptn.event.mytask.{kind}"), "source": "test",
            "shkeptncontext": ctx, "triggeredid": triggered["id"],
            "data": {"project": "p", "stage": "dev", "service": "s", "status": "succeeded", "result": result}
        });
        ok(&server.call("POST", "/api/v1/event", Some(&event)));
    }
    ctx
}

fn deliveries(server: &Server, rule: &str) -> Vec<Value> {
    let a = server.call(
        "GET",
        &format!("/api/sluice/v1/project/p/notification/delivery?rule={rule}"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Checks a request's signature the way a Standard Webhooks receiver does.
fn verify(secret: &str, r: &Received) {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let (id, ts) = (r.header("webhook-id"), r.header("webhook-timestamp"));
    assert!(id.starts_with("msg_"), "{id}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - ts.parse::<i64>().unwrap()).abs() < 300,
        "a current timestamp: {ts}"
    );
    let signed = format!("{id}.{ts}.{}", r.body);
    let signature = r.header("webhook-signature");
    let mac = base64::engine::general_purpose::STANDARD
        .decode(signature.strip_prefix("v1,").expect("v1 signature"))
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    ring::hmac::verify(&key, signed.as_bytes(), &mac).expect("the signature verifies");
    let tampered = format!("{id}.{ts}.{} ", r.body);
    assert!(ring::hmac::verify(&key, tampered.as_bytes(), &mac).is_err());
}

#[test]
fn notifications_are_signed_shaped_retried_refused_and_audited() {
    let receiver = Receiver::start(500);
    let dir = scratch("notifications");
    let server = Server::start_with(
        &dir.join("data"),
        &["--outbound-allow", &receiver.addr],
        &[],
        None,
    );
    project(&server);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let admin = [
        ("SLUICE_ENDPOINT", server.base.as_str()),
        ("SLUICE_API_TOKEN", TOKEN),
    ];

    // A webhook from the CLI: the generated secret alone on stdout, once.
    let url_file = write(&dir, "hook-url", format!("http://{}/hook\n", receiver.addr));
    let run = sluice_env(
        &home,
        &admin,
        &[
            "create",
            "notification",
            "--project",
            "p",
            "--name",
            "hook",
            "--channel",
            "webhook",
            "--url-file",
            &url_file,
            "--events",
            "sequence.failed,approval.waiting",
            "--stage",
            "dev",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let secret = run.stdout.trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{}", run.stdout);
    // Slack with a template, Teams with the default card (URLs are the credentials).
    let slack_template = write(&dir, "slack.tmpl", "{{.project}}/{{.stage}}: {{.result}}");
    let slack_url = write(
        &dir,
        "slack-url",
        format!("http://{}/slack/T0/B0/xyz", receiver.addr),
    );
    let run = sluice_env(
        &home,
        &admin,
        &[
            "create",
            "notification",
            "--project",
            "p",
            "--name",
            "chat",
            "--channel",
            "slack",
            "--url-file",
            &slack_url,
            "--events",
            "sequence.finished",
            "--template-file",
            &slack_template,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "no secret for Slack: {}", run.stdout);
    // A channel of its own, then a rule sending to it.
    let run = sluice_env(
        &home,
        &admin,
        &[
            "create",
            "notification-channel",
            "--project",
            "p",
            "--name",
            "teams-room",
            "--kind",
            "teams",
            "--url",
            &format!("http://{}/teams/abc", receiver.addr),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = sluice_env(
        &home,
        &admin,
        &[
            "create",
            "notification",
            "--project",
            "p",
            "--name",
            "team",
            "--use-channel",
            "teams-room",
            "--events",
            "sequence.finished",
            "--service",
            "s",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("to channel teams-room (teams, http://"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no secret: {}", run.stdout);
    // --use-channel takes no channel flags.
    let run = sluice_env(
        &home,
        &admin,
        &[
            "create",
            "notification",
            "--project",
            "p",
            "--name",
            "x",
            "--use-channel",
            "teams-room",
            "--url",
            "https://x/y",
            "--events",
            "sequence.finished",
        ],
    );
    assert_ne!(run.code, 0);

    // Templates and secrets are checked when saved; nothing is stored.
    let rule = |channel: Value, events: Value| json!({"name": "bad", "channel": channel, "events": events});
    let failed = json!(["sequence.failed"]);
    for (body, message) in [
        (
            rule(
                json!({"kind": "slack", "url": "https://hooks.slack.com/x", "template": "{{.projct}}"}),
                failed.clone(),
            ),
            "unknown field .projct",
        ),
        (
            rule(
                json!({"kind": "slack", "url": "https://hooks.slack.com/x", "template": "hi {{.project"}),
                failed.clone(),
            ),
            "unclosed action",
        ),
        (
            rule(
                json!({"kind": "webhook", "url": "https://example.com/x", "secret": "abc"}),
                failed.clone(),
            ),
            "whsec_",
        ),
        (
            rule(
                json!({"kind": "slack", "url": "https://hooks.slack.com/x"}),
                json!(["sequence.done"]),
            ),
            "sequence.done",
        ),
        (
            rule(
                json!({"kind": "email", "url": "https://x/y"}),
                failed.clone(),
            ),
            "unknown channel kind",
        ),
        (
            rule(json!({"kind": "slack", "url": "ftp://x/y"}), failed.clone()),
            "only http and https",
        ),
        (
            rule(
                json!({"kind": "slack", "url": "https://x/y", "colour": "red"}),
                failed.clone(),
            ),
            "unknown field `colour`",
        ),
    ] {
        let a = server.call(
            "POST",
            "/api/sluice/v1/project/p/notification/rule",
            Some(&body),
        );
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(a.body.contains(message), "{message}: {}", a.body);
    }
    let a = server.call(
        "POST",
        "/api/sluice/v1/project/p/notification/rule",
        Some(&rule(json!("nope"), failed.clone())),
    );
    assert_eq!(a.status, 404, "{}", a.body);
    let a = server.call(
        "POST",
        "/api/sluice/v1/project/p/notification/rule",
        Some(&json!({"name": "hook", "channel": "teams-room", "events": ["sequence.failed"]})),
    );
    assert_eq!(a.status, 409, "{}", a.body);
    // A channel in use stays.
    let a = server.call(
        "DELETE",
        "/api/sluice/v1/project/p/notification/channel/teams-room",
        None,
    );
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("used by the rules team"), "{}", a.body);
    let channels = server
        .call("GET", "/api/sluice/v1/project/p/notification/channel", None)
        .json();
    let names: Vec<&str> = channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["chat", "hook", "teams-room"],
        "nothing refused was stored"
    );

    // The list never shows a URL's secret part nor a signing secret.
    let run = sluice_env(&home, &admin, &["get", "notifications", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = listed["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chat", "hook", "team"]);
    assert!(
        !run.stdout.contains("xyz") && !run.stdout.contains("abc"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&secret));
    assert_eq!(
        listed["rules"][0]["target"],
        format!("http://{}/…", receiver.addr)
    );

    // A viewer reads rules and the log but cannot change them.
    let run = sluice_env(
        &home,
        &admin,
        &[
            "token",
            "create",
            "--name",
            "watcher",
            "--project",
            "p",
            "--role",
            "viewer",
            "--expires",
            "1d",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let viewer = run.stdout.trim().to_owned();
    let as_viewer = [
        ("SLUICE_ENDPOINT", server.base.as_str()),
        ("SLUICE_API_TOKEN", viewer.as_str()),
    ];
    let run = sluice_env(
        &home,
        &as_viewer,
        &[
            "create",
            "notification",
            "--project",
            "p",
            "--name",
            "mine",
            "--channel",
            "slack",
            "--url",
            "https://hooks.slack.com/x",
            "--events",
            "sequence.failed",
        ],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("403") || run.stderr.contains("may not"),
        "{}",
        run.stderr
    );
    let run = sluice_env(
        &home,
        &as_viewer,
        &["delete", "notification", "hook", "--project", "p"],
    );
    assert_ne!(run.code, 0);
    let run = sluice_env(
        &home,
        &as_viewer,
        &["get", "notifications", "--project", "p"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A failed sequence: the webhook fails first (500), is retried, and is delivered once the
    // receiver recovers; Slack and Teams get theirs at once.
    let ctx = run_sequence(&server, "fail");
    let first = wait_for("the first webhook attempt", || {
        receiver.requests("/hook").first().cloned()
    });
    assert_eq!(first.answered, 500);
    receiver.hook_status.store(200, Ordering::SeqCst);
    let delivered = wait_for("the webhook delivered", || {
        let d = deliveries(&server, "hook");
        (d.first()?["state"] == "delivered").then(|| d[0].clone())
    });
    assert_eq!(delivered["event"], "sequence.failed");
    assert_eq!(delivered["keptnContext"], ctx.as_str());
    // Two attempts, unless this test was held up for longer than the first backoff (1 s).
    let attempts = delivered["attemptLog"].as_array().unwrap();
    assert!(attempts.len() >= 2, "{delivered}");
    assert_eq!(delivered["attempts"], attempts.len());
    assert_eq!(attempts[0]["status"], 500);
    assert_eq!(attempts[0]["error"], "the receiver answered HTTP 500");
    assert_eq!(attempts.last().unwrap()["status"], 200);
    let hooks = receiver.requests("/hook");
    assert_eq!(hooks.len(), attempts.len());
    for r in &hooks {
        verify(&secret, r);
        assert_eq!(r.header("content-type"), "application/json");
    }
    assert_eq!(
        hooks[0].header("webhook-id"),
        hooks[1].header("webhook-id"),
        "a retry keeps its id"
    );
    let body: Value = serde_json::from_str(&hooks[1].body).unwrap();
    assert_eq!(body["type"], "sequence.failed");
    assert_eq!(body["data"]["project"], "p");
    assert_eq!(body["data"]["keptnContext"], ctx.as_str());

    let slack = wait_for("the Slack message", || {
        receiver.requests("/slack/T0/B0/xyz").first().cloned()
    });
    assert_eq!(
        serde_json::from_str::<Value>(&slack.body).unwrap(),
        json!({"text": "p/dev: fail"})
    );
    assert_eq!(slack.header("webhook-signature"), "", "Slack is not signed");
    let teams = wait_for("the Teams card", || {
        receiver.requests("/teams/abc").first().cloned()
    });
    let card: Value = serde_json::from_str(&teams.body).unwrap();
    assert_eq!(card["type"], "message");
    let adaptive = &card["attachments"][0];
    assert_eq!(
        adaptive["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(adaptive["content"]["type"], "AdaptiveCard");
    assert!(
        adaptive["content"]["body"][1]["text"]
            .as_str()
            .unwrap()
            .contains("result fail"),
        "{card}"
    );

    let metrics = server.call("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    for outcome in ["retry", "delivered"] {
        assert!(
            metrics.body.contains(&format!(
                "sluice_notification_attempts_total{{outcome=\"{outcome}\"}}"
            )),
            "{outcome}: {}",
            metrics.body
        );
    }

    // The delivery log from the CLI, for a viewer too.
    let run = sluice_env(
        &home,
        &as_viewer,
        &["get", "notification-deliveries", "--project", "p"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for word in ["hook", "chat", "team", "delivered", "sequence.failed"] {
        assert!(run.stdout.contains(word), "{word}: {}", run.stdout);
    }

    // Deleting is audited with the creations.
    let run = sluice_env(
        &home,
        &admin,
        &["delete", "notification", "chat", "--project", "p"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(deliveries(&server, "chat").is_empty());
    let run = sluice_env(&home, &admin, &["audit", "--project", "p", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let audit: Value = serde_json::from_str(&run.stdout).unwrap();
    let actions: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("notification."))
        .map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("notification.channel.delete", "chat"),
            ("notification.rule.delete", "chat"),
            ("notification.rule.create", "team → teams-room"),
            ("notification.channel.create", "teams-room (teams)"),
            ("notification.rule.create", "chat → chat"),
            ("notification.channel.create", "chat (slack)"),
            ("notification.rule.create", "hook → hook"),
            ("notification.channel.create", "hook (webhook)"),
        ]
    );
}

#[test]
fn pending_deliveries_are_sent_after_a_crash_and_a_restart() {
    pending_deliveries_survive_a_restart("notifications-restart", &[]);
}

/// The same on a PostgreSQL store (where only the leader's notifier runs).
#[test]
fn pending_deliveries_are_sent_after_a_restart_on_postgresql() {
    let Some(url) = crate::postgres::fresh_database("notifications on postgres") else {
        return;
    };
    pending_deliveries_survive_a_restart("notifications-restart-pg", &["--store", url.as_str()]);
}

fn pending_deliveries_survive_a_restart(name: &str, store: &[&str]) {
    let receiver = Receiver::start(503);
    let dir = scratch(name);
    let data = dir.join("data");
    let mut flags = vec!["--outbound-allow", receiver.addr.as_str()];
    flags.extend_from_slice(store);
    let server = Server::start_with(&data, &flags, &[], None);
    project(&server);
    let a = server.call(
        "POST",
        "/api/sluice/v1/project/p/notification/rule",
        Some(&json!({"name": "hook", "channel": {"kind": "webhook", "url": format!("http://{}/hook", receiver.addr)},
            "events": ["sequence.finished"]})),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let secret = a.json()["secret"].as_str().unwrap().to_owned();
    run_sequence(&server, "pass");
    wait_for("a failed attempt", || {
        let d = deliveries(&server, "hook");
        (d.first()?["attempts"].as_u64()? >= 1).then_some(())
    });
    assert_eq!(deliveries(&server, "hook")[0]["state"], "pending");
    server.kill();

    receiver.hook_status.store(204, Ordering::SeqCst);
    let server = Server::start_with(&data, &flags, &[], None);
    let delivered = wait_for("the delivery after the restart", || {
        let d = deliveries(&server, "hook");
        (d.first()?["state"] == "delivered").then(|| d[0].clone())
    });
    assert_eq!(delivered["event"], "sequence.finished");
    let last = receiver.requests("/hook").last().cloned().unwrap();
    assert_eq!(last.answered, 204);
    verify(&secret, &last);
    assert_eq!(
        deliveries(&server, "hook").len(),
        1,
        "one delivery, not two"
    );
}
