//! The job executor's finished task runs, shared by the replicas of a PostgreSQL store
//! (`job_runs`, PostgreSQL only; a SQLite store refuses): the run's record (the executor's
//! `run.json`, as JSON text) and its redacted output, by the task's event id and the
//! indexes of the action and the task. The runs stay in the data directory of the server
//! that ran them too; this copy lets the logs API of whichever replica leads show them.

use sluice_model::event::Timestamp;

use crate::error::{Error, Result};
use crate::{Db, Store, from_nanos, to_nanos};

/// One finished task run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRun {
    /// The id of the event the run answers.
    pub triggered_id: String,
    /// The index of the action in the job config.
    pub action_index: i64,
    /// The index of the task in the action.
    pub task_index: i64,
    /// The run's Keptn context.
    pub keptn_context: String,
    /// The run's record (JSON).
    pub record: String,
    /// Its output (redacted).
    pub output: String,
    /// When it ended: it goes once that is past the server's retention.
    pub ended_at: Timestamp,
}

impl Store {
    /// Whether this store shares job runs between replicas (a PostgreSQL store).
    pub fn shares_job_runs(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    fn job_runs_pool(&self) -> Result<&sqlx::PgPool> {
        match &self.db {
            Db::Postgres(pool) => Ok(pool),
            Db::Sqlite { .. } => Err(Error::InvalidInput(
                "shared job runs need a PostgreSQL store".into(),
            )),
        }
    }

    /// Stores a finished run, replacing an earlier copy of the same task's run (a task that a
    /// new leader ran again).
    pub async fn put_job_run(&self, run: &SharedRun) -> Result<()> {
        let pool = self.job_runs_pool()?;
        sqlx::query(
            "INSERT INTO job_runs (triggered_id, action_index, task_index, keptn_context, record, output, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (triggered_id, action_index, task_index) DO UPDATE \
             SET keptn_context = EXCLUDED.keptn_context, record = EXCLUDED.record, output = EXCLUDED.output, \
                 ended_at = EXCLUDED.ended_at",
        )
        .bind(&run.triggered_id)
        .bind(run.action_index)
        .bind(run.task_index)
        .bind(&run.keptn_context)
        .bind(&run.record)
        .bind(&run.output)
        .bind(to_nanos(run.ended_at))
        .execute(pool)
        .await?;
        Ok(())
    }

    /// The stored runs answering the events `triggered_ids`, by event, action and task.
    pub async fn job_runs(&self, triggered_ids: &[String]) -> Result<Vec<SharedRun>> {
        let pool = self.job_runs_pool()?;
        let rows = sqlx::query(
            "SELECT triggered_id, action_index, task_index, keptn_context, record, output, ended_at \
             FROM job_runs WHERE triggered_id = ANY($1) \
             ORDER BY triggered_id, action_index, task_index",
        )
        .bind(triggered_ids)
        .fetch_all(pool)
        .await?;
        let run = |row: &sqlx::postgres::PgRow| -> std::result::Result<SharedRun, sqlx::Error> {
            use sqlx::Row as _;
            Ok(SharedRun {
                triggered_id: row.try_get(0)?,
                action_index: row.try_get(1)?,
                task_index: row.try_get(2)?,
                keptn_context: row.try_get(3)?,
                record: row.try_get(4)?,
                output: row.try_get(5)?,
                ended_at: from_nanos(row.try_get(6)?),
            })
        };
        Ok(rows
            .iter()
            .map(run)
            .collect::<std::result::Result<_, _>>()?)
    }

    /// Deletes the runs that ended before `before`; answers how many went.
    pub async fn delete_job_runs_ended_before(&self, before: Timestamp) -> Result<u64> {
        let pool = self.job_runs_pool()?;
        let done = sqlx::query("DELETE FROM job_runs WHERE ended_at < $1")
            .bind(to_nanos(before))
            .execute(pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::backends;

    fn run(id: &str, task: i64, output: &str) -> SharedRun {
        SharedRun {
            triggered_id: id.into(),
            action_index: 0,
            task_index: task,
            keptn_context: "c".into(),
            record: format!("{{\"task\": {task}}}"),
            output: output.into(),
            ended_at: from_nanos(1_000 + task),
        }
    }

    /// Runs are kept by event, action and task; a run stored again replaces the earlier copy;
    /// a SQLite store refuses.
    #[tokio::test]
    async fn runs_are_shared_by_event_action_and_task() {
        for dir in backends("job runs").await {
            let store = dir.open().await;
            if !store.shares_job_runs() {
                assert!(matches!(
                    store.put_job_run(&run("e", 0, "")).await,
                    Err(Error::InvalidInput(_))
                ));
                continue;
            }
            store.put_job_run(&run("e", 1, "second")).await.unwrap();
            store.put_job_run(&run("e", 0, "first")).await.unwrap();
            store.put_job_run(&run("other", 0, "x")).await.unwrap();
            store.put_job_run(&run("e", 0, "again")).await.unwrap();
            let got = store.job_runs(&["e".to_owned()]).await.unwrap();
            assert_eq!(got, vec![run("e", 0, "again"), run("e", 1, "second")]);
            assert!(
                store
                    .job_runs(&["none".to_owned()])
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }

    /// Deleting a project deletes the shared runs of its events, and only those.
    #[tokio::test]
    async fn a_deleted_projects_runs_go_with_it() {
        for dir in backends("job runs of a deleted project").await {
            let store = dir.open().await;
            if !store.shares_job_runs() {
                continue;
            }
            for (project, id) in [("gone", "e-gone"), ("kept", "e-kept")] {
                store
                    .create_project(&crate::ProjectRecord {
                        name: project.into(),
                        shipyard: String::new(),
                        shipyard_version: String::new(),
                        creation_date: "0".into(),
                        git_upstream: None,
                        stages: vec!["dev".into()],
                    })
                    .await
                    .unwrap();
                let ty = "sh.keptn.event.deployment.triggered";
                let event = crate::testutil::event(id, "c", ty, (project, "dev", "a"), 1);
                store.insert_event(&event).await.unwrap();
                store.put_job_run(&run(id, 0, "out")).await.unwrap();
            }
            store.delete_project("gone").await.unwrap();
            let ids = ["e-gone".to_owned(), "e-kept".to_owned()];
            let left: Vec<String> = store
                .job_runs(&ids)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.triggered_id)
                .collect();
            assert_eq!(left, ["e-kept"]);
        }
    }

    /// Runs that ended before the cut go, later ones stay.
    #[tokio::test]
    async fn runs_that_ended_before_the_cut_go() {
        for dir in backends("job runs past their retention").await {
            let store = dir.open().await;
            if !store.shares_job_runs() {
                assert!(
                    store
                        .delete_job_runs_ended_before(from_nanos(0))
                        .await
                        .is_err()
                );
                continue;
            }
            for task in 0..3 {
                store.put_job_run(&run("e", task, "")).await.unwrap();
            }
            assert_eq!(
                store
                    .delete_job_runs_ended_before(from_nanos(1_001))
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(
                store
                    .delete_job_runs_ended_before(from_nanos(1_001))
                    .await
                    .unwrap(),
                0
            );
            let left: Vec<i64> = store
                .job_runs(&["e".to_owned()])
                .await
                .unwrap()
                .iter()
                .map(|r| r.task_index)
                .collect();
            assert_eq!(left, [1, 2]);

            // A run shared by a replica of the previous version, which does not name the
            // column, counts as ended when it was written.
            sqlx::query(
                "INSERT INTO job_runs (triggered_id, action_index, task_index, keptn_context, record, output) \
                 VALUES ('old', 0, 0, 'c', '{}', '')",
            )
            .execute(store.job_runs_pool().unwrap())
            .await
            .unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64;
            let hour = 3_600_000_000_000;
            // The two runs left above ended long ago; this one an instant ago.
            assert_eq!(
                store
                    .delete_job_runs_ended_before(from_nanos(now - hour))
                    .await
                    .unwrap(),
                2
            );
            assert_eq!(
                store
                    .delete_job_runs_ended_before(from_nanos(now + hour))
                    .await
                    .unwrap(),
                1
            );
        }
    }
}
