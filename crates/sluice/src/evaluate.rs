//! `sluice evaluate`: the offline quality gate — reads an SLO, SLI values and earlier
//! evaluations, scores them like Keptn's lighthouse and explains the verdict.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use sluice_model::evaluation::{
    EvaluationFinishedEventData, IndicatorStatus, ResultType, SliResult, StatusType,
};
use sluice_model::slo::{self, Slo};
use sluice_slo::explain::{Explanation, StatisticalRow, TargetKind, explain_with_samples};
use sluice_slo::judge::{Outcome, Verdict, fmt_p, fmt_ratio};
use sluice_slo::statistics::Method;
use sluice_slo::{EvaluationInput, PreviousEvaluation, Samples, SliSamples, evaluate_with_samples};

use crate::cli::{EvaluateArgs, EvaluateFormat};
use crate::style::Painter;

/// Input files larger than this are refused rather than read.
const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Exit code for unusable input.
const UNUSABLE: i32 = 2;

/// What the SLI values file said besides the values themselves (when it was a whole
/// `get-sli.finished` event or its data).
#[derive(Debug, Default)]
struct SliInput {
    values: Vec<SliResult>,
    status: StatusType,
    result: ResultType,
    message: String,
    start: String,
    end: String,
    labels: Option<BTreeMap<String, String>>,
}

