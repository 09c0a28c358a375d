//! Finding `job/config.yaml` for an event, in JES 0.3.0's order: the service level and the
//! stage level at the event's `gitcommitid`, then the project level at the latest commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_resources::{ResourceStore, Scope};

/// Most lookups remembered by a [`ConfigCache`] before it starts afresh.
const CACHE_CAPACITY: usize = 4096;

/// The resource JES reads.
pub const CONFIG_URI: &str = "job/config.yaml";

/// A config file that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundConfig {
    /// `service`, `stage` or `project`.
    pub level: &'static str,
    /// The file's text (lossy UTF-8).
    pub text: Arc<str>,
}

/// Looks the config up; `None` when no level has one. Any error reading a level (the stage or
/// service does not exist, the commit is unknown, ...) moves on to the next level, as JES did.
/// Blocking (git): call it on a blocking thread.
pub fn find(
    resources: &ResourceStore,
    project: &str,
    stage: &str,
    service: &str,
    commit: Option<&str>,
) -> Option<FoundConfig> {
    if project.is_empty() {
        return None;
    }
    find_pinned(resources, project, stage, service, commit)
        .or_else(|| read_level(resources, "project", Scope::project(project), None))
}

/// Project, stage, service and full commit id.
type PinnedKey = (String, String, String, String);

/// Remembers lookups, so that the many events of a run do not read git again and again.
///
/// Reads at a full commit id never change, so the service and stage levels at an event's
/// `gitcommitid` are remembered by that id. The project level is read at the latest commit, so
/// it is remembered by the project's head commit, which is looked up every time (one cheap
/// read) and changes with every resource written.
#[derive(Debug, Default)]
pub struct ConfigCache {
    pinned: Mutex<HashMap<PinnedKey, Option<FoundConfig>>>,
    project: Mutex<HashMap<(String, String), Option<FoundConfig>>>,
}

impl ConfigCache {
    /// Like [`find`], remembering what it read. Blocking (git): call it on a blocking thread.
    pub fn find(
        &self,
        resources: &ResourceStore,
        project: &str,
        stage: &str,
        service: &str,
        commit: Option<&str>,
    ) -> Option<FoundConfig> {
        if project.is_empty() {
            return None;
        }
        let full_id = commit.filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(commit) = full_id else {
            return find(resources, project, stage, service, commit);
        };
        let key = (
            project.to_owned(),
            stage.to_owned(),
            service.to_owned(),
            commit.to_ascii_lowercase(),
        );
        let pinned = lock(&self.pinned).get(&key).cloned();
        let pinned = match pinned {
            Some(found) => found,
            None => {
                let found = find_pinned(resources, project, stage, service, Some(commit));
                remember(&self.pinned, key, found.clone());
                found
            }
        };
        if pinned.is_some() {
            return pinned;
        }
        let head = resources.project_head(project).ok()?.to_string();
        let key = (project.to_owned(), head);
        if let Some(found) = lock(&self.project).get(&key) {
            return found.clone();
        }
        let found = read_level(resources, "project", Scope::project(project), Some(&key.1));
        remember(&self.project, key, found.clone());
        found
    }
}

fn lock<K, V>(m: &Mutex<HashMap<K, V>>) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn remember<K: std::hash::Hash + Eq, V>(m: &Mutex<HashMap<K, V>>, key: K, value: V) {
    let mut map = lock(m);
    if map.len() >= CACHE_CAPACITY {
        map.clear();
    }
    map.insert(key, value);
}

/// The service and stage levels at a commit (the head when `None`).
fn find_pinned(
    resources: &ResourceStore,
    project: &str,
    stage: &str,
    service: &str,
    commit: Option<&str>,
) -> Option<FoundConfig> {
    if stage.is_empty() {
        return None;
    }
    if !service.is_empty()
        && let Some(found) = read_level(
            resources,
            "service",
            Scope::service(project, stage, service),
            commit,
        )
    {
        return Some(found);
    }
    read_level(resources, "stage", Scope::stage(project, stage), commit)
}

fn read_level(
    resources: &ResourceStore,
    level: &'static str,
    scope: Scope<'_>,
    at: Option<&str>,
) -> Option<FoundConfig> {
    match resources.get_resource(scope, CONFIG_URI, at) {
        Ok(resource) => Some(FoundConfig {
            level,
            text: String::from_utf8_lossy(&resource.content).into(),
        }),
        Err(e) => {
            tracing::debug!(level, error = %e, "no job config at this level");
            None
        }
    }
}
