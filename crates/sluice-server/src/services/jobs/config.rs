//! Finding `job/config.yaml` for an event, in JES 0.3.0's order: the service level and the
//! stage level at the event's `gitcommitid`, then the project level at the latest commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sluice_resources::{CommitId, DirMemo, LevelFiles, ResourceError, ResourceStore, Scope};

/// Most commits whose configs a [`ConfigCache`] remembers before it starts afresh.
const CACHE_CAPACITY: usize = 64;

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

/// Remembers where `job/config.yaml` is, so that the many events of a run do not read git
/// again and again.
///
/// A commit never changes, so the files of every level at a full commit id are read once (one
/// pass over the project's tree, [`ResourceStore::find_everywhere_memo`]) and kept. The
/// project level is read at the latest commit, whose id costs one `stat` to learn. A new
/// commit usually changes few service directories: the memo of directories already read
/// spares reading the others again (creating the 1,000th service reads one directory, not
/// 1,000). An event without a stage (a project's or a service's lifecycle) needs only the
/// project level, which is then read alone, not with the stages' trees.
#[derive(Debug, Default)]
pub struct ConfigCache {
    commits: Mutex<HashMap<(String, String), Arc<LevelFiles>>>,
    /// The project level alone at a commit whose other levels were not read: all that an
    /// event without a stage needs (a service's creation makes a commit and three such
    /// events, and reading every level would read every stage's tree).
    project_levels: Mutex<HashMap<(String, String), Option<FoundConfig>>>,
    directories: Mutex<DirMemo>,
}

impl ConfigCache {
    /// Like [`find`], from what was read before where possible. Blocking (git): call it on
    /// a blocking thread.
    pub fn find(
        &self,
        resources: &ResourceStore,
        project: &str,
        stage: &str,
        service: &str,
        commit: Option<&str>,
    ) -> Option<FoundConfig> {
        let mut heads = Heads::default();
        match self.lookup(resources, project, stage, service, commit, true, &mut heads) {
            Lookup::Found(found) => found,
            Lookup::NeedsGit => find(resources, project, stage, service, commit),
        }
    }

    /// The answer when it needs no git read (only the branch head, asked through `heads`),
    /// `None` otherwise: lets a caller skip the hop to a blocking thread for the events of a
    /// known commit.
    pub fn cached(
        &self,
        resources: &ResourceStore,
        project: &str,
        stage: &str,
        service: &str,
        commit: Option<&str>,
        heads: &mut Heads,
    ) -> Option<Option<FoundConfig>> {
        match self.lookup(resources, project, stage, service, commit, false, heads) {
            Lookup::Found(found) => Some(found),
            Lookup::NeedsGit => None,
        }
    }