/// Runs the command and returns the process exit code.
pub fn run(args: &EvaluateArgs) -> Result<i32> {
    let paint = Painter::for_stdout(args.color);

    let mut slo_errors = false;
    let slo_file: Option<(String, Vec<u8>)> = match &args.slo {
        Some(path) => Some((path.display().to_string(), read_capped(path)?)),
        None => None,
    };
    // Keptn's lighthouse (GetSLOs in common.go) treats an empty slo.yaml as no SLO file.
    let slo_file = slo_file.filter(|(name, bytes)| {
        if bytes.is_empty() {
            eprintln!("note: {name} is empty; Keptn treats an empty slo.yaml as no SLO file");
        }
        !bytes.is_empty()
    });
    let parsed: Option<Slo> = match &slo_file {
        None => None,
        Some((name, bytes)) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| anyhow!("{name}: the SLO file is not UTF-8 text"))?;
            let parsed = slo::parse(text.strip_prefix('\u{feff}').unwrap_or(text));
            for d in parsed.diagnostics.sorted() {
                eprintln!("{}", d.render(name));
            }
            slo_errors = parsed.diagnostics.has_errors();
            match parsed.value {
                Some(slo) => Some(slo),
                None => {
                    eprintln!("error: {name} cannot be used as an SLO (see above)");
                    return Ok(UNUSABLE);
                }
            }
        }
    };

    let sli = match &args.sli {
        Some(path) => read_sli_values(path)?,
        None => SliInput::default(),
    };
    let previous_data: Vec<(Option<String>, EvaluationFinishedEventData)> = match &args.previous {
        Some(path) => read_previous(path)?,
        None => Vec::new(),
    };
    // Without the files, the samples the SLI values carry (sluice's `samples` field) and
    // those of the first previous evaluation, as the server does.
    let current_samples = match &args.samples {
        Some(path) => read_samples(path)?,
        None => sluice_slo::samples_of_values(&sli.values),
    };
    let baseline_samples = match &args.baseline_samples {
        Some(path) => read_samples(path)?,
        None => previous_data
            .first()
            .map(|(_, d)| sluice_slo::samples_of_evaluation(d))
            .unwrap_or_default(),
    };
    let samples = Samples {
        current: &current_samples,
        baseline: &baseline_samples,
    };
    let previous: Vec<PreviousEvaluation<'_>> = previous_data
        .iter()
        .map(|(id, data)| PreviousEvaluation {
            id: id.as_deref(),
            data,
        })
        .collect();

    let input = EvaluationInput {
        labels: sli.labels.as_ref(),
        slo: parsed.as_ref(),
        slo_file: slo_file.as_ref().map_or(&[][..], |(_, b)| b.as_slice()),
        indicator_values: &sli.values,
        get_sli_status: &sli.status,
        get_sli_result: &sli.result,
        get_sli_message: &sli.message,
        previous: &previous,
        time_start: args.start.as_deref().unwrap_or(&sli.start),
        time_end: args.end.as_deref().unwrap_or(&sli.end),
        ..EvaluationInput::default()
    };
    let output = evaluate_with_samples(&input, samples);

    match args.output {
        EvaluateFormat::Json => println!("{}", serde_json::to_string_pretty(&output)?),
        EvaluateFormat::Text => {
            let name = slo_file.as_ref().map(|(n, _)| n.as_str());
            print!(
                "{}",
                render_text(
                    &explain_with_samples(&input, samples, &output),
                    &output,
                    name,
                    paint
                )
            );
        }
    }

    if slo_errors {
        eprintln!(
            "error: the SLO has errors (see above); the result above is what Keptn would have reported"
        );
        return Ok(UNUSABLE);
    }
    Ok(match output.base.result {
        ResultType::Pass => 0,
        ResultType::Warning => i32::from(args.fail_on_warning),
        _ => 1,
    })
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let name = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {name}"))?;
    if meta.len() > MAX_INPUT_BYTES {
        bail!(
            "{name} is {} bytes; inputs larger than {MAX_INPUT_BYTES} bytes are refused",
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {name}"))
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = read_capped(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "{}:{}:{}: invalid JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Reads SLI values: an array of `{metric, value, success, message}`, or an object holding
/// them as `indicatorValues`, `get-sli.indicatorValues` or `data.get-sli.indicatorValues`
/// (a whole `get-sli.finished` event).
fn read_sli_values(path: &Path) -> Result<SliInput> {
    let name = path.display().to_string();
    let json = read_json(path)?;
    let mut input = SliInput::default();
    let data = json.get("data").filter(|d| d.is_object()).unwrap_or(&json);
    let values = if json.is_array() {
        &json
    } else if let Some(v) = data.get("indicatorValues") {
        v
    } else if let Some(get_sli) = data.get("get-sli") {
        input.start = str_field(get_sli, "start");
        input.end = str_field(get_sli, "end");
        get_sli.get("indicatorValues").unwrap_or(&Value::Null)
    } else {
        bail!(
            "{name}: expected a JSON array of {{\"metric\", \"value\", \"success\", \"message\"}} \
             (Keptn's get-sli indicatorValues), or a get-sli.finished event"
        );
    };
    if json.is_object() {
        input.status = data
            .get("status")
            .and_then(Value::as_str)
            .map(StatusType::from)
            .unwrap_or_default();
        input.result = data
            .get("result")
            .and_then(Value::as_str)
            .map(ResultType::from)
            .unwrap_or_default();
        input.message = str_field(data, "message");
        input.labels = data
            .get("labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok());
    }
    let Some(items) = values.as_array() else {
        bail!("{name}: indicatorValues must be a JSON array");
    };
    for (i, item) in items.iter().enumerate() {
        let value: SliResult = serde_json::from_value(item.clone())
            .map_err(|e| anyhow!("{name}: indicator value [{i}]: {e} (expected {{\"metric\": string, \"value\": number, \"success\": bool, \"message\": string}})"))?;
        if value.metric.is_empty() {
            bail!("{name}: indicator value [{i}] has no \"metric\" name");
        }
        input.values.push(value);
    }
    Ok(input)
}

/// Reads samples for statistical criteria (sluice extension): a JSON object from SLI name to
/// an array of numbers (`null` for a missing observation, read as NaN), or an array of
/// `{"metric", "values"}`.
fn read_samples(path: &Path) -> Result<Vec<SliSamples>> {
    let name = path.display().to_string();
    let json = read_json(path)?;
    let numbers = |metric: &str, v: &Value| -> Result<Vec<f64>> {
        let Some(items) = v.as_array() else {
            bail!("{name}: the samples of {metric} must be an array of numbers");
        };
        items
            .iter()
            .map(|x| match x {
                Value::Null => Ok(f64::NAN),
                x => x.as_f64().ok_or_else(|| {
                    anyhow!("{name}: the samples of {metric} must be numbers, found {x}")
                }),
            })
            .collect()
    };
    let mut out = Vec::new();
    match &json {
        Value::Object(map) => {
            for (metric, v) in map {
                out.push(SliSamples {
                    metric: metric.clone(),
                    values: numbers(metric, v)?,
                });
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let metric = item
                    .get("metric")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{name}: samples [{i}] have no \"metric\" name"))?;
                out.push(SliSamples {
                    metric: metric.to_owned(),
                    values: numbers(metric, item.get("values").unwrap_or(&Value::Null))?,
                });
            }
        }
        _ => bail!(
            "{name}: expected a JSON object from SLI name to an array of numbers, or an array of {{\"metric\", \"values\"}}"
        ),
    }
    Ok(out)
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Reads earlier evaluations: a JSON array, newest first, of `evaluation.finished` data
/// objects or whole events (whose `id` is then reported in `comparedEvents`).
fn read_previous(path: &Path) -> Result<Vec<(Option<String>, EvaluationFinishedEventData)>> {
    let name = path.display().to_string();
    let json = read_json(path)?;
    let Some(items) = json.as_array() else {
        bail!("{name}: expected a JSON array of evaluation.finished event data, newest first");
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let is_event = item.get("data").is_some_and(Value::is_object) && item.get("type").is_some();
        let (id, data) = if is_event {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
            if !kind.ends_with(".evaluation.finished") {
                bail!(
                    "{name}: [{i}] is a `{kind}` event; only evaluation.finished events can be compared with"
                );
            }
            (
                item.get("id").and_then(Value::as_str).map(str::to_owned),
                &item["data"],
            )
        } else {
            (None, item)
        };
        let data: EvaluationFinishedEventData = serde_json::from_value(data.clone())
            .map_err(|e| anyhow!("{name}: [{i}] is not evaluation.finished data: {e}"))?;
        out.push((id, data));
    }
    Ok(out)
}

/// Formats a number the short way a person reads it (no trailing zeros).
fn num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn status_label(status: &IndicatorStatus, paint: Painter) -> String {
    // Text and symbol carry the meaning; colour only repeats it.
    match status {
        IndicatorStatus::Pass => paint.good("✔ pass   "),
        IndicatorStatus::Warning => paint.warn("▲ warning"),
        IndicatorStatus::Fail => paint.bad("✘ fail   "),
        IndicatorStatus::Info => paint.dim("ℹ info   "),
        IndicatorStatus::Other(s) => format!("? {s:<7}"),
    }
}

fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len >= width {
        text.to_owned()
    } else {
        format!("{text}{}", " ".repeat(width - len))
    }
}

/// Renders the explanation as a table plus a verdict line.
pub fn render_text(
    e: &Explanation,
    out: &EvaluationFinishedEventData,
    slo_name: Option<&str>,
    paint: Painter,
) -> String {
    let mut s = String::new();
    let Some(slo_name) = slo_name else {
        s.push_str(&format!(
            "{}\n",
            paint.bold("No SLO given: nothing to evaluate.")
        ));
        s.push_str(&format!("Result: {}\n", verdict(&out.base.result, paint)));
        if !out.base.message.is_empty() {
            s.push_str(&format!("{}\n", out.base.message));
        }
        return s;
    };
    let compared = match e.compared_evaluations {
        0 => "no earlier evaluation to compare with".to_owned(),
        1 => format!(
            "compared with 1 earlier evaluation ({})",
            e.aggregate_function
        ),
        n => format!(
            "compared with {n} earlier evaluations ({})",
            e.aggregate_function
        ),
    };
    s.push_str(&format!(
        "{} {slo_name}  {}\n\n",
        paint.bold("Quality gate"),
        paint.dim(&compared)
    ));

    if !e.objectives.is_empty() {
        let name_w = e
            .objectives
            .iter()
            .map(|o| o.name.chars().count() + if o.key_sli { 6 } else { 0 })
            .max()
            .unwrap_or(9)
            .max(9);
        let header = format!(
            "  {}  {}  {}  {}  {}  {}\n",
            pad("STATUS", 9),
            pad("OBJECTIVE", name_w),
            pad("VALUE", 12),
            pad("COMPARED", 12),
            pad("TARGET                      ", 28),
            "POINTS"
        );
        s.push_str(&paint.dim(&header));
        for o in &e.objectives {
            let name = if o.key_sli {
                format!("{} (key)", o.name)
            } else {
                o.name.clone()
            };
            let value = match o.value {
                Some(v) => num(v),
                None if o.missing => "missing".to_owned(),
                None => "failed".to_owned(),
            };
            let compared = o.compared_value.map(num).unwrap_or_else(|| "—".to_owned());
            let points = if o.max_points > 0.0 {
                format!("{}/{}", num(o.points), num(o.max_points))
            } else {
                "info".to_owned()
            };
            let mut targets = o.targets.iter().map(|t| {
                let kind = match t.kind {
                    TargetKind::Pass => "pass",
                    TargetKind::Warning => "warn",
                };
                let threshold = match t.threshold {
                    Some(v) => format!("→ {}", num(v)),
                    None if !t.evaluated => "(not checked)".to_owned(),
                    None => "(no history)".to_owned(),
                };
                let mark = if !t.evaluated {
                    paint.dim("–")
                } else if t.held {
                    paint.good("✔")
                } else {
                    paint.bad("✘")
                };
                format!(
                    "{kind} {} {} {mark}",
                    pad(&t.criteria, 9),
                    pad(&threshold, 12)
                )
            });
            let first = targets.next().unwrap_or_else(|| pad("no criteria", 28));
            s.push_str(&format!(
                "  {}  {}  {}  {}  {}  {}\n",
                status_label(&o.status, paint),
                pad(&name, name_w),
                pad(&value, 12),
                pad(&compared, 12),
                first,
                points
            ));
            let indent = 2 + 9 + 2 + name_w + 2 + 12 + 2 + 12 + 2;
            for t in targets {
                s.push_str(&format!("{}{t}\n", " ".repeat(indent)));
            }
            if let Some(err) = &o.value_error
                && !(o.statistical.is_some() && o.missing && o.targets.is_empty())
            {
                let note = if o.missing {
                    err.clone()
                } else {
                    format!("the SLI provider failed: {err}")
                };
                s.push_str(&format!("{}{}\n", " ".repeat(2 + 9 + 2), paint.dim(&note)));
            }
            if let Some(stat) = &o.statistical {
                render_statistical(&mut s, stat, paint);
            }
        }
        if e.objectives
            .iter()
            .any(|o| o.targets.iter().any(|t| !t.evaluated))
        {
            s.push_str(&paint.dim(
                "  – not checked: Keptn lists the criteria of an informational objective, or of a missing or failed value, as violated without checking them\n",
            ));
        }
        s.push('\n');
    }

    let thresholds = match (&e.pass_threshold, &e.warning_threshold) {
        (Some(p), Some(w)) => format!("pass ≥ {p}, warning ≥ {w}"),
        (Some(p), None) => format!("pass ≥ {p}"),
        _ => "no total_score".to_owned(),
    };
    let points = if !e.groups.is_empty() {
        let parts: Vec<String> = e
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{} {} of {} points ×{}",
                    g.name,
                    num(g.points),
                    num(g.max_points),
                    g.weight
                )
            })
            .collect();
        format!(" (weighted groups: {})", parts.join(", "))
    } else if e.max_points > 0.0 {
        format!(" ({} of {} points)", num(e.points), num(e.max_points))
    } else {
        String::new()
    };
    s.push_str(&format!(
        "Score {}{points}, {thresholds}: {}",
        paint.bold(&num(e.score)),
        verdict(&e.result, paint)
    ));
    if !out.base.status.is_unset() && out.base.status != StatusType::Succeeded {
        s.push_str(&format!(" (status {})", out.base.status));
    }
    s.push('\n');
    if !e.message.is_empty() {
        s.push_str(&format!("{}\n", e.message));
    }
    s
}

