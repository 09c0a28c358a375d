//! `sluice import keptn`: creates a Keptn project in the server from the project's git
//! upstream, through the same API calls as `create project`, `create service` and
//! `add-resource`, so every file is checked by the server on the way in.
//!
//! The run has three steps: read the repository ([`clone`]) into Keptn's layout
//! ([`layout`]), compare each item with what the server has (the plan), then carry out the
//! plan item by item. A refused item is reported and the others go on; the exit code says
//! whether any was refused. Comparing first makes a second run change nothing.

pub mod clone;
pub mod history;
pub mod layout;

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::cli::ImportKeptnArgs;
use crate::client::http::{Api, ApiError, block_on, segment};
use crate::client::project::project_body;
use crate::client::resource::{resource_body, resource_path};
use crate::client::service_names;
use layout::{KeptnProject, Level, Resource};

/// What to do with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It is not in the server yet.
    Create,
    /// It is there with other content.
    Update,
    /// It is there as it is in the repository.
    Keep,
}

impl Action {
    fn word(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Action::Create, false) => "created",
            (Action::Update, false) => "updated",
            (Action::Keep, false) => "unchanged",
            (Action::Create, true) => "create",
            (Action::Update, true) => "update",
            (Action::Keep, true) => "keep",
        }
    }
}

/// The counts printed at the end.
#[derive(Debug, Default)]
struct Tally {
    created: usize,
    updated: usize,
    kept: usize,
    failed: usize,
}

impl Tally {
    fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.created += 1,
            Action::Update => self.updated += 1,
            Action::Keep => self.kept += 1,
        }
    }
}

/// Runs `sluice import keptn`.
pub fn keptn(args: &ImportKeptnArgs) -> Result<i32> {
    let credentials = match &args.git_token_file {
        Some(file) => {
            let token = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?;
            let token = token.trim().to_owned();
            if token.is_empty() {
                bail!("the token file {} is empty", file.display());
            }
            let user = args.git_user.clone().unwrap_or_else(|| "keptn".into());
            Some((user, token))
        }
        None => None,
    };
    let source = clone::Source {
        url: args.git_url.clone(),
        credentials,
        timeout: args.git_timeout,
    };
    let snapshot = clone::read(&source)?;
    let project = layout::read(&snapshot)?;
    let name = match (&args.project, &project.keptn_name) {
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => {
            bail!("the repository's metadata.yaml does not name the project: give --project NAME")
        }
    };
    sluice_model::names::check_project(&name).map_err(|m| anyhow::anyhow!("{m}"))?;
    report_found(&args.git_url, &snapshot.default_branch, &name, &project);
    let api = crate::client::connect()?;
    let failed = block_on(import(&api, &name, &project, args.dry_run))??;
    Ok(if failed { 1 } else { 0 })
}

fn report_found(url: &str, default_branch: &str, name: &str, project: &KeptnProject) {
    println!(
        "Read {url}: Keptn layout {}, default branch {default_branch}",
        project.layout.describe()
    );
    println!(
        "  project {name}: stages {}; services {}; {} files with the shipyard",
        project.stages.join(", "),
        if project.services.is_empty() {
            "(none)".to_owned()
        } else {
            project
                .services
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        },
        project.resources.len() + 1,
    );
    if !project.skipped.is_empty() {
        println!("  skipped (Keptn's bookkeeping, not needed by sluice):");
        for s in &project.skipped {
            println!("    {}: {}", s.origin, s.reason);
        }
    }
    if !project.unused.is_empty() {
        println!("  not used:");
        for u in &project.unused {
            println!("    {u}");
        }
    }
}

