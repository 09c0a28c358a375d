//! The project repositories shared by the replicas of a PostgreSQL store: the resource
//! store's [`SharedRepositories`] over `Store::publish_git` and its siblings (see
//! `sluice_resources::shared` and docs/cluster.md).
//!
//! The resource store is synchronous and runs on blocking threads (and, for the stage heads,
//! inside the driver's task); each call here runs the store's future on the server's runtime
//! and waits for it, leaving the worker to the runtime (`block_in_place`) when it is one.
//! So async code may call the resource store directly only on a multi-thread runtime (the
//! server's); on a current-thread runtime it must go through `spawn_blocking`.

use std::fmt;
use std::sync::Arc;

use sluice_resources::BRANCH;
use sluice_resources::shared::{ObjectType, Oid, SharedError, SharedObject, SharedRepositories};
use sluice_store::{GitObject, GitObjectKind, Store};
use tokio::runtime::{Handle, RuntimeFlavor};

/// [`SharedRepositories`] in the PostgreSQL store.
pub struct SharedGit {
    store: Arc<Store>,
    runtime: Handle,
}

impl fmt::Debug for SharedGit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedGit").finish_non_exhaustive()
    }
}

impl SharedGit {
    /// Shares the repositories through `store`; its futures run on the current runtime.
    pub fn new(store: Arc<Store>) -> SharedGit {
        SharedGit {
            store,
            runtime: Handle::current(),
        }
    }

    /// Runs `work` on the runtime and waits for its result.
    fn run<T, F>(&self, work: F) -> Result<T, SharedError>
    where
        T: Send + 'static,
        F: Future<Output = sluice_store::Result<T>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        let wait = move || rx.recv();
        let got = match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        got.map_err(|_| SharedError("the database task stopped".into()))?
            .map_err(|e| SharedError(e.to_string()))
    }
}

/// The stored kind of a git object type.
fn kind_of(kind: ObjectType) -> Result<GitObjectKind, SharedError> {
    Ok(match kind {
        ObjectType::Commit => GitObjectKind::Commit,
        ObjectType::Tree => GitObjectKind::Tree,
        ObjectType::Blob => GitObjectKind::Blob,
        ObjectType::Tag => GitObjectKind::Tag,
        other => {
            return Err(SharedError(format!(
                "cannot share a git object of kind {other}"
            )));
        }
    })
}

/// A stored object as a git object.
fn object_of(object: GitObject) -> Result<SharedObject, SharedError> {
    Ok(SharedObject {
        id: oid(&object.oid)?,
        kind: match object.kind {
            GitObjectKind::Commit => ObjectType::Commit,
            GitObjectKind::Tree => ObjectType::Tree,
            GitObjectKind::Blob => ObjectType::Blob,
            GitObjectKind::Tag => ObjectType::Tag,
        },
        data: object.data,
    })
}

/// A stored object id.
fn oid(text: &str) -> Result<Oid, SharedError> {
    Oid::from_str(text)
        .map_err(|_| SharedError(format!("stored git object id {text:?} is invalid")))
}

impl SharedRepositories for SharedGit {
    fn head(&self, project: &str) -> Result<Option<Oid>, SharedError> {
        let (store, project) = (self.store.clone(), project.to_owned());
        self.run(async move { store.git_ref(&project, BRANCH).await })?
            .as_deref()
            .map(oid)
            .transpose()
    }

    fn publish(
        &self,
        project: &str,
        old: Option<Oid>,
        new: Oid,
        objects: &[SharedObject],
    ) -> Result<bool, SharedError> {
        let objects = objects
            .iter()
            .map(|o| {
                Ok(GitObject {
                    oid: o.id.to_string(),
                    kind: kind_of(o.kind)?,
                    data: o.data.clone(),
                })
            })
            .collect::<Result<Vec<_>, SharedError>>()?;
        let (store, project) = (self.store.clone(), project.to_owned());
        let (old, new) = (old.map(|o| o.to_string()), new.to_string());
        self.run(async move {
            store
                .publish_git(&project, BRANCH, old.as_deref(), &new, &objects)
                .await
        })
    }

    fn objects(&self, project: &str, ids: &[Oid]) -> Result<Vec<SharedObject>, SharedError> {
        let (store, project) = (self.store.clone(), project.to_owned());
        let ids: Vec<String> = ids.iter().map(Oid::to_string).collect();
        self.run(async move { store.git_objects(&project, &ids).await })?
            .into_iter()
            .map(object_of)
            .collect()
    }

