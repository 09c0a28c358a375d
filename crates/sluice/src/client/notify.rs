//! `sluice create notification|notification-channel`, `sluice get notifications`, `sluice get
//! notification-deliveries` and `sluice delete notification|notification-channel`.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use crate::cli::{
    ChannelArgs, CreateChannelArgs, CreateNotificationArgs, DeleteChannelArgs,
    DeleteNotificationArgs, GetDeliveriesArgs, GetNotificationsArgs, OutputFormat,
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

fn base(project: &str) -> String {
    format!("/api/sluice/v1/project/{}/notification", segment(project))
}

/// A new channel's fields (`kind`, `url`, `template`, `secret`) from the flags.
pub fn channel_body(kind: &str, args: &ChannelArgs) -> Result<Value> {
    let url = match (&args.url, &args.url_file) {
        (Some(url), _) => url.trim().to_owned(),
        (None, Some(file)) => read_trimmed(file, "URL")?,
        (None, None) => return Err(anyhow!("give the channel's URL with --url or --url-file")),
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
    let mut body = json!({"kind": kind, "url": url});
    if let Some(t) = template {
        body["template"] = json!(t);
    }
    if let Some(s) = secret {
        body["secret"] = json!(s);
    }
    Ok(body)
}

/// The request body of `sluice create notification` (a rule with a new channel, or naming an
/// existing one).
pub fn create_body(args: &CreateNotificationArgs) -> Result<Value> {
    let channel = match (&args.use_channel, &args.channel) {
        (Some(name), _) => json!(name),
        (None, Some(kind)) => channel_body(kind, &args.target)?,
        (None, None) => {
            return Err(anyhow!(
                "give a new channel with --channel KIND and --url or --url-file, or an existing one with --use-channel"
            ));
        }
    };
    Ok(json!({
        "name": args.name,
        "channel": channel,
        "events": args.events,
        "stages": args.stages,
        "services": args.services,
    }))
}

/// Prints a generated signing secret once, alone on stdout, so that it can be captured.
fn show_secret(answer: &Value) {
    if let Some(secret) = answer["secret"].as_str() {
        eprintln!(
            "Its signing secret is shown only now: give it to the receiver to check the \
             webhook-signature header."
        );
        println!("{secret}");
    }
}

/// Runs `sluice create notification`.
pub fn create(args: &CreateNotificationArgs) -> Result<i32> {
    let body = create_body(args)?;
    let api = connect()?;
    let answer = block_on(api.post(&format!("{}/rule", base(&args.project)), &body))?
        .map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "Notification {} of project {} created: {} to channel {} ({}, {}).",
        answer["name"].as_str().unwrap_or(""),
        answer["project"].as_str().unwrap_or(""),
        list(&answer["events"]),
        answer["channel"].as_str().unwrap_or(""),
        answer["channelKind"].as_str().unwrap_or(""),
        answer["target"].as_str().unwrap_or(""),
    );
    show_secret(&answer);
    Ok(0)
}

