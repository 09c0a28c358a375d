//! Projects, their stages (from the shipyard) and services with per-stage information.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::{Store, parse_stored};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A project as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRecord {
    /// Name (unique).
    pub name: String,
    /// The shipyard YAML text.
    pub shipyard: String,
    /// The shipyard's `apiVersion` (Keptn's `shipyardVersion`).
    pub shipyard_version: String,
    /// Creation time as Keptn writes it: Unix nanoseconds as a decimal string.
    pub creation_date: String,
    /// Git upstream information (no secrets), if any.
    pub git_upstream: Option<Value>,
    /// Stage names in shipyard order.
    pub stages: Vec<String>,
}

/// Keptn's `EventContextInfo`: the last event of a type for a service in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventContextInfo {
    /// Event id.
    pub event_id: String,
    /// Its context.
    pub keptn_context: String,
    /// Its time (Keptn writes Unix nanoseconds as a decimal string).
    pub time: String,
}

/// One entry of `lastEventTypes` to record with [`crate::Changes::last_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEvent {
    /// Project.
    pub project: String,
    /// Stage.
    pub stage: String,
    /// Service.
    pub service: String,
    /// The event type.
    pub event_type: String,
    /// Where it happened.
    pub info: EventContextInfo,
}

/// Which parts of a project/stage/service scope exist (see [`Store::scope`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeExists {
    /// The project exists.
    pub project: bool,
    /// The project has this stage.
    pub stage: bool,
    /// The project has this service.
    pub service: bool,
}

/// A service of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// Name.
    pub name: String,
    /// Creation time as Unix nanoseconds in a decimal string.
    pub creation_date: String,
}

/// A service as seen in one stage (Keptn's `ExpandedService`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStageRecord {
    /// Stage.
    pub stage: String,
    /// Service name.
    pub service: String,
    /// The service's creation date.
    pub creation_date: String,
    /// Image last deployed in this stage.
    pub deployed_image: Option<String>,
    /// Last event of each type (`lastEventTypes`).
    pub last_event_types: BTreeMap<String, EventContextInfo>,
    /// Open remediations (documents kept as given).
    pub open_remediations: Vec<Value>,
}

const SERVICE_STAGE_SELECT: &str = "SELECT ss.stage, ss.service, s.creation_date, \
     ss.deployed_image, ss.last_event_types, ss.open_remediations \
     FROM service_stages ss \
     JOIN services s ON s.project = ss.project AND s.name = ss.service \
     JOIN stages st ON st.project = ss.project AND st.name = ss.stage";

fn project_what(name: &str) -> String {
    format!("project {name:?}")
}

fn service_what(project: &str, service: &str) -> String {
    format!("service {service:?} in project {project:?}")
}

