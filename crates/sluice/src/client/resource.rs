//! `sluice add-resource`: uploads a file to the project, a stage or a service of a stage.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Value, json};

use super::http::{block_on, segment};
use super::output::text;
use crate::cli::AddResourceArgs;

/// The resource URI for a file: `--resourceUri` when given, else the path as typed, with
/// forward slashes and without leading `./`.
pub fn resource_uri(file: &Path, explicit: Option<&str>) -> Result<String> {
    let raw = match explicit {
        Some(u) => u.to_string(),
        None => file.to_string_lossy().into_owned(),
    };
    let mut uri = raw.replace('\\', "/");
    while let Some(rest) = uri.strip_prefix("./") {
        uri = rest.to_string();
    }
    while uri.contains("//") {
        uri = uri.replace("//", "/");
    }
    if uri.is_empty() || uri.ends_with('/') {
        bail!("resource URI {raw:?} does not name a file");
    }
    if uri.split('/').any(|p| p == ".." || p.starts_with('~')) {
        bail!("resource URI {raw:?} must not contain '..' or '~'; give --resourceUri");
    }
    if uri.starts_with('/') {
        bail!("resource URI {raw:?} is absolute; give a relative --resourceUri such as slo.yaml");
    }
    Ok(uri)
}

/// The resource collection path for a project, stage and service.
pub fn resource_path(project: &str, stage: Option<&str>, service: Option<&str>) -> String {
    let mut p = format!("/api/resource-service/v1/project/{}", segment(project));
    if let Some(s) = stage {
        p.push_str(&format!("/stage/{}", segment(s)));
        if let Some(svc) = service {
            p.push_str(&format!("/service/{}", segment(svc)));
        }
    }
    p.push_str("/resource");
    p
}

/// The body of the resource `POST`.
pub fn resource_body(uri: &str, content: &[u8]) -> Value {
    json!({"resources": [{
        "resourceURI": uri,
        "resourceContent": base64::engine::general_purpose::STANDARD.encode(content),
    }]})
}

/// Runs `sluice add-resource`.
pub fn run(args: &AddResourceArgs) -> Result<i32> {
    if args.service.is_some() && args.stage.is_none() && !args.all_stages {
        bail!("--service needs --stage (or --all-stages): services live in stages");
    }
    let content = std::fs::read(&args.resource)
        .with_context(|| format!("cannot read the resource {}", args.resource.display()))?;
    let uri = resource_uri(&args.resource, args.resource_uri.as_deref())?;
    let body = resource_body(&uri, &content);
    let api = super::connect()?;
    block_on(async {
        let stages: Vec<Option<String>> = if args.all_stages {
            let path = format!(
                "/api/controlPlane/v1/project/{}/stage",
                segment(&args.project)
            );
            let answer = match api.get(&path, &[]).await {
                Err(e) if e.is_not_found() => bail!("project {:?} not found", args.project),
                other => other?,
            };
            let names: Vec<Option<String>> = answer
                .get("stages")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|s| Some(text(s, "stageName").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            if names.is_empty() {
                bail!("project {:?} has no stages", args.project);
            }
            names
        } else {
            vec![args.stage.clone()]
        };
        for stage in stages {
            let path = resource_path(&args.project, stage.as_deref(), args.service.as_deref());
            let answer = api.post(&path, &body).await?;
            let commit = text(&answer, "commitID");
            let place = match (&stage, &args.service) {
                (Some(s), Some(svc)) => format!("service {svc} in stage {s}"),
                (Some(s), None) => format!("stage {s}"),
                _ => "the project".to_string(),
            };
            println!(
                "Added {uri} to {place} of project {}{}",
                args.project,
                if commit.is_empty() {
                    String::new()
                } else {
                    format!(" (commit {commit})")
                }
            );
        }
        Ok(())
    })??;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_defaults_to_the_path_as_given() {
        let u = |p: &str| resource_uri(Path::new(p), None);
        assert_eq!(u("slo.yaml").unwrap(), "slo.yaml");
        assert_eq!(u("./helm/carts.tgz").unwrap(), "helm/carts.tgz");
        assert_eq!(u("././a//b.yaml").unwrap(), "a/b.yaml");
        assert_eq!(u(".\\prometheus\\sli.yaml").unwrap(), "prometheus/sli.yaml");
        assert!(u("../x.yaml").is_err());
        assert!(u("/etc/passwd").is_err());
        assert_eq!(
            resource_uri(Path::new("/tmp/x/slo-prod.yaml"), Some("slo.yaml")).unwrap(),
            "slo.yaml"
        );
    }

    #[test]
    fn paths_and_body() {
        assert_eq!(
            resource_path("sockshop", None, None),
            "/api/resource-service/v1/project/sockshop/resource"
        );
        assert_eq!(
            resource_path("sockshop", Some("dev"), Some("carts")),
            "/api/resource-service/v1/project/sockshop/stage/dev/service/carts/resource"
        );
        assert_eq!(
            resource_body("slo.yaml", b"hi"),
            json!({"resources": [{"resourceURI": "slo.yaml", "resourceContent": "aGk="}]})
        );
    }
}
