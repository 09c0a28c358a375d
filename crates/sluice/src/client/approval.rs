//! `sluice approve|decline` and `sluice send event approval.finished`: find the open
//! `approval.triggered` events, pick one, answer it with `approval.finished`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};
use serde_json::Value;
use sluice_model::event::{EventData, EventType, KeptnEvent, ResultType, StatusType};

use super::http::{Api, block_on};
use super::output::{Table, text};
use super::pairs::parse_labels;
use super::trigger::{CLI_SOURCE, send_event, trigger_envelope};
use crate::cli::{ApprovalArgs, ColorChoice, SendEventArgs};
use crate::style::Painter;

/// The endpoint listing open approvals.
pub const OPEN_APPROVALS_PATH: &str =
    "/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered";

/// An open approval task.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenApproval {
    /// Id of the `approval.triggered` event.
    pub id: String,
    /// Its context.
    pub keptn_context: String,
    /// Project.
    pub project: String,
    /// Stage.
    pub stage: String,
    /// Service.
    pub service: String,
    /// Labels of the triggered event (echoed in the answer).
    pub labels: BTreeMap<String, String>,
    /// What is being approved: `configurationChange.values.image`, else a `version` label.
    pub version: String,
    /// The result of the task before the approval (`data.result`, else
    /// `data.evaluation.result`).
    pub previous_result: String,
    /// The score of the evaluation that led here (`data.evaluation.score`), if any.
    pub score: Option<f64>,
    /// When it was triggered.
    pub time: String,
}

impl OpenApproval {
    /// Reads one `approval.triggered` event.
    pub fn from_event(ev: &Value) -> OpenApproval {
        let data = ev.get("data").cloned().unwrap_or(Value::Null);
        let base = EventData::from_data(&data).unwrap_or_default();
        let image = data
            .pointer("/configurationChange/values/image")
            .and_then(Value::as_str)
            .unwrap_or("");
        let version = if image.is_empty() {
            base.labels
                .get("version")
                .or_else(|| base.labels.get("image"))
                .cloned()
                .unwrap_or_default()
        } else {
            image.to_string()
        };
        let previous_result = if base.result.is_unset() {
            data.pointer("/evaluation/result")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        } else {
            base.result.to_string()
        };
        OpenApproval {
            id: text(ev, "id").to_string(),
            keptn_context: text(ev, "shkeptncontext").to_string(),
            project: base.project,
            stage: base.stage,
            service: base.service,
            labels: base.labels,
            version,
            previous_result,
            score: data.pointer("/evaluation/score").and_then(Value::as_f64),
            time: text(ev, "time").to_string(),
        }
    }
}

/// The open approvals in an answer of the triggered-events endpoint, optionally only those
/// of one service.
pub fn open_approvals(answer: &Value, service: Option<&str>) -> Vec<OpenApproval> {
    answer
        .get("events")
        .and_then(Value::as_array)
        .map(|evs| {
            evs.iter()
                .map(OpenApproval::from_event)
                .filter(|a| service.is_none_or(|s| a.service == s))
                .collect()
        })
        .unwrap_or_default()
}

/// The outcome of choosing among open approvals.
#[derive(Debug, PartialEq)]
pub enum Choice<'a> {
    /// Exactly this one was asked for.
    Picked(&'a OpenApproval),
    /// Nothing is open (or nothing matches the id/context).
    Nothing(String),
    /// The user has to choose among these.
    Ask(Vec<&'a OpenApproval>),
}

/// Picks the approval by `--id` or `--keptn-context`; otherwise every open one is a candidate.
pub fn choose<'a>(open: &'a [OpenApproval], id: Option<&str>, ctx: Option<&str>) -> Choice<'a> {
    let matching: Vec<&OpenApproval> = open
        .iter()
        .filter(|a| id.is_none_or(|i| a.id == i))
        .filter(|a| ctx.is_none_or(|c| a.keptn_context == c))
        .collect();
    match (matching.len(), id.or(ctx)) {
        (0, Some(wanted)) => Choice::Nothing(format!(
            "no open approval matches {wanted}{}",
            if open.is_empty() {
                String::new()
            } else {
                format!(
                    "; open approvals:\n{}",
                    listing(&open.iter().collect::<Vec<_>>())
                )
            }
        )),
        (0, None) => Choice::Nothing("there is no open approval".into()),
        (1, Some(_)) => Choice::Picked(matching[0]),
        _ => Choice::Ask(matching),
    }
}

/// A table of approvals, numbered from 1.
pub fn listing(items: &[&OpenApproval]) -> String {
    let mut t = Table::new(&[
        "#",
        "SERVICE",
        "VERSION",
        "PREVIOUS RESULT",
        "SCORE",
        "KEPTN CONTEXT",
        "ID",
    ]);
    for (i, a) in items.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            a.service.clone(),
            a.version.clone(),
            a.previous_result.clone(),
            a.score
                .map(|s| format!("{s:.0}"))
                .unwrap_or_else(|| "-".to_owned()),
            a.keptn_context.clone(),
            a.id.clone(),
        ]);
    }
    t.render(Painter::for_stdout(ColorChoice::Never))
}

