//! Which SLI provider a project uses (Keptn's `lighthouse-config-<project>` ConfigMap plus the
//! `prometheus-credentials-<project>` secret), kept as the store setting `monitoring.<project>`.
//!
//! Written by `POST /api/sluice/v1/project/{p}/monitoring` and by Keptn's legacy
//! `sh.keptn.event.monitoring.configure` event; read by the lighthouse (provider name) and by
//! the built-in providers (endpoint and credentials). The password itself lives only in the
//! secret store, never in the setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_model::event::KeptnEvent;
use sluice_model::event::data::MonitoringConfigureEventData;
use sluice_store::{Changes, Store};

/// Key in a `prometheus-credentials-<project>` secret that holds the password (Keptn's name).
pub const PASSWORD_KEY: &str = "PROMETHEUS_PASSWORD";
/// Key in that secret for the user (written for Keptn-style tooling; the setting is read).
pub const USER_KEY: &str = "PROMETHEUS_USER";
/// Key in that secret for the URL (written for Keptn-style tooling; the setting is read).
pub const URL_KEY: &str = "PROMETHEUS_URL";

/// Why the configuration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sluice_store::Error),
    /// The stored setting is not a monitoring configuration.
    #[error("the stored monitoring configuration of project {project} is unreadable: {source}")]
    Corrupt {
        /// The project.
        project: String,
        /// What was wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// A project's SLI provider and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MonitoringConfig {
    /// Provider name, as put into `get-sli.sliProvider` (`prometheus`, `loadtest`, or an
    /// external provider's name such as `dynatrace`).
    #[serde(rename = "type")]
    pub provider: String,
    /// Base URL of the monitoring system (Prometheus: `http://host:9090`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// User for basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Name of the secret holding the password under [`PASSWORD_KEY`].
    #[serde(
        rename = "password-secret",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub password_secret: Option<String>,
}

/// The setting key of a project's configuration.
pub fn setting_key(project: &str) -> String {
    format!("monitoring.{project}")
}

/// The secret that holds a project's monitoring password (Keptn's name).
pub fn secret_name(project: &str) -> String {
    format!("prometheus-credentials-{project}")
}

/// The project's configuration, if any.
pub async fn load(store: &Store, project: &str) -> Result<Option<MonitoringConfig>, Error> {
    match store.setting(&setting_key(project)).await? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|source| Error::Corrupt {
                project: project.to_owned(),
                source,
            }),
    }
}

/// Replaces the project's configuration.
pub async fn save(store: &Store, project: &str, config: &MonitoringConfig) -> Result<(), Error> {
    let value = serde_json::to_value(config).unwrap_or(Value::Null);
    store
        .commit(Changes {
            settings_set: vec![(setting_key(project), value)],
            ..Changes::default()
        })
        .await?;
    Ok(())
}

/// Stores the password of a project (with Keptn's secret keys) and returns the secret's name.
pub async fn save_password(
    store: &Store,
    project: &str,
    endpoint: Option<&str>,
    user: Option<&str>,
    password: &str,
) -> Result<String, Error> {
    let name = secret_name(project);
    let mut data = BTreeMap::new();
    data.insert(PASSWORD_KEY.to_owned(), password.to_owned());
    if let Some(u) = user {
        data.insert(USER_KEY.to_owned(), u.to_owned());
    }
    if let Some(e) = endpoint {
        data.insert(URL_KEY.to_owned(), e.to_owned());
    }
    store.set_secret(&name, &data).await?;
    Ok(name)
}

/// The password named by a configuration, if it has one and the secret exists.
pub async fn password(store: &Store, config: &MonitoringConfig) -> Result<Option<String>, Error> {
    let Some(name) = &config.password_secret else {
        return Ok(None);
    };
    match store.secret(name).await {
        Ok(mut data) => Ok(data.remove(PASSWORD_KEY)),
        Err(sluice_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Applies Keptn's `sh.keptn.event.monitoring.configure` (`data.type` = provider name), as
/// the lighthouse did by writing `lighthouse-config-<project>`: the provider changes, an
/// endpoint and credentials configured before are kept. Returns the stored configuration,
/// or `None` when the event names no project or type.
pub async fn apply_configure_event(
    store: &Store,
    event: &KeptnEvent,
) -> Result<Option<MonitoringConfig>, Error> {
    let Ok(data) = MonitoringConfigureEventData::from_data(event.data_value()) else {
        return Ok(None);
    };
    if data.project.is_empty() || data.provider.is_empty() {
        return Ok(None);
    }
    let mut config = load(store, &data.project).await?.unwrap_or_default();
    config.provider = data.provider;
    save(store, &data.project, &config).await?;
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shape() {
        let c = MonitoringConfig {
            provider: "prometheus".into(),
            endpoint: Some("http://p:9090".into()),
            user: Some("u".into()),
            password_secret: Some("prometheus-credentials-x".into()),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"type": "prometheus", "endpoint": "http://p:9090", "user": "u", "password-secret": "prometheus-credentials-x"})
        );
        let only: MonitoringConfig = serde_json::from_value(json!({"type": "loadtest"})).unwrap();
        assert_eq!(only.provider, "loadtest");
        assert_eq!(only.endpoint, None);
    }

    #[tokio::test]
    async fn round_trip_and_configure_event() {
        let dir = std::env::temp_dir().join(format!("sluice-mon-{}", crate::runtime::ids::fresh()));
        let store = Store::open(&dir).await.unwrap();
        store
            .unlock_secrets(sluice_store::SecretsKey::from_bytes([1; 32]))
            .await
            .unwrap();
        assert_eq!(load(&store, "p").await.unwrap(), None);
        let name = save_password(&store, "p", Some("http://x"), Some("u"), "pw")
            .await
            .unwrap();
        let c = MonitoringConfig {
            provider: "prometheus".into(),
            endpoint: Some("http://x".into()),
            user: Some("u".into()),
            password_secret: Some(name),
        };
        save(&store, "p", &c).await.unwrap();
        assert_eq!(load(&store, "p").await.unwrap(), Some(c.clone()));
        assert_eq!(password(&store, &c).await.unwrap().as_deref(), Some("pw"));

        let event = KeptnEvent {
            event_type: Some("sh.keptn.event.monitoring.configure".into()),
            data: Some(json!({"type": "dynatrace", "project": "p", "service": "s"})),
            ..KeptnEvent::default()
        };
        let applied = apply_configure_event(&store, &event)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(applied.provider, "dynatrace");
        assert_eq!(applied.endpoint.as_deref(), Some("http://x"));
        assert_eq!(load(&store, "p").await.unwrap(), Some(applied));
        let empty = KeptnEvent {
            data: Some(json!({"project": "p"})),
            ..KeptnEvent::default()
        };
        assert_eq!(apply_configure_event(&store, &empty).await.unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
