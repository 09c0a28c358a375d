//! `sluice quickstart`: Keptn's "full tour" tutorial, end to end, on this machine.
//!
//! It starts an embedded server in a fresh data directory, creates project `fulltour` (stages
//! qa and production) with service `helloservice`, adds the SLO, the job-executor config and
//! (for Prometheus) the SLI file the way a user would, configures the SLI provider, and then
//! runs the tutorial's two deliveries:
//! 1. v0.1.1: deployed to qa (as local helloservice processes), load-tested, the quality gate
//!    passes, promoted with automatic approval, the same in production;
//! 2. v0.1.2 (the slow build): the qa gate fails on response time, production keeps v0.1.1.
//!
//! It exits 0 only when both happened as expected.
//!
//! `--scenario canary-statistics` (qa only) shows a pinned baseline and a statistical
//! criterion instead: the steady build v0.2.0 is delivered and its evaluation pinned, the
//! same build passes against it, and v0.2.1 (one request in twelve 250 ms slower) fails
//! statistically while Keptn's single-value criteria pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_model::event::{EventType, KeptnEvent};
use sluice_server::ServerConfig;

use crate::cli::OutputFormat;
use crate::cli::{QuickstartArgs, QuickstartLoad, QuickstartMonitoring, QuickstartScenario};
use crate::client::config::{ApiToken, Credentials};
use crate::client::http::Api;
use crate::client::trigger::{Delivery, delivery_event};
use crate::client::watch::{WatchOptions, watch};
use crate::style::Painter;

const PROJECT: &str = "fulltour";
const SERVICE: &str = "helloservice";
const GOOD: &str = "ghcr.io/podtato-head/podtatoserver:v0.1.1";
const SLOW: &str = "ghcr.io/podtato-head/podtatoserver:v0.1.2";

const SHIPYARD: &str = include_str!("../../../examples/quickstart/shipyard.yaml");
const LOADTEST_SLO: &str = include_str!("../../../examples/quickstart/slo.yaml");
const JOB_CONFIG: &str = include_str!("../../../examples/quickstart/job/config.yaml");
const TUTORIAL_SLO: &str = include_str!("../../../examples/fulltour/slo.yaml");
const CANARY_SLO: &str = include_str!("../../../examples/quickstart/slo-canary.yaml");
/// The canary-statistics scenario's builds (helloservice versions that podtatoserver does not
/// have): a steady one, and the same with a slow tail on one request in twelve.
const STEADY: &str = "ghcr.io/podtato-head/podtatoserver:v0.2.0";
const TAIL: &str = "ghcr.io/podtato-head/podtatoserver:v0.2.1";
const PROMETHEUS_SLI: &str = include_str!("../../../examples/fulltour/prometheus/sli.yaml");
const LOCUST_FILE: &str = include_str!("../../../examples/fulltour/locust/basic.py");

/// How the tour's tasks are timed.
struct Timing {
    /// Length of each load test.
    load: &'static str,
    /// Fixed evaluation timeframe (the tutorial's), or `None` for the load test's own window.
    timeframe: Option<&'static str>,
}

/// The embedded server's outbound rules: public addresses, plus the host and port of the
/// Prometheus named by `--prometheus-url` (the user named it, so it is allowed explicitly
/// even when it is on loopback or a private network).
fn prometheus_outbound(url: Option<&str>) -> Result<sluice_server::net::outbound::Outbound> {
    let outbound = sluice_server::net::outbound::Outbound::public_only();
    let Some(url) = url else {
        return Ok(outbound);
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow!("--prometheus-url {url}: {e}"))?;
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        bail!("--prometheus-url {url}: the URL needs a host");
    };
    outbound
        .with(&format!("{host}:{port}"))
        .map_err(|e| anyhow!("--prometheus-url {url}: {e}"))
}