/// The `approval.finished` answer: the triggered event's scope and labels (plus extra labels,
/// which cannot override them), status `succeeded`, result `pass` or `fail`, the same
/// context and `triggeredid` = the approval's id.
pub fn approval_finished_event(
    a: &OpenApproval,
    approve: bool,
    extra_labels: &BTreeMap<String, String>,
    id: &str,
) -> KeptnEvent {
    let mut labels = a.labels.clone();
    for (k, v) in extra_labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let data = EventData {
        project: a.project.clone(),
        stage: a.stage.clone(),
        service: a.service.clone(),
        labels,
        status: StatusType::Succeeded,
        result: if approve {
            ResultType::Pass
        } else {
            ResultType::Fail
        },
        message: String::new(),
    };
    let ty = EventType::task_finished("approval");
    // Keptn's CLI names the event type in the source fragment.
    let source = format!("{CLI_SOURCE}#{ty}");
    let mut ev = trigger_envelope(id, &source, &ty, data.to_data());
    ev.shkeptncontext = Some(a.keptn_context.clone());
    ev.triggeredid = Some(a.id.clone());
    ev
}

/// Approve, decline, or ask the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// result pass
    Approve,
    /// result fail
    Decline,
    /// ask (Keptn's `send event approval.finished` without `--id`)
    Ask,
}

fn prompt(question: &str) -> Result<String> {
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        bail!("no answer (end of input)");
    }
    Ok(line.trim().to_string())
}

struct Request<'a> {
    project: &'a str,
    stage: &'a str,
    service: Option<&'a str>,
    id: Option<&'a str>,
    ctx: Option<&'a str>,
    labels: BTreeMap<String, String>,
    decision: Decision,
}

async fn answer(api: &Api, req: Request<'_>) -> Result<i32> {
    let project = super::fetch_project(api, req.project).await?;
    super::require_stage(req.project, &project, req.stage)?;
    let mut q = vec![
        ("project", req.project.to_string()),
        ("stage", req.stage.to_string()),
    ];
    if let Some(s) = req.service {
        q.push(("service", s.to_string()));
    }
    let list = api.get(OPEN_APPROVALS_PATH, &q).await?;
    let open = open_approvals(&list, req.service);
    let chosen = match choose(&open, req.id, req.ctx) {
        Choice::Picked(a) => a,
        Choice::Nothing(why) => bail!("{why} in stage {} of project {}", req.stage, req.project),
        Choice::Ask(cands) => {
            let table = listing(&cands);
            if !std::io::stdin().is_terminal() {
                bail!(
                    "{} open approvals in stage {}; say which one with --keptn-context or --id:\n{table}",
                    cands.len(),
                    req.stage
                );
            }
            eprint!("{table}");
            let n = if cands.len() == 1 {
                1
            } else {
                let ans = prompt(&format!("Which one? [1-{}] ", cands.len()))?;
                match ans.parse::<usize>() {
                    Ok(n) if (1..=cands.len()).contains(&n) => n,
                    _ => bail!("{ans:?} is not one of 1-{}", cands.len()),
                }
            };
            cands[n - 1]
        }
    };
    let approve = match req.decision {
        Decision::Approve => true,
        Decision::Decline => false,
        Decision::Ask => {
            if !std::io::stdin().is_terminal() {
                bail!(
                    "say whether to approve or decline: use `sluice approve` or `sluice decline`"
                );
            }
            let ans = prompt(&format!(
                "Approve or decline {} {} in {}? [a/d] ",
                chosen.service, chosen.version, chosen.stage
            ))?;
            match ans.to_ascii_lowercase().as_str() {
                "a" | "approve" | "y" | "yes" => true,
                "d" | "decline" | "n" | "no" => false,
                _ => bail!("{ans:?} is neither approve nor decline; nothing was sent"),
            }
        }
    };
    let ev = approval_finished_event(chosen, approve, &req.labels, &super::new_uuid());
    let ctx = send_event(api, &ev).await?;
    println!(
        "{} {}{} in stage {} (Keptn context {ctx})",
        if approve { "Approved" } else { "Declined" },
        chosen.service,
        if chosen.version.is_empty() {
            String::new()
        } else {
            format!(" {}", chosen.version)
        },
        chosen.stage
    );
    Ok(0)
}

/// Runs `sluice approve` / `sluice decline`.
pub fn run(args: &ApprovalArgs, decision: Decision) -> Result<i32> {
    let labels = parse_labels(&args.pick.labels)?;
    let api = super::connect()?;
    block_on(answer(
        &api,
        Request {
            project: &args.project,
            stage: &args.stage,
            service: args.pick.service.as_deref(),
            id: args.pick.id.as_deref(),
            ctx: args.pick.keptn_context.as_deref(),
            labels,
            decision,
        },
    ))?
}