impl Store {
    /// Creates a project with its stages.
    pub async fn create_project(&self, p: &ProjectRecord) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            // A unique key, not a check before the insert: several processes may share a
            // PostgreSQL store.
            let done = sqlx::query(d.sql(
                "INSERT INTO projects (name, shipyard, shipyard_version, creation_date, \
                 git_upstream) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            ))
            .bind(&p.name)
            .bind(&p.shipyard)
            .bind(&p.shipyard_version)
            .bind(&p.creation_date)
            .bind(p.git_upstream.as_ref().map(Value::to_string))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(Error::exists(project_what(&p.name)));
            }
            backend::set_stages(&mut tx, &p.name, &p.stages).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Replaces a project's shipyard, shipyard version, upstream and stages (the creation
    /// date is kept). Services are kept; new stages get them, removed stages lose them.
    pub async fn update_project(&self, p: &ProjectRecord) -> Result<()> {
        self.forget_scopes();
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let done = sqlx::query(d.sql(
                "UPDATE projects SET shipyard = ?, shipyard_version = ?, git_upstream = ? \
                 WHERE name = ?",
            ))
            .bind(&p.shipyard)
            .bind(&p.shipyard_version)
            .bind(p.git_upstream.as_ref().map(Value::to_string))
            .bind(&p.name)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found(project_what(&p.name)));
            }
            backend::set_stages(&mut tx, &p.name, &p.stages).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// One project.
    pub async fn project(&self, name: &str) -> Result<ProjectRecord> {
        let (row, stages) = with_db!(self, |readers, writer, d| {
            let mut conn = readers.acquire().await?;
            let row: (String, String, String, String, Option<String>) = sqlx::query_as(d.sql(
                "SELECT name, shipyard, shipyard_version, creation_date, git_upstream \
                 FROM projects WHERE name = ?",
            ))
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Error::not_found(project_what(name)))?;
            let stages: Vec<String> = sqlx::query_scalar(
                d.sql("SELECT name FROM stages WHERE project = ? ORDER BY position"),
            )
            .bind(name)
            .fetch_all(&mut *conn)
            .await?;
            (row, stages)
        });
        let (name, shipyard, shipyard_version, creation_date, upstream) = row;
        Ok(ProjectRecord {
            name,
            shipyard,
            shipyard_version,
            creation_date,
            git_upstream: upstream
                .map(|u| parse_stored("git upstream", &u))
                .transpose()?,
            stages,
        })
    }

    /// All projects, sorted by name.
    pub async fn projects(&self) -> Result<Vec<ProjectRecord>> {
        let names: Vec<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar("SELECT name FROM projects ORDER BY name")
                .fetch_all(readers)
                .await?
        });
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            match self.project(&n).await {
                Ok(p) => out.push(p),
                // Deleted between the two reads.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Deletes a project with its stages, services, sequence executions, events,
    /// root events and invalidations (Keptn drops the project's collections), its
    /// notification channels, rules and deliveries, and (PostgreSQL) its shared job runs.
    pub async fn delete_project(&self, name: &str) -> Result<()> {
        self.forget_scopes();
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let done = sqlx::query(d.sql("DELETE FROM projects WHERE name = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found(project_what(name)));
            }
            sqlx::query(d.sql("DELETE FROM executions WHERE project = ?"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if d.is_pg() {
                // The shared job runs of the project's events (see `job_runs.rs`).
                sqlx::query(
                    "DELETE FROM job_runs WHERE triggered_id IN \
                     (SELECT id FROM events WHERE project = $1)",
                )
                .bind(name)
                .execute(&mut *tx)
                .await?;
            }
            shared::delete_project_events(&mut tx, name).await?;
            for statement in [
                "DELETE FROM notification_attempts WHERE delivery_id IN \
                 (SELECT id FROM notification_deliveries WHERE project = ?)",
                "DELETE FROM notification_deliveries WHERE project = ?",
                "DELETE FROM notification_rules WHERE project = ?",
                "DELETE FROM notification_channels WHERE project = ?",
            ] {
                sqlx::query(d.sql(statement))
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        self.forget_scopes();
        Ok(())
    }

    /// Creates a service in every stage of a project.
    pub async fn create_service(
        &self,
        project: &str,
        service: &str,
        creation_date: &str,
    ) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            if !backend::project_exists(&mut tx, project).await? {
                return Err(Error::not_found(project_what(project)));
            }
            let done = sqlx::query(d.sql(
                "INSERT INTO services (project, name, creation_date) VALUES (?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            ))
            .bind(project)
            .bind(service)
            .bind(creation_date)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(Error::exists(service_what(project, service)));
            }
            sqlx::query(d.sql(
                "INSERT INTO service_stages (project, stage, service) \
                 SELECT project, name, ? FROM stages WHERE project = ?",
            ))
            .bind(service)
            .bind(project)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes a service from all stages of a project.
    pub async fn delete_service(&self, project: &str, service: &str) -> Result<()> {
        self.forget_scopes();
        let done = with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let done = sqlx::query(d.sql("DELETE FROM services WHERE project = ? AND name = ?"))
                .bind(project)
                .bind(service)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // A service created again later starts without a pinned baseline.
            sqlx::query(d.sql("DELETE FROM baselines WHERE project = ? AND service = ?"))
                .bind(project)
                .bind(service)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<u64, Error>(done)
        });
        self.forget_scopes();
        if done? == 0 {
            return Err(Error::not_found(service_what(project, service)));
        }
        Ok(())
    }

    /// Which of a project, its stage and its service exist, in one query (the check every
    /// task event gets on arrival).
    ///
    /// Scopes found complete are remembered (every task event of every executor asks) until
    /// this store changes a project, stage or service.
    pub async fn scope(&self, project: &str, stage: &str, service: &str) -> Result<ScopeExists> {
        let key = (project.to_owned(), stage.to_owned(), service.to_owned());
        if self.is_known_scope(&key) {
            return Ok(ScopeExists {
                project: true,
                stage: true,
                service: true,
            });
        }
        let generation = self.scope_generation();
        let (p, st, sv): (bool, bool, bool) = with_db!(self, |readers, writer, d| {
            sqlx::query_as(d.sql(
                "SELECT EXISTS (SELECT 1 FROM projects WHERE name = ?1), \
                 EXISTS (SELECT 1 FROM stages WHERE project = ?1 AND name = ?2), \
                 EXISTS (SELECT 1 FROM services WHERE project = ?1 AND name = ?3)",
            ))
            .bind(project)
            .bind(stage)
            .bind(service)
            .fetch_one(readers)
            .await?
        });
        if p && st && sv {
            self.remember_scope(generation, key);
        }
        Ok(ScopeExists {
            project: p,
            stage: st,
            service: sv,
        })
    }

    /// The services of a project, sorted by name.
    pub async fn services(&self, project: &str) -> Result<Vec<ServiceRecord>> {
        let rows: Vec<(String, String)> = with_db!(self, |readers, writer, d| {
            let mut conn = readers.acquire().await?;
            if !backend::project_exists(&mut conn, project).await? {
                return Err(Error::not_found(project_what(project)));
            }
            sqlx::query_as(
                d.sql("SELECT name, creation_date FROM services WHERE project = ? ORDER BY name"),
            )
            .bind(project)
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(name, creation_date)| ServiceRecord {
                name,
                creation_date,
            })
            .collect())
    }

    /// Every service of every stage of a project, in stage order, then by service name.
    pub async fn service_stages(&self, project: &str) -> Result<Vec<ServiceStageRecord>> {
        with_db!(self, |readers, writer, d| {
            let mut conn = readers.acquire().await?;
            if !backend::project_exists(&mut conn, project).await? {
                return Err(Error::not_found(project_what(project)));
            }
            let rows = sqlx::query(d.sql_owned(format!(
                "{SERVICE_STAGE_SELECT} WHERE ss.project = ? ORDER BY st.position, ss.service"
            )))
            .bind(project)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(backend::service_stage_from_row).collect()
        })
    }

    /// One service in one stage.
    pub async fn service_stage(
        &self,
        project: &str,
        stage: &str,
        service: &str,
    ) -> Result<ServiceStageRecord> {
        with_db!(self, |readers, writer, d| {
            let row = sqlx::query(d.sql_owned(format!(
                "{SERVICE_STAGE_SELECT} WHERE ss.project = ? AND ss.stage = ? AND ss.service = ?"
            )))
            .bind(project)
            .bind(stage)
            .bind(service)
            .fetch_optional(readers)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "service {service:?} in stage {stage:?} of project {project:?}"
                ))
            })?;
            backend::service_stage_from_row(&row)
        })
    }

    /// Sets the image deployed for a service in a stage.
    pub async fn set_deployed_image(
        &self,
        project: &str,
        stage: &str,
        service: &str,
        image: &str,
    ) -> Result<()> {
        self.update_service_stage(project, stage, service, "deployed_image", image.to_string())
            .await
    }

    /// Replaces the open remediations of a service in a stage.
    pub async fn set_open_remediations(
        &self,
        project: &str,
        stage: &str,
        service: &str,
        remediations: &[Value],
    ) -> Result<()> {
        let text = Value::Array(remediations.to_vec()).to_string();
        self.update_service_stage(project, stage, service, "open_remediations", text)
            .await
    }

    async fn update_service_stage(
        &self,
        project: &str,
        stage: &str,
        service: &str,
        column: &'static str,
        value: String,
    ) -> Result<()> {
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql_owned(format!(
                "UPDATE service_stages SET {column} = ? \
                 WHERE project = ? AND stage = ? AND service = ?"
            )))
            .bind(value)
            .bind(project)
            .bind(stage)
            .bind(service)
            .execute(writer)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(Error::not_found(format!(
                "service {service:?} in stage {stage:?} of project {project:?}"
            )));
        }
        Ok(())
    }
}

