//! `sluice get projects|stages|services|sequences|events`.

use anyhow::{Result, bail};
use serde_json::{Value, json};
use sluice_model::event::kind::{EVENT_TYPE_PREFIX, full_event_type};

use super::http::{Api, block_on, segment};
use super::output::{Table, human_time, print, text};
use crate::cli::{
    GetEventsArgs, GetProjectsArgs, GetSequencesArgs, GetServicesArgs, GetStagesArgs,
};

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Follows `nextPageKey` and collects the `key` arrays of every page.
pub async fn all_pages(
    api: &Api,
    path: &str,
    key: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut next = String::new();
    for _ in 0..200 {
        let mut q = query.to_vec();
        if !next.is_empty() {
            q.push(("nextPageKey", next.clone()));
        }
        let answer = api.get(path, &q).await?;
        out.extend(array(&answer, key).iter().cloned());
        next = match answer.get("nextPageKey") {
            Some(Value::String(s)) if !s.is_empty() && s != "0" => s.clone(),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => n.to_string(),
            _ => break,
        };
    }
    Ok(out)
}

/// The project table.
pub fn projects_table(projects: &[Value]) -> Table {
    let mut t = Table::new(&["NAME", "CREATION DATE", "STAGES", "SERVICES"]);
    for p in projects {
        let stages: Vec<&str> = array(p, "stages")
            .iter()
            .map(|s| text(s, "stageName"))
            .collect();
        let mut services: Vec<&str> = array(p, "stages")
            .iter()
            .flat_map(|s| array(s, "services").iter().map(|x| text(x, "serviceName")))
            .collect();
        services.sort_unstable();
        services.dedup();
        t.row(vec![
            text(p, "projectName").to_string(),
            human_time(text(p, "creationDate")),
            stages.join(", "),
            services.join(", "),
        ]);
    }
    t
}

/// Runs `sluice get projects [NAME]`.
pub fn projects(args: &GetProjectsArgs) -> Result<i32> {
    let api = super::connect()?;
    block_on(async {
        let (value, list) = match &args.name {
            Some(name) => {
                let p = super::fetch_project(&api, name).await?;
                (p.clone(), vec![p])
            }
            None => {
                let list = all_pages(
                    &api,
                    "/api/controlPlane/v1/project",
                    "projects",
                    &[("pageSize", "50".to_string())],
                )
                .await?;
                (Value::Array(list.clone()), list)
            }
        };
        if list.is_empty()
            && args.name.is_none()
            && matches!(args.output, crate::cli::OutputFormat::Table)
        {
            println!(
                "No projects yet. Create one with `sluice create project NAME --shipyard FILE`."
            );
            return Ok(0);
        }
        print(args.output, &value, || projects_table(&list));
        Ok(0)
    })?
}

/// Runs `sluice get stages --project P`.
pub fn stages(args: &GetStagesArgs) -> Result<i32> {
    let api = super::connect()?;
    block_on(async {
        let path = format!(
            "/api/controlPlane/v1/project/{}/stage",
            segment(&args.project)
        );
        let answer = match api.get(&path, &[]).await {
            Err(e) if e.is_not_found() => bail!("project {:?} not found ({e})", args.project),
            other => other?,
        };
        let list = array(&answer, "stages").to_vec();
        print(args.output, &Value::Array(list.clone()), || {
            let mut t = Table::new(&["NAME", "PARENT STAGES", "SERVICES"]);
            for s in &list {
                let parents: Vec<&str> = array(s, "parentStages")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let services: Vec<&str> = array(s, "services")
                    .iter()
                    .map(|x| text(x, "serviceName"))
                    .collect();
                t.row(vec![
                    text(s, "stageName").to_string(),
                    parents.join(", "),
                    services.join(", "),
                ]);
            }
            t
        });
        Ok(0)
    })?
}

/// The rows of `get services`: every service of every stage (filtered), each with its stage.
pub fn service_rows(project: &Value, name: Option<&str>, stage: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    for st in array(project, "stages") {
        let sname = text(st, "stageName");
        if stage.is_some_and(|s| s != sname) {
            continue;
        }
        for svc in array(st, "services") {
            if name.is_some_and(|n| n != text(svc, "serviceName")) {
                continue;
            }
            let mut row = svc.clone();
            if let Value::Object(m) = &mut row {
                m.insert("stageName".into(), json!(sname));
            }
            out.push(row);
        }
    }
    out
}

