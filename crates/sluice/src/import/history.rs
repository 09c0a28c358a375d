//! `sluice import keptn-history`: copies projects' events from Keptn's datastore
//! (`GET /api/mongodb-datastore/event?project=…`, paged) into the sluice server
//! (`POST /api/sluice/v1/project/{p}/history`) with their original ids, contexts and times.
//!
//! Every event of a project is read, newest first as the datastore pages them: sequences,
//! tasks, evaluations, deployments, approvals and invalidations, so the heatmap, the sequence
//! list and the next quality gate's comparison see the past. The server skips ids it has, so a
//! second run stores nothing and an interrupted run, run again, stores what is missing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cli::ImportHistoryArgs;
use crate::client::config::{ApiToken, Credentials, normalize_endpoint};
use crate::client::http::{Api, ApiError, block_on, segment};

/// Events asked for per datastore page.
const PAGE_SIZE: u32 = 100;
/// Most events sent to the server per request (its limit is 1000).
const CHUNK_EVENTS: usize = 500;
/// Most bytes of events sent per request (the server accepts 5 MiB bodies).
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Most datastore pages read per project: a guard against a source whose `nextPageKey` never
/// ends (100 million events).
const MAX_PAGES: usize = 1_000_000;

/// What happened to one project.
#[derive(Debug, Default)]
struct Outcome {
    read: usize,
    stored: usize,
    skipped: usize,
    /// Events the server refused (too large to send, or invalid), with why.
    refused: Vec<String>,
    /// Events read per type.
    types: BTreeMap<String, usize>,
}

/// Runs `sluice import keptn-history`.
pub fn keptn_history(args: &ImportHistoryArgs) -> Result<i32> {
    let keptn = Api::new(&Credentials {
        endpoint: normalize_endpoint(&args.endpoint)?,
        api_token: ApiToken::new(read_token(&args.api_token_file)?),
    })?;
    let sluice = crate::client::connect()?;
    block_on(run(&keptn, &sluice, args))?
}

fn read_token(file: &Path) -> Result<String> {
    let token = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the API token file {}", file.display()))?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the API token file {} is empty", file.display());
    }
    Ok(token)
}

async fn run(keptn: &Api, sluice: &Api, args: &ImportHistoryArgs) -> Result<i32> {
    let projects = if args.project.is_empty() {
        list_projects(keptn).await?
    } else {
        args.project.clone()
    };
    if projects.is_empty() {
        println!("{} has no projects: nothing to import", keptn.endpoint());
        return Ok(0);
    }
    let mut failed = false;
    for project in &projects {
        match sluice
            .get(
                &format!("/api/controlPlane/v1/project/{}", segment(project)),
                &[],
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                println!(
                    "{project}: not in sluice; create it first with `sluice import keptn --git-url …` (skipped)"
                );
                failed = true;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let outcome = import_project(keptn, sluice, project, args.dry_run).await?;
        report(project, &outcome, args.dry_run);
        failed |= !outcome.refused.is_empty();
    }
    Ok(if failed { 1 } else { 0 })
}

/// The names of every project of the Keptn instance.
async fn list_projects(keptn: &Api) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut query = vec![("pageSize", "50".to_owned())];
        if let Some(k) = &next {
            query.push(("nextPageKey", k.clone()));
        }
        let page = keptn
            .get("/api/controlPlane/v1/project", &query)
            .await
            .context("cannot list the projects of the Keptn instance")?;
        for p in page["projects"].as_array().into_iter().flatten() {
            if let Some(n) = p["projectName"].as_str() {
                names.push(n.to_owned());
            }
        }
        next = next_key(&page, next.as_deref());
        if next.is_none() {
            return Ok(names);
        }
    }
}

/// The page's `nextPageKey` when there is a further page (Keptn answers "0" or nothing at the
/// end; a key equal to the one just used would loop forever).
fn next_key(page: &Value, used: Option<&str>) -> Option<String> {
    let key = match &page["nextPageKey"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!key.is_empty() && key != "0" && Some(key.as_str()) != used).then_some(key)
}

