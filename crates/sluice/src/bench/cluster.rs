//! Cluster figures: task transitions per second through `sluice server` processes of this
//! binary with one and with three replicas on one PostgreSQL database, beside the same
//! workload against one SQLite server process; and the failover time over several SIGKILLed
//! leaders, beside the time a single SQLite server takes to start again, with the events
//! acknowledged just before each kill checked afterwards.
//!
//! PostgreSQL is the server named by `--pg` or `SLUICE_BENCH_PG`, else a throwaway cluster
//! of the Debian PostgreSQL 15 binaries with the default durability (`fsync` on). Without
//! either, the group says why and gives no figures.
//!
//! The executor here is a remote one, as integrations in a cluster are: it polls the open
//! tasks (`/api/controlPlane/v1/event/triggered/…`) and answers through the API, spreading
//! its requests over the replicas, which forward them to the leader.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use sluice_model::event::EventType;
use tokio::sync::Semaphore;

use super::Sizes;
use super::figure::{Figure, Samples, Target};
use super::servers::{ApiClient, ChildServer, TOKEN};

const PROJECT: &str = "bench";
const TASKS: [&str; 3] = ["deployment", "test", "release"];
const SEQUENCE_FINISHED: &str = "sh.keptn.event.dev.delivery.finished";
/// Transitions of a sequence: three tasks, each triggered, started and finished.
const TRANSITIONS_PER_SEQUENCE: usize = 9;
/// Requests the executor and the triggers have in flight at most.
const CONCURRENT_REQUESTS: usize = 64;
/// Events acknowledged just before each kill, looked for after the takeover.
const ACKNOWLEDGED_BEFORE_KILL: usize = 20;
/// Where a replica says it is ready: answered once some replica leads.
const READY: &str = "/api/v1/metadata";

/// Where the PostgreSQL server comes from.
pub fn postgres_url(given: Option<&str>) -> Result<String, String> {
    if let Some(url) = given.filter(|u| !u.is_empty()) {
        return Ok(url.to_owned());
    }
    match std::env::var("SLUICE_BENCH_PG") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => sluice_store::test_cluster::throwaway_server(),
    }
}

/// The cluster group: every figure, or none with a printed reason when there is no
/// PostgreSQL.
pub async fn cluster(
    dir: &Path,
    sizes: &Sizes,
    pg: Option<&str>,
    http: reqwest::Client,
) -> Result<Vec<Figure>> {
    let admin = match postgres_url(pg) {
        Ok(url) => url,
        Err(why) => {
            println!(
                "cluster: skipped, no PostgreSQL ({why}); give one with --pg or SLUICE_BENCH_PG"
            );
            return Ok(Vec::new());
        }
    };
    let n = sizes.cluster_sequences;

    // The reference: one SQLite server process, the same workload.
    let sqlite = ChildServer::start(&dir.join("sqlite"), http.clone()).await?;
    let sqlite_restart = sqlite.ready_after;
    let sqlite_rate = transitions(std::slice::from_ref(&sqlite.api), n).await?;
    drop(sqlite);

    // The store's own ceiling on this server: durable single-row and batched inserts.
    let reference = |rows: usize, batch: usize| {
        let admin = admin.clone();
        async move {
            let db = sluice_store::test_cluster::new_database(&admin)
                .await
                .map_err(|e| anyhow!(e))?;
            let took = sluice_store::reference::postgres_batched_inserts(
                &db,
                rows,
                batch,
                super::control_plane::REFERENCE_ROW_BYTES,
            )
            .await
            .context("the PostgreSQL reference inserts failed")?;
            Ok::<f64, anyhow::Error>(rows as f64 / took.as_secs_f64())
        }
    };
    let pg_single = reference(sizes.reference_inserts, 1).await?;
    let pg_batched = reference(
        sizes.reference_batched_inserts,
        super::control_plane::REFERENCE_BATCH,
    )
    .await?;

    let one = Replicas::start(&dir.join("one"), &admin, 1, http.clone()).await?;
    let one_rate = transitions(&one.clients(), n).await?;
    drop(one);

    let mut three = Replicas::start(&dir.join("three"), &admin, 3, http.clone()).await?;
    let three_rate = transitions(&three.clients(), n).await?;

    let mut takeovers = Samples::default();
    let mut lost = 0;
    for round in 0..sizes.failover_kills {
        let (took, missing) = three
            .fail_over(round)
            .await
            .with_context(|| format!("failover {}", round + 1))?;
        takeovers.push_ms(took.as_secs_f64() * 1000.0);
        lost += missing;
    }
    drop(three);

    let seconds = |ms: f64| ms / 1000.0;
    Ok(vec![
        Figure::new(
            "cluster_transitions_per_second_1_replica",
            one_rate,
            "1/s",
            None,
        )
        .beside("sqlite_process_transitions_per_second", sqlite_rate, "1/s"),
        Figure::new(
            "cluster_transitions_per_second_3_replicas",
            three_rate,
            "1/s",
            None,
        )
        .beside("sqlite_process_transitions_per_second", sqlite_rate, "1/s"),
        Figure::new(
            "postgres_batched_inserts_per_second",
            pg_batched,
            "1/s",
            None,
        )
        .beside("postgres_durable_inserts_per_second", pg_single, "1/s"),
        Figure::new(
            "failover_p50",
            seconds(takeovers.quantile(0.5)),
            "s",
            Target::at_most(5.0),
        )
        .beside("sqlite_restart", sqlite_restart.as_secs_f64(), "s"),
        Figure::new(
            "failover_max",
            seconds(takeovers.quantile(1.0)),
            "s",
            Target::at_most(5.0),
        )
        .beside("sqlite_restart", sqlite_restart.as_secs_f64(), "s"),
        Figure::new(
            "failover_lost_events",
            lost as f64,
            "events",
            Target::at_most(0.0),
        ),
    ])
}