/// The lines of a statistical criterion: the criterion and its mark, both samples' sizes and
/// medians, the effect and the p-value, and the judge's reason.
fn render_statistical(s: &mut String, stat: &StatisticalRow, paint: Painter) {
    let indent = " ".repeat(2 + 9 + 2);
    let mark = match &stat.outcome {
        Outcome::Compared(j) if j.verdict == Verdict::Pass => paint.good("✔"),
        Outcome::Compared(_) => paint.bad("✘"),
        Outcome::NoData(_) => paint.warn("no data"),
    };
    s.push_str(&format!("{indent}statistical {} {mark}\n", stat.criterion));
    if let Outcome::Compared(j) = &stat.outcome {
        let side = |name: &str, x: &sluice_slo::judge::SampleSummary| {
            let mut t = format!("{name} n={} median {}", x.count, num(x.median));
            if x.dropped + x.outliers_removed > 0 {
                t.push_str(&format!(
                    " ({} NaN or infinite dropped, {} outliers removed)",
                    x.dropped, x.outliers_removed
                ));
            }
            t
        };
        let ratio = |r: Option<f64>| r.map_or_else(|| "undefined".to_owned(), fmt_ratio);
        let method = match j.method {
            Method::Exact => "exact",
            _ => "normal approximation",
        };
        s.push_str(&format!(
            "{indent}  {} · {}\n",
            side("current", &j.current),
            side("baseline", &j.baseline)
        ));
        s.push_str(&format!(
            "{indent}  median ratio {} · mean ratio {} · shift {} · U {} · p {} ({method})\n",
            ratio(j.median_ratio),
            ratio(j.mean_ratio),
            num(j.shift),
            num(j.u),
            fmt_p(j.p_value),
        ));
    }
    s.push_str(&format!("{indent}  {}\n", paint.dim(stat.outcome.reason())));
}

fn verdict(result: &ResultType, paint: Painter) -> String {
    match result {
        ResultType::Pass => paint.good("PASS"),
        ResultType::Warning => paint.warn("WARNING"),
        ResultType::Fail => paint.bad("FAIL"),
        ResultType::Unset => paint.bad("NO RESULT"),
        ResultType::Other(other) => paint.bad(&other.to_uppercase()),
    }
}