/// The `get services` table.
pub fn services_table(rows: &[Value]) -> Table {
    let mut t = Table::new(&["SERVICE", "STAGE", "DEPLOYED IMAGE", "CREATION DATE"]);
    for r in rows {
        t.row(vec![
            text(r, "serviceName").to_string(),
            text(r, "stageName").to_string(),
            text(r, "deployedImage").to_string(),
            human_time(text(r, "creationDate")),
        ]);
    }
    t
}

/// Runs `sluice get services [NAME] --project P [--stage S]`.
pub fn services(args: &GetServicesArgs) -> Result<i32> {
    let api = super::connect()?;
    block_on(async {
        let project = super::fetch_project(&api, &args.project).await?;
        if let Some(s) = &args.stage {
            super::require_stage(&args.project, &project, s)?;
        }
        let rows = service_rows(&project, args.name.as_deref(), args.stage.as_deref());
        if rows.is_empty()
            && let Some(n) = &args.name
        {
            bail!("service {n:?} not found in project {:?}", args.project);
        }
        print(args.output, &Value::Array(rows.clone()), || {
            services_table(&rows)
        });
        Ok(0)
    })?
}

/// Keeps the sequence states that ran in `stage` and belong to `service`.
pub fn filter_sequences(
    states: Vec<Value>,
    stage: Option<&str>,
    service: Option<&str>,
) -> Vec<Value> {
    states
        .into_iter()
        .filter(|s| service.is_none_or(|x| text(s, "service") == x))
        .filter(|s| stage.is_none_or(|x| array(s, "stages").iter().any(|st| text(st, "name") == x)))
        .collect()
}

/// The `get sequences` table: one row per sequence and stage.
pub fn sequences_table(states: &[Value]) -> Table {
    let mut t = Table::new(&[
        "KEPTN CONTEXT",
        "SEQUENCE",
        "SERVICE",
        "STATE",
        "STAGE",
        "STAGE STATE",
        "IMAGE",
        "EVALUATION",
        "TRIGGERED",
    ]);
    for s in states {
        let head = [
            text(s, "shkeptncontext").to_string(),
            text(s, "name").to_string(),
            text(s, "service").to_string(),
            text(s, "state").to_string(),
        ];
        let stages = array(s, "stages");
        if stages.is_empty() {
            let mut row = head.to_vec();
            row.extend([
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                human_time(text(s, "time")),
            ]);
            t.row(row);
        }
        for st in stages {
            let eval = st
                .get("latestEvaluation")
                .filter(|e| !text(e, "result").is_empty())
                .map(|e| match e.get("score").and_then(Value::as_f64) {
                    Some(score) => format!("{} ({score})", text(e, "result")),
                    None => text(e, "result").to_string(),
                })
                .unwrap_or_default();
            let mut row = head.to_vec();
            row.extend([
                text(st, "name").to_string(),
                text(st, "state").to_string(),
                text(st, "image").to_string(),
                eval,
                human_time(text(s, "time")),
            ]);
            t.row(row);
        }
    }
    t
}

/// Runs `sluice get sequences --project P ...`.
pub fn sequences(args: &GetSequencesArgs) -> Result<i32> {
    let api = super::connect()?;
    block_on(async {
        let path = format!("/api/controlPlane/v1/sequence/{}", segment(&args.project));
        let mut q = vec![("pageSize", "50".to_string())];
        for (k, v) in [
            ("state", &args.state),
            ("name", &args.name),
            ("keptnContext", &args.keptn_context),
        ] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        let states = match all_pages(&api, &path, "states", &q).await {
            Err(e)
                if e.downcast_ref::<super::http::ApiError>()
                    .is_some_and(|a| a.is_not_found()) =>
            {
                bail!("project {:?} not found ({e})", args.project)
            }
            other => other?,
        };
        let states = filter_sequences(states, args.stage.as_deref(), args.service.as_deref());
        if states.is_empty() && args.output == crate::cli::OutputFormat::Table {
            println!("No sequences found.");
            return Ok(0);
        }
        print(args.output, &Value::Array(states.clone()), || {
            sequences_table(&states)
        });
        Ok(0)
    })?
}

/// The datastore query of `get events`.
pub fn events_query(args: &GetEventsArgs) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(t) = &args.event_type {
        q.push(("type", full_event_type(t)));
    }
    for (k, v) in [
        ("project", &args.project),
        ("stage", &args.stage),
        ("service", &args.service),
        ("keptnContext", &args.keptn_context),
    ] {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    q.push(("pageSize", args.page_size.to_string()));
    q
}