/// Plans and (unless `dry_run`) applies; true when an item was refused.
async fn import(api: &Api, name: &str, project: &KeptnProject, dry_run: bool) -> Result<bool> {
    let mut tally = Tally::default();
    if dry_run {
        println!("Plan (dry run: nothing is changed):");
    }
    let project_path = format!("/api/controlPlane/v1/project/{}", segment(name));
    let existing = match api.get(&project_path, &[]).await {
        Ok(p) => Some(p),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    let shipyard = project.shipyard.as_bytes();
    let action = match &existing {
        None => Action::Create,
        Some(_) => compare(api, name, &Level::Project, layout::SHIPYARD, shipyard).await?,
    };
    let stages = project.stages.join(", ");
    let line = format!("project {name} (shipyard.yaml; stages {stages})");
    if !dry_run && action != Action::Keep {
        let body = project_body(name, Some(&project.shipyard), None);
        let sent = match action {
            Action::Create => api.post("/api/controlPlane/v1/project", &body).await,
            _ => {
                api.call(
                    reqwest::Method::PUT,
                    "/api/controlPlane/v1/project",
                    &[],
                    Some(&body),
                )
                .await
            }
        };
        if let Err(e) = sent {
            // Without its project nothing else can be imported.
            bail!("project {name}: {e}");
        }
    }
    println!("  {:<9} {line}", action.word(dry_run));
    tally.count(action);

    let known: BTreeSet<String> = existing
        .as_ref()
        .map(|p| {
            project
                .stages
                .iter()
                .flat_map(|s| service_names(p, s))
                .collect()
        })
        .unwrap_or_default();
    let mut refused_services = BTreeSet::new();
    for service in &project.services {
        let action = if known.contains(service) {
            Action::Keep
        } else {
            Action::Create
        };
        if !dry_run && action == Action::Create {
            let path = format!("{project_path}/service");
            if let Err(e) = api.post(&path, &json!({ "serviceName": service })).await {
                eprintln!("error: service {service}: {e}");
                tally.failed += 1;
                refused_services.insert(service.clone());
                continue;
            }
        }
        println!("  {:<9} service {service}", action.word(dry_run));
        tally.count(action);
    }

    for resource in &project.resources {
        if let Level::Service(_, service) = &resource.level
            && refused_services.contains(service)
        {
            eprintln!(
                "error: {}: not imported, its service {service} could not be created",
                resource.origin
            );
            tally.failed += 1;
            continue;
        }
        let action = match existing {
            None => Action::Create,
            Some(_) => {
                compare(api, name, &resource.level, &resource.uri, &resource.content).await?
            }
        };
        if !dry_run
            && action != Action::Keep
            && let Err(e) = upload(api, name, resource, action).await
        {
            eprintln!("error: {} ({}): {e}", describe(resource), resource.origin);
            tally.failed += 1;
            continue;
        }
        println!("  {:<9} {}", action.word(dry_run), describe(resource));
        tally.count(action);
    }
    let verb = if dry_run { "would be " } else { "" };
    println!(
        "{} {verb}created, {} {verb}updated, {} unchanged, {} refused",
        tally.created, tally.updated, tally.kept, tally.failed
    );
    if tally.failed > 0 {
        eprintln!(
            "error: {} item{} of project {name} could not be imported (see above); fix them in \
             the repository and run the import again",
            tally.failed,
            if tally.failed == 1 { "" } else { "s" }
        );
    }
    Ok(tally.failed > 0)
}

fn describe(resource: &Resource) -> String {
    format!("{}: {}", resource.level.describe(), resource.uri)
}

fn stage_and_service(level: &Level) -> (Option<&str>, Option<&str>) {
    match level {
        Level::Project => (None, None),
        Level::Stage(s) => (Some(s), None),
        Level::Service(s, v) => (Some(s), Some(v)),
    }
}

/// Whether the server has the file at that level with that content.
async fn compare(
    api: &Api,
    project: &str,
    level: &Level,
    uri: &str,
    content: &[u8],
) -> Result<Action> {
    let (stage, service) = stage_and_service(level);
    let path = format!(
        "{}/{}",
        resource_path(project, stage, service),
        segment(uri)
    );
    let answer = match api.get(&path, &[]).await {
        Ok(a) => a,
        Err(e) if e.is_not_found() => return Ok(Action::Create),
        Err(e) => return Err(e.into()),
    };
    let stored = answer
        .get("resourceContent")
        .and_then(Value::as_str)
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok());
    Ok(if stored.as_deref() == Some(content) {
        Action::Keep
    } else {
        Action::Update
    })
}

/// Uploads one file (one request each, so a refused file does not hold back the others).
async fn upload(
    api: &Api,
    project: &str,
    resource: &Resource,
    action: Action,
) -> Result<Value, ApiError> {
    let (stage, service) = stage_and_service(&resource.level);
    let path = resource_path(project, stage, service);
    let body = resource_body(&resource.uri, &resource.content);
    let method = if action == Action::Update {
        reqwest::Method::PUT
    } else {
        reqwest::Method::POST
    };
    api.call(method, &path, &[], Some(&body)).await
}
