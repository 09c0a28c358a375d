//! The resource store: one bare git repository per project and every operation on it.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use git2::{Commit, ErrorCode, Oid, Repository, RepositoryInitOptions, Signature, Tree};

use crate::error::{Entity, ResourceError};
use crate::scope::{Scope, check_project, check_service, check_stage};
use crate::shared::{self, SharedRepositories};
use crate::tree::{self, Change, EditError, PutError};
use crate::uri::ResourceUri;
use crate::{BRANCH, METADATA_FILE, STAGES_DIR, metadata};

/// Default cap on one resource's content and on all contents of one write: 5 MiB, the request
/// body limit of Keptn's API gateway.
pub const DEFAULT_MAX_RESOURCE_BYTES: usize = 5 * 1024 * 1024;

/// Most files one write may add or replace (Keptn's resource lists are a handful of files;
/// a chart directory a few hundred).
pub const MAX_FILES_PER_WRITE: usize = 1000;

/// [`ResourceError::TooManyFiles`] when `count` files are more than one write may hold.
pub fn check_file_count(count: usize) -> Result<(), ResourceError> {
    if count > MAX_FILES_PER_WRITE {
        return Err(ResourceError::TooManyFiles {
            count,
            limit: MAX_FILES_PER_WRITE,
        });
    }
    Ok(())
}

/// Page size used when a list request gives none (or 0), as in Keptn's APIs.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// The full name of the one branch.
const BRANCH_REF: &str = "refs/heads/main";

/// How often a write is recomputed when the branch moved under it (see
/// [`ResourceStore::write`]).
const WRITE_ATTEMPTS: u32 = 50;

/// How often a write to a shared repository is recomputed when another replica moved the
/// shared branch first (each attempt syncs the cache and commits again; after the last lost
/// swap the write fails with [`ResourceError::Conflict`]).
const SHARED_WRITE_ATTEMPTS: u32 = 5;

/// The git configuration key marking a repository as the cache of a shared one (created or
/// copied in shared mode). A repository without it in a data directory opened in shared mode
/// was written by a single server before, and is published (see [`ResourceStore::open`]).
const CACHE_KEY: &str = "sluice.sharedcache";

/// Prefix of a project repository being created (renamed into place when complete).
const CREATING_PREFIX: &str = ".creating-";
/// Prefix of a project repository being deleted (renamed away first, then removed).
const DELETING_PREFIX: &str = ".deleting-";

/// Settings of a [`ResourceStore`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Data directory; repositories live in `<data_dir>/projects/<project>.git`.
    pub data_dir: PathBuf,
    /// Author and committer name of every commit.
    pub author_name: String,
    /// Author and committer e-mail of every commit.
    pub author_email: String,
    /// Largest accepted resource content in bytes, also the cap for the sum of all contents
    /// written in one call.
    pub max_resource_bytes: usize,
    /// The time of commits and of the `creationtimestamp` in `metadata.yaml` files.
    pub clock: sluice_model::clock::Clock,
    /// Where the repositories are shared with other replicas; `None` (the default): the
    /// repositories in the data directory are the only copy. With it, they are caches (see
    /// [`crate::shared`]).
    pub shared: Option<Arc<dyn SharedRepositories>>,
    /// Whether git objects and references are fsynced as they are written, so that they
    /// survive an operating-system crash or power loss (the store's
    /// `Durability::PowerLoss`). Without it (the default, like the store's default) a write
    /// is in the operating system when the call returns: it survives the process being
    /// killed at any point, at a fraction of the cost (one fsync per object otherwise).
    pub fsync: bool,
}

impl StoreConfig {
    /// Defaults: author `sluice <sluice@localhost>`, [`DEFAULT_MAX_RESOURCE_BYTES`], the
    /// system clock.
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            author_name: "sluice".to_owned(),
            author_email: "sluice@localhost".to_owned(),
            max_resource_bytes: DEFAULT_MAX_RESOURCE_BYTES,
            clock: sluice_model::clock::system,
            shared: None,
            fsync: false,
        }
    }
}

/// A full hexadecimal git commit id (40 characters), Keptn's `gitCommitID` / `version`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitId(String);

impl CommitId {
    /// The hexadecimal id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Oid> for CommitId {
    fn from(id: Oid) -> Self {
        CommitId(id.to_string())
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file to add or replace (Keptn's `{resourceURI, resourceContent}` after base64 decoding).
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// Resource URI, checked with [`ResourceUri::parse`].
    pub uri: &'a str,
    /// The file's bytes.
    pub content: &'a [u8],
}

/// A file read from the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The normalised URI (without a leading `/`).
    pub uri: ResourceUri,
    /// The file's bytes.
    pub content: Vec<u8>,
    /// The commit it was read at (Keptn's `metadata.version`).
    pub commit: CommitId,
}

/// Which page of a listing to return.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest<'a> {
    /// Number of URIs per page; 0 means [`DEFAULT_PAGE_SIZE`].
    pub page_size: usize,
    /// Keptn's `nextPageKey`: the decimal offset of the first URI; None, `""` and `"0"` start
    /// at the beginning.
    pub next_page_key: Option<&'a str>,
}

/// One page of resource URIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePage {
    /// URIs relative to the level, in git's order (byte order of the paths).
    pub uris: Vec<String>,
    /// Offset of the next page, or None on the last page.
    pub next_page_key: Option<String>,
    /// Number of URIs at the level in all pages.
    pub total_count: usize,
    /// The commit listed.
    pub commit: CommitId,
}

impl ResourcePage {
    /// `nextPageKey` as Keptn sent it: the offset, or `"0"` on the last page.
    pub fn wire_next_page_key(&self) -> &str {
        self.next_page_key.as_deref().unwrap_or("0")
    }
}

/// A commit that changed one resource (see [`ResourceStore::history`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// The commit.
    pub commit: CommitId,
    /// Its message.
    pub message: String,
    /// Author name.
    pub author_name: String,
    /// Author e-mail.
    pub author_email: String,
    /// Commit time, seconds since the Unix epoch.
    pub time_unix: i64,
    /// Whether the commit removed the file (rather than adding or changing it).
    pub deleted: bool,
}

/// The git-backed resource repository of all projects.
///
/// Operations are synchronous (run them on a blocking thread). Writes to one project are
/// serialised by a per-project lock and each makes exactly one commit; reads see the branch
/// before or after a write, never half of it. Each project's repository is opened once and its
/// handle kept (one operation at a time uses it).
pub struct ResourceStore {
    config: StoreConfig,
    projects_dir: PathBuf,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Open repositories, by project.
    repos: Mutex<HashMap<String, Arc<Mutex<Repository>>>>,
    /// Branch heads last read, by project.
    heads: Mutex<HashMap<String, Arc<Head>>>,
    /// Set by [`ResourceStore::interrupt`]: long writes stop, new writes are refused.
    interrupted: AtomicBool,
}