async fn import_project(
    keptn: &Api,
    sluice: &Api,
    project: &str,
    dry_run: bool,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut query = vec![
            ("project", project.to_owned()),
            ("pageSize", PAGE_SIZE.to_string()),
        ];
        if let Some(k) = &next {
            query.push(("nextPageKey", k.clone()));
        }
        let page = keptn
            .get("/api/mongodb-datastore/event", &query)
            .await
            .with_context(|| {
                format!("cannot read the events of project {project} from Keptn's datastore")
            })?;
        let events: Vec<Value> = page["events"].as_array().cloned().unwrap_or_default();
        outcome.read += events.len();
        for e in &events {
            let t = e["type"].as_str().unwrap_or("(no type)");
            *outcome.types.entry(t.to_owned()).or_default() += 1;
        }
        if !dry_run {
            send(sluice, project, events, &mut outcome).await?;
        }
        next = next_key(&page, next.as_deref());
        if next.is_none() {
            return Ok(outcome);
        }
    }
    bail!(
        "Keptn's datastore kept answering further pages for project {project}: stopped after {MAX_PAGES}"
    )
}

/// Sends a page of events in requests within the server's limits.
async fn send(
    sluice: &Api,
    project: &str,
    events: Vec<Value>,
    outcome: &mut Outcome,
) -> Result<()> {
    let path = format!("/api/sluice/v1/project/{}/history", segment(project));
    let mut chunk: Vec<Value> = Vec::new();
    let mut bytes = 0;
    for event in events {
        let size = event.to_string().len();
        if size > CHUNK_BYTES {
            outcome.refused.push(format!(
                "{}: {size} bytes, over the {CHUNK_BYTES}-byte limit of one request",
                event["id"].as_str().unwrap_or("(no id)")
            ));
            continue;
        }
        if !chunk.is_empty() && (chunk.len() == CHUNK_EVENTS || bytes + size > CHUNK_BYTES) {
            post(sluice, &path, std::mem::take(&mut chunk), outcome).await?;
            bytes = 0;
        }
        bytes += size + 1;
        chunk.push(event);
    }
    if !chunk.is_empty() {
        post(sluice, &path, chunk, outcome).await?;
    }
    Ok(())
}

/// Posts one request; when the server refuses it (an invalid event), posts its events one by
/// one so that the valid ones are stored and each refused one is named.
async fn post(sluice: &Api, path: &str, chunk: Vec<Value>, outcome: &mut Outcome) -> Result<()> {
    match sluice.post(path, &json!({ "events": chunk })).await {
        Ok(answer) => {
            count(&answer, outcome);
            Ok(())
        }
        Err(ApiError::Server { code: 400, .. }) if chunk.len() > 1 => {
            for event in chunk {
                let id = event["id"].as_str().unwrap_or("(no id)").to_owned();
                match sluice.post(path, &json!({ "events": [event] })).await {
                    Ok(answer) => count(&answer, outcome),
                    Err(ApiError::Server { code: 400, message }) => {
                        outcome.refused.push(format!("{id}: {message}"));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        }
        Err(ApiError::Server { code: 400, message }) => {
            outcome.refused.push(message);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn count(answer: &Value, outcome: &mut Outcome) {
    let n = |k: &str| answer[k].as_u64().unwrap_or(0) as usize;
    outcome.stored += n("stored");
    outcome.skipped += n("skipped");
}

fn report(project: &str, o: &Outcome, dry_run: bool) {
    if dry_run {
        println!(
            "{project}: {} events in Keptn's datastore (dry run: nothing sent)",
            o.read
        );
    } else {
        println!(
            "{project}: {} events read, {} stored, {} already in sluice, {} refused",
            o.read,
            o.stored,
            o.skipped,
            o.refused.len()
        );
    }
    for (t, n) in &o.types {
        println!("  {n:>7}  {t}");
    }
    for r in &o.refused {
        println!("  refused: {r}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_ends_on_keptns_end_markers_and_on_a_repeated_key() {
        assert_eq!(
            next_key(&json!({"nextPageKey": "20"}), None),
            Some("20".into())
        );
        assert_eq!(
            next_key(&json!({"nextPageKey": 40}), Some("20")),
            Some("40".into())
        );
        assert_eq!(next_key(&json!({"nextPageKey": "0"}), None), None);
        assert_eq!(next_key(&json!({"nextPageKey": ""}), None), None);
        assert_eq!(next_key(&json!({}), None), None);
        assert_eq!(next_key(&json!({"nextPageKey": "20"}), Some("20")), None);
    }
}