    #[allow(clippy::too_many_arguments)] // the scope, the commit, and how to read
    fn lookup(
        &self,
        resources: &ResourceStore,
        project: &str,
        stage: &str,
        service: &str,
        commit: Option<&str>,
        read: bool,
        heads: &mut Heads,
    ) -> Lookup {
        if project.is_empty() {
            return Lookup::Found(None);
        }
        let Some(head) = heads.of(resources, project) else {
            return Lookup::Found(None);
        };
        // Without a stage only the project level counts, whatever the commit (`find_pinned`).
        if !stage.is_empty() {
            // No commit (or Keptn's quirk value `""`) means the latest, as for JES.
            let commit = match commit.map(str::trim) {
                None | Some("" | "\"\"") => head.to_string(),
                Some(c) if c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    c.to_ascii_lowercase()
                }
                Some(_) => return Lookup::NeedsGit,
            };
            match self.files(resources, project, &commit, read) {
                Some(pinned) => {
                    if !service.is_empty()
                        && let Some(text) =
                            pinned.services.get(&(stage.to_owned(), service.to_owned()))
                    {
                        return Lookup::Found(Some(found("service", text)));
                    }
                    if let Some(text) = pinned.stages.get(stage) {
                        return Lookup::Found(Some(found("stage", text)));
                    }
                }
                None if !read => return Lookup::NeedsGit,
                // The commit cannot be read (unknown here, say): on to the project level,
                // as `find` does.
                None => {}
            }
        }
        match self.project_level(resources, project, head.as_str(), read) {
            Some(level) => Lookup::Found(level),
            None => Lookup::NeedsGit,
        }
    }

    /// The project level at the commit `head`: from the levels read at that commit if they
    /// were, else read alone. (From memory only unless `read`; `None`: not in memory.)
    fn project_level(
        &self,
        resources: &ResourceStore,
        project: &str,
        head: &str,
        read: bool,
    ) -> Option<Option<FoundConfig>> {
        let key = (project.to_owned(), head.to_owned());
        if let Some(files) = self.lock().get(&key) {
            return Some(files.project.as_deref().map(|text| found("project", text)));
        }
        if let Some(level) = self.lock_project_levels().get(&key) {
            return Some(level.clone());
        }
        if !read {
            return None;
        }
        let level = match resources.get_resource(Scope::project(project), CONFIG_URI, Some(head)) {
            Ok(resource) => Some(found("project", &resource.content)),
            Err(ResourceError::ResourceNotFound) => None,
            Err(e) => {
                // Not remembered: the next event tries again.
                tracing::debug!(error = %e, "cannot read the project's job config at {head}");
                return Some(None);
            }
        };
        remember(&mut self.lock_project_levels(), key, level.clone());
        Some(level)
    }

    /// The files of every level at a full commit id.
    /// (From memory only unless `read`.)
    fn files(
        &self,
        resources: &ResourceStore,
        project: &str,
        commit: &str,
        read: bool,
    ) -> Option<Arc<LevelFiles>> {
        let key = (project.to_owned(), commit.to_owned());
        if let Some(files) = self.lock().get(&key) {
            return Some(Arc::clone(files));
        }
        if !read {
            return None;
        }
        let found = {
            let mut memo = self
                .directories
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            resources.find_everywhere_memo(project, CONFIG_URI, Some(commit), &mut memo)
        };
        let files = match found {
            Ok(files) => Arc::new(files),
            Err(e) => {
                tracing::debug!(error = %e, "cannot look for job configs at {commit}");
                return None;
            }
        };
        remember(&mut self.lock(), key, Arc::clone(&files));
        Some(files)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<LevelFiles>>> {
        self.commits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_project_levels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), Option<FoundConfig>>> {
        self.project_levels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many commits had every level read (for tests).
    #[cfg(test)]
    pub(super) fn commits_read(&self) -> usize {
        self.lock().len()
    }
}

/// Remembers `value` under `key`, starting afresh once `map` holds [`CACHE_CAPACITY`] entries.
fn remember<V>(map: &mut HashMap<(String, String), V>, key: (String, String), value: V) {
    if map.len() >= CACHE_CAPACITY {
        map.clear();
    }
    map.insert(key, value);
}

/// The branch heads of projects, each asked once for a burst of events.
///
/// Asking the head costs a `stat` of the branch's reference (a query on a shared repository).
/// A burst of events that were all published before the first question may share the
/// answers: each answer is then newer than every event of the burst, as if each event had
/// been looked at on its own a moment later. Start a new `Heads` for every burst.
#[derive(Debug, Default)]
pub struct Heads(HashMap<String, Option<CommitId>>);

impl Heads {
    /// The head of `project` (`None`: no such project), asked the first time only.
    fn of(&mut self, resources: &ResourceStore, project: &str) -> Option<CommitId> {
        if let Some(head) = self.0.get(project) {
            return head.clone();
        }
        let head = resources.project_head(project).ok();
        self.0.insert(project.to_owned(), head.clone());
        head
    }
}

/// What [`ConfigCache::lookup`] could tell.
enum Lookup {
    Found(Option<FoundConfig>),
    NeedsGit,
}

fn found(level: &'static str, content: &[u8]) -> FoundConfig {
    FoundConfig {
        level,
        text: String::from_utf8_lossy(content).into(),
    }
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
