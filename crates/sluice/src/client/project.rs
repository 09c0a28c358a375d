//! `sluice create|update|delete project` and `sluice create|delete service`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::http::{block_on, segment};
use super::output::text;
use crate::cli::{CreateProjectArgs, GitArgs, ProjectNameArgs, ServiceArgs, UpdateProjectArgs};

/// A shipyard file read and checked locally.
#[derive(Debug)]
pub struct CheckedShipyard {
    /// The file content.
    pub text: String,
    /// Stage names in order.
    pub stages: Vec<String>,
}

/// Reads a shipyard and validates it with the model's parser. Every diagnostic is printed to
/// stderr as `file:line:col: ...`; errors refuse the file.
pub fn check_shipyard(path: &Path) -> Result<CheckedShipyard> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the shipyard {}", path.display()))?;
    let parsed = sluice_model::shipyard::parse(&text);
    let shown = path.display().to_string();
    if !parsed.diagnostics.is_empty() {
        eprint!("{}", parsed.diagnostics.render(&shown));
    }
    if parsed.diagnostics.has_errors() {
        let n = parsed.diagnostics.error_count();
        bail!(
            "{shown} is not a valid shipyard ({n} error{}); nothing was sent",
            if n == 1 { "" } else { "s" }
        );
    }
    let stages = parsed
        .value
        .map(|s| s.stages.into_iter().map(|st| st.name).collect())
        .unwrap_or_default();
    Ok(CheckedShipyard { text, stages })
}

/// Keptn's `gitCredentials` from the flags (the token or key read from its file), or `None`
/// without `--git-remote-url`.
pub fn git_credentials(git: &GitArgs) -> Result<Option<Value>> {
    let Some(url) = &git.git_remote_url else {
        return Ok(None);
    };
    let mut creds = Map::new();
    creds.insert("remoteURL".into(), json!(url));
    if let Some(u) = &git.git_user {
        creds.insert("user".into(), json!(u));
    }
    let token = match (&git.git_token, &git.git_token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    if let Some(t) = token {
        if t.is_empty() {
            bail!("the git token is empty");
        }
        creds.insert("https".into(), json!({ "token": t }));
    }
    if let Some(file) = &git.git_private_key_file {
        let key = std::fs::read(file)
            .with_context(|| format!("cannot read the key file {}", file.display()))?;
        creds.insert(
            "ssh".into(),
            json!({ "privateKey": base64::engine::general_purpose::STANDARD.encode(key) }),
        );
    }
    Ok(Some(Value::Object(creds)))
}

/// The body of `POST|PUT /api/controlPlane/v1/project`.
pub fn project_body(name: &str, shipyard: Option<&str>, git: Option<Value>) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    if let Some(s) = shipyard {
        body.insert(
            "shipyard".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(s)),
        );
    }
    if let Some(creds) = git {
        body.insert("gitCredentials".into(), creds);
    }
    Value::Object(body)
}

fn check_git(git: &GitArgs) -> Result<()> {
    if git.git_remote_url.is_none()
        && (git.git_user.is_some()
            || git.git_token.is_some()
            || git.git_token_file.is_some()
            || git.git_private_key_file.is_some())
    {
        bail!("--git-user, --git-token(-file) and --git-private-key-file need --git-remote-url");
    }
    Ok(())
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    let checked = if kind == "service" {
        sluice_model::names::check_service(name)
    } else {
        sluice_model::names::check_project(name)
    };
    checked.map_err(|m| anyhow::anyhow!("{m}"))
}

/// Runs `sluice create project`.
pub fn create(args: &CreateProjectArgs) -> Result<i32> {
    check_name("project", &args.name)?;
    check_git(&args.git)?;
    let shipyard = check_shipyard(&args.shipyard)?;
    let api = super::connect()?;
    let body = project_body(
        &args.name,
        Some(&shipyard.text),
        git_credentials(&args.git)?,
    );
    block_on(api.post("/api/controlPlane/v1/project", &body))??;
    println!(
        "Project {} created with stages: {}",
        args.name,
        shipyard.stages.join(", ")
    );
    Ok(0)
}

/// Runs `sluice update project`.
pub fn update(args: &UpdateProjectArgs) -> Result<i32> {
    check_git(&args.git)?;
    if args.shipyard.is_none() && args.git.git_remote_url.is_none() {
        bail!("nothing to update: give --shipyard FILE and/or --git-remote-url URL");
    }
    let shipyard = args.shipyard.as_deref().map(check_shipyard).transpose()?;
    let api = super::connect()?;
    let body = project_body(
        &args.name,
        shipyard.as_ref().map(|s| s.text.as_str()),
        git_credentials(&args.git)?,
    );
    block_on(api.call(
        reqwest::Method::PUT,
        "/api/controlPlane/v1/project",
        &[],
        Some(&body),
    ))??;
    println!("Project {} updated", args.name);
    Ok(0)
}

/// Runs `sluice delete project`.
pub fn delete(args: &ProjectNameArgs) -> Result<i32> {
    let api = super::connect()?;
    let path = format!("/api/controlPlane/v1/project/{}", segment(&args.name));
    let answer = block_on(api.call(reqwest::Method::DELETE, &path, &[], None))??;
    println!("Project {} deleted", args.name);
    let msg = text(&answer, "message");
    if !msg.is_empty() {
        println!("{msg}");
    }
    Ok(0)
}

/// Runs `sluice create service`.
pub fn create_service(args: &ServiceArgs) -> Result<i32> {
    check_name("service", &args.name)?;
    let api = super::connect()?;
    let path = format!(
        "/api/controlPlane/v1/project/{}/service",
        segment(&args.project)
    );
    block_on(api.post(&path, &json!({ "serviceName": args.name })))??;
    println!("Service {} created in project {}", args.name, args.project);
    Ok(0)
}

/// Runs `sluice delete service`.
pub fn delete_service(args: &ServiceArgs) -> Result<i32> {
    let api = super::connect()?;
    let path = format!(
        "/api/controlPlane/v1/project/{}/service/{}",
        segment(&args.project),
        segment(&args.name)
    );
    block_on(api.call(reqwest::Method::DELETE, &path, &[], None))??;
    println!(
        "Service {} deleted from project {}",
        args.name, args.project
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_body_has_base64_shipyard() {
        let body = project_body("sockshop", Some("kind: Shipyard\n"), None);
        assert_eq!(
            body,
            json!({"name": "sockshop", "shipyard": "a2luZDogU2hpcHlhcmQK"})
        );
        let git = GitArgs {
            git_remote_url: Some("https://git.example/sockshop.git".into()),
            git_user: Some("me".into()),
            git_token: Some("t".into()),
            ..GitArgs::default()
        };
        assert_eq!(
            project_body("p", None, git_credentials(&git).unwrap()),
            json!({"name": "p", "gitCredentials": {"remoteURL": "https://git.example/sockshop.git", "user": "me", "https": {"token": "t"}}})
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("project", "sock-shop2").is_ok());
        assert!(check_name("project", "Sockshop").is_err());
        assert!(check_name("project", "2shop").is_err());
        assert!(check_name("service", "a/b").is_err());
    }

    #[test]
    fn invalid_shipyards_are_refused() {
        let dir = std::env::temp_dir().join(format!("sluice-shipyard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: x\nspec:\n  stages:\n    - name: Bad_Stage\n").unwrap();
        let e = check_shipyard(&bad).unwrap_err().to_string();
        assert!(e.contains("not a valid shipyard"), "{e}");
        let e = check_shipyard(&dir.join("missing.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the shipyard"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
