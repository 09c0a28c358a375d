//! `sluice deploy`, `rollback`, `scale` and `sluice deployments status|stop|supervise`: local deployments of the
//! example service, the stand-in for the tutorial's helm commands (see the `sluice-deploy` crate).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sluice_deploy::{
    DeployError, DeployOutcome, DeployRequest, DeploymentId, Deployments, RollbackRequest,
    ScaleRequest, Selector, SuperviseOptions,
};
use sluice_model::duration::GoDuration;

use crate::cli::{
    DeployArgs, DeploymentTarget, DeploymentsDirArg, DeploymentsStatusArgs, DeploymentsStopArgs,
    RollbackArgs, ScaleArgs,
};
use crate::client::output::{Table, print};

fn wait_timeout(text: &str) -> Result<Duration> {
    let d = GoDuration::parse(text)
        .map_err(|e| anyhow!("--wait-timeout {text:?}: {e} (write it like 30s or 2m)"))?;
    if d.is_negative() || d.as_nanos() == 0 {
        bail!("--wait-timeout must be longer than zero");
    }
    Ok(d.to_std())
}

fn open(dir: &DeploymentsDirArg) -> Result<Deployments> {
    let exe = std::env::current_exe().context("cannot find the sluice executable")?;
    Ok(Deployments::open(&dir.deployments_dir, exe)?)
}

fn target(t: &DeploymentTarget) -> Result<(Deployments, DeploymentId)> {
    Ok((
        open(&t.dir)?,
        DeploymentId::new(&t.project, &t.stage, &t.service)?,
    ))
}

/// Prints the outcome, writes the finished data and starts the supervisor; exit code 0, or 1 when the new
/// version did not become ready (the error is printed, like a failed `helm --wait`).
fn finish(
    deployments: &Deployments,
    verb: &str,
    outcome: Result<DeployOutcome, DeployError>,
    finished_data: Option<&Path>,
) -> Result<i32> {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e @ DeployError::NotReady(_)) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(file) = finished_data {
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let text = serde_json::to_string_pretty(&outcome.finished_data())?;
        std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let previous = match &outcome.previous_image {
        Some(p) if *p != outcome.image => format!(", was {p}"),
        _ => String::new(),
    };
    println!(
        "{verb} {}: {} ({}) revision {}, {} instance(s) on {}{previous}",
        outcome.id,
        outcome.image,
        if outcome.version.is_empty() {
            "?"
        } else {
            &outcome.version
        },
        outcome.revision,
        outcome.instances.len(),
        outcome.url,
    );
    if outcome.started > 0 || !outcome.stopped.is_empty() {
        println!(
            "  started {}, stopped {} old instance(s)",
            outcome.started,
            outcome.stopped.len()
        );
    }
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    match deployments.ensure_supervisor() {
        Ok(Some(pid)) => println!("  supervisor started (pid {pid})"),
        Ok(None) => {}
        Err(e) => eprintln!("warning: dead instances will not be restarted: {e}"),
    }
    Ok(0)
}

/// `sluice deploy`.
pub fn deploy(args: &DeployArgs) -> Result<i32> {
    let (deployments, id) = target(&args.target)?;
    let request = DeployRequest {
        id,
        image: args.image.clone(),
        replicas: args.replicas,
        wait_timeout: wait_timeout(&args.wait_timeout)?,
    };
    let outcome = deployments.deploy(&request);
    finish(
        &deployments,
        "deployed",
        outcome,
        args.finished_data.as_deref(),
    )
}

/// `sluice rollback`.
pub fn rollback(args: &RollbackArgs) -> Result<i32> {
    let (deployments, id) = target(&args.target)?;
    let request = RollbackRequest {
        id,
        to_revision: args.to_revision,
        wait_timeout: wait_timeout(&args.wait_timeout)?,
    };
    let outcome = deployments.rollback(&request);
    finish(
        &deployments,
        "rolled back",
        outcome,
        args.finished_data.as_deref(),
    )
}

/// `sluice scale`.
pub fn scale(args: &ScaleArgs) -> Result<i32> {
    let (deployments, id) = target(&args.target)?;
    let request = ScaleRequest {
        id,
        replicas: args.replicas,
        wait_timeout: wait_timeout(&args.wait_timeout)?,
    };
    let outcome = deployments.scale(&request);
    finish(
        &deployments,
        "scaled",
        outcome,
        args.finished_data.as_deref(),
    )
}

/// `sluice deployments status`.
pub fn status(args: &DeploymentsStatusArgs) -> Result<i32> {
    let deployments = open(&args.dir)?;
    let rows = deployments.status()?;
    let value = serde_json::to_value(&rows)?;
    print(args.output, &value, || {
        let mut table = Table::new(&[
            "PROJECT", "STAGE", "SERVICE", "IMAGE", "VERSION", "REPLICAS", "ADDRESS", "REVISION",
        ]);
        for row in &rows {
            let dead = row.instances.len() - row.running;
            let replicas = if dead > 0 {
                format!("{}/{} ({dead} dead)", row.running, row.replicas)
            } else {
                format!("{}/{}", row.running, row.replicas)
            };
            table.row(vec![
                row.project.clone(),
                row.stage.clone(),
                row.service.clone(),
                row.image.clone(),
                row.version.clone(),
                replicas,
                row.url.clone(),
                row.revision.to_string(),
            ]);
        }
        table
    });
    Ok(0)
}

/// `sluice deployments stop`.
pub fn stop(args: &DeploymentsStopArgs) -> Result<i32> {
    let deployments = open(&args.dir)?;
    let reports = if args.all {
        deployments.stop_all()?
    } else {
        deployments.stop(&Selector {
            project: args.project.clone(),
            stage: args.stage.clone(),
            service: args.service.clone(),
        })?
    };
    let mut code = 0;
    for report in &reports {
        println!(
            "stopped {}: {} instance(s)",
            report.deployment, report.stopped
        );
        for warning in &report.warnings {
            eprintln!("error: {warning}");
            code = 1;
        }
    }
    if reports.is_empty() {
        println!("no deployments matched");
    }
    Ok(code)
}

/// `sluice deployments supervise`: runs until the deployments directory disappears or it is terminated.
pub fn supervise(args: &DeploymentsDirArg) -> Result<i32> {
    let deployments = open(args)?;
    let started = deployments.supervise(&SuperviseOptions::default(), |line| {
        let now = sluice_deploy::state::rfc3339_utc(std::time::SystemTime::now());
        println!("{now} {line}");
    })?;
    if !started {
        println!("another supervisor already runs for this directory");
    }
    Ok(0)
}