    fn all_objects(&self, project: &str) -> Result<Vec<SharedObject>, SharedError> {
        let (store, project) = (self.store.clone(), project.to_owned());
        self.run(async move { store.git_all_objects(&project).await })?
            .into_iter()
            .map(object_of)
            .collect()
    }

    fn delete(&self, project: &str) -> Result<bool, SharedError> {
        let (store, project) = (self.store.clone(), project.to_owned());
        self.run(async move { store.delete_git(&project).await })
    }

    fn upstream_base(&self, project: &str) -> Result<Option<Oid>, SharedError> {
        let (store, project) = (self.store.clone(), project.to_owned());
        self.run(async move { store.git_ref(&project, UPSTREAM_BASE).await })?
            .as_deref()
            .map(oid)
            .transpose()
    }

    fn set_upstream_base(&self, project: &str, base: Oid) -> Result<(), SharedError> {
        let (store, project, new) = (self.store.clone(), project.to_owned(), base.to_string());
        self.run(async move {
            // A compare-and-swap like the branch's; retried on a concurrent move (the last
            // sync's base wins, and both were pushed).
            for _ in 0..5 {
                let old = store.git_ref(&project, UPSTREAM_BASE).await?;
                if store
                    .publish_git(&project, UPSTREAM_BASE, old.as_deref(), &new, &[])
                    .await?
                {
                    break;
                }
            }
            Ok::<_, sluice_store::Error>(())
        })?;
        Ok(())
    }

    fn clear_upstream_base(&self, project: &str) -> Result<(), SharedError> {
        let (store, project) = (self.store.clone(), project.to_owned());
        self.run(async move { store.delete_git_ref(&project, UPSTREAM_BASE).await })?;
        Ok(())
    }
}

