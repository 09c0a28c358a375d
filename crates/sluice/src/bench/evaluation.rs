//! The quality gate: one evaluation of a 300-objective SLO against 50 previous results (time,
//! beside parsing the same SLO file) and the peak memory of a process doing it.
//!
//! Peak memory is measured in a child process (this binary, `sluice bench --child
//! evaluation-memory`) from the kernel's high-water mark of its resident set: the growth from
//! before the input is built to after the evaluation. That covers everything the evaluation
//! holds (the parsed SLO, the 50 previous results, the result) and needs no counting global
//! allocator, which would cost every other command of the binary something on every
//! allocation.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use sluice_model::evaluation::{
    EvaluationDetails, EvaluationFinishedEventData, EventData, IndicatorStatus, ResultType,
    SliEvaluationResult, SliResult,
};
use sluice_model::slo::Slo;
use sluice_slo::{EvaluationInput, PreviousEvaluation, evaluate};

use super::Sizes;
use super::figure::{Figure, Samples, Target};
use super::servers::process_memory_kib;

const OBJECTIVES: usize = 300;
const PREVIOUS: usize = 50;

/// An SLO with 300 objectives of four kinds (relative and absolute criteria, key SLIs,
/// weights, informational ones), comparing with the p90 of 50 earlier results.
fn slo_yaml() -> String {
    let mut y = String::from(
        "spec_version: '1.0'\ncomparison:\n  compare_with: several_results\n  number_of_comparison_results: 50\n  include_result_with_score: pass_or_warn\n  aggregate_function: p90\nobjectives:\n",
    );
    for i in 0..OBJECTIVES {
        let key = i.is_multiple_of(50);
        match i % 4 {
            0 => y.push_str(&format!(
                "  - sli: sli_{i}\n    displayName: SLI {i}\n    key_sli: {key}\n    pass:\n      - criteria: ['<=+10%', '<600']\n    warning:\n      - criteria: ['<=800']\n"
            )),
            1 => y.push_str(&format!(
                "  - sli: sli_{i}\n    weight: 2\n    pass:\n      - criteria: ['>=-20%']\n      - criteria: ['>100']\n    warning:\n      - criteria: ['>=-40%', '>=50']\n"
            )),
            2 => y.push_str(&format!("  - sli: sli_{i}\n    pass:\n      - criteria: ['=0']\n")),
            _ => y.push_str(&format!("  - sli: sli_{i}\n")),
        }
    }
    y.push_str("total_score:\n  pass: '90%'\n  warning: '75%'\n");
    y
}

fn value(i: usize, run: usize) -> SliResult {
    SliResult {
        metric: format!("sli_{i}"),
        value: 100.0 + ((i * 7 + run * 13) % 50) as f64,
        success: !(i + run).is_multiple_of(17),
        ..Default::default()
    }
}

fn previous_data() -> Vec<EvaluationFinishedEventData> {
    (0..PREVIOUS)
        .map(|run| EvaluationFinishedEventData {
            base: EventData {
                result: if run.is_multiple_of(3) {
                    ResultType::Warning
                } else {
                    ResultType::Pass
                },
                ..EventData::default()
            },
            evaluation: EvaluationDetails {
                result: ResultType::Pass,
                indicator_results: (0..OBJECTIVES)
                    .map(|i| SliEvaluationResult {
                        score: 1.0,
                        value: Some(value(i, run + 1)),
                        display_name: String::new(),
                        pass_targets: None,
                        warning_targets: None,
                        key_sli: false,
                        status: IndicatorStatus::Pass,
                    })
                    .collect(),
                ..Default::default()
            },
        })
        .collect()
}

/// Everything one evaluation needs, owned.
struct Workload {
    yaml: String,
    slo: Slo,
    previous: Vec<EvaluationFinishedEventData>,
    ids: Vec<String>,
    values: Vec<SliResult>,
}

