//! `sluice bench`: the performance suite. Every figure of the list is measured on this
//! machine against a throw-away data directory and printed as one line (name, value, unit,
//! target, ok/short) beside a reference measured in the same run, then written to a JSON file.
//!
//! One module per group of figures: `control_plane` (overhead, throughput), `ingestion`,
//! `history` (bulk-loaded store, start-up, queries, memory; also the idle server),
//! `evaluation`, `cluster` (replicas on PostgreSQL, failover); `servers` runs the servers they
//! measure, `figure` prints and serialises.
//! A benchmark is a measurement, not a test: short figures do not change the exit code, only
//! a benchmark that could not run does.

mod cluster;
mod control_plane;
mod evaluation;
mod figure;
mod history;
mod ingestion;
mod machine;
mod servers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cli::{BenchArgs, BenchChild, BenchGroup};
use figure::Figure;

/// How much work each benchmark does.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizes {
    /// Sequences measured one after the other for the overhead (each has three tasks).
    pub overhead_runs: usize,
    /// Concurrent sequences of the throughput figure.
    pub sequences: usize,
    /// Single-row inserts of the throughput reference.
    pub reference_inserts: usize,
    /// Rows of the batched-insert reference (in transactions of 256).
    pub reference_batched_inserts: usize,
    /// How long each ingestion run lasts.
    pub ingestion: Duration,
    /// Events in the history store (ten per context).
    pub history_events: usize,
    /// Queries of each kind against the history.
    pub history_queries: usize,
    /// Timed evaluations.
    pub evaluations: usize,
    /// Concurrent sequences of each cluster throughput figure.
    pub cluster_sequences: usize,
    /// Leaders killed for the failover figures.
    pub failover_kills: usize,
}

impl Sizes {
    /// The sizes.
    pub fn full() -> Sizes {
        Sizes {
            overhead_runs: 200,
            sequences: 1_000,
            reference_inserts: 5_000,
            reference_batched_inserts: 100_000,
            ingestion: Duration::from_secs(5),
            history_events: 1_000_000,
            history_queries: 500,
            evaluations: 500,
            cluster_sequences: 300,
            failover_kills: 5,
        }
    }

    /// Small sizes that keep every benchmark working (CI).
    pub fn quick() -> Sizes {
        Sizes {
            overhead_runs: 20,
            sequences: 50,
            reference_inserts: 500,
            reference_batched_inserts: 5_000,
            ingestion: Duration::from_secs(1),
            history_events: 20_000,
            history_queries: 50,
            evaluations: 20,
            cluster_sequences: 20,
            failover_kills: 2,
        }
    }
}

/// The groups in the order they run.
const GROUPS: [BenchGroup; 8] = [
    BenchGroup::Evaluation,
    BenchGroup::Idle,
    BenchGroup::Overhead,
    BenchGroup::Throughput,
    BenchGroup::Ingestion,
    BenchGroup::History,
    BenchGroup::Binary,
    BenchGroup::Cluster,
];

fn group_name(g: BenchGroup) -> &'static str {
    match g {
        BenchGroup::Overhead => "overhead",
        BenchGroup::Throughput => "throughput",
        BenchGroup::Ingestion => "ingestion",
        BenchGroup::History => "history",
        BenchGroup::Evaluation => "evaluation",
        BenchGroup::Idle => "idle",
        BenchGroup::Binary => "binary",
        BenchGroup::Cluster => "cluster",
    }
}

/// The data directory of the run: removed at the end unless the user gave it.
struct DataDir {
    path: PathBuf,
    keep: bool,
}