/// The name of the reference (beside the branch) holding a project's upstream merge base.
const UPSTREAM_BASE: &str = "sluice-upstream-base";

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    use sluice_resources::{ResourceError, ResourceStore, Scope, StoreConfig, Upload};

    use super::*;

    /// A data directory of its own for one replica, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "sluice-shared-git-{name}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create dir");
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// One database (`None`: PostgreSQL is not available and not required).
    async fn database(name: &str) -> Option<Arc<Store>> {
        let url = sluice_store::test_cluster::fresh_database(name).await?;
        let location = sluice_store::StoreLocation::Postgres(url);
        Some(Arc::new(
            Store::open_location(&location, sluice_store::Options::default())
                .await
                .expect("open store"),
        ))
    }

    /// A replica's resource store in its own data directory, sharing through `shared`.
    fn replica(dir: &std::path::Path, shared: Arc<dyn SharedRepositories>) -> Arc<ResourceStore> {
        let mut config = StoreConfig::new(dir);
        config.shared = Some(shared);
        Arc::new(ResourceStore::open(config).expect("open resources"))
    }

    /// Runs resource-store work on a blocking thread, as the server does.
    async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        tokio::task::spawn_blocking(f).await.expect("blocking work")
    }

    fn put(
        r: &ResourceStore,
        stage: &str,
        uri: &str,
        content: &str,
    ) -> Result<String, ResourceError> {
        r.put_resources(
            Scope::stage("shop", stage),
            &[Upload {
                uri,
                content: content.as_bytes(),
            }],
        )
        .map(|c| c.to_string())
    }

    fn read(
        r: &ResourceStore,
        uri: &str,
        at: Option<&str>,
    ) -> Result<(String, String), ResourceError> {
        r.get_resource(Scope::stage("shop", "dev"), uri, at)
            .map(|f| {
                (
                    String::from_utf8_lossy(&f.content).into_owned(),
                    f.commit.to_string(),
                )
            })
    }

    /// Every object stored for `project` is reachable from its shared branch, and every object
    /// reachable from it is stored: the branch only moves forward by compare-and-swap and a
    /// lost swap stores nothing, so the shared store never holds garbage to prune
    /// (docs/cluster.md). `local` is a repository whose branch is at the shared head.
    async fn assert_exactly_reachable(store: &Store, project: &str, local: &std::path::Path) {
        let stored: std::collections::BTreeSet<String> = store
            .git_all_objects(project)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.oid)
            .collect();
        let head = store.git_ref(project, BRANCH).await.unwrap().unwrap();
        let repo = git2::Repository::open_bare(local).unwrap();
        let mut reachable = std::collections::BTreeSet::new();
        let mut walk = repo.revwalk().unwrap();
        walk.push(git2::Oid::from_str(&head).unwrap()).unwrap();
        for id in walk {
            let commit = repo.find_commit(id.unwrap()).unwrap();
            reachable.insert(commit.id().to_string());
            let tree = commit.tree().unwrap();
            reachable.insert(tree.id().to_string());
            tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
                reachable.insert(entry.id().to_string());
                git2::TreeWalkResult::Ok
            })
            .unwrap();
        }
        assert!(
            stored.len() > 3,
            "a project with history: {} objects",
            stored.len()
        );
        let garbage: Vec<_> = stored.difference(&reachable).collect();
        let missing: Vec<_> = reachable.difference(&stored).collect();
        assert!(
            garbage.is_empty(),
            "unreachable stored objects: {garbage:?}"
        );
        assert!(
            missing.is_empty(),
            "reachable objects not stored: {missing:?}"
        );
    }

    /// What one replica writes the other reads, at the same (real git) commit ids, either way
    /// round; a commit pinned on one replica is read on the other; deleting the project on one
    /// removes it for both, and it can be created again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_project_written_on_one_replica_is_read_on_another() {
        let Some(store) = database("shared git read").await else {
            return;
        };
        let shared: Arc<dyn SharedRepositories> = Arc::new(SharedGit::new(store));
        let (da, db) = (Dir::new("a"), Dir::new("b"));
        let (a, b) = (replica(&da.0, shared.clone()), replica(&db.0, shared));
        blocking(move || {
            let created = a
                .create_project("shop", &["dev", "prod"], b"shipyard")
                .unwrap();
            assert_eq!(b.project_head("shop").unwrap(), created);
            let c1 = put(&a, "dev", "slo.yaml", "one").unwrap();
            assert_eq!(
                read(&b, "slo.yaml", None).unwrap(),
                ("one".into(), c1.clone())
            );
            assert_eq!(b.stage_head("shop", "dev").unwrap().to_string(), c1);
            let c2 = put(&b, "dev", "slo.yaml", "two").unwrap();
            assert_eq!(
                read(&a, "slo.yaml", None).unwrap(),
                ("two".into(), c2.clone())
            );
            assert_eq!(read(&a, "slo.yaml", Some(&c1)).unwrap().0, "one");
            assert_eq!(read(&b, "slo.yaml", Some(&c1)).unwrap().0, "one");
            let ids = |r: &ResourceStore| {
                r.history(Scope::stage("shop", "dev"), "slo.yaml", 10)
                    .unwrap()
                    .into_iter()
                    .map(|c| c.commit.to_string())
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids(&a), vec![c2.clone(), c1.clone()]);
            assert_eq!(ids(&b), ids(&a));
            // The local repository is a plain git repository with the same head.
            let local = git2::Repository::open_bare(b.project_path("shop")).unwrap();
            assert_eq!(
                local.refname_to_id("refs/heads/main").unwrap().to_string(),
                c2
            );

            a.delete_project("shop").unwrap();
            assert!(matches!(
                read(&b, "slo.yaml", None),
                Err(ResourceError::ProjectNotFound)
            ));
            assert!(
                !b.project_path("shop").exists(),
                "the stale cache is removed"
            );
            assert!(matches!(
                b.delete_project("shop"),
                Err(ResourceError::ProjectNotFound)
            ));
            b.create_project("shop", &["dev"], b"again").unwrap();
            assert!(matches!(
                a.create_project("shop", &["dev"], b"twice"),
                Err(ResourceError::AlreadyExists(_))
            ));
            assert!(matches!(
                read(&a, "slo.yaml", None),
                Err(ResourceError::ResourceNotFound)
            ));
        })
        .await;
    }

    /// Both replicas write at once: every write that succeeded is kept (a lost swap is retried
    /// on the new head), a write that gave up reports a conflict and left nothing, and the
    /// history has exactly one commit per successful write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_from_two_replicas_are_all_kept() {
        let Some(store) = database("shared git race").await else {
            return;
        };
        let shared: Arc<dyn SharedRepositories> = Arc::new(SharedGit::new(store.clone()));
        let (da, db) = (Dir::new("a"), Dir::new("b"));
        let (a, b) = (replica(&da.0, shared.clone()), replica(&db.0, shared));
        {
            let a = a.clone();
            blocking(move || a.create_project("shop", &["dev"], b"s").unwrap()).await;
        }
        const WRITES: usize = 12;
        let writer = |r: Arc<ResourceStore>, name: &'static str| {
            blocking(move || {
                (0..WRITES)
                    .map(|i| {
                        let uri = format!("{name}-{i}.yaml");
                        (uri.clone(), put(&r, "dev", &uri, &uri))
                    })
                    .collect::<Vec<_>>()
            })
        };
        let (from_a, from_b) = tokio::join!(writer(a.clone(), "a"), writer(b.clone(), "b"));
        let local = blocking(move || {
            let mut kept = 0;
            for (uri, outcome) in from_a.iter().chain(&from_b) {
                match outcome {
                    Ok(_) => {
                        kept += 1;
                        assert_eq!(read(&a, uri, None).unwrap().0, *uri, "lost update");
                        assert_eq!(read(&b, uri, None).unwrap().0, *uri, "lost update");
                    }
                    Err(ResourceError::Conflict { .. }) => {
                        assert!(matches!(
                            read(&a, uri, None),
                            Err(ResourceError::ResourceNotFound)
                        ));
                    }
                    Err(e) => panic!("{uri}: {e}"),
                }
            }
            assert!(kept > WRITES, "most writes succeed: {kept}");
            let page = sluice_resources::PageRequest {
                page_size: 100,
                next_page_key: None,
            };
            let listed = b
                .list_resources(Scope::stage("shop", "dev"), None, page)
                .unwrap();
            // The stage's metadata.yaml and the kept files.
            assert_eq!(listed.total_count, kept + 1);
            assert_eq!(
                a.project_head("shop").unwrap(),
                b.project_head("shop").unwrap()
            );
            a.project_path("shop")
        })
        .await;
        assert_exactly_reachable(&store, "shop", &local).await;
    }

    /// A data directory of a single server (its repositories the only copy) opened on a
    /// PostgreSQL store: its projects are published with their whole history, so another
    /// replica reads them at the same commits; reopening publishes nothing again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_single_servers_repositories_are_published_when_it_moves_to_postgresql() {
        let Some(store) = database("shared git adoption").await else {
            return;
        };
        let shared: Arc<dyn SharedRepositories> = Arc::new(SharedGit::new(store));
        let (da, db) = (Dir::new("a"), Dir::new("b"));
        let before = blocking({
            let path = da.0.clone();
            move || {
                let single = ResourceStore::open(StoreConfig::new(path)).unwrap();
                single.create_project("shop", &["dev"], b"s").unwrap();
                put(&single, "dev", "slo.yaml", "one").unwrap();
                put(&single, "dev", "slo.yaml", "two").unwrap()
            }
        })
        .await;
        let (pa, pb, s2, s3) = (da.0.clone(), db.0.clone(), shared.clone(), shared.clone());
        let a = blocking(move || replica(&pa, s2)).await;
        let b = blocking(move || replica(&pb, s3)).await;
        blocking(move || {
            assert_eq!(
                read(&b, "slo.yaml", None).unwrap(),
                ("two".into(), before.clone())
            );
            let history = b
                .history(Scope::stage("shop", "dev"), "slo.yaml", 10)
                .unwrap();
            assert_eq!(history.len(), 2);
            let first = history[1].commit.to_string();
            assert_eq!(read(&b, "slo.yaml", Some(&first)).unwrap().0, "one");
            // Both copies are caches now: a write through either is published.
            let after = put(&a, "dev", "slo.yaml", "three").unwrap();
            assert_eq!(read(&b, "slo.yaml", None).unwrap(), ("three".into(), after));
            let marked = |r: &ResourceStore| {
                git2::Repository::open_bare(r.project_path("shop"))
                    .unwrap()
                    .config()
                    .unwrap()
                    .get_bool("sluice.sharedcache")
                    .unwrap()
            };
            assert!(marked(&a) && marked(&b));
        })
        .await;
    }

    /// Shares through `inner`, but lets `other` write to the project just before each of
    /// the first `times` publications of a commit on a head (writing `<tag>-<n>.yaml`), so
    /// those swaps find a head they did not start from.
    #[derive(Debug)]
    struct Interleaved {
        tag: &'static str,
        inner: Arc<SharedGit>,
        other: Arc<ResourceStore>,
        times: u32,
        done: AtomicU32,
    }

    impl SharedRepositories for Interleaved {
        fn head(&self, project: &str) -> Result<Option<Oid>, SharedError> {
            self.inner.head(project)
        }
        fn publish(
            &self,
            project: &str,
            old: Option<Oid>,
            new: Oid,
            objects: &[SharedObject],
        ) -> Result<bool, SharedError> {
            if old.is_some() {
                let n = self.done.fetch_add(1, Ordering::SeqCst);
                if n < self.times {
                    let uri = format!("{}-{n}.yaml", self.tag);
                    put(&self.other, "dev", &uri, "x").expect("other write");
                }
            }
            self.inner.publish(project, old, new, objects)
        }
        fn objects(&self, project: &str, ids: &[Oid]) -> Result<Vec<SharedObject>, SharedError> {
            self.inner.objects(project, ids)
        }
        fn all_objects(&self, project: &str) -> Result<Vec<SharedObject>, SharedError> {
            self.inner.all_objects(project)
        }
        fn delete(&self, project: &str) -> Result<bool, SharedError> {
            self.inner.delete(project)
        }
    }

    /// A write whose swap loses is recomputed on the other replica's commit (both changes
    /// kept); one that loses every attempt reports a conflict and leaves the shared branch
    /// where the other replica put it; a fresh replica with an empty data directory then
    /// rebuilds every commit with the same ids.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_swap_is_retried_or_reported_and_publishes_nothing() {
        let Some(store) = database("shared git lost swap").await else {
            return;
        };
        let real = Arc::new(SharedGit::new(store));
        let (da, db, dc) = (Dir::new("a"), Dir::new("b"), Dir::new("c"));
        let b = replica(&db.0, real.clone());
        let once = Arc::new(Interleaved {
            tag: "once",
            inner: real.clone(),
            other: b.clone(),
            times: 1,
            done: AtomicU32::new(0),
        });
        let a = replica(&da.0, once);
        let always = Arc::new(Interleaved {
            tag: "always",
            inner: real.clone(),
            other: b.clone(),
            times: u32::MAX,
            done: AtomicU32::new(0),
        });
        let ds = Dir::new("s");
        let stubborn = replica(&ds.0, always.clone());
        let fresh = replica(&dc.0, real.clone());
        blocking(move || {
            a.create_project("shop", &["dev"], b"s").unwrap();
            let mine = put(&a, "dev", "mine.yaml", "mine").unwrap();
            assert_eq!(read(&b, "once-0.yaml", None).unwrap().0, "x");
            assert_eq!(
                read(&b, "mine.yaml", None).unwrap(),
                ("mine".into(), mine.clone())
            );

            let err = put(&stubborn, "dev", "never.yaml", "never").unwrap_err();
            assert!(
                matches!(err, ResourceError::Conflict { attempts: 5 }),
                "{err}"
            );
            let head = real.head("shop").unwrap().unwrap().to_string();
            let last_other = b.project_head("shop").unwrap().to_string();
            assert_eq!(
                head, last_other,
                "the shared branch is where the other replica put it"
            );
            assert!(matches!(
                read(&a, "never.yaml", None),
                Err(ResourceError::ResourceNotFound)
            ));

            // Every commit, with the same ids, from nothing but the database.
            let log = |r: &ResourceStore| {
                r.history(Scope::project("shop"), "metadata.yaml", 100)
                    .unwrap();
                let repo = git2::Repository::open_bare(r.project_path("shop")).unwrap();
                let mut walk = repo.revwalk().unwrap();
                walk.push_ref("refs/heads/main").unwrap();
                walk.map(|id| id.unwrap().to_string()).collect::<Vec<_>>()
            };
            let everything = log(&fresh);
            assert_eq!(
                everything.len(),
                2 + 1 + 5,
                "create, once-0, mine, always-0 to always-4"
            );
            assert_eq!(everything, log(&b));
            for id in &everything[..everything.len() - 1] {
                fresh
                    .list_resources(Scope::stage("shop", "dev"), Some(id), Default::default())
                    .unwrap();
            }
        })
        .await;
    }
}