/// One file found at every level of a project ([`ResourceStore::find_everywhere`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelFiles {
    /// The commit read.
    pub commit: CommitId,
    /// The project-level file.
    pub project: Option<Vec<u8>>,
    /// Stage-level files, by stage.
    pub stages: HashMap<String, Vec<u8>>,
    /// Service-level files, by stage and service.
    pub services: HashMap<(String, String), Vec<u8>>,
}

/// What [`ResourceStore::find_everywhere_memo`] remembers between calls: the file found in
/// each service directory it read, by the directory's tree id (so an entry never goes stale:
/// a changed directory has another id). Bounded: it starts afresh at [`DirMemo::CAPACITY`]
/// directories.
#[derive(Debug, Default)]
pub struct DirMemo {
    uri: String,
    by_tree: HashMap<git2::Oid, Option<Vec<u8>>>,
}

impl DirMemo {
    /// Most directories remembered.
    pub const CAPACITY: usize = 100_000;
}

/// A branch head as read from git.
#[derive(Debug)]
struct Head {
    commit: CommitId,
    stages: Vec<String>,
    stamp: RefStamp,
}

/// What identifies one version of a loose reference file: git writes a new file and renames
/// it over the old one, so the inode (with size and modification time) changes each commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RefStamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl RefStamp {
    /// The stamp of a reference file; `None` when it is not a loose file (packed refs).
    fn of(path: &Path) -> Option<RefStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(path).ok()?;
        Some(RefStamp {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

impl fmt::Debug for ResourceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceStore")
            .field("config", &self.config)
            .field("projects_dir", &self.projects_dir)
            .finish_non_exhaustive()
    }
}

impl ResourceStore {
    /// Opens (creating if needed) the store in `config.data_dir`, removing leftovers of
    /// project creations or deletions that a crash interrupted.
    ///
    /// Fails with [`ResourceError::Git`] when the configured author is not a valid git
    /// identity (empty, or containing `<`, `>` or a newline).
    pub fn open(config: StoreConfig) -> Result<ResourceStore, ResourceError> {
        Signature::new(
            &config.author_name,
            &config.author_email,
            &git2::Time::new(0, 0),
        )?;
        let projects_dir = config.data_dir.join("projects");
        fs::create_dir_all(&projects_dir)?;
        for entry in fs::read_dir(&projects_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(CREATING_PREFIX) || name.starts_with(DELETING_PREFIX) {
                fs::remove_dir_all(entry.path())?;
            }
        }
        let store = ResourceStore {
            config,
            projects_dir,
            locks: Mutex::new(HashMap::new()),
            repos: Mutex::new(HashMap::new()),
            heads: Mutex::new(HashMap::new()),
            interrupted: AtomicBool::new(false),
        };
        if let Some(shared) = store.config.shared.as_deref() {
            store.adopt_local_repositories(shared)?;
        }
        Ok(store)
    }

    /// In shared mode, at open: publishes every repository of the data directory that is not
    /// a cache (one a single server wrote, before its store moved to PostgreSQL) with all
    /// the objects reachable from its branch, unless the project already has a shared branch
    /// (then the shared one wins and the local one becomes a cache, re-synced on first use).
    /// Without this the first read would find no shared branch and drop the repository.
    fn adopt_local_repositories(
        &self,
        shared: &dyn SharedRepositories,
    ) -> Result<(), ResourceError> {
        for project in self.projects()? {
            let repo = Repository::open_bare(self.project_path(&project))?;
            let mut config = repo.config()?;
            if config.get_bool(CACHE_KEY).unwrap_or(false) {
                continue;
            }
            if shared.head(&project)?.is_none() {
                let head = head_commit(&repo)?;
                let mut objects = Vec::new();
                let mut seen = std::collections::HashSet::new();
                let mut walk = repo.revwalk()?;
                walk.push(head.id())?;
                for id in walk {
                    let commit = repo.find_commit(id?)?;
                    let base = match commit.parent(0) {
                        Ok(parent) => Some(parent.tree()?),
                        Err(_) => None,
                    };
                    for object in shared::new_objects(&repo, commit.id(), base.as_ref())? {
                        if seen.insert(object.id) {
                            objects.push(object);
                        }
                    }
                }
                shared.publish(&project, None, head.id(), &objects)?;
            }
            config.set_bool(CACHE_KEY, true)?;
        }
        Ok(())
    }

    /// Stops writes in progress at their next file or directory (they fail with
    /// [`ResourceError::Interrupted`] and commit nothing) and refuses every write from now on.
    /// Called when the server shuts down, so that shutting down never waits for a long write.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }

