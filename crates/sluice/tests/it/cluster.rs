//! Three `sluice server` replicas on one PostgreSQL database, each with a data directory of
//! its own: sequences are triggered and answered through all of them, the leader is killed
//! with SIGKILL and a follower paused with SIGSTOP mid-flight; every sequence finishes, no
//! task is triggered twice, no acknowledged event is lost, and the takeover time is printed.
//! And a job the leader's executor is running when it is killed is finished by the next leader.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::http::{Answer, try_call};
use crate::scratch;
use crate::server::{Server, TOKEN};

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: shop\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n            - name: release\n";
const SEQUENCES: usize = 12;

/// Sends a request to the replicas in turn, from `first`, until one answers with something
/// other than 503 (a replica that is down, paused or without a leader is skipped).
fn any(bases: &[String], first: usize, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = first;
    loop {
        let base = &bases[i % bases.len()];
        match try_call(base, TOKEN, method, path, body, Duration::from_secs(2)) {
            Ok(a) if a.status != 503 && a.status != 0 => return a,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no replica answered {method} {path}"
        );
        i += 1;
        if i % bases.len() == first % bases.len() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn post_event(bases: &[String], first: usize, event: &Value) {
    let a = any(bases, first, "POST", "/api/v1/event", Some(event));
    // 409: this id was stored before (a retry of a request whose answer was lost).
    assert!(
        a.status == 200 || a.status == 409,
        "{} {}",
        a.status,
        a.body
    );
}

/// Answers every open task of `task` it finds (deterministic ids: a retry is a duplicate);
/// returns how many it answered.
fn answer_open(bases: &[String], first: usize, task: &str) -> usize {
    let a = any(
        bases,
        first,
        "GET",
        &format!(
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.{task}.triggered?project=shop"
        ),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let open = a.json()["events"].as_array().cloned().unwrap_or_default();
    for t in &open {
        let id = t["id"].as_str().expect("id");
        for kind in ["started", "finished"] {
            let mut data = json!({"project": "shop", "stage": "dev", "service": "carts", "status": "succeeded"});
            if kind == "finished" {
                data["result"] = json!("pass");
            }
            post_event(
                bases,
                first + 1,
                &json!({
                    "specversion": "1.0",
                    "id": format!("{id}-{kind}"),
                    "type": format!("sh.keptn.event.{task}.{kind}"),
                    "source": "failover-executor",
                    "shkeptncontext": t["shkeptncontext"],
                    "triggeredid": id,
                    "data": data,
                }),
            );
        }
    }
    open.len()
}

fn cluster(bases: &[String], first: usize) -> Value {
    let a = any(bases, first, "GET", "/api/sluice/v1/cluster", None);
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

/// Starts one replica per node on the database at `url`, each in a scratch directory of its
/// own; answers them by node with the leader's node and epoch.
fn start_replicas(url: &str, nodes: &[&str]) -> (BTreeMap<String, Server>, String, u64) {
    let mut replicas = BTreeMap::new();
    for node in nodes {
        let flags = ["--store", url, "--node-id", node];
        replicas.insert(
            (*node).to_owned(),
            Server::start_with(&scratch(node), &flags, &[], None),
        );
    }
    let bases: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    let status = cluster(&bases, 0);
    let leader = status["leader"]["node"]
        .as_str()
        .expect("a leader")
        .to_owned();
    let epoch = status["epoch"].as_u64().expect("epoch");
    (replicas, leader, epoch)
}

/// Waits (bounded) until the replicas at `live` report a leader other than `old` in a later
/// epoch than `epoch`; answers its node and epoch.
fn new_leader(live: &[String], old: &str, epoch: u64) -> (String, u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = cluster(live, 0);
        if let Some(node) = s["leader"]["node"].as_str()
            && node != old
            && s["epoch"].as_u64().unwrap_or(0) > epoch
        {
            return (node.to_owned(), s["epoch"].as_u64().unwrap_or(0));
        }
        assert!(Instant::now() < deadline, "no replica took over: {s}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates the project `shop` with `shipyard` and its service `carts` through the replicas.
fn create_shop(bases: &[String], shipyard: &str) {
    let shipyard = base64::engine::general_purpose::STANDARD.encode(shipyard);
    let created = |a: Answer| assert!(a.status == 200 || a.status == 201, "{}", a.body);
    created(any(
        bases,
        1,
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "shop", "shipyard": shipyard})),
    ));
    created(any(
        bases,
        2,
        "POST",
        "/api/controlPlane/v1/project/shop/service",
        Some(&json!({"serviceName": "carts"})),
    ));
}

#[test]
fn three_replicas_survive_a_killed_leader_and_a_paused_follower() {
    let Some(url) = crate::postgres::fresh_database("failover") else {
        return;
    };
    let (mut replicas, leader, epoch) = start_replicas(&url, &["r1", "r2", "r3"]);
    let mut bases: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    create_shop(&bases, SHIPYARD);

    // Every sequence is triggered through a different replica, with its own id and context.
    let mut contexts = BTreeSet::new();
    for i in 0..SEQUENCES {
        let context = format!("00000000-0000-4000-8000-{i:012}");
        post_event(
            &bases,
            i,
            &json!({
                "specversion": "1.0",
                "id": format!("trigger-{i}"),
                "type": "sh.keptn.event.dev.delivery.triggered",
                "source": "failover-test",
                "shkeptncontext": context,
                "data": {"project": "shop", "stage": "dev", "service": "carts"},
            }),
        );
        contexts.insert(context);
    }

    // Some work (sequences of one service run one after the other, as in Keptn), then the
    // leader dies and a follower is paused.
    let mut answered = 0;
    let mut round = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered < 5 {
        answered +=
            answer_open(&bases, round, "deployment") + answer_open(&bases, round + 1, "release");
        round += 1;
        if answered < 5 {
            assert!(Instant::now() < deadline, "the sequences do not move");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let killed_at = Instant::now();
    replicas.remove(&leader).expect("the leader").kill();
    let paused = replicas
        .iter()
        .find(|(node, _)| **node != leader)
        .map(|(node, s)| (node.clone(), s.pid(), s.base.clone()))
        .expect("a follower");
    let stop = |signal: &str| {
        let ok = Command::new("kill")
            .args([signal, &paused.1.to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    };
    stop("-STOP");
    // The takeover: a new term with a new leader, answering through the live replica.
    bases.retain(|b| replicas.values().any(|s| &s.base == b));
    let live: Vec<String> = bases.iter().filter(|b| **b != paused.2).cloned().collect();
    let (next, next_epoch) = new_leader(&live, &leader, epoch);
    let takeover = killed_at.elapsed();
    eprintln!(
        "failover: leader {leader} (epoch {epoch}) killed; {next} leads (epoch {next_epoch}) after {:.2} s",
        takeover.as_secs_f64()
    );
    println!("failover takeover seconds: {:.3}", takeover.as_secs_f64());

    // The paused follower comes back; everything is finished through all live replicas.
    stop("-CONT");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut round = 0;
    loop {
        let n =
            answer_open(&bases, round, "deployment") + answer_open(&bases, round + 1, "release");
        round += 1;
        let a = any(
            &bases,
            round,
            "GET",
            "/api/mongodb-datastore/event?project=shop&type=sh.keptn.event.dev.delivery.finished&pageSize=100",
            None,
        );
        let finished = a.json()["events"].as_array().map_or(0, Vec::len);
        if finished >= SEQUENCES && n == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{finished} of {SEQUENCES} sequences finished"
        );
        if n == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Exactly one finish per sequence, no task triggered twice, every accepted event stored.
    let mut events: Vec<Value> = Vec::new();
    for context in &contexts {
        let a = any(
            &bases,
            0,
            "GET",
            &format!("/api/mongodb-datastore/event?keptnContext={context}&pageSize=100"),
            None,
        );
        assert_eq!(a.status, 200, "{}", a.body);
        events.extend(a.json()["events"].as_array().cloned().unwrap_or_default());
    }
    let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &events {
        let key = (
            e["shkeptncontext"].as_str().unwrap_or("").to_owned(),
            e["type"].as_str().unwrap_or("").to_owned(),
        );
        *count.entry(key).or_default() += 1;
    }
    for context in &contexts {
        for ty in [
            "sh.keptn.event.dev.delivery.triggered",
            "sh.keptn.event.dev.delivery.finished",
            "sh.keptn.event.deployment.triggered",
            "sh.keptn.event.release.triggered",
        ] {
            assert_eq!(
                count.get(&(context.clone(), ty.to_owned())),
                Some(&1),
                "{ty} of {context}"
            );
        }
    }
    let ids: BTreeSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    for i in 0..SEQUENCES {
        assert!(
            ids.contains(format!("trigger-{i}").as_str()),
            "trigger-{i} was lost"
        );
    }
    for e in events.iter().filter(|e| {
        e["type"] == "sh.keptn.event.deployment.triggered"
            || e["type"] == "sh.keptn.event.release.triggered"
    }) {
        let id = e["id"].as_str().unwrap_or("");
        assert!(
            ids.contains(format!("{id}-finished").as_str()),
            "the answer to {id} was lost"
        );
    }
    drop(replicas);
}

/// Waits (bounded) until the run `context` has its `dev.delivery.finished`; answers all its
/// events.
fn finished_run(bases: &[String], context: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = any(
            bases,
            0,
            "GET",
            &format!("/api/mongodb-datastore/event?keptnContext={context}&pageSize=100"),
            None,
        );
        assert_eq!(a.status, 200, "{}", a.body);
        let events = a.json()["events"].as_array().cloned().unwrap_or_default();
        if events
            .iter()
            .any(|e| e["type"] == "sh.keptn.event.dev.delivery.finished")
        {
            return events;
        }
        assert!(Instant::now() < deadline, "the sequence does not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls (bounded) until `path` holds `lines` lines.
fn wait_for_lines(path: &std::path::Path, lines: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
        < lines
    {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates the file at its path when dropped.
struct OpenOnDrop(std::path::PathBuf);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
    }
}

/// A job that the built-in executor runs on the leader when the leader is killed is taken
/// over by the next leader (docs/cluster.md, "Failover"): it runs again there, since a local
/// job's process was on the other machine; the task gets one `.started` and one `.finished`
/// from the executor and the sequence ends.
#[test]
fn a_job_running_on_a_killed_leader_is_finished_by_the_next_leader() {
    let Some(url) = crate::postgres::fresh_database("job failover") else {
        return;
    };
    let dir = scratch("job-failover");
    let (runs, gate) = (dir.join("runs"), dir.join("gate"));
    // Whatever happens, the jobs (the killed leader's too, which outlives it) end with the test.
    let _gate = OpenOnDrop(gate.clone());
    let (mut replicas, leader, epoch) = start_replicas(&url, &["j1", "j2"]);
    let bases: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    create_shop(
        &bases,
        &SHIPYARD.replace("            - name: release\n", ""),
    );
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let created = |a: Answer| assert!(a.status == 200 || a.status == 201, "{}", a.body);
    let script = format!(
        "echo run >> {}; while [ ! -e {} ]; do sleep 0.05; done",
        runs.display(),
        gate.display()
    );
    let config = format!(
        "apiVersion: v2\nactions:\n  - name: deploy\n    events:\n      - name: sh.keptn.event.deployment.triggered\n    tasks:\n      - name: wait\n        image: x\n        cmd: [sh, -c, {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    created(any(
        &bases,
        1,
        "POST",
        "/api/resource-service/v1/project/shop/stage/dev/service/carts/resource",
        Some(
            &json!({"resources": [{"resourceURI": "job/config.yaml", "resourceContent": b64(&config)}]}),
        ),
    ));
    let a = any(
        &bases,
        0,
        "POST",
        "/api/v1/event",
        Some(&json!({
            "specversion": "1.0",
            "type": "sh.keptn.event.dev.delivery.triggered",
            "source": "failover-test",
            "data": {"project": "shop", "stage": "dev", "service": "carts"},
        })),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let context = a.json()["keptnContext"].as_str().unwrap().to_owned();

    wait_for_lines(&runs, 1, "the job does not start on the leader");
    replicas.remove(&leader).expect("the leader").kill();
    let live: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    new_leader(&live, &leader, epoch);
    wait_for_lines(&runs, 2, "the next leader does not run the job");
    std::fs::write(&gate, "").unwrap();

    let events = finished_run(&live, &context);
    let of = |ty: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["type"] == format!("sh.keptn.event.{ty}"))
            .collect()
    };
    assert_eq!(of("deployment.triggered").len(), 1);
    assert_eq!(of("deployment.started").len(), 1, "one .started");
    let finished = of("deployment.finished");
    assert_eq!(finished.len(), 1, "one .finished");
    assert_eq!(finished[0]["source"], "job-executor-service");
    assert_eq!(finished[0]["data"]["result"], "pass", "{}", finished[0]);
    assert_eq!(of("dev.delivery.finished")[0]["data"]["result"], "pass");
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap(),
        "run\nrun\n",
        "ran on both leaders"
    );

    // The run is shared: a replica with an empty data directory that leads next shows it.
    let (second, second_epoch) = new_leader(&live, &leader, epoch);
    replicas.remove(&second).expect("the second leader").kill();
    let third = Server::start_with(
        &scratch("j3"),
        &["--store", url.as_str(), "--node-id", "j3"],
        &[],
        None,
    );
    let last = vec![third.base.clone()];
    new_leader(&last, &second, second_epoch);
    let a = any(
        &last,
        0,
        "GET",
        &format!("/api/sluice/v1/logs?keptnContext={context}"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let logs = a.json();
    let shown = logs["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(shown.len(), 1, "{logs}");
    assert_eq!(shown[0]["taskName"], "wait");
    assert_eq!(shown[0]["status"], "succeeded");
    drop(third);
    drop(replicas);
}

/// Opens the event stream of the project `shop`'s `deployment.started` events at `base`; a
/// thread passes on the ids it carries.
fn open_stream(base: &str) -> std::sync::mpsc::Receiver<String> {
    use std::io::{BufRead, BufReader, Write};
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        socket,
        "GET /api/sluice/v1/stream?project=shop&type=sh.keptn.event.deployment.started HTTP/1.1\r\nHost: {addr}\r\nx-token: {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(socket);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let (tx, ids) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(id) = line.strip_prefix("id: ")
                && tx.send(id.to_owned()).is_err()
            {
                return;
            }
        }
    });
    ids
}

/// The next id an [`open_stream`] carries (bounded wait).
fn next_id(ids: &std::sync::mpsc::Receiver<String>) -> String {
    ids.recv_timeout(Duration::from_secs(60))
        .expect("the stream carries the next event")
}

/// A `deployment.started` event of the project `shop` with this id.
fn started(id: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "type": "sh.keptn.event.deployment.started",
        "source": "stream-test",
        "triggeredid": format!("{id}-task"),
        "data": {"project": "shop", "stage": "dev", "service": "carts", "status": "succeeded"},
    })
}

/// Two replicas with the project `shop`: them by node, the leader's node and epoch, and the
/// follower's address.
fn shop_on_two(url: &str, nodes: &[&str; 2]) -> (BTreeMap<String, Server>, String, u64, String) {
    let (replicas, leader, epoch) = start_replicas(url, nodes);
    let bases: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    let follower = replicas
        .iter()
        .find(|(node, _)| **node != leader)
        .map(|(_, s)| s.base.clone())
        .expect("a follower");
    create_shop(&bases, SHIPYARD);
    (replicas, leader, epoch, follower)
}

/// Once `follower` leads after `leader`'s term `epoch`, an event posted to it comes through
/// the stream opened on it before, on the same connection, with nothing sent twice.
fn the_stream_goes_on_after_the_takeover(
    follower: &str,
    leader: &str,
    epoch: u64,
    ids: &std::sync::mpsc::Receiver<String>,
) {
    let live = vec![follower.to_owned()];
    new_leader(&live, leader, epoch);
    post_event(&live, 0, &started("after"));
    assert_eq!(
        next_id(ids),
        "after",
        "the same connection goes on, nothing twice"
    );
}

/// An event stream opened through a follower goes on when the leader dies: the follower
/// resumes it on the next leader (here itself) after the last event it passed on, on the
/// client's connection, with nothing sent twice.
#[test]
fn an_event_stream_through_a_follower_outlives_the_leader() {
    let Some(url) = crate::postgres::fresh_database("stream failover") else {
        return;
    };
    let (mut replicas, leader, epoch, follower) = shop_on_two(&url, &["s1", "s2"]);
    let ids = open_stream(&follower);
    post_event(std::slice::from_ref(&follower), 0, &started("before"));
    assert_eq!(next_id(&ids), "before");

    replicas.remove(&leader).expect("the leader").kill();
    the_stream_goes_on_after_the_takeover(&follower, &leader, epoch, &ids);
    drop(replicas);
}

/// A paused leader answers nothing and keeps its connections open. A request a follower
/// forwarded to it is given up once the next term begins (answered 503, so the client sends
/// it again: the `sluice` CLI does so by itself) instead of waiting for the client to give
/// up, and an event stream through the follower, silent since the pause, resumes on the next
/// leader.
#[test]
fn a_paused_leader_is_given_up_by_requests_and_streams_through_a_follower() {
    let Some(url) = crate::postgres::fresh_database("paused leader") else {
        return;
    };
    let (replicas, leader, epoch, follower) = shop_on_two(&url, &["q1", "q2"]);
    let ids = open_stream(&follower);
    post_event(std::slice::from_ref(&follower), 0, &started("before"));
    assert_eq!(next_id(&ids), "before");

    let paused = replicas[&leader].pid().to_string();
    let signal = |name: &str| {
        let ok = Command::new("kill")
            .args([name, &paused])
            .status()
            .expect("kill");
        assert!(ok.success());
    };
    signal("-STOP");
    // The CLI, through the follower at the same time: it hears 503 and sends again.
    let home = scratch("paused-leader-cli");
    let cli = {
        let follower = follower.clone();
        std::thread::spawn(move || {
            let envs = [
                ("SLUICE_ENDPOINT", follower.as_str()),
                ("SLUICE_API_TOKEN", TOKEN),
            ];
            crate::sluice_env(&home, &envs, &["get", "projects"])
        })
    };
    // Forwarded to the paused leader: the follower gives it up once its own term begins
    // (about the session timeout, 10 s), well before this client's own limit.
    let waiting = try_call(
        &follower,
        TOKEN,
        "GET",
        "/api/controlPlane/v1/project",
        None,
        Duration::from_secs(50),
    );
    let waiting = waiting.expect("answered before the client's limit");
    assert_eq!(waiting.status, 503, "{}", waiting.body);
    let run = cli.join().expect("the CLI thread");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("shop"), "{}", run.stdout);
    assert!(run.stderr.contains("trying again"), "{}", run.stderr);
    the_stream_goes_on_after_the_takeover(&follower, &leader, epoch, &ids);
    // The old leader finds its term over and stops.
    signal("-CONT");
    drop(replicas);
}

/// A timer outlives the leader: a task delayed by `triggeredAfter` whose leader dies before
/// it is due is triggered by the next leader, once, and not before it was due.
#[test]
fn a_delayed_task_of_a_killed_leader_is_triggered_by_the_next_leader_when_due() {
    const DELAY: Duration = Duration::from_secs(3);
    let Some(url) = crate::postgres::fresh_database("timer failover") else {
        return;
    };
    let (mut replicas, leader, epoch) = start_replicas(&url, &["t1", "t2"]);
    let bases: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    let shipyard = SHIPYARD.replace(
        "            - name: release\n",
        &format!(
            "            - name: release\n              triggeredAfter: \"{}s\"\n",
            DELAY.as_secs()
        ),
    );
    create_shop(&bases, &shipyard);
    let context = "00000000-0000-4000-8000-00000000d1a7";
    post_event(
        &bases,
        0,
        &json!({
            "specversion": "1.0",
            "id": "timer-trigger",
            "type": "sh.keptn.event.dev.delivery.triggered",
            "source": "failover-test",
            "shkeptncontext": context,
            "data": {"project": "shop", "stage": "dev", "service": "carts"},
        }),
    );
    // The deployment is answered; the release is then due in DELAY.
    // The clock starts before the answer that arms the timer, so it never runs ahead of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let answered_at = loop {
        let before = Instant::now();
        if answer_open(&bases, 0, "deployment") > 0 {
            break before;
        }
        assert!(Instant::now() < deadline, "no deployment task");
        std::thread::sleep(Duration::from_millis(20));
    };
    replicas.remove(&leader).expect("the leader").kill();
    let live: Vec<String> = replicas.values().map(|s| s.base.clone()).collect();
    new_leader(&live, &leader, epoch);
    let deadline = Instant::now() + Duration::from_secs(60);
    while answer_open(&live, 0, "release") == 0 {
        assert!(
            Instant::now() < deadline,
            "the delayed task is never triggered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        answered_at.elapsed() >= DELAY,
        "triggered before it was due: {:?}",
        answered_at.elapsed()
    );
    let events = finished_run(&live, context);
    let releases = events
        .iter()
        .filter(|e| e["type"] == "sh.keptn.event.release.triggered")
        .count();
    assert_eq!(releases, 1, "the delayed task is triggered once");
    drop(replicas);
}