impl DataDir {
    fn new(given: Option<&Path>) -> Result<DataDir> {
        let (path, keep) = match given {
            Some(p) => (p.to_path_buf(), true),
            None => (
                std::env::temp_dir().join(format!(
                    "sluice-bench-{}-{}",
                    std::process::id(),
                    sluice_server::runtime::ids::fresh()
                )),
                false,
            ),
        };
        if path.exists()
            && std::fs::read_dir(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .next()
                .is_some()
        {
            bail!(
                "the data directory {} is not empty; give a new or empty one",
                path.display()
            );
        }
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(DataDir { path, keep })
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Where the JSON goes by default: `target/` when run from a checkout, else here.
fn default_json() -> PathBuf {
    if Path::new("target").is_dir() {
        PathBuf::from("target/sluice-bench.json")
    } else {
        PathBuf::from("sluice-bench.json")
    }
}

/// Runs one group; returns its figures.
async fn run_group(
    group: BenchGroup,
    dir: &Path,
    sizes: &Sizes,
    pg: Option<&str>,
) -> Result<Vec<Figure>> {
    crate::client::http::install_crypto_provider();
    let http = reqwest::Client::new();
    let dir = dir.join(group_name(group));
    match group {
        BenchGroup::Overhead => control_plane::overhead(&dir, sizes, http).await,
        BenchGroup::Throughput => control_plane::throughput(&dir, sizes, http).await,
        BenchGroup::Ingestion => ingestion::ingestion(&dir, sizes, http).await,
        BenchGroup::History => history::history(&dir, sizes, http).await,
        BenchGroup::Idle => history::idle(&dir, http).await,
        BenchGroup::Evaluation => evaluation::evaluation(sizes),
        BenchGroup::Binary => binary_size(),
        BenchGroup::Cluster => cluster::cluster(&dir, sizes, pg, http).await,
    }
}

/// `binary_size`: the file of this program (its build profile is on the machine line).
fn binary_size() -> Result<Vec<Figure>> {
    let exe = std::env::current_exe().context("cannot find this program's file")?;
    let bytes = std::fs::metadata(&exe)
        .with_context(|| format!("cannot read {}", exe.display()))?
        .len();
    Ok(vec![Figure::new(
        "binary_size",
        bytes as f64 / (1024.0 * 1024.0),
        "MiB",
        None,
    )])
}

/// Runs the command; returns the exit code.
pub fn run(args: &BenchArgs) -> Result<i32> {
    if let Some(child) = args.child {
        return match child {
            BenchChild::EvaluationMemory => evaluation::child_peak_memory(),
        };
    }
    let sizes = if args.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    let json_path = args.json.clone().unwrap_or_else(default_json);
    let data = DataDir::new(args.data_dir.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    println!("{}", machine::Machine::here().line());
    println!(
        "mode: {} (data in {}{})",
        if args.quick { "quick" } else { "full" },
        data.path.display(),
        if data.keep {
            ""
        } else {
            ", removed at the end"
        }
    );
    let mut figures: Vec<Figure> = Vec::new();
    let mut failed = Vec::new();
    for group in GROUPS {
        if !args.only.is_empty() && !args.only.contains(&group) {
            continue;
        }
        // Ctrl-C drops the running group, which kills its child servers, and still removes
        // the data directory on the way out.
        let outcome = runtime.block_on(async {
            tokio::select! {
                outcome = run_group(group, &data.path, &sizes, args.pg.as_deref()) => outcome,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        });
        let interrupted = outcome
            .as_ref()
            .is_err_and(|e| e.to_string() == "interrupted");
        match outcome {
            Ok(group_figures) => {
                for f in &group_figures {
                    println!("{}", f.line());
                }
                figures.extend(group_figures);
            }
            Err(e) => {
                eprintln!(
                    "error: the {} benchmark could not run: {e:#}",
                    group_name(group)
                );
                failed.push(group_name(group));
            }
        }
        if interrupted {
            break;
        }
    }
    // Stop what the groups left running (server tasks) before the directory goes.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let json: Vec<serde_json::Value> = figures.iter().map(Figure::to_json).collect();
    if let Some(parent) = json_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let short = figures.iter().filter(|f| !f.ok()).count();
    println!(
        "{} figures, {} ok, {short} short; written to {}",
        figures.len(),
        figures.len() - short,
        json_path.display()
    );
    if failed.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "error: benchmarks that could not run: {}",
            failed.join(", ")
        );
        Ok(1)
    }
}