    /// [`ResourceError::Interrupted`] once [`ResourceStore::interrupt`] was called.
    fn check_interrupted(&self) -> Result<(), ResourceError> {
        if self.interrupted.load(Ordering::SeqCst) {
            return Err(ResourceError::Interrupted);
        }
        Ok(())
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Where the repository of `project` is (whether it exists or not).
    pub fn project_path(&self, project: &str) -> PathBuf {
        self.projects_dir.join(format!("{project}.git"))
    }

    /// Whether `project` has a repository (in shared mode: a shared branch; the local
    /// directory when the shared repositories cannot be asked).
    pub fn project_exists(&self, project: &str) -> bool {
        if check_project(project).is_err() {
            return false;
        }
        if let Some(shared) = self.config.shared.as_deref()
            && let Ok(head) = shared.head(project)
        {
            return head.is_some();
        }
        self.project_path(project).is_dir()
    }

    /// Names of all projects with a repository in the data directory, sorted (in shared
    /// mode: the projects this replica has a cache of).
    pub fn projects(&self) -> Result<Vec<String>, ResourceError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.projects_dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(project) = name.strip_suffix(".git")
                && check_project(project).is_ok()
            {
                out.push(project.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Creates the repository of `project` with one commit holding the project's
    /// `metadata.yaml`, `shipyard.yaml` and a `metadata.yaml` in the directory of each stage.
    ///
    /// The repository is built under a temporary name and renamed into place, so a failure
    /// leaves no project behind.
    pub fn create_project(
        &self,
        project: &str,
        stages: &[&str],
        shipyard: &[u8],
    ) -> Result<CommitId, ResourceError> {
        check_project(project)?;
        for (i, stage) in stages.iter().enumerate() {
            check_stage(stage)?;
            if stages[..i].contains(stage) {
                return Err(ResourceError::InvalidName(format!(
                    "stage `{stage}` is listed twice"
                )));
            }
        }
        self.check_size(shipyard.len())?;
        let lock = self.lock_of(project);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = self.config.shared.as_deref() {
            return self.create_shared_project(shared, project, stages, shipyard);
        }
        let path = self.project_path(project);
        if path.exists() {
            return Err(ResourceError::AlreadyExists(Entity::Project));
        }
        let staging = self.empty_staging(project)?;
        let built = self.init_project(&staging, project, stages, shipyard);
        let commit = match built {
            Ok(commit) => commit,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        if let Err(e) = fs::rename(&staging, &path) {
            let _ = fs::remove_dir_all(&staging);
            if path.exists() {
                // Another process created it in the meantime.
                return Err(ResourceError::AlreadyExists(Entity::Project));
            }
            return Err(e.into());
        }
        Ok(commit)
    }

    /// Where a new project's repository is built before it is moved into place, emptied of
    /// what an unfinished creation left.
    fn empty_staging(&self, project: &str) -> Result<PathBuf, ResourceError> {
        let staging = self
            .projects_dir
            .join(format!("{CREATING_PREFIX}{project}"));
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        Ok(staging)
    }

    /// [`create_project`](Self::create_project) in shared mode (under the project's lock):
    /// the repository is built aside as usual, its objects and branch are published (the
    /// branch must not exist: a project another replica created first is
    /// [`AlreadyExists`](ResourceError::AlreadyExists)), and only then is it moved into place
    /// as this replica's cache, replacing a stale cache of a deleted project of that name.
    fn create_shared_project(
        &self,
        shared: &dyn SharedRepositories,
        project: &str,
        stages: &[&str],
        shipyard: &[u8],
    ) -> Result<CommitId, ResourceError> {
        if shared.head(project)?.is_some() {
            return Err(ResourceError::AlreadyExists(Entity::Project));
        }
        let staging = self.empty_staging(project)?;
        let published = (|| {
            let commit = self.init_project(&staging, project, stages, shipyard)?;
            let repo = Repository::open_bare(&staging)?;
            let id = Oid::from_str(commit.as_str())?;
            let objects = shared::new_objects(&repo, id, None)?;
            if !shared.publish(project, None, id, &objects)? {
                return Err(ResourceError::AlreadyExists(Entity::Project));
            }
            Ok(commit)
        })();
        let commit = match published {
            Ok(commit) => commit,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        // The project exists from here on; the cache is only a copy, rebuilt on the next
        // read if this fails.
        if self.drop_cache(project).is_err()
            || fs::rename(&staging, self.project_path(project)).is_err()
        {
            let _ = fs::remove_dir_all(&staging);
        }
        Ok(commit)
    }

    /// A new bare repository at `dir` with branch `main` as HEAD; `cache`: marked as the
    /// cache of a shared repository ([`CACHE_KEY`]).
    fn init_bare(dir: &Path, cache: bool, fsync: bool) -> Result<Repository, ResourceError> {
        let repo = Repository::init_opts(
            dir,
            RepositoryInitOptions::new()
                .bare(true)
                .initial_head(BRANCH)
                .mkpath(true),
        )?;
        set_fsync(&repo, fsync)?;
        if cache {
            repo.config()?.set_bool(CACHE_KEY, true)?;
        }
        Ok(repo)
    }

    /// Writes the new repository of [`create_project`](Self::create_project) at `dir`.
    fn init_project(
        &self,
        dir: &Path,
        project: &str,
        stages: &[&str],
        shipyard: &[u8],
    ) -> Result<CommitId, ResourceError> {
        let repo = Self::init_bare(dir, self.config.shared.is_some(), self.config.fsync)?;
        let now = (self.config.clock)();
        let mut root = tree::edit(
            &repo,
            None,
            &[METADATA_FILE],
            Change::Put(repo.blob(metadata::project(project, now).as_bytes())?),
        )
        .map_err(git_only)?;
        let shipyard_blob = repo.blob(shipyard)?;
        root = edit_at(&repo, root, &["shipyard.yaml"], Change::Put(shipyard_blob))?;
        for stage in stages {
            let blob = repo.blob(metadata::stage(stage, now).as_bytes())?;
            root = edit_at(
                &repo,
                root,
                &[STAGES_DIR, stage, METADATA_FILE],
                Change::Put(blob),
            )?;
        }
        let tree = repo.find_tree(root)?;
        let sig = self.signature()?;
        let id = repo.commit(None, &sig, &sig, "initialized project", &tree, &[])?;
        repo.reference(BRANCH_REF, id, false, "initialized project")?;
        Ok(id.into())
    }

    /// Deletes the repository of `project` (renamed away first, so no half-deleted repository
    /// is ever visible under the project's name).
    pub fn delete_project(&self, project: &str) -> Result<(), ResourceError> {
        check_project(project)?;
        let lock = self.lock_of(project);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = self.config.shared.as_deref() {
            // The shared copy first: once it is gone the project is gone for every replica,
            // and another replica's write to it fails its swap and finds no project.
            let existed = shared.delete(project)?;
            self.drop_cache(project)?;
            return if existed {
                Ok(())
            } else {
                Err(ResourceError::ProjectNotFound)
            };
        }
        if !self.project_path(project).is_dir() {
            return Err(ResourceError::ProjectNotFound);
        }
        self.drop_cache(project)
    }

    /// Removes the local repository of `project` if there is one (renamed away first, so no
    /// half-deleted repository is ever visible under the project's name). Call it under the
    /// project's lock.
    fn drop_cache(&self, project: &str) -> Result<(), ResourceError> {
        let path = self.project_path(project);
        self.forget_repo(project);
        if !path.is_dir() {
            return Ok(());
        }
        let nanos = (self.config.clock)().unix_nanos();
        let grave = self
            .projects_dir
            .join(format!("{DELETING_PREFIX}{project}-{nanos}"));
        fs::rename(&path, &grave)?;
        fs::remove_dir_all(&grave)?;
        Ok(())
    }

    /// Adds a stage directory (with its `metadata.yaml`) to `project`.
    pub fn create_stage(&self, project: &str, stage: &str) -> Result<CommitId, ResourceError> {
        check_project(project)?;
        check_stage(stage)?;
        self.write(project, |repo, root| {
            if tree::subtree(repo, root, &[STAGES_DIR, stage])?.is_some() {
                return Err(ResourceError::AlreadyExists(Entity::Stage));
            }
            let blob = repo.blob(metadata::stage(stage, (self.config.clock)()).as_bytes())?;
            let tree = edit_at(
                repo,
                root.id(),
                &[STAGES_DIR, stage, METADATA_FILE],
                Change::Put(blob),
            )?;
            Ok((tree, format!("Added stage: {stage}")))
        })
    }

    /// Names of the stages of `project` (directories under `.keptn-stages`), in byte order.
    pub fn stages(&self, project: &str) -> Result<Vec<String>, ResourceError> {
        check_project(project)?;
        let handle = self.open_repo(project)?;
        let repo = lock_repo(&handle);
        let root = head_commit(&repo)?.tree()?;
        Ok(tree::subtree(&repo, &root, &[STAGES_DIR])?
            .map(|t| tree::directories(&t))
            .unwrap_or_default())
    }

    /// Creates the service directory (with its `metadata.yaml`) in every stage of `project`
    /// that lacks it, in one commit.
    ///
    /// Errors: [`ResourceError::StageNotFound`] when the project has no stage,
    /// [`AlreadyExists`](ResourceError::AlreadyExists) when every stage has the service.
    pub fn create_service(&self, project: &str, service: &str) -> Result<CommitId, ResourceError> {
        check_project(project)?;
        check_service(service)?;
        self.write(project, |repo, root| {
            let stages = stage_names(repo, root)?;
            if stages.is_empty() {
                return Err(ResourceError::StageNotFound);
            }
            let blob = repo.blob(metadata::service(service, (self.config.clock)()).as_bytes())?;
            let mut puts = Vec::new();
            for stage in &stages {
                let dir = [STAGES_DIR, stage.as_str(), service];
                if tree::lookup(repo, root, &dir)?.is_some() {
                    if tree::subtree(repo, root, &dir)?.is_none() {
                        return Err(ResourceError::InvalidName(format!(
                            "stage `{stage}` has a file named `{service}`, so it cannot hold a \
                             service of that name"
                        )));
                    }
                    continue;
                }
                puts.push((
                    vec![STAGES_DIR, stage.as_str(), service, METADATA_FILE],
                    blob,
                ));
            }
            if puts.is_empty() {
                return Err(ResourceError::AlreadyExists(Entity::Service));
            }
            // Every stage's directory in one pass: each changed tree (the stages', the stages
            // directory's, the root) is written once, not once per stage.
            let interrupted = || self.interrupted.load(Ordering::SeqCst);
            let tree_id = tree::put_many(repo, root, &puts, &interrupted)
                .map_err(|PutError { error, .. }| git_only(error))?;
            Ok((tree_id, format!("Added service: {service}")))
        })
    }

    /// Removes the service directory from every stage of `project`, in one commit.
    pub fn delete_service(&self, project: &str, service: &str) -> Result<CommitId, ResourceError> {
        check_project(project)?;
        check_service(service)?;
        self.write(project, |repo, root| {
            let mut tree_id = root.id();
            let mut removed = false;
            for stage in stage_names(repo, root)? {
                let dir = [STAGES_DIR, stage.as_str(), service];
                if tree::subtree(repo, &repo.find_tree(tree_id)?, &dir)?.is_none() {
                    continue;
                }
                tree_id = edit_at(repo, tree_id, &dir, Change::Remove)?;
                removed = true;
            }
            if !removed {
                return Err(ResourceError::ServiceNotFound);
            }
            Ok((tree_id, format!("Removed service: {service}")))
        })
    }

    /// Adds or replaces the files at a level in one commit (Keptn's POST and PUT of a resource
    /// list; a single PUT is a list of one). A later upload of the same URI wins.
    ///
    /// Nothing is committed when an upload is invalid, too large, or a path conflicts with
    /// a directory, when there are more than [`MAX_FILES_PER_WRITE`] uploads, or when the
    /// store is [interrupted](ResourceStore::interrupt) meanwhile. When the contents equal
    /// what is there already (or the list is empty), no commit is made and the current head
    /// is returned. Each changed tree is written once, whatever the number of files.
    pub fn put_resources(
        &self,
        scope: Scope<'_>,
        uploads: &[Upload<'_>],
    ) -> Result<CommitId, ResourceError> {
        scope.check_names()?;
        check_file_count(uploads.len())?;
        let mut parsed = Vec::with_capacity(uploads.len());
        let mut total = 0usize;
        for upload in uploads {
            let uri = ResourceUri::parse(upload.uri)?;
            self.check_size(upload.content.len())?;
            total = total.saturating_add(upload.content.len());
            parsed.push((uri, upload.content));
        }
        self.check_size(total)?;
        self.write(scope.project_name(), |repo, root| {
            check_scope(repo, root, scope)?;
            let dir = scope.directory();
            let mut puts = Vec::with_capacity(parsed.len());
            for (uri, content) in &parsed {
                self.check_interrupted()?;
                let blob = repo.blob(content)?;
                let path: Vec<&str> = dir.iter().copied().chain(uri.segments()).collect();
                puts.push((path, blob));
            }
            let interrupted = || self.interrupted.load(Ordering::SeqCst);
            let tree_id = tree::put_many(repo, root, &puts, &interrupted).map_err(
                |PutError { index, error }| match parsed.get(index) {
                    Some((uri, _)) => put_conflict(error, uri, dir.len()),
                    None => git_only(error),
                },
            )?;
            let message = match parsed.as_slice() {
                [(uri, _)] => format!("Updated resource: {}", join(&dir, uri)),
                _ => format!("Updated {} resources", parsed.len()),
            };
            Ok((tree_id, message))
        })
    }

    /// Deletes one file at a level, in one commit.
    ///
    /// Directories left empty disappear (git has no empty directories); a delete that would
    /// remove the directory of the stage or service itself (its last file, normally its
    /// `metadata.yaml`) is refused: delete the service instead.
    pub fn delete_resource(&self, scope: Scope<'_>, uri: &str) -> Result<CommitId, ResourceError> {
        scope.check_names()?;
        let uri = ResourceUri::parse(uri)?;
        self.write(scope.project_name(), |repo, root| {
            check_scope(repo, root, scope)?;
            let dir = scope.directory();
            let path: Vec<&str> = dir.iter().copied().chain(uri.segments()).collect();
            if tree::blob_id(repo, root, &path)?.is_none() {
                return Err(ResourceError::ResourceNotFound);
            }
            let tree_id = edit_at(repo, root.id(), &path, Change::Remove)?;
            if !dir.is_empty() && tree::subtree(repo, &repo.find_tree(tree_id)?, &dir)?.is_none() {
                return Err(ResourceError::InvalidResourceUri(format!(
                    "`{uri}` is the last file of `{}`; deleting it would delete the {}",
                    dir.join("/"),
                    if dir.len() == 2 { "stage" } else { "service" }
                )));
            }
            Ok((tree_id, format!("Deleted resource: {}", join(&dir, &uri))))
        })
    }

    /// Reads one file at a level, at the branch head or at commit `at` (a full or abbreviated
    /// hexadecimal id; `""` and Keptn's quirk value `"\"\""` mean the head).
    ///
    /// The stage and service must exist at the commit read.
    pub fn get_resource(
        &self,
        scope: Scope<'_>,
        uri: &str,
        at: Option<&str>,
    ) -> Result<Resource, ResourceError> {
        scope.check_names()?;
        let uri = ResourceUri::parse(uri)?;
        let handle = self.open_repo_at(scope.project_name(), at)?;
        let repo = lock_repo(&handle);
        let commit = resolve(&repo, at)?;
        let root = commit.tree()?;
        check_scope(&repo, &root, scope)?;
        let path: Vec<&str> = scope
            .directory()
            .into_iter()
            .chain(uri.segments())
            .collect();
        let blob_id = tree::blob_id(&repo, &root, &path)?.ok_or(ResourceError::ResourceNotFound)?;
        let content = repo.find_blob(blob_id)?.content().to_vec();
        Ok(Resource {
            uri,
            content,
            commit: commit.id().into(),
        })
    }

    /// One file (`uri`) at every level of a project at once: the project level, each stage
    /// and each service of each stage, at the head or at commit `at`. Reads every directory
    /// once, so a caller that needs the file for many services (the job executor, for every
    /// event) reads the commit once instead of once per service.
    pub fn find_everywhere(
        &self,
        project: &str,
        uri: &str,
        at: Option<&str>,
    ) -> Result<LevelFiles, ResourceError> {
        self.find_everywhere_memo(project, uri, at, &mut DirMemo::default())
    }

    /// [`ResourceStore::find_everywhere`] that skips the service directories whose content it
    /// has seen before: what `memo` remembers of a directory (by its git tree id, which
    /// changes with anything inside it) stands for it, so reading a new commit that changed
    /// one service costs one read of that service's directory, not one per service.
    pub fn find_everywhere_memo(
        &self,
        project: &str,
        uri: &str,
        at: Option<&str>,
        memo: &mut DirMemo,
    ) -> Result<LevelFiles, ResourceError> {
        check_project(project)?;
        let parsed = ResourceUri::parse(uri)?;
        let segments: Vec<&str> = parsed.segments().collect();
        if memo.uri != uri || memo.by_tree.len() >= DirMemo::CAPACITY {
            memo.uri = uri.to_owned();
            memo.by_tree.clear();
        }
        let handle = self.open_repo_at(project, at)?;
        let repo = lock_repo(&handle);
        let commit = resolve(&repo, at)?;
        let root = commit.tree()?;
        let read = |tree: &Tree<'_>| -> Result<Option<Vec<u8>>, ResourceError> {
            match tree::blob_id(&repo, tree, &segments)? {
                Some(id) => Ok(Some(repo.find_blob(id)?.content().to_vec())),
                None => Ok(None),
            }
        };
        let mut out = LevelFiles {
            commit: commit.id().into(),
            project: read(&root)?,
            stages: HashMap::new(),
            services: HashMap::new(),
        };
        let Some(stages) = tree::subtree(&repo, &root, &[STAGES_DIR])? else {
            return Ok(out);
        };
        for stage in tree::directories(&stages) {
            let Some(stage_tree) = tree::subtree(&repo, &stages, &[stage.as_str()])? else {
                continue;
            };
            if let Some(content) = read(&stage_tree)? {
                out.stages.insert(stage.clone(), content);
            }
            for entry in stage_tree.iter() {
                if entry.kind() != Some(git2::ObjectType::Tree) {
                    continue;
                }
                let content = match memo.by_tree.get(&entry.id()) {
                    Some(known) => known.clone(),
                    None => {
                        let content = read(&repo.find_tree(entry.id())?)?;
                        memo.by_tree.insert(entry.id(), content.clone());
                        content
                    }
                };
                if let Some(content) = content {
                    let service = String::from_utf8_lossy(entry.name_bytes()).into_owned();
                    out.services.insert((stage.clone(), service), content);
                }
            }
        }
        Ok(out)
    }

    /// Lists the files at a level, at the head or at commit `at`, one page at a time.
    ///
    /// Like Keptn, the listing is recursive: the project level lists every file outside
    /// `.keptn-stages`; the stage level includes the files of its services (as
    /// `<service>/<uri>`); `metadata.yaml` files are included.
    pub fn list_resources(
        &self,
        scope: Scope<'_>,
        at: Option<&str>,
        page: PageRequest<'_>,
    ) -> Result<ResourcePage, ResourceError> {
        scope.check_names()?;
        let offset = match page.next_page_key.map(str::trim) {
            None | Some("") => 0,
            Some(key) => key
                .parse::<usize>()
                .map_err(|_| ResourceError::InvalidPageKey(key.to_owned()))?,
        };
        let size = if page.page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page.page_size
        };
        let handle = self.open_repo_at(scope.project_name(), at)?;
        let repo = lock_repo(&handle);
        let commit = resolve(&repo, at)?;
        let root = commit.tree()?;
        check_scope(&repo, &root, scope)?;
        let dir = scope.directory();
        let level = tree::subtree(&repo, &root, &dir)?.ok_or(ResourceError::ResourceNotFound)?;
        let skip: &[&str] = if dir.is_empty() { &[STAGES_DIR] } else { &[] };
        let all = tree::files(&level, skip)?;
        let total_count = all.len();
        let end = offset.saturating_add(size).min(total_count);
        let uris = all
            .get(offset..end)
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        Ok(ResourcePage {
            uris,
            next_page_key: (end < total_count).then(|| end.to_string()),
            total_count,
            commit: commit.id().into(),
        })
    }

    /// The commit to pin for a sequence in `stage` (Keptn 4.4(a) step 3): in directory mode the
    /// head of the one branch, once the stage is known to exist there.
    pub fn stage_head(&self, project: &str, stage: &str) -> Result<CommitId, ResourceError> {
        check_project(project)?;
        check_stage(stage)?;
        let head = self.head(project)?;
        if head.stages.iter().any(|s| s == stage) {
            Ok(head.commit.clone())
        } else {
            Err(ResourceError::StageNotFound)
        }
    }

    /// The head commit of the project's branch.
    pub fn project_head(&self, project: &str) -> Result<CommitId, ResourceError> {
        check_project(project)?;
        Ok(self.head(project)?.commit.clone())
    }

    /// The branch head and its stages, remembered while the branch's reference file stays
    /// the same (git replaces the file at every commit, by this store or any other process),
    /// so the hot paths (a sequence pinning its commit, the job executor finding its config)
    /// cost one `stat` instead of a read of the repository.
    fn head(&self, project: &str) -> Result<Arc<Head>, ResourceError> {
        if let Some(shared) = self.config.shared.as_deref() {
            return self.shared_head(shared, project);
        }
        let stamp = RefStamp::of(&self.project_path(project).join(BRANCH_REF));
        if let Some(stamp) = &stamp
            && let Some(head) = self.remembered_head(project, |h| h.stamp == *stamp)
        {
            return Ok(head);
        }
        let head = self.read_head(project, stamp.clone().unwrap_or_default())?;
        let mut heads = self.heads.lock().unwrap_or_else(PoisonError::into_inner);
        match stamp {
            // Remember only what was read under a stamp that has not changed since.
            Some(stamp)
                if RefStamp::of(&self.project_path(project).join(BRANCH_REF))
                    == Some(stamp.clone()) =>
            {
                heads.insert(project.to_owned(), Arc::clone(&head));
            }
            _ => {
                heads.remove(project);
            }
        }
        Ok(head)
    }

    /// [`head`](Self::head) of a shared repository: the shared branch is asked every time
    /// (one query); what was read at that commit is remembered.
    fn shared_head(
        &self,
        shared: &dyn SharedRepositories,
        project: &str,
    ) -> Result<Arc<Head>, ResourceError> {
        let Some(id) = shared.head(project)? else {
            // The stale cache goes on the next read through `open_repo`: this path is the
            // engine's, which must not wait for the project's write lock.
            self.heads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(project);
            return Err(ResourceError::ProjectNotFound);
        };
        let commit = CommitId::from(id);
        if let Some(head) = self.remembered_head(project, |h| h.commit == commit) {
            return Ok(head);
        }
        let head = self.read_head(project, RefStamp::default())?;
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(project.to_owned(), Arc::clone(&head));
        Ok(head)
    }

    /// The remembered head of `project`, if `current` says it still holds.
    fn remembered_head(&self, project: &str, current: impl Fn(&Head) -> bool) -> Option<Arc<Head>> {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(project)
            .filter(|h| current(h))
            .cloned()
    }

    /// Reads the head commit of the project's branch and its stages.
    fn read_head(&self, project: &str, stamp: RefStamp) -> Result<Arc<Head>, ResourceError> {
        let handle = self.open_repo(project)?;
        let repo = lock_repo(&handle);
        let commit = head_commit(&repo)?;
        Ok(Arc::new(Head {
            commit: commit.id().into(),
            stages: stage_names(&repo, &commit.tree()?)?,
            stamp,
        }))
    }

    /// The commits that added, changed or deleted one file, newest first, at most `limit`
    /// (following first parents from the head; the branch history is linear).
    pub fn history(
        &self,
        scope: Scope<'_>,
        uri: &str,
        limit: usize,
    ) -> Result<Vec<ResourceChange>, ResourceError> {
        scope.check_names()?;
        let uri = ResourceUri::parse(uri)?;
        let handle = self.open_repo(scope.project_name())?;
        let repo = lock_repo(&handle);
        let path: Vec<&str> = scope
            .directory()
            .into_iter()
            .chain(uri.segments())
            .collect();
        let mut out = Vec::new();
        let mut current = Some(head_commit(&repo)?);
        while let Some(commit) = current {
            if out.len() >= limit {
                break;
            }
            let parent = commit.parent(0).ok();
            let now = tree::blob_id(&repo, &commit.tree()?, &path)?;
            let before = match &parent {
                Some(p) => tree::blob_id(&repo, &p.tree()?, &path)?,
                None => None,
            };
            if now != before {
                let author = commit.author();
                out.push(ResourceChange {
                    commit: commit.id().into(),
                    message: String::from_utf8_lossy(commit.message_bytes())
                        .trim_end()
                        .to_owned(),
                    author_name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                    author_email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
                    time_unix: commit.time().seconds(),
                    deleted: now.is_none(),
                });
            }
            current = parent;
        }
        Ok(out)
    }

    /// Runs one write under the project's lock: `change` gets the head tree and returns the
    /// new root tree and a commit message; the branch then moves to a new commit of that tree
    /// only if it still points at the head read (compare-and-swap).
    ///
    /// Inside one store the lock means the swap cannot fail; if another process (or another
    /// store on the same directory) moved the branch or holds its lock file, the change is
    /// recomputed on the new head, up to [`WRITE_ATTEMPTS`] times.
    pub(crate) fn write<F>(&self, project: &str, change: F) -> Result<CommitId, ResourceError>
    where
        F: Fn(&Repository, &Tree<'_>) -> Result<(Oid, String), ResourceError>,
    {
        if let Some(shared) = self.config.shared.as_deref() {
            return self.write_shared(shared, project, change);
        }
        self.check_interrupted()?;
        let lock = self.lock_of(project);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_interrupted()?;
        let handle = self.open_repo(project)?;
        let repo = lock_repo(&handle);
        let mut attempt = 1;
        loop {
            let head = head_commit(&repo)?;
            let root = head.tree()?;
            let (tree_id, message) = change(&repo, &root)?;
            // The last moment to stop: after this the commit is published.
            self.check_interrupted()?;
            if tree_id == root.id() {
                return Ok(head.id().into());
            }
            let tree = repo.find_tree(tree_id)?;
            let sig = self.signature()?;
            let id = repo.commit(None, &sig, &sig, &message, &tree, &[&head])?;
            match repo.reference_matching(BRANCH_REF, id, true, head.id(), &message) {
                Ok(_) => {
                    self.heads
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(project);
                    return Ok(id.into());
                }
                Err(e)
                    if attempt < WRITE_ATTEMPTS
                        && matches!(e.code(), ErrorCode::Modified | ErrorCode::Locked) =>
                {
                    // The other writer holds the ref's lock file for a moment (an fsync):
                    // back off a little longer each time, 0.2 ms up to 10 ms (about 0.4 s in
                    // all before giving up).
                    std::thread::sleep(Duration::from_micros(
                        (200 * u64::from(attempt)).min(10_000),
                    ));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// [`write`](Self::write) to a shared repository, under the project's lock: sync the
    /// cache to the shared head, commit on it, then publish the commit's new objects with a
    /// compare-and-swap of the shared branch from that head; the local branch moves only once
    /// the swap succeeded. A lost swap (another replica wrote first) writes nothing and the
    /// change is recomputed on the new head, up to [`SHARED_WRITE_ATTEMPTS`] times, then
    /// [`ResourceError::Conflict`].
    fn write_shared<F>(
        &self,
        shared: &dyn SharedRepositories,
        project: &str,
        change: F,
    ) -> Result<CommitId, ResourceError>
    where
        F: Fn(&Repository, &Tree<'_>) -> Result<(Oid, String), ResourceError>,
    {
        self.check_interrupted()?;
        let lock = self.lock_of(project);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.check_interrupted()?;
        let handle = self.open_shared(shared, project)?;
        let repo = lock_repo(&handle);
        for _ in 0..SHARED_WRITE_ATTEMPTS {
            let Some(head_id) = self.sync(shared, project, &repo)? else {
                drop(repo);
                self.drop_cache(project)?;
                return Err(ResourceError::ProjectNotFound);
            };
            let head = repo.find_commit(head_id)?;
            let root = head.tree()?;
            let (tree_id, message) = change(&repo, &root)?;
            if tree_id == root.id() {
                return Ok(head_id.into());
            }
            let tree = repo.find_tree(tree_id)?;
            let sig = self.signature()?;
            let id = repo.commit(None, &sig, &sig, &message, &tree, &[&head])?;
            let objects = shared::new_objects(&repo, id, Some(&root))?;
            // The last moment to stop: after this the commit is published.
            self.check_interrupted()?;
            if shared.publish(project, Some(head_id), id, &objects)? {
                repo.reference(BRANCH_REF, id, true, &message)?;
                self.heads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(project);
                return Ok(id.into());
            }
        }
        Err(ResourceError::Conflict {
            attempts: SHARED_WRITE_ATTEMPTS,
        })
    }

    /// Brings the cache of a shared repository up to the shared head: fetches the objects it
    /// lacks and moves the local branch. Returns the head, `None` when the project has no
    /// shared branch (deleted, or never created). Call it with the repository locked, so that
    /// the local branch only ever moves forward.
    fn sync(
        &self,
        shared: &dyn SharedRepositories,
        project: &str,
        repo: &Repository,
    ) -> Result<Option<Oid>, ResourceError> {
        let Some(head) = shared.head(project)? else {
            return Ok(None);
        };
        if repo.refname_to_id(BRANCH_REF).ok() != Some(head) {
            shared::fetch_missing(repo, shared, project, head)?;
            repo.reference(BRANCH_REF, head, true, "synced from the shared repository")?;
            self.heads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(project);
        }
        Ok(Some(head))
    }

    /// The cache of a shared repository, built from the shared objects when this replica has
    /// none (aside first, then renamed into place; a concurrent reader that was first wins).
    fn open_shared(
        &self,
        shared: &dyn SharedRepositories,
        project: &str,
    ) -> Result<Arc<Mutex<Repository>>, ResourceError> {
        match self.open_local(project) {
            Err(ResourceError::ProjectNotFound) => {}
            other => return other,
        }
        let Some(head) = shared.head(project)? else {
            return Err(ResourceError::ProjectNotFound);
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let staging = self.projects_dir.join(format!(
            "{CREATING_PREFIX}{project}-cache-{}-{}",
            NEXT.fetch_add(1, Ordering::Relaxed),
            (self.config.clock)().unix_nanos()
        ));
        let built = (|| {
            let repo = Self::init_bare(&staging, true, self.config.fsync)?;
            shared::store_objects(&repo.odb()?, &shared.all_objects(project)?)?;
            // Objects published after the listing, if the branch moved meanwhile.
            shared::fetch_missing(&repo, shared, project, head)?;
            repo.reference(BRANCH_REF, head, true, "copied from the shared repository")?;
            Ok::<_, ResourceError>(())
        })();
        if let Err(e) = built {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        if fs::rename(&staging, self.project_path(project)).is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        self.open_local(project)
    }

    /// Removes the cache of a project whose shared branch is gone (deleted by another
    /// replica), under the project's lock and after checking again.
    fn drop_stale_cache(
        &self,
        shared: &dyn SharedRepositories,
        project: &str,
    ) -> Result<(), ResourceError> {
        let lock = self.lock_of(project);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if shared.head(project)?.is_none() {
            self.drop_cache(project)?;
        }
        Ok(())
    }

    /// The project's repository for a read at commit `at`: in shared mode a commit already
    /// in the cache is read without asking the shared branch (commits never change), any
    /// other read syncs the cache first.
    fn open_repo_at(
        &self,
        project: &str,
        at: Option<&str>,
    ) -> Result<Arc<Mutex<Repository>>, ResourceError> {
        if self.config.shared.is_some()
            && let Some(id) = at.map(str::trim).filter(|id| id.len() == 40)
            && let Ok(id) = Oid::from_str(id)
            && let Ok(handle) = self.open_local(project)
            && lock_repo(&handle).find_commit(id).is_ok()
        {
            return Ok(handle);
        }
        self.open_repo(project)
    }

    /// The project's repository (checked name); in shared mode brought up to the shared head.
    pub(crate) fn repository(
        &self,
        project: &str,
    ) -> Result<Arc<Mutex<Repository>>, ResourceError> {
        check_project(project)?;
        self.open_repo(project)
    }

    /// The commit the project's branch is at.
    pub(crate) fn head_id(&self, project: &str) -> Result<CommitId, ResourceError> {
        let handle = self.repository(project)?;
        let repo = lock_repo(&handle);
        Ok(head_commit(&repo)?.id().into())
    }

    /// The project's repository; in shared mode brought up to the shared head first.
    fn open_repo(&self, project: &str) -> Result<Arc<Mutex<Repository>>, ResourceError> {
        let Some(shared) = self.config.shared.as_deref() else {
            return self.open_local(project);
        };
        let handle = self.open_shared(shared, project)?;
        let head = self.sync(shared, project, &lock_repo(&handle))?;
        if head.is_none() {
            self.drop_stale_cache(shared, project)?;
            return Err(ResourceError::ProjectNotFound);
        }
        Ok(handle)
    }

    /// The lock serialising writes to `project`.
    fn lock_of(&self, project: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(project.to_owned()).or_default())
    }

    /// The project's repository, opened once and kept: opening parses the repository's
    /// configuration, and a kept handle keeps libgit2's object cache warm. References are
    /// read from disk at every lookup, so changes by other processes are seen.
    fn open_local(&self, project: &str) -> Result<Arc<Mutex<Repository>>, ResourceError> {
        let path = self.project_path(project);
        let mut repos = self.repos.lock().unwrap_or_else(PoisonError::into_inner);
        if !path.is_dir() {
            repos.remove(project);
            return Err(ResourceError::ProjectNotFound);
        }
        if let Some(repo) = repos.get(project) {
            return Ok(Arc::clone(repo));
        }
        let repo = Repository::open_bare(&path).map_err(|e| match e.code() {
            ErrorCode::NotFound => ResourceError::ProjectNotFound,
            _ => ResourceError::Git(e),
        })?;
        // A repository written under another durability setting follows this one.
        set_fsync(&repo, self.config.fsync)?;
        let repo = Arc::new(Mutex::new(repo));
        repos.insert(project.to_owned(), Arc::clone(&repo));
        Ok(repo)
    }

    /// Forgets the kept handle and head of a project's repository (deleted or replaced).
    fn forget_repo(&self, project: &str) {
        self.repos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(project);
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(project);
    }

    /// The configured author, with the current time.
    pub(crate) fn signature(&self) -> Result<Signature<'static>, ResourceError> {
        let now = (self.config.clock)();
        let seconds = i64::try_from(now.unix_nanos().div_euclid(1_000_000_000)).unwrap_or(0);
        Ok(Signature::new(
            &self.config.author_name,
            &self.config.author_email,
            &git2::Time::new(seconds, 0),
        )?)
    }

    /// [`ResourceError::TooLarge`] when `size` exceeds the configured cap.
    fn check_size(&self, size: usize) -> Result<(), ResourceError> {
        let limit = self.config.max_resource_bytes;
        if size > limit {
            return Err(ResourceError::TooLarge { size, limit });
        }
        Ok(())
    }
}

/// The commit the branch points at.
fn head_commit(repo: &Repository) -> Result<Commit<'_>, ResourceError> {
    Ok(repo.find_reference(BRANCH_REF)?.peel_to_commit()?)
}

/// Locks a kept repository handle (a panic while it was held leaves nothing half-done in
/// git, whose writes are atomic renames).
fn lock_repo(repo: &Mutex<Repository>) -> std::sync::MutexGuard<'_, Repository> {
    repo.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The head, or the commit named by a (possibly abbreviated) hexadecimal id.
fn resolve<'r>(repo: &'r Repository, at: Option<&str>) -> Result<Commit<'r>, ResourceError> {
    let id = match at.map(str::trim) {
        None | Some("" | "\"\"") => return head_commit(repo),
        Some(id) => id,
    };
    if !(4..=40).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ResourceError::CommitNotFound(id.to_owned()));
    }
    repo.find_commit_by_prefix(id).map_err(|e| match e.code() {
        ErrorCode::NotFound | ErrorCode::Ambiguous | ErrorCode::InvalidSpec => {
            ResourceError::CommitNotFound(id.to_owned())
        }
        _ => ResourceError::Git(e),
    })
}

/// Stage or service not found at this tree.
fn check_scope(repo: &Repository, root: &Tree<'_>, scope: Scope<'_>) -> Result<(), ResourceError> {
    match scope {
        Scope::Project { .. } => Ok(()),
        Scope::Stage { stage, .. } => {
            if tree::subtree(repo, root, &[STAGES_DIR, stage])?.is_none() {
                return Err(ResourceError::StageNotFound);
            }
            Ok(())
        }
        Scope::Service { stage, service, .. } => {
            if tree::subtree(repo, root, &[STAGES_DIR, stage])?.is_none() {
                return Err(ResourceError::StageNotFound);
            }
            if tree::subtree(repo, root, &[STAGES_DIR, stage, service])?.is_none() {
                return Err(ResourceError::ServiceNotFound);
            }
            Ok(())
        }
    }
}

/// Names of the stage directories in `root`.
fn stage_names(repo: &Repository, root: &Tree<'_>) -> Result<Vec<String>, ResourceError> {
    Ok(tree::subtree(repo, root, &[STAGES_DIR])?
        .map(|t| tree::directories(&t))
        .unwrap_or_default())
}

/// [`tree::edit`] on the tree with id `root`, for edits whose conflicts were ruled out.
fn edit_at(
    repo: &Repository,
    root: Oid,
    path: &[&str],
    change: Change,
) -> Result<Oid, ResourceError> {
    let tree = repo.find_tree(root)?;
    tree::edit(repo, Some(&tree), path, change).map_err(git_only)
}

/// An [`EditError`] where only git failures were possible.
fn git_only(e: EditError) -> ResourceError {
    match e {
        EditError::Git(e) => ResourceError::Git(e),
        EditError::Interrupted => ResourceError::Interrupted,
        EditError::NotFound => ResourceError::ResourceNotFound,
        EditError::IsDirectory | EditError::ParentIsFile { .. } => {
            ResourceError::InvalidResourceUri("a file and a directory share a path".to_owned())
        }
    }
}

/// The error of putting `uri` below a level directory `dir_len` segments deep.
fn put_conflict(e: EditError, uri: &ResourceUri, dir_len: usize) -> ResourceError {
    match e {
        EditError::IsDirectory => {
            ResourceError::InvalidResourceUri(format!("`{uri}` is a directory"))
        }
        EditError::ParentIsFile { depth } => {
            let file: Vec<&str> = uri.segments().take(depth.saturating_sub(dir_len)).collect();
            ResourceError::InvalidResourceUri(format!(
                "`{}` is a file, so `{uri}` cannot be created below it",
                file.join("/")
            ))
        }
        other => git_only(other),
    }
}

/// The full repository path of `uri` at a level directory.
fn join(dir: &[&str], uri: &ResourceUri) -> String {
    if dir.is_empty() {
        uri.to_string()
    } else {
        format!("{}/{uri}", dir.join("/"))
    }
}

/// Makes libgit2 fsync the repository's objects and references as it writes them (or not),
/// so that a crash of the operating system cannot leave the branch pointing at a commit whose
/// objects never reached the disk. Written to the repository's configuration only when it
/// changes.
fn set_fsync(repo: &Repository, fsync: bool) -> Result<(), ResourceError> {
    let mut config = repo.config()?;
    if config.get_bool(FSYNC_KEY).ok() != Some(fsync) {
        config.set_bool(FSYNC_KEY, fsync)?;
    }
    Ok(())
}

/// libgit2's (and git's) setting for fsyncing object files.
const FSYNC_KEY: &str = "core.fsyncObjectFiles";
