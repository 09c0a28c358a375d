//! The resource repository: each project's files (shipyard, SLOs, SLIs, job configs, charts)
//! kept in git, as Keptn v1's resource-service did.
//!
//! # Layout on disk
//!
//! ```text
//! <data_dir>/projects/<project>.git            bare git repository, branch `main` (HEAD)
//! <data_dir>/projects/.creating-<project>-...   a repository being built (removed at open)
//! <data_dir>/projects/.deleting-<project>-<ns>  a repository being removed (removed at open)
//! ```
//!
//! Users can inspect or back up a project with plain git:
//! `git clone <data_dir>/projects/<project>.git`, `git log`,
//! `git show main:.keptn-stages/qa/carts/slo.yaml`.
//!
//! # Layout in the repository (Keptn's "directory mode")
//!
//! ```text
//! metadata.yaml                                   project marker (projectName, ...)
//! shipyard.yaml                                   project-level files at the root
//! prometheus/sli.yaml
//! .keptn-stages/<stage>/metadata.yaml             stage marker; stage-level files beside it
//! .keptn-stages/<stage>/slo.yaml
//! .keptn-stages/<stage>/<service>/metadata.yaml   service marker; service-level files
//! .keptn-stages/<stage>/<service>/job/config.yaml
//! ```
//!
//! Keptn's default was "branch mode" (one branch per stage, service files under
//! `<service>/` on the stage branch); directory mode (`DIRECTORY_STAGE_STRUCTURE`, Keptn
//! 0.13+) keeps everything on one branch. We use directory mode only because: one branch
//! means one linear history per project, so a single compare-and-swap on one ref makes every
//! change atomic, including changes spanning stages (creating a service in every stage);
//! pinning a sequence to "the stage's commit" is just the branch head; and the layout is
//! exactly what Keptn's migration (`isUsingDirectoryStructure: true`) produced, so existing
//! tooling reads it. Git has no empty directories, so stages and services are kept alive by
//! their `metadata.yaml`, as in Keptn.
//!
//! # Writes
//!
//! No working tree is used. A write creates blobs and trees in the object database, commits
//! the new root tree with the configured author (default `sluice <sluice@localhost>`), and
//! then moves `refs/heads/main` from the head it started from to the new commit with a
//! compare-and-swap. Each operation is exactly one commit (none when it changes nothing); a
//! failing operation leaves the branch untouched (at most some unreachable objects, which
//! `git gc` removes). Writes to one project are serialised by a lock inside
//! [`ResourceStore`]; reads take no lock. Should something else move the branch anyway (a
//! second store on the same directory), the swap fails and the change is recomputed on the
//! new head. Repositories are created with `core.fsyncObjectFiles`, so libgit2 flushes
//! objects and refs to disk. One process per data directory is the supported setup: a store
//! removes unfinished creations and deletions it finds when it opens.
//!
//! # Shared mode (replicas)
//!
//! With [`StoreConfig::shared`] set (the server does it on a PostgreSQL store), the objects
//! and the branch of every project live in a [`SharedRepositories`] and the repository in the
//! data directory is a cache of them (see [`shared`]). A write syncs the cache to the shared
//! head, commits locally as above, and publishes the commit's new objects and a
//! compare-and-swap of the shared branch in one step; another replica's write in between
//! makes the swap fail, and the change is recomputed on the new head (at most
//! five times, then [`ResourceError::Conflict`]). The local branch moves only after the swap
//! succeeded. Reads at the head ask the shared branch first (one query) and fetch what the
//! cache lacks; reads at a commit the cache has ask nothing. A replica with an empty data
//! directory rebuilds each repository on first use. Without `shared` nothing of this runs.
//!
//! # Resource URIs
//!
//! See [`ResourceUri::parse`]: relative paths, one leading `/` stripped (Keptn's
//! resource-service tolerated it), no `..`, `.`, `~`, backslashes, control characters,
//! `.git`, `.keptn-stages` segments, at most [`uri::MAX_URI_BYTES`] bytes.

mod error;
mod metadata;
mod scope;
pub mod shared;
mod store;
mod tree;
pub mod upstream;
pub mod uri;

pub use error::{Entity, ResourceError};
pub use scope::Scope;
pub use shared::{SharedError, SharedObject, SharedRepositories};
pub use store::{
    CommitId, DEFAULT_MAX_RESOURCE_BYTES, DEFAULT_PAGE_SIZE, DirMemo, LevelFiles,
    MAX_FILES_PER_WRITE, PageRequest, Resource, ResourceChange, ResourcePage, ResourceStore,
    StoreConfig, Upload, check_file_count,
};
pub use upstream::{FirstSync, UpstreamHeads, UpstreamLayout, UpstreamMerge};
pub use uri::ResourceUri;

/// The one branch of every project repository.
pub const BRANCH: &str = "main";

/// The directory holding the stage (and service) levels.
pub const STAGES_DIR: &str = ".keptn-stages";

/// The marker file of the project, of each stage and of each service.
pub const METADATA_FILE: &str = "metadata.yaml";

#[cfg(test)]
mod tests;

/// A fresh directory for one test, removed when dropped.
#[cfg(test)]
pub(crate) struct TestDir(std::path::PathBuf);

#[cfg(test)]
impl TestDir {
    /// A new empty directory under the system temp directory.
    pub(crate) fn new(name: &str) -> TestDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "sluice-resources-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
