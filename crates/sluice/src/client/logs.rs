//! `sluice logs`: the output of the job executor's runs in a context, from
//! `GET /api/sluice/v1/logs`.

use anyhow::{Result, anyhow};
use serde_json::Value;

use crate::cli::{EvaluateFormat, LogsArgs};
use crate::client::{connect, http::block_on};

/// Runs the command; returns the exit code.
pub fn run(args: &LogsArgs) -> Result<i32> {
    let api = connect()?;
    let mut query = vec![("keptnContext", args.keptn_context.clone())];
    if let Some(task) = &args.task {
        query.push(("task", task.clone()));
    }
    let answer = block_on(api.get("/api/sluice/v1/logs", &query))?.map_err(|e| anyhow!("{e}"))?;
    match args.output {
        EvaluateFormat::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
        EvaluateFormat::Text => print!("{}", render(&answer)),
    }
    Ok(0)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One block per run: a header line, the output, and the kept files.
pub fn render(answer: &Value) -> String {
    let mut out = String::new();
    let runs = answer
        .get("runs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if runs.is_empty() {
        out.push_str("no job-executor runs in this context\n");
    }
    for run in &runs {
        let exit = run
            .get("exitCode")
            .and_then(Value::as_i64)
            .map(|c| format!(", exit code {c}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "=== {} / {} / {} ({}{exit}) started {}\n",
            text(run, "task"),
            text(run, "action"),
            text(run, "taskName"),
            text(run, "status"),
            text(run, "start"),
        ));
        if let Some(reason) = run.get("reason").and_then(Value::as_str) {
            out.push_str(&format!("reason: {reason}\n"));
        }
        let output = text(run, "output");
        out.push_str(output);
        if !output.is_empty() && !output.ends_with('\n') {
            out.push('\n');
        }
        for a in run
            .get("artifacts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push_str(&format!(
                "kept: /keptn/out/{} ({} bytes)\n",
                text(a, "path"),
                a.get("size").and_then(Value::as_u64).unwrap_or(0)
            ));
        }
    }
    for e in answer
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "error ({}): {}\n",
            text(e, "task"),
            text(e, "message")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn runs_render_with_output_and_artifacts() {
        let text = super::render(
            &json!({"runs": [{"task": "je-test", "action": "Load", "taskName": "Load",
            "status": "succeeded", "start": "2026-11-27T05:00:00Z", "exitCode": 0, "output": "185 requests",
            "artifacts": [{"path": "load-summary.json", "size": 812}]}]}),
        );
        assert_eq!(
            text,
            "=== je-test / Load / Load (succeeded, exit code 0) started 2026-11-27T05:00:00Z\n185 requests\nkept: /keptn/out/load-summary.json (812 bytes)\n"
        );
        assert_eq!(
            super::render(&json!({"runs": []})),
            "no job-executor runs in this context\n"
        );
    }
}