impl Workload {
    fn new() -> Result<Workload> {
        let yaml = slo_yaml();
        let slo = sluice_model::slo::parse(&yaml)
            .value
            .ok_or_else(|| anyhow!("the benchmark's SLO does not parse"))?;
        let mut values: Vec<SliResult> = (0..OBJECTIVES).map(|i| value(i, 0)).collect();
        values.push(SliResult {
            metric: "extra".to_owned(),
            success: true,
            ..Default::default()
        });
        Ok(Workload {
            yaml,
            slo,
            previous: previous_data(),
            ids: (0..PREVIOUS).map(|i| format!("event-{i}")).collect(),
            values,
        })
    }

    /// Runs one evaluation; returns the number of indicator results.
    fn evaluate(&self) -> usize {
        let previous: Vec<PreviousEvaluation<'_>> = self
            .previous
            .iter()
            .zip(&self.ids)
            .map(|(data, id)| PreviousEvaluation { id: Some(id), data })
            .collect();
        let input = EvaluationInput {
            project: "bench",
            stage: "dev",
            service: "svc",
            slo: Some(&self.slo),
            slo_file: self.yaml.as_bytes(),
            indicator_values: &self.values,
            previous: &previous,
            time_start: "2024-01-01T00:00:00.000Z",
            time_end: "2024-01-01T00:05:00.000Z",
            ..Default::default()
        };
        black_box(evaluate(black_box(&input)))
            .evaluation
            .indicator_results
            .len()
    }
}

/// `evaluation_300x50_*`: time per evaluation beside parsing the SLO file, and peak memory.
pub fn evaluation(sizes: &Sizes) -> Result<Vec<Figure>> {
    let work = Workload::new()?;
    if work.evaluate() != OBJECTIVES {
        bail!("the evaluation did not score every objective");
    }
    let (mut evaluating, mut parsing) = (Samples::default(), Samples::default());
    for _ in 0..sizes.evaluations {
        let started = Instant::now();
        work.evaluate();
        evaluating.push_since(started);
        let started = Instant::now();
        black_box(sluice_model::slo::parse(black_box(&work.yaml)));
        parsing.push_since(started);
    }
    let mut out = Vec::new();
    for (p, q) in [("p50", 0.5), ("p99", 0.99)] {
        out.push(
            Figure::new(
                &format!("evaluation_300x50_{p}"),
                evaluating.quantile(q),
                "ms",
                Target::at_most(2.0),
            )
            .beside(&format!("slo_parse_300_{p}"), parsing.quantile(q), "ms"),
        );
    }
    let (baseline, peak) = peak_memory_in_child()?;
    out.push(
        Figure::new(
            "evaluation_300x50_peak_memory",
            (peak - baseline) / 1024.0,
            "MiB",
            Target::at_most(20.0),
        )
        .beside("evaluation_process_baseline", baseline / 1024.0, "MiB"),
    );
    Ok(out)
}

/// Runs `sluice bench --child evaluation-memory`; returns its (baseline, peak) in KiB.
fn peak_memory_in_child() -> Result<(f64, f64)> {
    let exe = std::env::current_exe().context("cannot find this program's file")?;
    let output = Command::new(&exe)
        .args(["bench", "--child", "evaluation-memory"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !output.status.success() {
        bail!("the evaluation-memory child failed: {}", output.status);
    }
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context("the evaluation-memory child's answer is not JSON")?;
    let kib = |k: &str| {
        answer[k]
            .as_f64()
            .ok_or_else(|| anyhow!("the evaluation-memory child gave no {k}"))
    };
    Ok((kib("baseline_kib")?, kib("peak_kib")?))
}

/// The child's side: prints `{"baseline_kib", "peak_kib"}`, the resident set before building
/// the input and the high-water mark after one evaluation.
pub fn child_peak_memory() -> Result<i32> {
    let pid = std::process::id();
    let baseline = process_memory_kib(pid, "VmRSS")?;
    let work = Workload::new()?;
    let scored = work.evaluate();
    let peak = process_memory_kib(pid, "VmHWM")?;
    drop(work);
    println!(
        "{}",
        json!({"baseline_kib": baseline, "peak_kib": peak, "scored": scored})
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_scores_every_objective() {
        let work = Workload::new().unwrap();
        assert_eq!(work.slo.objectives.len(), OBJECTIVES);
        assert_eq!(work.evaluate(), OBJECTIVES);
    }
}
