//! `sluice load`: an HTTP load test with accurate latency percentiles, a live progress line, a
//! summary table and a JSON summary that the `loadtest` SLI provider reads.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluice_load::{LoadConfig, LoadSummary, Progress};
use sluice_model::duration::GoDuration;

use crate::cli::{EvaluateFormat, LoadArgs};

fn duration(flag: &str, text: &str) -> Result<Duration> {
    let d = GoDuration::parse(text)
        .map_err(|e| anyhow!("--{flag} {text:?}: {e} (write it like 30s or 2m)"))?;
    if d.is_negative() || d.as_nanos() == 0 {
        bail!("--{flag} must be longer than zero");
    }
    Ok(d.to_std())
}

/// Runs the command and returns the exit code.
pub fn run(args: &LoadArgs) -> Result<i32> {
    if !(0.0..=1.0).contains(&args.max_failure_rate) {
        bail!(
            "--max-failure-rate must be between 0 and 1, got {}",
            args.max_failure_rate
        );
    }
    let summary = match &args.from_locust {
        Some(prefix) => sluice_load::read_locust_csv(prefix).with_context(|| {
            format!(
                "cannot read Locust's CSV output {}_stats.csv",
                prefix.display()
            )
        })?,
        None => generate(args)?,
    };
    if let Some(out) = &args.out {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(out, summary.to_json())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    match args.output {
        EvaluateFormat::Json => println!("{}", summary.to_json()),
        EvaluateFormat::Text => print!("{}", table(&summary)),
    }
    let rate = summary.error_rate();
    if rate > args.max_failure_rate {
        eprintln!(
            "error: {:.1}% of requests failed, more than the allowed {:.1}%",
            rate * 100.0,
            args.max_failure_rate * 100.0
        );
        return Ok(1);
    }
    Ok(0)
}

fn generate(args: &LoadArgs) -> Result<LoadSummary> {
    let url = args
        .url
        .clone()
        .ok_or_else(|| anyhow!("--url is required"))?;
    let mut config = LoadConfig::new(url);
    config.paths = args.paths.clone();
    config.users = args.users.max(1);
    config.duration = if args.requests.is_some() {
        None
    } else {
        Some(duration("duration", &args.duration)?)
    };
    config.requests = args.requests;
    config.rate = args.rate;
    config.timeout = duration("timeout", &args.timeout)?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        Some(bar)
    } else {
        None
    };
    if let Some(bar) = bar.clone() {
        config.progress = Some(Arc::new(move |p: &Progress| {
            bar.set_message(format!(
                "{:>5.1}s  {} requests  {} failed  {:.0}/s",
                p.elapsed.as_secs_f64(),
                p.requests,
                p.failures,
                p.current_per_second
            ));
            bar.tick();
        }));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime
        .block_on(sluice_load::run(config))
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(summary)
}

fn table(s: &LoadSummary) -> String {
    let mut out = format!(
        "{} requests to {} in {:.1}s: {:.1}/s, {} failed ({:.2}%)\n",
        s.requests,
        s.url,
        s.duration_seconds,
        s.throughput_per_second,
        s.failures,
        s.error_rate() * 100.0
    );
    if let Some(l) = &s.latency_ms {
        out.push_str("  latency ms   min      p50      p90      p95      p99      max      mean\n");
        out.push_str(&format!(
            "             {:<8.2} {:<8.2} {:<8.2} {:<8.2} {:<8.2} {:<8.2} {:.2}\n",
            l.min, l.p50, l.p90, l.p95, l.p99, l.max, l.mean
        ));
    }
    for (reason, n) in &s.failures_by_reason {
        out.push_str(&format!("  failed: {reason}: {n}\n"));
    }
    out
}
