//! `sluice baseline set|get|clear`: the pinned baseline evaluation of a stage and service
//! (`/api/sluice/v1/project/{p}/stage/{s}/service/{svc}/baseline`).

use anyhow::{Result, anyhow, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::{BaselineScopeArgs, BaselineSetArgs, OutputFormat};
use crate::client::connect;
use crate::client::http::{block_on, segment};
use crate::client::output::{Table, print};

fn path(project: &str, stage: &str, service: &str) -> String {
    format!(
        "/api/sluice/v1/project/{}/stage/{}/service/{}/baseline",
        segment(project),
        segment(stage),
        segment(service)
    )
}

fn show(output: OutputFormat, answer: &Value) {
    print(output, answer, || {
        let mut table = Table::new(&[
            "PROJECT",
            "STAGE",
            "SERVICE",
            "EVALUATION",
            "LABEL",
            "RESULT",
            "SCORE",
            "PINNED BY",
            "PINNED AT",
        ]);
        let s = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let e = &answer["evaluation"];
        table.row(vec![
            s(&answer["project"]),
            s(&answer["stage"]),
            s(&answer["service"]),
            s(&answer["evaluationId"]),
            s(&e["label"]),
            s(&e["result"]),
            s(&e["score"]),
            s(&answer["setBy"]),
            s(&answer["setAt"]),
        ]);
        table
    });
}

/// Runs `sluice baseline set`: the scope is the evaluation's (read first), and flags given
/// must agree with it.
pub fn set(args: &BaselineSetArgs) -> Result<i32> {
    let api = connect()?;
    let evaluation = block_on(api.get(
        &format!("/api/sluice/v1/evaluation/{}", segment(&args.evaluation)),
        &[],
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    let mut scope = Vec::new();
    for (key, given) in [
        ("project", &args.project),
        ("stage", &args.stage),
        ("service", &args.service),
    ] {
        let actual = evaluation[key].as_str().unwrap_or("").to_owned();
        if let Some(given) = given
            && *given != actual
        {
            bail!(
                "evaluation {} is of {key} {actual:?}, not {given:?}",
                args.evaluation
            );
        }
        scope.push(actual);
    }
    let answer = block_on(api.call(
        Method::PUT,
        &path(&scope[0], &scope[1], &scope[2]),
        &[],
        Some(&json!({"evaluationId": args.evaluation})),
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    if args.output == OutputFormat::Table {
        eprintln!(
            "Evaluation {} is the baseline of service {} in stage {} of project {}.",
            args.evaluation, scope[2], scope[1], scope[0]
        );
    }
    show(args.output, &answer);
    Ok(0)
}

/// Runs `sluice baseline get`.
pub fn get(args: &BaselineScopeArgs) -> Result<i32> {
    let api = connect()?;
    let answer = block_on(api.get(&path(&args.project, &args.stage, &args.service), &[]))?
        .map_err(|e| anyhow!("{e}"))?;
    show(args.output, &answer);
    Ok(0)
}

/// Runs `sluice baseline clear`.
pub fn clear(args: &BaselineScopeArgs) -> Result<i32> {
    let api = connect()?;
    let answer = block_on(api.call(
        Method::DELETE,
        &path(&args.project, &args.stage, &args.service),
        &[],
        None,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    match args.output {
        OutputFormat::Table => println!("{}", answer["message"].as_str().unwrap_or("unpinned")),
        other => print(other, &answer, || Table::new(&[])),
    }
    Ok(0)
}
