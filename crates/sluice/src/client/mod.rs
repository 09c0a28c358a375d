//! The client commands: everything except `server`, `lint` and `evaluate` talks to a sluice
//! (or Keptn) server over its REST API with Keptn's CLI verbs and flags.
//!
//! [`http`] holds the one HTTP client, [`config`] the stored credentials; each command family
//! has its module, and the request bodies are built by pure functions that are unit-tested
//! without a network.

pub mod access;
pub mod approval;
pub mod auth;
pub mod baseline;
pub mod cluster;
pub mod config;
pub mod control;
pub mod get;
pub mod http;
pub mod logs;
pub mod notify;
pub mod output;
pub mod pairs;
pub mod project;
pub mod resource;
pub mod settings;
pub mod sse;
pub mod trigger;
pub mod watch;

use anyhow::{Result, bail};
use serde_json::Value;

use self::http::{Api, segment};

/// Connects with the stored (or environment) credentials.
pub fn connect() -> Result<Api> {
    Api::new(&config::load()?)
}

/// A fresh random (version 4) UUID for event ids.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `GET /api/controlPlane/v1/project/{name}`; a 404 becomes "project NAME not found".
pub async fn fetch_project(api: &Api, name: &str) -> Result<Value> {
    let path = format!("/api/controlPlane/v1/project/{}", segment(name));
    match api.get(&path, &[]).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() && names_missing_project(&e) => bail!(
            "project {name:?} not found on {}\n  hint: `sluice get projects` lists the projects",
            api.endpoint()
        ),
        Err(e) => Err(e.into()),
    }
}

/// Whether a 404 is about the project (Keptn says "project not found"; a bare "not found" is
/// taken the same way) rather than, say, a route the server does not have.
fn names_missing_project(e: &http::ApiError) -> bool {
    match e {
        http::ApiError::Server { message, .. } => {
            let m = message.to_ascii_lowercase();
            m.contains("project") || m == "not found" || m.is_empty()
        }
        _ => false,
    }
}

/// The stage names of a project (from `GET project`), in shipyard order.
pub fn stage_names(project: &Value) -> Vec<String> {
    project
        .get("stages")
        .and_then(Value::as_array)
        .map(|stages| {
            stages
                .iter()
                .map(|s| output::text(s, "stageName").to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The service names of one stage of a project.
pub fn service_names(project: &Value, stage: &str) -> Vec<String> {
    project
        .get("stages")
        .and_then(Value::as_array)
        .and_then(|stages| {
            stages
                .iter()
                .find(|s| output::text(s, "stageName") == stage)
        })
        .and_then(|s| s.get("services"))
        .and_then(Value::as_array)
        .map(|svcs| {
            svcs.iter()
                .map(|s| output::text(s, "serviceName").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that `stage` is a stage of the project.
pub fn require_stage(project_name: &str, project: &Value, stage: &str) -> Result<()> {
    let stages = stage_names(project);
    if stages.iter().any(|s| s == stage) {
        return Ok(());
    }
    bail!(
        "stage {stage:?} not found in project {project_name:?}; its stages are: {}",
        list_or_none(&stages)
    )
}

/// Checks that `service` exists in `stage` of the project.
pub fn require_service(
    project_name: &str,
    project: &Value,
    stage: &str,
    service: &str,
) -> Result<()> {
    let services = service_names(project, stage);
    if services.iter().any(|s| s == service) {
        return Ok(());
    }
    bail!(
        "service {service:?} not found in stage {stage:?} of project {project_name:?}; services there: {}\n  hint: create it with `sluice create service {service} --project {project_name}`",
        list_or_none(&services)
    )
}

/// The sequence names the project's shipyard defines for a stage, when the project answer
/// carries a readable shipyard.
pub fn shipyard_sequences(project: &Value, stage: &str) -> Option<Vec<String>> {
    let text = project.get("shipyard").and_then(Value::as_str)?;
    let shipyard = sluice_model::shipyard::parse(text).value?;
    let st = shipyard.stages.iter().find(|s| s.name == stage)?;
    Some(st.sequences.iter().map(|q| q.name.clone()).collect())
}

/// Checks that the shipyard has the sequence in the stage (skipped when the shipyard is not
/// part of the answer).
pub fn require_sequence(
    project_name: &str,
    project: &Value,
    stage: &str,
    sequence: &str,
) -> Result<()> {
    match shipyard_sequences(project, stage) {
        Some(seqs) if !seqs.iter().any(|s| s == sequence) => bail!(
            "sequence {sequence:?} is not defined for stage {stage:?} in the shipyard of project {project_name:?}; sequences there: {}",
            list_or_none(&seqs)
        ),
        _ => Ok(()),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// The `keptnContext` of an answer to `POST /api/v1/event` or an evaluation trigger.
pub fn context_of(answer: &Value) -> Result<String> {
    match answer.get("keptnContext").and_then(Value::as_str) {
        Some(c) if !c.is_empty() => Ok(c.to_string()),
        _ => bail!(
            "the server accepted the event but did not say its keptnContext (answer: {answer})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project() -> Value {
        json!({
            "projectName": "sockshop",
            "shipyard": "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n    - name: prod\n      sequences: []\n",
            "stages": [
                {"stageName": "dev", "services": [{"serviceName": "carts"}]},
                {"stageName": "prod", "services": []}
            ]
        })
    }

    #[test]
    fn stages_and_services_are_checked() {
        let p = project();
        assert_eq!(stage_names(&p), ["dev", "prod"]);
        assert!(require_stage("sockshop", &p, "dev").is_ok());
        let e = require_stage("sockshop", &p, "staging")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "stage \"staging\" not found in project \"sockshop\"; its stages are: dev, prod"
        );
        assert!(require_service("sockshop", &p, "dev", "carts").is_ok());
        let e = require_service("sockshop", &p, "prod", "carts")
            .unwrap_err()
            .to_string();
        assert!(e.contains("services there: (none)"), "{e}");
    }

    #[test]
    fn sequences_come_from_the_shipyard() {
        let p = project();
        assert!(require_sequence("sockshop", &p, "dev", "delivery").is_ok());
        let e = require_sequence("sockshop", &p, "dev", "rollback")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sequences there: delivery"), "{e}");
        // No shipyard in the answer: nothing to check against.
        assert!(require_sequence("sockshop", &json!({}), "dev", "x").is_ok());
    }

    #[test]
    fn uuids_are_version_4() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, new_uuid());
    }
}