/// Runs the tour; returns the exit code.
pub fn run(args: &QuickstartArgs) -> Result<i32> {
    let paint = Painter::for_stdout(crate::cli::ColorChoice::Auto);
    let data_dir = prepare_data_dir(args.data_dir.as_deref())?;
    if args.monitoring == QuickstartMonitoring::Prometheus && args.prometheus_url.is_none() {
        bail!("--monitoring prometheus needs --prometheus-url (for example http://127.0.0.1:9090)");
    }
    if args.alerting_rules.is_some()
        && (args.scenario != QuickstartScenario::SelfHealing
            || args.monitoring != QuickstartMonitoring::Prometheus)
    {
        bail!("--alerting-rules needs --scenario self-healing --monitoring prometheus");
    }
    let timing = if args.tutorial_timing {
        Timing {
            load: "2m",
            timeframe: Some("2m"),
        }
    } else {
        Timing {
            load: "15s",
            timeframe: None,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The token is kept in the data directory like any server's, so that `sluice server
    // --data-dir DIR` afterwards uses the same one.
    let from_env = std::env::var(sluice_server::access::auth::TOKEN_ENV)
        .ok()
        .filter(|t| !t.is_empty());
    let (token, _) = sluice_server::access::auth::ApiToken::load_or_create(&data_dir, from_env)
        .map_err(|e| anyhow!("{e}"))?;
    let token = token.reveal().to_owned();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        data_dir: data_dir.clone(),
        store: None,
        listen: args
            .listen
            .unwrap_or_else(|| "127.0.0.1:0".parse().expect("valid address")),
        token_from_env: Some(token.clone()),
        job_allowed_commands: Some("sluice,locust".to_owned()),
        job_backend: Default::default(),
        connections: Default::default(),
        secrets_key_from_env: None,
        rotate_secrets_key: false,
        new_secrets_key_from_env: None,
        bus: None,
        node_id: None,
        advertise: None,
        outbound: prometheus_outbound(args.prometheus_url.as_deref())?,
        durability: Default::default(),
        job_runs_retention: None,
    };
    let server = runtime.spawn(sluice_server::serve(
        config,
        move |started| {
            let _ = addr_tx.send(started.addr);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = match addr_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => addr,
        Err(_) => {
            let why = runtime
                .block_on(server)
                .map_err(|e| anyhow!("{e}"))
                .and_then(|r| r.map_err(|e| anyhow!("{e}")));
            bail!("the embedded server did not start: {why:?}");
        }
    };
    let endpoint = format!("http://{addr}");
    let api = Api::new(&Credentials {
        endpoint: endpoint.clone(),
        api_token: ApiToken::new(token.clone()),
    })?;

    println!(
        "{}",
        paint.bold("sluice quickstart: the Keptn full tour, locally")
    );
    println!("  server   {endpoint} (embedded)");
    println!("  data     {}", data_dir.display());
    println!();

    let outcome = runtime.block_on(tour(&api, args, &timing, &data_dir, paint));
    let deployments = data_dir.join("deployments");
    let _ = std::process::Command::new(std::env::current_exe()?)
        .args(["deployments", "stop", "--all", "--deployments-dir"])
        .arg(&deployments)
        .stdout(std::process::Stdio::null())
        .status();
    let _ = stop_tx.send(());
    let _ = runtime.block_on(server);
    match outcome {
        Ok(true) => {
            println!();
            println!("{}", paint.good("The tour went as the tutorial says."));
            explore(&data_dir, args.data_dir.is_some());
            Ok(0)
        }
        Ok(false) => {
            println!();
            println!(
                "{}",
                paint.bad("The tour did not go as expected (see above).")
            );
            explore(&data_dir, args.data_dir.is_some());
            Ok(1)
        }
        Err(e) => Err(e),
    }
}

fn explore(data_dir: &Path, kept: bool) {
    if kept {
        println!("Explore what happened:");
        println!("  sluice server --data-dir {}", data_dir.display());
        println!(
            "  (it prints the address; the API token is in {}/api-token)",
            data_dir.display()
        );
        println!(
            "  sluice auth --endpoint http://127.0.0.1:8090 --api-token $(cat {}/api-token)",
            data_dir.display()
        );
        println!("  sluice get sequences --project {PROJECT}");
        println!("  sluice get services --project {PROJECT}");
        println!("  sluice get events --project {PROJECT} --page-size 50");
    } else {
        println!(
            "Run it again with --data-dir DIR to keep its data and explore it with `sluice server --data-dir DIR`."
        );
    }
}

fn prepare_data_dir(given: Option<&Path>) -> Result<PathBuf> {
    let dir = match given {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("sluice-quickstart-{}", std::process::id())),
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} is not empty: the quickstart needs a new or empty data directory",
            dir.display()
        );
    }
    // Private like every server's data directory (the server would tighten it anyway).
    sluice_server::storage::data_dir::restrict_new_files();
    sluice_server::storage::data_dir::prepare(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn step(paint: Painter, text: &str) {
    println!("{} {text}", paint.bold("==>"));
}

async fn call(api: &Api, method: &str, path: &str, body: &Value) -> Result<Value> {
    let answer = match method {
        "POST" => api.post(path, body).await,
        _ => api.get(path, &[]).await,
    };
    answer.map_err(|e| anyhow!("{method} {path}: {e}"))
}

/// Prints the `sluice add-resource` command that does the same, then uploads `content` as
/// the service's `uri` in `stage`.
async fn add_resource(
    api: &Api,
    paint: Painter,
    stage: &str,
    uri: &str,
    content: &str,
) -> Result<()> {
    step(
        paint,
        &format!(
            "sluice add-resource --project {PROJECT} --stage {stage} --service {SERVICE} --resource {uri}"
        ),
    );
    upload(api, stage, uri, content).await
}

/// Uploads `content` as the service's `uri` in `stage`.
async fn upload(api: &Api, stage: &str, uri: &str, content: &str) -> Result<()> {
    let path = format!(
        "/api/resource-service/v1/project/{PROJECT}/stage/{stage}/service/{SERVICE}/resource"
    );
    call(
        api,
        "POST",
        &path,
        &json!({"resources": [{"resourceURI": uri, "resourceContent": b64(content)}]}),
    )
    .await?;
    Ok(())
}

/// The whole tour; `Ok(false)` when an outcome differed from the tutorial's.
async fn tour(
    api: &Api,
    args: &QuickstartArgs,
    timing: &Timing,
    data_dir: &Path,
    paint: Painter,
) -> Result<bool> {
    let base = scenario_shipyard(args.scenario);
    let shipyard = match timing.timeframe {
        None => base,
        Some(tf) => base.replace(
            "            - name: \"evaluation\"\n",
            &format!("            - name: \"evaluation\"\n              properties:\n                timeframe: \"{tf}\"\n"),
        ),
    };
    step(
        paint,
        &format!(
            "sluice create project {PROJECT} --shipyard shipyard.yaml   (stages qa, production)"
        ),
    );
    call(
        api,
        "POST",
        "/api/controlPlane/v1/project",
        &json!({"name": PROJECT, "shipyard": b64(&shipyard)}),
    )
    .await?;
    step(
        paint,
        &format!("sluice create service {SERVICE} --project {PROJECT}"),
    );
    call(
        api,
        "POST",
        &format!("/api/controlPlane/v1/project/{PROJECT}/service"),
        &json!({"serviceName": SERVICE}),
    )
    .await?;

    let mut job_config = match args.load {
        QuickstartLoad::Sluice => JOB_CONFIG.replace(
            "\"--duration\", \"15s\"",
            &format!("\"--duration\", \"{}\"", timing.load),
        ),
        QuickstartLoad::Locust => locust_job_config(timing.load),
    };
    if args.scenario == QuickstartScenario::CanaryStatistics {
        // More requests, so that a tail of a few percent is visible in the ranks.
        job_config = job_config
            .replace("\"--users\", \"5\"", "\"--users\", \"10\"")
            .replace("\"--rate\", \"50\"", "\"--rate\", \"150\"");
    }
    match args.scenario {
        QuickstartScenario::Rollback => job_config.push_str(ROLLBACK_ACTION),
        QuickstartScenario::SelfHealing => job_config.push_str(SCALE_ACTION),
        _ => {}
    }
    let (slo, provider) = match args.monitoring {
        QuickstartMonitoring::Loadtest => (LOADTEST_SLO, "loadtest"),
        QuickstartMonitoring::Prometheus => (TUTORIAL_SLO, "prometheus"),
    };
    let slo = if args.scenario == QuickstartScenario::CanaryStatistics {
        CANARY_SLO
    } else {
        slo
    };
    let stages: &[&str] = if args.scenario == QuickstartScenario::CanaryStatistics {
        &["qa"]
    } else {
        &["qa", "production"]
    };
    for &stage in stages {
        add_resource(api, paint, stage, "slo.yaml", slo).await?;
        add_resource(api, paint, stage, "job/config.yaml", &job_config).await?;
        if args.monitoring == QuickstartMonitoring::Prometheus {
            add_resource(api, paint, stage, "prometheus/sli.yaml", PROMETHEUS_SLI).await?;
        }
        if args.load == QuickstartLoad::Locust {
            add_resource(api, paint, stage, "locust/basic.py", LOCUST_FILE).await?;
        }
    }
    if args.scenario == QuickstartScenario::SelfHealing {
        add_resource(api, paint, "production", "remediation.yaml", REMEDIATION).await?;
    }
    let mut monitoring = json!({"type": provider});
    if let Some(url) = &args.prometheus_url {
        monitoring["endpoint"] = json!(url);
    }
    step(
        paint,
        &format!("sluice configure monitoring {provider} --project {PROJECT}"),
    );
    call(
        api,
        "POST",
        &format!("/api/sluice/v1/project/{PROJECT}/monitoring"),
        &monitoring,
    )
    .await?;
    if args.monitoring == QuickstartMonitoring::Prometheus {
        println!(
            "    Prometheus finds the helloservice instances through file_sd targets in {}",
            data_dir.join("deployments").join("prometheus").display()
        );
    }
    if args.setup_only {
        return Ok(true);
    }

    match args.scenario {
        QuickstartScenario::Tour => tour_deliveries(api, paint).await,
        QuickstartScenario::Approval => approval_scenario(api, paint).await,
        QuickstartScenario::Rollback => rollback_scenario(api, paint).await,
        QuickstartScenario::SelfHealing => match (&args.alerting_rules, &args.prometheus_url) {
            (Some(rules), Some(prometheus)) => {
                self_healing_from_alerts(api, data_dir, paint, rules, prometheus).await
            }
            _ => self_healing_scenario(api, data_dir, paint).await,
        },
        QuickstartScenario::CanaryStatistics => canary_statistics_scenario(api, paint).await,
    }
}

/// The tutorial's two deliveries: the good build everywhere, the slow build stopped in qa.
async fn tour_deliveries(api: &Api, paint: Painter) -> Result<bool> {
    let mut ok = true;
    let events = watched_delivery(api, paint, GOOD, "v0.1.1", "").await?;
    ok &= expect(
        paint,
        "qa quality gate passes (or warns) with v0.1.1",
        sequence_result(&events, "qa").is_some_and(passed),
    );
    ok &= expect(
        paint,
        "v0.1.1 is promoted and passes the production gate",
        sequence_result(&events, "production").is_some_and(passed),
    );

    let events2 = watched_delivery(api, paint, SLOW, "v0.1.2", "").await?;
    ok &= expect(
        paint,
        "the slow build v0.1.2 fails the qa quality gate",
        sequence_result(&events2, "qa").as_deref() == Some("fail"),
    );
    ok &= expect(
        paint,
        "v0.1.2 never reaches production",
        !events2.iter().any(|e| {
            e.event_type.as_deref() == Some("sh.keptn.event.production.delivery.triggered")
        }),
    );

    ok &= check_versions(
        api,
        paint,
        &[
            ("qa", "v0.1.2", "qa runs v0.1.2"),
            ("production", "v0.1.1", "production keeps v0.1.1"),
        ],
        &[("qa", &events2), ("production", &events)],
    )
    .await?;
    Ok(ok)
}

fn locust_job_config(duration: &str) -> String {
    JOB_CONFIG
        .replace("Load test with sluice load", "Load test with locust")
        .replace(
            "        cmd: [\"sluice\"]\n        args: [\"load\", \"--url\", \"$(URL)\", \"--duration\", \"15s\", \"--users\", \"5\", \"--rate\", \"50\", \"--out\", \"/keptn/out/load-summary.json\"]",
            &format!(
                "        files:\n          - locust/basic.py\n        cmd: [\"locust\"]\n        args: [\"--headless\", \"-f\", \"/keptn/locust/basic.py\", \"--host\", \"$(URL)\", \"-u\", \"10\", \"-r\", \"10\", \"-t\", \"{duration}\", \"--csv\", \"/keptn/out/locust\", \"--only-summary\"]"
            ),
        )
        .replace("image: \"sluice\"\n        files:", "image: \"locustio/locust:2.8.6\"\n        files:")
}

async fn events_of(api: &Api, ctx: &str) -> Result<Vec<KeptnEvent>> {
    crate::client::watch::fetch_context_events(api, ctx).await
}

fn sequence_result(events: &[KeptnEvent], stage: &str) -> Option<String> {
    let ty = EventType::sequence_finished(stage, "delivery").to_string();
    events
        .iter()
        .rev()
        .find(|e| e.event_type.as_deref() == Some(ty.as_str()))
        .and_then(|e| e.data.as_ref()?.get("result")?.as_str().map(str::to_owned))
}

fn passed(result: String) -> bool {
    result == "pass" || result == "warning"
}

fn expect(paint: Painter, what: &str, held: bool) -> bool {
    if held {
        println!("  {} {what}", paint.good("✔"));
    } else {
        println!("  {} {what}", paint.bad("✘ expected:"));
    }
    held
}

/// Checks the version each stage runs (what `sluice get services` shows: `(stage, version,
/// what the user should see)`) and prints the summary table of the given runs.
async fn check_versions(
    api: &Api,
    paint: Painter,
    expected: &[(&str, &str, &str)],
    runs: &[(&str, &Vec<KeptnEvent>)],
) -> Result<bool> {
    let project = call(
        api,
        "GET",
        &format!("/api/controlPlane/v1/project/{PROJECT}"),
        &Value::Null,
    )
    .await?;
    let deployed = deployed_images(&project);
    let mut ok = true;
    for (stage, version, what) in expected {
        ok &= expect(
            paint,
            what,
            deployed.get(*stage).is_some_and(|i| i.ends_with(version)),
        );
    }
    println!();
    summary(paint, &deployed, runs);
    Ok(ok)
}

fn deployed_images(project: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stage in project["stages"].as_array().into_iter().flatten() {
        let name = stage["stageName"].as_str().unwrap_or_default();
        for svc in stage["services"].as_array().into_iter().flatten() {
            if svc["serviceName"] == SERVICE
                && let Some(image) = svc["deployedImage"].as_str()
            {
                out.insert(name.to_owned(), image.to_owned());
            }
        }
    }
    out
}

fn summary(paint: Painter, deployed: &BTreeMap<String, String>, runs: &[(&str, &Vec<KeptnEvent>)]) {
    println!(
        "{}",
        paint.bold(&format!(
            "{:<12} {:<10} {:<26} {:>6}  {}",
            "STAGE", "VERSION", "LAST EVALUATION", "SCORE", "RESULT"
        ))
    );
    for (stage, events) in runs {
        let version = deployed
            .get(*stage)
            .and_then(|i| i.rsplit(':').next())
            .unwrap_or("-")
            .to_owned();
        let eval = events.iter().rev().find(|e| {
            e.event_type.as_deref() == Some("sh.keptn.event.evaluation.finished")
                && e.data
                    .as_ref()
                    .and_then(|d| d.get("stage"))
                    .and_then(Value::as_str)
                    == Some(*stage)
        });
        let (when, score, result) = match eval.and_then(|e| e.data.as_ref().map(|d| (e, d))) {
            Some((e, d)) => (
                e.time
                    .clone()
                    .unwrap_or_default()
                    .chars()
                    .take(19)
                    .collect::<String>(),
                d.pointer("/evaluation/score")
                    .and_then(Value::as_f64)
                    .map(|s| format!("{s:.0}"))
                    .unwrap_or_else(|| "-".into()),
                d.get("result")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned(),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let painted = match result.as_str() {
            "pass" => paint.good(&result),
            "warning" => paint.warn(&result),
            "fail" => paint.bad(&result),
            _ => result.clone(),
        };
        println!("{stage:<12} {version:<10} {when:<26} {score:>6}  {painted}");
    }
}

/// The job-config action of the rollback scenario: `sluice rollback` plays `helm rollback`.
const ROLLBACK_ACTION: &str = r#"
  - name: "Roll back helloservice locally"
    events:
      - name: "sh.keptn.event.rollback.triggered"
    tasks:
      - name: "Rollback"
        image: "sluice"
        cmd: ["sluice"]
        args: ["rollback", "--project", "$(KEPTN_PROJECT)", "--stage", "$(KEPTN_STAGE)", "--service", "$(KEPTN_SERVICE)", "--finished-data", "/keptn/out/finished-data.json"]
"#;

/// A production SLO no build can pass (p95 under a microsecond): the seed page's "in reality
/// production would use different objectives", made strict to show the automatic rollback.
const STRICT_PRODUCTION_SLO: &str = "spec_version: \"1.0\"\nobjectives:\n  - sli: \"response_time_p95\"\n    displayName: \"Response time P95 (ms)\"\n    pass:\n      - criteria:\n          - \"<=0.001\"\ntotal_score:\n  pass: \"90%\"\n  warning: \"75%\"\n";

/// The shipyard of a scenario.
fn scenario_shipyard(scenario: QuickstartScenario) -> String {
    match scenario {
        QuickstartScenario::Tour => SHIPYARD.to_owned(),
        // qa only: the comparison happens there.
        QuickstartScenario::CanaryStatistics => SHIPYARD
            .split("    - name: \"production\"\n")
            .next()
            .unwrap_or(SHIPYARD)
            .to_owned(),
        QuickstartScenario::SelfHealing => format!("{SHIPYARD}{REMEDIATION_SEQUENCE}"),
        QuickstartScenario::Approval => SHIPYARD
            .replace("pass: \"automatic\"", "pass: \"manual\"")
            .replace("warning: \"automatic\"", "warning: \"manual\""),
        QuickstartScenario::Rollback => {
            let rollback = |stage: &str| {
                format!(
                    "        - name: \"rollback\"\n          triggeredOn:\n            - event: \"{stage}.delivery.finished\"\n              selector:\n                match:\n                  result: \"fail\"\n          tasks:\n            - name: \"rollback\"\n"
                )
            };
            let with_qa = SHIPYARD.replacen(
                "    - name: \"production\"\n",
                &format!("{}    - name: \"production\"\n", rollback("qa")),
                1,
            );
            format!("{}{}", with_qa, rollback("production"))
        }
    }
}

/// Follows a context until it settles.
async fn follow(api: &Api, ctx: &str) -> Result<()> {
    let _ = watch(
        api,
        &WatchOptions {
            keptn_context: ctx.to_owned(),
            limit: Some(Duration::from_secs(15 * 60)),
            output: OutputFormat::Table,
        },
    )
    .await?;
    Ok(())
}

/// Waits until the context has an open production approval; returns its `.triggered` event.
async fn open_approval(api: &Api, ctx: &str) -> Result<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10 * 60);
    loop {
        let open = api
            .get(
                "/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered",
                &[
                    ("project", PROJECT.to_owned()),
                    ("stage", "production".to_owned()),
                ],
            )
            .await
            .map_err(|e| anyhow!("cannot list open approvals: {e}"))?;
        if let Some(event) = open["events"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["shkeptncontext"] == ctx)
        {
            return Ok(event.clone());
        }
        if std::time::Instant::now() > deadline {
            bail!("no approval was requested in production within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Sends `approval.finished` for an open approval, as `sluice approve|decline` does.
async fn answer_approval(api: &Api, triggered: &Value, approve: bool) -> Result<()> {
    let data = &triggered["data"];
    let event = json!({
        "specversion": "1.0",
        "type": "sh.keptn.event.approval.finished",
        "source": "https://github.com/keptn/keptn/cli#sh.keptn.event.approval.finished",
        "datacontenttype": "application/json",
        "shkeptncontext": triggered["shkeptncontext"],
        "triggeredid": triggered["id"],
        "data": {"project": data["project"], "stage": data["stage"], "service": data["service"],
                 "labels": data["labels"], "status": "succeeded",
                 "result": if approve { "pass" } else { "fail" }},
    });
    api.post("/api/v1/event", &event)
        .await
        .map_err(|e| anyhow!("cannot send the approval: {e}"))?;
    Ok(())
}

async fn sequence_state(api: &Api, ctx: &str) -> String {
    let states = api
        .get(
            &format!("/api/controlPlane/v1/sequence/{PROJECT}"),
            &[("keptnContext", ctx.to_owned())],
        )
        .await
        .unwrap_or(Value::Null);
    states["states"][0]["state"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

/// Step 2 of the tutorial: production waits for a person; approve once, decline once.
async fn approval_scenario(api: &Api, paint: Painter) -> Result<bool> {
    let mut ok = true;
    println!();
    step(
        paint,
        &format!("sluice trigger delivery --project {PROJECT} --service {SERVICE} --image {GOOD}"),
    );
    let first = trigger(api, GOOD, "v0.1.1").await?;
    let approval = open_approval(api, &first).await?;
    let state = sequence_state(api, &first).await;
    println!("    production asks for approval; the sequence is {state}");
    ok &= expect(
        paint,
        "the delivery waits for a manual approval",
        state == "waitingForApproval",
    );
    step(
        paint,
        &format!("sluice approve --project {PROJECT} --stage production --keptn-context {first}"),
    );
    answer_approval(api, &approval, true).await?;
    follow(api, &first).await?;
    let events = events_of(api, &first).await?;
    ok &= expect(
        paint,
        "approved: v0.1.1 is deployed to production and passes its gate",
        sequence_result(&events, "production").is_some_and(passed),
    );

    println!();
    let next = "ghcr.io/podtato-head/podtatoserver:v0.1.3";
    step(
        paint,
        &format!("sluice trigger delivery --project {PROJECT} --service {SERVICE} --image {next}"),
    );
    let second = trigger(api, next, "v0.1.3").await?;
    let approval = open_approval(api, &second).await?;
    step(
        paint,
        &format!("sluice decline --project {PROJECT} --stage production --keptn-context {second}"),
    );
    answer_approval(api, &approval, false).await?;
    follow(api, &second).await?;
    let events2 = events_of(api, &second).await?;
    ok &= expect(
        paint,
        "declined: production's delivery ends failed",
        sequence_result(&events2, "production").as_deref() == Some("fail"),
    );
    ok &= check_versions(
        api,
        paint,
        &[
            ("qa", "v0.1.3", "qa runs v0.1.3"),
            ("production", "v0.1.1", "production keeps v0.1.1"),
        ],
        &[("qa", &events2), ("production", &events)],
    )
    .await?;
    Ok(ok)
}

/// A failed gate triggers a rollback: production with stricter objectives, then the slow
/// build in qa.
async fn rollback_scenario(api: &Api, paint: Painter) -> Result<bool> {
    let mut ok = true;
    let events = watched_delivery(api, paint, GOOD, "v0.1.1", "").await?;
    ok &= expect(
        paint,
        "v0.1.1 passes both gates",
        sequence_result(&events, "production").is_some_and(passed),
    );

    println!();
    step(
        paint,
        &format!(
            "sluice add-resource --project {PROJECT} --stage production --service {SERVICE} --resource slo-strict.yaml --resourceUri slo.yaml"
        ),
    );
    upload(api, "production", "slo.yaml", STRICT_PRODUCTION_SLO).await?;
    let next = "ghcr.io/podtato-head/podtatoserver:v0.1.3";
    let events2 = delivery_step(api, paint, next, "v0.1.3", "").await?;
    ok &= expect(
        paint,
        "v0.1.3 passes qa",
        sequence_result(&events2, "qa").is_some_and(passed),
    );
    ok &= expect(
        paint,
        "v0.1.3 fails the stricter production gate",
        sequence_result(&events2, "production").as_deref() == Some("fail"),
    );
    ok &= expect(
        paint,
        "production is rolled back automatically",
        rollback_result(&events2, "production").is_some_and(passed),
    );

    println!();
    upload(api, "production", "slo.yaml", LOADTEST_SLO).await?;
    let events3 = delivery_step(api, paint, SLOW, "v0.1.2", "").await?;
    ok &= expect(
        paint,
        "the slow build v0.1.2 fails qa",
        sequence_result(&events3, "qa").as_deref() == Some("fail"),
    );
    ok &= expect(
        paint,
        "qa is rolled back automatically",
        rollback_result(&events3, "qa").is_some_and(passed),
    );

    ok &= check_versions(
        api,
        paint,
        &[
            (
                "qa",
                "v0.1.3",
                "qa runs v0.1.3 again (its last build that passed)",
            ),
            (
                "production",
                "v0.1.1",
                "production runs v0.1.1 again (its last build that passed)",
            ),
        ],
        &[("qa", &events3), ("production", &events2)],
    )
    .await?;
    Ok(ok)
}

fn rollback_result(events: &[KeptnEvent], stage: &str) -> Option<String> {
    let ty = EventType::sequence_finished(stage, "rollback").to_string();
    events
        .iter()
        .rev()
        .find(|e| e.event_type.as_deref() == Some(ty.as_str()))
        .and_then(|e| e.data.as_ref()?.get("result")?.as_str().map(str::to_owned))
}

/// The job-config action of the self-healing scenario: `sluice scale` plays the tutorial's
/// `helm upgrade --set replicaCount=$(REPLICA_COUNT)`.
const SCALE_ACTION: &str = r#"
  - name: "Remediation: scaling locally"
    events:
      - name: "sh.keptn.event.action.triggered"
        jsonpath:
          property: "$.data.action.action"
          match: "scale"
    tasks:
      - name: "Scale"
        env:
          - name: REPLICA_COUNT
            value: "$.data.action.value"
            valueFrom: event
        image: "sluice"
        cmd: ["sluice"]
        args: ["scale", "--project", "$(KEPTN_PROJECT)", "--stage", "$(KEPTN_STAGE)", "--service", "$(KEPTN_SERVICE)", "--replicas", "$(REPLICA_COUNT)", "--finished-data", "/keptn/out/finished-data.json"]
"#;

/// The production remediation sequence of the tutorial's step 5.
const REMEDIATION_SEQUENCE: &str = "        - name: \"remediation\"\n          triggeredOn:\n            - event: \"production.remediation.finished\"\n              selector:\n                match:\n                  evaluation.result: \"fail\"\n          tasks:\n            - name: \"get-action\"\n            - name: \"action\"\n            - name: \"je-test\"\n            - name: \"evaluation\"\n";

const REMEDIATION: &str = include_str!("../../../examples/fulltour/remediation.yaml");
const FAKE_PROBLEM: &str = include_str!("../../../examples/fulltour/remediation_trigger.json");

/// Delivers the good build through both stages; whether it runs in production.
async fn good_build_in_production(api: &Api, paint: Painter) -> Result<bool> {
    let events = watched_delivery(api, paint, GOOD, "v0.1.1", "").await?;
    Ok(expect(
        paint,
        "v0.1.1 runs in production",
        sequence_result(&events, "production").is_some_and(passed),
    ))
}

/// Step 5 of the tutorial: a problem in production opens a remediation that scales the
/// service, load-tests it and evaluates it again.
async fn self_healing_scenario(api: &Api, data_dir: &Path, paint: Painter) -> Result<bool> {
    let mut ok = good_build_in_production(api, paint).await?;

    println!();
    step(
        paint,
        "sluice send event --file remediation_trigger.json   (Keptn's fake problem)",
    );
    let problem: Value =
        serde_json::from_str(FAKE_PROBLEM).context("the bundled remediation_trigger.json")?;
    let answer = api
        .post("/api/v1/event", &problem)
        .await
        .map_err(|e| anyhow!("cannot send the problem: {e}"))?;
    let ctx = crate::client::context_of(&answer)?;
    println!("    ID of Keptn context: {ctx}");
    follow(api, &ctx).await?;
    let events2 = events_of(api, &ctx).await?;
    let finished = |task: &str| {
        events2
            .iter()
            .rev()
            .find(|e| e.event_type.as_deref() == Some(&EventType::task_finished(task).to_string()))
    };
    let chosen = finished("get-action").and_then(|e| {
        e.data
            .as_ref()?
            .pointer("/action/action")?
            .as_str()
            .map(str::to_owned)
    });
    ok &= expect(
        paint,
        "get-action picks the `scale` action of remediation.yaml",
        chosen.as_deref() == Some("scale"),
    );
    let scaled = finished("action")
        .and_then(|e| e.data.as_ref()?.get("result")?.as_str().map(str::to_owned));
    ok &= expect(
        paint,
        "the action scales helloservice in production",
        scaled.as_deref() == Some("pass"),
    );
    ok &= expect(
        paint,
        "the evaluation after it measures the effect",
        finished("evaluation").is_some(),
    );
    let deployments =
        sluice_deploy::Deployments::open(data_dir.join("deployments"), std::env::current_exe()?)?;
    let running = deployments
        .status()?
        .into_iter()
        .find(|d| d.stage == "production" && d.service == SERVICE)
        .map(|d| d.running)
        .unwrap_or(0);
    ok &= expect(
        paint,
        &format!("production runs 2 instances (it runs {running})"),
        running == 2,
    );
    Ok(ok)
}

/// Step 5 with a real alert: the slow build reaches production, load makes Prometheus' rule
/// (derived from the SLO) fire, Alertmanager calls sluice's webhook, and the remediation scales
/// helloservice, load-tests and evaluates again until the actions run out.
async fn self_healing_from_alerts(
    api: &Api,
    data_dir: &Path,
    paint: Painter,
    rules_file: &Path,
    prometheus: &str,
) -> Result<bool> {
    let mut ok = good_build_in_production(api, paint).await?;

    println!();
    step(
        paint,
        &format!(
            "sluice trigger delivery --project {PROJECT} --service {SERVICE} --stage production --image {SLOW}   (a hotfix straight to production)"
        ),
    );
    let hotfix = trigger_in(api, "production", SLOW, "v0.1.2").await?;
    let approval = open_approval(api, &hotfix).await?;
    step(
        paint,
        &format!("sluice approve --project {PROJECT} --stage production --keptn-context {hotfix}"),
    );
    answer_approval(api, &approval, true).await?;
    follow(api, &hotfix).await?;

    println!();
    step(
        paint,
        &format!(
            "sluice configure monitoring prometheus --project {PROJECT} --service {SERVICE} --alerting-rules {}",
            rules_file.display()
        ),
    );
    let rules = api
        .get_text(
            &format!("/api/sluice/v1/project/{PROJECT}/alerting-rules"),
            &[
                ("service", SERVICE.to_owned()),
                ("for", "5s".to_owned()),
                ("window", "15s".to_owned()),
            ],
        )
        .await
        .map_err(|e| anyhow!("cannot get the alerting rules: {e}"))?;
    if let Some(parent) = rules_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(rules_file, rules)
        .with_context(|| format!("cannot write {}", rules_file.display()))?;
    let reload = reqwest::Client::new()
        .post(format!("{}/-/reload", prometheus.trim_end_matches('/')))
        .send()
        .await
        .map_err(|e| anyhow!("cannot reload Prometheus: {e}"))?;
    if !reload.status().is_success() {
        bail!(
            "Prometheus refused to reload its rules ({}); start it with --web.enable-lifecycle",
            reload.status()
        );
    }
    println!("    Prometheus reloaded; the rules fire after 5s of responses slower than 0.4s");

    // Production traffic: load on the stage's address until the remediation has run.
    let deployments =
        sluice_deploy::Deployments::open(data_dir.join("deployments"), std::env::current_exe()?)?;
    let url = deployments
        .status()?
        .into_iter()
        .find(|d| d.stage == "production" && d.service == SERVICE)
        .map(|d| d.url)
        .ok_or_else(|| anyhow!("production has no deployment"))?;
    let mut load = sluice_load::LoadConfig::new(url);
    load.users = 4;
    load.duration = Some(Duration::from_secs(240));
    let traffic = tokio::spawn(sluice_load::run(load));
    println!("    production traffic: 4 users against the slow build");

    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let ctx = loop {
        let found = api
            .get(
                "/api/mongodb-datastore/event",
                &[
                    ("project", PROJECT.to_owned()),
                    (
                        "type",
                        "sh.keptn.event.production.remediation.triggered".to_owned(),
                    ),
                    ("source", "prometheus".to_owned()),
                ],
            )
            .await
            .map_err(|e| anyhow!("cannot read events: {e}"))?;
        if let Some(ctx) = found["events"][0]["shkeptncontext"].as_str() {
            break ctx.to_owned();
        }
        if std::time::Instant::now() > deadline {
            traffic.abort();
            bail!(
                "no alert reached sluice within 3 minutes (check Prometheus' rules and Alertmanager's webhook)"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("    Alertmanager called the webhook: remediation context {ctx}");
    follow(api, &ctx).await?;
    traffic.abort();
    let remediation = events_of(api, &ctx).await?;
    let count = |ty: &str| {
        remediation
            .iter()
            .filter(|e| e.event_type.as_deref() == Some(ty))
            .count()
    };
    let get_action_results: Vec<(Option<String>, Option<String>)> = remediation
        .iter()
        .filter(|e| e.event_type.as_deref() == Some("sh.keptn.event.get-action.finished"))
        .map(|e| {
            let d = e.data.as_ref();
            (
                d.and_then(|d| d.pointer("/action/action")?.as_str().map(str::to_owned)),
                d.and_then(|d| d.get("result")?.as_str().map(str::to_owned)),
            )
        })
        .collect();
    let chosen = get_action_results.iter().find_map(|(a, _)| a.clone());
    ok &= expect(
        paint,
        "the alert opened a remediation that chose `scale`",
        chosen.as_deref() == Some("scale"),
    );
    ok &= expect(
        paint,
        "the evaluation after scaling was recorded",
        count("sh.keptn.event.evaluation.finished") >= 1,
    );
    let running = deployments
        .status()?
        .into_iter()
        .find(|d| d.stage == "production" && d.service == SERVICE)
        .map(|d| d.running)
        .unwrap_or(0);
    ok &= expect(
        paint,
        &format!("production was scaled to 2 instances (it runs {running})"),
        running == 2,
    );
    ok &= expect(
        paint,
        "scaling does not fix a slow build: the remediation escalated and ended when no action was left",
        count("sh.keptn.event.production.remediation.triggered") >= 2
            && get_action_results
                .iter()
                .any(|(_, r)| r.as_deref() == Some("fail")),
    );
    Ok(ok)
}

/// [`delivery_step`] after a blank line.
async fn watched_delivery(
    api: &Api,
    paint: Painter,
    image: &str,
    version: &str,
    note: &str,
) -> Result<Vec<KeptnEvent>> {
    println!();
    delivery_step(api, paint, image, version, note).await
}

/// Shows `sluice trigger delivery ... --watch` for `image` (with `note` after the command),
/// delivers it into qa and answers the delivery's events once it settled.
async fn delivery_step(
    api: &Api,
    paint: Painter,
    image: &str,
    version: &str,
    note: &str,
) -> Result<Vec<KeptnEvent>> {
    step(
        paint,
        &format!(
            "sluice trigger delivery --project {PROJECT} --service {SERVICE} --image {image} --watch{note}"
        ),
    );
    let ctx = deliver(api, image, version).await?;
    events_of(api, &ctx).await
}

/// Triggers a delivery of `image` into qa and follows it until it settles.
async fn deliver(api: &Api, image: &str, version: &str) -> Result<String> {
    let ctx = trigger(api, image, version).await?;
    follow(api, &ctx).await?;
    Ok(ctx)
}

/// Triggers a delivery into qa and returns its context without waiting.
async fn trigger(api: &Api, image: &str, version: &str) -> Result<String> {
    trigger_in(api, "qa", image, version).await
}

/// Triggers a delivery in a given stage (`trigger delivery --stage`).
async fn trigger_in(api: &Api, stage: &str, image: &str, version: &str) -> Result<String> {
    let delivery = Delivery {
        project: PROJECT.into(),
        stage: stage.into(),
        service: SERVICE.into(),
        sequence: "delivery".into(),
        image: image.into(),
        labels: BTreeMap::from([("version".to_owned(), version.to_owned())]),
        values: serde_json::Map::new(),
    };
    let id = crate::client::new_uuid();
    let event = delivery_event(&delivery, &id);
    let answer = api
        .post(
            "/api/v1/event",
            &event.to_value(sluice_model::event::ContentTypeKey::DataContentType),
        )
        .await
        .map_err(|e| anyhow!("cannot trigger the delivery: {e}"))?;
    let ctx = crate::client::context_of(&answer)?;
    println!("    ID of Keptn context: {ctx}");
    Ok(ctx)
}

/// The qa `evaluation.finished` event of a delivery's context.
fn qa_evaluation(events: &[KeptnEvent]) -> Option<&KeptnEvent> {
    events.iter().rev().find(|e| {
        e.event_type.as_deref() == Some(sluice_model::event::kind::EVALUATION_FINISHED)
            && e.data.as_ref().and_then(|d| d.get("stage")?.as_str()) == Some("qa")
    })
}

/// Prints an evaluation's objectives as the explanation API gives them, with a statistical
/// criterion's numbers; returns the explanation.
async fn print_evaluation(api: &Api, id: &str) -> Result<Value> {
    let answer = call(
        api,
        "GET",
        &format!("/api/sluice/v1/evaluation/{id}"),
        &Value::Null,
    )
    .await?;
    let e = &answer["explanation"];
    let num = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or_else(|| "-".to_owned(), |x| format!("{x:.digits$}"))
    };
    for o in e["objectives"].as_array().into_iter().flatten() {
        let name = o["name"].as_str().unwrap_or("");
        let status = o["status"].as_str().unwrap_or("");
        match o.get("statistical").filter(|s| !s.is_null()) {
            Some(st) if st["compared"] == true => {
                println!(
                    "    {name:<32} {status:<8} current n={} median={} ms, baseline n={} median={} ms, mean ratio {}, p = {}",
                    st["current"]["count"],
                    num(&st["current"]["median"], 2),
                    st["baseline"]["count"],
                    num(&st["baseline"]["median"], 2),
                    num(&st["effect"], 2),
                    st["pValue"]
                        .as_f64()
                        .map_or_else(|| "-".to_owned(), |p| format!("{p:.2e}")),
                );
                println!("    {:<41} {}", "", st["reason"].as_str().unwrap_or(""));
            }
            Some(st) => println!(
                "    {name:<32} {status:<8} {}",
                st["reason"].as_str().unwrap_or("")
            ),
            None => println!("    {name:<32} {status:<8} value {}", num(&o["value"], 3)),
        }
    }
    println!(
        "    score {} % → {}",
        num(&e["score"], 1),
        e["result"].as_str().unwrap_or("")
    );
    Ok(e.clone())
}

/// Whether every objective without a statistical criterion passed (what Keptn's criteria alone
/// decide).
fn keptn_criteria_pass(explanation: &Value) -> bool {
    explanation["objectives"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o.get("statistical").is_none_or(Value::is_null))
        .all(|o| o["status"] == "pass")
}

/// The statistical criterion's row of an explanation, if it compared samples.
fn statistical_row(explanation: &Value) -> Option<&Value> {
    explanation["objectives"]
        .as_array()?
        .iter()
        .filter_map(|o| o.get("statistical"))
        .find(|s| !s.is_null())
}

/// A pinned baseline and a statistical criterion: a steady build is pinned, the same build
/// passes against it, and a build whose regression is only a slow tail on one request in
/// twelve fails statistically while Keptn's single-value criteria pass.
async fn canary_statistics_scenario(api: &Api, paint: Painter) -> Result<bool> {
    let mut ok = true;
    let events = watched_delivery(api, paint, STEADY, "v0.2.0", "").await?;
    ok &= expect(
        paint,
        "the steady build v0.2.0 passes the qa gate (no baseline pinned yet: the statistical criterion is not checked)",
        sequence_result(&events, "qa").is_some_and(passed),
    );
    let Some(baseline) = qa_evaluation(&events).and_then(|e| e.id.clone()) else {
        bail!("the delivery of v0.2.0 has no qa evaluation");
    };
    step(
        paint,
        &format!("sluice baseline set --evaluation {baseline}"),
    );
    api.call(
        reqwest::Method::PUT,
        &format!("/api/sluice/v1/project/{PROJECT}/stage/qa/service/{SERVICE}/baseline"),
        &[],
        Some(&json!({"evaluationId": baseline})),
    )
    .await
    .map_err(|e| anyhow!("cannot pin the baseline: {e}"))?;

    let events_again =
        watched_delivery(api, paint, STEADY, "v0.2.0", "   (the same build again)").await?;
    if let Some(id) = qa_evaluation(&events_again).and_then(|e| e.id.clone()) {
        print_evaluation(api, &id).await?;
    }
    ok &= expect(
        paint,
        "the same build passes against the pinned baseline",
        sequence_result(&events_again, "qa").is_some_and(passed),
    );

    let events_tail = watched_delivery(
        api,
        paint,
        TAIL,
        "v0.2.1",
        "   (one request in twelve 250 ms slower)",
    )
    .await?;
    let Some(id) = qa_evaluation(&events_tail).and_then(|e| e.id.clone()) else {
        bail!("the delivery of v0.2.1 has no qa evaluation");
    };
    let explanation = print_evaluation(api, &id).await?;
    ok &= expect(
        paint,
        "Keptn's criteria alone (mean response time, error rate) pass for v0.2.1",
        keptn_criteria_pass(&explanation),
    );
    let stat = statistical_row(&explanation);
    ok &= expect(
        paint,
        "the response-time distribution of v0.2.1 differs significantly from the baseline's (Mann-Whitney)",
        stat.is_some_and(|s| s["compared"] == true && s["passed"] == false),
    );
    ok &= expect(
        paint,
        "so v0.2.1 fails the qa quality gate against the pinned baseline",
        sequence_result(&events_tail, "qa").as_deref() == Some("fail"),
    );
    println!(
        "    Why: Keptn's criteria see one number each; the slow tail leaves the median where it was\n    and the mean well inside 100 ms. The statistical criterion compares every response time\n    with the pinned baseline's: the shift is significant and the mean ratio beyond 1.2. The\n    same build passed above although its shift was significant too: within the effect size.\n    The web UI's evaluation page charts both distributions."
    );
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_statistics_files_are_valid_and_qa_only() {
        let shipyard = scenario_shipyard(QuickstartScenario::CanaryStatistics);
        let parsed = sluice_model::shipyard::parse(&shipyard);
        assert!(!parsed.diagnostics.has_errors(), "{shipyard}");
        let stages: Vec<String> = parsed
            .value
            .unwrap()
            .stages
            .iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(stages, ["qa"]);
        let slo = sluice_model::slo::parse(CANARY_SLO);
        assert!(slo.diagnostics.is_empty(), "{:?}", slo.diagnostics);
        let slo = slo.value.unwrap();
        assert_eq!(
            slo.comparison.compare_with,
            sluice_model::slo::CompareWith::Baseline
        );
        assert!(
            slo.objectives
                .iter()
                .any(|o| o.statistical.is_some() && o.key_sli)
        );
    }

    #[test]
    fn keptn_criteria_and_the_statistical_row_are_read_from_the_explanation() {
        let x = json!({"objectives": [
            {"name": "mean", "status": "pass", "statistical": null},
            {"name": "errors", "status": "pass"},
            {"name": "rt", "status": "fail", "statistical": {"compared": true, "passed": false}}
        ]});
        assert!(keptn_criteria_pass(&x));
        assert_eq!(statistical_row(&x).unwrap()["passed"], false);
        let worse = json!({"objectives": [{"name": "mean", "status": "warning"}]});
        assert!(!keptn_criteria_pass(&worse));
        assert!(statistical_row(&worse).is_none());
    }

    #[test]
    fn the_embedded_server_may_reach_exactly_the_prometheus_it_was_given() {
        let loopback = "127.0.0.1".parse().unwrap();
        let o = prometheus_outbound(Some("http://127.0.0.1:19090")).unwrap();
        assert!(o.allows_literal(loopback, 19090));
        assert!(!o.allows_literal(loopback, 9090));
        assert!(!o.allows_addr(loopback));
        let o = prometheus_outbound(Some("http://prometheus.internal")).unwrap();
        assert!(o.allows_name("prometheus.internal", 80));
        assert!(prometheus_outbound(None).unwrap().is_public_only());
        assert!(prometheus_outbound(Some("not a url")).is_err());
    }
}
