//! `sluice create notification`, `sluice get notifications`, `sluice get
//! notification-deliveries` and `sluice delete notification`.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use crate::cli::{
    CreateNotificationArgs, DeleteNotificationArgs, GetDeliveriesArgs, GetNotificationsArgs,
    OutputFormat,
};
use crate::client::connect;
use crate::client::get::all_pages;
use crate::client::http::{block_on, segment};
use crate::client::output::{Table, print};

fn read_trimmed(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} from {}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// The request body of `sluice create notification`.
pub fn create_body(args: &CreateNotificationArgs) -> Result<Value> {
    let url = match (&args.url, &args.url_file) {
        (Some(url), _) => url.trim().to_owned(),
        (None, Some(file)) => read_trimmed(file, "URL")?,
        (None, None) => return Err(anyhow!("give the URL with --url or --url-file")),
    };
    let template = match &args.template_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the template from {}", file.display()))?,
        ),
        None => None,
    };
    let secret = match &args.secret_file {
        Some(file) => Some(read_trimmed(file, "signing secret")?),
        None => None,
    };
    Ok(json!({
        "name": args.name,
        "channel": args.channel,
        "url": url,
        "events": args.events,
        "stages": args.stages,
        "services": args.services,
        "template": template,
        "secret": secret,
    }))
}

/// Runs `sluice create notification`. A generated signing secret is printed once, alone on
/// stdout, so that it can be captured.
pub fn create(args: &CreateNotificationArgs) -> Result<i32> {
    let body = create_body(args)?;
    let api = connect()?;
    let answer = block_on(api.post(
        &format!(
            "/api/sluice/v1/project/{}/notification",
            segment(&args.project)
        ),
        &body,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "Notification {} of project {} created: {} to {} ({}).",
        answer["name"].as_str().unwrap_or(""),
        answer["project"].as_str().unwrap_or(""),
        list(&answer["events"]),
        answer["target"].as_str().unwrap_or(""),
        answer["channel"].as_str().unwrap_or(""),
    );
    if let Some(secret) = answer["secret"].as_str() {
        eprintln!(
            "Its signing secret is shown only now: give it to the receiver to check the \
             webhook-signature header."
        );
        println!("{secret}");
    }
    Ok(0)
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn or_all(text: String) -> String {
    if text.is_empty() { "*".into() } else { text }
}

/// Runs `sluice get notifications`.
pub fn list_notifications(args: &GetNotificationsArgs) -> Result<i32> {
    if args.deliveries {
        return deliveries(&GetDeliveriesArgs {
            project: args.project.clone().unwrap_or_default(),
            notification: None,
            state: None,
            limit: 50,
            output: args.output,
        });
    }
    let api = connect()?;
    let items = block_on(async {
        let projects: Vec<String> = match &args.project {
            Some(p) => vec![p.clone()],
            None => all_pages(
                &api,
                "/api/controlPlane/v1/project",
                "projects",
                &[("pageSize", "50".to_string())],
            )
            .await?
            .iter()
            .filter_map(|p| p["projectName"].as_str().map(str::to_owned))
            .collect(),
        };
        let mut items = Vec::new();
        for p in projects {
            let answer = api
                .get(
                    &format!("/api/sluice/v1/project/{}/notification", segment(&p)),
                    &[],
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            items.extend(
                answer["notifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        Ok::<_, anyhow::Error>(items)
    })??;
    if items.is_empty() && args.output == OutputFormat::Table {
        println!(
            "No notifications. Create one with `sluice create notification --project P --name N \
             --channel slack --url-file F --events sequence.failed`."
        );
        return Ok(0);
    }
    let value = json!({ "notifications": items });
    print(args.output, &value, || {
        let mut table = Table::new(&[
            "PROJECT", "NAME", "CHANNEL", "TARGET", "EVENTS", "STAGES", "SERVICES", "TEMPLATE",
        ]);
        for n in &items {
            let s = |k: &str| n[k].as_str().unwrap_or("").to_owned();
            table.row(vec![
                s("project"),
                s("name"),
                s("channel"),
                s("target"),
                list(&n["events"]),
                or_all(list(&n["stages"])),
                or_all(list(&n["services"])),
                if s("template").is_empty() {
                    "default".into()
                } else {
                    "custom".into()
                },
            ]);
        }
        table
    });
    Ok(0)
}

/// Runs `sluice get notification-deliveries` (and `get notifications --deliveries`).
pub fn deliveries(args: &GetDeliveriesArgs) -> Result<i32> {
    let api = connect()?;
    let mut query = vec![("pageSize", args.limit.to_string())];
    if let Some(n) = &args.notification {
        query.push(("notification", n.clone()));
    }
    if let Some(s) = &args.state {
        query.push(("state", s.clone()));
    }
    let answer = block_on(api.get(
        &format!(
            "/api/sluice/v1/project/{}/notification-delivery",
            segment(&args.project)
        ),
        &query,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    print(args.output, &answer, || {
        let mut table = Table::new(&[
            "CREATED",
            "NOTIFICATION",
            "EVENT",
            "STAGE",
            "SERVICE",
            "STATE",
            "ATTEMPTS",
            "LAST",
            "CONTEXT",
        ]);
        for d in answer["deliveries"].as_array().into_iter().flatten() {
            let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
            let last = match (d["lastStatus"].as_u64(), s("lastError")) {
                (_, e) if !e.is_empty() => e,
                (Some(code), _) if code > 0 => format!("HTTP {code}"),
                _ => String::new(),
            };
            table.row(vec![
                s("createdAt"),
                s("notification"),
                s("event"),
                s("stage"),
                s("service"),
                s("state"),
                d["attempts"].as_u64().unwrap_or(0).to_string(),
                last,
                s("keptnContext"),
            ]);
        }
        table
    });
    Ok(0)
}

/// Runs `sluice delete notification`.
pub fn delete(args: &DeleteNotificationArgs) -> Result<i32> {
    let api = connect()?;
    let answer = block_on(api.call(
        reqwest::Method::DELETE,
        &format!(
            "/api/sluice/v1/project/{}/notification/{}",
            segment(&args.project),
            segment(&args.name)
        ),
        &[],
        None,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    println!("{}", answer["message"].as_str().unwrap_or("deleted"));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_body_reads_the_url_file() {
        let dir = std::env::temp_dir().join(format!("sluice-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("url");
        std::fs::write(&file, "https://hooks.slack.com/services/x\n").unwrap();
        let args = CreateNotificationArgs {
            project: "shop".into(),
            name: "ops".into(),
            channel: "slack".into(),
            url: None,
            url_file: Some(file),
            events: vec!["sequence.failed".into()],
            stages: vec!["prod".into()],
            services: vec![],
            template_file: None,
            secret_file: None,
        };
        let body = create_body(&args).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(body["url"], "https://hooks.slack.com/services/x");
        assert_eq!(body["events"], json!(["sequence.failed"]));
        assert_eq!(body["stages"], json!(["prod"]));
        assert_eq!(body["secret"], Value::Null);
    }
}
