//! Benchmark: one evaluation of a 300-objective SLO against 50 previous evaluations.
//!
//! Prints `name value unit target ok|short` lines: p50 and p99 microseconds per evaluation
//! (target < 2000 µs) and the peak heap bytes allocated during one evaluation, measured with a
//! counting global allocator (target < 20 MB). `cargo bench -p sluice-slo -- --quick` runs a
//! few iterations only.
#![allow(unsafe_code)]
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sluice_model::evaluation::{
    EvaluationDetails, EvaluationFinishedEventData, IndicatorStatus, ResultType,
    SliEvaluationResult, SliResult,
};
use sluice_slo::{EvaluationInput, PreviousEvaluation, evaluate};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const OBJECTIVES: usize = 300;
const PREVIOUS: usize = 50;

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
            result: if run.is_multiple_of(3) {
                ResultType::Warning
            } else {
                ResultType::Pass
            },
            evaluation: EvaluationDetails {
                result: ResultType::Pass,
                indicator_results: (0..OBJECTIVES)
                    .map(|i| SliEvaluationResult {
                        score: 1.0,
                        value: Some(value(i, run + 1)),
                        display_name: String::new(),
                        pass_targets: Vec::new(),
                        warning_targets: Vec::new(),
                        key_sli: false,
                        status: IndicatorStatus::Pass,
                    })
                    .collect(),
                ..Default::default()
            },
            ..Default::default()
        })
        .collect()
}

fn line(name: &str, value: f64, unit: &str, target: f64) {
    let verdict = if value < target { "ok" } else { "short" };
    println!("{name} {value:.1} {unit} {target} {verdict}");
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let iterations = if quick { 20 } else { 500 };

    let yaml = slo_yaml();
    let parsed = sluice_model::slo::parse(&yaml);
    let slo = parsed.value.expect("benchmark SLO parses");
    let prev = previous_data();
    let ids: Vec<String> = (0..PREVIOUS).map(|i| format!("event-{i}")).collect();
    let previous: Vec<PreviousEvaluation<'_>> = prev
        .iter()
        .zip(&ids)
        .map(|(data, id)| PreviousEvaluation { id: Some(id), data })
        .collect();
    let mut values: Vec<SliResult> = (0..OBJECTIVES).map(|i| value(i, 0)).collect();
    values.push(SliResult {
        metric: "extra".to_owned(),
        success: true,
        ..Default::default()
    });
    let input = EvaluationInput {
        project: "bench",
        stage: "dev",
        service: "svc",
        slo: Some(&slo),
        slo_file: yaml.as_bytes(),
        indicator_values: &values,
        previous: &previous,
        time_start: "2024-01-01T00:00:00.000Z",
        time_end: "2024-01-01T00:05:00.000Z",
        ..Default::default()
    };

    // Warm up, then measure the peak heap of one evaluation above the current baseline.
    black_box(evaluate(&input));
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let out = black_box(evaluate(&input));
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    assert_eq!(out.evaluation.indicator_results.len(), OBJECTIVES);
    drop(out);

    let mut micros = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        black_box(evaluate(black_box(&input)));
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize];
    if std::env::var_os("SLUICE_BENCH_PARTS").is_some() {
        let t = Instant::now();
        for _ in 0..iterations {
            let sel = sluice_slo::select_previous(&slo.comparison, &previous);
            black_box(sluice_slo::PreviousValues::new(&sel));
        }
        println!(
            "group {:.1} us",
            t.elapsed().as_secs_f64() * 1e6 / iterations as f64
        );
    }
    line("evaluate_300x50_p50", pct(0.50), "us", 2000.0);
    line("evaluate_300x50_p99", pct(0.99), "us", 2000.0);
    line(
        "evaluate_300x50_peak_heap",
        peak as f64,
        "bytes",
        20_000_000.0,
    );
}