/// The `lastEventTypes` changes of a batch, one JSON merge patch per service stage: the
/// entries of a service are merged in order, so a later entry of a type wins. Types that
/// are not Keptn names (a quote or a backslash) are skipped. The result is the one parameter
/// of [`write_last_events`]' statement: `[[project, stage, service, {type: info, ...}], ...]`.
pub(crate) fn last_event_patches(entries: &[LastEvent]) -> Result<Option<String>> {
    let mut by_service: BTreeMap<(&str, &str, &str), serde_json::Map<String, serde_json::Value>> =
        BTreeMap::new();
    for e in entries {
        if e.event_type.contains(['"', '\\']) {
            continue;
        }
        let info = serde_json::to_value(&e.info)
            .map_err(|err| Error::InvalidInput(format!("lastEventTypes: {err}")))?;
        by_service
            .entry((&e.project, &e.stage, &e.service))
            .or_default()
            .insert(e.event_type.clone(), info);
    }
    if by_service.is_empty() {
        return Ok(None);
    }
    let rows: Vec<serde_json::Value> = by_service
        .into_iter()
        .map(|((project, stage, service), patch)| {
            serde_json::json!([project, stage, service, patch])
        })
        .collect();
    serde_json::to_string(&rows)
        .map(Some)
        .map_err(|err| Error::InvalidInput(format!("lastEventTypes: {err}")))
}