/// Replicas on one fresh database, each with a data directory of its own.
struct Replicas {
    dir: std::path::PathBuf,
    url: String,
    http: reqwest::Client,
    /// By node id (`r1`, `r2`, …); `None` while killed.
    nodes: Vec<(String, Option<ChildServer>)>,
}

impl Replicas {
    async fn start(
        dir: &Path,
        admin: &str,
        count: usize,
        http: reqwest::Client,
    ) -> Result<Replicas> {
        let url = sluice_store::test_cluster::new_database(admin)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let mut replicas = Replicas {
            dir: dir.to_path_buf(),
            url,
            http,
            nodes: Vec::new(),
        };
        for i in 1..=count {
            let node = format!("r{i}");
            let server = replicas.spawn(&node).await?;
            replicas.nodes.push((node, Some(server)));
        }
        Ok(replicas)
    }

    async fn spawn(&self, node: &str) -> Result<ChildServer> {
        ChildServer::start_with(
            &self.dir.join(node),
            &["--store", &self.url, "--node-id", node],
            READY,
            self.http.clone(),
        )
        .await
        .with_context(|| format!("replica {node}"))
    }

    fn clients(&self) -> Vec<ApiClient> {
        self.nodes
            .iter()
            .filter_map(|(_, s)| s.as_ref().map(|s| s.api.clone()))
            .collect()
    }

    /// Kills the leader, measures until a surviving replica stores an event again, checks
    /// that the events acknowledged before the kill are all there, and starts the killed
    /// replica again as a follower. Returns the takeover time and the number missing.
    async fn fail_over(&mut self, round: usize) -> Result<(Duration, usize)> {
        let clients = self.clients();
        let status = clients[0].get("/api/sluice/v1/cluster").await?;
        let leader = status["leader"]["node"]
            .as_str()
            .ok_or_else(|| anyhow!("no leader: {status}"))?
            .to_owned();
        let index = self
            .nodes
            .iter()
            .position(|(n, _)| *n == leader)
            .ok_or_else(|| anyhow!("unknown leader {leader}"))?;
        let leader_api = self.nodes[index]
            .1
            .as_ref()
            .map(|s| s.api.clone())
            .ok_or_else(|| anyhow!("the leader {leader} is not running"))?;
        // Acknowledged by the leader itself, the instant before it dies.
        let context = format!("00000000-0000-4000-8000-{:012}", round + 1);
        for i in 0..ACKNOWLEDGED_BEFORE_KILL {
            leader_api
                .post("/api/v1/event", &marker(&context, round, i))
                .await?;
        }
        let killed_at = Instant::now();
        if let Some(server) = self.nodes[index].1.as_mut() {
            server.kill();
        }
        self.nodes[index].1 = None;
        let survivors = self.clients();
        let probe = marker(&context, round, ACKNOWLEDGED_BEFORE_KILL);
        let deadline = killed_at + Duration::from_secs(120);
        let mut turn = 0;
        let took = loop {
            let client = &survivors[turn % survivors.len()];
            turn += 1;
            let answer = client
                .http
                .post(format!("{}/api/v1/event", client.base))
                .header("x-token", TOKEN)
                .json(&probe)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                break killed_at.elapsed();
            }
            if Instant::now() > deadline {
                bail!("no replica took over within 120 s of killing {leader}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let stored = survivors[0]
            .get(&format!(
                "/api/mongodb-datastore/event?keptnContext={context}&pageSize=1"
            ))
            .await?;
        let count = stored["totalCount"].as_u64().unwrap_or(0) as usize;
        // The probe is stored too.
        let missing = (ACKNOWLEDGED_BEFORE_KILL + 1).saturating_sub(count);
        let server = self.spawn(&leader).await?;
        self.nodes[index].1 = Some(server);
        Ok((took, missing))
    }
}

/// An event that is stored and changes nothing: a `.started` of a task no sequence has.
fn marker(context: &str, round: usize, i: usize) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("failover-{round}-{i}"),
        "type": "sh.keptn.event.deployment.started",
        "source": "sluice-bench",
        "shkeptncontext": context,
        "triggeredid": format!("failover-{round}-trigger"),
        "data": {"project": PROJECT, "stage": "dev", "service": "svc0", "status": "succeeded"},
    })
}