/// Runs `sluice create notification-channel`.
pub fn create_channel(args: &CreateChannelArgs) -> Result<i32> {
    let mut body = channel_body(&args.kind, &args.target)?;
    body["name"] = json!(args.name);
    let api = connect()?;
    let answer = block_on(api.post(&format!("{}/channel", base(&args.project)), &body))?
        .map_err(|e| anyhow!("{e}"))?;
    eprintln!(
        "Notification channel {} of project {} created ({}, {}).",
        answer["name"].as_str().unwrap_or(""),
        answer["project"].as_str().unwrap_or(""),
        answer["kind"].as_str().unwrap_or(""),
        answer["target"].as_str().unwrap_or(""),
    );
    show_secret(&answer);
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
            rule: None,
            state: None,
            limit: 50,
            output: args.output,
        });
    }
    let (what, key) = if args.channels {
        ("channel", "channels")
    } else {
        ("rule", "rules")
    };
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
                .get(&format!("{}/{what}", base(&p)), &[])
                .await
                .map_err(|e| anyhow!("{e}"))?;
            items.extend(answer[key].as_array().cloned().unwrap_or_default());
        }
        Ok::<_, anyhow::Error>(items)
    })??;
    if items.is_empty() && args.output == OutputFormat::Table {
        println!(
            "No notification {key}. Create one with `sluice create notification --project P \
             --name N --channel slack --url-file F --events sequence.failed`."
        );
        return Ok(0);
    }
    let value = json!({ key: items });
    print(args.output, &value, || {
        if args.channels {
            let mut table = Table::new(&["PROJECT", "NAME", "KIND", "TARGET", "MESSAGE"]);
            for c in &items {
                let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
                table.row(vec![
                    s("project"),
                    s("name"),
                    s("kind"),
                    s("target"),
                    if s("template").is_empty() {
                        "default".into()
                    } else {
                        "template".into()
                    },
                ]);
            }
            return table;
        }
        let mut table = Table::new(&[
            "PROJECT", "NAME", "EVENTS", "STAGES", "SERVICES", "CHANNEL", "KIND", "TARGET",
        ]);
        for r in &items {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            table.row(vec![
                s("project"),
                s("name"),
                list(&r["events"]),
                or_all(list(&r["stages"])),
                or_all(list(&r["services"])),
                s("channel"),
                s("channelKind"),
                s("target"),
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
    if let Some(r) = &args.rule {
        query.push(("rule", r.clone()));
    }
    if let Some(s) = &args.state {
        query.push(("state", s.clone()));
    }
    let answer = block_on(api.get(&format!("{}/delivery", base(&args.project)), &query))?
        .map_err(|e| anyhow!("{e}"))?;
    print(args.output, &answer, || {
        let mut table = Table::new(&[
            "CREATED", "RULE", "CHANNEL", "EVENT", "STAGE", "SERVICE", "STATE", "ATTEMPTS", "LAST",
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
                s("rule"),
                s("channel"),
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
        &format!("{}/rule/{}", base(&args.project), segment(&args.name)),
        &[(
            "channel",
            if args.keep_channel { "keep" } else { "unused" }.to_owned(),
        )],
        None,
    ))?
    .map_err(|e| anyhow!("{e}"))?;
    println!("{}", answer["message"].as_str().unwrap_or("deleted"));
    Ok(0)
}

/// Runs `sluice delete notification-channel`.
pub fn delete_channel(args: &DeleteChannelArgs) -> Result<i32> {
    let api = connect()?;
    let answer = block_on(api.call(
        reqwest::Method::DELETE,
        &format!("{}/channel/{}", base(&args.project), segment(&args.name)),
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

    fn args(
        channel: Option<&str>,
        use_channel: Option<&str>,
        url: Option<&str>,
    ) -> CreateNotificationArgs {
        CreateNotificationArgs {
            project: "shop".into(),
            name: "ops".into(),
            channel: channel.map(Into::into),
            use_channel: use_channel.map(Into::into),
            target: ChannelArgs {
                url: url.map(Into::into),
                url_file: None,
                template_file: None,
                secret_file: None,
            },
            events: vec!["sequence.failed".into()],
            stages: vec!["prod".into()],
            services: vec![],
        }
    }

    #[test]
    fn the_create_body_carries_a_new_channel_or_names_one() {
        let dir = std::env::temp_dir().join(format!("sluice-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("url");
        std::fs::write(&file, "https://hooks.slack.com/services/x\n").unwrap();
        let mut new = args(Some("slack"), None, None);
        new.target.url_file = Some(file);
        let body = create_body(&new).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            body["channel"],
            json!({"kind": "slack", "url": "https://hooks.slack.com/services/x"})
        );
        assert_eq!(body["events"], json!(["sequence.failed"]));
        assert_eq!(body["stages"], json!(["prod"]));
        let existing = create_body(&args(None, Some("chat"), None)).unwrap();
        assert_eq!(existing["channel"], json!("chat"));
        assert!(
            create_body(&args(Some("slack"), None, None)).is_err(),
            "no URL"
        );
        assert!(create_body(&args(None, None, Some("https://x"))).is_err());
    }
}