dual! {
    use sqlx::Row;

    /// The record of a row of [`SERVICE_STAGE_SELECT`].
    pub(crate) fn service_stage_from_row(row: &DbRow) -> Result<ServiceStageRecord> {
        let types: String = row.try_get("last_event_types")?;
        let rem: String = row.try_get("open_remediations")?;
        Ok(ServiceStageRecord {
            stage: row.try_get("stage")?,
            service: row.try_get("service")?,
            creation_date: row.try_get("creation_date")?,
            deployed_image: row.try_get("deployed_image")?,
            last_event_types: parse_stored("lastEventTypes", &types)?,
            open_remediations: parse_stored("open remediations", &rem)?,
        })
    }

    pub(crate) async fn project_exists(conn: &mut Conn, name: &str) -> Result<bool> {
        let found: Option<String> = sqlx::query_scalar(D.sql("SELECT name FROM projects WHERE name = ?"))
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(found.is_some())
    }

    /// Makes the project's stage rows equal to `stages` (in order); new stages get a row for
    /// every service, removed stages lose theirs.
    pub(crate) async fn set_stages(conn: &mut Conn, project: &str, stages: &[String]) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for s in stages {
            if !seen.insert(s) {
                return Err(Error::InvalidInput(format!("stage {s:?} is listed twice")));
            }
        }
        let existing: Vec<String> = sqlx::query_scalar(D.sql("SELECT name FROM stages WHERE project = ?"))
            .bind(project)
            .fetch_all(&mut *conn)
            .await?;
        for old in existing.iter().filter(|o| !stages.contains(o)) {
            sqlx::query(D.sql("DELETE FROM stages WHERE project = ? AND name = ?"))
                .bind(project)
                .bind(old)
                .execute(&mut *conn)
                .await?;
        }
        for (i, s) in stages.iter().enumerate() {
            sqlx::query(D.sql(
                "INSERT INTO stages (project, name, position) VALUES (?, ?, ?) \
                 ON CONFLICT (project, name) DO UPDATE SET position = excluded.position",
            ))
            .bind(project)
            .bind(s)
            .bind(i as i64)
            .execute(&mut *conn)
            .await?;
            sqlx::query(D.sql(
                "INSERT INTO service_stages (project, stage, service) \
                 SELECT project, ?, name FROM services WHERE project = ? \
                 ON CONFLICT DO NOTHING",
            ))
            .bind(s)
            .bind(project)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executions::{Changes, ExecutionRecord};
    use crate::testutil::{backends, event};
    use crate::{EventQuery, NewEvent};
    use serde_json::json;
    use sluice_model::event::Timestamp;

    fn project(name: &str, stages: &[&str]) -> ProjectRecord {
        ProjectRecord {
            name: name.into(),
            shipyard: "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\n".into(),
            shipyard_version: "spec.keptn.sh/0.2.2".into(),
            creation_date: "1704067200000000000".into(),
            git_upstream: Some(json!({"remoteURL": "https://example.invalid/r.git", "user": "me"})),
            stages: stages.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn project_and_service_crud() {
        for dir in backends("projects").await {
            println!("projects: {:?}", dir.location);
            let store = dir.open().await;
            store
                .create_project(&project("shop", &["dev", "prod"]))
                .await
                .unwrap();
            store
                .create_project(&project("alpha", &["qa"]))
                .await
                .unwrap();
            assert!(matches!(
                store.create_project(&project("shop", &["x"])).await,
                Err(Error::AlreadyExists { .. })
            ));
            assert_eq!(
                store.project("shop").await.unwrap(),
                project("shop", &["dev", "prod"])
            );
            let names: Vec<String> = store
                .projects()
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect();
            assert_eq!(names, ["alpha", "shop"]);
            assert!(matches!(
                store.project("nope").await,
                Err(Error::NotFound { .. })
            ));

            store
                .create_service("shop", "carts", "1704067300000000000")
                .await
                .unwrap();
            store
                .create_service("shop", "orders", "1704067400000000000")
                .await
                .unwrap();
            assert!(matches!(
                store.create_service("shop", "carts", "1").await,
                Err(Error::AlreadyExists { .. })
            ));
            assert!(matches!(
                store.create_service("nope", "carts", "1").await,
                Err(Error::NotFound { .. })
            ));
            store
                .set_deployed_image("shop", "dev", "carts", "carts:0.1")
                .await
                .unwrap();
            let info = EventContextInfo {
                event_id: "e1".into(),
                keptn_context: "c1".into(),
                time: "1704067500000000000".into(),
            };
            store
                .commit(crate::Changes {
                    last_events: vec![LastEvent {
                        project: "shop".into(),
                        stage: "dev".into(),
                        service: "carts".into(),
                        event_type: "sh.keptn.event.deployment.finished".into(),
                        info: info.clone(),
                    }],
                    ..crate::Changes::default()
                })
                .await
                .unwrap();
            store
                .set_open_remediations("shop", "prod", "orders", &[json!({"keptnContext": "r1"})])
                .await
                .unwrap();
            assert!(matches!(
                store
                    .set_deployed_image("shop", "staging", "carts", "x")
                    .await,
                Err(Error::NotFound { .. })
            ));
            let ss = store.service_stage("shop", "dev", "carts").await.unwrap();
            assert_eq!(ss.deployed_image.as_deref(), Some("carts:0.1"));
            assert_eq!(
                ss.last_event_types["sh.keptn.event.deployment.finished"],
                info
            );
            assert_eq!(ss.creation_date, "1704067300000000000");
            // In a commit, merged into the map: a later entry of a type wins, others stay; an
            // unknown service is skipped.
            let at = |id: &str| EventContextInfo {
                event_id: id.into(),
                keptn_context: "ctx".into(),
                time: "1".into(),
            };
            let entry = |service: &str, ty: &str, id: &str| LastEvent {
                project: "shop".into(),
                stage: "dev".into(),
                service: service.into(),
                event_type: ty.into(),
                info: at(id),
            };
            store
                .commit(crate::Changes {
                    last_events: vec![
                        entry("carts", "sh.keptn.event.test.triggered", "a"),
                        entry("carts", "sh.keptn.event.test.triggered", "b"),
                        entry("ghost", "sh.keptn.event.test.triggered", "c"),
                    ],
                    ..crate::Changes::default()
                })
                .await
                .unwrap();
            let ss = store.service_stage("shop", "dev", "carts").await.unwrap();
            assert_eq!(
                ss.last_event_types["sh.keptn.event.test.triggered"],
                at("b")
            );
            assert_eq!(
                ss.last_event_types["sh.keptn.event.deployment.finished"],
                info
            );
            let all = store.service_stages("shop").await.unwrap();
            let keys: Vec<(String, String)> = all
                .iter()
                .map(|s| (s.stage.clone(), s.service.clone()))
                .collect();
            assert_eq!(
                keys,
                [
                    ("dev", "carts"),
                    ("dev", "orders"),
                    ("prod", "carts"),
                    ("prod", "orders")
                ]
                .map(|(a, b)| (a.to_string(), b.to_string()))
            );
            assert_eq!(all[3].open_remediations.len(), 1);

            // New shipyard: stage "prod" goes, "staging" comes before it; services follow.
            let mut updated = project("shop", &["dev", "staging"]);
            updated.creation_date = "ignored".into();
            updated.git_upstream = None;
            store.update_project(&updated).await.unwrap();
            let p = store.project("shop").await.unwrap();
            assert_eq!(p.stages, ["dev", "staging"]);
            assert_eq!(p.creation_date, "1704067200000000000");
            assert_eq!(p.git_upstream, None);
            let stages: Vec<String> = store
                .service_stages("shop")
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.stage)
                .collect();
            assert_eq!(stages, ["dev", "dev", "staging", "staging"]);
            assert_eq!(
                store
                    .service_stage("shop", "dev", "carts")
                    .await
                    .unwrap()
                    .deployed_image
                    .as_deref(),
                Some("carts:0.1"),
                "kept stages keep their data"
            );
            assert!(matches!(
                store.update_project(&project("nope", &[])).await,
                Err(Error::NotFound { .. })
            ));

            store.delete_service("shop", "orders").await.unwrap();
            let services: Vec<String> = store
                .services("shop")
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect();
            assert_eq!(services, ["carts"]);
            assert_eq!(store.service_stages("shop").await.unwrap().len(), 2);
            assert!(matches!(
                store.delete_service("shop", "orders").await,
                Err(Error::NotFound { .. })
            ));
        }
    }

    #[tokio::test]
    async fn scope_says_which_part_exists() {
        for dir in backends("scope").await {
            println!("scope: {:?}", dir.location);
            let store = dir.open().await;
            store
                .create_project(&project("shop", &["dev", "prod"]))
                .await
                .unwrap();
            store.create_service("shop", "carts", "1").await.unwrap();
            let all = ScopeExists {
                project: true,
                stage: true,
                service: true,
            };
            assert_eq!(store.scope("shop", "prod", "carts").await.unwrap(), all);
            assert_eq!(
                store.scope("shop", "qa", "carts").await.unwrap(),
                ScopeExists {
                    stage: false,
                    ..all
                }
            );
            assert_eq!(
                store.scope("shop", "dev", "orders").await.unwrap(),
                ScopeExists {
                    service: false,
                    ..all
                }
            );
            assert_eq!(
                store.scope("other", "dev", "carts").await.unwrap(),
                ScopeExists::default()
            );
            // Remembered scopes follow changes: a deleted service, a removed stage, a deleted
            // project are seen at once.
            store.delete_service("shop", "carts").await.unwrap();
            assert!(!store.scope("shop", "prod", "carts").await.unwrap().service);
            store.create_service("shop", "carts", "2").await.unwrap();
            assert_eq!(store.scope("shop", "prod", "carts").await.unwrap(), all);
            store
                .update_project(&project("shop", &["dev"]))
                .await
                .unwrap();
            assert!(!store.scope("shop", "prod", "carts").await.unwrap().stage);
            assert_eq!(store.scope("shop", "dev", "carts").await.unwrap(), all);
            store.delete_project("shop").await.unwrap();
            assert_eq!(
                store.scope("shop", "dev", "carts").await.unwrap(),
                ScopeExists::default()
            );
        }
    }

    #[tokio::test]
    async fn deleting_a_project_cascades() {
        for dir in backends("cascade").await {
            println!("cascade: {:?}", dir.location);
            let store = dir.open().await;
            for name in ["shop", "keep"] {
                store
                    .create_project(&project(name, &["dev"]))
                    .await
                    .unwrap();
                store.create_service(name, "carts", "1").await.unwrap();
                let ty = "sh.keptn.event.dev.delivery.triggered";
                let mut inv = event(
                    &format!("{name}-inv"),
                    &format!("{name}-c"),
                    "sh.keptn.event.evaluation.invalidated",
                    (name, "dev", "carts"),
                    2,
                );
                inv.triggeredid = Some("t".into());
                store
                    .commit(Changes {
                        events: vec![
                            NewEvent {
                                event: event(
                                    &format!("{name}-e"),
                                    &format!("{name}-c"),
                                    ty,
                                    (name, "dev", "carts"),
                                    1,
                                )
                                .into(),
                                outgoing: true,
                            },
                            NewEvent {
                                event: inv.into(),
                                outgoing: false,
                            },
                        ],
                        executions_upsert: vec![ExecutionRecord {
                            id: format!("{name}-x"),
                            project: name.into(),
                            stage: "dev".into(),
                            service: "carts".into(),
                            keptn_context: format!("{name}-c"),
                            sequence_name: "delivery".into(),
                            state: "started".into(),
                            terminal: false,
                            triggered_at: Timestamp::from_unix(1, 0),
                            updated_seq: 0,
                            body: "{}".into(),
                        }],
                        ..Changes::default()
                    })
                    .await
                    .unwrap();
            }
            store.delete_project("shop").await.unwrap();
            assert!(matches!(
                store.project("shop").await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store.services("shop").await,
                Err(Error::NotFound { .. })
            ));
            assert!(store.events_of_context("shop-c").await.unwrap().is_empty());
            let roots = store
                .events(&EventQuery {
                    project: Some("shop".into()),
                    root_only: true,
                    ..EventQuery::default()
                })
                .await
                .unwrap();
            assert_eq!(roots.total_count, 0);
            let active: Vec<String> = store
                .load_active_executions()
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(active, ["keep-x"]);
            let outbox: Vec<String> = store
                .undispatched_events()
                .await
                .unwrap()
                .into_iter()
                .filter_map(|e| e.id)
                .collect();
            assert_eq!(outbox, ["keep-e"]);
            let left = store.invalidation_rows().await;
            assert_eq!(left, [("keep".to_string(), "t".to_string())]);
            assert_eq!(store.service_stages("keep").await.unwrap().len(), 1);
            assert!(matches!(
                store.delete_project("shop").await,
                Err(Error::NotFound { .. })
            ));
            // The name can be used again.
            store
                .create_project(&project("shop", &["dev"]))
                .await
                .unwrap();
            assert!(store.services("shop").await.unwrap().is_empty());
        }
    }

    #[test]
    fn last_event_patches_merge_per_service_stage_in_order() {
        let entry = |service: &str, ty: &str, id: &str| LastEvent {
            project: "shop".into(),
            stage: "dev".into(),
            service: service.into(),
            event_type: ty.into(),
            info: EventContextInfo {
                event_id: id.into(),
                keptn_context: "ctx".into(),
                time: "1".into(),
            },
        };
        assert_eq!(last_event_patches(&[]).unwrap(), None);
        let patches = last_event_patches(&[
            entry("orders", "sh.keptn.event.a.triggered", "1"),
            entry("carts", "sh.keptn.event.a.triggered", "2"),
            entry("orders", "sh.keptn.event.a.triggered", "3"),
            entry("orders", "sh.keptn.event.b.finished", "4"),
            entry("carts", "sh.keptn.event.\"x", "5"),
        ])
        .unwrap()
        .unwrap();
        let info = |id: &str| json!({"eventId": id, "keptnContext": "ctx", "time": "1"});
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&patches).unwrap(),
            json!([
                ["shop", "dev", "carts", {"sh.keptn.event.a.triggered": info("2")}],
                ["shop", "dev", "orders", {
                    "sh.keptn.event.a.triggered": info("3"),
                    "sh.keptn.event.b.finished": info("4"),
                }],
            ])
        );
    }

    #[tokio::test]
    async fn one_commit_records_last_events_of_many_services() {
        for dir in backends("last-events").await {
            println!("last-events: {:?}", dir.location);
            let store = dir.open().await;
            store
                .create_project(&project("shop", &["dev", "prod"]))
                .await
                .unwrap();
            let services: Vec<String> = (0..40).map(|i| format!("svc{i}")).collect();
            for s in &services {
                store.create_service("shop", s, "1").await.unwrap();
            }
            let entry = |stage: &str, service: &str, ty: &str, id: &str| LastEvent {
                project: "shop".into(),
                stage: stage.into(),
                service: service.into(),
                event_type: ty.into(),
                info: EventContextInfo {
                    event_id: id.into(),
                    keptn_context: "ctx".into(),
                    time: "1".into(),
                },
            };
            let mut last_events = Vec::new();
            for s in &services {
                last_events.push(entry(
                    "dev",
                    s,
                    "sh.keptn.event.a.triggered",
                    &format!("{s}-1"),
                ));
                last_events.push(entry(
                    "prod",
                    s,
                    "sh.keptn.event.b.triggered",
                    &format!("{s}-2"),
                ));
            }
            for round in 0..2 {
                // The second round changes one type's entry and leaves the other.
                if round == 1 {
                    last_events = vec![entry("dev", "svc7", "sh.keptn.event.a.triggered", "new")];
                }
                store
                    .commit(crate::Changes {
                        last_events: last_events.clone(),
                        ..crate::Changes::default()
                    })
                    .await
                    .unwrap();
            }
            for s in &services {
                let dev = store.service_stage("shop", "dev", s).await.unwrap();
                let prod = store.service_stage("shop", "prod", s).await.unwrap();
                let want = if s == "svc7" {
                    "new".to_owned()
                } else {
                    format!("{s}-1")
                };
                assert_eq!(dev.last_event_types.len(), 1);
                assert_eq!(
                    dev.last_event_types["sh.keptn.event.a.triggered"].event_id,
                    want
                );
                assert_eq!(prod.last_event_types.len(), 1);
                assert_eq!(
                    prod.last_event_types["sh.keptn.event.b.triggered"].event_id,
                    format!("{s}-2")
                );
            }
        }
    }
}