/// Runs `sluice send event` (a file, or Keptn's `approval.finished` form).
pub fn send(args: &SendEventArgs) -> Result<i32> {
    if let Some(file) = &args.file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read the event {}: {e}", file.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
        let ev = KeptnEvent::from_value(value.clone())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let problems = ev.validate_incoming();
        if !problems.is_empty() {
            for p in &problems {
                eprintln!("{}: {p}", file.display());
            }
            bail!(
                "{} is not a valid Keptn event; nothing was sent",
                file.display()
            );
        }
        let api = super::connect()?;
        let answer = block_on(api.post(super::trigger::EVENT_PATH, &value))??;
        println!("ID of Keptn context: {}", super::context_of(&answer)?);
        return Ok(0);
    }
    if args.kind.is_none() {
        bail!("give --file FILE, or `approval.finished --project P --stage S`");
    }
    let sel = &args.approval;
    let (Some(project), Some(stage)) = (&sel.project, &sel.stage) else {
        bail!("approval.finished needs --project and --stage");
    };
    let labels = parse_labels(&sel.pick.labels)?;
    let decision = if sel.pick.id.is_some() {
        // Keptn's CLI always approves when the approval is named by id.
        Decision::Approve
    } else {
        Decision::Ask
    };
    let api = super::connect()?;
    block_on(answer(
        &api,
        Request {
            project,
            stage,
            service: sel.pick.service.as_deref(),
            id: sel.pick.id.as_deref(),
            ctx: sel.pick.keptn_context.as_deref(),
            labels,
            decision,
        },
    ))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_model::event::ContentTypeKey;

    fn open_list() -> Value {
        json!({"events": [
            {"id": "a1", "shkeptncontext": "c1", "type": "sh.keptn.event.approval.triggered",
             "data": {"project": "p", "stage": "prod", "service": "carts", "result": "warning",
                      "labels": {"buildId": "7"},
                      "configurationChange": {"values": {"image": "carts:0.2"}},
                      "approval": {"pass": "manual", "warning": "manual"}}},
            {"id": "a2", "shkeptncontext": "c2", "type": "sh.keptn.event.approval.triggered",
             "data": {"project": "p", "stage": "prod", "service": "orders",
                      "labels": {"version": "1.4"}, "evaluation": {"result": "pass"}}}
        ], "totalCount": 2})
    }

    #[test]
    fn approvals_are_read_with_version_and_previous_result() {
        let open = open_approvals(&open_list(), None);
        assert_eq!(open.len(), 2);
        assert_eq!(
            (open[0].version.as_str(), open[0].previous_result.as_str()),
            ("carts:0.2", "warning")
        );
        assert_eq!(
            (open[1].version.as_str(), open[1].previous_result.as_str()),
            ("1.4", "pass")
        );
        assert_eq!(open_approvals(&open_list(), Some("orders")).len(), 1);
    }

    #[test]
    fn selection_by_id_context_or_asking() {
        let open = open_approvals(&open_list(), None);
        assert_eq!(choose(&open, Some("a2"), None), Choice::Picked(&open[1]));
        assert_eq!(choose(&open, None, Some("c1")), Choice::Picked(&open[0]));
        match choose(&open, Some("zzz"), None) {
            Choice::Nothing(m) => assert!(
                m.contains("no open approval matches zzz") && m.contains("c1"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(choose(&open, None, None), Choice::Ask(c) if c.len() == 2));
        assert!(matches!(choose(&[], None, None), Choice::Nothing(_)));
        let listed = listing(&open.iter().collect::<Vec<_>>());
        assert!(listed.contains("1   carts     carts:0.2"), "{listed}");
    }

    #[test]
    fn finished_event_answers_the_trigger() {
        let open = open_approvals(&open_list(), None);
        let extra = BTreeMap::from([
            ("by".to_string(), "me".to_string()),
            ("buildId".to_string(), "x".to_string()),
        ]);
        let ev = approval_finished_event(&open[0], false, &extra, "new-id");
        assert_eq!(
            ev.to_value(ContentTypeKey::DataContentType),
            json!({"specversion": "1.0", "id": "new-id",
                   "source": "https://github.com/keptn/keptn/cli#sh.keptn.event.approval.finished",
                   "type": "sh.keptn.event.approval.finished", "datacontenttype": "application/json",
                   "shkeptncontext": "c1", "triggeredid": "a1",
                   "data": {"project": "p", "stage": "prod", "service": "carts",
                            "labels": {"buildId": "7", "by": "me"},
                            "status": "succeeded", "result": "fail"}})
        );
        assert!(ev.keptn_api_validation().is_ok());
    }
}
