//! Load-test summaries from job-executor runs: the source of the built-in `loadtest` SLI
//! provider. A test task that writes `/keptn/out/load-summary.json` (`sluice load --out`) or
//! Locust's `--csv /keptn/out/<prefix>` files leaves them as run artifacts; this module finds
//! the runs of a project, stage and service around an evaluation window and reads them.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_load::LoadSummary;
use sluice_model::duration::GoDuration;
use sluice_store::{EventQuery, Paging, Store};

use super::jobs::{self, record};
use super::loadtest::{LoadSummarySource, SummaryQuery};

/// Runs finished this long after the window still count (their summary covers the window).
const SLACK: GoDuration = GoDuration::from_nanos(10 * 60 * 1_000_000_000);

/// Reads summaries from the job executor's run directories.
#[derive(Debug, Clone)]
pub struct JobRunSummaries {
    store: Arc<Store>,
    runs_dir: PathBuf,
}

impl JobRunSummaries {
    /// A source over `<data_dir>/runs`.
    pub fn new(store: Arc<Store>, data_dir: &std::path::Path) -> Self {
        JobRunSummaries {
            store,
            runs_dir: jobs::runs_dir(data_dir),
        }
    }
}

impl LoadSummarySource for JobRunSummaries {
    async fn summaries(&self, q: &SummaryQuery<'_>) -> Result<Vec<LoadSummary>, String> {
        let mut out = Vec::new();
        let mut paging = Paging::first(100);
        loop {
            let query = EventQuery {
                project: Some(q.project.to_owned()),
                stage: Some(q.stage.to_owned()),
                service: Some(q.service.to_owned()),
                source: Some(jobs::SOURCE.to_owned()),
                from_time: Some(q.start.minus(SLACK)),
                before_time: Some(q.end.plus(SLACK)),
                paging: paging.clone(),
                ..EventQuery::default()
            };
            let page = self.store.events(&query).await.map_err(|e| e.to_string())?;
            for event in &page.items {
                let is_finished = event
                    .event_type
                    .as_deref()
                    .is_some_and(|t| t.ends_with(".finished"));
                let Some(triggered_id) = event.triggeredid.as_deref().filter(|_| is_finished)
                else {
                    continue;
                };
                out.extend(self.read(triggered_id));
            }
            match page.next_page_key {
                Some(key) => {
                    paging = Paging {
                        page_size: Some(100),
                        next_page_key: Some(key),
                    }
                }
                None => break,
            }
        }
        Ok(out)
    }
}

impl JobRunSummaries {
    /// The summaries left by the runs of one `.triggered` event.
    fn read(&self, triggered_id: &str) -> Vec<LoadSummary> {
        let mut out = Vec::new();
        for (run, _) in record::read_runs(&self.runs_dir, triggered_id) {
            let out_dir = record::task_dir(
                &self.runs_dir,
                triggered_id,
                run.action_index,
                run.task_index,
            )
            .join("keptn")
            .join("out");
            let times = (
                sluice_model::event::Timestamp::parse(&run.start).ok(),
                run.end
                    .as_deref()
                    .and_then(|e| sluice_model::event::Timestamp::parse(e).ok()),
            );
            for artifact in &run.artifacts {
                let path = out_dir.join(&artifact.path);
                let summary = if artifact.path.ends_with("load-summary.json") {
                    std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| LoadSummary::from_json(&t).ok())
                } else if let Some(prefix) = artifact.path.strip_suffix("_stats.csv") {
                    sluice_load::read_locust_csv(&out_dir.join(prefix)).ok()
                } else {
                    None
                };
                if let Some(mut s) = summary {
                    if let (Some(start), Some(end)) = times {
                        s = s.with_times_if_missing(start, end);
                    }
                    out.push(s);
                }
            }
        }
        out
    }
}
