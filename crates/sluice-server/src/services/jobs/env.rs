//! A task's environment, built as JES built its container's `env`: the task's `env` entries
//! (from the event, literal strings, or every key of a secret), then `KEPTN_PROJECT`,
//! `KEPTN_STAGE`, `KEPTN_SERVICE`, then `LABELS_<KEY>` per event label. Also the secret
//! values to redact from everything the run stores.

use serde_json::Value;
use sluice_model::job::{EnvFormat, EnvSource, EnvVar, JsonPath, Task, env_value_string};
use sluice_store::Store;

use super::files::rewrite_keptn_path;
use sluice_model::yaml_writer::{YamlStyle, to_yaml};

/// Project, stage, service and labels of the event a run answers.
#[derive(Debug, Clone, Default)]
pub struct EventScope {
    /// `data.project`.
    pub project: String,
    /// `data.stage`.
    pub stage: String,
    /// `data.service`.
    pub service: String,
    /// `data.labels` (values rendered with `%v` when not strings).
    pub labels: Vec<(String, String)>,
}

impl EventScope {
    /// Reads the scope from an event's `data`.
    pub fn of(data: &Value) -> EventScope {
        let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let labels = data
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => sluice_model::job::go_sprint(other),
                        };
                        (k.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        EventScope {
            project: field("project"),
            stage: field("stage"),
            service: field("service"),
            labels,
        }
    }
}

/// The variables of one task, in JES's order (later entries win on a repeated name).
#[derive(Debug, Clone, Default)]
pub struct TaskEnv {
    /// `(name, value)` pairs.
    pub vars: Vec<(String, String)>,
    /// Values that came from secrets (to redact).
    pub secret_values: Vec<String>,
}

impl TaskEnv {
    /// The value of a variable (the last definition), for `$(VAR)` expansion.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// `LABELS_<KEY>`: the key upper-cased, `-` and spaces replaced by `_`.
pub fn label_var_name(key: &str) -> String {
    format!("LABELS_{}", key.replace(['-', ' '], "_").to_uppercase())
}

/// Builds a task's variables; the error says which entry could not be resolved.
pub async fn build(
    task: &Task,
    event_map: &Value,
    scope: &EventScope,
    store: &Store,
    keptn_dir: &std::path::Path,
) -> Result<TaskEnv, String> {
    let mut env = TaskEnv::default();
    for entry in &task.env {
        match entry.value_from {
            EnvSource::String => env.vars.push((
                entry.name.clone(),
                rewrite_keptn_path(&entry.value, keptn_dir),
            )),
            EnvSource::Event => {
                env.vars
                    .push((entry.name.clone(), event_value(entry, event_map)?));
            }
            EnvSource::Secret => {
                let data = secret(store, &entry.name).await?;
                for (key, value) in data {
                    if !value.is_empty() {
                        env.secret_values.push(value.clone());
                    }
                    env.vars.push((key, value));
                }
            }
        }
    }
    env.vars
        .push(("KEPTN_PROJECT".into(), scope.project.clone()));
    env.vars.push(("KEPTN_STAGE".into(), scope.stage.clone()));
    env.vars
        .push(("KEPTN_SERVICE".into(), scope.service.clone()));
    for (key, value) in &scope.labels {
        env.vars.push((label_var_name(key), value.clone()));
    }
    for (name, value) in &env.vars {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(format!("`{name}` is not a valid environment variable name"));
        }
        if value.contains('\0') {
            return Err(format!("the value of `{name}` contains a NUL character"));
        }
    }
    Ok(env)
}

/// The value of a `valueFrom: event` entry, rendered as JES rendered it.
fn event_value(entry: &EnvVar, event_map: &Value) -> Result<String, String> {
    let path: JsonPath = entry.value.parse().map_err(|e| {
        format!(
            "env {}: `{}` is not a usable JSONPath: {e}",
            entry.name, entry.value
        )
    })?;
    let selected = path.select(event_map).map_err(|e| {
        format!(
            "env {}: cannot read `{}` from the event: {e}",
            entry.name, entry.value
        )
    })?;
    match entry.format {
        Some(EnvFormat::Yaml) => Ok(to_yaml(selected, YamlStyle::GoYamlV2)),
        other => env_value_string(selected, other).map_err(|e| e.to_string()),
    }
}

async fn secret(store: &Store, name: &str) -> Result<Vec<(String, String)>, String> {
    let data = store.secret(name).await.map_err(|e| match e {
        sluice_store::Error::NotFound { .. } => format!("secret `{name}` does not exist"),
        other => format!("cannot read secret `{name}`: {other}"),
    })?;
    Ok(data.into_iter().collect())
}

/// A task's `env` entries for a Kubernetes Job (the builder adds `KEPTN_*` and `LABELS_*`):
/// values from the event and strings as they are (the pod has a real `/keptn`), and every key
/// of a sluice secret as a `secretKeyRef` to a per-run Secret named by `secret_name(index)`.
#[derive(Debug, Clone, Default)]
pub struct ClusterEnv {
    /// The entries, in file order.
    pub entries: Vec<sluice_kube::EnvEntry>,
    /// The per-run Secrets: `(name, key-value pairs)`.
    pub secrets: Vec<(String, Vec<(String, String)>)>,
    /// Values that came from secrets (to redact from the logs).
    pub secret_values: Vec<String>,
}

/// Builds [`ClusterEnv`]; the error says which entry could not be resolved.
pub async fn build_cluster(
    task: &Task,
    event_map: &Value,
    store: &Store,
    secret_name: impl Fn(usize) -> String,
) -> Result<ClusterEnv, String> {
    use sluice_kube::EnvEntry;
    let mut env = ClusterEnv::default();
    for entry in &task.env {
        match entry.value_from {
            EnvSource::String => env.entries.push(EnvEntry::Value {
                name: entry.name.clone(),
                value: entry.value.clone(),
            }),
            EnvSource::Event => env.entries.push(EnvEntry::Value {
                name: entry.name.clone(),
                value: event_value(entry, event_map)?,
            }),
            EnvSource::Secret => {
                let data = secret(store, &entry.name).await?;
                let name = secret_name(env.secrets.len());
                for (key, value) in &data {
                    if !value.is_empty() {
                        env.secret_values.push(value.clone());
                    }
                    env.entries.push(EnvEntry::SecretKey {
                        secret: name.clone(),
                        key: key.clone(),
                    });
                }
                env.secrets.push((name, data));
            }
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_follow_jes() {
        assert_eq!(label_var_name("version"), "LABELS_VERSION");
        assert_eq!(label_var_name("build-id x"), "LABELS_BUILD_ID_X");
    }

    #[test]
    fn scope_reads_labels() {
        let s = EventScope::of(&serde_json::json!({"project": "p", "labels": {"a": "1", "n": 2}}));
        assert_eq!(s.project, "p");
        assert_eq!(s.stage, "");
        assert_eq!(
            s.labels,
            vec![("a".into(), "1".into()), ("n".into(), "2".into())]
        );
    }
}