/// Creates the project with `n` services, starts `n` sequences at once and answers their
/// tasks as a remote executor through `clients` in turn; returns transitions per second.
async fn transitions(clients: &[ApiClient], n: usize) -> Result<f64> {
    let services: Vec<String> = (0..n).map(|i| format!("svc{i}")).collect();
    clients[0]
        .create_project(PROJECT, super::control_plane::SHIPYARD, &services)
        .await?;
    let clients: Arc<Vec<ApiClient>> = Arc::new(clients.to_vec());
    let concurrent = Arc::new(Semaphore::new(CONCURRENT_REQUESTS));
    let started = Instant::now();
    let mut sending = tokio::task::JoinSet::new();
    for (i, service) in services.iter().enumerate() {
        let permit = concurrent.clone().acquire_owned().await?;
        let client = clients[i % clients.len()].clone();
        let event = json!({
            "specversion": "1.0",
            "id": format!("trigger-{i}"),
            "type": "sh.keptn.event.dev.delivery.triggered",
            "source": "sluice-bench",
            "data": {"project": PROJECT, "stage": "dev", "service": service},
        });
        sending.spawn(async move {
            let sent = client.post("/api/v1/event", &event).await;
            drop(permit);
            sent.map(drop)
        });
    }
    let mut answered: HashSet<String> = HashSet::new();
    let deadline = started + Duration::from_secs(900);
    let mut turn = 0usize;
    loop {
        while let Some(sent) = sending.try_join_next() {
            sent??;
        }
        let mut found = 0;
        for task in TASKS {
            let mut offset = 0;
            loop {
                let client = &clients[turn % clients.len()];
                turn += 1;
                let page = client
                    .get(&format!(
                        "/api/controlPlane/v1/event/triggered/sh.keptn.event.{task}.triggered\
                         ?project={PROJECT}&pageSize=100&nextPageKey={offset}"
                    ))
                    .await?;
                for ev in page["events"].as_array().into_iter().flatten() {
                    let Some(id) = ev["id"].as_str() else {
                        continue;
                    };
                    if !answered.insert(id.to_owned()) {
                        continue;
                    }
                    found += 1;
                    let permit = concurrent.clone().acquire_owned().await?;
                    let client = clients[turn % clients.len()].clone();
                    turn += 1;
                    let [started_ev, finished_ev] = answers(task, ev, id);
                    sending.spawn(async move {
                        let sent = async {
                            client.post("/api/v1/event", &started_ev).await?;
                            client.post("/api/v1/event", &finished_ev).await
                        }
                        .await;
                        drop(permit);
                        sent.map(drop)
                    });
                }
                match page["nextPageKey"].as_str().and_then(|k| k.parse().ok()) {
                    Some(next) if next > offset => offset = next,
                    _ => break,
                }
            }
        }
        if found == 0 {
            let done = clients[0]
                .get(&format!(
                    "/api/mongodb-datastore/event?project={PROJECT}&type={SEQUENCE_FINISHED}&pageSize=1"
                ))
                .await?["totalCount"]
                .as_u64()
                .unwrap_or(0) as usize;
            if done >= n {
                break;
            }
            if Instant::now() > deadline {
                bail!("only {done} of {n} sequences finished within 900 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let elapsed = started.elapsed();
    while let Some(sent) = sending.join_next().await {
        sent??;
    }
    Ok((n * TRANSITIONS_PER_SEQUENCE) as f64 / elapsed.as_secs_f64())
}

/// The `.started` and `.finished` answers of an open task (ids derived from the task's, so
/// a repeated answer is recognised as a duplicate).
fn answers(task: &str, triggered: &Value, id: &str) -> [Value; 2] {
    let data = &triggered["data"];
    let scope =
        json!({"project": data["project"], "stage": data["stage"], "service": data["service"]});
    let mut finished = scope.clone();
    finished["status"] = json!("succeeded");
    finished["result"] = json!("pass");
    [
        ("started", EventType::task_started(task), scope),
        ("finished", EventType::task_finished(task), finished),
    ]
    .map(|(kind, event_type, data)| {
        json!({
            "specversion": "1.0",
            "id": format!("{id}-{kind}"),
            "type": event_type.to_string(),
            "source": "sluice-bench-executor",
            "shkeptncontext": triggered["shkeptncontext"],
            "triggeredid": id,
            "data": data,
        })
    })
}