/// The `get events` table.
pub fn events_table(events: &[Value]) -> Table {
    let mut t = Table::new(&[
        "TIME",
        "TYPE",
        "STAGE",
        "SERVICE",
        "RESULT",
        "STATUS",
        "KEPTN CONTEXT",
        "ID",
    ]);
    for e in events {
        let d = e.get("data").cloned().unwrap_or(Value::Null);
        let ty = text(e, "type");
        t.row(vec![
            human_time(text(e, "time")),
            ty.strip_prefix(EVENT_TYPE_PREFIX).unwrap_or(ty).to_string(),
            text(&d, "stage").to_string(),
            text(&d, "service").to_string(),
            text(&d, "result").to_string(),
            text(&d, "status").to_string(),
            text(e, "shkeptncontext").to_string(),
            text(e, "id").to_string(),
        ]);
    }
    t
}

/// Runs `sluice get events [TYPE] ...`.
pub fn events(args: &GetEventsArgs) -> Result<i32> {
    let api = super::connect()?;
    block_on(async {
        let mut events = Vec::new();
        let mut next = String::new();
        for _ in 0..args.num_of_pages {
            let mut q = events_query(args);
            if !next.is_empty() {
                q.push(("nextPageKey", next.clone()));
            }
            let answer = api.get("/api/mongodb-datastore/event", &q).await?;
            events.extend(array(&answer, "events").iter().cloned());
            next = match answer.get("nextPageKey") {
                Some(Value::String(s)) if !s.is_empty() && s != "0" => s.clone(),
                Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => n.to_string(),
                _ => break,
            };
        }
        if events.is_empty() && args.output == crate::cli::OutputFormat::Table {
            println!("No events found.");
            return Ok(0);
        }
        print(args.output, &Value::Array(events.clone()), || {
            events_table(&events)
        });
        Ok(0)
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{ColorChoice, OutputFormat};
    use crate::style::Painter;

    fn project() -> Value {
        json!({"projectName": "sockshop", "creationDate": "1704207845000000000", "stages": [
            {"stageName": "dev", "services": [{"serviceName": "carts", "deployedImage": "carts:0.2", "creationDate": "1704207845000000000"}]},
            {"stageName": "prod", "services": [{"serviceName": "carts", "deployedImage": "carts:0.1"}, {"serviceName": "orders"}]}
        ]})
    }

    #[test]
    fn project_and_service_tables() {
        let painter = Painter::for_stdout(ColorChoice::Never);
        assert_eq!(
            projects_table(&[project()]).render(painter),
            "NAME       CREATION DATE         STAGES      SERVICES\nsockshop   2024-01-02 15:04:05   dev, prod   carts, orders\n"
        );
        let rows = service_rows(&project(), Some("carts"), None);
        assert_eq!(rows.len(), 2);
        let t = services_table(&rows).render(painter);
        assert!(t.contains("carts     prod    carts:0.1"), "{t}");
        assert_eq!(service_rows(&project(), None, Some("prod")).len(), 2);
    }

    #[test]
    fn sequences_are_filtered_and_tabled() {
        let states = vec![
            json!({"name": "delivery", "service": "carts", "shkeptncontext": "c1", "state": "finished", "time": "2024-01-02T15:04:05Z",
                   "stages": [{"name": "dev", "state": "succeeded", "image": "carts:0.2", "latestEvaluation": {"result": "pass", "score": 100}},
                              {"name": "prod", "state": "triggered"}]}),
            json!({"name": "delivery", "service": "orders", "shkeptncontext": "c2", "state": "started", "stages": [{"name": "dev", "state": "triggered"}]}),
        ];
        assert_eq!(
            filter_sequences(states.clone(), Some("prod"), None).len(),
            1
        );
        assert_eq!(
            filter_sequences(states.clone(), None, Some("orders")).len(),
            1
        );
        let t = sequences_table(&states).render(Painter::for_stdout(ColorChoice::Never));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(
            lines[1].contains("dev     succeeded     carts:0.2   pass (100)"),
            "{t}"
        );
    }

    #[test]
    fn event_queries() {
        let args = GetEventsArgs {
            event_type: Some("evaluation.finished".into()),
            project: Some("p".into()),
            stage: None,
            service: Some("carts".into()),
            keptn_context: None,
            page_size: 5,
            num_of_pages: 1,
            output: OutputFormat::Table,
        };
        assert_eq!(
            events_query(&args),
            vec![
                ("type", "sh.keptn.event.evaluation.finished".to_string()),
                ("project", "p".to_string()),
                ("service", "carts".to_string()),
                ("pageSize", "5".to_string()),
            ]
        );
        assert_eq!(full_event_type("sh.keptn.log.error"), "sh.keptn.log.error");
    }
}
