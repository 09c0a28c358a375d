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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_model::event::KeptnEvent;
use sluice_server::ServerConfig;

use crate::cli::OutputFormat;
use crate::cli::{QuickstartArgs, QuickstartLoad, QuickstartMonitoring};
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
const PROMETHEUS_SLI: &str = include_str!("../../../examples/fulltour/prometheus/sli.yaml");
const LOCUST_FILE: &str = include_str!("../../../examples/fulltour/locust/basic.py");

/// How the tour's tasks are timed.
struct Timing {
    /// Length of each load test.
    load: &'static str,
    /// Fixed evaluation timeframe (the tutorial's), or `None` for the load test's own window.
    timeframe: Option<&'static str>,
}

/// Runs the tour; returns the exit code.
pub fn run(args: &QuickstartArgs) -> Result<i32> {
    let paint = Painter::for_stdout(crate::cli::ColorChoice::Auto);
    let data_dir = prepare_data_dir(args.data_dir.as_deref())?;
    if args.monitoring == QuickstartMonitoring::Prometheus && args.prometheus_url.is_none() {
        bail!("--monitoring prometheus needs --prometheus-url (for example http://127.0.0.1:9090)");
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
    let (token, _) = sluice_server::auth::ApiToken::load_or_create(&data_dir, None)
        .map_err(|e| anyhow!("{e}"))?;
    let token = token.reveal().to_owned();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        data_dir: data_dir.clone(),
        listen: "127.0.0.1:0".parse().expect("valid address"),
        token_from_env: None,
        job_allowed_commands: Some("sluice,locust".to_owned()),
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
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
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

async fn add_resource(api: &Api, stage: &str, uri: &str, content: &str) -> Result<()> {
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
    let shipyard = match timing.timeframe {
        None => SHIPYARD.to_owned(),
        Some(tf) => SHIPYARD.replace(
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

    let job_config = match args.load {
        QuickstartLoad::Sluice => JOB_CONFIG.replace(
            "\"--duration\", \"15s\"",
            &format!("\"--duration\", \"{}\"", timing.load),
        ),
        QuickstartLoad::Locust => locust_job_config(timing.load),
    };
    let (slo, provider) = match args.monitoring {
        QuickstartMonitoring::Loadtest => (LOADTEST_SLO, "loadtest"),
        QuickstartMonitoring::Prometheus => (TUTORIAL_SLO, "prometheus"),
    };
    for stage in ["qa", "production"] {
        step(
            paint,
            &format!(
                "sluice add-resource --project {PROJECT} --stage {stage} --service {SERVICE} --resource slo.yaml"
            ),
        );
        add_resource(api, stage, "slo.yaml", slo).await?;
        step(
            paint,
            &format!(
                "sluice add-resource --project {PROJECT} --stage {stage} --service {SERVICE} --resource job/config.yaml"
            ),
        );
        add_resource(api, stage, "job/config.yaml", &job_config).await?;
        if args.monitoring == QuickstartMonitoring::Prometheus {
            step(
                paint,
                &format!(
                    "sluice add-resource --project {PROJECT} --stage {stage} --service {SERVICE} --resource prometheus/sli.yaml"
                ),
            );
            add_resource(api, stage, "prometheus/sli.yaml", PROMETHEUS_SLI).await?;
        }
        if args.load == QuickstartLoad::Locust {
            step(
                paint,
                &format!(
                    "sluice add-resource --project {PROJECT} --stage {stage} --service {SERVICE} --resource locust/basic.py"
                ),
            );
            add_resource(api, stage, "locust/basic.py", LOCUST_FILE).await?;
        }
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

    let mut ok = true;
    println!();
    step(
        paint,
        &format!(
            "sluice trigger delivery --project {PROJECT} --service {SERVICE} --image {GOOD} --watch"
        ),
    );
    let first = deliver(api, GOOD, "v0.1.1").await?;
    let events = events_of(api, &first).await?;
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

    println!();
    step(
        paint,
        &format!(
            "sluice trigger delivery --project {PROJECT} --service {SERVICE} --image {SLOW} --watch"
        ),
    );
    let second = deliver(api, SLOW, "v0.1.2").await?;
    let events2 = events_of(api, &second).await?;
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

    let project = call(
        api,
        "GET",
        &format!("/api/controlPlane/v1/project/{PROJECT}"),
        &Value::Null,
    )
    .await?;
    let deployed = deployed_images(&project);
    ok &= expect(
        paint,
        "qa runs v0.1.2",
        deployed.get("qa").is_some_and(|i| i.ends_with("v0.1.2")),
    );
    ok &= expect(
        paint,
        "production keeps v0.1.1",
        deployed
            .get("production")
            .is_some_and(|i| i.ends_with("v0.1.1")),
    );

    println!();
    summary(
        paint,
        &deployed,
        &[("qa", &events2), ("production", &events)],
    );
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

async fn deliver(api: &Api, image: &str, version: &str) -> Result<String> {
    let delivery = Delivery {
        project: PROJECT.into(),
        stage: "qa".into(),
        service: SERVICE.into(),
        sequence: "delivery".into(),
        image: image.into(),
        labels: BTreeMap::from([("version".to_owned(), version.to_owned())]),
        values: serde_json::Map::new(),
    };
    let id = crate::client::new_uuid()?;
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
    let _ = watch(
        api,
        &WatchOptions {
            keptn_context: ctx.clone(),
            limit: Some(Duration::from_secs(15 * 60)),
            output: OutputFormat::Table,
        },
    )
    .await?;
    Ok(ctx)
}

async fn events_of(api: &Api, ctx: &str) -> Result<Vec<KeptnEvent>> {
    crate::client::watch::fetch_context_events(api, ctx).await
}

fn sequence_result(events: &[KeptnEvent], stage: &str) -> Option<String> {
    let ty = format!("sh.keptn.event.{stage}.delivery.finished");
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
